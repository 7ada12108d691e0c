"""The TinyDB repository: round trips, indexes, atomicity under SIGKILL, durability, locking,
migration and corruption handling."""

from __future__ import annotations

import gc
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.doctor import run_doctor
from bot.errors import StorageCorruptError, StorageError, StorageLockedError
from bot.models import ChatKey, DeliveryStatus, Vote
from bot.storage import tinydb_store
from bot.storage.tinydb_store import TinyDBRepository, TinyDBStore
from tests.builders import T0, article, chat, delivery

ROOT = Path(__file__).resolve().parents[2]


def test_prune_drops_old_months_and_their_files(tmp_path: Path) -> None:
    repo = TinyDBStore(tmp_path)
    old = article(ingested_at=T0 - timedelta(days=70))
    new = article()
    for a in (old, new):
        repo.add_article(a)
        repo.put_vote(Vote(a.id, 1, 1, T0))
    repo.checkpoint()
    repo.put_vote(Vote(old.id, 2, -1, T0))
    repo.checkpoint()  # a second generation: the first is kept as *.prev
    old_month = (T0 - timedelta(days=70)).strftime("%Y%m%d")
    assert (tmp_path / f"articles-{old_month}.json").exists()
    assert list(tmp_path.glob("votes-*.prev"))
    assert repo.prune(T0 - timedelta(days=30)) == 1
    assert repo.get_article(old.id) is None and repo.get_article(new.id) is not None
    assert repo.article_for_key(old.keys[0]) is None
    left = sorted(p.name for p in tmp_path.iterdir() if old_month in p.name
                  or p.name.startswith(f"votes-{old_month[:6]}"))
    assert left == [], "a pruned day keeps no file, not even its previous generation"
    repo.close()


def test_prune_keeps_an_article_until_its_pending_deliveries_are_out(tmp_path: Path) -> None:
    # Every matched article is delivered at least once (INTERFACE.md 6), even to a chat whose
    # digest came due only after the retention window (short soak: 6 pairs lost this way).
    repo = TinyDBStore(tmp_path)
    held, done = article(ingested_at=T0 - timedelta(days=40)), \
        article(ingested_at=T0 - timedelta(days=40))
    for a in (held, done):
        repo.add_article(a)
    repo.add_deliveries([delivery(held.id, 100), delivery(held.id, 200),
                         delivery(done.id, 100, status=DeliveryStatus.SENT)])
    assert repo.prune(T0 - timedelta(days=30)) == 1
    assert repo.get_article(done.id) is None and repo.get_article(held.id) is not None
    repo.put_delivery(delivery(held.id, 100, status=DeliveryStatus.SENT))
    assert repo.prune(T0 - timedelta(days=30)) == 0, "still pending for chat 200"
    repo.put_delivery(delivery(held.id, 200, status=DeliveryStatus.SENT))
    assert repo.prune(T0 - timedelta(days=30)) == 1
    assert repo.get_article(held.id) is None and repo.pending() == []
    repo.close()


