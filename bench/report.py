"""Write one section of BENCHMARKS.md, keeping the others."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nFigures written by the scripts in `bench/`; each section says "
          "how to rerun it.\n")


def write_section(name: str, body: str, command: str = "") -> None:
    """Replace (or append) the ``## name`` section of BENCHMARKS.md."""
    text = PATH.read_text() if PATH.exists() else HEADER
    stamp = (f"_Measured {datetime.now(tz=UTC):%Y-%m-%d} on {platform.machine()}, "
             f"Python {platform.python_version()}, 2 cores._")
    if command:
        stamp += f" Rerun: `{command}`."
    section = f"## {name}\n\n{stamp}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    PATH.write_text(text.rstrip() + "\n")
