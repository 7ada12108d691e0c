"""Scale on PostgreSQL: a bot with a million chats and a million retained articles.

The database is filled with CHATS chats (each follows 3 of 1,000 topics, so about 3,000
followers a topic; a fifth read English only, a tenth take a daily digest) and ARTICLES
articles ingested over the last 30 days (retention 30 days). Then:

* **Start-up**: ``newsbot run`` from launch to its first ``getUpdates`` at the emulator.
* **Bot RSS**: the bot process's resident memory, sampled for RUN seconds while it polls a
  feed of 20 new articles (each followed by ~3,000 chats: fan-out) and its digest and alert
  ticks run; peak of the main process, and with its ingest workers.
* **Follower lookup**: who gets one new article, by the bot's own code (``DeliveryService.
  targets``) on the same database: p50/p99 over 300 articles of random topics.
* **Durable vote**: ``put_vote`` (one committed transaction each), p50/p99 over 2,000 votes.

Targets (issue #14): RSS <= 250 MB, start-up <= 3 s, follower lookup p99 <= 20 ms, vote p99
<= 10 ms.

Run: ``python bench/scale.py [CHATS ARTICLES RUN]`` (defaults 1000000 1000000 60).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from bot.app import settle_start_up_heap  # noqa: E402
from bot.chats import ChatService  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.delivery.queue import DeliveryService  # noqa: E402
from bot.models import Article, Vote  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.storage.postgres import PostgresRepository, PostgresStore  # noqa: E402
from tests.conftest import TOKEN  # noqa: E402
from tests.emulator.server import Emulator  # noqa: E402
from tests.newsserver import NewsServer, rss  # noqa: E402
from tests.pg import TestPostgres  # noqa: E402

TOPICS = 1000


def word(topic: int) -> str:
    """The one alias of topic ``topic``: a made-up word found in no other text."""
    return f"zq{topic:04d}vx"


def write_scale_config(folder: Path, feed_url: str) -> Path:
    topics = "".join(f'[[topics]]\nid = "t{i}"\nname = "Topic {i}"\naliases = ["{word(i)}"]\n\n'
                     for i in range(TOPICS))
    config = folder / "newsbot.toml"
    config.write_text(f"""
[storage]
dir = "{folder / 'data'}"
retention_days = 30

[ingest]
interval_seconds = 5
timeout_seconds = 5

[[feeds]]
url = "{feed_url}"
name = "Scale feed"

