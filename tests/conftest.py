"""Shared fixtures: the Bot API emulator, the local news site, and a running ``newsbot run``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.storage.base import Repository
from tests.emulator.server import Emulator
from tests.newsserver import NewsServer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
Opener = Callable[[], Repository]
TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTESTtoken12"

TOPICS_TOML = """
[[topics]]
id = "belarus"
name = "Belarus"
aliases = ["Belarus", "Belarusian*", "Minsk", "Lukashenko", "Беларусь", "Беларуси",
           "Baltarusija*", "Białoru*"]

[[topics]]
id = "lithuania"
name = "Lithuania"
aliases = ["Lithuania", "Lithuanian*", "Vilnius", "Lietuv*", "Литва", "Литвы"]
exclude = ["basketball"]

[[topics]]
id = "poland"
name = "Poland"
aliases = ["Poland", "Warsaw", "Polsk*"]
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus_or_skip(*parts: str) -> Path:
    """A path in the shared corpus (../shared/corpus), or skip the test when it is absent.

    Third-party data lives there, never in this repository. A newcomer's clone without it
    skips with a message naming the folder; under ``CI=true`` (which always has it) the
    missing data fails the test instead.
    """
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = (f"{path} is absent: this test reads third-party data from the shared "
                   f"corpus folder {CORPUS}")
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI always has it)")
        pytest.skip(message)
    return path


def write_config(folder: Path, feeds: list[tuple[str, str]], extra: str = "",
                 interval: int = 1, admins: tuple[int, ...] = (), delivery: str = "") -> Path:
    feed_toml = "\n".join(
        f'[[feeds]]\nurl = "{url}"\nname = "{name}"\n' for url, name in feeds)
    config = folder / "newsbot.toml"
    config.write_text(textwrap.dedent(f"""
        [telegram]
        admins = [{", ".join(str(a) for a in admins)}]

        [storage]
        dir = "{folder / 'data'}"

        [ingest]
        interval_seconds = {interval}
        timeout_seconds = 5

        [summary]
        algorithm = "hybrid"
        sentences = 3

        {delivery}
        """) + "\n" + feed_toml + TOPICS_TOML + extra, encoding="utf-8")
    return config


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(TOKEN).start()
    yield emu
    emu.stop()


@pytest.fixture
def news() -> Iterator[NewsServer]:
    site = NewsServer().start()
    yield site
    site.stop()


class BotProcess:
    def __init__(self, config: Path, emulator: Emulator, env: dict[str, str] | None = None):
        self.config = config
        self.emulator = emulator
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": emulator.token,
                    "TELEGRAM_API_URL": emulator.base_url, "NEWSBOT_LOG_LEVEL": "INFO",
                    **(env or {})}
        self.env.pop("NEWSBOT_DATA_DIR", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.args: list[str] = []  # more arguments of ``newsbot run``
        self.log_path = config.parent / f"bot-{time.monotonic_ns()}.log"

    def start(self, wait: bool = True) -> BotProcess:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(self.config), *self.args],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            calls_before = len(self.emulator.calls)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(m == "getUpdates" for m, _ in self.emulator.calls[calls_before:]):
                    return self
                if self.proc.poll() is not None:
                    raise AssertionError(f"bot exited early:\n{self.log()}")
                time.sleep(0.05)
            raise AssertionError(f"bot did not start polling:\n{self.log()}")
        return self

    def close_log(self) -> None:
        """Close the log file this process writes to (also when a test failed first)."""
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"bot did not stop within {timeout}s:\n{self.log()}") from None
        finally:
            self.close_log()
        return code


@pytest.fixture
def bot_factory(emulator: Emulator) -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        if bot.proc is not None and bot.proc.poll() is None:
            bot.stop(signal.SIGKILL)
        bot.close_log()


# ------------------------------------------------------------------ PostgreSQL
@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """One PostgreSQL server for the session (embedded, or NEWSBOT_TEST_DATABASE_URL)."""
    from tests.pg import TestPostgres  # noqa: PLC0415

    try:
        server = TestPostgres().start()
        server.wait_ready()
    except (ImportError, OSError, subprocess.CalledProcessError) as exc:
        message = f"no PostgreSQL for the tests ({type(exc).__name__}: {exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the PostgreSQL tests")
        pytest.skip(message + "; install the test extras or set NEWSBOT_TEST_DATABASE_URL")
    yield server
    server.stop()


@pytest.fixture
def database_url(pg_server: object) -> str:
    """A URL to a fresh, empty database on the session's server."""
    from tests.pg import TestPostgres  # noqa: PLC0415

    assert isinstance(pg_server, TestPostgres)
    return pg_server.database()


@pytest.fixture(params=["tinydb", "postgres"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens the same store (a data folder, or one fresh database) as often as asked."""
    opened: list[Repository] = []
    if request.param == "tinydb":
        from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

        def opener() -> Repository:
            opened.append(TinyDBRepository(tmp_path / "data"))
            return opened[-1]
    else:
        from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

        url = request.getfixturevalue("database_url")

        def opener() -> Repository:
            opened.append(PostgresRepository(url))
            return opened[-1]
    yield opener
    for repo in opened:
        await repo.close()
