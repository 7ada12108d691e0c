"""Storage benchmark: 10,000 chats, 100,000 articles, 1,000,000 votes.

Measures, for the TinyDB repository, the PostgreSQL repository (on the embedded PostgreSQL 18
the tests use, or NEWSBOT_TEST_DATABASE_URL) and SQLite (stdlib, WAL, synchronous=NORMAL, the
reference) holding the same data: open time, durable single-vote latency (p50/p99) and
throughput with one writer and with 16 concurrent writers, and peak RSS of a process that
opens the store and votes. Writes its table into BENCHMARKS.md.

Run: ``python bench/storage.py`` (about four minutes).
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import peak_rss_mb  # noqa: E402
from bench.report import write_section  # noqa: E402
from bot.models import Article, Chat, ChatKey, ChatType, Vote  # noqa: E402
from bot.storage import codec  # noqa: E402
from bot.storage.tinydb_store import TinyDBStore  # noqa: E402

CHATS, ARTICLES, VOTES, PROBE = 10_000, 100_000, 1_000_000, 2_000
WRITERS = 16
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def article(i: int) -> Article:
    when = NOW - timedelta(minutes=i // 4)
    return Article(
        id=f"{i:012x}", url=f"https://news.example/{i}", title=f"Headline number {i} on Minsk",
        source=f"Source {i % 40}", feed_url=f"https://news.example/feed/{i % 40}",
        language="en", summary=(f"First sentence of article {i} about the border.",
                                "Second sentence with more detail on the talks.",
                                "Third sentence quoting an official in Vilnius."),
        topics=("belarus",), published_at=when, ingested_at=when,
        keys=(f"u:https://news.example/{i}", f"h:{i:024x}"))


def populate(folder: Path) -> None:
    repo = TinyDBStore(folder)
    with repo.batch():
        for c in range(CHATS):
            repo.put_chat(Chat(ChatKey(c + 1), ChatType.PRIVATE, topics=frozenset({"belarus"})))
    for start in range(0, ARTICLES, 10_000):
        with repo.batch():
            for i in range(start, start + 10_000):
                repo.add_article(article(i))
    rng = random.Random(1)
    for start in range(0, VOTES, 50_000):
        with repo.batch():
            for v in range(start, start + 50_000):
                repo.put_vote(Vote(f"{v % ARTICLES:012x}", 1_000_000 + v // 10,
                                   1 if rng.random() < 0.8 else -1, NOW))
    repo.close()


def probe_tinydb(folder: str) -> dict[str, float]:
    started = time.perf_counter()
    repo = TinyDBStore(folder)
    opened = time.perf_counter() - started
    rng = random.Random(2)
    lat, total = time_votes(lambda n: repo.put_vote(
        Vote(f"{rng.randrange(ARTICLES):012x}", 5_000_000 + n, 1, NOW)))
    repo.close()
    return summary(opened, lat, total)


def time_votes(vote: Callable[[int], object]) -> tuple[list[float], float]:
    """Run PROBE single durable votes; return each one's latency and the total time."""
    lat = []
    t0 = time.perf_counter()
    for n in range(PROBE):
        s = time.perf_counter()
        vote(n)
        lat.append(time.perf_counter() - s)
    return lat, time.perf_counter() - t0


def summary(opened: float, lat: list[float], total: float) -> dict[str, float]:
    lat.sort()
    return {"open_s": opened, "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "votes_per_s": len(lat) / total,
            "rss_mb": peak_rss_mb()}


