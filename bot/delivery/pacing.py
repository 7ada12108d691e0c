"""Pacing below Telegram's limits.

About 30 messages/s overall, 1/s per private chat, 20/min per group or channel. A 429
for one chat delays that chat only; a global flood pauses everyone.

Why our own pacer and not PTB's ``AIORateLimiter``: that limiter has ``max_retries=0``, pauses
*all* sending on any RetryAfter, and has no per-private-chat pacing. Broadcasts go through this
pacer; interactive replies (command answers, vote toasts) bypass it so they are never stuck
behind a long broadcast, and the global rate leaves them headroom.

Telegram counts a message when it processes it, which is some time after we start the
request and before we see the answer. So the one-second window counts both the sends
*answered* in the last second and the sends still *in flight*: whatever delays requests on
the way (a busy event loop, the network, the server), no one-second window at the server can
hold more than the cap. Evenly spaced slots alone bunched up under load (54 answers of 429
in the 10,000-chat fan-out, and bursts after restarts in the soak).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

GLOBAL_RATE = 29.0          # messages/s; Telegram allows about 30
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
        self._answered: deque[float] = deque()   # when recent sends were answered
        self._in_flight = 0
        self._window_turn = asyncio.Lock()
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

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int, private: bool) -> AsyncIterator[None]:
        """Hold a send slot for one request: wait for it, then count it until answered."""
        await self.acquire(chat_id, private)
        try:
            yield
        finally:
            self.release(chat_id, private)

    async def acquire(self, chat_id: int, private: bool) -> None:
        """Sleep until this chat may be sent to and a global slot is free; take the slot."""
        delay = self.reserve_chat(chat_id, private)
        if delay > 0:
            await asyncio.sleep(delay)
        # Global slots go only to sends that are ready, so one chat's later messages never
        # hold back other chats.
        delay = self.reserve_global()
        if delay > 0:
            await asyncio.sleep(delay)
        # Evenly spaced slots can still bunch when the event loop lags; a sliding one-second
        # window over the sends themselves keeps the burst under Telegram's count. Senders
        # take their places in turn (the lock is first come, first served). No send may go
        # without a place: a bound on the rounds once let a sender that kept losing the race
        # to hundreds of others go anyway, and each one widened the window for good (166
        # answers of 429 in the 10,000-chat fan-out, one a second, all of the global limit).
        async with self._window_turn:
            while (delay := self._window_wait()) > 0:  # noqa: ASYNC110 - time frees it
                await asyncio.sleep(delay)

    def _window_wait(self) -> float:
        """Take a place in the one-second window (0.0) or say how long to wait for one."""
        if self._window_cap <= 0:
            self._in_flight += 1
            return 0.0
        now = self._now()
        while self._answered and self._answered[0] <= now - 1.0:
            self._answered.popleft()
        if len(self._answered) + self._in_flight < self._window_cap:
            self._in_flight += 1
            return 0.0
        if self._answered:
            return self._answered[0] + 1.0 - now + 0.001
        return 0.01  # every place is a request in flight: check again shortly

    def release(self, chat_id: int, private: bool) -> None:
        """A request was answered (or failed): it counts in the window one more second."""
        now = self._now()
        self._in_flight -= 1
        if self._window_cap > 0:
            self._answered.append(now)
        # The chat's own spacing also runs from the answer, not from the start.
        if private:
            self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0),
                                           now + self._private)
        else:
            sends = self._group_sends.get(chat_id)
            if sends:
                sends[-1] = max(sends[-1], now)

    def delay_chat(self, chat_id: int, seconds: float) -> None:
        """Honour a 429 ``retry_after`` for one chat."""
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0),
                                       self._now() + seconds)

    def pause_all(self, seconds: float) -> None:
        """Honour a global flood wait."""
        self._paused_until = max(self._paused_until, self._now() + seconds)
