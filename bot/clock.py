"""The one place that reads the wall clock.

Tests inject ``FakeClock``; the soak runs on ``ScaledClock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time in UTC."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def wall_seconds(self, seconds: float) -> float:
        """Return how many real seconds pass while this clock moves ``seconds``.

        Timers of the job queue run on real time; they convert with this.
        """
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(tz=UTC)

    def wall_seconds(self, seconds: float) -> float:
        """Real time runs at the clock's pace."""
        return seconds


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def wall_seconds(self, seconds: float) -> float:
        """Timers are not scaled; tests move the clock by hand."""
        return seconds

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._now += delta

    def set(self, when: datetime) -> None:
        """Jump the clock to ``when``."""
        self._now = when


class ScaledClock:
    """Simulated time running ``rate`` times faster than the wall clock.

    The soak (bench/soak.py) lives a month in minutes: every restarted bot process gets the
    same ``start`` and ``wall_anchor``, so the simulated timeline continues across restarts.
    """

    def __init__(self, start: datetime, wall_anchor: float, rate: float,
                 wall: Callable[[], float] = time.time) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.start = start
        self.wall_anchor = wall_anchor
        self.rate = rate
        self._wall = wall

    def now(self) -> datetime:
        """Return the simulated current time."""
        return self.start + timedelta(seconds=(self._wall() - self.wall_anchor) * self.rate)

    def wall_seconds(self, seconds: float) -> float:
        """Return the real seconds in which ``seconds`` of simulated time pass."""
        return seconds / self.rate