{topics}""", encoding="utf-8")
    return config


def populate(url: str, chats: int, articles: int) -> dict[str, float]:
    """Fill the database in bulk with SQL (rows as the codec writes them)."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO chats (chat_id, thread_id, doc, subs, active, has_own, digest_due_at)
            SELECT i, 0, jsonb_build_object(
                'key', i || ':0', 'type', 'private', 'title', '', 'active', true,
                'mode', CASE WHEN i %% 10 = 0 THEN 'digest' ELSE 'instant' END,
                'digest_time', lpad((i %% 24)::text, 2, '0') || ':00', 'timezone', 'UTC',
                'languages', CASE WHEN i %% 5 = 0 THEN '["en"]'::jsonb ELSE '[]'::jsonb END,
                'quiet', null, 'ui_language', null, 'images', 'preview',
                'topics', jsonb_build_array('t' || (i * 7 %% 1000), 't' || ((i * 13 + 1) %% 1000),
                                            't' || ((i * 31 + 2) %% 1000)),
                'own_topics', '[]'::jsonb, 'created_at', '2026-10-01T00:00:00+00:00',
                'digest_since', '2026-10-01T00:00:00+00:00',
                'last_digest_at', to_jsonb(now())), '', true, false,
                -- schedule_math.digest_due_at in UTC: the next HH:00 after the last digest
                CASE WHEN i %% 10 = 0 THEN date_trunc('day', now()) + (i %% 24) * interval '1 hour'
                     + CASE WHEN date_trunc('day', now()) + (i %% 24) * interval '1 hour' <= now()
                            THEN interval '1 day' ELSE interval '0' END END
            FROM generate_series(1, %s) i""", (chats,))
        conn.execute("""
            INSERT INTO subscriptions
            SELECT topic, chat_id, thread_id,
                   ARRAY(SELECT jsonb_array_elements_text(doc->'languages'))
            FROM chats, jsonb_array_elements_text(doc->'topics') AS topic
            ON CONFLICT DO NOTHING""")
        filled_chats = time.perf_counter()
        conn.execute("""
            INSERT INTO articles (id, ingested_at, doc, stored_at)
            SELECT lpad(to_hex(i), 16, '0'), at, jsonb_build_object(
                'id', lpad(to_hex(i), 16, '0'), 'url', 'https://old.example/' || i,
                'title', 'Old story ' || i || ' about ' || 'zq' || lpad((i %% 1000)::text, 4, '0')
                         || 'vx',
                'source', 'Source ' || (i %% 50), 'feed', 'https://old.example/rss', 'lang', 'en',
                'summary', jsonb_build_array('One sentence of story ' || i || '.',
                                             'Another sentence.'),
                'topics', jsonb_build_array('t' || (i %% 1000)),
                'published', to_jsonb(at), 'ingested', to_jsonb(at),
                'keys', jsonb_build_array('u:https://old.example/' || i), 'image', null,
                'cluster', null, 'also', '[]'::jsonb, 'lead', 'One sentence of story ' || i),
                at
            FROM (SELECT i, now() - (i * interval '2.5 seconds') AS at
                  FROM generate_series(1, %s) i) s""", (articles,))
        conn.execute("INSERT INTO article_keys SELECT 'u:https://old.example/' || i, "
                     "lpad(to_hex(i), 16, '0') FROM generate_series(1, %s) i", (articles,))
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # the fill's dirty pages written before anything is timed
    done = time.perf_counter()
    return {"chats_s": filled_chats - started, "articles_s": done - filled_chats}


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found]


def run_bot(url: str, folder: Path, seconds: float) -> dict[str, float]:
    """Start ``newsbot run``; time to its first getUpdates; RSS while it works."""
    site = NewsServer().start()
    emulator = Emulator(TOKEN).start()
    rng = random.Random(5)
    items = [{"title": f"Fresh story {n} about {word(rng.randrange(TOPICS))}",
              "link": f"{site.url}/fresh/{n}",
              "description": f"Fresh story {n}. " + "A sentence of the story. " * 12}
             for n in range(20)]
    site.set("/rss.xml", rss("Scale feed", items), "application/rss+xml")
    config = write_scale_config(folder, f"{site.url}/rss.xml")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": emulator.token,
           "TELEGRAM_API_URL": emulator.base_url, "NEWSBOT_DATABASE_URL": url,
           "NEWSBOT_LOG_LEVEL": "WARNING"}
    env.pop("NEWSBOT_DATA_DIR", None)
    log = (folder / "bot.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    ready = None
    peak_main = peak_all = 0
    deadline = started + seconds
    try:
        while time.perf_counter() < deadline and proc.poll() is None:
            if ready is None and any(m == "getUpdates" for m, _ in list(emulator.calls)):
                ready = time.perf_counter() - started
            main = rss_kb(proc.pid)
            peak_main = max(peak_main, main)
            peak_all = max(peak_all, main + sum(rss_kb(c) for c in children(proc.pid)))
            time.sleep(0.2)
        sent = len([m for m, _ in list(emulator.calls) if m == "sendMessage"])
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        emulator.stop()
        site.stop()
    with psycopg.connect(url) as conn:
        recorded = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]  # type: ignore[index]
        fresh = conn.execute("SELECT count(*) FROM articles WHERE doc->>'url' LIKE %s",
                             (f"{site.url}/fresh/%",)).fetchone()[0]  # type: ignore[index]
    tracebacks = (folder / "bot.log").read_text(errors="replace").count("Traceback")
    return {"ready_s": ready if ready is not None else float("nan"),
            "rss_main_mb": peak_main / 1024, "rss_all_mb": peak_all / 1024,
            "fresh_articles": fresh, "deliveries": recorded, "sent": sent,
            "tracebacks": tracebacks, "exit": proc.returncode}


async def lookups(url: str, folder: Path, count: int = 300) -> dict[str, float]:
    """Follower lookup with the bot's own code, and durable votes."""
    settings = load_settings(write_scale_config(folder, "http://127.0.0.1:9/rss.xml"), env={})
    repo = PostgresRepository(url)
    clock = SystemClock()
    delivery = DeliveryService(repo, settings, clock, ChatService(repo, settings, clock))
    settle_start_up_heap()  # as newsbot run does once it has started
    rng = random.Random(7)
    now = datetime.now(tz=UTC)
    times, matched = [], []
    first = 0.0
    for n in range(count + 1):
        topic = rng.randrange(TOPICS)
        article = Article(id=f"probe{n}", url=f"https://probe.example/{n}",
                          title=f"Probe {n} about {word(topic)}", source="Probe",
                          feed_url="https://probe.example/rss", language="de",
                          summary=("A sentence.",), topics=(f"t{topic}",), published_at=now,
                          ingested_at=now, text="A sentence.")
        began = time.perf_counter()
        found = await delivery.targets(article)
        took = (time.perf_counter() - began) * 1000
        if n == 0:
            first = took  # builds whatever the lookup keeps between articles
        else:
            times.append(took)
            matched.append(len(found))
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY random() LIMIT 500")]
    votes = []
    for n in range(2000):
        began = time.perf_counter()
        await repo.put_vote(Vote(rng.choice(ids), 10_000_000 + n, rng.choice((1, -1)), now))
        votes.append((time.perf_counter() - began) * 1000)
    await repo.close()
    times.sort()
    votes.sort()
    return {"first_ms": first, "p50_ms": statistics.median(times),
            "p99_ms": times[int(len(times) * 0.99) - 1], "followers": statistics.mean(matched),
            "vote_p50_ms": statistics.median(votes),
            "vote_p99_ms": votes[int(len(votes) * 0.99) - 1]}


