"""Prometheus metrics and ``/healthz`` on ``[metrics] listen`` (optional; served by bot/web.py).

Figures are read from the services when Prometheus scrapes, on the event loop, so the hot
paths only bump plain integers. ``/healthz`` answers 503 when polling or delivery has stalled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0)


@dataclass(slots=True)
class Snapshot:
    """Everything the collector reports, gathered at scrape time."""

    feeds_polled: int
    feeds_failed: int
    articles_ingested: int
    sent: int
    failed: int
    retried: int
    throttled: int
    queue_depth: int
    votes: int
    write_seconds: list[float]


class NewsbotCollector(Collector):
    """Turns a ``Snapshot`` into Prometheus metric families."""

    def __init__(self) -> None:
        self.latest: Snapshot | None = None  # gathered by the scrape before it collects
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._sum = 0.0

    def collect(self) -> Iterator[Any]:
        """Yield the metric families."""
        s = self.latest
        if s is None:
            return
        for name, doc, value in (
            ("newsbot_feeds_polled", "Feed polls", s.feeds_polled),
            ("newsbot_feeds_failed", "Failed feed polls", s.feeds_failed),
            ("newsbot_articles_ingested", "Articles stored", s.articles_ingested),
            ("newsbot_deliveries_sent", "Messages Telegram accepted", s.sent),
            ("newsbot_deliveries_failed", "Deliveries given up", s.failed),
            ("newsbot_deliveries_retried", "Deliveries retried after errors", s.retried),
            ("newsbot_deliveries_429", "429 answers from Telegram", s.throttled),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("newsbot_queue_depth", "Pending deliveries", value=s.queue_depth)
        yield GaugeMetricFamily("newsbot_votes", "Votes stored", value=s.votes)
        # Only the event loop calls this (bot/web.py), so no lock is needed.
        for seconds in s.write_seconds:
            self._sum += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1
                    break
            else:
                self._buckets[-1] += 1
        cumulative, running = [], 0
        for i, bound in enumerate((*LATENCY_BUCKETS, float("inf"))):
            running += self._buckets[i]
            cumulative.append((str(bound) if bound != float("inf") else "+Inf", running))
        yield HistogramMetricFamily(
            "newsbot_storage_write_seconds", "Durable storage write latency",
            buckets=cumulative, sum_value=self._sum)


def health_problems(now: datetime, last_poll: datetime | None, poll_interval: int,
                    oldest_ready_pending: datetime | None, started: datetime) -> list[str]:
    """Return why the bot is unhealthy (empty when healthy). Pure."""
    problems = []
    grace = timedelta(seconds=max(3 * poll_interval, 120))
    if (last_poll or started) < now - grace:
        problems.append("feed polling has stalled")
    if oldest_ready_pending is not None and oldest_ready_pending < now - timedelta(minutes=10):
        problems.append("delivery has stalled")
    return problems


class MetricsExposition:
    """Renders the Prometheus text for ``/metrics``, on the event loop that owns the figures."""

    def __init__(self, snapshot: Callable[[], Awaitable[Snapshot]]) -> None:
        self.registry = CollectorRegistry()
        self._snapshot = snapshot
        self._collector = NewsbotCollector()
        self.registry.register(self._collector)

    async def __call__(self) -> tuple[bytes, str]:
        """The body and its content type."""
        # The figures that need the store are read first (awaited); Prometheus' collect()
        # is synchronous and only formats them.
        self._collector.latest = await self._snapshot()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
