"""Pending deliveries: matching articles to chats, sending them, exactly-once bookkeeping.

* A pending ``Delivery`` is recorded durably for every (article, chat) match before anything
  is sent.
* One task per chat drains that chat's pending deliveries through the pacer; a delivery is
  marked sent durably right after Telegram accepts it. The only window for a duplicate is a
  crash between Telegram's acceptance and that write: at most one message per chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.chats import ChatService
from bot.clock import Clock
from bot.delivery import fanout, outcome
from bot.delivery.fanout import Target
from bot.delivery.outcome import ChatChange, Outcome, Sender, SendResult, Tally
from bot.delivery.pacing import Pacer
from bot.digest import Record, build_digest, records
from bot.errors import NotLeadingError, StorageError
from bot.finishing import finish_or_cancel
from bot.models import (
    Article,
    Chat,
    ChatEdit,
    ChatKey,
    ChatType,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    ImageMode,
    VoteTotals,
)
from bot.render import MAX_CAPTION, Rendered, article_message, digest_messages
from bot.schedule_math import digest_due, in_quiet_hours
from bot.settings import Settings
from bot.storage.base import Repository
from bot.texts import text

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 32
# Chat workers running at once; more chats wait in line. Each worker looks its chat up
# before it waits for the pacer, and at 30 messages a second a few hundred are plenty:
# starting one per chat for 10,000 chats at once kept a database-backed event loop busy
# for seconds.
MAX_WORKERS = 256
RECORDS_FRESH = timedelta(minutes=10)  # how long the digest's vote ranking is reused
BACKFILL = 3
# Due digests a tick starts at most: the rest are still due at the next tick (a database
# hands them out most overdue first).
DIGESTS_PER_TICK = 1000
PENDING_PAGE = 50  # a chat's pending deliveries read at a time


class DeliveryService:
    """Fans articles out to chats and sends them."""

    def __init__(self, repo: Repository, settings: Settings, clock: Clock, chats: ChatService,
                 pacer: Pacer | None = None) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self.chats = chats
        self.pacer = pacer or Pacer()
        self.sender: Sender | None = None
        # Whether this process sends deliveries and digests: only the leader does (see
        # bot/roles.py); the others still answer /digest.
        self.dispatching = True
        # Asked right before each delivery goes out: on a shared database, whether this
        # process still holds the leader lease (bot/roles.py), so a leader that could not
        # renew it stops before another process may take over.
        self.may_send: Callable[[], bool] = lambda: True
        self._waiting_chats: dict[int, None] = {}  # chats in line for a worker, in order
        self._workers: dict[int, asyncio.Task[None]] = {}
        # chat id -> (lock, holders and waiters); entries go when nobody holds or waits, so
        # the dict is as large as the chats being sent to, not every chat ever seen
        self._locks: dict[int, tuple[asyncio.Lock, list[int]]] = {}
        self._digests_now: set[ChatKey] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        self.sent_total = 0
        self.failed_total = 0
        self.retried_total = 0
        self.throttled_total = 0
        self._records_cache: tuple[datetime, tuple[dict[str, Record], dict[str, Record]]] | None
        self._records_cache = None
        self._records_wall = 0.0
        self._retry_tasks: set[asyncio.Task[None]] = set()
        # senders waiting for a pacer slot: nothing of theirs is in flight, so a shutdown
        # cancels them at once instead of waiting out their chat's spacing
        self._waiting_for_slot: set[asyncio.Task[object]] = set()
        # chat id -> monotonic time before which tick/kick must not restart its sender
        self._backoff_until: dict[int, float] = {}
        # chat id -> marks of messages Telegram accepted whose write failed (the store was
        # away): written before anything else is sent to the chat, so an outage of the
        # store costs no second copy. At most one send's marks per chat (its worker stops).
        self._unsaved: dict[int, list[Delivery]] = {}
        # Bounds requests in flight: thousands of chat workers must not crowd the HTTP pool.
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    # ------------------------------------------------------------------ matching
    async def targets(self, article: Article) -> list[Target]:
        """Return every active chat the article goes to, with the topic it matched."""
        own_hits: list[tuple[Chat, str]] = []
        if article.text or article.title:
            for key, own_id in await self.chats.own_topic_hits(article.title, article.text):
                owner = await self.repo.get_chat(key)
                if owner is not None:
                    own_hits.append((owner, own_id))
        return fanout.targets(article, await self.repo.followers(article.topics), own_hits)

    def _group_name(self, chat: Chat, delivery: Delivery, article: Article) -> str:
        """The topic a chat got an article by, as its digest names the group."""
        topic = self.chats.topics.get(delivery.topic)
        if topic is not None:
            return topic.name
        own = next((t for t in chat.own_topics if t.id == delivery.topic), None)
        if own is not None:
            return own.name
        # Recorded before deliveries kept their topic, or the topic is gone since.
        for topic_id in article.topics:
            if topic_id in chat.topics and topic_id in self.chats.topics:
                return self.chats.topics[topic_id].name
        return chat.own_topics[0].name if chat.own_topics else text("keyword_topic",
                                                                      chat.ui_language)


    async def fan_out(self, articles: Iterable[Article]) -> int:
        """Record pending deliveries for new articles (one durable commit) and wake senders."""
        planned = [d for article in articles for d in await self.plan(article)]
        added = await self.repo.add_deliveries(planned)
        await self.kick()
        return added

    async def plan(self, article: Article) -> list[Delivery]:
        """The pending deliveries of a new article: who gets it, under which topic.

        Reads only; the ingestor stores them with the article (``record_article``), so the
        article and its deliveries become durable together. Wakes no sender.
        """
        now = self.clock.now()
        found = await self.targets(article)
        # A chat that got the story from another outlet is not sent it again.
        has_story = await self.repo.delivered_to(article.cluster_id, [t.chat for t in found]) \
            if article.cluster_id else set()
        return [Delivery(article.id, target.chat, DeliveryStatus.PENDING, now,
                         topic=target.topic_id)
                for target in found if target.chat not in has_story]

    async def backfill(self, chat: Chat, topic_id: str) -> int:
        """Queue the few most recent articles of a topic a chat has just followed."""
        since = self.clock.now() - self.chats.recent_window()
        recent = [a for a in await self.repo.articles_since(since, topic=topic_id)
                  if (not chat.languages or a.language in chat.languages)
                  and await self.repo.get_delivery(a.id, chat.key) is None]
        picked = recent[-BACKFILL:]
        now = self.clock.now()
        added = await self.repo.add_deliveries(
            Delivery(a.id, chat.key, DeliveryStatus.PENDING, now, topic=topic_id)
            for a in picked)
        await self.kick()
        return added

    # ------------------------------------------------------------------ scheduling
    def instant_ready(self, chat: Chat, now: datetime) -> bool:
        """Tell whether a chat's pending articles may go out as instant alerts now."""
        return (chat.active and chat.mode is DeliveryMode.INSTANT
                and not in_quiet_hours(now, chat.quiet, chat.timezone))

    async def kick(self) -> None:
        """Start senders for chats whose pending articles can go now."""
        if self._closing or self.sender is None or not self.dispatching:
            return
        # No chat is looked up here: a fan-out to thousands of chats would look up each on
        # the event loop, at every kick. Its worker does (quiet hours, an inactive chat).
        for key in await self.repo.pending_alert_chats():
            if not self._busy(key.chat_id):
                self._start(key.chat_id)

    async def tick(self) -> None:
        """Periodic job: send due digests and alerts held by quiet hours or retries."""
        if self._closing or self.sender is None or not self.dispatching:
            return
        for chat in await self.repo.digests_due(self.clock.now(), DIGESTS_PER_TICK):
            self._start(chat.key.chat_id)
        await self.kick()

    def _busy(self, chat_id: int) -> bool:
        """A worker for the chat runs or waits in line, or it is backing off."""
        task = self._workers.get(chat_id)
        return (task is not None and not task.done()) or chat_id in self._waiting_chats or \
            self._backoff_until.get(chat_id, 0.0) > time.monotonic()

    def _start(self, chat_id: int, *, retry: bool = False) -> None:
        task = self._workers.get(chat_id)
        if task is not None and not task.done():
            return
        if not retry and self._backoff_until.get(chat_id, 0.0) > time.monotonic():
            return  # backing off after a transient failure; its retry timer restarts it
        self._backoff_until.pop(chat_id, None)
        if len(self._workers) >= MAX_WORKERS:
            self._waiting_chats[chat_id] = None
            return
        self._waiting_chats.pop(chat_id, None)
        self._workers[chat_id] = asyncio.create_task(self._drain(chat_id),
                                                     name=f"deliver-{chat_id}")

    def _start_waiting(self) -> None:
        """A worker ended: give its place to the next chat in line."""
        while self._waiting_chats and len(self._workers) < MAX_WORKERS and not self._closing:
            chat_id = next(iter(self._waiting_chats))
            del self._waiting_chats[chat_id]
            self._start(chat_id, retry=True)

    @contextlib.asynccontextmanager
    async def _lock(self, chat_id: int, wait: float = 0.0) -> AsyncIterator[bool]:
        """One sender per chat at a time, in this process and (on a database) in any.

        Yields:
            Whether the chat is this sender's. Another process may hold it on a shared
            database (a standby sending a /digest asked of it); after ``wait`` seconds of
            trying the caller leaves the chat to it.
        """
        entry = self._locks.get(chat_id)
        if entry is None:
            entry = self._locks[chat_id] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                if not self.repo.shared:
                    yield True
                    return
                name = f"chat:{chat_id}"
                deadline = time.monotonic() + wait
                # Another process's lock can only be polled for: nothing here is told.
                while not (held := await self.repo.try_lock(name)) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.25)
                try:
                    yield held
                finally:
                    if held:
                        with contextlib.suppress(StorageError):
                            await self.repo.unlock(name)
        finally:
            users[0] -= 1
            if not users[0]:
                self._locks.pop(chat_id, None)

    # ------------------------------------------------------------------ sending
    async def _drain(self, chat_id: int) -> None:
        # Everything, the chat's lock included, inside the try: a worker that ends without
        # leaving ``_workers`` would hold a place in the line for ever (a database restart
        # failing the lock itself filled all 256 places and stopped delivery in the soak).
        try:
            async with self._lock(chat_id) as mine:
                if not mine:
                    return  # another process sends to it now; the next tick looks again
                await self._save_marks(chat_id)
                threads = await self.repo.threads_of(chat_id)
                if not threads:  # no chat stored under this id: its deliveries can't go
                    await self._drop_pending(ChatKey(chat_id), "chat unknown")
                for chat in threads:
                    if self._closing or not self.dispatching:
                        return
                    now = self.clock.now()
                    current = await self.repo.get_chat(chat.key)
                    if current is None or not current.active:
                        await self._drop_pending(chat.key, "chat inactive")
                        continue
                    if digest_due(current, now):
                        await self._send_digest(current, scheduled=True)
                    elif self.instant_ready(current, now):
                        await self._send_instant(current)
        except NotLeadingError:
            log.info("not leading any more; the new leader sends", extra={"chat": chat_id})
        except StorageError:
            log.exception("storage failed while delivering", extra={"chat": chat_id})
            self._retry_later(chat_id, 30.0)
        except Exception:
            log.exception("delivery worker failed", extra={"chat": chat_id})
            self._retry_later(chat_id, 30.0)
        finally:
            self._workers.pop(chat_id, None)
            self._start_waiting()

    async def _send_instant(self, chat: Chat) -> None:
        # A page at a time: what went out (or was dropped) leaves the pending set, so each
        # look returns the next oldest; a chat's backlog is never read whole.
        tried: set[str] = set()
        while page := [d for d in await self.repo.pending(chat.key, limit=PENDING_PAGE)
                       if d.article_id not in tried]:
            for listed in page:
                tried.add(listed.article_id)  # still pending after its turn: next time
                if self._closing or not self.dispatching:
                    return
                # Read again: a send before it in this page may have changed it (a group
                # that became a supergroup moves its pending deliveries).
                current = await self.repo.get_delivery(listed.article_id, chat.key)
                if current is None or current.status is not DeliveryStatus.PENDING:
                    continue
                if not await self._send_one(chat, current):
                    return

    async def _send_one(self, chat: Chat, current: Delivery) -> bool:
        """Send one pending delivery; whether the worker may go on with the chat."""
        article = await self.repo.get_article(current.article_id)
        if article is None:
            await self.repo.put_delivery(replace(current, status=DeliveryStatus.DROPPED,
                                           error="article pruned"))
            return True
        totals = await self.repo.totals(article.id)
        lang = chat.ui_language
        message = article_message(article, totals, source_label=text("source", lang),
                                  also_label=text("also_in", lang))
        caption = None
        if chat.images is ImageMode.PHOTO and article.image_url:
            small = article_message(article, totals, limit=MAX_CAPTION,
                                    source_label=text("source", lang),
                                    also_label=text("also_in", lang))
            caption = small if small.visible <= MAX_CAPTION else None
        result = await self._send(chat, message, image_url=article.image_url,
                                  caption=caption, link_url=article.url, fenced=True)
        return await self._settle(chat, [current], result)

    async def _send(self, chat: Chat, message: Rendered, *, image_url: str | None = None,
                    caption: Rendered | None = None, link_url: str | None = None,
                    digest: bool = False, fenced: bool = False) -> SendResult:
        """Send one message through the pacer.

        Raises:
            NotLeadingError: ``fenced`` (a delivery or scheduled digest) and this process lost the
                leader lease while it waited for its slot.
        """
        assert self.sender is not None
        mode = ImageMode.OFF if digest else chat.images
        task = asyncio.current_task()
        private = chat.type is ChatType.PRIVATE
        if task is not None:
            self._waiting_for_slot.add(task)
        try:
            await self.pacer.acquire(chat.key.chat_id, private)
        finally:
            if task is not None:
                self._waiting_for_slot.discard(task)
        try:
            if fenced and not self.may_send():
                raise NotLeadingError
            async with self._in_flight:
                return await self.sender.send(chat.key, message, image_url=image_url,
                                              image_mode=mode, caption=caption,
                                              link_url=link_url)
        finally:
            self.pacer.release(chat.key.chat_id, private)

    async def _settle(self, chat: Chat, deliveries: list[Delivery], result: SendResult) -> bool:
        """Carry out the outcome policy for one send (``outcome.settle``).

        Returns:
            Whether the chat's worker may send the chat's next message now.
        """
        done = outcome.settle(result, deliveries, self.clock.now())
        if done.log is not None:
            level, message = done.log
            getattr(log, level)(message, extra={"chat": chat.key.encode(),
                                                "error": result.error,
                                                "new": done.moved_to,
                                                "retry_after": done.hold_chat})
        self._count(done.tally)
        if done.records:
            # This chat sends nothing more until its mark is durable, so the crash window
            # stays one message per chat (a data folder shares the fsync of the marks of
            # sends answered together).
            try:
                await self.repo.put_deliveries(done.records)
            except StorageError:
                if done.tally is Tally.SENT:
                    # Telegram has the message; only its mark is missing. Kept, it is
                    # written before the chat's next send instead of the message going
                    # out again (a kill before then still can: that is the window).
                    self._unsaved.setdefault(chat.key.chat_id, []).extend(done.records)
                raise
        if done.hold_chat is not None:
            self.pacer.delay_chat(chat.key.chat_id, done.hold_chat)
        if done.chat is ChatChange.MOVED and done.moved_to is not None:
            await self.chat_moved(chat.key.chat_id, done.moved_to)
        elif done.chat is ChatChange.UNREACHABLE:
            await self.chat_unreachable(chat.key.chat_id, result.error)
        elif done.chat is ChatChange.THREAD_GONE:
            await self.chats.deactivate(chat.key)
            await self._drop_pending(chat.key, result.error)
        if done.retry_in is not None:
            if done.backoff:
                self._backoff_until[chat.key.chat_id] = time.monotonic() + done.retry_in
            self._retry_later(chat.key.chat_id, done.retry_in)
        return done.go_on

    async def _save_marks(self, chat_id: int) -> None:
        """Write a chat's kept marks (see ``_unsaved``); raises StorageError if still away."""
        marks = self._unsaved.pop(chat_id, None)
        if not marks:
            return
        try:
            await self.repo.put_deliveries(marks)
        except StorageError:
            self._unsaved[chat_id] = marks
            raise
        log.info("kept marks written", extra={"chat": chat_id, "count": len(marks)})

    def _count(self, tally: Tally) -> None:
        if tally is Tally.SENT:
            self.sent_total += 1
        elif tally is Tally.THROTTLED:
            self.throttled_total += 1
        elif tally is Tally.RETRIED:
            self.retried_total += 1
        elif tally is Tally.FAILED:
            self.failed_total += 1

    # -------------------------------------------------------------- chat changes
    async def chat_unreachable(self, chat_id: int, reason: str) -> None:
        """The bot was blocked, kicked or the chat deleted: nothing more goes to any thread.

        Telegram says so either in a send's answer (403, chat not found) or in a membership
        update; both end here. The chat is active again when it writes to the bot.
        """
        for thread in await self.repo.threads_of(chat_id):
            await self.chats.deactivate(thread.key)
            await self._drop_pending(thread.key, reason)

    async def chat_moved(self, old: int, new: int) -> None:
        """A group became a supergroup: its topics, settings and pending articles move."""
        if not await self.repo.threads_of(old):
            return
        await self.repo.move_chat(old, new)
        self.chats.invalidate()
        await self.kick()

    def _retry_later(self, chat_id: int, seconds: float) -> None:
        if self._closing:
            return

        async def later() -> None:
            await asyncio.sleep(seconds)
            self._start(chat_id, retry=True)

        task = asyncio.create_task(later(), name=f"retry-{chat_id}")
        self._retry_tasks.add(task)
        task.add_done_callback(self._retry_tasks.discard)

    async def _drop_pending(self, key: ChatKey, reason: str) -> None:
        pending = await self.repo.pending(key)
        if not pending:
            return
        await self.repo.put_deliveries(replace(d, status=DeliveryStatus.DROPPED,
                                         error=reason[:outcome.ERROR_CHARS]) for d in pending)

    # ------------------------------------------------------------------ digests
    async def _digest_entries(self, chat: Chat) -> list[tuple[Article, VoteTotals, str, Delivery]]:
        entries = []
        for d in await self.repo.pending(chat.key):
            article = await self.repo.get_article(d.article_id)
            if article is None:
                continue
            entries.append((article, await self.repo.totals(article.id),
                            self._group_name(chat, d, article), d))
        return entries

    async def _vote_records(self) -> tuple[dict[str, Record], dict[str, Record]]:
        # Every retained article is read for this: at most once per ten minutes, counted on
        # the bot's clock and on real time alike (a simulated clock runs a thousand times
        # faster: read at every ten simulated minutes, the soak's leader spent a fifth of its
        # CPU decoding articles), with the totals in one call.
        now, wall = self.clock.now(), time.monotonic()
        if self._records_cache and (
                now - self._records_cache[0] < RECORDS_FRESH
                or wall - self._records_wall < RECORDS_FRESH.total_seconds()):
            return self._records_cache[1]
        since = now - timedelta(days=self.settings.storage.retention_days)
        result = records(await self.repo.vote_tallies(since))
        self._records_cache = (now, result)
        self._records_wall = wall
        return result

    def send_digest_soon(self, key: ChatKey,
                         when_sent: Callable[[int], Awaitable[None]]) -> bool:
        """Send the chat's briefing now, in the background (bare /digest).

        Args:
            key: The chat.
            when_sent: Called with the number of articles sent.

        Returns:
            False when one is already being sent for this chat (nothing more is queued).
        """
        if key in self._digests_now or self._closing:
            return False
        self._digests_now.add(key)

        async def run() -> None:
            try:
                await when_sent(await self.send_digest_now(key))
            except Exception:
                log.exception("digest on request failed", extra={"chat": key.chat_id})
            finally:
                self._digests_now.discard(key)

        task = asyncio.create_task(run(), name=f"digest-now-{key.chat_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return True

    async def send_digest_now(self, key: ChatKey) -> int:
        """Send the chat's briefing now (bare /digest). Returns the number of articles."""
        chat = await self.repo.get_chat(key)
        if chat is None:
            return 0
        async with self._lock(key.chat_id, wait=30.0) as mine:
            if not mine:
                raise StorageError("another process kept the chat busy for 30 s")
            return await self._send_digest(chat, scheduled=False)

    async def _send_digest(self, chat: Chat, *, scheduled: bool) -> int:
        entries = await self._digest_entries(chat)
        previous = chat.last_digest_at
        if scheduled:
            await self.repo.edit_chat(chat.key, ChatEdit.setting(last_digest_at=self.clock.now()))
        if not entries:
            return 0
        sources, topics = await self._vote_records()
        grouped = build_digest([(a, t, g) for a, t, g, _ in entries],
                               sources, topics)
        lang = chat.ui_language
        messages = digest_messages(grouped, text("digest_header", lang, count=len(entries)),
                                   topic_label=text("topic_label", lang),
                                   source_label=text("source", lang))
        by_id = {a.id: d for a, _, _, d in entries}
        sent = 0
        for message in messages:
            ids = [data.split("|")[1] for row in message.buttons for _, data in row[:1]]
            deliveries = [by_id[i] for i in ids if i in by_id]
            while True:
                if self._closing:
                    return sent
                result = await self._send(chat, message, digest=True, fenced=scheduled)
                if result.outcome is Outcome.RETRY_AFTER:
                    self.throttled_total += 1
                    self.pacer.delay_chat(chat.key.chat_id, max(result.retry_after, 1.0))
                    continue
                break
            if not await self._settle(chat, deliveries, result):
                if scheduled and result.outcome is Outcome.TRANSIENT:
                    # Due again, so the retry sends the rest of today's briefing now
                    # rather than with tomorrow's.
                    await self.repo.edit_chat(chat.key, ChatEdit.setting(last_digest_at=previous))
                return sent
            sent += len(deliveries)
        return sent

    # ------------------------------------------------------------------ shutdown
    async def shutdown(self, grace: float = 6.0) -> None:
        """Stop taking work; let in-flight sends finish (up to ``grace`` seconds)."""
        self._closing = True
        for task in list(self._retry_tasks):
            task.cancel()
        for waiting in list(self._waiting_for_slot):
            waiting.cancel()
        await finish_or_cancel([*self._workers.values(), *self._background], grace)
        for chat_id in list(self._unsaved):
            with contextlib.suppress(StorageError):  # still away: those may go out again
                await self._save_marks(chat_id)
