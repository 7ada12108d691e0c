"""Per-user throttling, so one flooding user can't starve everyone else.

A token bucket per user: bursts of up to ``BURST`` updates, then ``RATE`` per second. A person
(or a script waiting for each reply) never reaches it; a flood of 1,000 presses a second is
cut to ``RATE`` and gets one polite notice a minute.
"""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.texts import text, ui_language_of

BURST = 100.0
RATE = 10.0          # updates per second once the burst is spent
NOTICE_EVERY = 60.0  # at most one polite notice a minute

_buckets: dict[int, tuple[float, float]] = {}  # user id -> (tokens, last refill)
_noticed: dict[int, float] = {}


def allow(user_id: int, now: float) -> bool:
    """Take one token from the user's bucket; False when it is empty."""
    tokens, last = _buckets.get(user_id, (BURST, now))
    tokens = min(BURST, tokens + (now - last) * RATE)
    if tokens < 1.0:
        _buckets[user_id] = (tokens, now)
        return False
    _buckets[user_id] = (tokens - 1.0, now)
    if len(_buckets) > 100_000:
        _buckets.clear()
    return True


async def throttle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop handling updates of a user who sent too many; say so at most once a minute."""
    user = update.effective_user
    if user is None:
        return
    now = time.monotonic()
    if allow(user.id, now):
        return
    if now - _noticed.get(user.id, -NOTICE_EVERY) >= NOTICE_EVERY:
        _noticed[user.id] = now
        lang = ui_language_of(user.language_code)
        if update.callback_query is not None:
            await update.callback_query.answer(text("busy", lang))
        elif update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, text("busy", lang))
    elif update.callback_query is not None:
        await update.callback_query.answer()
    raise ApplicationHandlerStop
