"""newsbot on a real PostgreSQL server: start-up failures, a server outage, and moving a
running bot's data between the data folder and the database with ``copy-data``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.postgres import SCHEMA_VERSION
from tests.conftest import ROOT, BotProcess, write_config
from tests.emulator.server import Emulator, Sent
from tests.newsserver import NewsServer, article_page, rss
from tests.pg import TestPostgres

PARAS = [f"Officials in Minsk said on Monday that talks on crossing number {i} with "
         f"Lithuania would go on next week, according to a statement." for i in range(6)]


def newsbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(env or {})})


def publish(news: NewsServer, *titles: str) -> None:
    items = []
    for n, title in enumerate(titles):
        news.set(f"/a/{n}", article_page(title, PARAS))
        items.append({"title": title, "link": f"{news.url}/a/{n}", "guid": f"g{n}",
                      "description": PARAS[0]})
    news.set("/feed.xml", rss("t", items), "application/rss+xml")


def password_of(url: str) -> str:
    return url.split(":")[2].split("@", maxsplit=1)[0]


def test_wrong_password_or_no_server_is_one_line_and_exit_2(tmp_path: Path,
                                                              database_url: str) -> None:
    config = write_config(tmp_path, [])
    password = password_of(database_url)
    for url, expected in ((database_url.replace(f":{password}@", ":not-the-password@"),
                           "password authentication failed"),
                          ("postgresql://newsbot:secret-pw@127.0.0.1:9/newsbot",
                           "can't connect")):
        done = newsbot("run", "--config", str(config),
                       env={"TELEGRAM_BOT_TOKEN": "1:x", "NEWSBOT_DATABASE_URL": url,
                            "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"})
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr
        assert "not-the-password" not in done.stderr and "secret-pw" not in done.stderr
        assert "***" in lines[0]
    doctor = newsbot("doctor", "--config", str(config),
                     env={"NEWSBOT_DATABASE_URL": database_url})
    assert doctor.returncode == 0 and f"schema {SCHEMA_VERSION}" in doctor.stdout, doctor.stderr
    assert password not in doctor.stdout


@pytest.fixture
def own_server() -> Iterator[TestPostgres]:
    """A server of the test's own, to stop and start without touching the others."""
    server = TestPostgres()
    if server.external:
        pytest.skip("an outage can't be staged on NEWSBOT_TEST_DATABASE_URL's server")
    server.start()
    server.wait_ready()
    yield server
    server.stop()


def test_a_database_outage_loses_nothing_acknowledged(tmp_path: Path, emulator: Emulator,
                                                      news: NewsServer, own_server: TestPostgres,
                                                      bot_factory: list[BotProcess]) -> None:
    url = own_server.database()
    publish(news)
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test")])
    bot = BotProcess(config, emulator, env={"NEWSBOT_DATABASE_URL": url}).start()
    bot_factory.append(bot)
    emulator.inject_message(41, 41, "/follow belarus")
    emulator.wait_sent(41, contains="Belarus")
    publish(news, "Minsk before the outage")
    article = emulator.wait_sent(41, contains="before the outage", timeout=30)[-1]

    own_server.pause()
    down_at = time.monotonic()
    query = emulator.press(42, article, button=(0, 0))
    answer = emulator.wait_for(lambda: emulator.answer_for(query), timeout=20)
    assert "could not be saved" in answer.get("text", ""), "nothing acknowledged unsaved"
    time.sleep(max(0.0, 20 - (time.monotonic() - down_at)))
    own_server.resume()
    back_at = time.monotonic()

    # Within 30 s of the server's return: new articles go out and votes count again.
    publish(news, "Minsk before the outage", "Minsk after the outage")
    emulator.wait_sent(41, contains="after the outage", timeout=30)
    query = emulator.press(42, article, button=(0, 0))
    answer = emulator.wait_for(lambda: emulator.answer_for(query), timeout=30)
    assert "counted" in answer.get("text", ""), answer
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (1)"), timeout=10)
    assert time.monotonic() - back_at < 30
    assert bot.stop(signal.SIGTERM) == 0
    log = bot.log()
    assert "Traceback" not in log, log[-3000:]
    assert password_of(url) not in log
    assert len(emulator.sent(41, "sendMessage")) == 3, "follow reply and two articles, once"


def _by_title(emulator: Emulator, chat: int, title: str) -> list[Sent]:
    return [m for m in emulator.sent(chat) if title in m.text]


