"""The outcome policy: pure, then carried out with a scripted sender on both real backends."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chats import ChatService
from bot.clock import FakeClock
from bot.delivery.outcome import (
    MAX_ATTEMPTS,
    MAX_BACKOFF_SECONDS,
    ChatChange,
    Outcome,
    SendResult,
    Tally,
    settle,
)
from bot.delivery.pacing import Pacer
from bot.delivery.queue import DeliveryService
from bot.models import ChatKey, ChatType, DeliveryStatus, ImageMode
from bot.render import Rendered
from bot.settings import load_settings
from tests.builders import T0, article, chat, delivery
from tests.conftest import Opener, write_config

NOW = T0 + timedelta(hours=1)


# ------------------------------------------------------------------ the pure policy
def test_a_sent_message_is_marked_sent_durably_before_the_next() -> None:
    d = delivery("a1", 1, attempts=2)
    done = settle(SendResult(Outcome.SENT, message_id=77), [d], NOW)
    [mark] = done.records
    assert (mark.status, mark.message_id, mark.sent_at, mark.attempts) == (
        DeliveryStatus.SENT, 77, NOW, 3)
    assert done.go_on and done.tally is Tally.SENT
    assert done.chat is ChatChange.NONE and done.retry_in is None


def test_a_429_holds_the_chat_for_its_retry_after_and_writes_nothing() -> None:
    done = settle(SendResult(Outcome.RETRY_AFTER, retry_after=7.0), [delivery("a1")], NOW)
    assert (done.records, done.go_on, done.hold_chat, done.retry_in, done.backoff) == (
        (), False, 7.0, 7.0, False)
    tiny = settle(SendResult(Outcome.RETRY_AFTER, retry_after=0.0), [delivery("a1")], NOW)
    assert tiny.hold_chat == 1.0, "never retried at once"


@pytest.mark.parametrize(("result", "change"), [
    (SendResult(Outcome.FORBIDDEN, error="Forbidden: bot was blocked by the user"),
     ChatChange.UNREACHABLE),
    (SendResult(Outcome.CHAT_GONE, error="Bad Request: chat not found"), ChatChange.UNREACHABLE),
    (SendResult(Outcome.THREAD_GONE, error="Bad Request: message thread not found"),
     ChatChange.THREAD_GONE),
    (SendResult(Outcome.MIGRATED, new_chat_id=-1009), ChatChange.MOVED),
])
def test_answers_about_the_chat_change_the_chat_not_the_delivery(
        result: SendResult, change: ChatChange) -> None:
    done = settle(result, [delivery("a1")], NOW)
    assert done.chat is change and done.records == () and not done.go_on
    assert done.moved_to == (-1009 if change is ChatChange.MOVED else None)


def test_a_rejected_message_is_dropped_with_its_reason_and_the_chat_goes_on() -> None:
    done = settle(SendResult(Outcome.REJECTED, error="x" * 500), [delivery("a1"), delivery("a2")],
                  NOW)
    assert [d.status for d in done.records] == [DeliveryStatus.DROPPED] * 2
    assert len(done.records[0].error) == 200 and done.go_on and done.tally is Tally.FAILED


def test_transient_failures_back_off_exponentially_then_give_up() -> None:
    first = settle(SendResult(Outcome.TRANSIENT, error="502"), [delivery("a1")], NOW)
    assert first.records[0].status is DeliveryStatus.PENDING and first.records[0].attempts == 1
    assert (first.retry_in, first.backoff, first.tally) == (2.0, True, Tally.RETRIED)
    fifth = settle(SendResult(Outcome.TRANSIENT), [delivery("a1", attempts=4)], NOW)
    assert fifth.retry_in == 32.0
    late = settle(SendResult(Outcome.TRANSIENT), [delivery("a1", attempts=12)], NOW)
    assert late.retry_in == MAX_BACKOFF_SECONDS
    last = settle(SendResult(Outcome.TRANSIENT), [delivery("a1", attempts=MAX_ATTEMPTS - 1)], NOW)
    assert last.records[0].status is DeliveryStatus.DROPPED and last.retry_in is None
    assert last.tally is Tally.FAILED
    no_id = settle(SendResult(Outcome.MIGRATED), [delivery("a1")], NOW)
    assert no_id.chat is ChatChange.NONE and no_id.retry_in == 2.0, \
        "a migration without its new id is retried, not lost"


# ------------------------------------------------------------------ carried out on storage
@dataclass
class ScriptedSender:
    """Answers each chat's sends from a script (then SENT), and records what was sent."""

    script: dict[int, list[SendResult]]
    sent: list[tuple[ChatKey, str]] = field(default_factory=list)
    next_id: int = 1000

    async def send(self, key: ChatKey, message: Rendered, *, image_url: str | None = None,
                   image_mode: ImageMode = ImageMode.OFF, caption: Rendered | None = None,
                   link_url: str | None = None) -> SendResult:
        self.sent.append((key, message.html))
        answers = self.script.get(key.chat_id)
        if answers:
            return answers.pop(0)
        self.next_id += 1
        return SendResult(Outcome.SENT, message_id=self.next_id)


