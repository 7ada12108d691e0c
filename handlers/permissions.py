"""Who may change a chat: the user in private, admins in groups, the channel itself."""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

_ADMIN = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
_CACHE_SECONDS = 60.0
_CACHE_MAX = 10_000
_cache: dict[tuple[int, int], tuple[float, bool]] = {}


async def may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Tell whether the sender of this update may change the chat's settings."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    if chat.type == ChatType.CHANNEL and update.callback_query is None:
        # A channel post is written by the channel itself: only its admins can post.
        return update.channel_post is not None or update.edited_channel_post is not None
    # A button press under a channel post comes from whoever reads the channel: only the
    # channel's administrators may change it, as in groups.
    message = update.effective_message if update.callback_query is None else None
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
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()  # bounded: a flood of distinct users costs at most this many entries
    _cache[key] = (now, allowed)
    return allowed
