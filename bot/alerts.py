"""Admin alerts, announced once each way.

One message when a feed has failed for a day or delivery errors spike, and one when it
recovers. Pure: the tracker takes states and ``now`` and returns what to say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.models import FeedState

FEED_DOWN_AFTER = timedelta(hours=24)
SPIKE_WINDOW = timedelta(minutes=10)
SPIKE_FAILURES = 20


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for the admins: a catalogue key and its values."""

    key: str
    params: dict[str, str]


@dataclass(slots=True)
class AlertTracker:
    """Remembers which alerts are open, so each condition is announced once each way."""

    down: set[str] = field(default_factory=set)
    spiking: bool = False
    _failures: list[tuple[datetime, int]] = field(default_factory=list)

    def feeds(self, states: list[FeedState], names: dict[str, str],
              now: datetime) -> list[Alert]:
        """Compare feed states with the open alerts; return the new alerts."""
        alerts: list[Alert] = []
        for state in states:
            name = names.get(state.url)
            if name is None:
                continue
            failing = state.failures > 0 and state.failing_since is not None \
                and now - state.failing_since >= FEED_DOWN_AFTER
            if failing and state.url not in self.down:
                self.down.add(state.url)
                hours = int((now - (state.failing_since or now)).total_seconds() // 3600)
                alerts.append(Alert("alert_feed_down", {
                    "name": name, "hours": str(hours), "error": state.last_error[:200]}))
            elif state.failures == 0 and state.url in self.down:
                self.down.discard(state.url)
                alerts.append(Alert("alert_feed_up", {"name": name}))
        return alerts

    def deliveries(self, failed_total: int, now: datetime) -> list[Alert]:
        """Watch the count of failed deliveries; alert on a spike and on its end."""
        self._failures.append((now, failed_total))
        self._failures = [(t, n) for t, n in self._failures if now - t <= SPIKE_WINDOW]
        recent = failed_total - self._failures[0][1]
        if recent >= SPIKE_FAILURES and not self.spiking:
            self.spiking = True
            return [Alert("alert_delivery_spike", {"count": str(recent),
                                                   "minutes": str(SPIKE_WINDOW.seconds // 60)})]
        if self.spiking and recent == 0 and now - self._failures[0][0] >= SPIKE_WINDOW / 2:
            self.spiking = False
            return [Alert("alert_delivery_ok", {})]
        return []
