"""Who does what when several processes run as one bot: leases held in the store.

A lease is a row in the store naming its holder until a time set by the database's clock
(``Repository.try_lease``). The holder renews it well before it runs out; a process that
dies stops renewing and another takes the lease over once it has expired. On a data folder
there is only ever one process, so every lease is granted at once.

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
import time
from collections.abc import Awaitable, Callable

from bot.errors import StorageError
from bot.storage.base import Repository

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

    Args:
        repo: The store the lease lives in.
        holder: This process's name.
        on_gain: Start the leader's duties (called once per gain).
        on_loss: Stop them (called once per loss, and at ``stop`` while leading).
    """

    def __init__(self, repo: Repository, holder: str, on_gain: Duty, on_loss: Duty, *,
                 lease_seconds: float = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS) -> None:
        self.repo = repo
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
        self._renewed_at = 0.0   # monotonic time just before the last successful renewal
        self._task: asyncio.Task[None] | None = None
        self._announced_standby = False

    def start(self) -> None:
        """Begin trying for the lease (the first try is immediate)."""
        self._task = asyncio.create_task(self._run(), name="leader-role")

    async def _run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(self.renew_seconds)

    async def step(self) -> None:
        """One try to take or renew the lease, then gain or lose the role accordingly."""
        asked_at = time.monotonic()
        try:
            held = self.repo.try_lease(LEADER, self.holder, self.lease_seconds)
        except StorageError:
            # The store is away. Keep leading while the lease surely still holds; after that
            # another process may have it.
            held = None
        if held:
            self._renewed_at = asked_at
            if not self.leading:
                self.leading = True
                log.info("leading: updates, sending and the schedule are this process's",
                         extra={"holder": self.holder})
                try:
                    await self.on_gain()
                except Exception:
                    # Half a leader is none: give the lease back and try again next round.
                    log.exception("taking the leader role failed; trying again")
                    self.leading = False
                    await self._call(self.on_loss, "giving up the leader role failed")
                    with contextlib.suppress(StorageError):
                        self.repo.release_lease(LEADER, self.holder)
            return
        if not self.leading:
            if held is False and not self._announced_standby:
                self._announced_standby = True
                log.info("standing by: another process leads",
                         extra={"holder": self.holder})
            return
        if held is None and time.monotonic() - self._renewed_at < self.step_down_seconds:
            return
        self.leading = False
        self._announced_standby = False
        log.warning("leader role lost; standing by", extra={"holder": self.holder})
        await self._call(self.on_loss, "giving up the leader role failed")

    async def _call(self, duty: Duty, problem: str) -> None:
        try:
            await duty()
        except Exception:
            log.exception(problem)

    async def stop(self) -> None:
        """Stop trying, and stop the role's duties (the lease is kept until ``release``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leading:
            self.leading = False
            await self._call(self.on_loss, "giving up the leader role failed")

    def release(self) -> None:
        """Give the lease up, so a standby leads within one of its tries.

        Called after in-flight sends are settled: a standby that took over earlier could
        send a delivery this process is still sending.
        """
        with contextlib.suppress(StorageError):
            self.repo.release_lease(LEADER, self.holder)
