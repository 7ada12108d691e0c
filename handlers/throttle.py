"""Per-user throttling, so one flooding user can't starve everyone else."""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.texts import text

WINDOW = 10.0        # seconds
MAX_UPDATES = 20     # per user per window
NOTICE_EVERY = 60.0  # at most one polite notice a minute

_hits: dict[int, list[float]] = {}
_noticed: dict[int, float] = {}


async def throttle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop handling updates of a user who sent too many; say so at most once a minute."""
    user = update.effective_user
    if user is None:
        return
    now = time.monotonic()
    hits = [t for t in _hits.get(user.id, []) if now - t < WINDOW]
    hits.append(now)
    _hits[user.id] = hits
    if len(_hits) > 50_000:
        _hits.clear()
    if len(hits) <= MAX_UPDATES:
        return
    if now - _noticed.get(user.id, 0.0) >= NOTICE_EVERY:
        _noticed[user.id] = now
        if update.callback_query is not None:
            await update.callback_query.answer(text("busy"))
        elif update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, text("busy"))
    elif update.callback_query is not None:
        await update.callback_query.answer()
    raise ApplicationHandlerStop
