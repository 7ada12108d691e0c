"""The feed scheduler on a shared database: a process claims a feed only with a free slot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.clock import SystemClock
from bot.feed_polling import POLLS_AT_ONCE, FeedScheduler
from bot.ingest import FeedResult, Ingestor
from bot.models import FeedState
from bot.settings import FeedConfig
from bot.storage.postgres import PostgresRepository


class HeldPolls:
    """Stands in for the ingestor: each poll waits until the test lets it finish, then
    stores the feed's next poll time as a real poll does."""

    def __init__(self, repo: PostgresRepository) -> None:
        self.repo = repo
        self.started: list[str] = []
        self.finish = asyncio.Event()

    async def poll(self, feed: FeedConfig) -> FeedResult:
        self.started.append(feed.url)
        await self.finish.wait()
        now = datetime.now(UTC)
        await self.repo.put_feed_state(FeedState(
            feed.url, last_success=now,
            next_poll_at=now + timedelta(seconds=feed.interval_seconds)))
        return FeedResult(feed, ok=True)


def job(feed: FeedConfig) -> Any:
    # What PTB hands a job callback: the job (with its data) and no queue to reschedule on.
    return SimpleNamespace(job=SimpleNamespace(data=feed), job_queue=None)


async def nothing() -> None:
    return None


async def test_a_busy_process_leaves_feeds_to_a_process_with_free_slots(
        database_url: str) -> None:
    feeds = tuple(FeedConfig(f"https://news.example/{n}.xml", f"Feed {n}", 600)
                  for n in range(POLLS_AT_ONCE + 3))
    busy_repo, free_repo = PostgresRepository(database_url), PostgresRepository(database_url)
    busy_polls, free_polls = HeldPolls(busy_repo), HeldPolls(free_repo)

    def scheduler(repo: PostgresRepository, polls: HeldPolls, name: str) -> FeedScheduler:
        ingestor: Ingestor = polls  # type: ignore[assignment]
        return FeedScheduler(feeds, repo, ingestor, clock=SystemClock(), holder=name,
                             timer=float, on_new_articles=nothing)

    busy = scheduler(busy_repo, busy_polls, "busy")
    free = scheduler(free_repo, free_polls, "free")
    try:
        # Every feed falls due in the busy process first: it starts as many as it has
        # slots and must not take the leases of the rest while it cannot poll them.
        busy_jobs = [asyncio.create_task(busy._poll_job(job(f))) for f in feeds]
        await asyncio.sleep(0.5)
        assert len(busy_polls.started) == POLLS_AT_ONCE
        free_jobs = [asyncio.create_task(free._poll_job(job(f))) for f in feeds]
        await asyncio.sleep(0.5)
        assert sorted(free_polls.started) == sorted(
            f.url for f in feeds if f.url not in busy_polls.started), \
            "the feeds the busy process had no slot for went to the free one"
        busy_polls.finish.set()
        free_polls.finish.set()
        await asyncio.gather(*busy_jobs, *free_jobs)
        assert len(busy_polls.started) + len(free_polls.started) == len(feeds), \
            "and each feed was polled once"
    finally:
        await busy_repo.close()
        await free_repo.close()
