"""The leader lease on a real PostgreSQL: one leader at a time, fail-over, and fencing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bot.errors import StorageError
from bot.roles import LEADER, LeaderRole
from bot.storage.postgres import PostgresStore


class Duties:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def gain(self) -> None:
        self.events.append("gain")

    async def loss(self) -> None:
        self.events.append("loss")


@pytest.fixture
def stores(database_url: str) -> Iterator[list[PostgresStore]]:
    opened = [PostgresStore(database_url, lock="none") for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def role(store: PostgresStore, name: str, duties: Duties) -> LeaderRole:
    return LeaderRole(store, name, duties.gain, duties.loss, lease_seconds=1.5,
                      renew_seconds=0.2)


async def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_one_leader_and_a_standby_takes_over_when_it_goes(
        stores: list[PostgresStore]) -> None:
    a_duties, b_duties = Duties(), Duties()
    a, b = role(stores[0], "a", a_duties), role(stores[1], "b", b_duties)
    a.start()
    await wait_until(lambda: a.leading)
    b.start()
    await asyncio.sleep(1.0)
    assert not b.leading and not b.holds() and b_duties.events == []
    assert stores[2].lease_holder(LEADER) == "a"
    await a.stop()
    a.release()
    assert a_duties.events == ["gain", "loss"] and not a.holds()
    started = time.monotonic()
    await wait_until(lambda: b.leading)
    assert time.monotonic() - started < 1.0, "a released lease is taken at the next try"
    await b.stop()


async def test_a_dead_leader_is_replaced_when_its_lease_runs_out(
        stores: list[PostgresStore]) -> None:
    a, b = role(stores[0], "a", Duties()), role(stores[1], "b", Duties())
    a.start()
    await wait_until(lambda: a.leading)
    b.start()
    await a.stop()  # stops renewing, keeps the lease (as a killed process would)
    started = time.monotonic()
    await wait_until(lambda: b.leading, timeout=5.0)
    waited = time.monotonic() - started
    assert 0.8 < waited < 2.5, waited  # the lease's 1.5 s, then the next try
    await b.stop()


async def test_a_leader_that_cannot_renew_stops_sending_before_the_lease_can_pass(
        stores: list[PostgresStore]) -> None:
    duties = Duties()
    leader = role(stores[0], "a", duties)
    leader.renew()
    assert leader.holds()

    def broken(*_args: object) -> bool:
        raise StorageError("the database is away")

    leader.store.try_lease = broken  # type: ignore[method-assign]
    renewed = time.monotonic()
    while leader.holds():
        leader.renew()
        await asyncio.sleep(0.05)
    stepped_down = time.monotonic() - renewed
    assert stepped_down < leader.lease_seconds, "fenced before anyone may take over"
    assert stepped_down >= leader.step_down_seconds - 0.1
    other = role(stores[1], "b", Duties())
    other.renew()
    assert not other.holds(), "the lease itself has not run out yet"
    await asyncio.sleep(leader.lease_seconds - stepped_down + 0.1)
    other.renew()
    assert other.holds()
