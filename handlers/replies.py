"""How handlers answer: HTML, no link previews, into the thread the command came from."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter
from telegram.ext import ContextTypes

from bot.delivery.sender import retry_seconds
from bot.errors import StorageError
from bot.models import ChatKey, ChatType
from bot.render import utf16_len
from bot.services import SERVICES_KEY, Services
from bot.texts import ui_language_of

MAX_REPLY = 4000


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services built at start-up."""
    found = context.application.bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found


def chat_key(update: Update) -> ChatKey | None:
    """The chat (or forum thread) an update belongs to."""
    chat = update.effective_chat
    if chat is None:
        return None
    message = update.effective_message
    thread = 0
    if message is not None and message.is_topic_message and message.message_thread_id:
        thread = message.message_thread_id
    return ChatKey(chat.id, thread)


def chat_type(update: Update) -> ChatType | None:
    """Our chat type of an update's chat, or None for types we don't serve."""
    chat = update.effective_chat
    try:
        return ChatType(chat.type) if chat is not None else None
    except ValueError:
        return None


async def ui_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The chat's chosen UI language, else the user's Telegram language."""
    key = chat_key(update)
    try:
        chat = await services(context).repo.get_chat(key) if key is not None else None
    except StorageError:
        chat = None  # the store is away: answer in the user's own language meanwhile
    if chat is not None and chat.ui_language:
        return chat.ui_language
    user = update.effective_user
    return ui_language_of(user.language_code) if user else None


def command_args(update: Update) -> str:
    """Everything after the command word (quotes and spacing kept)."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message is not None else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE, html_text: str,
                markup: InlineKeyboardMarkup | None = None) -> None:
    """Queue an HTML answer to the chat (and thread) of the update, and return at once.

    The reply goes out through the chat's outbox (bot/delivery/outbox.py): its pacer wait
    never holds this update's handler slot, and a flooding chat's extra replies are dropped.
    """
    key = chat_key(update)
    if key is None:
        return
    if utf16_len(html_text) > MAX_REPLY:
        html_text = html_text[:MAX_REPLY].rsplit("\n", 1)[0]
    chat = update.effective_chat
    private = chat is not None and chat.type == "private"
    bot = context.bot

    async def send() -> float | None:
        try:
            await bot.send_message(
                key.chat_id, html_text, parse_mode=ParseMode.HTML, reply_markup=markup,
                message_thread_id=key.thread_id or None,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as exc:
            return retry_seconds(exc)
        except Forbidden:
            return None  # blocked or removed: membership updates record it
        return None

    services(context).outbox.submit(key.chat_id, private, send)

