"""/stats for the configured admins."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.texts import Markup, text
from handlers.replies import reply, services, ui_language


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Tell whether the sender is one of the configured bot admins."""
    user = update.effective_user
    return user is not None and user.id in services(context).settings.telegram.admins


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: subscribers, topics, feeds with health, articles, votes."""
    lang = await ui_language(update, context)
    if not is_admin(update, context):
        await reply(update, context, text("admins_only", lang))
        return
    snap = await services(context).stats.snapshot()
    types = ", ".join(f"{k} {v}" for k, v in sorted(snap.active_by_type.items())) or "—"
    followers = ", ".join(f"{k} {v}" for k, v in snap.followers.items()) or "—"
    deliveries = ", ".join(f"{k} {v}" for k, v in sorted(snap.deliveries.items())) or "—"
    feed_lines = []
    for feed in snap.feeds[:40]:
        error = f": {feed.error[:80]}" if feed.error else ""
        feed_lines.append(text("stats_feed", lang, status="✅" if feed.ok else "⚠️", name=feed.name,
                               ok=feed.last_success, failures=feed.failures, error=error))
    await reply(update, context, text(
        "stats", lang, chats=sum(snap.active_by_type.values()), types=types, inactive=snap.inactive,
        followers=followers, articles=snap.articles, articles_day=snap.articles_day,
        votes=snap.votes, deliveries=deliveries,
        feeds=Markup("\n".join(feed_lines) or "—")))
