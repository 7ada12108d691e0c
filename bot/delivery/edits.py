"""Edits of one message, coalesced so that the last edit carries the latest state.

Forty members pressing Yes within a second each triggered an edit of the same message with the
totals *they* saw. The edits raced over the network and an older one could land last: the
buttons settled on Yes (17) while 40 votes were stored. Here each message has at most one edit
in flight. Presses that arrive meanwhile only mark the message dirty, and the next edit reads
the state when it is made (the stored totals), not when it was asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

from bot.finishing import finish_or_cancel

log = logging.getLogger(__name__)

MAX_MESSAGES = 10_000  # messages with an edit pending; past it requests are dropped

Edit = Callable[[], Awaitable[None]]


class LatestEdits:
    """One edit at a time per key; requests during an edit collapse into one more edit."""

    def __init__(self, max_keys: int = MAX_MESSAGES) -> None:
        self._max_keys = max_keys
        self._next: dict[Hashable, Edit | None] = {}   # key -> edit to run after this one
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self.coalesced_total = 0

    def request(self, key: Hashable, edit: Edit) -> None:
        """Make ``edit`` (which must read the current state when it runs) for ``key``."""
        if key in self._tasks:
            if self._next.get(key) is not None:
                self.coalesced_total += 1
            self._next[key] = edit
            return
        if len(self._tasks) >= self._max_keys:
            self.coalesced_total += 1
            return
        self._next[key] = None
        self._tasks[key] = asyncio.create_task(self._run(key, edit), name="edit")

    async def _run(self, key: Hashable, edit: Edit | None) -> None:
        try:
            while edit is not None:
                try:
                    await edit()
                except Exception:
                    log.exception("message edit failed")
                edit = self._next.get(key)
                self._next[key] = None
        finally:
            self._tasks.pop(key, None)
            self._next.pop(key, None)

    async def close(self, grace: float = 2.0) -> None:
        """Let edits in flight finish for up to ``grace`` seconds, then cancel them."""
        await finish_or_cancel(list(self._tasks.values()), grace)
