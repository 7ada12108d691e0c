"""When to poll a feed next: interval with jitter, exponential backoff, Retry-After. Pure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BACKOFF_CAP = timedelta(hours=6)
JITTER = 0.1


def next_poll(now: datetime, interval: int, *, failures: int = 0,
              retry_after: float | None = None, max_age: float | None = None,
              rng: random.Random | None = None) -> datetime:
    """Return when to poll a feed next.

    Args:
        now: The current time.
        interval: The configured interval in seconds.
        failures: Consecutive failures so far (0 after a success).
        retry_after: A server's Retry-After in seconds, honoured as a floor.
        max_age: Cache-Control max-age in seconds, honoured as a floor (capped at 1 day).
        rng: Random source for jitter (tests pass a seeded one).

    Returns:
        The next poll time.
    """
    rng = rng or random.Random()
    base = float(interval)
    if failures:
        base = min(base * 2 ** min(failures, 20), BACKOFF_CAP.total_seconds())
        base = max(base, float(interval))
    if max_age:
        base = max(base, min(max_age, 86400.0))
    if retry_after:
        base = max(base, min(retry_after, BACKOFF_CAP.total_seconds()))
    jitter = base * JITTER * (rng.random() * 2 - 1)
    return now + timedelta(seconds=max(1.0, base + jitter))