def test_second_process_is_refused(tmp_path: Path) -> None:
    repo = TinyDBStore(tmp_path)
    code = textwrap.dedent(f"""
        from bot.storage.tinydb_store import TinyDBRepository, TinyDBStore
        from bot.errors import StorageLockedError
        try:
            TinyDBStore({str(tmp_path)!r})
        except StorageLockedError as exc:
            print("LOCKED", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=30, check=False)
    assert "LOCKED" in out.stdout and str(os.getpid()) in out.stdout
    with pytest.raises(StorageLockedError):
        TinyDBStore(tmp_path)  # flock is per open file: same process is refused too
    repo.close()
    TinyDBStore(tmp_path).close()


def test_migration_from_schema_1(tmp_path: Path) -> None:
    doc = {"key": "5:0", "type": "private", "languages": "en lt", "topics": ["belarus"]}
    (tmp_path / "chats.json").write_text(json.dumps({"records": {"1": doc}}))
    (tmp_path / "meta.json").write_text(json.dumps({"schema": 1}))
    repo = TinyDBStore(tmp_path)
    migrated = repo.get_chat(ChatKey(5))
    assert migrated is not None and migrated.languages == ("en", "lt")
    repo.close()
    assert json.loads((tmp_path / "meta.json").read_text())["schema"] == 3


def test_opening_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    # The collector is paused while the folder loads (millions of objects that all stay);
    # an open that fails half-way must not leave it off for the life of the process.
    repo = TinyDBStore(tmp_path)
    repo.put_chat(chat(1))
    repo.checkpoint()
    repo.close()
    assert gc.isenabled()
    TinyDBStore(tmp_path).close()
    assert gc.isenabled()
    (tmp_path / "chats.json").write_text("{not json")
    with pytest.raises(StorageCorruptError):
        TinyDBStore(tmp_path)
    assert gc.isenabled(), "a failed open turned the collector off for good"
    gc.disable()
    try:
        (tmp_path / "chats.json").unlink()
        TinyDBStore(tmp_path).close()
        assert not gc.isenabled(), "a caller that had it off keeps it off"
    finally:
        gc.enable()


def test_corrupt_file_is_named_and_never_overwritten(tmp_path: Path) -> None:
    repo = TinyDBStore(tmp_path)
    repo.put_chat(chat(1))
    repo.checkpoint()
    repo.put_chat(chat(1, title="second"))
    repo.close()
    path = tmp_path / "chats.json"
    path.write_text(path.read_text()[:20])
    with pytest.raises(StorageCorruptError, match="chats.json"):
        TinyDBStore(tmp_path)
    assert len(path.read_text()) == 20, "the damaged file must be left for repair"
    report = run_doctor(tmp_path, repair=True)
    assert any("restored" in line for line in report.repaired)
    repo = TinyDBStore(tmp_path)
    assert repo.get_chat(ChatKey(1)) is not None
    repo.close()


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from bot.models import Article, Vote, Chat, ChatKey, ChatType
    from bot.storage import tinydb_store
    tinydb_store.CHECKPOINT_EVERY = 25
    repo = tinydb_store.TinyDBStore(sys.argv[1])
    now = datetime(2026, 3, 1, tzinfo=UTC)
    start = int(sys.argv[2])
    for i in range(start, start + 100000):
        aid = f"{i:012x}"
        repo.add_article(Article(aid, f"https://x/{i}", "t", "s", "f", "en", ("a.",), ("b",),
                                 now, now, (f"u:{i}",)))
        repo.put_vote(Vote(aid, i, 1, now))
        repo.put_chat(Chat(ChatKey(i % 50), ChatType.PRIVATE, title=str(i)))
        print(i, flush=True)  # acknowledged: the vote is durable now
""")


def test_sigkill_at_random_moments_leaves_valid_files_and_keeps_acked_writes(
        tmp_path: Path) -> None:
    rng = random.Random(7)
    acked: list[int] = []
    start = 0
    for _ in range(50):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(start)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.25, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        numbers = [int(x) for x in out.split()]
        acked += numbers
        start = (numbers[-1] + 1) if numbers else start
        for path in tmp_path.glob("*.json"):
            json.loads(path.read_bytes() or b"{}")  # every data file parses
    assert len(acked) > 100, "the writer never got going"
    repo = TinyDBStore(tmp_path)
    missing = [i for i in acked if repo.totals(f"{i:012x}").yes != 1]
    assert not missing, f"{len(missing)} acknowledged votes lost, e.g. {missing[:5]}"
    repo.close()


