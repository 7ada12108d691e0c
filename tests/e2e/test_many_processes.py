"""Several ``newsbot run`` processes on one PostgreSQL database act as one bot (INTERFACE §7).

Real processes, a real PostgreSQL (embedded), the Bot API emulator and the news site on
loopback: feeds are shared out, one process polls for updates and sends, a killed leader is
replaced within 30 s, and votes pressed on two webhook replicas count exactly once.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import BotProcess, free_port, write_config
from tests.e2e.test_postgres import publish
from tests.e2e.test_webhook import wait_listening
from tests.emulator.server import Emulator, Sent
from tests.newsserver import NewsServer

LEADING = "leading: updates"


def start(count: int, config: Path, emulator: Emulator, url: str,
          bot_factory: list[BotProcess], role: str = "all") -> list[BotProcess]:
    bots = []
    for _ in range(count):
        bot = BotProcess(config, emulator, env={"NEWSBOT_DATABASE_URL": url})
        bot.args = ["--role", role]
        bots.append(bot.start(wait=False))
        bot_factory.append(bot)
    return bots


def leaders(bots: list[BotProcess]) -> list[BotProcess]:
    return [b for b in bots if b.proc is not None and b.proc.poll() is None
            and LEADING in b.log()]


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
    time.sleep(20)
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
    emulator.inject_message(71, 71, "/list")  # the second goes to the other replica
    emulator.wait_sent(71, 2)
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
