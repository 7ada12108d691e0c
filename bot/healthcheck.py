"""Container health check: ``python -m bot.healthcheck``.

With ``[metrics] listen`` set it asks the running bot's ``/healthz`` (exit 1 when polling or
delivery has stalled or the bot does not answer); without it, it only validates the config.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from bot.errors import ConfigError
from bot.settings import load_settings


def main() -> int:
    """Return 0 when healthy."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)  # noqa: T201
        return 1
    if not settings.metrics.listen:
        return 0
    host, _, port = settings.metrics.listen.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - mapping, not binding
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as resp:
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