def test_checkpoint_rewrites_only_dirty_partitions(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    repo = TinyDBStore(tmp_path)
    repo.add_article(article(ingested_at=T0 - timedelta(days=40)))
    repo.add_article(article())
    repo.checkpoint()
    written: list[str] = []
    real = tinydb_store.atomic_write

    def spy(path: Path, payload: bytes, *, keep_previous: bool = True) -> None:
        written.append(path.name)
        real(path, payload, keep_previous=keep_previous)

    monkeypatch.setattr(tinydb_store, "atomic_write", spy)
    a = article()
    repo.add_article(a)
    repo.put_vote(Vote(a.id, 1, 1, T0))
    repo.checkpoint()
    month = T0.strftime("%Y%m%d")
    old_month = (T0 - timedelta(days=40)).strftime("%Y%m%d")
    assert f"articles-{month}.json" in written
    assert f"articles-{old_month}.json" not in written
    repo.close()


DISK_FULL = textwrap.dedent("""
    import resource, signal, sys
    from datetime import UTC, datetime
    from bot.errors import StorageError
    from bot.models import Article, Vote
    from bot.storage.tinydb_store import TinyDBRepository, TinyDBStore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    repo = TinyDBStore(sys.argv[1])
    now = datetime(2026, 3, 1, tzinfo=UTC)
    repo.add_article(Article("a" * 12, "https://x/1", "t", "s", "f", "en", (), (), now, now))
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    acked = 0
    try:
        for i in range(100_000):
            repo.put_vote(Vote("a" * 12, i, 1, now))
            acked = i + 1
    except StorageError as exc:
        print("FULL", acked, repo.totals("a" * 12).yes >= acked, exc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    repo.put_vote(Vote("a" * 12, 10**9, 1, now))  # space is back: writes resume
    repo.close()
    print("RESUMED", acked)
""")


def test_disk_full_is_a_clear_error_and_writes_resume(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", DISK_FULL, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert "FULL" in out.stdout and "True" in out.stdout, out.stdout + out.stderr
    assert "write failed" in out.stdout
    assert "RESUMED" in out.stdout, out.stderr
    acked = int(out.stdout.split("RESUMED")[1].split()[0])
    for path in tmp_path.glob("*.json"):
        json.loads(path.read_bytes() or b"{}")
    repo = TinyDBStore(tmp_path)
    assert repo.totals("a" * 12).yes >= acked + 1, "acknowledged votes and the later one kept"
    repo.close()


async def test_sends_answered_together_share_one_fsync_and_survive_reopening(
        tmp_path: Path) -> None:
    import asyncio  # noqa: PLC0415

    from bot.clock import FakeClock  # noqa: PLC0415

    repo = TinyDBRepository(tmp_path, FakeClock(T0))
    a = article()
    await repo.add_article(a)
    await repo.add_deliveries([delivery(a.id, chat_id=i) for i in range(10)])
    flushes_before = repo.store.flushes
    await asyncio.gather(*(repo.put_delivery(delivery(a.id, chat_id=i,
                                                      status=DeliveryStatus.SENT))
                           for i in range(10)))
    assert repo.store.flushes - flushes_before == 1, "ten marks, one fsync"
    await repo.put_delivery(delivery(a.id, chat_id=0, status=DeliveryStatus.DROPPED))
    assert repo.store.flushes - flushes_before == 2, "a mark alone is durable on return too"
    repo.store._journal_fh.close()  # a kill: nothing is checkpointed or flushed on the way
    repo.store._journal_fh = None
    repo.store._release_lock()
    again = TinyDBStore(tmp_path, FakeClock(T0))
    statuses = [again.get_delivery(a.id, ChatKey(i)) for i in range(10)]
    assert [d.status for d in statuses if d] == [DeliveryStatus.DROPPED] + [
        DeliveryStatus.SENT] * 9
    again.close()


# ------------------------------------------------------------------ hostile files and modes
@pytest.mark.parametrize("bad_line", [
    b'["c","not an object"]',                       # AttributeError in the decoder
    b'["v","000000000001",5,1e400]',                # a float where an int goes
    b'["a",{"id":"x","published":"99999-01-01"}]',  # missing keys, bad date
    b'["c",{"key":"1:0","created_at":"2026-03-01T12:00:00+00:00","type":"private",'
    b'"digest_since":' + str(10**30).encode() + b"}]",  # OverflowError
    b'{"op":"c"}',                                  # not an array
    b"[]",
    b"\xff\xfe garbage",
])
def test_any_undecodable_journal_line_is_corruption_named_by_file_and_line(
        tmp_path: Path, bad_line: bytes) -> None:
    repo = TinyDBStore(tmp_path)
    repo.put_chat(chat(1))
    repo.close()
    journal = tmp_path / "journal.jsonl"
    good = b'["v","000000000001",5,1]'
    journal.write_bytes(good + b"\n" + bad_line + b"\n" + good + b"\n")
    with pytest.raises(StorageCorruptError, match=r"journal\.jsonl: line 2"):
        TinyDBStore(tmp_path)
    # The same line as a torn tail (no newline: a write cut by a crash) is dropped quietly.
    journal.write_bytes(good + b"\n" + bad_line)
    TinyDBStore(tmp_path).close()


def test_undecodable_journal_line_exits_2_without_traceback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    repo = TinyDBStore(data)
    repo.close()
    (data / "journal.jsonl").write_bytes(b'["c","not an object"]\n["c",1]\n')
    config = tmp_path / "newsbot.toml"
    config.write_text(f'[storage]\ndir = "{data}"\n')
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "TELEGRAM_BOT_TOKEN": "1:x",
                               "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"})
    assert done.returncode == 2, done.stderr
    assert "journal.jsonl: line 1" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_data_folder_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        folder = tmp_path / "data"
        repo = TinyDBStore(folder)
        repo.put_chat(chat(1))
        repo.checkpoint()
        repo.put_chat(chat(2))
        repo.checkpoint()
        repo.put_chat(chat(3))
        assert (folder / "chats.json.prev").exists()
        repo.close()
        assert folder.stat().st_mode & 0o777 == 0o700
        modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
        assert modes and set(modes.values()) == {0o600}, modes
        # Files left wider by an older version: doctor says so, and opening tightens them.
        (folder / "chats.json").chmod(0o644)
        folder.chmod(0o755)
        report = run_doctor(folder, repair=False)
        assert any("chats.json" in w and "0644" in w for w in report.warnings)
        assert any(w.startswith(f"{folder}:") and "0755" in w for w in report.warnings)
        assert (folder / "chats.json").stat().st_mode & 0o777 == 0o600
        assert folder.stat().st_mode & 0o777 == 0o700
        assert run_doctor(folder, repair=False).warnings == []
    finally:
        os.umask(old)


def test_a_checkpoint_that_fails_inside_a_write_keeps_the_write_acknowledged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tinydb_store, "CHECKPOINT_EVERY", 3)
    repo = TinyDBStore(tmp_path)
    a = article()
    repo.add_article(a)
    real = tinydb_store.atomic_write

    def full_disk(path: Path, payload: bytes, *, keep_previous: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tinydb_store, "atomic_write", full_disk)
    repo.put_vote(Vote(a.id, 1, 1, T0))
    totals = repo.put_vote(Vote(a.id, 2, 1, T0))  # the third write triggers the checkpoint
    assert totals.yes == 2, "the vote is saved and reported as saved"
    with pytest.raises(StorageError, match="checkpoint failed"):
        repo.checkpoint()  # the checkpoint job sees a storage error, not a bare OSError
    repo.put_vote(Vote(a.id, 3, -1, T0))  # the journal still takes writes
    monkeypatch.setattr(tinydb_store, "atomic_write", real)
    repo.close()
    reopened = TinyDBStore(tmp_path)
    assert (reopened.totals(a.id).yes, reopened.totals(a.id).no) == (2, 1)
    reopened.close()
