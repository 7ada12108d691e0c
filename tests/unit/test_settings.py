"""Config validation: the shipped config, and each bad case with its message and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import Secret, load_settings, token_problem
from tests.emulator.server import Emulator

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[telegram]
admins = [42]
[storage]
dir = "data"
[summary]
algorithm = "lexrank"
sentences = 3
[delivery]
mode = "digest"
digest_time = "07:30"
timezone = "Europe/Vilnius"
[[feeds]]
url = "https://example.org/rss"
name = "Example"
[[topics]]
id = "belarus"
name = "Belarus"
aliases = ["Belarus"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "newsbot.toml", env={})
    ids = {t.id for t in settings.topics}
    assert {"belarus", "lithuania", "ukraine", "poland", "latvia", "estonia"} <= ids
    assert len(settings.feeds) >= 8
    assert settings.summary.algorithm != "kl"


def test_good_config_and_environment(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "123:abcdefghijklmnopqrstuvwxyz", "NEWSBOT_DATA_DIR": "/x",
           "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"}
    s = load_settings(write(tmp_path, GOOD), env=env)
    assert s.telegram.admins == (42,)
    assert str(s.storage.dir) == "/x"
    assert s.delivery.timezone == "Europe/Vilnius" and s.delivery.digest_time == "07:30"
    assert s.feeds[0].interval_seconds == 600
    assert s.api_url == "http://127.0.0.1:9/bot"
    assert s.token is not None and "abcdefghij" not in repr(s) and "abcdefghij" not in str(s.token)


@pytest.mark.parametrize(("patch", "key", "words"), [
    (("admins = [42]", 'admins = ["x"]'), "telegram.admins[0]", "integer"),
    (("sentences = 3", 'sentences = "3"'), "summary.sentences", "integer"),
    (("[storage]", "[storage]\nfoo = 1"), "storage.foo", "unknown key"),
    (('id = "belarus"', 'id = "Bel-arus"'), "topics[0].id", "[a-z0-9_]+"),
    (('url = "https://example.org/rss"', 'url = "ftp://example.org/rss"'), "feeds[0].url",
     "http(s)"),
    (('algorithm = "lexrank"', 'algorithm = "magic"'), "summary.algorithm", "unknown summarizer"),
    (('timezone = "Europe/Vilnius"', 'timezone = "Mars/Olympus"'), "delivery.timezone",
     "time zone 'Mars/Olympus' (e.g. Europe/Vilnius)"),
    (('timezone = "Europe/Vilnius"', 'timezone = "europe/vilnius"'), "delivery.timezone",
     "did you mean 'Europe/Vilnius'?"),
    (('name = "Example"', 'name = "Example"\nlanguage = "xx"'), "feeds[0].language",
     "ISO 639-1"),
    (('digest_time = "07:30"', 'digest_time = "25:00"'), "delivery.digest_time", "HH:MM"),
    (('mode = "digest"', 'mode = "hourly"'), "delivery.mode", "instant"),
    (('name = "Example"', 'name = "Example"\ntopics = ["belarus", "mars"]'), "feeds[0].topics",
     "unknown topic 'mars' (configured: belarus)"),
    (('name = "Example"', 'name = "Example"\ntopics = "belarus"'), "feeds[0].topics",
     "must be an array, got string"),
])
def test_each_bad_case(tmp_path: Path, patch: tuple[str, str], key: str, words: str) -> None:
    path = write(tmp_path, GOOD.replace(*patch))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith(f"{path}: {key}: ")
    assert words in line


def test_feed_language_hint_in_any_case(tmp_path: Path) -> None:
    text = GOOD.replace('name = "Example"', 'name = "Example"\nlanguage = "LT"')
    assert load_settings(write(tmp_path, text), env={}).feeds[0].language == "lt"


def test_feed_topics_are_kept(tmp_path: Path) -> None:
    text = GOOD.replace('name = "Example"', 'name = "Example"\ntopics = ["belarus"]')
    path = write(tmp_path, text)
    assert load_settings(path, env={}).feeds[0].topics == ("belarus",)


def test_duplicate_feed_url(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + '[[feeds]]\nurl = "https://EXAMPLE.org/rss/"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "feeds[1].url: duplicate of feeds[0]" in info.value.problems[0]


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"lexrank"', '"x"').replace('"07:30"', '"7"'))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert len(info.value.problems) == 2


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "[telegram\n"), env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_token_checks() -> None:
    assert "@BotFather" in (token_problem(None) or "")
    assert token_problem(Secret("12 34")) is not None
    assert token_problem(Secret("123/456")) is not None
    assert token_problem(Secret("123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")) is None
    assert token_problem(Secret("123:short")) is None, "the Bot API, not we, judges a token"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**base, **(env or {})}, timeout=60,
                          check=False)


def test_cli_check_config_ok_and_bad(tmp_path: Path) -> None:
    ok = run_cli("check-config", "--config", str(write(tmp_path, GOOD)))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = run_cli("check-config", "--config",
                  str(write(tmp_path, GOOD.replace('"lexrank"', '"nope"'))))
    assert bad.returncode == 2
    assert "summary.algorithm" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_run_without_token_says_how(tmp_path: Path) -> None:
    result = run_cli("run", "--config", str(write(tmp_path, GOOD)))
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_run_with_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("run", "--config", str(write(tmp_path, GOOD)),
                     env={"TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "NEWSBOT_DATA_DIR": str(blocker / "sub")})
    assert result.returncode == 2
    assert "data folder" in result.stderr and "Traceback" not in result.stderr


def test_cli_run_with_a_token_telegram_rejects(tmp_path: Path) -> None:
    emulator = Emulator().start()
    try:
        result = run_cli("run", "--config", str(write(tmp_path, GOOD)),
                         env={"TELEGRAM_BOT_TOKEN": "999:wrong-token",
                              "TELEGRAM_API_URL": emulator.base_url,
                              "NEWSBOT_DATA_DIR": str(tmp_path / "d")})
    finally:
        emulator.stop()
    assert result.returncode == 2
    assert "rejected" in result.stderr and "wrong-token" not in result.stderr
    # One line: the Bot API sessions opened for the failed getMe are closed too (they leaked
    # as "Unclosed client session" errors while the app had never finished initializing).
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cli_config_from_env_and_missing(tmp_path: Path) -> None:
    result = run_cli("check-config", env={"NEWSBOT_CONFIG": str(tmp_path / "missing.toml")})
    assert result.returncode == 2 and "missing.toml: config file not found" in result.stderr