def main() -> None:
    args = [int(a) for a in sys.argv[1:] if a.isdigit()]
    chats, articles, seconds = (args + [1_000_000, 1_000_000, 60][len(args):])[:3]
    server = TestPostgres().start()
    try:
        server.wait_ready()
        url = server.database()
        PostgresStore(url).close()  # the schema
        filled = populate(url, chats, articles)
        print(f"filled: {filled}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            bot = run_bot(url, Path(tmp), seconds)
            print(f"bot: {bot}", flush=True)
            look = asyncio.run(lookups(url, Path(tmp)))
            print(f"lookups: {look}", flush=True)
        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    finally:
        server.stop()
    body = "\n".join([
        f"{chats:,} chats (each follows 3 of {TOPICS:,} topics: ~{look['followers']:,.0f} "
        f"followers an article; a fifth English only, a tenth on a daily digest) and "
        f"{articles:,} articles over 30 days of retention, in PostgreSQL 18 (embedded; "
        f"{size / 2**30:.1f} GB; filled in {filled['chats_s'] + filled['articles_s']:.0f} s). "
        f"`newsbot run` polls a feed of 20 new articles for {seconds} s.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| start-up: launch to first getUpdates | {bot['ready_s']:.2f} s | <= 3 s |",
        f"| bot process RSS, peak | {bot['rss_main_mb']:.0f} MB | <= 250 MB |",
        f"| with its ingest workers | {bot['rss_all_mb']:.0f} MB | |",
        f"| follower lookup for one article, p50 / p99 | {look['p50_ms']:.1f} / "
        f"{look['p99_ms']:.1f} ms | p99 <= 20 ms |",
        f"| first lookup (builds what later ones reuse) | {look['first_ms']:.0f} ms | |",
        f"| durable vote, p50 / p99 | {look['vote_p50_ms']:.2f} / {look['vote_p99_ms']:.2f} ms "
        f"| p99 <= 10 ms |",
        f"| new articles stored / deliveries recorded / messages sent in the run | "
        f"{bot['fresh_articles']:,} / {bot['deliveries']:,} / {bot['sent']:,} | |",
        f"| tracebacks in the bot log / exit code | {bot['tracebacks']} / {bot['exit']} | 0 / 0 |",
    ])
    print(body)
    if "--no-write" not in sys.argv:
        write_section("Scale on PostgreSQL", body, "python bench/scale.py")


if __name__ == "__main__":
    main()
