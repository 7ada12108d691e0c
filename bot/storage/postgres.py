"""The PostgreSQL repository: the only module that imports ``psycopg``.

Why psycopg 3 (and not asyncpg): one driver serves the synchronous store every call runs
on (a worker thread of its own, see ``PostgresRepository``), ``copy-data`` and the leader
lease's thread, and its asynchronous API serves LISTEN/NOTIFY on the event loop; it is
maintained by the PostgreSQL driver's long-time authors, and its binary wheel needs no
compiler. One connection per process: a write is one statement at READ COMMITTED, durable when
its transaction commits (synchronous_commit stays on).

Rules of the Protocol as this backend keeps them (README, Design notes):

* **Durable** when a write method returns, or when the outermost ``batch()`` exits, or at
  ``commit()`` for ``staged()`` writes (they wait in one open transaction: group commit).
* **Atomic**: each ``batch()`` is one transaction; a vote is one upsert plus one count.
* **Errors**: every ``psycopg.Error`` becomes a ``StorageError``; a lost connection is opened
  again on the next call (what was staged and not committed is lost and retried by callers).
* **Many processes, one bot**: every bot process holds a *shared* session advisory lock;
  ``copy-data`` takes it *exclusively*, so it never copies a store a bot is writing and no bot
  starts on a store being copied. Work is divided with leases (``try_lease``), see
  ``bot/roles.py``.
* **Caches** in any process (the keyword matcher) are keyed by ``subscriptions_version`` (who
  gets what), a counter in the database bumped in the same transaction as the change, so a
  change made by another process is seen. Nothing else keeps chats in memory: look-ups go
  by index (``followers``, ``digests_due``, ...).
* **Schema**: numbered migrations in ``MIGRATIONS``, applied at open under a transaction-level
  advisory lock, so several processes may start at once; the version is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from bot.clock import Clock, SystemClock
from bot.errors import StorageError, StorageLockedError
from bot.models import (
    KEYWORD_FOLLOWERS,
    Article,
    Chat,
    ChatEdit,
    ChatKey,
    ChatTally,
    Delivery,
    DeliveryStatus,
    FeedState,
    FollowerGroup,
    StoredStory,
    Vote,
    VoteTotals,
)
from bot.schedule_math import digest_due_at
from bot.storage import codec
from bot.storage.core import CoreRepository, P, T, WriteObserver
from bot.storage.opening import masked

log = logging.getLogger(__name__)
SCHEMA_VERSION = 6
# NOTIFY channel: a transaction that records pending deliveries wakes the leader's sender.
PENDING_CHANNEL = "newsbot_pending"
# Advisory lock keys: arbitrary constants, "newsbot" in ASCII split in two.
MIGRATION_LOCK = 0x6E657773
INSTANCE_LOCK = 0x626F7400
CONNECT_TIMEOUT = 10     # at start-up: a database that is slow to answer still gets a chance
RECONNECT_TIMEOUT = 3    # while running: every call queued behind it waits
STORED_OVERLAP = timedelta(seconds=5)
# The calls run one at a time on the store's thread: a statement waiting for a lock must fail
# (a StorageError the caller retries) rather than hold up every call behind it; a transaction left
# open by a process that hangs must not hold its locks for ever. Keepalives notice a server
# that vanished without closing the connection.
SESSION_OPTIONS = ("-c lock_timeout=5000 -c statement_timeout=30000 "
                   "-c idle_in_transaction_session_timeout=60000")
RECONNECT_PAUSE = 1.0    # after a failed reconnect, calls fail at once for this long

def _chat_row(chat: Chat) -> tuple[Any, ...]:
    """A chat's row: the record, and what indexes find it by (see migrations 4 and 6)."""
    return (chat.key.chat_id, chat.key.thread_id, Jsonb(codec.chat_out(chat)),
            codec.subscriptions_of(chat), chat.active, bool(chat.own_topics),
            digest_due_at(chat))


MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE chats (
        chat_id bigint NOT NULL, thread_id bigint NOT NULL, doc jsonb NOT NULL,
        PRIMARY KEY (chat_id, thread_id));
    CREATE TABLE articles (
        id text PRIMARY KEY, ingested_at timestamptz NOT NULL, doc jsonb NOT NULL);
    CREATE INDEX articles_ingested ON articles (ingested_at);
    CREATE TABLE article_keys (
        key text PRIMARY KEY, article_id text NOT NULL REFERENCES articles ON DELETE CASCADE);
    CREATE INDEX article_keys_article ON article_keys (article_id);
    CREATE TABLE deliveries (
        article_id text NOT NULL REFERENCES articles ON DELETE CASCADE,
        chat_id bigint NOT NULL, thread_id bigint NOT NULL, status text NOT NULL,
        created_at timestamptz NOT NULL, doc jsonb NOT NULL,
        PRIMARY KEY (article_id, chat_id, thread_id));
    CREATE INDEX deliveries_pending ON deliveries (chat_id, thread_id, created_at)
        WHERE status = 'pending';
    CREATE TABLE votes (
        article_id text NOT NULL REFERENCES articles ON DELETE CASCADE,
        user_id bigint NOT NULL, value smallint NOT NULL, at timestamptz NOT NULL,
        PRIMARY KEY (article_id, user_id));
    CREATE TABLE feeds (url text PRIMARY KEY, doc jsonb NOT NULL);
    """,
    # Many processes as one bot: leases divide the work, shared values (the generated webhook
    # secret) are made once, and a counter tells every process's caches that a chat changed.
    2: """
    CREATE TABLE leases (
        name text PRIMARY KEY, holder text NOT NULL, until timestamptz NOT NULL);
    CREATE TABLE shared_values (name text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE chat_changes (
        id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL);
    INSERT INTO chat_changes VALUES (1, 0);
    """,
    # When each article was stored, by the database's clock: other processes' stories are
    # found by it (an article's own ingested_at is taken before its page is fetched).
    3: """
    ALTER TABLE articles ADD COLUMN stored_at timestamptz NOT NULL DEFAULT clock_timestamp();
    CREATE INDEX articles_stored ON articles (stored_at);
    """,
    # Who gets what, apart from every other chat change: fan-out caches are rebuilt only when
    # it changes (each digest stamps its chat; reloading every chat after each cost the
    # 3-process soak half of every process's CPU). ``subs`` is codec.subscriptions_of.
    4: """
    ALTER TABLE chat_changes ADD COLUMN subscriptions bigint NOT NULL DEFAULT 0;
    ALTER TABLE chats ADD COLUMN subs text NOT NULL DEFAULT '';
    """,
    # The delivery queue and retention churn rows all day (insert, mark, prune): with the
    # default 20 % of dead rows before autovacuum, the 3-process soak's database grew 1.3x
    # after its retention window filled. Room on each chat page lets a digest's time stamp
    # be updated in place.
    5: """
    ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02);
    ALTER TABLE articles SET (autovacuum_vacuum_scale_factor = 0.02);
    ALTER TABLE article_keys SET (autovacuum_vacuum_scale_factor = 0.02);
    ALTER TABLE votes SET (autovacuum_vacuum_scale_factor = 0.05);
    ALTER TABLE chats SET (autovacuum_vacuum_scale_factor = 0.02, fillfactor = 80);
    """,
    # A million chats must not be read into memory: fan-out, keyword topics and the digest
    # tick find their chats by index. ``subscriptions`` holds a row per active chat and
    # followed topic (its languages included, so the look-up reads the index alone: a GIN
    # index on the chats' topics took 70 ms for 2,400 followers among a million chats).
    # ``digest_due_at`` is schedule_math.digest_due_at, filled by _after_migration.
    6: """
    ALTER TABLE chats ADD COLUMN active boolean NOT NULL DEFAULT true,
        ADD COLUMN has_own boolean NOT NULL DEFAULT false,
        ADD COLUMN digest_due_at timestamptz;
    UPDATE chats SET active = (doc->>'active')::boolean,
        has_own = jsonb_array_length(doc->'own_topics') > 0;
    CREATE TABLE subscriptions (
        topic_id text NOT NULL, chat_id bigint NOT NULL, thread_id bigint NOT NULL,
        languages text[] NOT NULL,
        PRIMARY KEY (topic_id, chat_id, thread_id) INCLUDE (languages),
        FOREIGN KEY (chat_id, thread_id) REFERENCES chats ON DELETE CASCADE);
    CREATE INDEX subscriptions_chat ON subscriptions (chat_id, thread_id);
    INSERT INTO subscriptions
        SELECT topic, chat_id, thread_id,
               ARRAY(SELECT jsonb_array_elements_text(doc->'languages'))
        FROM chats, jsonb_array_elements_text(doc->'topics') AS topic WHERE active
        ON CONFLICT DO NOTHING;
    ALTER TABLE subscriptions SET (autovacuum_vacuum_scale_factor = 0.02);
    CREATE INDEX chats_own ON chats (chat_id) WHERE active AND has_own;
    CREATE INDEX chats_digest_due ON chats (digest_due_at) WHERE digest_due_at IS NOT NULL;
    """,
}
# How a process holds the instance lock: bots share it, copy-data holds it alone, and the
# doctor (and benchmarks) look without it.
LockMode = Literal["bot", "sole", "none"]


def _problem(exc: psycopg.Error) -> str:
    """One line for a driver error, without the URL (which psycopg may quote)."""
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _delivery_columns(batch: list[Delivery]) -> tuple[list[Any], ...]:
    """The ``deliveries`` table's columns as arrays, for one ``unnest`` insert of a batch."""
    return ([d.article_id for d in batch], [d.chat.chat_id for d in batch],
            [d.chat.thread_id for d in batch], [d.status.value for d in batch],
            [d.created_at for d in batch], [Jsonb(codec.delivery_out(d)) for d in batch])


