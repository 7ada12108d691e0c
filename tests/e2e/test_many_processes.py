"""Several ``newsbot run`` processes on one PostgreSQL database act as one bot (INTERFACE §7).

Real processes, a real PostgreSQL (embedded), the Bot API emulator and the news site on
loopback: feeds are shared out, one process polls for updates and sends, a killed leader is
replaced within 30 s, and votes pressed on two webhook replicas count exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import ROOT, BotProcess, free_port, write_config
from tests.e2e.test_postgres import own_server, publish
from tests.e2e.test_webhook import wait_listening
from tests.emulator.server import Emulator, Sent
from tests.newsserver import NewsServer
from tests.pg import TestPostgres

__all__ = ["own_server"]  # a fixture of test_postgres's, used here too

LEADING = "leading: updates"
STEPPED_DOWN = "leader role lost"


def start(count: int, config: Path, emulator: Emulator, url: str,
          bot_factory: list[BotProcess], role: str = "all") -> list[BotProcess]:
    bots = []
    for _ in range(count):
        bot = BotProcess(config, emulator, env={"NEWSBOT_DATABASE_URL": url,
                                                "NEWSBOT_LOG_FORMAT": "json"})
        bot.args = ["--role", role]
        bots.append(bot.start(wait=False))
        bot_factory.append(bot)
    return bots


def leaders(bots: list[BotProcess]) -> list[BotProcess]:
    """The running processes whose last word on the role is that they lead.

    A leader that could not renew through a database outage steps down, and another process
    may take the lease when the database is back: only the present counts.
    """
    def leads(log: str) -> bool:
        return log.rfind(LEADING) > log.rfind(STEPPED_DOWN)

    return [b for b in bots if b.proc is not None and b.proc.poll() is None and leads(b.log())]


def titled(emulator: Emulator, chat: int, title: str) -> list[Sent]:
    return [m for m in emulator.sent(chat) if title in m.text]


def test_three_processes_share_feeds_and_a_killed_leader_is_replaced(
        tmp_path: Path, emulator: Emulator, news: NewsServer, database_url: str,
        bot_factory: list[BotProcess]) -> None:
    publish(news)
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test")], interval=2)
    bots = start(3, config, emulator, database_url, bot_factory)
    emulator.wait_for(lambda: len(leaders(bots)) == 1, timeout=30)
    emulator.wait_for(lambda: any(m == "getUpdates" for m, _ in emulator.calls), timeout=10)

    # Commands reach the one poller, and every process sees what they changed: an article
    # fetched by any process goes to the new follower.
    emulator.inject_message(61, 61, "/follow belarus")
    emulator.wait_sent(61, contains="Belarus")
    publish(news, "Minsk story one")
    emulator.wait_for(lambda: titled(emulator, 61, "story one"), timeout=20)

    # Each feed is fetched by one process per interval, not by each of the three.
    hits_before, watch_from = len(news.hits("/feed.xml")), time.monotonic()
    time.sleep(12)
    fetched = len(news.hits("/feed.xml")) - hits_before
    intervals = (time.monotonic() - watch_from) / 2
    assert fetched <= 1.2 * intervals + 1, (fetched, intervals)
    assert fetched >= 0.5 * intervals, "the feed is still polled"

    # Kill the leader: another takes over within 30 s; no second poller meanwhile.
    [leader] = leaders(bots)
    assert leader.proc is not None
    leader.proc.kill()
    leader.proc.wait()
    killed_at = time.monotonic()
    before = len(emulator.sent(61))
    emulator.inject_message(61, 61, "/list")
    assert "Belarus" in emulator.wait_sent(61, before + 1, timeout=30)[-1].text
    assert time.monotonic() - killed_at < 30
    publish(news, "Minsk story one", "Minsk story two")
    emulator.wait_for(lambda: titled(emulator, 61, "story two"), timeout=20)
    assert len(leaders(bots)) == 1 and leader not in leaders(bots)
    assert emulator.get_updates_conflicts <= 1, "at most the dead poller's last call"
    time.sleep(3)
    assert len(titled(emulator, 61, "story one")) == 1, "nothing sent twice"
    assert len(titled(emulator, 61, "story two")) == 1

    # SIGTERM to every process: each exits 0 within 10 s.
    for bot in bots:
        if bot is not leader:
            assert bot.stop(signal.SIGTERM, timeout=10) == 0, bot.log()[-2000:]
            assert "Traceback" not in bot.log(), bot.log()[-3000:]


def test_votes_on_two_webhook_replicas_count_exactly_once(
        tmp_path: Path, emulator: Emulator, news: NewsServer, database_url: str,
        bot_factory: list[BotProcess]) -> None:
    publish(news)
    feed = (f"{news.url}/feed.xml", "Test")
    ports = [free_port(), free_port()]
    bots = []
    for n, port in enumerate(ports):
        folder = tmp_path / f"replica{n}"
        folder.mkdir()
        config = write_config(folder, [feed])
        config.write_text(config.read_text().replace(
            "[telegram]\n", '[telegram]\nwebhook_url = "https://bot.example.org/hook"\n'
                            f'webhook_listen = "127.0.0.1:{port}"\n', 1))
        bots += start(1, config, emulator, database_url, bot_factory)
    for port in ports:
        wait_listening(emulator, port)
    emulator.wait_for(lambda: emulator.webhook is not None, timeout=30)
    emulator.webhook_proxies = [f"http://127.0.0.1:{p}" for p in ports]
    emulator.inject_message(71, 71, "/follow belarus")
    emulator.wait_sent(71)
    emulator.inject_message(71, 71, "/list")  # the other replica: it sees the follow
    assert "Belarus" in emulator.wait_sent(71, 2)[-1].text
    publish(news, "Minsk vote story")
    article = emulator.wait_for(lambda: titled(emulator, 71, "vote story"), timeout=30)[0]

    def press(user: int) -> str:
        return emulator.press(1000 + user, article, button=(0, 0 if user % 5 else 1))

    with ThreadPoolExecutor(20) as pool:
        queries = list(pool.map(press, range(100)))
    emulator.wait_for(lambda: all(emulator.answer_for(q) for q in queries), timeout=30)
    assert all("counted" in (emulator.answer_for(q) or {}).get("text", "") for q in queries)
    # 80 Yes and 20 No, whichever replica took each press and whatever order edits landed in
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (80)")
                      and article.buttons()[0][1][0].endswith("No (20)"), timeout=20)
    time.sleep(2)
    assert article.buttons()[0][0][0].endswith("Yes (80)")
    for bot in bots:
        assert bot.stop(signal.SIGTERM) == 0
        assert "Traceback" not in bot.log(), bot.log()[-3000:]


def test_an_ingest_worker_and_a_bot_process_split_the_work(
        tmp_path: Path, emulator: Emulator, news: NewsServer, database_url: str,
        bot_factory: list[BotProcess]) -> None:
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    publish(news)
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test")])
    [bot] = start(1, config, emulator, database_url, bot_factory, role="bot")
    [worker] = start(1, config, emulator, database_url, bot_factory, role="ingest")
    emulator.wait_for(lambda: LEADING in bot.log(), timeout=30)
    emulator.inject_message(81, 81, "/follow belarus")
    emulator.wait_sent(81, contains="Belarus")
    hits = len(news.hits("/feed.xml"))
    publish(news, "Minsk worker story")
    sent = emulator.wait_for(lambda: titled(emulator, 81, "worker story"), timeout=20)[0]
    # Stored by the worker (its poll commits the article, then logs), sent by the bot
    # process within 2 s of that.
    polled = [json.loads(line) for line in worker.log().splitlines() if "feed polled" in line]
    stored_at = datetime.fromisoformat(polled[-1]["ts"]).timestamp()
    assert sent.at - stored_at < 2.0, sent.at - stored_at
    store = PostgresStore(database_url, lock="none")
    assert any("worker story" in a.title for a in store.articles_since(sent_after(0)))
    store.close()
    assert "feed polled" in worker.log() and "feed polled" not in bot.log()
    assert LEADING not in worker.log(), "an ingest worker never leads"
    assert len(news.hits("/feed.xml")) > hits
    for process in (bot, worker):
        assert process.stop(signal.SIGTERM) == 0
        assert "Traceback" not in process.log(), process.log()[-3000:]


def sent_after(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_roles_need_a_database(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--config", str(config),
                           "--role", "ingest"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp",
                               "TELEGRAM_BOT_TOKEN": "1:x"})
    assert done.returncode == 2
    assert "NEWSBOT_DATABASE_URL" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_database_restart_under_three_processes_loses_nothing_acknowledged(
        tmp_path: Path, emulator: Emulator, news: NewsServer, own_server: TestPostgres,
        bot_factory: list[BotProcess]) -> None:
    url = own_server.database()
    publish(news)
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test")])
    bots = start(3, config, emulator, url, bot_factory)
    emulator.wait_for(lambda: len(leaders(bots)) == 1, timeout=30)
    emulator.inject_message(91, 91, "/follow belarus")
    emulator.wait_sent(91, contains="Belarus")
    publish(news, "Minsk before the restart")
    article = emulator.wait_for(lambda: titled(emulator, 91, "before the restart"),
                                timeout=30)[0]

    own_server.pause()
    down_at = time.monotonic()
    query = emulator.press(92, article, button=(0, 0))
    answer = emulator.wait_for(lambda: emulator.answer_for(query), timeout=20)
    assert "could not be saved" in answer.get("text", ""), "nothing acknowledged unsaved"
    time.sleep(max(0.0, 15 - (time.monotonic() - down_at)))
    own_server.resume()
    back_at = time.monotonic()

    publish(news, "Minsk before the restart", "Minsk after the restart")
    emulator.wait_for(lambda: titled(emulator, 91, "after the restart"), timeout=30)
    query = emulator.press(92, article, button=(0, 0))
    answer = emulator.wait_for(lambda: emulator.answer_for(query), timeout=30)
    assert "counted" in answer.get("text", ""), answer
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (1)"), timeout=10)
    assert time.monotonic() - back_at < 30
    time.sleep(3)
    assert len(titled(emulator, 91, "before the restart")) == 1
    assert len(titled(emulator, 91, "after the restart")) == 1
    assert len(leaders(bots)) == 1
    for bot in bots:
        assert bot.stop(signal.SIGTERM) == 0
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
