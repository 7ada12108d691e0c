"""Hostile updates against the real bot process: floods, channel buttons, vote races, idle
metrics connections, and a token of an unusual shape at DEBUG level (INTERFACE.md §8)."""

from __future__ import annotations

import itertools
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import BotProcess, free_port, write_config
from tests.emulator.server import Emulator, Sent
from tests.newsserver import NewsServer, article_page, rss

# A self-hosted Bot API server's token need not look like BotFather's (digits:35 chars); the
# shape-based scrubber would miss this one.
ODD_TOKEN = "selfhosted-Bot_token-of-another-shape"
_ids = itertools.count(70_000)
PARAGRAPHS = [f"Officials in Minsk said on Monday that talks on border crossing number {i} "
              f"with Lithuania would continue next week, according to the statement."
              for i in range(6)]


@dataclass
class Env:
    emulator: Emulator
    news: NewsServer
    bot: BotProcess
    metrics_port: int
    articles: itertools.count[int]

    def publish(self, title: str) -> str:
        """Put one more Belarus article in the feed; return its URL."""
        n = next(self.articles)
        url = f"{self.news.url}/a/{n}"
        self.news.set(f"/a/{n}", article_page(title, PARAGRAPHS))
        items = [{"title": title, "link": url, "guid": url, "description": PARAGRAPHS[0]}]
        self.news.set("/feed.xml", rss("t", items), "application/rss+xml")
        return url


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("hostile")
    emulator = Emulator(ODD_TOKEN).start()
    news = NewsServer().start()
    news.set("/feed.xml", rss("t", []), "application/rss+xml")
    metrics_port = free_port()
    config = write_config(tmp, [(f"{news.url}/feed.xml", "Test")],
                          extra=f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
    bot = BotProcess(config, emulator, env={"NEWSBOT_LOG_LEVEL": "DEBUG"}).start()
    yield Env(emulator, news, bot, metrics_port, itertools.count(1))
    code = bot.stop(signal.SIGTERM)
    emulator.stop()
    news.stop()
    log = bot.log()
    assert code == 0, log[-3000:]
    assert " DEBUG " in log, "the run really logged at DEBUG"
    assert ODD_TOKEN not in log, "the exact token is scrubbed from every line"
    assert "Traceback" not in log, log[-3000:]


def _follow_and_get_article(env: Env, chat_id: int, user_id: int, chat_type: str,
                            title: str) -> Sent:
    env.emulator.inject_message(chat_id, user_id, "/follow belarus", chat_type=chat_type)
    env.emulator.wait_sent(chat_id, contains="Belarus")
    env.publish(title)
    return env.emulator.wait_sent(chat_id, contains=title, timeout=30)[-1]


def test_channel_buttons_change_nothing_unless_pressed_by_a_channel_admin(env: Env) -> None:
    channel = -1_000_000_000_000 - next(_ids)
    env.emulator.chat(channel, "channel", "Region news")
    env.emulator.inject_channel_post(channel, "/topics")
    keyboard = env.emulator.wait_sent(channel)[-1]
    row = next(i for i, r in enumerate(keyboard.buttons()) if "Belarus" in r[0][0])
    subscriber, admin = next(_ids), next(_ids)
    query = env.emulator.press(subscriber, keyboard, button=(row, 0))
    answer = env.emulator.wait_for(lambda: env.emulator.answer_for(query))
    assert answer.get("show_alert"), answer
    time.sleep(0.5)
    assert "✅" not in keyboard.buttons()[row][0][0], "a subscriber changed nothing"
    env.emulator.inject_channel_post(channel, "/list")
    listing = env.emulator.wait_sent(channel, 2)[-1]
    assert "Belarus" not in listing.text
    env.emulator.set_member(channel, admin, "administrator")
    query = env.emulator.press(admin, keyboard, button=(row, 0))
    env.emulator.wait_for(lambda: env.emulator.answer_for(query))
    env.emulator.wait_for(lambda: "✅" in keyboard.buttons()[row][0][0])
    env.emulator.inject_channel_post(channel, "/list")
    assert "Belarus" in env.emulator.wait_sent(channel, 3)[-1].text


def test_forty_concurrent_presses_settle_on_the_stored_totals(env: Env) -> None:
    group = -1_000_000_000_000 - next(_ids)
    admin = next(_ids)
    env.emulator.chat(group, "supergroup", "Readers")
    env.emulator.set_member(group, admin, "administrator")
    article = _follow_and_get_article(env, group, admin, "supergroup",
                                      "Minsk talks on the vote race")
    yes = next(data for label, data in article.buttons()[0] if "Yes" in label)
    env.emulator.edit_jitter = 0.3  # edits land in any order, as over a real network
    try:
        members = [next(_ids) for _ in range(40)]
        queries: list[str] = []
        lock = threading.Lock()

        def press(user: int) -> None:
            query = env.emulator.press(user, article, data=yes)
            with lock:
                queries.append(query)

        threads = [threading.Thread(target=press, args=(u,)) for u in members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        env.emulator.wait_for(lambda: all(env.emulator.answer_for(q) for q in queries),
                              timeout=20)
        # Every edit has landed once the labels stop changing for a while.
        settled = ""
        for _ in range(40):
            labels = str(article.buttons())
            time.sleep(0.5)
            if labels == str(article.buttons()):
                settled = labels
                break
        assert "Yes (40)" in settled and "No (0)" in settled, article.buttons()
    finally:
        env.emulator.edit_jitter = 0.0


def test_an_idle_connection_does_not_stall_metrics_or_health(env: Env) -> None:
    idle = [socket.create_connection(("127.0.0.1", env.metrics_port)) for _ in range(3)]
    half = socket.create_connection(("127.0.0.1", env.metrics_port))
    half.sendall(b"GET /metr")  # a request line that never ends
    try:
        started = time.monotonic()
        for path in ("/healthz", "/metrics", "/healthz"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env.metrics_port}{path}",
                                            timeout=2) as resp:
                    body = resp.read().decode()
            except urllib.error.HTTPError as exc:  # 503 while a check fails is an answer too
                body = exc.read().decode()
            assert body
        assert time.monotonic() - started < 2.0
        assert "newsbot_deliveries_sent" in urllib.request.urlopen(
            f"http://127.0.0.1:{env.metrics_port}/metrics", timeout=2).read().decode()
    finally:
        for s in (*idle, half):
            s.close()


def test_one_user_flooding_for_a_minute_delays_nobody_else(env: Env) -> None:
    """A user sends /help 9 times a second for 60 s; others are answered within 2 s."""
    flooder = next(_ids)
    voter = next(_ids)
    article = _follow_and_get_article(env, voter, voter, "private", "Minsk flood-time story")
    buttons = [data for _label, data in article.buttons()[0]]
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            env.emulator.inject_message(flooder, flooder, "/help")
            time.sleep(1 / 9)

    flooding = threading.Thread(target=flood)
    flooding.start()
    command_waits: list[float] = []
    vote_waits: list[float] = []
    try:
        started = time.monotonic()
        press = 0
        while time.monotonic() - started < 60:
            other = next(_ids)
            sent_at = time.monotonic()
            env.emulator.inject_message(other, other, "/start")
            env.emulator.wait_sent(other, timeout=10)
            command_waits.append(time.monotonic() - sent_at)
            pressed_at = time.monotonic()
            query = env.emulator.press(voter, article, data=buttons[press % 2])
            press += 1
            answer = env.emulator.wait_for(lambda q=query: env.emulator.answer_for(q),
                                           timeout=10)
            vote_waits.append(answer["answered_at"] - pressed_at)
            time.sleep(1.0)
    finally:
        stop.set()
        flooding.join()
    assert len(command_waits) >= 20
    assert max(command_waits) < 2.0, command_waits
    assert max(vote_waits) < 2.0, vote_waits
    # The flooder is answered at what its chat can take, and nothing piles up: a second after
    # the flood its replies stop within the few that were waiting.
    time.sleep(1.5)
    after_flood = len(env.emulator.sent(flooder))
    time.sleep(4.0)
    assert len(env.emulator.sent(flooder)) - after_flood <= 3
    assert after_flood <= 60 * 1.1 + 10, after_flood
