"""Pacing below Telegram's limits.

About 30 messages/s overall, 1/s per private chat, 20/min per group or channel. A 429
for one chat delays that chat only; a global flood pauses everyone.

Why our own pacer and not PTB's ``AIORateLimiter``: that limiter has ``max_retries=0``, pauses
*all* sending on any RetryAfter, and has no per-private-chat pacing. Broadcasts go through this
pacer; interactive replies (command answers, vote toasts) bypass it so they are never stuck
behind a long broadcast, and the global rate leaves them headroom.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

GLOBAL_RATE = 28.0          # messages/s; Telegram allows about 30
PRIVATE_INTERVAL = 1.05     # seconds between messages to one private chat
GROUP_PER_MINUTE = 20       # messages in any 60 s window per group or channel
GROUP_WINDOW = 60.5


class Pacer:
    """Send slots: an evenly spaced global schedule and one schedule per chat."""

    def __init__(self, global_rate: float = GLOBAL_RATE,
                 private_interval: float = PRIVATE_INTERVAL,
                 group_per_minute: int = GROUP_PER_MINUTE,
                 monotonic: Callable[[], float] = time.monotonic,
                 group_window: float = GROUP_WINDOW) -> None:
        self._spacing = 1.0 / global_rate if global_rate > 0 else 0.0
        self._window_cap = int(global_rate)
        self._sent: deque[float] = deque()
        self._private = private_interval
        self._group_cap = group_per_minute
        self._group_window = group_window
        self._group_sends: dict[int, deque[float]] = {}
        self._now = monotonic
        self._next_global = 0.0
        self._next_chat: dict[int, float] = {}
        self._paused_until = 0.0

    def reserve_chat(self, chat_id: int, private: bool) -> float:
        """Reserve this chat's next slot; return how long until it."""
        now = self._now()
        chat_at = max(now, self._next_chat.get(chat_id, 0.0), self._paused_until)
        if private:
            self._next_chat[chat_id] = chat_at + self._private
        else:
            # Groups and channels have a budget per minute, not a spacing: a burst of replies
            # goes out at once, and the 21st message waits for the window to move on.
            sends = self._group_sends.setdefault(chat_id, deque())
            while sends and sends[0] <= chat_at - self._group_window:
                sends.popleft()
            if len(sends) >= self._group_cap:
                chat_at = max(chat_at, sends[-self._group_cap] + self._group_window)
            sends.append(chat_at)
        if len(self._next_chat) > 50_000:
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if len(self._group_sends) > 50_000:
            self._group_sends = {k: v for k, v in self._group_sends.items()
                                 if v and v[-1] > now - self._group_window}
        return chat_at - now

    def reserve_global(self) -> float:
        """Reserve the next global slot for a send that is ready now; return the wait."""
        now = self._now()
        slot = max(now, self._next_global, self._paused_until)
        self._next_global = slot + self._spacing
        return slot - now

    async def wait(self, chat_id: int, private: bool) -> None:
        """Sleep until this chat may be sent to and a global slot is free."""
        delay = self.reserve_chat(chat_id, private)
        if delay > 0:
            await asyncio.sleep(delay)
        # Global slots go only to sends that are ready, so one chat's later messages never
        # hold back other chats.
        delay = self.reserve_global()
        if delay > 0:
            await asyncio.sleep(delay)
        # Evenly spaced slots can still bunch when the event loop lags; a sliding one-second
        # window over the sends themselves keeps the burst under Telegram's count.
        for _ in range(1000):  # each round frees at least one slot; bounded for safety
            delay = self._window_wait()
            if delay <= 0:
                break
            await asyncio.sleep(delay)

    def _window_wait(self) -> float:
        if self._window_cap <= 0:
            return 0.0
        now = self._now()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        if len(self._sent) < self._window_cap:
            self._sent.append(now)
            return 0.0
        return self._sent[0] + 1.0 - now + 0.001

    def delay_chat(self, chat_id: int, seconds: float) -> None:
        """Honour a 429 ``retry_after`` for one chat."""
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0),
                                       self._now() + seconds)

    def pause_all(self, seconds: float) -> None:
        """Honour a global flood wait."""
        self._paused_until = max(self._paused_until, self._now() + seconds)
