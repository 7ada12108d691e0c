"""The only code that sends article messages to Telegram; maps Telegram's answers to outcomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot

from bot.models import ChatKey, ImageMode
from bot.render import Button, Rendered

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What happened to one send."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"
    FORBIDDEN = "forbidden"
    MIGRATED = "migrated"
    CHAT_GONE = "chat_gone"
    THREAD_GONE = "thread_gone"
    TRANSIENT = "transient"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of a send and what it carries."""

    outcome: Outcome
    message_id: int | None = None
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str = ""


def keyboard(rows: tuple[tuple[Button, ...], ...] | list[list[Button]]) -> InlineKeyboardMarkup:
    """Build PTB's markup from render's plain rows."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                  for label, data in row] for row in rows])


class TelegramSender:
    """Sends rendered messages with one PTB bot."""

    def __init__(self, bot: ExtBot[None]) -> None:
        self.bot = bot

    async def send(self, key: ChatKey, message: Rendered, *, image_url: str | None = None,
                   image_mode: ImageMode = ImageMode.OFF, caption: Rendered | None = None,
                   link_url: str | None = None) -> SendResult:
        """Send one message; never raises for Telegram's answers."""
        thread = key.thread_id or None
        try:
            if image_mode is ImageMode.PHOTO and image_url and caption is not None:
                try:
                    sent = await self.bot.send_photo(
                        key.chat_id, image_url, caption=caption.html, parse_mode=ParseMode.HTML,
                        reply_markup=keyboard(caption.buttons), message_thread_id=thread)
                    return SendResult(Outcome.SENT, sent.message_id)
                except BadRequest as exc:
                    if _classify_bad_request(exc) is not Outcome.REJECTED:
                        raise
                    log.info("photo refused, sending text", extra={"error": exc.message})
            if image_mode is ImageMode.PREVIEW and image_url:
                preview = LinkPreviewOptions(url=image_url, prefer_large_media=True,
                                             show_above_text=True)
            elif image_mode is ImageMode.PREVIEW and link_url:
                preview = LinkPreviewOptions(url=link_url, prefer_large_media=True)
            else:
                preview = LinkPreviewOptions(is_disabled=True)
            sent = await self.bot.send_message(
                key.chat_id, message.html, parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message.buttons), link_preview_options=preview,
                message_thread_id=thread)
            return SendResult(Outcome.SENT, sent.message_id)
        except RetryAfter as exc:
            seconds = exc.retry_after
            wait = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
            return SendResult(Outcome.RETRY_AFTER, retry_after=wait, error=str(exc))
        except ChatMigrated as exc:
            return SendResult(Outcome.MIGRATED, new_chat_id=exc.new_chat_id, error=str(exc))
        except Forbidden as exc:
            return SendResult(Outcome.FORBIDDEN, error=exc.message)
        except BadRequest as exc:
            return SendResult(_classify_bad_request(exc), error=exc.message)
        except (TimedOut, NetworkError) as exc:
            return SendResult(Outcome.TRANSIENT, error=str(exc)[:200])
        except TelegramError as exc:
            return SendResult(Outcome.TRANSIENT, error=str(exc)[:200])


def _classify_bad_request(exc: BadRequest) -> Outcome:
    text = exc.message.lower()
    if "chat not found" in text or "chat_not_found" in text or "deactivated" in text:
        return Outcome.CHAT_GONE
    if "thread not found" in text or "topic_deleted" in text or "topic closed" in text:
        return Outcome.THREAD_GONE
    return Outcome.REJECTED
