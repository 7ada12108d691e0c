"""The storage Protocol every part of newsbot talks to: domain calls, asynchronous.

Rules every implementation keeps (README, Design notes, "The storage Protocol"):

* **Records** go in and come out as the frozen dataclasses of ``bot.models``; never raw dicts
  or rows.
* **Time** is always an aware UTC ``datetime``.
* **One call, one step.** Each call is atomic and, for a write, durable when it returns (the
  change survives ``kill -9``). There is no open transaction between calls: what must
  happen together is one call (``record_article``: an article with its deliveries;
  ``put_deliveries``: a digest's marks; ``put_vote``: the vote and its new totals;
  ``edit_chat``: an update intent, not a whole-record rewrite). Callers acknowledge a change
  to a user only after the call returns.
* **Batches, not loops**: calls take and return collections (``keys_known``,
  ``totals_of``, ``put_deliveries``), and reads that could grow with the store are bounded
  (``pending(chat, limit=)``, ``digests_due(now, limit)``) or answered by an index.
* **Asynchronous**: a call never blocks the event loop for the database's round trip.
* **Writers**: one process owns a data folder (a second gets ``StorageLockedError``); any
  number of bot processes share a database (``shared`` is True) and divide the work with
  leases. ``subscriptions_version`` then changes with any process's change of who gets what.
* **Errors**: implementation errors are wrapped in ``bot.errors.StorageError`` subclasses.

How a backend keeps them (a journal with group commit, a worker thread on one connection)
is its own business: see ``bot/storage/core.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime
from typing import Protocol

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


class Repository(Protocol):
    """Chats, subscriptions, articles, deliveries, votes and feed state."""

    async def close(self) -> None:
        """Make everything durable and let the store go (the folder lock, the connection)."""
        ...

    async def maintain(self) -> None:
        """Periodic upkeep, called by the bot about once a minute.

        The data folder folds its journal into its partition files here; a database does
        its own upkeep and does nothing.
        """
        ...

    async def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        ...

    async def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        ...

    async def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the chat as stored now, atomically; durable on return.

        Returns the chat as changed, or None when there is no such chat (nothing is written).
        Edits of different fields from different processes at once all hold.
        """
        ...

    async def followers(self, topic_ids: Collection[str]) -> list[FollowerGroup]:
        """Return the active chats that follow these topics, grouped by topic and language filter.

        Independent of how many chats are stored: an index scan on a database.
        """
        ...

    async def chats_with_own_topics(self) -> list[Chat]:
        """Return the active chats that have keyword topics of their own."""
        ...

    async def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Return up to ``limit`` active chats whose daily digest is due at ``now``.

        Most overdue first; "due" is ``schedule_math.digest_due``.
        """
        ...

    async def oldest_pending(self, limit: int) -> list[tuple[ChatKey, datetime]]:
        """Return the chats with pending deliveries, oldest waiting first, with that time."""
        ...

    async def chat_tally(self) -> ChatTally:
        """Count chats by type, activity and followed topic (for /stats)."""
        ...

    async def subscriptions_version(self) -> int:
        """A number that changes whenever who-gets-what changes (for fan-out caches).

        That is a chat added or removed, or its ``active``, ``topics``, ``languages`` or
        ``own_topics`` changed; not a digest's time stamp, which changes with every digest
        (on a database, rebuilding the follower index after each of those cost the
        3-process soak half of every process's CPU).
        """
        ...

    async def threads_of(self, chat_id: int) -> list[Chat]:
        """Return every stored key (thread) of one Telegram chat."""
        ...

    async def move_chat(self, old: int, new: int) -> None:
        """Move a chat's records, threads and pending deliveries to a new chat id."""
        ...

    async def add_article(self, article: Article) -> None:
        """Store a new article; its ``keys`` become dedupe keys."""
        ...

    async def record_article(self, article: Article,
                             deliveries: Collection[Delivery]) -> int | None:
        """Store a new article with its pending deliveries: one transaction, durable on return.

        Unless another article already owns its id or one of its ``keys``: the check and the
        store are one step, so of two processes that take copies of one story at the same
        moment (the same page in two feeds, the same text under two addresses) exactly one
        stores it; the other gets None, nothing of its copy is written, and it must not fan
        it out. An article never exists without its deliveries, nor they without it.

        An article that joins a story (``cluster_id``) names its ``source`` on the story's
        first article (``also_sources``), in the same transaction and without rewriting the
        rest of that article: two processes adding outlets at once both count.

        Returns:
            How many deliveries were added (pairs already recorded are kept), or None when
            the article was not stored.
        """
        ...

    async def get_article(self, article_id: str) -> Article | None:
        """Return an article by id."""
        ...

    async def article_for_key(self, key: str) -> str | None:
        """Return the id of the article that owns a dedupe key."""
        ...

    async def keys_known(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys belong to a stored article (one call for all of them)."""
        ...

    async def articles_since(self, since: datetime, *, until: datetime | None = None,
                       topic: str | None = None, newest: int | None = None) -> list[Article]:
        """Return articles ingested at or after ``since``, oldest first.

        Args:
            since: The earliest ingest time.
            until: Only those ingested at or before this time.
            topic: Only articles of this shipped topic.
            newest: Only the newest this many (still returned oldest first).
        """
        ...

    async def stories_stored_after(self, mark: datetime | None
                             ) -> tuple[list[StoredStory], datetime]:
        """Articles stored (by any process) since ``mark``, as stories, and the next mark.

        With ``mark`` None: none, only a first mark. May return a few again (they overlap
        so that none committed late is missed); callers ignore known ids.
        """
        ...

    async def article_count(self) -> int:
        """Return how many articles are stored."""
        ...

    async def articles_count_since(self, since: datetime) -> int:
        """Return how many articles were ingested at or after ``since``."""
        ...

    async def add_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        """Record new pending deliveries; existing (article, chat) pairs are kept. Returns added."""
        ...

    async def put_delivery(self, delivery: Delivery) -> None:
        """Replace a delivery record (e.g. mark it sent)."""
        ...

    async def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace many delivery records in one write (a digest's marks, a chat's drops)."""
        ...

    async def get_delivery(self, article_id: str, chat: ChatKey) -> Delivery | None:
        """Return the delivery of an article to a chat."""
        ...

    async def pending(self, chat: ChatKey | None = None, *, limit: int | None = None
                ) -> list[Delivery]:
        """Return pending deliveries (of one chat, or of all), oldest first.

        Args:
            chat: Only this chat's (an index range on a database).
            limit: At most this many, the oldest: a chat's sender reads its backlog a page
                at a time, so a chat with thousands waiting costs no more per message.
        """
        ...

    async def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Return which of ``chats`` have a delivery (of any status) of an article."""
        ...

    async def pending_alert_chats(self) -> list[ChatKey]:
        """Return the chats with pending deliveries that don't wait for a daily digest.

        Active instant-alert chats, and inactive or unknown ones (whose pending deliveries
        are to be dropped); never the chats in digest mode, which the digest tick finds.
        """
        ...

    async def put_vote(self, vote: Vote) -> VoteTotals:
        """Set a user's vote on an article durably and return the new totals."""
        ...

    async def get_vote(self, article_id: str, user_id: int) -> int:
        """Return +1, -1 or 0 (no vote)."""
        ...

    async def totals_of(self, article_ids: Iterable[str]) -> dict[str, VoteTotals]:
        """The vote totals of many articles in one call (articles without votes left out)."""
        ...

    async def vote_tallies(self, since: datetime) -> list[tuple[str, tuple[str, ...], VoteTotals]]:
        """``(source, topics, totals)`` of each article ingested since ``since`` with votes."""
        ...

    async def totals(self, article_id: str) -> VoteTotals:
        """Return the vote totals of an article."""
        ...

    async def vote_count(self) -> int:
        """Return how many votes are stored."""
        ...

    async def delivery_counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status: every status, 0 included."""
        ...

    async def get_feed_state(self, url: str) -> FeedState | None:
        """Return the poll state of a feed."""
        ...

    async def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        ...

    async def feed_states(self) -> list[FeedState]:
        """Return the poll state of every known feed."""
        ...

    async def all_chats(self) -> list[Chat]:
        """Every chat and forum thread."""
        ...

    async def all_deliveries(self) -> list[Delivery]:
        """Every delivery record, whatever its status."""
        ...

    async def all_votes(self) -> list[Vote]:
        """Every vote (``at`` is the article's ingest time where a backend keeps no time)."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes may use the same store at the same time."""
        ...

    async def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``; False while another holds it."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up at once, if ``holder`` has it."""
        ...

    async def lease_holder(self, name: str) -> str | None:
        """The holder of a lease that has not expired, or None."""
        ...

    async def shared_value(self, name: str, candidate: str) -> str:
        """The value every process sees under ``name``; ``candidate`` if none was kept."""
        ...

    def pending_signals(self) -> AsyncIterator[None]:
        """Yield whenever another process may have recorded pending deliveries."""
        ...

    async def try_lock(self, name: str) -> bool:
        """Hold the lock ``name`` until ``unlock`` or this process ends; False if another has it.

        For short exclusive work (sending to one chat). Not re-entrant across processes;
        within one process callers serialise themselves first.
        """
        ...

    async def unlock(self, name: str) -> None:
        """Release a lock taken with ``try_lock``."""
        ...

    async def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` with their votes and deliveries.

        Articles that are still pending for a chat are kept until they have been delivered.
        """
        ...
