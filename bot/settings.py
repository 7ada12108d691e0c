"""Load and validate the TOML config and the environment into one frozen ``Settings``.

Every problem is collected and reported as one line ``file: key: problem``; nothing is
half-loaded. Secrets come only from the environment and are wrapped in ``Secret``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import ConfigError
from bot.langcodes import is_iso639_1
from bot.models import DeliveryMode, Topic

DEFAULT_CONFIG = "config/newsbot.toml"
DEFAULT_API_URL = "https://api.telegram.org/bot"
SUMMARIZERS = ("lexrank", "lsa", "textrank", "luhn", "kl", "reduction", "sumbasic", "hybrid")
TOPIC_ID_RE = re.compile(r"^[a-z0-9_]+$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Secret:
    """A string that never shows its value in ``str``, ``repr`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call only where it is sent to its one consumer."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """The ``[telegram]`` section."""

    admins: tuple[int, ...] = ()
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0:8443"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The ``[storage]`` section (``dir`` already resolved against the environment)."""

    dir: Path = Path("data")
    retention_days: int = 30
    # A postgresql:// URL: keep everything in PostgreSQL instead of ``dir``. A Secret, since
    # NEWSBOT_DATABASE_URL carries the password.
    url: Secret | None = None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """The ``[metrics]`` section."""

    listen: str | None = None


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """The ``[ingest]`` section."""

    interval_seconds: int = 600
    fetch_full_text: bool = True
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000


@dataclass(frozen=True, slots=True)
class SummarySettings:
    """The ``[summary]`` section."""

    algorithm: str = "hybrid"
    sentences: int = 3


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """The ``[delivery]`` section: defaults for new chats."""

    mode: DeliveryMode = DeliveryMode.INSTANT
    digest_time: str = "08:00"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One ``[[feeds]]`` entry."""

    url: str
    name: str
    interval_seconds: int
    language: str | None = None
    topics: tuple[str, ...] = ()  # every item of the feed is in these topics (exclusions apply)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything newsbot is configured with."""

    config_path: Path
    telegram: TelegramSettings
    storage: StorageSettings
    metrics: MetricsSettings
    ingest: IngestSettings
    summary: SummarySettings
    delivery: DeliverySettings
    feeds: tuple[FeedConfig, ...]
    topics: tuple[Topic, ...]
    token: Secret | None
    api_url: str
    log_level: str
    log_format: str
    webhook_secret: Secret | None = None


# Telegram's rule for setWebhook's secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class _Checker:
    """Collects problems while reading one config file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def fail(self, key: str, problem: str) -> None:
        self.problems.append(f"{self.path}: {key}: {problem}")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, got {_type_name(value)}")
            return {}
        return value

    def unknown(self, data: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for name in data:
            if name not in allowed:
                where = f"{prefix}.{name}" if prefix else name
                hint = ", ".join(sorted(allowed))
                self.fail(where, f"unknown key (allowed: {hint})")

    def get(self, data: dict[str, Any], key: str, kind: type | tuple[type, ...],
            default: Any, where: str) -> Any:
        if key not in data:
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int subclass in Python; a TOML `true` is never a valid number here
        if isinstance(value, bool) and bool not in kinds:
            self.fail(where, f"must be {_kinds_name(kinds)}, got boolean")
            return default
        if not isinstance(value, kinds):
            self.fail(where, f"must be {_kinds_name(kinds)}, got {_type_name(value)}")
            return default
        return value


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string",
             list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


def _kinds_name(kinds: tuple[type, ...]) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def valid_timezone(name: str) -> bool:
    """Tell whether ``name`` is a known IANA time zone, spelled exactly."""
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {zone.casefold(): zone for zone in available_timezones()}


def canonical_timezone(name: str) -> str | None:
    """The IANA time zone a user meant, or None.

    Users type ``europe/vilnius`` or ``America/New York``; IANA names are case-sensitive and
    use underscores, so both are looked up case-insensitively with spaces as underscores.
    """
    name = name.strip()
    if valid_timezone(name):
        return name
    return _zones_by_folded_name().get(name.replace(" ", "_").casefold())


def _check_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return "must be an http(s) URL"
    if not parts.hostname:
        return "has no host"
    return None


def _listen_ok(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def _telegram(c: _Checker, data: dict[str, Any]) -> TelegramSettings:
    sec = c.table(data, "telegram")
    c.unknown(sec, "telegram", {"admins", "webhook_url", "webhook_listen"})
    admins_raw = c.get(sec, "admins", list, [], "telegram.admins")
    admins: list[int] = []
    for i, item in enumerate(admins_raw):
        if isinstance(item, bool) or not isinstance(item, int):
            c.fail(f"telegram.admins[{i}]", f"must be a Telegram user id (integer), got "
                   f"{_type_name(item)}")
        else:
            admins.append(item)
    webhook = c.get(sec, "webhook_url", str, None, "telegram.webhook_url")
    if webhook is not None:
        parts = urlsplit(webhook)
        # Telegram's cloud API needs https; a self-hosted Bot API server also takes http.
        if parts.scheme not in ("https", "http") or not parts.hostname:
            c.fail("telegram.webhook_url", f"must be an https:// URL, got {webhook!r}")
    listen = c.get(sec, "webhook_listen", str, "0.0.0.0:8443", "telegram.webhook_listen")
    if not _listen_ok(listen):
        c.fail("telegram.webhook_listen", f"must be HOST:PORT, got {listen!r}")
    return TelegramSettings(tuple(admins), webhook, listen)


def _storage(c: _Checker, data: dict[str, Any], env: dict[str, str]) -> StorageSettings:
    sec = c.table(data, "storage")
    c.unknown(sec, "storage", {"dir", "retention_days", "url"})
    folder = c.get(sec, "dir", str, "data", "storage.dir")
    retention = c.get(sec, "retention_days", int, 30, "storage.retention_days")
    if retention < 1:
        c.fail("storage.retention_days", f"must be >= 1, got {retention}")
    env_dir = env.get("NEWSBOT_DATA_DIR")
    url = c.get(sec, "url", str, None, "storage.url")
    if url is not None:
        problem = database_url_problem(url)
        if problem:
            c.fail("storage.url", problem)
        elif urlsplit(url).password is not None:
            c.fail("storage.url", "must not hold a password (secrets come from the "
                   "environment): put the whole URL in NEWSBOT_DATABASE_URL, or the password "
                   "in PGPASSWORD or ~/.pgpass")
    env_url = env.get("NEWSBOT_DATABASE_URL", "").strip()
    if env_url:
        problem = database_url_problem(env_url)
        if problem:
            # The value is never echoed: it may hold a password.
            c.problems.append(f"environment: NEWSBOT_DATABASE_URL: {problem}")
        url = env_url
    return StorageSettings(Path(env_dir or folder), retention,
                           Secret(url) if url else None)


def database_url_problem(url: str) -> str | None:
    """Why ``url`` is not a PostgreSQL URL we can use, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return "must be a postgresql://user:password@host:port/dbname URL"
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        return "names no database (postgresql://user@host/DBNAME)"
    return None


def _metrics(c: _Checker, data: dict[str, Any]) -> MetricsSettings:
    sec = c.table(data, "metrics")
    c.unknown(sec, "metrics", {"listen"})
    listen = c.get(sec, "listen", str, None, "metrics.listen")
    if listen is not None and not _listen_ok(listen):
        c.fail("metrics.listen", f"must be HOST:PORT, got {listen!r}")
    return MetricsSettings(listen)


def _ingest(c: _Checker, data: dict[str, Any]) -> IngestSettings:
    sec = c.table(data, "ingest")
    c.unknown(sec, "ingest", {"interval_seconds", "fetch_full_text", "timeout_seconds",
                              "max_bytes"})
    interval = c.get(sec, "interval_seconds", int, 600, "ingest.interval_seconds")
    if interval < 1:
        c.fail("ingest.interval_seconds", f"must be >= 1, got {interval}")
    full = c.get(sec, "fetch_full_text", bool, True, "ingest.fetch_full_text")
    timeout = c.get(sec, "timeout_seconds", (int, float), 20, "ingest.timeout_seconds")
    if timeout <= 0:
        c.fail("ingest.timeout_seconds", f"must be > 0, got {timeout}")
    max_bytes = c.get(sec, "max_bytes", int, 5_000_000, "ingest.max_bytes")
    if max_bytes < 1024:
        c.fail("ingest.max_bytes", f"must be >= 1024, got {max_bytes}")
    return IngestSettings(interval, full, float(timeout), max_bytes)


def _summary(c: _Checker, data: dict[str, Any]) -> SummarySettings:
    sec = c.table(data, "summary")
    c.unknown(sec, "summary", {"algorithm", "sentences"})
    algorithm = c.get(sec, "algorithm", str, "hybrid", "summary.algorithm")
    if algorithm.lower() not in SUMMARIZERS:
        c.fail("summary.algorithm", f"unknown summarizer {algorithm!r} "
               f"(supported: {', '.join(SUMMARIZERS)})")
    sentences = c.get(sec, "sentences", int, 3, "summary.sentences")
    if not 1 <= sentences <= 10:
        c.fail("summary.sentences", f"must be between 1 and 10, got {sentences}")
    return SummarySettings(algorithm.lower(), sentences)


def _delivery(c: _Checker, data: dict[str, Any]) -> DeliverySettings:
    sec = c.table(data, "delivery")
    c.unknown(sec, "delivery", {"mode", "digest_time", "timezone"})
    mode = c.get(sec, "mode", str, "instant", "delivery.mode")
    if mode not in ("instant", "digest"):
        c.fail("delivery.mode", f"must be \"instant\" or \"digest\", got {mode!r}")
        mode = "instant"
    digest_time = c.get(sec, "digest_time", str, "08:00", "delivery.digest_time")
    if not HHMM_RE.match(digest_time):
        c.fail("delivery.digest_time", f"must be HH:MM (00:00-23:59), got {digest_time!r}")
    tz = c.get(sec, "timezone", str, "UTC", "delivery.timezone")
    if not valid_timezone(tz):
        meant = canonical_timezone(tz)
        hint = f"did you mean {meant!r}?" if meant else "e.g. Europe/Vilnius"
        c.fail("delivery.timezone", f"unknown IANA time zone {tz!r} ({hint})")
    return DeliverySettings(DeliveryMode(mode), digest_time, tz)


def _feeds(c: _Checker, data: dict[str, Any], default_interval: int) -> tuple[FeedConfig, ...]:
    raw = data.get("feeds", [])
    if not isinstance(raw, list):
        c.fail("feeds", "must be an array of tables ([[feeds]])")
        return ()
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        where = f"feeds[{i}]"
        if not isinstance(item, dict):
            c.fail(where, "must be a table")
            continue
        c.unknown(item, where, {"url", "name", "interval_seconds", "language", "topics"})
        url = c.get(item, "url", str, "", f"{where}.url")
        if not url:
            c.fail(f"{where}.url", "is required")
            continue
        problem = _check_url(url)
        if problem:
            c.fail(f"{where}.url", f"{problem}, got {url!r}")
            continue
        norm = url.strip().rstrip("/").lower()
        if norm in seen:
            c.fail(f"{where}.url", f"duplicate of feeds[{seen[norm]}] ({url})")
            continue
        seen[norm] = i
        name = c.get(item, "name", str, "", f"{where}.name") or (urlsplit(url).hostname or url)
        interval = c.get(item, "interval_seconds", int, default_interval,
                         f"{where}.interval_seconds")
        if interval < 1:
            c.fail(f"{where}.interval_seconds", f"must be >= 1, got {interval}")
        lang = c.get(item, "language", str, None, f"{where}.language")
        if lang is not None:
            if is_iso639_1(lang.strip()):
                lang = lang.strip().lower()
            else:
                c.fail(f"{where}.language",
                       f"must be an ISO 639-1 code like \"en\", got {lang!r}")
                lang = None
        own = _string_list(c, item, "topics", where)
        feeds.append(FeedConfig(url.strip(), name.strip(), interval, lang, own))
    return tuple(feeds)


def _string_list(c: _Checker, item: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    raw = c.get(item, key, list, [], f"{where}.{key}")
    out: list[str] = []
    for j, value in enumerate(raw):
        if not isinstance(value, str) or not value.strip().strip("*"):
            c.fail(f"{where}.{key}[{j}]", "must be a non-empty string")
        else:
            out.append(value.strip())
    return tuple(out)


def _topics(c: _Checker, data: dict[str, Any]) -> tuple[Topic, ...]:
    raw = data.get("topics", [])
    if not isinstance(raw, list):
        c.fail("topics", "must be an array of tables ([[topics]])")
        return ()
    topics: list[Topic] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"topics[{i}]"
        if not isinstance(item, dict):
            c.fail(where, "must be a table")
            continue
        c.unknown(item, where, {"id", "name", "aliases", "exclude"})
        tid = c.get(item, "id", str, "", f"{where}.id")
        if not TOPIC_ID_RE.match(tid):
            c.fail(f"{where}.id", f"must match [a-z0-9_]+, got {tid!r}")
            continue
        if tid in seen:
            c.fail(f"{where}.id", f"duplicate topic id {tid!r}")
            continue
        seen.add(tid)
        name = c.get(item, "name", str, tid, f"{where}.name") or tid
        aliases = _string_list(c, item, "aliases", where)
        exclude = _string_list(c, item, "exclude", where)
        topics.append(Topic(tid, name, aliases or (name,), exclude))
    return tuple(topics)


def load_settings(config: str | Path | None = None,
                  env: dict[str, str] | None = None) -> Settings:
    """Load, validate and return the settings.

    Args:
        config: Config file; falls back to ``NEWSBOT_CONFIG`` and then ``config/newsbot.toml``.
        env: The environment (defaults to ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        ConfigError: With one line per problem.
    """
    env = dict(os.environ) if env is None else env
    path = Path(config or env.get("NEWSBOT_CONFIG") or DEFAULT_CONFIG)
    c = _Checker(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found (use --config PATH or "
                           "NEWSBOT_CONFIG)"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: can't read config file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: config file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    c.unknown(data, "", {"telegram", "storage", "metrics", "ingest", "summary", "delivery",
                         "feeds", "topics"})
    telegram = _telegram(c, data)
    storage = _storage(c, data, env)
    metrics = _metrics(c, data)
    ingest = _ingest(c, data)
    summary = _summary(c, data)
    delivery = _delivery(c, data)
    feeds = _feeds(c, data, ingest.interval_seconds)
    topics = _topics(c, data)
    known = {t.id for t in topics}
    for i, feed in enumerate(feeds):
        for topic_id in feed.topics:
            if topic_id not in known:
                c.fail(f"feeds[{i}].topics", f"unknown topic {topic_id!r} (configured: "
                       f"{', '.join(sorted(known)) or 'none'})")

    level = env.get("NEWSBOT_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        c.problems.append(f"environment: NEWSBOT_LOG_LEVEL: must be one of "
                          f"{', '.join(LOG_LEVELS)}, got {level!r}")
    log_format = env.get("NEWSBOT_LOG_FORMAT", "text").lower()
    if log_format not in ("text", "json"):
        c.problems.append(f"environment: NEWSBOT_LOG_FORMAT: must be text or json, "
                          f"got {log_format!r}")
    api_url = env.get("TELEGRAM_API_URL") or DEFAULT_API_URL
    if _check_url(api_url):
        c.problems.append(f"environment: TELEGRAM_API_URL: must be an http(s) URL, "
                          f"got {api_url!r}")
    token_raw = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    webhook_secret = env.get("TELEGRAM_WEBHOOK_SECRET", "")
    if webhook_secret and not WEBHOOK_SECRET_RE.match(webhook_secret):
        # The value itself is never echoed: it is a secret.
        c.problems.append("environment: TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters of "
                          "A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
    if c.problems:
        raise ConfigError(c.problems)
    return Settings(
        config_path=path, telegram=telegram, storage=storage, metrics=metrics, ingest=ingest,
        summary=summary, delivery=delivery, feeds=feeds, topics=topics,
        token=Secret(token_raw) if token_raw else None, api_url=api_url,
        log_level=level, log_format=log_format,
        webhook_secret=Secret(webhook_secret) if webhook_secret else None,
    )


# Only what would break the request URL is refused here; whether Telegram (or a self-hosted
# Bot API server) accepts the token is for getMe to say at start-up.
TOKEN_RE = re.compile(r"^[^\s/?#]+$")


def token_problem(token: Secret | None) -> str | None:
    """Return why the token can't be used, or None when it may be tried."""
    if token is None:
        return ("environment: TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather "
                "in Telegram (/newbot), then export TELEGRAM_BOT_TOKEN=<the token it gives>")
    if not TOKEN_RE.match(token.reveal()):
        return ("environment: TELEGRAM_BOT_TOKEN contains spaces or URL characters; copy the "
                "token exactly as @BotFather gave it (123456789:AA...)")
    return None
