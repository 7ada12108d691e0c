"""The feed scheduler: each configured feed's poll chain on PTB's JobQueue.

One poll of a feed at a time, and each poll schedules the next from the feed's stored state
(``next_poll_at``: its interval, ``Cache-Control``, ``Retry-After`` or its failure backoff).
On a shared database feeds are leased feed by feed, so that each is fetched by one process
per interval and a killed poller's feeds are taken over once its leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import ContextTypes, JobQueue

from bot.clock import Clock
from bot.errors import NewsbotError, StorageError
from bot.ingest import Ingestor
from bot.settings import FeedConfig
from bot.storage.base import Repository

log = logging.getLogger("newsbot")
FIRST_POLL_SPREAD = 2.0
# A poll under way renews its lease; a killed poller's lease runs out and another process
# takes the feed over.
FEED_LEASE_SECONDS = 20.0
FEED_RENEW_SECONDS = 5.0
FEED_RETRY_SECONDS = 5.0  # after another process had the lease
# Feeds one process polls at once. A process claims a feed only once it has a free slot,
# so on a shared database each feed goes to a process that can start on it now: claimed all
# at once, the first seconds decided each process's share (87 and 63 of 150 feeds in a
# two-process run, the second process idle for the last quarter). The ingestor fetches at
# most PAGE_FETCH_CONCURRENCY (8) pages at once in any case, so more polls only queue there.
POLLS_AT_ONCE = 8


class FeedScheduler:
    """Owns every feed's poll chain: first polls, leases, the next poll, repairs.

    Args:
        feeds: The configured feeds.
        repo: The store (feed states and, when shared, leases).
        ingestor: Polls one feed.
        clock: The bot's clock.
        holder: This process's name on leases.
        timer: Real seconds for a timer of so many seconds on the bot's clock.
        on_new_articles: Called after a poll stored new articles (wakes delivery).
    """

    def __init__(self, feeds: tuple[FeedConfig, ...], repo: Repository, ingestor: Ingestor, *,
                 clock: Clock, holder: str, timer: Callable[[float], float],
                 on_new_articles: Callable[[], Awaitable[None]]) -> None:
        self.feeds = feeds
        self.repo = repo
        self.ingestor = ingestor
        self.clock = clock
        self.holder = holder
        self._timer = timer
        self._on_new_articles = on_new_articles
        self.last_poll: datetime | None = None  # by this process or, as it learns, another
        self._polling: set[str] = set()
        self._poll_started: dict[str, float] = {}
        self._slots = asyncio.Semaphore(POLLS_AT_ONCE)
        self._stopping = False

    async def start(self, jq: JobQueue[Any]) -> None:
        """Schedule each feed's first poll: when its stored state says, spread a little."""
        rng = random.Random()
        for feed in self.feeds:
            state = await self.repo.get_feed_state(feed.url)
            delay = rng.uniform(0.2, FIRST_POLL_SPREAD)
            if state and state.next_poll_at:
                wait = (state.next_poll_at - self.clock.now()).total_seconds()
                delay = max(delay, self._timer(min(wait, float(feed.interval_seconds))))
            self._schedule(jq, feed, delay)

    def stop(self) -> None:
        """Schedule no more polls; a poll cut short by the shutdown is logged, not raised."""
        self._stopping = True

    async def ensure(self, jq: JobQueue[Any]) -> None:
        """Put back any feed whose poll chain is missing (belt and braces; logs loudly)."""
        now = time.monotonic()
        for feed in self.feeds:
            if feed.url in self._polling or jq.get_jobs_by_name(f"poll:{feed.url}"):
                continue
            # A job handed to the executor is in neither place for a moment: only a feed
            # quiet for two intervals (and a minute) has really lost its chain.
            quiet = now - self._poll_started.get(feed.url, 0.0)
            if quiet < 2 * self._timer(float(feed.interval_seconds)) + 60.0:
                continue
            log.warning("feed had no poll scheduled; rescheduled", extra={"feed": feed.name})
            self._schedule(jq, feed, 1.0)

    def _schedule(self, jq: JobQueue[Any], feed: FeedConfig, delay: float) -> None:
        # Each poll schedules the next, so a run APScheduler skipped as "missed" (its default
        # when the loop was busy for a second) would end that feed's polling for good:
        # late runs must always run.
        jq.run_once(self._poll_job, when=delay, data=feed, name=f"poll:{feed.url}",
                    job_kwargs={"misfire_grace_time": None, "coalesce": True})

    async def _claim(self, feed: FeedConfig) -> bool:
        """Whether this process polls the feed now: its lease is ours and the poll is due.

        On a shared database another process may hold the lease (polling it now) or may just
        have polled it (its ``next_poll_at`` moved on); then this one leaves it.
        """
        if not self.repo.shared:
            return True
        lease = f"feed:{feed.url}"
        try:
            if not await self.repo.try_lease(lease, self.holder, FEED_LEASE_SECONDS):
                return False
            state = await self.repo.get_feed_state(feed.url)
            if state and state.next_poll_at and \
                    state.next_poll_at > self.clock.now() + timedelta(seconds=0.05):
                await self.repo.release_lease(lease, self.holder)
                return False
        except StorageError:
            return False
        return True

    async def _keep_lease(self, feed: FeedConfig) -> None:
        """Renew a feed's lease while its poll runs (full-text polls can be long)."""
        while True:
            await asyncio.sleep(FEED_RENEW_SECONDS)
            with contextlib.suppress(StorageError):
                await self.repo.try_lease(f"feed:{feed.url}", self.holder, FEED_LEASE_SECONDS)

    async def _release(self, feed: FeedConfig) -> None:
        if self.repo.shared:
            with contextlib.suppress(StorageError):
                await self.repo.release_lease(f"feed:{feed.url}", self.holder)

    async def _poll_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        feed = context.job.data if context.job else None
        assert isinstance(feed, FeedConfig)
        self._polling.add(feed.url)
        self._poll_started[feed.url] = time.monotonic()
        claimed = False
        try:
            async with self._slots:
                claimed = await self._claim(feed)
                if not claimed:
                    return
                renewing = asyncio.create_task(self._keep_lease(feed), name="feed-lease")
                started = time.monotonic()
                try:
                    result = await self.ingestor.poll(feed)
                finally:
                    renewing.cancel()
                    await self._release(feed)
            self.last_poll = self.clock.now()
            if result.articles:
                await self._on_new_articles()
                # Where a long poll spent its time (fetch, extract, summarize, ...): a poll
                # slower than the feed turns over loses items, so operators need to see it.
                stages = " ".join(f"{name}={secs:.1f}" for name, secs
                                  in sorted(result.stage_seconds.items()) if secs >= 0.05)
                log.info("feed polled", extra={"feed": feed.name,
                                               "new": len(result.articles),
                                               "queued": result.queued,
                                               "seconds": round(time.monotonic() - started, 1),
                                               "stages": stages})
        except NewsbotError:
            log.exception("poll failed", extra={"feed": feed.name})
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Shutting down: the poll is simply not finished; nothing was half-stored.
            log.info("poll interrupted by shutdown", extra={"feed": feed.name})
        finally:
            self._polling.discard(feed.url)
            if not self._stopping and context.job_queue is not None:
                self._schedule(context.job_queue, feed, await self._next_wait(feed, claimed))

    async def _next_wait(self, feed: FeedConfig, claimed: bool) -> float:
        """Seconds to this feed's next poll, from its state as stored now."""
        try:
            state = await self.repo.get_feed_state(feed.url)
        except StorageError:
            state = None  # the store is away: poll again after the usual interval
        if state and state.last_success and (self.last_poll is None
                                             or state.last_success > self.last_poll):
            self.last_poll = state.last_success  # polled here or by another process
        wait = self._timer(float(feed.interval_seconds) if claimed else
                           min(float(feed.interval_seconds), FEED_RETRY_SECONDS))
        if state and state.next_poll_at:
            ahead = (state.next_poll_at - self.clock.now()).total_seconds()
            if claimed or ahead > 0:
                wait = self._timer(max(0.5, ahead))
        return wait