def test_copy_data_moves_a_live_bot_both_ways(tmp_path: Path, emulator: Emulator,
                                              news: NewsServer, database_url: str,
                                              bot_factory: list[BotProcess]) -> None:
    publish(news)
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "Test")])
    folder = tmp_path / "data"
    # --- a bot on the data folder: chats, a forum thread, an own topic, a digest, votes
    first = BotProcess(config, emulator).start()
    bot_factory.append(first)
    instant, digest_chat, forum, admin = 51, 52, -1_000_000_000_053, 54
    emulator.chat(forum, "supergroup", "Forum", is_forum=True)
    emulator.set_member(forum, admin, "administrator")
    emulator.inject_message(instant, instant, "/follow belarus")
    emulator.wait_sent(instant, contains="Belarus")
    emulator.inject_message(instant, instant, '/follow "border crossing"')
    emulator.wait_sent(instant, 2)
    emulator.inject_message(digest_chat, digest_chat, "/follow belarus")
    emulator.wait_sent(digest_chat, contains="Belarus")
    emulator.inject_message(digest_chat, digest_chat, "/digest 23:59")
    emulator.wait_sent(digest_chat, contains="23:59")
    emulator.inject_message(forum, admin, "/follow belarus", chat_type="supergroup",
                            thread_id=7)
    emulator.wait_sent(forum, contains="Belarus")
    publish(news, "Minsk story before the move")
    article = emulator.wait_sent(instant, contains="before the move", timeout=30)[-1]
    emulator.wait_for(lambda: _by_title(emulator, forum, "before the move"), timeout=30)
    query = emulator.press(900, article, button=(0, 0))
    emulator.wait_for(lambda: emulator.answer_for(query))
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (1)"))
    assert first.stop(signal.SIGTERM) == 0
    assert not _by_title(emulator, digest_chat, "before the move"), "held for the digest"

    # --- copy to PostgreSQL; a running bot's store and a non-empty target are refused
    moved = newsbot("copy-data", "--to", database_url, "--config", str(config))
    assert moved.returncode == 0, moved.stderr
    assert "copied 3 chats" in moved.stdout and "1 articles" in moved.stdout, moved.stdout
    assert password_of(database_url) not in moved.stdout + moved.stderr
    again = newsbot("copy-data", "--to", database_url, "--config", str(config))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert password_of(database_url) not in again.stderr

    # --- the same bot on PostgreSQL carries on
    second = BotProcess(config, emulator, env={"NEWSBOT_DATABASE_URL": database_url}).start()
    bot_factory.append(second)
    in_use = newsbot("copy-data", "--to", str(tmp_path / "elsewhere"), "--config",
                     str(config), env={"NEWSBOT_DATABASE_URL": database_url})
    assert in_use.returncode == 2 and "in use" in in_use.stderr, in_use.stderr
    time.sleep(4)  # several polls and ticks
    assert len(_by_title(emulator, instant, "before the move")) == 1, "nothing sent again"
    assert len(_by_title(emulator, forum, "before the move")) == 1
    query = emulator.press(900, article, button=(0, 1))  # the moved vote moves again
    emulator.wait_for(lambda: emulator.answer_for(query))
    emulator.wait_for(lambda: article.buttons()[0][0][0].endswith("Yes (0)")
                      and article.buttons()[0][1][0].endswith("No (1)"))
    emulator.inject_message(instant, instant, "/list")
    emulator.wait_for(lambda: [m for m in emulator.sent(instant)
                               if "border crossing" in m.text and "Belarus" in m.text])
    before = len(emulator.sent(digest_chat))
    emulator.inject_message(digest_chat, digest_chat, "/list")
    assert "23:59" in emulator.wait_sent(digest_chat, before + 1)[-1].text
    emulator.inject_message(digest_chat, digest_chat, "/digest")
    emulator.wait_for(lambda: _by_title(emulator, digest_chat, "before the move"),
                      timeout=20)
    assert second.stop(signal.SIGTERM) == 0

    # --- and back to a fresh data folder
    back = tmp_path / "back"
    returned = newsbot("copy-data", "--to", str(back), "--config", str(config),
                       env={"NEWSBOT_DATABASE_URL": database_url})
    assert returned.returncode == 0, returned.stderr
    assert "copied 3 chats" in returned.stdout and "1 votes" in returned.stdout
    third = BotProcess(config, emulator, env={"NEWSBOT_DATA_DIR": str(back)})
    third.env["NEWSBOT_DATA_DIR"] = str(back)
    third.start()
    bot_factory.append(third)
    time.sleep(3)
    assert len(_by_title(emulator, instant, "before the move")) == 1
    assert len(_by_title(emulator, digest_chat, "before the move")) == 1
    assert third.stop(signal.SIGTERM) == 0
    assert folder.is_dir()


def test_the_store_reconnects_without_blocking_while_the_server_is_away(
        own_server: TestPostgres) -> None:
    from bot.errors import StorageError  # noqa: PLC0415
    from bot.models import ChatKey  # noqa: PLC0415
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415
    from tests.builders import chat  # noqa: PLC0415

    repo = PostgresStore(own_server.database())
    try:
        repo.put_chat(chat(1))
        own_server.pause()
        with pytest.raises(StorageError):
            repo.get_chat(ChatKey(1))  # the connection is gone
        with pytest.raises(StorageError, match="can't connect"):
            repo.get_chat(ChatKey(1))  # one attempt, refused
        started = time.monotonic()
        for _ in range(100):  # then calls fail at once instead of each trying again
            with pytest.raises(StorageError, match="unreachable"):
                repo.get_chat(ChatKey(1))
        assert time.monotonic() - started < 0.5
        own_server.resume()
        time.sleep(1.1)
        assert repo.get_chat(ChatKey(1)) is not None, "works again, and nothing was lost"
    finally:
        repo.close()
