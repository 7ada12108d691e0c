"""Membership changes: the bot blocked or added, a group upgraded to a supergroup."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ContextTypes

from bot.models import ChatKey
from handlers.replies import chat_type, services

_GONE = (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)


async def my_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was blocked, kicked or removed (inactive), or let back in (active again)."""
    change = update.my_chat_member
    kind = chat_type(update)
    if change is None or kind is None:
        return
    s = services(context)
    if change.new_chat_member.status in _GONE:
        await s.delivery.chat_unreachable(change.chat.id, f"bot {change.new_chat_member.status}")
    else:
        await s.chats.ensure(ChatKey(change.chat.id), kind, change.chat.title or "")
        await s.delivery.kick()


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its topics, settings and pending articles move along."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    await services(context).delivery.chat_moved(old, new)


async def any_private_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A chat that had blocked the bot is active again as soon as it writes to it."""
    chat = update.effective_chat
    if chat is None:
        return
    s = services(context)
    stored = await s.repo.get_chat(ChatKey(chat.id))
    if stored is not None and not stored.active:
        kind = chat_type(update)
        if kind is not None:
            await s.chats.ensure(stored.key, kind)
            await s.delivery.kick()
