"""Local-time maths for digests and quiet hours. Pure: every function takes ``now``."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import QuietHours


def parse_hhmm(value: str) -> time:
    """Parse ``HH:MM`` (00:00-23:59); raises ValueError otherwise."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2 \
            or len(hours) not in (1, 2):
        raise ValueError(value)
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(value)
    return time(h, m)


def last_due(now: datetime, hhmm: str, tz: str) -> datetime:
    """Return the latest instant at or before ``now`` when the local clock showed ``hhmm``.

    On a spring-forward day a time that does not exist maps to one instant (zoneinfo's
    reading with fold=0); on a fall-back day an ambiguous time maps to its first occurrence,
    so each local day has exactly one due instant.
    """
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    at = parse_hhmm(hhmm)
    for days in (0, 1, 2):
        day = (local_now - timedelta(days=days)).date()
        candidate = datetime.combine(day, at, tzinfo=zone)
        candidate = candidate.astimezone(ZoneInfo("UTC"))
        if candidate <= now:
            return candidate
    raise AssertionError("unreachable: one of three days is always in the past")


def in_quiet_hours(now: datetime, quiet: QuietHours | None, tz: str) -> bool:
    """Tell whether ``now`` falls in the chat's quiet window (which may wrap past midnight)."""
    if quiet is None:
        return False
    local = now.astimezone(ZoneInfo(tz)).time().replace(second=0, microsecond=0)
    start, end = parse_hhmm(quiet.start), parse_hhmm(quiet.end)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end
