"""The storage Protocol every part of newsbot talks to.

Rules every implementation keeps:

* **Records** go in and come out as the frozen dataclasses of ``bot.models``; never raw dicts.
* **Time** is always an aware UTC ``datetime``.
* **Durability**: when a write method returns (or, inside ``batch()``, when the outermost
  ``batch`` block exits) the change survives ``kill -9``. Callers acknowledge a change to a user
  (a vote toast, a "subscribed" reply, a delivery marked sent) only after that point.
* **Atomicity**: a crash at any instant leaves every data file parseable; a write is either in
  or out.
* **Writers**: one process owns a data folder (a second gets ``StorageLockedError``); any
  number of bot processes share a database (``shared`` is True) and divide the work with
  leases. ``subscriptions_version`` then changes with any process's change of who gets what.
* **Errors**: implementation errors are wrapped in ``bot.errors.StorageError`` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
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
    Follower,
    StoredStory,
    Vote,
    VoteTotals,
)


class Repository(Protocol):
    """Chats, subscriptions, articles, deliveries, votes and feed state."""

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
        """Apply the writes of a block at once but make them durable only at ``commit()``.

        Readers see staged writes immediately; a crash before the next commit (or any later
        durable write) loses them. Callers must not act on them outside the process first.
        """
        ...

    def commit(self) -> None:
        """Make every staged write durable (one fsync)."""
        ...

    # chats ---------------------------------------------------------------
    def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        ...

    def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        ...

    def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the chat as stored now, atomically; durable on return.

        Returns the chat as changed, or None when there is no such chat (nothing is written).
        Edits of different fields from different processes at once all hold.
        """
        ...

    def followers(self, topic_ids: Collection[str]) -> list[Follower]:
        """Return a ``Follower`` for each active chat and each of these topics it follows.

        Independent of how many chats are stored: an index scan on a database.
        """
        ...

    def chats_with_own_topics(self) -> list[Chat]:
        """Return the active chats that have keyword topics of their own."""
        ...

    def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Return up to ``limit`` active chats whose daily digest is due at ``now``.

        Most overdue first; "due" is ``schedule_math.digest_due``.
        """
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
        """A number that changes whenever who-gets-what changes (for fan-out caches).

        That is a chat added or removed, or its ``active``, ``topics``, ``languages`` or
        ``own_topics`` changed; not a digest's time stamp, which changes with every digest
        (on a database, rebuilding the follower index after each of those cost the
        3-process soak half of every process's CPU).
        """
        ...

    def threads_of(self, chat_id: int) -> list[Chat]:
        """Return every stored key (thread) of one Telegram chat."""
        ...

    def move_chat(self, old: int, new: int) -> None:
        """Move a chat's records, threads and pending deliveries to a new chat id."""
        ...

    # articles ------------------------------------------------------------
    def add_article(self, article: Article) -> None:
        """Store a new article; its ``keys`` become dedupe keys."""
        ...

    def record_article(self, article: Article, deliveries: Collection[Delivery]) -> int | None:
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
        """Return articles ingested at or after ``since``, oldest first.

        Args:
            since: The earliest ingest time.
            until: Only those ingested at or before this time.
            topic: Only articles of this shipped topic.
            newest: Only the newest this many (still returned oldest first).
        """
        ...

    def stories_stored_after(self, mark: datetime | None
                             ) -> tuple[list[StoredStory], datetime]:
        """Articles stored (by any process) since ``mark``, as stories, and the next mark.

        With ``mark`` None: none, only a first mark. May return a few again (they overlap
        so that none committed late is missed); callers ignore known ids.
        """
        ...

    def article_count(self) -> int:
        """Return how many articles are stored."""
        ...

    def articles_count_since(self, since: datetime) -> int:
        """Return how many articles were ingested at or after ``since``."""
        ...

    # deliveries ----------------------------------------------------------
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
        """Return pending deliveries (of one chat, or of all), oldest first.

        Args:
            chat: Only this chat's (an index range on a database).
            limit: At most this many, the oldest: a chat's sender reads its backlog a page
                at a time, so a chat with thousands waiting costs no more per message.
        """
        ...

    def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Return which of ``chats`` have a delivery (of any status) of an article."""
        ...

    def pending_alert_chats(self) -> list[ChatKey]:
        """Return the chats with pending deliveries that don't wait for a daily digest.

        Active instant-alert chats, and inactive or unknown ones (whose pending deliveries
        are to be dropped); never the chats in digest mode, which the digest tick finds.
        """
        ...

    # votes ---------------------------------------------------------------
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

    def take_write_latencies(self) -> list[float]:
        """Return (and forget) the durations of durable writes since the last call."""
        ...

    # feeds ---------------------------------------------------------------
    def get_feed_state(self, url: str) -> FeedState | None:
        """Return the poll state of a feed."""
        ...

    def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        ...

    def feed_states(self) -> list[FeedState]:
        """Return the poll state of every known feed."""
        ...

    # moving between backends (``newsbot copy-data``) -----------------------
    def all_deliveries(self) -> Iterator[Delivery]:
        """Every delivery record, whatever its status."""
        ...

    def all_votes(self) -> Iterator[Vote]:
        """Every vote (``at`` is the article's ingest time where a backend keeps no time)."""
        ...

    # many processes --------------------------------------------------------
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
        """Hold the lock ``name`` until ``unlock`` or this process ends; False if another has it.

        For short exclusive work (sending to one chat). Not re-entrant across processes;
        within one process callers serialise themselves first.
        """
        ...

    def unlock(self, name: str) -> None:
        """Release a lock taken with ``try_lock``."""
        ...

    # maintenance ---------------------------------------------------------
    def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` with their votes and deliveries.

        Articles that are still pending for a chat are kept until they have been delivered.
        """
        ...
