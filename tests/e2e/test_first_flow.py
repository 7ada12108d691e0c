"""The core user journey, end to end: follow, receive an article, vote."""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BotProcess, free_port, write_config
from tests.emulator.server import Emulator
from tests.newsserver import NewsServer, article_page, rss

PARAS = [
    "The authorities in Minsk released a group of political prisoners on Tuesday, officials said.",
    "The release followed months of talks with Western diplomats about sanctions relief.",
    "Opposition leaders in exile welcomed the move but said hundreds remain behind bars.",
    "Observers noted that similar releases in the past were followed by new arrests.",
    "The European Union said it would study the decision before changing its policy.",
]


def publish_article(news: NewsServer) -> None:
    """Put one Belarus story (a teaser in the feed, the full text on its page) on the site."""
    news.set("/a/1", article_page("Belarus frees political prisoners", PARAS))
    news.set("/feed.xml", rss("Test", [{"title": "Belarus frees political prisoners",
                                        "link": f"{news.url}/a/1",
                                        "description": "Short teaser."}]),
             "application/rss+xml")


@pytest.mark.parametrize("backend", ["tinydb", "postgres"])
def test_follow_receive_and_vote(tmp_path: Path, emulator: Emulator, news: NewsServer,
                                 bot_factory: list[BotProcess], backend: str,
                                 request: pytest.FixtureRequest) -> None:
    news.set("/feed.xml", rss("Test", []), "application/rss+xml")
    port = free_port()
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test Daily")],
                          extra=f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
    env = {"NEWSBOT_LOG_FORMAT": "json"}
    if backend == "postgres":
        env["NEWSBOT_DATABASE_URL"] = request.getfixturevalue("database_url")
    bot = BotProcess(config, emulator, env=env).start()
    bot_factory.append(bot)

    emulator.inject_message(1001, 1001, "/start")
    help_msg = emulator.wait_sent(1001)[0]
    assert "/follow" in help_msg.text and "Belarus" in help_msg.text

    emulator.inject_message(1001, 1001, "/follow беларусь")
    emulator.wait_sent(1001, 2, contains="Belarus")

    publish_article(news)
    article = emulator.wait_sent(1001, 1, contains="Belarus frees political prisoners")[0]
    assert "Test Daily" in article.text
    assert "Loading comments" not in article.text and "Enjoyed this" not in article.text
    assert article.buttons()[0][0][0].endswith("Yes (0)")
    assert article.buttons()[0][1][0].endswith("No (0)")
    assert 'href="' in article.html
    # The soak tells bot processes apart by the connection a message came on.
    assert article.client_port > 0 and article.client_port in emulator.call_ports

    q1 = emulator.press(501, article, button=(0, 0))
    emulator.wait_for(lambda: emulator.answer_for(q1))
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (1)"))
    replays = [emulator.press(501, article, button=(0, 0)) for _ in range(20)]
    emulator.wait_for(lambda: all(emulator.answer_for(q) for q in replays))
    assert article.buttons()[0][0][0].endswith("Yes (1)"), "replayed presses count once"
    q2 = emulator.press(502, article, button=(0, 1))
    emulator.wait_for(lambda: emulator.answer_for(q2))
    emulator.wait_for(lambda: article.buttons()[0][1][0].endswith("No (1)"))
    q3 = emulator.press(501, article, button=(0, 1))  # move the vote
    emulator.wait_for(lambda: emulator.answer_for(q3))
    emulator.wait_for(lambda: article.buttons()[0][1][0].endswith("No (2)")
                      and article.buttons()[0][0][0].endswith("Yes (0)"))
    q4 = emulator.press(501, article, button=(0, 1))  # same again: kept
    assert emulator.wait_for(lambda: emulator.answer_for(q4))
    assert article.buttons()[0][1][0].endswith("No (2)")
    q5 = emulator.press(501, article, data="v1|ffffffffffff|y")
    assert emulator.wait_for(lambda: emulator.answer_for(q5))["text"]

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    text = metrics.decode()
    assert "newsbot_deliveries_sent_total 1.0" in text
    assert "newsbot_queue_depth 0.0" in text, "the one delivery is sent: nothing pending"
    assert re.search(r"newsbot_feeds_polled_total [1-9]", text)
    assert "newsbot_votes 2.0" in text and "newsbot_storage_write_seconds_bucket" in text
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status == 200

    assert bot.stop(signal.SIGTERM) == 0
    assert not emulator.errors, emulator.errors
    log = bot.log()
    assert emulator.token not in log and emulator.token.split(":")[1] not in log
    if backend == "postgres":
        password = env["NEWSBOT_DATABASE_URL"].split(":")[2].split("@")[0]
        assert password not in log
        assert not (tmp_path / "data").exists(), "nothing went to the data folder"
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)


def test_a_press_delivered_again_counts_once_without_a_traceback(
        tmp_path: Path, emulator: Emulator, news: NewsServer,
        bot_factory: list[BotProcess]) -> None:
    """A poller killed before confirming leaves its presses to the next one (see
    ``UpdatesRequest``): Telegram refuses the late answer, and that is no error."""
    news.set("/feed.xml", rss("Test", []), "application/rss+xml")
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test Daily")])
    bot = BotProcess(config, emulator).start()
    bot_factory.append(bot)
    emulator.inject_message(1001, 1001, "/follow belarus")
    emulator.wait_sent(1001, 1, contains="Belarus")
    publish_article(news)
    article = emulator.wait_sent(1001, 1, contains="Belarus frees")[0]

    query = emulator.press(501, article, button=(0, 0))
    emulator.wait_for(lambda: emulator.answer_for(query))
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (1)"))
    answers = len(emulator.answers)
    emulator.press_again(query)
    emulator.wait_for(lambda: any("query is too old" in e for _m, e in emulator.errors))
    emulator.inject_message(1001, 1001, "/list")  # handled after the press: it is done
    emulator.wait_sent(1001, 3, contains="Belarus")

    assert len(emulator.answers) == answers, "the late answer was refused, not a second one"
    assert article.buttons()[0][0][0].endswith("Yes (1)"), "counted once"
    assert bot.stop(signal.SIGTERM) == 0
    log = bot.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
    assert "too late" in log
