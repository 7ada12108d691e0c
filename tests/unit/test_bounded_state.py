"""State keyed by user or chat id stays bounded, whatever the number of distinct senders."""

from __future__ import annotations

import asyncio
import tracemalloc

from bot.delivery.edits import LatestEdits
from bot.delivery.outbox import ReplyOutbox
from bot.delivery.pacing import Pacer
from handlers.throttle import Notices, TokenBuckets


def test_throttle_tables_stay_flat_for_100k_distinct_senders() -> None:
    buckets = TokenBuckets(burst=5, rate=1, limit=1_000)
    notices = Notices(limit=1_000)
    tracemalloc.start()
    try:
        for user in range(10_000):  # warm up to the cap
            buckets.allow(user, 0.0)
            notices.due(user, 0.0)
        warm, _ = tracemalloc.get_traced_memory()
        for user in range(10_000, 110_000):
            buckets.allow(user, 1.0)
            notices.due(user, 1.0)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(buckets) == 1_000 and len(notices) == 1_000
    assert after - warm < 200_000, "memory is flat once the cap is reached"


def test_bucket_rate_matches_a_private_chat() -> None:
    buckets = TokenBuckets(burst=5, rate=1)
    assert sum(buckets.allow(1, 0.0) for _ in range(20)) == 5
    assert sum(buckets.allow(1, 10.0) for _ in range(20)) == 5, "refills to the burst"
    allowed = sum(buckets.allow(1, 10.0 + t / 9) for t in range(1, 9 * 30))
    assert 28 <= allowed <= 31, "nine a second for 30 s gets about one a second"


async def test_outbox_keeps_at_most_three_replies_per_chat_and_forgets_idle_chats() -> None:
    outbox = ReplyOutbox(Pacer(private_interval=0.05), max_per_chat=3, max_chats=100)
    sent: list[int] = []

    def reply(n: int):  # type: ignore[no-untyped-def]
        async def send() -> float | None:
            sent.append(n)
            return None
        return send

    for n in range(50):  # a burst from one chat, faster than it may receive
        outbox.submit(1, True, reply(n))
    assert outbox.waiting(1) <= 3
    for chat in range(2, 400):  # many chats at once: bounded by max_chats
        outbox.submit(chat, True, reply(-chat))
    await outbox.close(grace=5.0)
    assert [n for n in sent if n >= 0] == [47, 48, 49], "the newest replies are kept"
    assert outbox.dropped_total == 47 + (398 - 99), "chat 1 holds one of the 100 places"
    assert not outbox._queues and not outbox._workers


async def test_latest_edits_run_once_more_with_the_latest_state() -> None:
    edits = LatestEdits()
    state = {"totals": 0}
    shown: list[int] = []
    gate = asyncio.Event()

    def edit():  # type: ignore[no-untyped-def]
        async def run() -> None:
            await gate.wait()
            shown.append(state["totals"])
        return run

    for total in range(1, 41):
        state["totals"] = total
        edits.request(("chat", 1), edit())
    gate.set()
    await edits.close(grace=2.0)
    assert shown[-1] == 40 and len(shown) == 2, "one edit in flight, one coalesced after it"
    assert edits.coalesced_total == 38
