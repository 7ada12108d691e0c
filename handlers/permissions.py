"""Who may change a chat: the user in private, admins in groups, the channel itself."""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

_ADMIN = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
_CACHE_SECONDS = 60.0
_cache: dict[tuple[int, int], tuple[float, bool]] = {}


async def may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Tell whether the sender of this update may change the chat's settings."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return True
    message = update.effective_message
    # Anonymous admins post "as the group": the sender chat is the group itself.
    if message is not None and message.sender_chat is not None \
            and message.sender_chat.id == chat.id:
        return True
    user = update.effective_user
    if user is None:
        return False
    key = (chat.id, user.id)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        return False
    allowed = member.status in _ADMIN
    _cache[key] = (now, allowed)
    if len(_cache) > 10_000:
        _cache.clear()
    return allowed
