"""``newsbot run`` on a simulated clock, for the soak (bench/soak.py starts it).

The product CLI has no clock switch on purpose; this launcher does what ``newsbot run`` does
with a :class:`bot.clock.ScaledClock`. Every process of one soak gets the same timeline from
the environment, so time continues across restarts and kills:

* ``SOAK_START``: the simulated start, ISO 8601 with offset;
* ``SOAK_WALL_ANCHOR``: the Unix time at which the simulation was at ``SOAK_START``;
* ``SOAK_RATE``: simulated seconds per real second.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.clock import ScaledClock  # noqa: E402


def clock_from_env(env: dict[str, str]) -> ScaledClock:
    """Build the soak's shared clock from ``SOAK_*`` variables."""
    return ScaledClock(datetime.fromisoformat(env["SOAK_START"]),
                       float(env["SOAK_WALL_ANCHOR"]), float(env["SOAK_RATE"]))


def main(argv: list[str]) -> int:
    """Run the bot with the config file ``argv[0]`` on the soak clock."""
    from bot.__main__ import serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    return serve(load_settings(Path(argv[0])), clock_from_env(dict(os.environ)))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
