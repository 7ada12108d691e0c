"""The only code that sends article messages to Telegram; maps Telegram's answers to outcomes."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
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

from bot.aiohttp_request import AiohttpRequest
from bot.delivery.outcome import Outcome, SendResult
from bot.models import ChatKey, ImageMode
from bot.render import Button, Rendered

log = logging.getLogger(__name__)



def retry_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asked for, in seconds (PTB gives an int or a timedelta)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)

def keyboard(rows: tuple[tuple[Button, ...], ...] | list[list[Button]]) -> InlineKeyboardMarkup:
    """Build PTB's markup from render's plain rows."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                  for label, data in row] for row in rows])


def _markup_json(rows: tuple[tuple[Button, ...], ...] | list[list[Button]]) -> str:
    # Encoded as PTB encodes InlineKeyboardMarkup (json.dumps defaults, keys in PTB's slot
    # order, which is alphabetical), byte for byte.
    return json.dumps({"inline_keyboard": [[{"callback_data": data, "text": label}
                                             for label, data in row] for row in rows]})


class TelegramSender:
    """Sends rendered messages with one PTB bot."""

    def __init__(self, bot: ExtBot[None]) -> None:
        self.bot = bot
        # Text alerts are the hot path of a fan-out: PTB's send_message builds parameter and
        # markup objects, then a full Message from the answer, for the one field we keep
        # (message_id): half of the bot's CPU per message. So text alerts go through the bot's
        # own transport (same connections and timeouts, Telegram's errors raised as the same
        # PTB exceptions) with their fields encoded once here.
        if not isinstance(bot.request, AiohttpRequest):
            raise TypeError("TelegramSender needs a bot built with request=AiohttpRequest(...)")
        self._transport = bot.request
        self._send_message_url = f"{bot.base_url}/sendMessage"

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
                preview: dict[str, object] = {"url": image_url, "prefer_large_media": True,
                                              "show_above_text": True}
            elif image_mode is ImageMode.PREVIEW and link_url:
                preview = {"url": link_url, "prefer_large_media": True}
            else:
                preview = {"is_disabled": True}
            fields = {"chat_id": str(key.chat_id), "text": message.html,
                      "parse_mode": ParseMode.HTML.value,
                      "link_preview_options": json.dumps(preview, sort_keys=True),
                      "reply_markup": _markup_json(message.buttons)}
            if thread:
                fields["message_thread_id"] = str(thread)
            answer = await self._transport.post_form(self._send_message_url, fields)
            # "ok": true is Telegram's acceptance; an odd result must not cause a second send.
            message_id = answer.get("message_id") if isinstance(answer, dict) else None
            return SendResult(Outcome.SENT, message_id if isinstance(message_id, int) else None)
        except RetryAfter as exc:
            return SendResult(Outcome.RETRY_AFTER, retry_after=retry_seconds(exc),
                              error=str(exc))
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
