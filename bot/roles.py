"""Who does what when several processes run as one bot: leases held in the store.

A lease is a row in the store naming its holder until a time set by the database's clock
(``SyncStore.try_lease``, on a connection of its own). The holder renews it well before it
runs out; a process that dies stops renewing and another takes the lease over once it has
expired. On a data folder there is only ever one process, so every lease is granted at once.

``LeaderRole`` is the single-holder role of a bot: calling ``getUpdates`` (or registering the
webhook), sending deliveries and digests, and the periodic jobs. Only one process holds it so
that Telegram's limits, which count per token, are kept by one pacer, and so that one process
at a time sends to a chat. Feed polls are leased feed by feed (``bot/app.py``), so every
ingest-capable process shares them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable

from bot.errors import StorageError
from bot.finishing import cancel_and_wait, join_thread
from bot.storage.core import SyncStore

log = logging.getLogger(__name__)

LEADER = "leader"
# A killed leader's lease runs out after LEASE_SECONDS; standbys try every RENEW_SECONDS, so
# one takes over within LEASE_SECONDS + RENEW_SECONDS (18 s, under the contract's 30 s).
LEASE_SECONDS = 15.0
RENEW_SECONDS = 3.0


def process_name() -> str:
    """A name for this process in leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


Duty = Callable[[], Awaitable[None]]
# What ``newsbot run --role`` may ask a process to do: ``ingest`` polls, extracts, summarizes
# and stores (its articles' deliveries included); ``bot`` handles updates and sends; ``all``
# does both.
ROLES = ("all", "ingest", "bot")


class LeaderRole:
    """Takes the leader lease when it is free, keeps it renewed, and steps down when lost.

    The lease is renewed by a thread of its own, on a store connection of its own: a busy
    event loop (thousands of chats to look up on a database) must not let the lease run out
    under a leader that is still sending. The event loop only follows what the thread saw,
    and every send asks ``holds()`` first, so a leader whose renewals failed stops sending
    before the lease can pass to another process.

    Args:
        store: The store the lease lives in, used only by the lease thread (its own
            connection on a database; a data folder's store may be shared).
        holder: This process's name.
        on_gain: Start the leader's duties (called once per gain).
        on_loss: Stop them (called once per loss, and at ``stop`` while leading).
    """

    def __init__(self, store: SyncStore, holder: str, on_gain: Duty, on_loss: Duty, *,
                 lease_seconds: float = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS) -> None:
        self.store = store
        self.holder = holder
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        # A leader that could not renew for this long stops acting as one before its lease
        # can run out, so two processes never both believe they lead (the database's clock
        # decides expiry; this process measures from before its last successful renewal).
        self.step_down_seconds = lease_seconds - 2 * renew_seconds
        self.leading = False
        self._lock = threading.Lock()
        self._held = False        # the last answer was "yours"
        self._refused = False     # the last answer was "another process's"
        self._renewed_at = 0.0    # monotonic time just before the last successful renewal
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None
        self._announced_standby = False

    def holds(self) -> bool:
        """Whether this process may act as the leader at this moment (asked before sends)."""
        if not self.store.shared:
            return True  # one process owns a data folder: nobody to step down for
        with self._lock:
            return self._held and time.monotonic() - self._renewed_at < self.step_down_seconds

    def start(self) -> None:
        """Begin trying for the lease (the first try is immediate)."""
        loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        changed = self._changed
        self._thread = threading.Thread(target=self._keep, args=(loop, changed), daemon=True,
                                        name="leader-lease")
        self._thread.start()
        self._task = asyncio.create_task(self._follow(), name="leader-role")

    def _keep(self, loop: asyncio.AbstractEventLoop, changed: asyncio.Event) -> None:
        """The lease thread: take or renew every ``renew_seconds`` until stopped."""
        while not self._stopping.is_set():
            self.renew()
            with contextlib.suppress(RuntimeError):  # the loop closed: we are stopping
                loop.call_soon_threadsafe(changed.set)
            self._stopping.wait(self.renew_seconds)

    def renew(self) -> None:
        """One try to take or renew the lease (the lease thread's step; tests call it)."""
        asked_at = time.monotonic()
        try:
            held: bool | None = self.store.try_lease(LEADER, self.holder, self.lease_seconds)
        except StorageError:
            held = None  # the store is away: the lease holds until it would run out
        with self._lock:
            if held:
                self._held, self._refused, self._renewed_at = True, False, asked_at
            elif held is False:
                self._held, self._refused = False, True

    async def _follow(self) -> None:
        assert self._changed is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.renew_seconds)
            self._changed.clear()
            await self.step()

    async def step(self) -> None:
        """Gain or lose the role according to the lease as the thread last saw it."""
        if self.holds():
            if not self.leading:
                self.leading = True
                self._announced_standby = False
                log.info("leading: updates, sending and the schedule are this process's",
                         extra={"holder": self.holder})
                try:
                    await self.on_gain()
                except Exception:
                    # Half a leader is none: give the role back and try again next round.
                    log.exception("taking the leader role failed; trying again")
                    self.leading = False
                    await self._call(self.on_loss, "giving up the leader role failed")
            return
        if self.leading:
            self.leading = False
            log.warning("leader role lost; standing by", extra={"holder": self.holder})
            await self._call(self.on_loss, "giving up the leader role failed")
        elif self._refused and not self._announced_standby:
            self._announced_standby = True
            log.info("standing by: another process leads", extra={"holder": self.holder})

    async def _call(self, duty: Duty, problem: str) -> None:
        try:
            await duty()
        except Exception:
            log.exception(problem)

    async def stop(self) -> None:
        """Stop trying, and stop the role's duties (the lease is kept until ``release``)."""
        self._stopping.set()
        await cancel_and_wait(self._task)
        self._task = None
        if self._thread is not None:
            # The lease thread wakes at once from its wait; at most one try is in flight.
            await join_thread(self._thread, 2.0)
            self._thread = None
        if self.leading:
            self.leading = False
            await self._call(self.on_loss, "giving up the leader role failed")

    def release(self) -> None:
        """Give the lease up, so a standby leads within one of its tries.

        Called after in-flight sends are settled: a standby that took over earlier could
        send a delivery this process is still sending.
        """
        with self._lock:
            self._held = False
        with contextlib.suppress(StorageError):
            self.store.release_lease(LEADER, self.holder)