def populate_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript("""
        CREATE TABLE chats (key TEXT PRIMARY KEY, doc TEXT);
        CREATE TABLE articles (id TEXT PRIMARY KEY, doc TEXT);
        CREATE TABLE votes (article TEXT, user INTEGER, value INTEGER,
                            PRIMARY KEY (article, user));
    """)
    db.executemany("INSERT INTO chats VALUES (?, ?)",
                   ((f"{c}:0", json.dumps({"topics": ["belarus"]})) for c in range(CHATS)))
    db.executemany("INSERT INTO articles VALUES (?, ?)",
                   ((f"{i:012x}", json.dumps({"title": article(i).title,
                                              "summary": article(i).summary}))
                    for i in range(ARTICLES)))
    rng = random.Random(1)
    db.executemany("INSERT OR REPLACE INTO votes VALUES (?, ?, ?)",
                   ((f"{v % ARTICLES:012x}", 1_000_000 + v // 10,
                     1 if rng.random() < 0.8 else -1) for v in range(VOTES)))
    db.commit()
    db.close()


def probe_sqlite(path: str) -> dict[str, float]:
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("SELECT count(*) FROM votes").fetchone()
    opened = time.perf_counter() - started
    rng = random.Random(2)

    def vote(n: int) -> None:
        db.execute("INSERT OR REPLACE INTO votes VALUES (?, ?, ?)",
                   (f"{rng.randrange(ARTICLES):012x}", 5_000_000 + n, 1))
        db.commit()
        db.execute("SELECT sum(value > 0), sum(value < 0) FROM votes WHERE article = ?",
                   (f"{n % ARTICLES:012x}",)).fetchone()

    lat, total = time_votes(vote)
    db.close()
    result = summary(opened, lat, total)

    def voter() -> Callable[[int], object]:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA synchronous=NORMAL")
        local = random.Random()

        def one(n: int) -> None:
            aid = f"{local.randrange(ARTICLES):012x}"
            conn.execute("INSERT OR REPLACE INTO votes VALUES (?, ?, ?)", (aid, 7_000_000 + n, -1))
            conn.commit()
            conn.execute("SELECT sum(value > 0), sum(value < 0) FROM votes WHERE article = ?",
                         (aid,)).fetchone()
        return one

    result["concurrent_votes_per_s"] = concurrent_votes(voter)
    return result


