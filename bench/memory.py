"""Resident memory of benchmark processes, read from ``/proc/<pid>/status``."""

from __future__ import annotations

import resource
from pathlib import Path


def status_kb(pid: int | str, field: str) -> int | None:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of a process's status; None when it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's before exec)."""
    peak = status_kb("self", "VmHWM")
    if peak is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak / 1024


def rss_kb(pid: int) -> int:
    """A process's current RSS in kB (0 once it has exited)."""
    return status_kb(pid, "VmRSS") or 0
