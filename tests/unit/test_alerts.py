"""Admin alerts with a fake clock: a feed that fails and recovers, a delivery error spike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.alerts import AlertTracker
from bot.clock import FakeClock
from bot.models import FeedState

URL = "https://feed.example/rss"
NAMES = {URL: "Example"}


def test_feed_down_after_a_day_once_and_up_once() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    tracker = AlertTracker()
    ok = FeedState(URL, last_success=clock.now())
    assert tracker.feeds([ok], NAMES, clock.now()) == []
    failing = replace(ok, failures=1, failing_since=clock.now(), last_error="HTTP 500")
    sent = []
    for _ in range(30):  # hourly checks for 30 hours of failure
        clock.advance(timedelta(hours=1))
        failing = replace(failing, failures=failing.failures + 1)
        sent += tracker.feeds([failing], NAMES, clock.now())
    assert [a.key for a in sent] == ["alert_feed_down"]
    assert sent[0].params["name"] == "Example" and "HTTP 500" in sent[0].params["error"]
    assert int(sent[0].params["hours"]) >= 24
    recovered = replace(failing, failures=0, failing_since=None, last_success=clock.now())
    assert [a.key for a in tracker.feeds([recovered], NAMES, clock.now())] == ["alert_feed_up"]
    assert tracker.feeds([recovered], NAMES, clock.now()) == []


def test_short_failures_do_not_alert() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tracker = AlertTracker()
    brief = FeedState(URL, failures=5, failing_since=now - timedelta(hours=3))
    assert tracker.feeds([brief], NAMES, now) == []


def test_delivery_spike_alerts_once_and_recovers() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    tracker = AlertTracker()
    failed = 0
    alerts = []
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        failed += 5
        alerts += tracker.deliveries(failed, clock.now())
    assert [a.key for a in alerts] == ["alert_delivery_spike"]
    for _ in range(15):
        clock.advance(timedelta(minutes=1))
        alerts += tracker.deliveries(failed, clock.now())
    assert [a.key for a in alerts] == ["alert_delivery_spike", "alert_delivery_ok"]
