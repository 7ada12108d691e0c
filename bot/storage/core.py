"""The backends' synchronous core, and the asynchronous ``Repository`` every caller sees on it.

Each backend is written as a plain synchronous store (``SyncStore``): the TinyDB one keeps
everything in memory behind an fsynced journal, the PostgreSQL one is one psycopg connection.
``CoreRepository`` turns a store into the ``Repository`` Protocol (``bot/storage/base.py``):
one ``await`` per call, each call one step (atomic, durable on return), and how the call runs
is the backend's choice (``_call``): on the event loop for TinyDB, whose reads are dict
look-ups; on a worker thread of its own for PostgreSQL, so a round trip to the server never
stops the loop.

Only code inside ``bot/storage`` (and ``copy-data``, the leader lease's thread and the
benchmarks' seeding, which run outside the event loop) uses a ``SyncStore`` directly. Its
``batch``/``staged``/``commit``/``checkpoint`` are how a backend makes its writes durable; they
are not part of the Protocol.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import ParamSpec, Protocol, TypeVar

from bot.models import (
    Article,
    Chat,
    ChatEdit,
    ChatKey,
    ChatTally,
    Delivery,
    FeedState,
    FollowerGroup,
    StoredStory,
    Vote,
    VoteTotals,
)

P = ParamSpec("P")
T = TypeVar("T")
WriteObserver = Callable[[float], None]


class SyncStore(Protocol):
    """A backend's synchronous store: the Protocol's calls, plus how writes become durable.

    The calls mean what ``Repository``'s do; see their docstrings there.
    """

    def close(self) -> None:
        """Flush everything to the data files and release the folder lock."""
        ...

    def checkpoint(self) -> None:
        """Fold the journal into the partition files (bounded by the dirty partitions)."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes of a block into one durable commit at its end."""
        ...

    def staged(self) -> AbstractContextManager[None]:
        """Apply the writes of a block at once but make them durable only at ``commit()``."""
        ...

    def commit(self) -> None:
        """Make every staged write durable (one fsync)."""
        ...

    def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        ...

    def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        ...

    def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the chat as stored now, atomically; durable on return."""
        ...

    def followers(self, topic_ids: Collection[str]) -> list[FollowerGroup]:
        """Return the active chats that follow these topics, by topic and language filter."""
        ...

    def chats_with_own_topics(self) -> list[Chat]:
        """Return the active chats that have keyword topics of their own."""
        ...

    def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Return up to ``limit`` active chats whose daily digest is due at ``now``."""
        ...

    def oldest_pending(self, limit: int) -> list[tuple[ChatKey, datetime]]:
        """Return the chats with pending deliveries, oldest waiting first, with that time."""
        ...

    def chat_tally(self) -> ChatTally:
        """Count chats by type, activity and followed topic (for /stats)."""
        ...

    def chats(self) -> Iterator[Chat]:
        """Iterate over all chats."""
        ...

    @property
    def subscriptions_version(self) -> int:
        """A number that changes whenever who-gets-what changes (for fan-out caches)."""
        ...

    def threads_of(self, chat_id: int) -> list[Chat]:
        """Return every stored key (thread) of one Telegram chat."""
        ...

    def move_chat(self, old: int, new: int) -> None:
        """Move a chat's records, threads and pending deliveries to a new chat id."""
        ...

    def add_article(self, article: Article) -> None:
        """Store a new article; its ``keys`` become dedupe keys."""
        ...

    def record_article(self, article: Article, deliveries: Collection[Delivery]) -> int | None:
        """Store a new article with its pending deliveries: one transaction, durable on return."""
        ...

    def get_article(self, article_id: str) -> Article | None:
        """Return an article by id."""
        ...

    def article_for_key(self, key: str) -> str | None:
        """Return the id of the article that owns a dedupe key."""
        ...

    def keys_known(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys belong to a stored article (one call for all of them)."""
        ...

    def articles_since(self, since: datetime, *, until: datetime | None = None,
                       topic: str | None = None, newest: int | None = None) -> list[Article]:
        """Return articles ingested at or after ``since``, oldest first."""
        ...

    def stories_stored_after(self, mark: datetime | None
                             ) -> tuple[list[StoredStory], datetime]:
        """Articles stored (by any process) since ``mark``, as stories, and the next mark."""
        ...

    def article_count(self) -> int:
        """Return how many articles are stored."""
        ...

    def articles_count_since(self, since: datetime) -> int:
        """Return how many articles were ingested at or after ``since``."""
        ...

    def add_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        """Record new pending deliveries; existing (article, chat) pairs are kept. Returns added."""
        ...

    def put_delivery(self, delivery: Delivery) -> None:
        """Replace a delivery record (e.g. mark it sent)."""
        ...

    def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace many delivery records in one write (a digest's marks, a chat's drops)."""
        ...

    def get_delivery(self, article_id: str, chat: ChatKey) -> Delivery | None:
        """Return the delivery of an article to a chat."""
        ...

    def pending(self, chat: ChatKey | None = None, *, limit: int | None = None
                ) -> list[Delivery]:
        """Return pending deliveries (of one chat, or of all), oldest first."""
        ...

    def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Return which of ``chats`` have a delivery (of any status) of an article."""
        ...

    def pending_alert_chats(self) -> list[ChatKey]:
        """Return the chats with pending deliveries that don't wait for a daily digest."""
        ...

    def put_vote(self, vote: Vote) -> VoteTotals:
        """Set a user's vote on an article durably and return the new totals."""
        ...

    def get_vote(self, article_id: str, user_id: int) -> int:
        """Return +1, -1 or 0 (no vote)."""
        ...

    def totals_of(self, article_ids: Iterable[str]) -> dict[str, VoteTotals]:
        """The vote totals of many articles in one call (articles without votes left out)."""
        ...

    def vote_tallies(self, since: datetime) -> list[tuple[str, tuple[str, ...], VoteTotals]]:
        """``(source, topics, totals)`` of each article ingested since ``since`` with votes."""
        ...

    def totals(self, article_id: str) -> VoteTotals:
        """Return the vote totals of an article."""
        ...

    def vote_count(self) -> int:
        """Return how many votes are stored."""
        ...

    def delivery_counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status: every status, 0 included."""
        ...

    def get_feed_state(self, url: str) -> FeedState | None:
        """Return the poll state of a feed."""
        ...

    def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        ...

    def feed_states(self) -> list[FeedState]:
        """Return the poll state of every known feed."""
        ...

    def all_deliveries(self) -> Iterator[Delivery]:
        """Every delivery record, whatever its status."""
        ...

    def all_votes(self) -> Iterator[Vote]:
        """Every vote (``at`` is the article's ingest time where a backend keeps no time)."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes may use the same store at the same time."""
        ...

    def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``; False while another holds it."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up at once, if ``holder`` has it."""
        ...

    def lease_holder(self, name: str) -> str | None:
        """The holder of a lease that has not expired, or None."""
        ...

    def shared_value(self, name: str, candidate: str) -> str:
        """The value every process sees under ``name``; ``candidate`` if none was kept."""
        ...

    def pending_signals(self) -> AsyncIterator[None]:
        """Yield whenever another process may have recorded pending deliveries."""
        ...

    def try_lock(self, name: str) -> bool:
        """Hold the lock ``name`` until ``unlock`` or this process ends; False if another has it."""
        ...

    def unlock(self, name: str) -> None:
        """Release a lock taken with ``try_lock``."""
        ...

    def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` with their votes and deliveries."""
        ...


class CoreRepository:
    """The ``Repository`` Protocol on a ``SyncStore``; a backend says how a call runs.

    Args:
        core: The backend's store.
        on_write: Told the seconds each durable write took, as its caller waited for it
            (the ``newsbot_storage_write_seconds`` metric).
    """

    def __init__(self, core: SyncStore, on_write: WriteObserver | None = None) -> None:
        self.core = core
        self._on_write = on_write

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one store call: a backend overrides this to run it elsewhere."""
        return fn(*args, **kwargs)

    async def _write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        result = await self._call(fn, *args, **kwargs)
        self._written(started)
        return result

    def _written(self, started: float) -> None:
        """Tell the observer how long a durable write begun at ``started`` took."""
        if self._on_write is not None:
            self._on_write(time.perf_counter() - started)

    # life cycle -------------------------------------------------------------
    async def close(self) -> None:
        """Make everything durable and let the store go."""
        await self._call(self.core.close)

    async def maintain(self) -> None:
        """Periodic upkeep (a data folder folds its journal into its files)."""
        await self._call(self.core.checkpoint)

    # chats ------------------------------------------------------------------
    async def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        return await self._call(self.core.get_chat, key)

    async def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        await self._write(self.core.put_chat, chat)

    async def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the chat as stored now; the chat as changed, or None."""
        return await self._write(self.core.edit_chat, key, edit)

    async def followers(self, topic_ids: Collection[str]) -> list[FollowerGroup]:
        """The active chats that follow these topics, grouped by topic and language filter."""
        return await self._call(self.core.followers, topic_ids)

    async def chats_with_own_topics(self) -> list[Chat]:
        """The active chats that have keyword topics of their own."""
        return await self._call(self.core.chats_with_own_topics)

    async def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Up to ``limit`` active chats whose daily digest is due at ``now``."""
        return await self._call(self.core.digests_due, now, limit)

    async def oldest_pending(self, limit: int) -> list[tuple[ChatKey, datetime]]:
        """The chats with pending deliveries, oldest waiting first, with that time."""
        return await self._call(self.core.oldest_pending, limit)

    async def chat_tally(self) -> ChatTally:
        """Chats by type, activity and followed topic."""
        return await self._call(self.core.chat_tally)

    async def subscriptions_version(self) -> int:
        """A number that changes whenever who-gets-what changes."""
        return await self._call(lambda: self.core.subscriptions_version)

    async def threads_of(self, chat_id: int) -> list[Chat]:
        """Every stored key (thread) of one Telegram chat."""
        return await self._call(self.core.threads_of, chat_id)

    async def move_chat(self, old: int, new: int) -> None:
        """Move a chat's records, threads and pending deliveries to a new chat id."""
        await self._write(self.core.move_chat, old, new)

    # articles ---------------------------------------------------------------
    async def add_article(self, article: Article) -> None:
        """Store a new article; its ``keys`` become dedupe keys."""
        await self._write(self.core.add_article, article)

    async def record_article(self, article: Article,
                             deliveries: Collection[Delivery]) -> int | None:
        """Store a new article with its pending deliveries in one transaction."""
        return await self._write(self.core.record_article, article, deliveries)

    async def get_article(self, article_id: str) -> Article | None:
        """Return an article by id."""
        return await self._call(self.core.get_article, article_id)

    async def article_for_key(self, key: str) -> str | None:
        """The id of the article that owns a dedupe key."""
        return await self._call(self.core.article_for_key, key)

    async def keys_known(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys belong to a stored article."""
        return await self._call(self.core.keys_known, list(keys))

    async def articles_since(self, since: datetime, *, until: datetime | None = None,
                             topic: str | None = None,
                             newest: int | None = None) -> list[Article]:
        """Articles ingested at or after ``since``, oldest first."""
        return await self._call(self.core.articles_since, since, until=until, topic=topic,
                                newest=newest)

    async def stories_stored_after(self, mark: datetime | None
                                   ) -> tuple[list[StoredStory], datetime]:
        """Articles stored (by any process) since ``mark``, as stories, and the next mark."""
        return await self._call(self.core.stories_stored_after, mark)

    async def article_count(self) -> int:
        """How many articles are stored."""
        return await self._call(self.core.article_count)

    async def articles_count_since(self, since: datetime) -> int:
        """How many articles were ingested at or after ``since``."""
        return await self._call(self.core.articles_count_since, since)

    # deliveries -------------------------------------------------------------
    async def add_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        """Record new pending deliveries; returns how many were added."""
        return await self._write(self.core.add_deliveries, list(deliveries))

    async def put_delivery(self, delivery: Delivery) -> None:
        """Replace a delivery record."""
        await self.put_deliveries([delivery])

    async def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace many delivery records in one write."""
        await self._write(self.core.put_deliveries, list(deliveries))

    async def get_delivery(self, article_id: str, chat: ChatKey) -> Delivery | None:
        """The delivery of an article to a chat."""
        return await self._call(self.core.get_delivery, article_id, chat)

    async def pending(self, chat: ChatKey | None = None, *,
                      limit: int | None = None) -> list[Delivery]:
        """Pending deliveries (of one chat, or of all), oldest first."""
        return await self._call(self.core.pending, chat, limit=limit)

    async def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Which of ``chats`` have a delivery (of any status) of an article."""
        return await self._call(self.core.delivered_to, article_id, chats)

    async def pending_alert_chats(self) -> list[ChatKey]:
        """The chats with pending deliveries that don't wait for a daily digest."""
        return await self._call(self.core.pending_alert_chats)

    # votes ------------------------------------------------------------------
    async def put_vote(self, vote: Vote) -> VoteTotals:
        """Set a user's vote on an article durably and return the new totals."""
        return await self._write(self.core.put_vote, vote)

    async def get_vote(self, article_id: str, user_id: int) -> int:
        """+1, -1 or 0 (no vote)."""
        return await self._call(self.core.get_vote, article_id, user_id)

    async def totals_of(self, article_ids: Iterable[str]) -> dict[str, VoteTotals]:
        """The vote totals of many articles in one call."""
        return await self._call(self.core.totals_of, list(article_ids))

    async def vote_tallies(self, since: datetime
                           ) -> list[tuple[str, tuple[str, ...], VoteTotals]]:
        """``(source, topics, totals)`` of each article ingested since ``since`` with votes."""
        return await self._call(self.core.vote_tallies, since)

    async def totals(self, article_id: str) -> VoteTotals:
        """The vote totals of an article."""
        return await self._call(self.core.totals, article_id)

    async def vote_count(self) -> int:
        """How many votes are stored."""
        return await self._call(self.core.vote_count)

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        return await self._call(self.core.delivery_counts)

    # feeds ------------------------------------------------------------------
    async def get_feed_state(self, url: str) -> FeedState | None:
        """The poll state of a feed."""
        return await self._call(self.core.get_feed_state, url)

    async def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        await self._write(self.core.put_feed_state, state)

    async def feed_states(self) -> list[FeedState]:
        """The poll state of every known feed."""
        return await self._call(self.core.feed_states)

    # moving between backends --------------------------------------------------
    async def all_chats(self) -> list[Chat]:
        """Every chat and forum thread."""
        return await self._call(lambda: list(self.core.chats()))

    async def all_deliveries(self) -> list[Delivery]:
        """Every delivery record."""
        return await self._call(lambda: list(self.core.all_deliveries()))

    async def all_votes(self) -> list[Vote]:
        """Every vote."""
        return await self._call(lambda: list(self.core.all_votes()))

    # many processes -----------------------------------------------------------
    @property
    def shared(self) -> bool:
        """Whether other processes may use the same store at the same time."""
        return self.core.shared

    async def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew a lease; False while another holds it."""
        return await self._call(self.core.try_lease, name, holder, seconds)

    async def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up at once, if ``holder`` has it."""
        await self._call(self.core.release_lease, name, holder)

    async def lease_holder(self, name: str) -> str | None:
        """The holder of a lease that has not expired, or None."""
        return await self._call(self.core.lease_holder, name)

    async def shared_value(self, name: str, candidate: str) -> str:
        """The value every process sees under ``name``."""
        return await self._call(self.core.shared_value, name, candidate)

    def pending_signals(self) -> AsyncIterator[None]:
        """Yield whenever another process may have recorded pending deliveries."""
        return self.core.pending_signals()

    async def try_lock(self, name: str) -> bool:
        """Hold the lock ``name`` until ``unlock``; False if another process has it."""
        return await self._call(self.core.try_lock, name)

    async def unlock(self, name: str) -> None:
        """Release a lock taken with ``try_lock``."""
        await self._call(self.core.unlock, name)

    # maintenance --------------------------------------------------------------
    async def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` (those still pending are kept)."""
        return await self._write(self.core.prune, before)