async def send_until_idle(service: DeliveryService, sender: ScriptedSender, *,
                          rounds: int) -> None:
    """Start the chats' workers with ``sender`` and wait (20 ms a round) until all are done."""
    service.sender = sender
    await service.kick()
    for _ in range(rounds):
        await asyncio.sleep(0.02)
        if not any(not t.done() for t in service._workers.values()):
            break
    await service.shutdown(1.0)


async def test_each_outcome_leaves_storage_as_the_policy_says(open_store: Opener,
                                                             tmp_path: Path) -> None:
    repo = open_store()
    clock = FakeClock(NOW)
    settings = load_settings(write_config(tmp_path, []), env={})
    chats = ChatService(repo, settings, clock)
    service = DeliveryService(repo, settings, clock, chats,
                              Pacer(global_rate=500, private_interval=0.01, group_per_minute=1000))
    group = ChatType.SUPERGROUP
    for c in (chat(1), chat(-2, type=group), chat(-2, type=group, key=ChatKey(-2, 5)),
              chat(-3, type=group), chat(4)):
        await repo.put_chat(c)
    a, b, c = (article(title=f"Story {n}") for n in range(3))
    for x in (a, b, c):
        await repo.add_article(x)
    await repo.add_deliveries([delivery(x.id, 1) for x in (a, b, c)] + [
        delivery(a.id, -2), delivery(a.id, -2, chat=ChatKey(-2, 5)),
        delivery(a.id, -3), delivery(b.id, -3), delivery(a.id, 4)])
    sender = ScriptedSender({
        1: [SendResult(Outcome.SENT, message_id=11),
            SendResult(Outcome.REJECTED, error="Bad Request: can't parse entities")],
        -2: [SendResult(Outcome.FORBIDDEN, error="Forbidden: bot was kicked")] * 2,
        -3: [SendResult(Outcome.MIGRATED, new_chat_id=-300)],
        4: [SendResult(Outcome.TRANSIENT, error="Bad Gateway")],
    })
    await send_until_idle(service, sender, rounds=200)

    async def status(article_id: str, key: ChatKey) -> tuple[DeliveryStatus, int | None] | None:
        found = await repo.get_delivery(article_id, key)
        return None if found is None else (found.status, found.message_id)

    assert await status(a.id, ChatKey(1)) == (DeliveryStatus.SENT, 11)
    assert await status(b.id, ChatKey(1)) == (DeliveryStatus.DROPPED, None), "rejected: dropped"
    assert (await status(c.id, ChatKey(1)))[0] is DeliveryStatus.SENT, "and the chat went on"
    for key in (ChatKey(-2), ChatKey(-2, 5)):
        stored = await repo.get_chat(key)
        assert stored is not None and not stored.active, "every thread of a kicked chat"
        assert await status(a.id, key) == (DeliveryStatus.DROPPED, None)
    assert sum(k.chat_id == -2 for k, _ in sender.sent) == 1, "nothing more after the 403"
    assert await repo.threads_of(-3) == [] and await repo.get_chat(ChatKey(-300)) is not None
    assert [(await status(x.id, ChatKey(-300)))[0] for x in (a, b)] == [DeliveryStatus.SENT] * 2, \
        "a migrated group's pending articles go to its new id"
    retried = await repo.get_delivery(a.id, ChatKey(4))
    assert retried is not None and retried.status is DeliveryStatus.PENDING
    assert (retried.attempts, retried.error) == (1, "Bad Gateway")
    assert (service.sent_total, service.failed_total, service.retried_total) == (4, 1, 1)


async def test_a_backlog_longer_than_a_page_goes_out_whole_and_in_order(
        open_store: Opener, tmp_path: Path) -> None:
    # The sender reads a chat's backlog PENDING_PAGE at a time: every page must follow, in
    # the order the articles came, with one rejected on the way (it leaves the backlog too).
    from bot.delivery.queue import PENDING_PAGE  # noqa: PLC0415

    repo = open_store()
    clock = FakeClock(NOW)
    settings = load_settings(write_config(tmp_path, []), env={})
    service = DeliveryService(repo, settings, clock, ChatService(repo, settings, clock),
                              Pacer(global_rate=5000, private_interval=0.0005,
                                    group_per_minute=1000))
    await repo.put_chat(chat(1))
    backlog = [article(title=f"Story {n:03d}") for n in range(PENDING_PAGE * 2 + 7)]
    for n, a in enumerate(backlog):
        await repo.add_article(a)
        await repo.add_deliveries([delivery(a.id, 1, created_at=NOW + timedelta(seconds=n))])
    sender = ScriptedSender({1: [SendResult(Outcome.SENT, message_id=1)] * 3 + [
        SendResult(Outcome.REJECTED, error="Bad Request: can't parse entities")]})
    await send_until_idle(service, sender, rounds=500)
    order = [int(m.group(1)) for _key, html in sender.sent
             if (m := re.search(r"Story (\d{3})", html))]
    assert order == list(range(len(backlog))), "each once, oldest first, across pages"
    assert await repo.pending(ChatKey(1)) == []
    assert (await repo.delivery_counts())["sent"] == len(backlog) - 1
