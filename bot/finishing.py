"""Shutting down background work: let it finish for a while, then cancel or leave the rest."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable
from typing import Any

THREAD_POLL_SECONDS = 0.02


async def finish_or_cancel(tasks: Iterable[asyncio.Task[Any]], grace: float) -> None:
    """Wait up to ``grace`` seconds for ``tasks``; cancel those still running and reap them."""
    running = [task for task in tasks if not task.done()]
    if not running:
        return
    _done, pending = await asyncio.wait(running, timeout=grace)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has really ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def join_thread(thread: threading.Thread, grace: float) -> bool:
    """Wait up to ``grace`` seconds for ``thread`` to end without blocking the event loop.

    Polled rather than joined through the default executor, whose threads may all be busy
    (a stalled database call each) exactly when a shutdown needs one.

    Returns:
        Whether the thread ended.
    """
    deadline = time.monotonic() + grace
    while thread.is_alive() and time.monotonic() < deadline:  # noqa: ASYNC110 - a thread, not a task
        await asyncio.sleep(THREAD_POLL_SECONDS)
    return not thread.is_alive()
