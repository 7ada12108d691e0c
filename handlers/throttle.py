"""Per-user throttling, so one flooding user can't starve everyone else.

A token bucket per user and kind of update, sized to what the chat can take:

* commands and other messages: each may get a reply, and a private chat receives one message
  a second (Telegram's limit), so a user gets ``MESSAGE_BURST`` at once and then
  ``MESSAGE_RATE`` a second. A person typing never reaches it.
* button presses: answered with a toast, which Telegram does not count against the chat, and
  edits that are coalesced per message; so a larger budget.

Past the budget, updates are dropped here, before any storage or Bot API work, with one polite
notice a minute. Both tables are bounded: a flood of distinct senders can't grow them.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.texts import text, ui_language_of
from handlers.replies import reply

MESSAGE_BURST = 5.0
MESSAGE_RATE = 1.0        # per second: a private chat's own delivery limit
PRESS_BURST = 30.0
PRESS_RATE = 4.0
NOTICE_EVERY = 60.0       # at most one polite notice a minute
MAX_TRACKED = 100_000     # users per table; the least recently seen are forgotten first


class TokenBuckets:
    """Token buckets keyed by user id, least recently used first, at most ``limit`` of them."""

    def __init__(self, burst: float, rate: float, limit: int = MAX_TRACKED) -> None:
        self.burst = burst
        self.rate = rate
        self.limit = limit
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: int, now: float) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.limit:
            # The oldest entry is the one that has waited longest: its bucket is the fullest
            # (a forgotten user starts with a full bucket, which costs nothing but a burst).
            self._buckets.popitem(last=False)
        return allowed


class Notices:
    """When each user was last told to slow down; bounded like the buckets."""

    def __init__(self, every: float = NOTICE_EVERY, limit: int = MAX_TRACKED) -> None:
        self.every = every
        self.limit = limit
        self._last: OrderedDict[int, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._last)

    def due(self, key: int, now: float) -> bool:
        """True (and recorded) when ``key`` may be told again."""
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last.pop(key, None)
        self._last[key] = now
        while len(self._last) > self.limit:
            self._last.popitem(last=False)
        return True


messages = TokenBuckets(MESSAGE_BURST, MESSAGE_RATE)
presses = TokenBuckets(PRESS_BURST, PRESS_RATE)
notices = Notices()


async def throttle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop handling updates of a user who sent too many; say so at most once a minute."""
    user = update.effective_user
    if user is None:
        return
    now = time.monotonic()
    query = update.callback_query
    if (presses if query is not None else messages).allow(user.id, now):
        return
    lang = ui_language_of(user.language_code)
    if query is not None:
        # Every press must be answered, or the client shows a spinner; a toast is not a
        # chat message and costs the chat nothing.
        await query.answer(text("busy", lang) if notices.due(user.id, now) else None)
    elif notices.due(user.id, now):
        await reply(update, context, text("busy", lang))  # through the chat's outbox
    raise ApplicationHandlerStop
