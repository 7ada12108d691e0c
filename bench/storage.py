"""Storage benchmark: 10,000 chats, 100,000 articles, 1,000,000 votes.

Measures, for the TinyDB repository and for SQLite (stdlib, WAL, synchronous=NORMAL) holding
the same data: open time, durable single-vote latency (p50/p99) and throughput, and peak RSS
of a process that opens the store and votes. Writes its table into BENCHMARKS.md.

Run: ``python bench/storage.py`` (about two minutes).
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import peak_rss_mb  # noqa: E402
from bench.report import write_section  # noqa: E402
from bot.models import Article, Chat, ChatKey, ChatType, Vote  # noqa: E402
from bot.storage.tinydb_store import TinyDBRepository  # noqa: E402

CHATS, ARTICLES, VOTES, PROBE = 10_000, 100_000, 1_000_000, 2_000
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
    repo = TinyDBRepository(folder)
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
    repo = TinyDBRepository(folder)
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
    return summary(opened, lat, total)


def main() -> None:
    if len(sys.argv) == 3:  # child: probe one store in a fresh process (clean peak RSS)
        kind, path = sys.argv[1], sys.argv[2]
        print(json.dumps(probe_tinydb(path) if kind == "tinydb" else probe_sqlite(path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        t = time.perf_counter()
        populate(folder)
        fill_tiny = time.perf_counter() - t
        size_tiny = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        t = time.perf_counter()
        populate_sqlite(Path(tmp) / "db.sqlite")
        fill_sql = time.perf_counter() - t
        results = {}
        for kind, path in (("tinydb", str(folder)), ("sqlite", str(Path(tmp) / "db.sqlite"))):
            out = subprocess.run([sys.executable, __file__, kind, path], capture_output=True,
                                 text=True, check=True)
            results[kind] = json.loads(out.stdout)
    tiny, sql = results["tinydb"], results["sqlite"]
    rows = [
        ("open the store", f"{tiny['open_s']:.2f} s", f"{sql['open_s']:.3f} s", "<= 3 s"),
        ("durable vote p50", f"{tiny['p50_ms']:.2f} ms", f"{sql['p50_ms']:.2f} ms", ""),
        ("durable vote p99", f"{tiny['p99_ms']:.2f} ms", f"{sql['p99_ms']:.2f} ms", "<= 20 ms"),
        ("votes/s (one at a time, durable)", f"{tiny['votes_per_s']:.0f}",
         f"{sql['votes_per_s']:.0f}", ">= 200"),
        ("peak RSS (open + votes)", f"{tiny['rss_mb']:.0f} MB", f"{sql['rss_mb']:.0f} MB",
         "<= 300 MB"),
    ]
    lines = [f"Data: {CHATS:,} chats, {ARTICLES:,} articles, {VOTES:,} votes; "
             f"{PROBE:,} single durable votes measured in a fresh process.",
             f"Filling: TinyDB store {fill_tiny:.0f} s ({size_tiny:.0f} MB on disk), "
             f"SQLite {fill_sql:.0f} s.", "",
             "| operation | newsbot TinyDB | SQLite (WAL, synchronous=NORMAL) | target |",
             "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    ratio = tiny["votes_per_s"] / sql["votes_per_s"]
    lines += ["", f"Durable votes/s, TinyDB : SQLite = {ratio:.2f}. SQLite's "
              "`synchronous=NORMAL` in WAL mode does not fsync on each commit, so it is not "
              "durable against power loss; newsbot fsyncs its journal on every acknowledged "
              "write."]
    text = "\n".join(lines)
    print(text)
    write_section("Storage", text, "python bench/storage.py")


if __name__ == "__main__":
    main()
