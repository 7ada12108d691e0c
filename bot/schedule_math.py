"""Local-time maths for digests and quiet hours. Pure: every function takes ``now``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import Chat, DeliveryMode, QuietHours


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


def _due_on(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The one due instant of a local day (see ``last_due``)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


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
        candidate = _due_on((local_now - timedelta(days=days)).date(), at, zone)
        if candidate <= now:
            return candidate
    raise AssertionError("unreachable: one of three days is always in the past")


def next_due(after: datetime, hhmm: str, tz: str) -> datetime:
    """Return the first instant after ``after`` when the local clock shows ``hhmm``.

    The same instants as ``last_due``: ``last_due(now) > after`` exactly when
    ``next_due(after) <= now``, which lets a database find due digests by an index.
    """
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    at = parse_hhmm(hhmm)
    for days in (-1, 0, 1, 2):
        candidate = _due_on((local + timedelta(days=days)).date(), at, zone)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: one of the next days is always in the future")


def digest_due_at(chat: Chat) -> datetime | None:
    """When a chat's next daily digest falls due (None: it takes no digest).

    Counted from its last digest, or from when it asked for digests (missed ones count once).
    """
    if not chat.active or chat.mode is not DeliveryMode.DIGEST:
        return None
    since = max((d for d in (chat.last_digest_at, chat.digest_since, chat.created_at)
                 if d is not None), default=None)
    if since is None:
        return datetime.min.replace(tzinfo=UTC)  # never sent, no start: due now
    return next_due(since, chat.digest_time, chat.timezone)


def digest_due(chat: Chat, now: datetime) -> bool:
    """Tell whether a chat's daily digest is due at ``now``."""
    due = digest_due_at(chat)
    return due is not None and due <= now


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
