"""Logging: one event per line, text for terminals or JSON, never the token."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.errors import StorageError

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message",
                                                                            "asctime"}
_TOKEN_RE = re.compile(r"\d{5,20}:[A-Za-z0-9_-]{30,}")
# The exact secrets of this process (token, database password, webhook secret), longest
# first so that one containing another is replaced whole. The shape rule alone misses tokens
# of self-hosted Bot API servers and test tokens.
_secrets: list[tuple[str, str]] = []
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words


def register_secret(value: str | None, label: str = "<secret>") -> None:
    """Scrub ``value`` from every log line and error message from now on.

    Args:
        value: The secret; None or very short values are ignored.
        label: What is printed in its place.
    """
    if not value or len(value) < MIN_SECRET_LENGTH or any(v == value for v, _ in _secrets):
        return
    _secrets.append((value, label))
    _secrets.sort(key=lambda pair: -len(pair[0]))


def redact(text: str) -> str:
    """Replace every registered secret, and anything shaped like a bot token, in ``text``."""
    for value, label in _secrets:
        if value in text:
            text = text.replace(value, label)
    return _TOKEN_RE.sub("<token>", text)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        """Format one record."""
        when = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        extras = " ".join(f"{k}={v!r}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f" {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Format one record."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname, "logger": record.name, "event": record.getMessage(),
        }
        for key, value in _extras(record).items():
            data[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False))


def _as_plain_line(record: logging.LogRecord, level: int) -> None:
    """Drop the record's traceback and give it ``level``."""
    record.exc_info = None
    record.exc_text = None
    record.levelno, record.levelname = level, logging.getLevelName(level)


class _NoTraceback(logging.Filter):
    """Keep a network-trouble message of PTB's as a warning line, without its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the exception from the record; always keep the record."""
        _as_plain_line(record, logging.WARNING)
        return True


class _RetriedNetworkLoop(logging.Filter):
    """PTB's "Network Retry Loop ... Aborting" for a start of polling that is retried."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Make the report a warning line; other records pass unchanged."""
        if record.getMessage().startswith("Network Retry Loop"):
            _as_plain_line(record, logging.WARNING)
        return True


class _StorageTrouble(logging.Filter):
    """A storage error (a database gone for a while, a full disk) is an expected event.

    Every place that meets one retries; a traceback per retry would be pages of noise while
    a database restarts. The line stays, as a warning, with the error's own one-line text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the traceback of a StorageError; always keep the record."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, StorageError):
            record.msg = f"{record.getMessage()}: {exc}"
            record.args = ()
            _as_plain_line(record, logging.WARNING)
        return True


class _CancelledAtShutdown(logging.Filter):
    """APScheduler reports jobs cancelled by the shutdown as errors; they are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Turn a CancelledError job report into an info line without a traceback."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            record.msg, record.args = "job cancelled by shutdown", ()
            _as_plain_line(record, logging.INFO)
        return True


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger for the whole process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_StorageTrouble())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.Application"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # PTB logs network trouble with full tracebacks; during a Bot API outage that would be
    # pages of noise for an expected event (the bot retries and says so on one line).
    for name in ("telegram.request.BaseRequest", "telegram.ext.Updater"):
        logging.getLogger(name).addFilter(_NoTraceback())
    logging.getLogger("apscheduler.executors.default").addFilter(_CancelledAtShutdown())
    # A failed start of polling (a new leader during a Bot API outage) is retried by
    # NewsbotApp._take_updates; PTB reports it as an error with a traceback.
    logging.getLogger("telegram.ext").addFilter(_RetriedNetworkLoop())
