"""Replies to commands, sent in the background so no update waits for its chat's pacer slot.

A handler that awaited its reply's send slot held one of PTB's concurrent update slots for as
long as the chat's pacing made it wait. One user sending /help nine times a second filled every
slot with such waits, and other users' commands and votes queued behind them for minutes.
Now a handler hands its reply to this outbox and returns at once. Each chat has one worker
that sends its replies in order through the shared pacer, and at most ``MAX_PER_CHAT`` replies
wait per chat: a flooding chat's extra replies are dropped (the newest kept), never queued
without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.delivery.pacing import Pacer
from bot.finishing import finish_or_cancel

log = logging.getLogger(__name__)

MAX_PER_CHAT = 3          # replies waiting per chat; a person never has more in flight
MAX_CHATS = 10_000        # chats with waiting replies; past it new replies are dropped
MAX_ATTEMPTS = 3          # a reply answered with 429 is tried again this often

# A send returns None when done, or the seconds Telegram asked us to wait (429).
Send = Callable[[], Awaitable[float | None]]


@dataclass(slots=True)
class _Reply:
    send: Send
    attempts: int = 0


class ReplyOutbox:
    """Per-chat queues of replies, each drained by one background task."""

    def __init__(self, pacer: Pacer, max_per_chat: int = MAX_PER_CHAT,
                 max_chats: int = MAX_CHATS) -> None:
        self._pacer = pacer
        self._max_per_chat = max_per_chat
        self._max_chats = max_chats
        self._queues: dict[int, deque[_Reply]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._closing = False
        self.dropped_total = 0
        self.sent_total = 0

    def submit(self, chat_id: int, private: bool, send: Send) -> bool:
        """Queue a reply for ``chat_id``; False when it was dropped (chat flooding, closing).

        When the chat already has ``max_per_chat`` replies waiting, the oldest waiting one is
        dropped: the newest answer is the one the user is looking for.
        """
        if self._closing:
            return False
        queue = self._queues.get(chat_id)
        if queue is None:
            if len(self._queues) >= self._max_chats:
                self.dropped_total += 1
                return False
            queue = self._queues[chat_id] = deque()
        if len(queue) >= self._max_per_chat:
            queue.popleft()
            self.dropped_total += 1
        queue.append(_Reply(send))
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._drain(chat_id, private),
                                                         name=f"replies-{chat_id}")
        return True

    def waiting(self, chat_id: int) -> int:
        """Replies waiting for ``chat_id``."""
        return len(self._queues.get(chat_id, ()))

    async def _drain(self, chat_id: int, private: bool) -> None:
        try:
            queue = self._queues.get(chat_id)
            while queue:
                reply = queue[0]
                try:
                    async with self._pacer.slot(chat_id, private):
                        wait = await reply.send()
                except Exception:
                    log.exception("reply not sent", extra={"chat": chat_id})
                    wait = None
                if wait is not None and reply.attempts + 1 < MAX_ATTEMPTS:
                    reply.attempts += 1
                    self._pacer.delay_chat(chat_id, wait)
                    continue
                if queue and queue[0] is reply:
                    queue.popleft()
                    if wait is None:
                        self.sent_total += 1
        finally:
            self._workers.pop(chat_id, None)
            if not self._queues.get(chat_id):
                self._queues.pop(chat_id, None)

    async def close(self, grace: float = 2.0) -> None:
        """Stop taking replies; give those waiting ``grace`` seconds, then cancel them."""
        self._closing = True
        await finish_or_cancel(list(self._workers.values()), grace)
