"""The TinyDB repository: the only module that imports ``tinydb``.

Layout of the data folder (see the README's Design notes for the why):

* ``meta.json``: schema version.
* ``journal.jsonl``: every change since the last checkpoint, one JSON line each, appended and
  fsynced before a write returns. This is what makes a write durable in O(1).
* partition files, each a TinyDB database with one table ``records``:
  ``chats.json``, ``feeds.json``, ``articles-YYYYMMDD.json``, ``deliveries-YYYYMMDD.json`` and
  ``votes-YYYYMM-BB.json`` (article month, 16 hash buckets). A checkpoint rewrites only the
  partitions that changed, atomically (temp file, fsync, ``os.replace``, directory fsync), and
  keeps the previous generation as ``*.prev`` for ``newsbot doctor --repair``.
* ``newsbot.lock``: held with ``flock`` while a process owns the folder.

All records also live in memory with indexes, so reads never touch the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import time
import zlib
from array import array
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from bot.clock import Clock, SystemClock
from bot.errors import StorageCorruptError, StorageError, StorageLockedError
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
from bot.storage.core import CoreRepository, WriteObserver

log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
TABLE = "records"
VOTE_BUCKETS = 16
JOURNAL = "journal.jsonl"
CHECKPOINT_EVERY = 20_000


# User ids, votes and chat titles are private: the folder and every file in it are for the
# bot's own user only, whatever the umask of whoever started it.
FOLDER_MODE = 0o700
FILE_MODE = 0o600
# Every way a record of the wrong shape fails to decode: missing keys, wrong types, values
# out of range (an int too large for a datetime), a string where an object was expected.
DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError)


def open_private(path: Path, mode: str) -> Any:
    """Open a data file created (or re-moded) readable by the owner only.

    Args:
        path: The file.
        mode: ``"wb"``, ``"ab"`` or ``"a+"``.

    Returns:
        The open file object.
    """
    flags = {"wb": os.O_WRONLY | os.O_TRUNC, "ab": os.O_WRONLY | os.O_APPEND,
             "a+": os.O_RDWR | os.O_APPEND}[mode]
    fd = os.open(path, os.O_CREAT | flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, mode)


def fsync_dir(folder: Path) -> None:
    """Make a rename or creation in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: bytes, *, keep_previous: bool = True) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves the old or the new file.

    Args:
        path: Target file.
        payload: The complete new content.
        keep_previous: Keep the current file as ``<path>.prev`` (one generation).
    """
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    if keep_previous and path.exists():
        prev_tmp = path.with_name(path.name + ".prev.tmp")
        with contextlib.suppress(FileNotFoundError):
            prev_tmp.unlink()
        os.link(path, prev_tmp)
        os.replace(prev_tmp, path.with_name(path.name + ".prev"))
    os.replace(tmp, path)
    fsync_dir(path.parent)


class AtomicJSONStorage(Storage):
    """A TinyDB storage whose every write is atomic and durable (unlike ``JSONStorage``)."""

    def __init__(self, path: str | Path, keep_previous: bool = True) -> None:
        self.path = Path(path)
        self.keep_previous = keep_previous

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Return the whole database, or None for a missing file."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip():
            return None
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the database atomically."""
        atomic_write(self.path, orjson.dumps(data), keep_previous=self.keep_previous)

    def close(self) -> None:
        """Nothing to release: files are opened per operation."""


def _day(when: datetime) -> str:
    utc = when if when.utcoffset() == _ZERO else when.astimezone(UTC)
    return f"{utc.year:04d}{utc.month:02d}{utc.day:02d}"


def _iso_day(iso: str) -> str:
    """``YYYYMMDD`` of a UTC ISO timestamp written by ``codec.dt_out``."""
    return iso[0:4] + iso[5:7] + iso[8:10]


_ZERO = timedelta(0)


def _bucket(article_id: str) -> int:
    return zlib.crc32(article_id.encode()) % VOTE_BUCKETS


Migration = Callable[[Path], None]


def _migrate_1_to_2(folder: Path) -> None:
    """Schema 1 kept a chat's language filter as one space-separated string."""
    path = folder / "chats.json"
    storage = AtomicJSONStorage(path)
    data = storage.read() or {}
    for doc in data.get(TABLE, {}).values():
        langs = doc.get("languages")
        if isinstance(langs, str):
            doc["languages"] = langs.split()
    if data:
        storage.write(data)