def concurrent_votes(make_voter: Callable[[], Callable[[int], object]]) -> float:
    """Votes per second with WRITERS threads, each with its own connection."""
    voters = [make_voter() for _ in range(WRITERS)]
    per = PROBE // WRITERS

    def run(k: int) -> None:
        for n in range(per):
            voters[k](k * per + n)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(WRITERS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * WRITERS / (time.perf_counter() - t0)


def populate_postgres(url: str) -> None:
    """The same data, through COPY (the repository's one-at-a-time calls would take minutes)."""
    import psycopg  # noqa: PLC0415

    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    PostgresStore(url).close()  # creates the schema
    rng = random.Random(1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY chats (chat_id, thread_id, doc) FROM STDIN") as copy:
            for c in range(CHATS):
                chat = Chat(ChatKey(c + 1), ChatType.PRIVATE, topics=frozenset({"belarus"}))
                copy.write_row((c + 1, 0, json.dumps(codec.chat_out(chat))))
        with cur.copy("COPY articles (id, ingested_at, doc) FROM STDIN") as copy:
            for i in range(ARTICLES):
                a = article(i)
                copy.write_row((a.id, a.ingested_at, json.dumps(codec.article_out(a))))
        with cur.copy("COPY article_keys (key, article_id) FROM STDIN") as copy:
            for i in range(ARTICLES):
                for key in article(i).keys:
                    copy.write_row((key, f"{i:012x}"))
        votes = {}
        for v in range(VOTES):
            votes[(f"{v % ARTICLES:012x}", 1_000_000 + v // 10)] = \
                1 if rng.random() < 0.8 else -1
        with cur.copy("COPY votes (article_id, user_id, value, at) FROM STDIN") as copy:
            for (aid, user), value in votes.items():
                copy.write_row((aid, user, value, NOW))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def probe_postgres(url: str) -> dict[str, float]:
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    started = time.perf_counter()
    repo = PostgresStore(url)
    repo.article_count()
    opened = time.perf_counter() - started
    rng = random.Random(2)
    lat, total = time_votes(lambda n: repo.put_vote(
        Vote(f"{rng.randrange(ARTICLES):012x}", 5_000_000 + n, 1, NOW)))
    result = summary(opened, lat, total)
    repo.close()

    def voter() -> Callable[[int], object]:
        # These stand for several processes writing to one database.
        other = PostgresStore(url, lock="none")
        local = random.Random()
        return lambda n: other.put_vote(
            Vote(f"{local.randrange(ARTICLES):012x}", 7_000_000 + n, -1, NOW))

    result["concurrent_votes_per_s"] = concurrent_votes(voter)
    return result


def main() -> None:
    if len(sys.argv) == 3:  # child: probe one store in a fresh process (clean peak RSS)
        kind, path = sys.argv[1], sys.argv[2]
        probe = {"tinydb": probe_tinydb, "sqlite": probe_sqlite, "postgres": probe_postgres}
        print(json.dumps(probe[kind](path)))
        return
    from tests.pg import TestPostgres  # noqa: PLC0415

    server = TestPostgres().start()
    server.wait_ready()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "tiny"
            fill: dict[str, float] = {}
            t = time.perf_counter()
            populate(folder)
            fill["tinydb"] = time.perf_counter() - t
            size_tiny = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
            t = time.perf_counter()
            populate_sqlite(Path(tmp) / "db.sqlite")
            fill["sqlite"] = time.perf_counter() - t
            url = server.database()
            t = time.perf_counter()
            populate_postgres(url)
            fill["postgres"] = time.perf_counter() - t
            results = {}
            for kind, path in (("tinydb", str(folder)), ("postgres", url),
                               ("sqlite", str(Path(tmp) / "db.sqlite"))):
                out = subprocess.run([sys.executable, __file__, kind, path],
                                     capture_output=True, text=True, check=True)
                results[kind] = json.loads(out.stdout)
    finally:
        server.stop()
    tiny, pg, sql = results["tinydb"], results["postgres"], results["sqlite"]

    def cells(key: str, fmt: str) -> str:
        return " | ".join(fmt.format(r[key]) if key in r else "one writer by design"
                          for r in (tiny, pg, sql))

    rows = [
        ("open the store", cells("open_s", "{:.3f} s"), "<= 3 s"),
        ("durable vote p50", cells("p50_ms", "{:.2f} ms"), ""),
        ("durable vote p99", cells("p99_ms", "{:.2f} ms"), "<= 10 ms (PostgreSQL)"),
        ("votes/s, one writer, durable", cells("votes_per_s", "{:.0f}"), ">= 200"),
        (f"votes/s, {WRITERS} concurrent writers", cells("concurrent_votes_per_s", "{:.0f}"),
         ""),
        ("peak RSS (open + votes)", cells("rss_mb", "{:.0f} MB"), "<= 300 MB"),
    ]
    lines = [f"Data: {CHATS:,} chats, {ARTICLES:,} articles, {VOTES:,} votes; "
             f"{PROBE:,} single durable votes measured in a fresh process per store (each "
             "vote returns the article's new totals); the concurrent figure splits them over "
             f"{WRITERS} threads with a connection each.",
             f"Filling: TinyDB {fill['tinydb']:.0f} s ({size_tiny:.0f} MB on disk), PostgreSQL "
             f"{fill['postgres']:.0f} s (COPY), SQLite {fill['sqlite']:.0f} s.", "",
             "| operation | newsbot TinyDB | newsbot PostgreSQL 18 (local, fsync on) | "
             "SQLite (WAL, synchronous=NORMAL) | target |",
             "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "SQLite's `synchronous=NORMAL` in WAL mode does not fsync on each commit, so "
              "it is not durable against power loss; newsbot fsyncs its journal (TinyDB) or "
              "waits for PostgreSQL's commit (synchronous_commit on) before acknowledging."]
    text = "\n".join(lines)
    print(text)
    write_section("Storage", text, "python bench/storage.py")


if __name__ == "__main__":
    main()
