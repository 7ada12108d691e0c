"""One ingest pass: fetch, parse, extract, detect, match, summarize, store.

Every feed is handled on its own: one bad feed yields a failed ``FeedResult`` and never stops
the others. Only this module and ``feeds/fetch.py`` do I/O in the news pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing import get_context
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.article.canonical import article_id, canonical_url, content_hash
from bot.article.cluster import (
    MAX_STORIES,
    STORY_WINDOW,
    StoryIndex,
    StoryVector,
    lead_of,
    site_of,
    story_vector,
)
from bot.article.extract import extract_page, html_to_text, is_teaser
from bot.clock import Clock
from bot.errors import FeedError, FetchBlockedError, PageRetryError, StorageError
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import next_poll
from bot.finishing import join_thread
from bot.language import detect_language
from bot.models import Article, Delivery, FeedItem, FeedState, StoredStory
from bot.settings import FeedConfig, Settings
from bot.stopping import unblock_stop_signals
from bot.storage.base import Repository
from bot.summary_worker import summarize_in_worker
from bot.topics import TopicMatcher

log = logging.getLogger(__name__)
T = TypeVar("T")
V = TypeVar("V")
MAX_NEW_PER_POLL = 100
# Items of one listing remembered in FeedState.listed (12 hex digits each); a feed longer
# than this falls back to the store's key index for the rest.
LISTING_MEMORY = 1000
PAGE_FETCH_CONCURRENCY = 8
# Polls that try a teaser's article page before the feed's teaser stands in for it.
PAGE_TRIES = 3
PAGE_TRIES_REMEMBERED = 10_000
# Feeds show far fewer items than this; older keys are found in the store anyway.
SEEN_KEYS_MAX = 50_000


def exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the bot is gone, even after ``kill -9``.

    A pool worker holds both ends of its own task pipe, so it never sees EOF when the bot dies;
    a daemon thread watches for the parent to change instead.
    """
    # Spawned with the bot's mask, in which SIGTERM waits for the bot's signal thread: a
    # worker must still end on its own SIGTERM (the pool terminates workers with it).
    unblock_stop_signals()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def remember_bounded(table: dict[str, V], key: str, value: V, limit: int) -> None:
    """Set ``key`` as the table's newest entry; past ``limit`` entries the oldest half goes.

    Half at once, so a table at its limit is not trimmed on every insert.
    """
    table.pop(key, None)
    table[key] = value
    if len(table) > limit:
        for old in list(table)[: limit // 2]:
            del table[old]


class BodiesAhead:
    """A poll's new items in order, each with its body being made up to ``AHEAD`` items early.

    Args:
        ingestor: Makes the bodies (``Ingestor.body``).
        feed: The feed polled.
        result: The poll's result (its stage times).
        items: The items, in the order they are to be stored.
    """

    AHEAD = PAGE_FETCH_CONCURRENCY

    def __init__(self, ingestor: Ingestor, feed: FeedConfig, result: FeedResult,
                 items: list[FeedItem]) -> None:
        self._make = functools.partial(ingestor.body, feed, result=result)
        self._items = iter(items)
        self._started: deque[tuple[FeedItem, asyncio.Task[tuple[str, str | None]]]] = deque()

    def __iter__(self) -> Iterator[tuple[FeedItem, asyncio.Task[tuple[str, str | None]]]]:
        while True:
            while len(self._started) < self.AHEAD:
                item = next(self._items, None)
                if item is None:
                    break
                self._started.append((item, asyncio.ensure_future(self._make(item))))
            if not self._started:
                return
            yield self._started.popleft()

    async def close(self) -> None:
        """Cancel the bodies nobody will take (a stop, or the poll failed)."""
        left = [task for _item, task in self._started]
        self._started.clear()
        for task in left:
            task.cancel()
        # Reaped, failures included: an exception nobody retrieved is logged at exit.
        await asyncio.gather(*left, return_exceptions=True)


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, not the machine's count.

    A process pinned with ``taskset`` or limited by a container's cpuset sees every core in
    ``os.cpu_count()``; workers for cores it can't use only add hand-offs on the one it has.
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux: macOS has no affinity call
        return os.cpu_count() or 1


def ingest_workers() -> int:
    """Worker processes for extraction and summaries: one per usable core, when several."""
    cores = usable_cores()
    return min(cores, 4) if cores > 1 else 0


@dataclass(slots=True)
class FeedResult:
    """The outcome of polling one feed."""

    feed: FeedConfig
    ok: bool
    error: str = ""
    not_modified: bool = False
    articles: list[Article] = field(default_factory=list)
    skipped: int = 0
    queued: int = 0  # pending deliveries recorded with the new articles
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


StoryEntry = tuple[str, str, StoryVector, str, datetime]  # StoryIndex.add's arguments
WARM_PAGE = 2_000  # stored articles read at a time when the story index is filled


def already_handled(keys: Sequence[str], listed: Container[str], seen: Container[str],
                    stored: Container[str]) -> bool:
    """Whether a feed item with these dedupe keys needs no more work.

    It does not when its article's id (``article_id`` of its first key) was in the feed's
    last listing, or any key was seen by this process or was in the store when the poll
    began.
    """
    return article_id(keys[0]) in listed or any(k in seen or k in stored for k in keys)


def _story_of(article: Article) -> StoredStory:
    """What the story index needs of a stored article."""
    # Articles stored before leads were kept stand in with their summary.
    return StoredStory(article.id, article.cluster_id or article.id, article.title,
                       article.lead or " ".join(article.summary), article.url,
                       article.ingested_at)


def _story_entry(story: StoredStory) -> StoryEntry:
    """What the story index keeps of a stored article."""
    return (story.id, story.story_id, story_vector(story.title, story.lead),
            site_of(story.url), story.ingested_at)


class Ingestor:
    """Turns configured feeds into stored articles."""

    def __init__(self, settings: Settings, fetcher: Fetcher, clock: Clock,
                 repo: Repository | None = None, *, workers: int = 0,
                 plan: Callable[[Article], Awaitable[list[Delivery]]] | None = None) -> None:
        self.settings = settings
        # Who gets a new article: its pending deliveries are stored in the one call that
        # stores it, so an article is never stored without them (a crash between the two
        # would otherwise lose it: it is "known" and never fanned out).
        self.plan = plan
        self.fetcher = fetcher
        self.clock = clock
        self.repo = repo
        self.matcher = TopicMatcher(settings.topics)
        self.stories = StoryIndex()
        self._clusters_warm = False
        self._stored_mark: datetime | None = None  # see Repository.stories_stored_after
        self._stored_looked = 0.0
        self._stopping = False
        # Keys seen by this process that the store may not know (preview stores nothing; a
        # copy skipped by its content hash is not stored). Bounded: the soak's month showed
        # it growing with every item ever polled.
        self._seen_keys: dict[str, str] = {}
        self._pages = asyncio.Semaphore(PAGE_FETCH_CONCURRENCY)
        self._page_tries: dict[str, int] = {}  # item URL -> polls its page failed in
        # Extraction and summaries are CPU work under one GIL; worker processes (spawned, so
        # no thread of the bot is forked) let them use the other cores.
        self._pool = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=exit_with_parent,
            initargs=(os.getpid(),)) if workers > 0 else None
        self.polled_total = 0
        self.failed_total = 0
        self.ingested_total = 0

    def _see(self, key: str, value: str) -> None:
        remember_bounded(self._seen_keys, key, value, SEEN_KEYS_MAX)

    async def _known(self, key: str) -> bool:
        if key in self._seen_keys:
            return True
        return self.repo is not None and await self.repo.article_for_key(key) is not None

    async def _cpu(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            return await asyncio.to_thread(fn, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            log.warning("worker process died; working in this process")
            self._pool = None
            return await asyncio.to_thread(fn, *args)

    def stop(self) -> None:
        """Finish no more items: polls under way end after their current item."""
        self._stopping = True

    async def close(self, grace: float = 2.0) -> None:
        """Stop the worker processes, waiting up to ``grace`` seconds for them to end.

        Waiting matters: a pool left winding down when the interpreter exits races
        ``concurrent.futures``' exit hook, which then prints "Exception ignored in: <module
        'threading'>" and a traceback (Python 3.11 wakes the pool's manager thread through a
        pipe that the thread may be closing at that moment). Joined here, the hook finds the
        pool closed. The join runs on a daemon thread, so a worker stuck in one long page
        can't hold the exit past ``grace``.
        """
        self._stopping = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        joining = threading.Thread(target=pool.shutdown,
                                   kwargs={"wait": True, "cancel_futures": True},
                                   daemon=True, name="ingest-workers-exit")
        joining.start()
        if not await join_thread(joining, grace):
            log.warning("ingest worker processes did not end in time")

    async def run_once(self, feeds: tuple[FeedConfig, ...] | None = None,
                       concurrency: int = 8) -> list[FeedResult]:
        """Poll every feed once, concurrently, and return a result per feed."""
        limit = asyncio.Semaphore(concurrency)

        async def one(feed: FeedConfig) -> FeedResult:
            async with limit:
                return await self.poll(feed)

        return list(await asyncio.gather(*(one(f) for f in feeds or self.settings.feeds)))

    async def _warm_clusters(self) -> None:
        """Load recent stories into the index.

        All of them once (a restart must not forget stories in flight); then, on a shared
        database, those other processes stored since the last look (at most once a second),
        so a copy of a story another process took is found here too.
        """
        if self.repo is None:
            return
        if self._clusters_warm:
            if self.repo.shared and time.monotonic() - self._stored_looked >= 1.0:
                self._stored_looked = time.monotonic()
                others, self._stored_mark = await self.repo.stories_stored_after(self._stored_mark)
                for story in others:
                    self._remember_story(story)
            return
        self._clusters_warm = True
        if self.repo.shared:
            _none, self._stored_mark = await self.repo.stories_stored_after(None)
        # Newest first, a page at a time, keeping only what the index keeps: reading all of
        # its 20,000 articles at once raised the bot's RSS by 70 MB for good (bench/scale.py).
        since = self.clock.now() - STORY_WINDOW
        entries: list[StoryEntry] = []
        seen: set[str] = set()
        until = None
        while len(entries) < MAX_STORIES:
            page = await self.repo.articles_since(since, until=until, newest=WARM_PAGE)
            fresh = [a for a in reversed(page) if a.id not in seen]
            if not fresh:
                break
            for article in fresh:
                seen.add(article.id)
                entries.append(_story_entry(_story_of(article)))
            if len(page) < WARM_PAGE:
                break
            until = page[0].ingested_at  # inclusive: ties at the edge are read again
        for entry in reversed(entries[:MAX_STORIES]):  # oldest first, as the index wants
            self.stories.add(*entry)

    def _remember_story(self, story: StoredStory) -> None:
        if story.id not in self.stories:  # known: no need to build its vector again
            self.stories.add(*_story_entry(story))

    async def poll(self, feed: FeedConfig) -> FeedResult:
        """Poll one feed in fixed phases; never raises for a feed's own faults.

        Fetch the feed, parse it, decide which items are new (one ``keys_known`` call for
        the listing), then item by item: its page fetched and extracted, language, topics
        and summary, and the article recorded with its deliveries in one storage call.
        """
        await self._warm_clusters()
        result = FeedResult(feed, ok=True)
        self.polled_total += 1
        now = self.clock.now()
        saved = await self.repo.get_feed_state(feed.url) if self.repo else None
        state = saved or FeedState(feed.url)
        if self._stopping:
            # The shutdown began while the store answered (its fetcher may be closed now):
            # nothing was fetched, so nothing changes, and the next poll takes the feed.
            return result
        try:
            resp = await self._fetch_feed(feed, state, result)
            if resp.not_modified:
                result.not_modified = True
                await self._save_state(replace(
                    state, last_success=now, failures=0, failing_since=None,
                    next_poll_at=next_poll(now, feed.interval_seconds, max_age=resp.max_age())))
                return result
            t0 = time.perf_counter()
            parsed = await asyncio.to_thread(
                parse_feed, resp.body, resp.url, resp.headers.get("content-type", ""))
            result.stage_seconds["parse"] += time.perf_counter() - t0
            listing = [(item, self._item_keys(feed, item)) for item in parsed.items]
            # One look-up in the store for the whole listing (not one per key): the keys of
            # the items neither in the last listing nor seen by this process.
            stored = await self._stored_keys(
                k for _item, keys in listing if article_id(keys[0]) not in state.listed
                for k in keys if k not in self._seen_keys)
            fresh = [item for item, keys in listing if not already_handled(
                keys, state.listed, self._seen_keys, stored)][:MAX_NEW_PER_POLL]
            unfinished = await self._ingest_items(feed, fresh, parsed.language, result)
            # Every item now known (before, or handled just now) is remembered; one left
            # undone is not, so the next poll takes it again.
            listed = frozenset(article_id(keys[0]) for _item, keys in listing[:LISTING_MEMORY]
                               if already_handled(keys, state.listed, self._seen_keys, stored))
            # An item left undone (an error, or a shutdown) must be seen again next time, so
            # then the validators are not updated: a 304 would hide it for good.
            await self._save_state(replace(
                state, listed=listed,
                etag=state.etag if unfinished else resp.headers.get("etag"),
                last_modified=state.last_modified if unfinished
                else resp.headers.get("last-modified"), last_success=now,
                failures=0, failing_since=None,
                articles_total=state.articles_total + len(result.articles),
                next_poll_at=next_poll(now, feed.interval_seconds, max_age=resp.max_age(),
                                       retry_after=resp.retry_after())))
        except FeedError as exc:
            result.ok = False
            result.error = str(exc)
            self.failed_total += 1
            failures = state.failures + 1
            log.warning("feed failed", extra={"feed": feed.url, "error": result.error,
                                              "failures": failures})
            await self._save_state(replace(
                state, last_error=result.error[:300], last_error_at=now, failures=failures,
                failing_since=state.failing_since or now,
                next_poll_at=next_poll(now, feed.interval_seconds, failures=failures)))
        return result

    async def _fetch_feed(self, feed: FeedConfig, state: FeedState,
                          result: FeedResult) -> FetchResult:
        """The feed's response (or "not modified"); a refusal or a cut-off body raises."""
        started = time.perf_counter()
        resp = await self.fetcher.get(
            feed.url, etag=state.etag, last_modified=state.last_modified,
            accept="application/rss+xml, application/atom+xml, application/feed+json, "
                   "application/xml;q=0.9, */*;q=0.8")
        result.stage_seconds["fetch"] += time.perf_counter() - started
        if resp.not_modified:
            return resp
        if resp.status >= 400:
            raise FeedError(f"HTTP {resp.status}")
        if resp.truncated:
            raise FeedError(f"response larger than {self.settings.ingest.max_bytes} bytes "
                            "(cut off; raise [ingest] max_bytes if this feed is genuine)")
        return resp

    async def _ingest_items(self, feed: FeedConfig, items: list[FeedItem],
                            feed_language: str | None, result: FeedResult) -> bool:
        """Turn new items into stored articles, oldest first; True if any was left undone."""
        unfinished = False
        # Oldest first, so messages arrive in order; the pages of the next few items
        # are fetched (and extracted) meanwhile: one after another, a feed of teasers
        # whose site answers slowly took longer than the feed keeps its items.
        bodies = BodiesAhead(self, feed, result, list(reversed(items)))
        try:
            for item, body in bodies:
                if self._stopping:
                    return True
                try:
                    built = await self._article(feed, item, result, feed_language, await body)
                    stored = built is not None and await self._record(*built, result)
                except (FeedError, StorageError):
                    raise
                except PageRetryError:
                    result.skipped += 1
                    unfinished = True
                    continue
                except Exception:  # one bad item must not cost the rest of the feed
                    log.exception("item skipped; retried next poll",
                                  extra={"feed": feed.url, "url": item.url})
                    result.skipped += 1
                    unfinished = True
                    continue
                if stored and built is not None:
                    result.articles.append(built[0])
                    self.ingested_total += 1
        finally:
            await bodies.close()
        return unfinished

    async def _save_state(self, state: FeedState) -> None:
        if self.repo is not None:
            await self.repo.put_feed_state(state)

    def _item_keys(self, feed: FeedConfig, item: FeedItem) -> list[str]:
        keys = [f"u:{canonical_url(item.url)}"]
        if item.guid:
            keys.insert(0, f"g:{feed.url}|{item.guid}")
        return keys

    async def _stored_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        return await self.repo.keys_known(wanted) if self.repo is not None and wanted else set()

    async def body(self, feed: FeedConfig, item: FeedItem,
                   result: FeedResult) -> tuple[str, str | None]:
        """An item's text and image: the feed's own, or its page's for a teaser."""
        text = html_to_text(item.content_html) or html_to_text(item.summary_html)
        image = item.image_url
        if not (self.settings.ingest.fetch_full_text and is_teaser(text)):
            return text, image
        t0 = time.perf_counter()
        failed: str | None = None
        try:
            async with self._pages:
                page = await self.fetcher.get(item.url, trusted_host=urlsplit(feed.url).hostname,
                                              accept="text/html,application/xhtml+xml")
        except FetchBlockedError as exc:  # policy, not luck: trying again changes nothing
            log.info("article page not fetched", extra={"url": item.url, "error": str(exc)})
            return text, image
        except FeedError as exc:
            failed = str(exc)
        else:
            if page.status >= 500 or page.status == 429:
                failed = f"HTTP {page.status}"
            elif page.status >= 400 or not page.body:
                return text, image
        finally:
            result.stage_seconds["fetch"] += time.perf_counter() - t0
        if failed is not None:
            self._defer_page(item.url, failed)
            return text, image
        self._page_tries.pop(item.url, None)
        t0 = time.perf_counter()
        extracted = await self._cpu(extract_page, page.body, page.url)
        result.stage_seconds["extract"] += time.perf_counter() - t0
        if len(extracted.text) > len(text):
            text = extracted.text
        return text, image or extracted.image_url

    def _defer_page(self, url: str, problem: str) -> None:
        """Put a teaser's item off to the next poll, or give up on its page after PAGE_TRIES.

        Stored with its teaser, the article would be a poor one, and a copy of the same story
        in a feed with full text would no longer look the same (its text differs), so it
        would go out twice. Pages that failed once mostly work at the next poll.

        Raises:
            PageRetryError: The item should wait for the next poll.
        """
        tries = self._page_tries.pop(url, 0) + 1
        if tries < PAGE_TRIES:
            remember_bounded(self._page_tries, url, tries, PAGE_TRIES_REMEMBERED)
            log.info("article page not fetched; its item waits for the next poll",
                     extra={"url": url, "error": problem, "try": tries})
            raise PageRetryError(f"{url}: {problem}")
        log.info("article page not fetched; the feed's teaser is used",
                 extra={"url": url, "error": problem, "tries": tries})

    async def _article(self, feed: FeedConfig, item: FeedItem, result: FeedResult,
                       feed_language: str | None, body: tuple[str, str | None]
                       ) -> tuple[Article, StoryVector] | None:
        """The article of a new item and its story vector; None for a copy seen here.

        Language, topics, summary and the story it joins are worked out; nothing is stored.
        """
        now = self.clock.now()
        keys = self._item_keys(feed, item)
        text, image = body
        title = item.title or (text[:80].rsplit(" ", 1)[0] + "…" if text else item.url)
        hash_key = f"h:{content_hash(title, text)}"
        if await self._known(hash_key):
            result.skipped += 1
            for key in keys:
                self._see(key, hash_key)
            return None
        keys.append(hash_key)
        t0 = time.perf_counter()
        hint = feed.language or (feed_language or "").split("-")[0].lower() or None
        language = detect_language(f"{title}\n{text}", hint)
        result.stage_seconds["detect"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        topics = self.matcher.match(title, text, given=feed.topics)
        result.stage_seconds["match"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = await self._cpu(
            summarize_in_worker, text, title, language or "en", self.settings.summary.algorithm,
            self.settings.summary.sentences)
        result.stage_seconds["summarize"] += time.perf_counter() - t0
        aid = article_id(keys[0])
        lead = lead_of(title, text)
        vector = story_vector(title, lead)
        cluster_of = self.stories.find(vector, site_of(item.url), now)
        published = item.published_at if item.published_at and item.published_at <= now else now
        article = Article(
            id=aid, url=item.url, title=title, source=feed.name, feed_url=feed.url,
            language=language, summary=summary, topics=tuple(topics),
            published_at=published, ingested_at=now, keys=tuple(keys), image_url=image,
            cluster_id=cluster_of, text=text, lead=lead,
        )
        return article, vector

    async def _record(self, article: Article, vector: StoryVector, result: FeedResult) -> bool:
        """Store a new article with its deliveries (one call); False if a copy was first."""
        if self.repo is not None:
            queued = await self.repo.record_article(
                article, await self.plan(article) if self.plan is not None else ())
            if queued is None:
                # Another process stored a copy (this page in another feed, or this text)
                # since the listing was checked: that one is fanned out.
                result.skipped += 1
                for key in article.keys:
                    self._see(key, article.id)
                return False
            result.queued += queued
        # Only once stored: an article whose transaction failed (a database restart, a
        # lock timeout) must look new to the next poll, or it would never be stored at all.
        # Members point at the story's first article, so a third copy joins the same story.
        self.stories.add(article.id, article.cluster_id or article.id,
                         vector, site_of(article.url), article.ingested_at)
        for key in article.keys:
            self._see(key, article.id)
        return True
