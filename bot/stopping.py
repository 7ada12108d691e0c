"""SIGTERM and SIGINT for ``newsbot run``: taken by a thread of their own, with a hard deadline.

Why a thread: asyncio runs a signal's callback only when its loop gets back to the selector.
A leader busy with a fan-out, or a call stalled on a database that went away, kept the stop
(and the deadline that bounds it) waiting: the 3-process soak saw a SIGTERM take 12.1 s. Here
the signals are blocked in every thread and one thread waits for them with ``sigwait``, so a
stop is seen at once and the deadline counts from the signal, whatever the loop is doing.

Why a deadline: every step of the shutdown has its own bound, but on an overloaded machine
their sum can pass the 10 s the contract gives. Everything acknowledged is already durable
(each write returns after its fsync or commit), so the last resort loses at most the "sent"
mark of a message in flight, as a kill would.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing import resource_tracker

log = logging.getLogger(__name__)

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def exit_now() -> None:
    """End the process at once with status 0, after flushing the log."""
    log.warning("shutdown took too long; exiting now (everything acknowledged is stored)")
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(0)


def unblock_stop_signals() -> None:
    """Let this process's own SIGTERM/SIGINT act again (a child inherits the blocked mask)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class StopSignals:
    """The process's stop requests, seen by a waiting thread whatever the main thread does.

    Args:
        deadline: Seconds from the first signal after which the process exits regardless.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._lock = threading.Lock()
        self._requested = False
        self._callback: Callable[[], None] | None = None

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived."""
        with self._lock:
            return self._requested

    def install(self) -> None:
        """Block the signals in this thread and those it starts; wait for them on a thread.

        Call it before any other thread starts: a thread started earlier keeps its own
        mask, and the kernel may hand it the signal, whose default action ends the process.
        """
        # multiprocessing starts its resource tracker (for the ingest workers) with these
        # signals blocked and then *unblocks* them in the calling thread, whatever they were
        # before: started later, it would give the main thread SIGTERM's default action
        # back. Started now, it is already running when the workers come.
        resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        threading.Thread(target=self._wait, daemon=True, name="stop-signals").start()

    def when_requested(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the signal thread) on a stop; at once if one came already."""
        with self._lock:
            self._callback = callback
            requested = self._requested
        if requested:
            callback()

    def _wait(self) -> None:
        while True:
            signal.sigwait(STOP_SIGNALS)
            with self._lock:
                first = not self._requested
                self._requested = True
                callback = self._callback
            if not first:
                continue  # the deadline already runs
            timer = threading.Timer(self.deadline, exit_now)
            timer.daemon = True
            timer.start()
            if callback is not None:
                try:
                    callback()
                except Exception:  # the loop may be closing: the deadline still holds
                    log.exception("stop request not delivered to the bot")