class PostgresStore:
    """The synchronous store on a PostgreSQL database: one connection, one statement at a time."""

    def __init__(self, url: str, clock: Clock | None = None, *,
                 lock: LockMode = "bot") -> None:
        self.url = url
        self.clock = clock or SystemClock()
        self._lock = lock
        self._conn: psycopg.Connection[Any] | None = None
        self._depth = 0          # open batch() blocks
        self._staging = False    # staged writes wait in the open transaction
        self._retry_at = 0.0     # monotonic time before which no reconnect is tried
        self._connect(first=True)

    # ------------------------------------------------------------------ connection
    def _connect(self, *, first: bool = False) -> psycopg.Connection[Any]:
        if not first and time.monotonic() < self._retry_at:
            # The calls run one at a time: during an outage each would hold up the calls
            # queued behind it for a connection attempt. One attempt a second is enough to
            # notice the database is back.
            raise StorageError(f"the database {masked(self.url)} is unreachable; retrying")
        try:
            conn = psycopg.connect(self.url, application_name="newsbot",
                                   connect_timeout=CONNECT_TIMEOUT if first
                                   else RECONNECT_TIMEOUT, options=SESSION_OPTIONS,
                                   keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                   keepalives_count=3)
        except psycopg.Error as exc:
            self._retry_at = time.monotonic() + RECONNECT_PAUSE
            raise StorageError(f"can't connect to the database {masked(self.url)}: "
                               f"{_problem(exc)}") from None
        try:
            if self._lock != "none":
                how = "pg_try_advisory_lock" if self._lock == "sole" \
                    else "pg_try_advisory_lock_shared"
                got = conn.execute(f"SELECT {how}(%s)", (INSTANCE_LOCK,)).fetchone()
                conn.commit()
                if not got or not got[0]:
                    conn.close()
                    raise StorageLockedError(
                        f"{masked(self.url)}: the database is in use by another newsbot "
                        "process; stop it first" if self._lock == "sole" else
                        f"{masked(self.url)}: the database is being copied by newsbot "
                        "copy-data; start the bot when it has finished")
            if first:
                self._migrate(conn)
        except psycopg.Error as exc:
            conn.close()
            raise StorageError(f"{masked(self.url)}: {_problem(exc)}") from None
        self._conn = conn
        return conn

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS newsbot_schema (version int NOT NULL)")
            row = conn.execute("SELECT max(version) FROM newsbot_schema").fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
            if version > SCHEMA_VERSION:
                raise StorageError(f"{masked(self.url)}: schema {version} is newer than this "
                                   f"newsbot ({SCHEMA_VERSION}); upgrade newsbot")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[number])
                self._after_migration(conn, number)
                conn.execute("INSERT INTO newsbot_schema VALUES (%s)", (number,))
        conn.commit()

    @staticmethod
    def _after_migration(conn: psycopg.Connection[Any], number: int) -> None:
        """The part of a migration SQL can't do: values only our Python computes."""
        if number == 6:
            rows = conn.execute("SELECT doc FROM chats WHERE doc->>'mode' = 'digest'").fetchall()
            conn.cursor().executemany(
                "UPDATE chats SET digest_due_at = %s WHERE chat_id = %s AND thread_id = %s",
                [(digest_due_at(chat), chat.key.chat_id, chat.key.thread_id)
                 for chat in (codec.chat_in(r[0]) for r in rows)])

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        row = self._query("SELECT max(version) FROM newsbot_schema")
        return int(row[0][0]) if row and row[0][0] is not None else 0

    def _conn_or_connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            if self._depth or self._staging:
                # The transaction these writes belonged to is gone with the connection.
                self._staging = False
                raise StorageError("the database connection was lost during a transaction")
            return self._connect()
        return self._conn

    def _run(self, sql: str, params: tuple[Any, ...] | list[Any] = (), *,
             many: list[tuple[Any, ...]] | None = None,
             binary: bool = False) -> list[tuple[Any, ...]]:
        conn = self._conn_or_connect()
        try:
            with conn.cursor(binary=binary) as cur:
                if many is not None:
                    cur.executemany(sql, many)
                    return []
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.Error as exc:
            self._fail(conn)
            raise StorageError(f"database error: {_problem(exc)}") from None

    def _fail(self, conn: psycopg.Connection[Any]) -> None:
        """After an error the transaction is void: roll back, or drop a dead connection."""
        self._staging = False
        try:
            conn.rollback()
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                conn.close()
            self._conn = None

    def _query(self, sql: str, params: tuple[Any, ...] = (), *,
               binary: bool = False) -> list[tuple[Any, ...]]:
        """Run a read: inside a batch, in its transaction; alone, as one statement.

        ``binary`` asks for results in binary form, which spares parsing text for large
        integer arrays (the follower look-up).
        """
        if self._depth or self._staging:
            return self._run(sql, params, binary=binary)
        conn = self._conn_or_connect()
        if conn.info.transaction_status != TransactionStatus.IDLE:
            # Not expected (every write commits or rolls back), but the driver refuses the
            # flag inside a transaction: read in it and end it, as a read always did.
            rows = self._run(sql, params, binary=binary)
            self._end_read()
            return rows
        # A read on its own needs no transaction block: in autocommit mode it is one round
        # trip, where BEGIN, the statement and COMMIT are three (and an idle open
        # transaction would hold its locks and block migrations). The flag is local to
        # the driver; setting it sends nothing.
        conn.autocommit = True
        try:
            return self._run(sql, params, binary=binary)
        finally:
            if self._conn is conn and not conn.closed:
                conn.autocommit = False

    def _end_read(self) -> None:
        # Outside a batch a read ends its transaction at once: an idle open transaction
        # would hold its locks (and block migrations) until the next write.
        if not self._depth and not self._staging and self._conn is not None:
            try:
                self._conn.commit()
            except psycopg.Error as exc:
                self._fail(self._conn)
                raise StorageError(f"database error: {_problem(exc)}") from None

    def _write(self, sql: str, params: tuple[Any, ...] = (), *,
               many: list[tuple[Any, ...]] | None = None) -> list[tuple[Any, ...]]:
        rows = self._run(sql, params, many=many)
        if not self._depth and not self._staging:
            self._commit_now()
        return rows

    def _commit_now(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.commit()
        except psycopg.Error as exc:
            self._fail(conn)
            raise StorageError(f"database commit failed: {_problem(exc)}") from None

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        """Commit what is staged and close the connection (the instance lock goes with it)."""
        if self._conn is None:
            return
        try:
            if self._staging:
                self._staging = False
                self._commit_now()
        finally:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def checkpoint(self) -> None:
        """Nothing to fold: PostgreSQL checkpoints itself."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for the block; durable when the outermost block exits."""
        self._depth += 1
        ok = False
        try:
            yield
            ok = True
        finally:
            self._depth -= 1
            if not self._depth:
                if ok:
                    self._staging = False
                    self._commit_now()
                elif self._conn is not None:
                    self._fail(self._conn)

    @contextlib.contextmanager
    def staged(self) -> Iterator[None]:
        """Writes of the block join the open transaction; ``commit()`` makes them durable."""
        self._staging = True
        yield

    def commit(self) -> None:
        """Commit the open transaction (group commit of staged writes)."""
        if self._depth:
            return
        self._staging = False
        self._commit_now()

    # ------------------------------------------------------------------ chats
    def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        rows = self._query("SELECT doc FROM chats WHERE chat_id = %s AND thread_id = %s",
                           (key.chat_id, key.thread_id))
        return codec.chat_in(rows[0][0]) if rows else None

    def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        subs = codec.subscriptions_of(chat)
        with self.batch():
            # The CTE reads the row as it was before this statement: NULL for a new chat.
            rows = self._write(
                "WITH before AS (SELECT subs FROM chats WHERE chat_id = %s AND thread_id = %s) "
                "INSERT INTO chats (chat_id, thread_id, doc, subs, active, has_own, "
                "digest_due_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET doc = EXCLUDED.doc, "
                "subs = EXCLUDED.subs, active = EXCLUDED.active, has_own = EXCLUDED.has_own, "
                "digest_due_at = EXCLUDED.digest_due_at RETURNING (SELECT subs FROM before)",
                (chat.key.chat_id, chat.key.thread_id, *_chat_row(chat)))
            changed = not rows or rows[0][0] != subs
            if changed:
                self._write_subscriptions(chat)
            self._chat_changed(subscriptions=changed)

    def _write_subscriptions(self, chat: Chat) -> None:
        """A chat's rows in ``subscriptions``: one per followed topic while it is active."""
        self._write("DELETE FROM subscriptions WHERE chat_id = %s AND thread_id = %s",
                    (chat.key.chat_id, chat.key.thread_id))
        if chat.active and chat.topics:
            self._write("INSERT INTO subscriptions SELECT topic, %s, %s, %s "
                        "FROM unnest(%s::text[]) AS topic",
                        (chat.key.chat_id, chat.key.thread_id, list(chat.languages),
                         sorted(chat.topics)))

    def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the stored chat in one transaction; durable on return.

        The row is locked (FOR UPDATE) from the read to the commit, so another process's edit
        of the same chat waits and then applies to this one's result.
        """
        with self.batch():
            rows = self._write("SELECT doc FROM chats WHERE chat_id = %s AND thread_id = %s "
                               "FOR UPDATE", (key.chat_id, key.thread_id))
            if not rows:
                return None
            changed = edit.apply(codec.chat_in(rows[0][0]))
            self.put_chat(changed)
        return changed

    def _chat_changed(self, *, subscriptions: bool = True) -> None:
        # In the transaction of the change: a reader that sees the new number sees the change.
        self._write("UPDATE chat_changes SET version = version + 1, subscriptions = "
                    "subscriptions + %s WHERE id = 1", (1 if subscriptions else 0,))

    def followers(self, topic_ids: Collection[str]) -> list[FollowerGroup]:
        """Return the active chats that follow these topics, grouped by topic and language filter.

        One index-only scan of ``subscriptions``, grouped in the database: a few rows of two
        id arrays rather than a few thousand rows (at a few thousand followers an article,
        per-row work in the driver is what costs), read in binary (parsing the arrays as text
        took a third of the query's time).
        """
        wanted = list(topic_ids)
        if not wanted:
            return []
        rows = self._query("SELECT topic_id, languages, array_agg(chat_id), "
                           "array_agg(thread_id) FROM subscriptions WHERE topic_id = ANY(%s) "
                           "GROUP BY topic_id, languages", (wanted,), binary=True)
        return [FollowerGroup(topic_id, tuple(languages or ()),
                              tuple(map(ChatKey, chat_ids, thread_ids)))
                for topic_id, languages, chat_ids, thread_ids in rows]

    def chats_with_own_topics(self) -> list[Chat]:
        """Return the active chats that have keyword topics of their own."""
        rows = self._query("SELECT doc FROM chats WHERE active AND has_own")
        return [codec.chat_in(r[0]) for r in rows]

    def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Return up to ``limit`` active chats whose daily digest is due, most overdue first."""
        rows = self._query("SELECT doc FROM chats WHERE digest_due_at <= %s "
                           "ORDER BY digest_due_at LIMIT %s", (now, limit))
        return [codec.chat_in(r[0]) for r in rows]

    def oldest_pending(self, limit: int) -> list[tuple[ChatKey, datetime]]:
        """Return the chats with pending deliveries, oldest waiting first, with that time."""
        rows = self._query("SELECT chat_id, thread_id, min(created_at) AS oldest "
                           "FROM deliveries WHERE status = 'pending' "
                           "GROUP BY chat_id, thread_id ORDER BY oldest LIMIT %s", (limit,))
        return [(ChatKey(int(r[0]), int(r[1])), r[2]) for r in rows]

    def chat_tally(self) -> ChatTally:
        """Count chats by type, activity and followed topic (for /stats), in the database."""
        by_type: dict[str, int] = {}
        inactive = 0
        for kind, active, count in self._query(
                "SELECT doc->>'type', active, count(*) FROM chats GROUP BY 1, 2"):
            if active:
                by_type[str(kind)] = int(count)
            else:
                inactive += int(count)
        followers = {str(r[0]): int(r[1]) for r in self._query(
            "SELECT topic_id, count(*) FROM subscriptions GROUP BY topic_id")}
        keywords = int(self._query("SELECT count(*) FROM chats WHERE active AND has_own")[0][0])
        if keywords:
            followers[KEYWORD_FOLLOWERS] = keywords
        return ChatTally(by_type, inactive, followers)

    def chats(self) -> Iterator[Chat]:
        """Iterate over all chats."""
        rows = self._query("SELECT doc FROM chats ORDER BY chat_id, thread_id")
        return iter([codec.chat_in(r[0]) for r in rows])

    @property
    def subscriptions_version(self) -> int:
        """Changes whenever any process adds or removes a chat or changes its subscriptions."""
        return int(self._query("SELECT subscriptions FROM chat_changes WHERE id = 1")[0][0])

    def threads_of(self, chat_id: int) -> list[Chat]:
        """Return every stored key (thread) of one Telegram chat."""
        rows = self._query("SELECT doc FROM chats WHERE chat_id = %s ORDER BY thread_id",
                           (chat_id,))
        return [codec.chat_in(r[0]) for r in rows]

    def move_chat(self, old: int, new: int) -> None:
        """Move a chat's threads, settings and pending deliveries to a new chat id."""
        with self.batch():
            for chat in self.threads_of(old):
                new_key = ChatKey(new, chat.key.thread_id)
                moved_chat = replace(chat, key=new_key)
                if self._write("INSERT INTO chats (chat_id, thread_id, doc, subs, active, "
                               "has_own, digest_due_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                               "ON CONFLICT DO NOTHING RETURNING 1", _chat_row(moved_chat)):
                    self._write_subscriptions(moved_chat)
                for d in self.pending(chat.key):
                    moved = replace(d, chat=new_key)
                    self._write("DELETE FROM deliveries WHERE article_id = %s AND chat_id = %s "
                                "AND thread_id = %s",
                                (d.article_id, old, chat.key.thread_id))
                    self.add_deliveries([moved])
            self._write("DELETE FROM chats WHERE chat_id = %s", (old,))
            self._chat_changed()

    # ------------------------------------------------------------------ articles
    def add_article(self, article: Article) -> None:
        """Store (or update) an article; its ``keys`` become dedupe keys."""
        with self.batch():
            self._write("INSERT INTO articles VALUES (%s, %s, %s) ON CONFLICT (id) "
                        "DO UPDATE SET doc = EXCLUDED.doc",
                        (article.id, article.ingested_at, Jsonb(codec.article_out(article))))
            if article.keys:
                self._write("INSERT INTO article_keys VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            many=[(key, article.id) for key in article.keys])

    def record_article(self, article: Article, deliveries: Collection[Delivery]) -> int | None:
        """Store a new article and its deliveries in one transaction (see the Protocol).

        Claimed by the inserts themselves: a second transaction inserting a key waits for
        the first to commit and then finds it taken (``ON CONFLICT DO NOTHING`` returns no
        row), so two processes never both store one story. Keys go in sorted, so two such
        transactions can't wait for each other in a cycle.
        """
        with self.batch():
            if not self._claim_article(article):
                return None
            if article.cluster_id:
                # In place: a read and a rewrite of the first article would lose another
                # process's outlet added in between.
                self._write(
                    "UPDATE articles SET doc = jsonb_set(doc, '{also}', COALESCE(doc->'also', "
                    "'[]'::jsonb) || to_jsonb(%s::text)) WHERE id = %s AND doc->>'source' <> %s "
                    "AND NOT COALESCE(doc->'also', '[]'::jsonb) ? %s",
                    (article.source, article.cluster_id, article.source, article.source))
            return self.add_deliveries(deliveries)

    def _claim_article(self, article: Article) -> bool:
        """Insert an article and its keys unless one is taken; inside the caller's batch."""
        if not self._write(
                "INSERT INTO articles VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING "
                "RETURNING id",
                (article.id, article.ingested_at, Jsonb(codec.article_out(article)))):
            return False
        keys = sorted(set(article.keys))
        taken = self._write(
            "INSERT INTO article_keys SELECT key, %s FROM unnest(%s::text[]) AS key "
            "ON CONFLICT DO NOTHING RETURNING key", (article.id, keys))
        if len(taken) < len(keys):
            # Another article owns one: take this one back (its keys go with it).
            self._write("DELETE FROM articles WHERE id = %s", (article.id,))
            return False
        return True

    def get_article(self, article_id: str) -> Article | None:
        """Return an article by id."""
        rows = self._query("SELECT doc FROM articles WHERE id = %s", (article_id,))
        return codec.article_in(rows[0][0]) if rows else None

    def article_for_key(self, key: str) -> str | None:
        """Return the id of the article that owns a dedupe key."""
        rows = self._query("SELECT article_id FROM article_keys WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def keys_known(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys belong to a stored article (one statement)."""
        wanted = list(keys)
        if not wanted:
            return set()
        rows = self._query("SELECT key FROM article_keys WHERE key = ANY(%s)", (wanted,))
        return {str(r[0]) for r in rows}

    def articles_since(self, since: datetime, *, until: datetime | None = None,
                       topic: str | None = None, newest: int | None = None) -> list[Article]:
        """Return articles ingested at or after ``since``, oldest first."""
        rows = self._query(
            "SELECT doc FROM (SELECT doc, ingested_at, id FROM articles WHERE ingested_at >= %s "
            "AND (%s::timestamptz IS NULL OR ingested_at <= %s) "
            "AND (%s::text IS NULL OR doc->'topics' ? %s::text) "
            "ORDER BY ingested_at DESC, id DESC LIMIT %s) newest ORDER BY ingested_at, id",
            (since, until, until, topic, topic, newest))
        return [codec.article_in(r[0]) for r in rows]

    def articles_count_since(self, since: datetime) -> int:
        """Return how many articles were ingested at or after ``since``."""
        return int(self._query("SELECT count(*) FROM articles WHERE ingested_at >= %s",
                               (since,))[0][0])

    def stories_stored_after(self, mark: datetime | None
                             ) -> tuple[list[StoredStory], datetime]:
        """Articles stored since ``mark`` as stories, and the database's time as the next mark.

        ``STORED_OVERLAP`` before the mark is read again: a transaction commits a moment
        after its row's time. Only the fields clustering uses leave the database: reading
        whole documents each second (the overlap included) was most of what a second ingest
        process added to the database's work.
        """
        now = self._query("SELECT clock_timestamp()")[0][0]
        if mark is None:
            return [], now
        rows = self._query(
            "SELECT id, COALESCE(doc->>'cluster', id), doc->>'title', COALESCE(NULLIF("
            "doc->>'lead', ''), (SELECT string_agg(s, ' ' ORDER BY n) FROM "
            "jsonb_array_elements_text(doc->'summary') WITH ORDINALITY AS t(s, n)), ''), "
            "doc->>'url', ingested_at FROM articles WHERE stored_at > %s "
            "ORDER BY stored_at, id", (mark - STORED_OVERLAP,))
        return [StoredStory(*row) for row in rows], now

    def article_count(self) -> int:
        """Return how many articles are stored."""
        return int(self._query("SELECT count(*) FROM articles")[0][0])

    # ------------------------------------------------------------------ deliveries
    def add_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        """Record new pending deliveries; existing (article, chat) pairs are kept."""
        batch = list(deliveries)
        if not batch:
            return 0
        with self.batch():
            # One statement for the whole fan-out (10,000 chats: one round trip, not 10,000).
            rows = self._write(
                "INSERT INTO deliveries SELECT * FROM unnest(%s::text[], %s::bigint[], "
                "%s::bigint[], %s::text[], %s::timestamptz[], %s::jsonb[]) "
                "ON CONFLICT DO NOTHING RETURNING 1", _delivery_columns(batch))
            added = len(rows)
            if added:
                # Delivered when this transaction commits, to every listening process.
                self._write("SELECT pg_notify(%s, '')", (PENDING_CHANNEL,))
        return added

    def put_delivery(self, delivery: Delivery) -> None:
        """Replace a delivery record (e.g. mark it sent)."""
        d = delivery
        self._write("INSERT INTO deliveries VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (article_id, chat_id, thread_id) DO UPDATE SET "
                    "status = EXCLUDED.status, doc = EXCLUDED.doc",
                    (d.article_id, d.chat.chat_id, d.chat.thread_id, d.status.value,
                     d.created_at, Jsonb(codec.delivery_out(d))))

    def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace many delivery records: one statement, one commit."""
        batch = list(deliveries)
        if not batch:
            return
        self._write(
            "INSERT INTO deliveries SELECT * FROM unnest(%s::text[], %s::bigint[], "
            "%s::bigint[], %s::text[], %s::timestamptz[], %s::jsonb[]) "
            "ON CONFLICT (article_id, chat_id, thread_id) DO UPDATE SET "
            "status = EXCLUDED.status, doc = EXCLUDED.doc", _delivery_columns(batch))

    def get_delivery(self, article_id: str, chat: ChatKey) -> Delivery | None:
        """Return the delivery of an article to a chat."""
        rows = self._query("SELECT doc FROM deliveries WHERE article_id = %s AND chat_id = %s "
                           "AND thread_id = %s", (article_id, chat.chat_id, chat.thread_id))
        return codec.delivery_in(rows[0][0]) if rows else None

    def pending(self, chat: ChatKey | None = None, *, limit: int | None = None
                ) -> list[Delivery]:
        """Return pending deliveries (of one chat, or of all), oldest first."""
        # LIMIT NULL is no limit.
        if chat is None:
            rows = self._query("SELECT doc FROM deliveries WHERE status = 'pending' "
                               "ORDER BY created_at, article_id LIMIT %s", (limit,))
        else:
            rows = self._query("SELECT doc FROM deliveries WHERE status = 'pending' AND "
                               "chat_id = %s AND thread_id = %s ORDER BY created_at, article_id "
                               "LIMIT %s", (chat.chat_id, chat.thread_id, limit))
        return [codec.delivery_in(r[0]) for r in rows]

    def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Return which of ``chats`` have a delivery of an article (one index range)."""
        if not chats:
            return set()
        rows = self._query("SELECT chat_id, thread_id FROM deliveries WHERE article_id = %s",
                           (article_id,))
        wanted = set(chats)
        return {key for r in rows if (key := ChatKey(r[0], r[1])) in wanted}

    def pending_alert_chats(self) -> list[ChatKey]:
        """Return the chats with pending deliveries that don't wait for a daily digest."""
        # digest_due_at is NULL exactly for instant-alert and inactive chats; a missing
        # chat joins as NULL too.
        rows = self._query("SELECT DISTINCT d.chat_id, d.thread_id FROM deliveries d "
                           "LEFT JOIN chats c ON c.chat_id = d.chat_id AND "
                           "c.thread_id = d.thread_id WHERE d.status = 'pending' AND "
                           "c.digest_due_at IS NULL")
        return [ChatKey(int(r[0]), int(r[1])) for r in rows]

    def delivery_counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status."""
        rows = self._query("SELECT status, count(*) FROM deliveries GROUP BY status")
        counts = {s.value: 0 for s in DeliveryStatus}
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts

    # ------------------------------------------------------------------ votes
    def put_vote(self, vote: Vote) -> VoteTotals:
        """Set a user's vote on an article durably and return the new totals."""
        with self.batch():
            self._write("INSERT INTO votes VALUES (%s, %s, %s, %s) ON CONFLICT "
                        "(article_id, user_id) DO UPDATE SET value = EXCLUDED.value, "
                        "at = EXCLUDED.at", (vote.article_id, vote.user_id, vote.value,
                                             vote.at))
            return self._totals(vote.article_id)

    def all_deliveries(self) -> Iterator[Delivery]:
        """Every delivery record, whatever its status."""
        rows = self._query("SELECT doc FROM deliveries ORDER BY created_at, article_id")
        return iter([codec.delivery_in(r[0]) for r in rows])

    def all_votes(self) -> Iterator[Vote]:
        """Every vote."""
        rows = self._query("SELECT article_id, user_id, value, at FROM votes "
                           "ORDER BY article_id, user_id")
        return iter([Vote(str(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows])

    def get_vote(self, article_id: str, user_id: int) -> int:
        """Return +1, -1 or 0 (no vote)."""
        rows = self._query("SELECT value FROM votes WHERE article_id = %s AND user_id = %s",
                           (article_id, user_id))
        return int(rows[0][0]) if rows else 0

    def _totals(self, article_id: str) -> VoteTotals:
        rows = self._run("SELECT count(*) FILTER (WHERE value > 0), count(*) FILTER "
                         "(WHERE value < 0) FROM votes WHERE article_id = %s", (article_id,))
        return VoteTotals(int(rows[0][0]), int(rows[0][1]))

    def totals_of(self, article_ids: Iterable[str]) -> dict[str, VoteTotals]:
        """The vote totals of many articles in one statement."""
        wanted = list(article_ids)
        if not wanted:
            return {}
        rows = self._query("SELECT article_id, count(*) FILTER (WHERE value > 0), count(*) "
                           "FILTER (WHERE value < 0) FROM votes WHERE article_id = ANY(%s) "
                           "GROUP BY article_id", (wanted,))
        return {str(r[0]): VoteTotals(int(r[1]), int(r[2])) for r in rows}

    def vote_tallies(self, since: datetime) -> list[tuple[str, tuple[str, ...], VoteTotals]]:
        """``(source, topics, totals)`` of each article ingested since ``since`` with votes."""
        rows = self._query(
            "SELECT a.doc->>'source', a.doc->'topics', v.yes, v.no FROM (SELECT article_id, "
            "count(*) FILTER (WHERE value > 0) AS yes, count(*) FILTER (WHERE value < 0) AS no "
            "FROM votes GROUP BY article_id) v JOIN articles a ON a.id = v.article_id "
            "WHERE a.ingested_at >= %s", (since,))
        return [(str(r[0]), tuple(r[1] or ()), VoteTotals(int(r[2]), int(r[3]))) for r in rows]

    def totals(self, article_id: str) -> VoteTotals:
        """Return the vote totals of an article."""
        totals = self._totals(article_id)
        self._end_read()
        return totals

    def vote_count(self) -> int:
        """Return how many votes are stored."""
        return int(self._query("SELECT count(*) FROM votes")[0][0])

    def get_feed_state(self, url: str) -> FeedState | None:
        """Return the poll state of a feed."""
        rows = self._query("SELECT doc FROM feeds WHERE url = %s", (url,))
        return codec.feed_in(rows[0][0]) if rows else None

    def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        self._write("INSERT INTO feeds VALUES (%s, %s) ON CONFLICT (url) DO UPDATE SET "
                    "doc = EXCLUDED.doc", (state.url, Jsonb(codec.feed_out(state))))

    def feed_states(self) -> list[FeedState]:
        """Return the poll state of every known feed."""
        return [codec.feed_in(r[0]) for r in self._query("SELECT doc FROM feeds ORDER BY url")]

    # ------------------------------------------------------------------ many processes
    @property
    def shared(self) -> bool:
        """Other processes may use this database at the same time."""
        return True

    def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``; False while another holds it.

        The database's clock decides expiry, so the machines' clocks need not agree.
        """
        rows = self._write(
            "INSERT INTO leases VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until "
            "WHERE leases.holder = EXCLUDED.holder OR leases.until < clock_timestamp() "
            "RETURNING 1", (name, holder, float(seconds)))
        return bool(rows)

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (if ``holder`` has it), so another may take it."""
        self._write("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease now (None when nobody, or it expired)."""
        rows = self._query("SELECT holder FROM leases WHERE name = %s AND "
                           "until >= clock_timestamp()", (name,))
        return str(rows[0][0]) if rows else None

    def shared_value(self, name: str, candidate: str) -> str:
        """The value kept under ``name``; ``candidate`` is kept first when there is none."""
        with self.batch():
            self._write("INSERT INTO shared_values VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (name, candidate))
            rows = self._run("SELECT value FROM shared_values WHERE name = %s", (name,))
        return str(rows[0][0])

    async def pending_signals(self) -> AsyncIterator[None]:
        """Yield whenever any process has committed new pending deliveries (LISTEN/NOTIFY).

        On a connection of its own (asynchronous, so waiting costs the event loop nothing).
        It yields once after each (re)connection too, as notifications sent while it was
        away are lost; a lost connection is opened again a second later, for ever.
        """
        warned = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, application_name="newsbot-listen", autocommit=True,
                    connect_timeout=RECONNECT_TIMEOUT)
                async with conn:
                    await conn.execute(f"LISTEN {PENDING_CHANNEL}")
                    warned = False
                    yield None
                    async for _notice in conn.notifies():
                        yield None
            except psycopg.Error as exc:
                if not warned:
                    log.warning("not listening for new deliveries; retrying",
                                extra={"error": _problem(exc)})
                    warned = True
            await asyncio.sleep(RECONNECT_PAUSE)

    def try_lock(self, name: str) -> bool:
        """A session advisory lock: no write, gone with the process (or its connection)."""
        rows = self._query("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,))
        return bool(rows[0][0])

    def unlock(self, name: str) -> None:
        """Release a ``try_lock`` lock."""
        self._query("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))

    # ------------------------------------------------------------------ maintenance
    def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` with their votes and deliveries.

        An article still pending for some chat is kept until it has gone out.
        """
        rows = self._write(
            "DELETE FROM articles a WHERE a.ingested_at < %s AND NOT EXISTS (SELECT 1 FROM "
            "deliveries d WHERE d.article_id = a.id AND d.status = 'pending') RETURNING 1",
            (before,))
        return len(rows)



class PostgresRepository(CoreRepository):
    """The ``Repository`` on a PostgreSQL database.

    Every call runs on one worker thread that owns the connection: the event loop awaits the
    round trip instead of stopping for it (a 10,000-chat fan-out's look-ups held a
    synchronous loop for seconds), and the calls still reach the server one at a time, each
    its own transaction, as the Protocol's "one call, one step" asks. A call whose caller is
    cancelled still finishes on the thread, like a write that reached the server just before
    a crash.
    """

    def __init__(self, url: str, clock: Clock | None = None, *, lock: LockMode = "bot",
                 on_write: WriteObserver | None = None) -> None:
        self.store = PostgresStore(url, clock, lock=lock)
        super().__init__(self.store, on_write)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="newsbot-db")
        self._closed = False

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Commit, close the connection (the instance lock goes with it), end the thread."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._call(self.store.close)
        finally:
            self._thread.shutdown(wait=False)