def _migrate_2_to_3(folder: Path) -> None:
    """Schema 2 kept votes as a ``{user: value}`` map; 3 keeps Yes and No id lists."""
    for path in folder.glob("votes-*.json"):
        storage = AtomicJSONStorage(path)
        data = storage.read() or {}
        for doc in data.get(TABLE, {}).values():
            users = doc.pop("u", None)
            if users is not None:
                doc["y"] = [int(u) for u, v in users.items() if v > 0]
                doc["n"] = [int(u) for u, v in users.items() if v < 0]
        if data:
            storage.write(data)


MIGRATIONS: dict[int, Migration] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the data folder loads.

    Loading makes millions of objects that all stay (a document, a vote list, an index
    entry each), and every collection on the way walked all those made before it: with 100k
    articles and 1M votes the open took 3.1-4.2 s, and 2.0-2.3 s with the collector paused.
    Nothing loaded is cyclic garbage, so pausing frees nothing later than it would have been.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class TinyDBStore:
    """The synchronous store on TinyDB files plus an fsynced journal (see the module docstring)."""

    def __init__(self, folder: str | Path, clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.clock = clock or SystemClock()
        self._lock_fh: Any = None
        self._journal_fh: Any = None
        self._batch_depth = 0
        self._pending_lines: list[bytes] = []
        self._journal_ops = 0
        self._dirty: set[str] = set()
        self._subscriptions_version = 0
        # (subscriptions version it was built at, topic -> followers), built on demand
        self._followers_index: tuple[int, dict[str, list[FollowerGroup]]] | None = None
        self.flushes = 0  # journal fsyncs so far (tests count them)
        # One process owns the folder, so leases only ever divide work inside it.
        self._leases: dict[str, tuple[str, float]] = {}

        self._chats: dict[ChatKey, Chat] = {}
        self._threads: dict[int, set[ChatKey]] = defaultdict(set)
        self._feeds: dict[str, FeedState] = {}
        # Articles loaded from disk stay as their stored JSON (bytes) until first read: most are
        # never read again, and 100,000 decoded articles would double the time to open and
        # triple the memory.
        self._articles: dict[str, Article | bytes] = {}
        self._article_day: dict[str, str] = {}
        self._day_articles: dict[str, set[str]] = defaultdict(set)
        self._keys: dict[str, str] = {}
        self._deliveries: dict[tuple[str, ChatKey], Delivery] = {}
        self._deliveries_by_article: dict[str, set[ChatKey]] = defaultdict(set)
        self._pending: dict[ChatKey, dict[str, Delivery]] = defaultdict(dict)
        # Per article: the user ids that voted Yes and No, as 8-byte arrays (a million votes
        # in ~16 MB instead of ~100 MB of dict entries); totals are their lengths.
        self._votes: dict[str, tuple[array[int], array[int]]] = {}
        self._open()

    # ------------------------------------------------------------------ open / close
    def _open(self) -> None:
        try:
            self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            self.folder.chmod(FOLDER_MODE)
        except OSError as exc:
            raise StorageError(f"{self.folder}: can't create data folder: {exc.strerror}") from exc
        if not os.access(self.folder, os.W_OK):
            raise StorageError(f"{self.folder}: data folder is not writable")
        lock_path = self.folder / "newsbot.lock"
        fh = open_private(lock_path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "?"
            fh.close()
            raise StorageLockedError(
                f"{self.folder}: data folder is in use by another newsbot process "
                f"(pid {owner}); stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh
        try:
            self._check_schema()
            with _collector_paused():
                self._load_partitions()
                self._replay_journal()
            if self._journal_fh is None:
                self._journal_fh = open_private(self.folder / JOURNAL, "ab")
            self._tighten_modes()
        except BaseException:
            if self._journal_fh is not None:
                self._journal_fh.close()
                self._journal_fh = None
            self._release_lock()
            raise

    def _tighten_modes(self) -> None:
        """Make files written by older versions (0644) private too."""
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file() and path.stat().st_mode & 0o077:
                    path.chmod(FILE_MODE)

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _check_schema(self) -> None:
        meta_path = self.folder / "meta.json"
        if not meta_path.exists():
            has_data = any(self.folder.glob("*.json"))
            version = 1 if has_data else SCHEMA_VERSION
        else:
            try:
                version = int(json.loads(meta_path.read_text())["schema"])
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageCorruptError(
                    f"{meta_path}: unreadable schema version ({exc}); run "
                    "`newsbot doctor --repair`") from None
        if version > SCHEMA_VERSION:
            raise StorageError(f"{meta_path}: schema {version} is newer than this newsbot "
                               f"({SCHEMA_VERSION}); upgrade newsbot")
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](self.folder)
            version += 1
        atomic_write(meta_path, json.dumps({"schema": SCHEMA_VERSION}).encode(),
                     keep_previous=False)

    def _read_partition(self, path: Path) -> list[dict[str, Any]]:
        try:
            data = AtomicJSONStorage(path).read() or {}
            table = data.get(TABLE, {})
            if not isinstance(table, dict):
                raise ValueError(f"table {TABLE!r} is not an object")
            return list(table.values())
        except (ValueError, UnicodeDecodeError) as exc:
            raise StorageCorruptError(
                f"{path}: data file is corrupt ({exc}); nothing was started over it. "
                "Run `newsbot doctor --repair` to restore the previous generation") from None

    def _load_partitions(self) -> None:
        loaders: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
            ("chats.json", self._load_chat),
            ("feeds.json", self._load_feed),
            ("articles-*.json", self._load_article),
            ("deliveries-*.json", self._load_delivery),
            ("votes-*.json", self._load_votes),
        ]
        for pattern, loader in loaders:
            for path in sorted(self.folder.glob(pattern)):
                for doc in self._read_partition(path):
                    try:
                        loader(doc)
                    except DECODE_ERRORS as exc:
                        raise StorageCorruptError(
                            f"{path}: bad record ({exc!r}); run `newsbot doctor`") from None

    def _load_chat(self, doc: dict[str, Any]) -> None:
        chat = codec.chat_in(doc)
        self._chats[chat.key] = chat
        self._threads[chat.key.chat_id].add(chat.key)

    def _load_feed(self, doc: dict[str, Any]) -> None:
        state = codec.feed_in(doc)
        self._feeds[state.url] = state

    def _load_article(self, doc: dict[str, Any]) -> None:
        article_id = str(doc["id"])
        # A copy: orjson's own buffer is over-allocated, ~8 KB of heap per small document.
        self._articles[article_id] = bytes(memoryview(orjson.dumps(doc)))
        day = _iso_day(str(doc["ingested"]))
        self._article_day[article_id] = day
        self._day_articles[day].add(article_id)
        for key in doc.get("keys", ()):
            self._keys.setdefault(key, article_id)

    def _load_delivery(self, doc: dict[str, Any]) -> None:
        self._index_delivery(codec.delivery_in(doc))

    def _load_votes(self, doc: dict[str, Any]) -> None:
        article_id = str(doc["a"])
        # Yes and No voters as two id lists: compact on disk and loaded at C speed.
        self._votes[article_id] = (array("q", doc["y"]), array("q", doc["n"]))

    def _replay_journal(self) -> None:
        path = self.folder / JOURNAL
        if not path.exists():
            return
        lines = path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                op = orjson.loads(line)
                if not isinstance(op, list) or not op:
                    raise TypeError("a journal line is a non-empty JSON array")
                self._apply(op)
            except DECODE_ERRORS as exc:
                # Only a torn final line (a write cut by a crash, never acknowledged: it has
                # no newline) may fail; any other line that can't be decoded is corruption.
                if number < len(lines):
                    raise StorageCorruptError(
                        f"{path}: line {number} can't be decoded ({type(exc).__name__}: "
                        f"{str(exc)[:120]}); run `newsbot doctor`") from None
                break
        self.checkpoint()

    def close(self) -> None:
        """Checkpoint and release the folder."""
        if self._lock_fh is None:
            return
        try:
            self._flush()
            self.checkpoint()
        finally:
            if self._journal_fh is not None:
                self._journal_fh.close()
                self._journal_fh = None
            self._release_lock()

    # ------------------------------------------------------------------ journal
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes of a block into one fsync at its end."""
        try:
            with self.staged():
                yield
        finally:
            self.commit()

    @contextlib.contextmanager
    def staged(self) -> Iterator[None]:
        """Apply the writes of a block now; they become durable at ``commit()``."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1

    def commit(self) -> None:
        """Make every staged write durable (one fsync), unless inside a batch."""
        if self._batch_depth == 0:
            self._flush()

    def _log(self, op: list[Any]) -> None:
        self._apply(op)
        self._pending_lines.append(orjson.dumps(op) + b"\n")
        if self._batch_depth == 0:
            self._flush()

    def _flush(self) -> None:
        if not self._pending_lines or self._journal_fh is None:
            return
        data = b"".join(self._pending_lines)
        start = self._journal_fh.tell()
        try:
            self._journal_fh.write(data)
            self._journal_fh.flush()
            os.fsync(self._journal_fh.fileno())
        except OSError as exc:
            # Cut any partial line off (a full disk may take half a write), keep the lines in
            # memory: they are retried on the next write, and reads still work meanwhile.
            with contextlib.suppress(OSError):
                self._journal_fh.seek(start)
                self._journal_fh.truncate(start)
            raise StorageError(f"{self.folder / JOURNAL}: write failed: {exc.strerror}") from exc
        self._journal_ops += len(self._pending_lines)
        self._pending_lines.clear()
        self.flushes += 1
        if self._journal_ops >= CHECKPOINT_EVERY:
            try:
                self.checkpoint()
            except StorageError as exc:
                # The write itself is durable in the journal; a failed checkpoint only leaves
                # the journal longer. It is retried by the next write or the checkpoint job,
                # and the caller is told the truth: its write was saved.
                log.warning("checkpoint failed; the journal keeps every write",
                            extra={"error": str(exc)})

    def _apply(self, op: list[Any]) -> None:
        kind = op[0]
        if kind == "c":
            chat = codec.chat_in(op[1])
            before = self._chats.get(chat.key)
            if before is None or codec.subscriptions_of(before) != codec.subscriptions_of(chat):
                self._subscriptions_version += 1
            self._chats[chat.key] = chat
            self._threads[chat.key.chat_id].add(chat.key)
            self._dirty.add("chats")
        elif kind == "cd":
            key = ChatKey.decode(op[1])
            self._subscriptions_version += 1
            self._chats.pop(key, None)
            self._threads[key.chat_id].discard(key)
            if not self._threads[key.chat_id]:
                del self._threads[key.chat_id]
            self._dirty.add("chats")
        elif kind == "f":
            state = codec.feed_in(op[1])
            self._feeds[state.url] = state
            self._dirty.add("feeds")
        elif kind == "a":
            article = codec.article_in(op[1])
            self._index_article(article)
            self._dirty.add(f"articles-{self._article_day[article.id]}")
        elif kind == "d":
            delivery = codec.delivery_in(op[1])
            self._index_delivery(delivery)
            self._dirty.add(self._delivery_partition(delivery.article_id, delivery.created_at))
        elif kind == "dd":
            old = self._deliveries.pop((op[1], ChatKey.decode(op[2])), None)
            if old is not None:
                self._deliveries_by_article[old.article_id].discard(old.chat)
                self._pending[old.chat].pop(old.article_id, None)
                if not self._pending[old.chat]:
                    del self._pending[old.chat]
                self._dirty.add(self._delivery_partition(old.article_id, old.created_at))
        elif kind == "v":
            article_id, user_id, value = str(op[1]), int(op[2]), int(op[3])
            yes, no = self._votes.setdefault(article_id, (array("q"), array("q")))
            for side in (yes, no):
                if user_id in side:
                    side.remove(user_id)
            (yes if value > 0 else no).append(user_id)
            self._dirty.add(self._vote_partition(article_id))
        else:
            raise ValueError(f"unknown journal op {kind!r}")

    def _index_article(self, article: Article) -> None:
        self._articles[article.id] = article
        day = _day(article.ingested_at)
        self._article_day[article.id] = day
        self._day_articles[day].add(article.id)
        for key in article.keys:
            self._keys.setdefault(key, article.id)

    def _index_delivery(self, d: Delivery) -> None:
        self._deliveries[(d.article_id, d.chat)] = d
        self._deliveries_by_article[d.article_id].add(d.chat)
        if d.status is DeliveryStatus.PENDING:
            self._pending[d.chat][d.article_id] = d
        else:
            bucket = self._pending.get(d.chat)
            if bucket is not None:
                bucket.pop(d.article_id, None)
                if not bucket:
                    del self._pending[d.chat]

    def _delivery_partition(self, article_id: str, fallback: datetime) -> str:
        return f"deliveries-{self._article_day.get(article_id) or _day(fallback)}"

    def _vote_partition(self, article_id: str) -> str:
        month = self._article_day.get(article_id, "00000000")[:6]
        return f"votes-{month}-{_bucket(article_id):02d}"

    # ------------------------------------------------------------------ checkpoint
    def _partition_docs(self, name: str) -> list[dict[str, Any]]:
        if name == "chats":
            return [codec.chat_out(c) for c in self._chats.values()]
        if name == "feeds":
            return [codec.feed_out(f) for f in self._feeds.values()]
        kind, _, rest = name.partition("-")
        if kind == "articles":
            return [self._article_doc(a) for a in sorted(self._day_articles.get(rest, ()))]
        if kind == "deliveries":
            return [codec.delivery_out(self._deliveries[(article_id, chat)])
                    for article_id in sorted(self._day_articles.get(rest, ()))
                    for chat in self._deliveries_by_article.get(article_id, ())]
        if kind == "votes":
            month, _, bucket = rest.partition("-")
            ids = [a for day, found in self._day_articles.items() if day.startswith(month)
                   for a in found]
            docs = []
            for a in sorted(ids):
                if a in self._votes and _bucket(a) == int(bucket):
                    yes, no = self._votes[a]
                    docs.append({"a": a, "y": yes.tolist(), "n": no.tolist()})
            return docs
        raise ValueError(name)

    def _article_doc(self, article_id: str) -> dict[str, Any]:
        entry = self._articles[article_id]
        if isinstance(entry, bytes):
            doc: dict[str, Any] = orjson.loads(entry)
            return doc
        return codec.article_out(entry)

    def _still_pending(self, article_id: str) -> bool:
        return any(
            (d := self._deliveries.get((article_id, chat))) is not None
            and d.status is DeliveryStatus.PENDING
            for chat in self._deliveries_by_article.get(article_id, ()))

    def _ids_ingested(self, since: datetime | None = None,
                      before: datetime | None = None) -> list[str]:
        """Ids of articles ingested in [since, before), decoding only the boundary days."""
        lo, hi = codec.dt_out(since) or "", codec.dt_out(before) or "~"
        lo_day, hi_day = _iso_day(lo) if lo else "", _iso_day(hi) if before else "~"
        found: list[str] = []
        for day, ids in self._day_articles.items():
            if lo_day < day < hi_day:
                found.extend(ids)
            elif day in (lo_day, hi_day):
                for article_id in ids:
                    article = self.get_article(article_id)
                    when = codec.dt_out(article.ingested_at) if article else None
                    if when is not None and lo <= when < hi:
                        found.append(article_id)
        return found

    def checkpoint(self) -> None:
        """Write every dirty partition atomically, then empty the journal.

        Raises:
            StorageError: When a file can't be written; nothing acknowledged is lost (the
                journal still holds every write, and the partitions stay dirty).
        """
        if self._lock_fh is None:
            return
        self._flush()
        try:
            self._write_dirty_partitions()
            self._reset_journal()
        except OSError as exc:
            raise StorageError(f"{self.folder}: checkpoint failed: "
                               f"{exc.strerror or exc}") from exc

    def _write_dirty_partitions(self) -> None:
        for name in sorted(self._dirty):
            path = self.folder / f"{name}.json"
            docs = self._partition_docs(name)
            if not docs:
                # Its previous generation goes too: keeping it would hold every pruned day
                # forever (the soak's data folder grew all month until this).
                for gone in (path, path.with_name(path.name + ".prev")):
                    with contextlib.suppress(FileNotFoundError):
                        gone.unlink()
                self._dirty.discard(name)
                continue
            db = TinyDB(path, storage=AtomicJSONStorage)
            try:
                db.storage.write({TABLE: {str(i): doc for i, doc in enumerate(docs, 1)}})
            finally:
                db.close()
            self._dirty.discard(name)

    def _reset_journal(self) -> None:
        # Written to a temp file and renamed: if this fails, the old journal and its handle
        # stay as they were (replaying it over the new partitions is idempotent).
        atomic_write(self.folder / JOURNAL, b"", keep_previous=False)
        fresh = open_private(self.folder / JOURNAL, "ab")
        if self._journal_fh is not None:
            self._journal_fh.close()
        self._journal_fh = fresh
        self._journal_ops = 0

    # ------------------------------------------------------------------ chats
    def get_chat(self, key: ChatKey) -> Chat | None:
        """Return the chat (or forum thread), or None."""
        return self._chats.get(key)

    def put_chat(self, chat: Chat) -> None:
        """Insert or replace a chat durably."""
        self._log(["c", codec.chat_out(chat)])

    def edit_chat(self, key: ChatKey, edit: ChatEdit) -> Chat | None:
        """Apply an update intent to the stored chat; durable on return.

        Atomic as it is: one process owns the folder, and this runs on its event loop.
        """
        stored = self._chats.get(key)
        if stored is None:
            return None
        changed = edit.apply(stored)
        self.put_chat(changed)
        return changed

    def followers(self, topic_ids: Collection[str]) -> list[FollowerGroup]:
        """Return the active chats that follow these topics, by topic and language filter."""
        if self._followers_index is None or self._followers_index[0] != \
                self._subscriptions_version:
            index: dict[str, dict[tuple[str, ...], list[ChatKey]]] = defaultdict(dict)
            for chat in self._chats.values():
                if chat.active:
                    for topic_id in chat.topics:
                        index[topic_id].setdefault(chat.languages, []).append(chat.key)
            self._followers_index = (self._subscriptions_version, {
                topic_id: [FollowerGroup(topic_id, languages, tuple(keys))
                           for languages, keys in groups.items()]
                for topic_id, groups in index.items()})
        return [group for topic_id in dict.fromkeys(topic_ids)
                for group in self._followers_index[1].get(topic_id, ())]

    def chats_with_own_topics(self) -> list[Chat]:
        """Return the active chats that have keyword topics of their own."""
        return [c for c in self._chats.values() if c.active and c.own_topics]

    def digests_due(self, now: datetime, limit: int) -> list[Chat]:
        """Return up to ``limit`` active chats whose daily digest is due, most overdue first."""
        due = [(at, chat) for chat in self._chats.values()
               if (at := digest_due_at(chat)) is not None and at <= now]
        due.sort(key=lambda pair: pair[0])
        return [chat for _at, chat in due[:limit]]

    def oldest_pending(self, limit: int) -> list[tuple[ChatKey, datetime]]:
        """Return the chats with pending deliveries, oldest waiting first, with that time."""
        oldest = [(key, min(d.created_at for d in bucket.values()))
                  for key, bucket in self._pending.items() if bucket]
        oldest.sort(key=lambda pair: pair[1])
        return oldest[:limit]

    def chat_tally(self) -> ChatTally:
        """Count chats by type, activity and followed topic (for /stats)."""
        by_type: dict[str, int] = defaultdict(int)
        followers: dict[str, int] = defaultdict(int)
        inactive = 0
        for chat in self._chats.values():
            if not chat.active:
                inactive += 1
                continue
            by_type[chat.type.value] += 1
            for topic in chat.topics:
                followers[topic] += 1
            if chat.own_topics:
                followers[KEYWORD_FOLLOWERS] += 1
        return ChatTally(dict(by_type), inactive, dict(followers))

    def chats(self) -> Iterator[Chat]:
        """Iterate over all chats."""
        return iter(list(self._chats.values()))

    @property
    def subscriptions_version(self) -> int:
        """Changes when a chat is added or removed or its subscriptions change."""
        return self._subscriptions_version

    def threads_of(self, chat_id: int) -> list[Chat]:
        """Return every stored key (thread) of one Telegram chat."""
        return [self._chats[k] for k in sorted(self._threads.get(chat_id, ()),
                                               key=lambda k: k.thread_id)]

    def move_chat(self, old: int, new: int) -> None:
        """Move a chat's threads, settings and pending deliveries to a new chat id."""
        with self.batch():
            for chat in self.threads_of(old):
                new_key = ChatKey(new, chat.key.thread_id)
                if new_key not in self._chats:
                    self._log(["c", codec.chat_out(replace(chat, key=new_key))])
                self._log(["cd", chat.key.encode()])
                for d in list(self._pending.get(chat.key, {}).values()):
                    self._log(["dd", d.article_id, d.chat.encode()])
                    if (d.article_id, new_key) not in self._deliveries:
                        self._log(["d", codec.delivery_out(replace(d, chat=new_key))])

    # ------------------------------------------------------------------ articles
    def add_article(self, article: Article) -> None:
        """Store a new article; its ``keys`` become dedupe keys."""
        self._log(["a", codec.article_out(article)])

    def record_article(self, article: Article, deliveries: Collection[Delivery]) -> int | None:
        """Store a new article with its deliveries in one commit (see the Protocol).

        One process owns the folder, so the claim is a plain check.
        """
        if article.id in self._articles or any(k in self._keys for k in article.keys):
            return None
        with self.batch():
            self.add_article(article)
            story = self.get_article(article.cluster_id) if article.cluster_id else None
            if story is not None and article.source != story.source \
                    and article.source not in story.also_sources:
                self.add_article(replace(story,
                                         also_sources=(*story.also_sources, article.source)))
            return self.add_deliveries(deliveries)

    def get_article(self, article_id: str) -> Article | None:
        """Return an article by id."""
        entry = self._articles.get(article_id)
        if isinstance(entry, bytes):
            entry = self._articles[article_id] = codec.article_in(orjson.loads(entry))
        return entry

    def article_for_key(self, key: str) -> str | None:
        """Return the id of the article that owns a dedupe key."""
        return self._keys.get(key)

    def stories_stored_after(self, mark: datetime | None
                             ) -> tuple[list[StoredStory], datetime]:
        """Nothing: no other process stores articles in this folder."""
        del mark
        return [], self.clock.now()

    def keys_known(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys belong to a stored article."""
        return {k for k in keys if k in self._keys}

    def articles_since(self, since: datetime, *, until: datetime | None = None,
                       topic: str | None = None, newest: int | None = None) -> list[Article]:
        """Return articles ingested at or after ``since``, oldest first."""
        found = [self.get_article(a) for a in self._ids_ingested(since=since)]
        kept = sorted((a for a in found if a is not None
                       and (topic is None or topic in a.topics)
                       and (until is None or a.ingested_at <= until)),
                      key=lambda a: (a.ingested_at, a.id))
        return kept if newest is None else kept[max(len(kept) - newest, 0):]

    def article_count(self) -> int:
        """Return how many articles are stored."""
        return len(self._articles)

    def articles_count_since(self, since: datetime) -> int:
        """Return how many articles were ingested at or after ``since``."""
        return len(self._ids_ingested(since=since))

    # ------------------------------------------------------------------ deliveries
    def add_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        """Record new pending deliveries; existing (article, chat) pairs are kept."""
        added = 0
        with self.batch():
            for d in deliveries:
                if (d.article_id, d.chat) in self._deliveries:
                    continue
                self._log(["d", codec.delivery_out(d)])
                added += 1
        return added

    def put_delivery(self, delivery: Delivery) -> None:
        """Replace a delivery record (e.g. mark it sent)."""
        self._log(["d", codec.delivery_out(delivery)])

    def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace many delivery records in one commit."""
        with self.batch():
            for d in deliveries:
                self._log(["d", codec.delivery_out(d)])

    def get_delivery(self, article_id: str, chat: ChatKey) -> Delivery | None:
        """Return the delivery of an article to a chat."""
        return self._deliveries.get((article_id, chat))

    def pending(self, chat: ChatKey | None = None, *, limit: int | None = None
                ) -> list[Delivery]:
        """Return pending deliveries (of one chat, or of all), oldest first."""
        if chat is not None:
            found = list(self._pending.get(chat, {}).values())
        else:
            found = [d for bucket in self._pending.values() for d in bucket.values()]
        found.sort(key=lambda d: (d.created_at, d.article_id))
        return found if limit is None else found[:limit]

    def delivered_to(self, article_id: str, chats: Collection[ChatKey]) -> set[ChatKey]:
        """Return which of ``chats`` have a delivery (of any status) of an article."""
        return {key for key in chats if (article_id, key) in self._deliveries}

    def pending_alert_chats(self) -> list[ChatKey]:
        """Return the chats with pending deliveries that don't wait for a daily digest."""
        return [k for k, v in self._pending.items()
                if v and ((chat := self._chats.get(k)) is None or digest_due_at(chat) is None)]

    def delivery_counts(self) -> dict[str, int]:
        """Return how many deliveries are in each status (every status, 0 included)."""
        counts = {status.value: 0 for status in DeliveryStatus}
        for d in self._deliveries.values():
            counts[d.status.value] += 1
        return counts

    # ------------------------------------------------------------------ votes
    def put_vote(self, vote: Vote) -> VoteTotals:
        """Set a user's vote on an article durably and return the new totals."""
        value = 1 if vote.value > 0 else -1
        if self.get_vote(vote.article_id, vote.user_id) != value:
            self._log(["v", vote.article_id, vote.user_id, value])
        return self.totals(vote.article_id)

    def all_deliveries(self) -> Iterator[Delivery]:
        """Every delivery record, whatever its status."""
        return iter(list(self._deliveries.values()))

    def all_votes(self) -> Iterator[Vote]:
        """Every vote; the data files keep no vote times, so ``at`` is the article's."""
        votes: list[Vote] = []
        for article_id, (yes, no) in self._votes.items():
            article = self.get_article(article_id)
            when = article.ingested_at if article is not None else self.clock.now()
            votes += [Vote(article_id, user, 1, when) for user in yes]
            votes += [Vote(article_id, user, -1, when) for user in no]
        return iter(votes)

    def get_vote(self, article_id: str, user_id: int) -> int:
        """Return +1, -1 or 0 (no vote)."""
        sides = self._votes.get(article_id)
        if sides is None:
            return 0
        if user_id in sides[0]:
            return 1
        return -1 if user_id in sides[1] else 0

    def totals_of(self, article_ids: Iterable[str]) -> dict[str, VoteTotals]:
        """The vote totals of many articles."""
        return {i: self.totals(i) for i in article_ids if i in self._votes}

    def vote_tallies(self, since: datetime) -> list[tuple[str, tuple[str, ...], VoteTotals]]:
        """``(source, topics, totals)`` of each article ingested since ``since`` with votes."""
        tallies = []
        for article_id in self._votes:
            article = self.get_article(article_id)
            if article is not None and article.ingested_at >= since:
                tallies.append((article.source, article.topics, self.totals(article_id)))
        return tallies

    def totals(self, article_id: str) -> VoteTotals:
        """Return the vote totals of an article."""
        sides = self._votes.get(article_id)
        return VoteTotals(len(sides[0]), len(sides[1])) if sides else VoteTotals()

    def vote_count(self) -> int:
        """Return how many votes are stored."""
        return sum(len(y) + len(n) for y, n in self._votes.values())

    # ------------------------------------------------------------------ feeds
    def get_feed_state(self, url: str) -> FeedState | None:
        """Return the poll state of a feed."""
        return self._feeds.get(url)

    def put_feed_state(self, state: FeedState) -> None:
        """Store the poll state of a feed."""
        self._log(["f", codec.feed_out(state)])

    def feed_states(self) -> list[FeedState]:
        """Return the poll state of every known feed."""
        return list(self._feeds.values())

    # ------------------------------------------------------------------ many processes
    @property
    def shared(self) -> bool:
        """False: one process owns a data folder (the folder lock)."""
        return False

    def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name``; only this process can ask, so it nearly always may."""
        now = time.monotonic()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] >= now:
            return False
        self._leases[name] = (holder, now + seconds)
        return True

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once."""
        if self._leases.get(name, ("", 0.0))[0] == holder:
            del self._leases[name]

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease now."""
        current = self._leases.get(name)
        return current[0] if current is not None and current[1] >= time.monotonic() else None

    def shared_value(self, name: str, candidate: str) -> str:
        """``candidate``: nothing else can share a data folder's values."""
        del name
        return candidate

    async def pending_signals(self) -> AsyncIterator[None]:
        """Nothing to yield: only this process records deliveries in its folder."""
        return
        yield  # an async generator that ends at once

    def try_lock(self, name: str) -> bool:
        """True: no other process can share the folder."""
        del name
        return True

    def unlock(self, name: str) -> None:
        """Nothing to release."""
        del name

    # ------------------------------------------------------------------ maintenance
    def prune(self, before: datetime) -> int:
        """Drop articles ingested before ``before`` with their votes and deliveries.

        An article still pending for some chat (a digest not yet due, a chat that was down
        longer than the window) is kept until it has gone out: the contract delivers every
        matched article. Whole days are dropped by deleting their partition files.
        """
        old = [a for a in (self.get_article(i) for i in self._ids_ingested(before=before))
               if a is not None and not self._still_pending(a.id)]
        for article in old:
            day = self._article_day.pop(article.id)
            self._day_articles[day].discard(article.id)
            self._dirty.update({f"articles-{day}", f"deliveries-{day}",
                                f"votes-{day[:6]}-{_bucket(article.id):02d}"})
            del self._articles[article.id]
            for key in article.keys:
                if self._keys.get(key) == article.id:
                    del self._keys[key]
            for chat in self._deliveries_by_article.pop(article.id, set()):
                self._deliveries.pop((article.id, chat), None)
                bucket = self._pending.get(chat)
                if bucket is not None:
                    bucket.pop(article.id, None)
                    if not bucket:
                        del self._pending[chat]
            self._votes.pop(article.id, None)
        for day in [d for d, ids in self._day_articles.items() if not ids]:
            del self._day_articles[day]
        if old:
            self.checkpoint()
        return len(old)


class TinyDBRepository(CoreRepository):
    """The ``Repository`` on a data folder.

    Calls run on the event loop: reads are dict look-ups, and a write is one journal append
    and fsync. Delivery marks are the exception that matters: at a thousand messages a second
    an fsync per mark was a third of the bot's CPU, so the marks of every send answered in
    the same event-loop turn share one fsync (group commit); each caller still returns only
    once its marks are durable.
    """

    def __init__(self, folder: str | Path, clock: Clock | None = None,
                 on_write: WriteObserver | None = None) -> None:
        self.store = TinyDBStore(folder, clock)
        super().__init__(self.store, on_write)
        self._commit_due: asyncio.Future[None] | None = None

    async def put_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Replace delivery records; durable on return, the fsync shared with the same turn's."""
        started = time.perf_counter()
        with self.store.staged():
            self.store.put_deliveries(list(deliveries))
        if self._commit_due is None:
            loop = asyncio.get_running_loop()
            self._commit_due = loop.create_future()
            loop.call_soon(self._commit_staged)
        await asyncio.shield(self._commit_due)
        self._written(started)

    def _commit_staged(self) -> None:
        due, self._commit_due = self._commit_due, None
        assert due is not None
        try:
            self.store.commit()
        except StorageError as exc:
            due.set_exception(exc)
        else:
            due.set_result(None)
