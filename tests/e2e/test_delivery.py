"""Delivery through the emulator with a fake clock: instant, quiet hours, digests (DST),
splitting, vote order, Telegram's errors, restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot, LinkPreviewOptions

from bot.aiohttp_request import AiohttpRequest
from bot.chats import ChatService
from bot.clock import FakeClock
from bot.delivery.outcome import Outcome
from bot.delivery.pacing import Pacer
from bot.delivery.queue import DeliveryService
from bot.delivery.sender import TelegramSender, keyboard
from bot.errors import StorageError
from bot.models import (
    Article,
    ChatKey,
    ChatType,
    DeliveryMode,
    DeliveryStatus,
    ImageMode,
    QuietHours,
    Topic,
    Vote,
)
from bot.render import Rendered
from bot.settings import Settings, load_settings
from bot.storage.tinydb_store import TinyDBRepository
from tests.builders import article, chat
from tests.conftest import TOKEN, write_config
from tests.emulator.server import Emulator

START = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


class Rig:
    def __init__(self, tmp: Path, emulator: Emulator, bot: Bot) -> None:
        self.tmp = tmp
        self.emulator = emulator
        self.bot = bot
        self.clock = FakeClock(START)
        self.settings: Settings = load_settings(write_config(tmp, []), env={})
        self.repo = TinyDBRepository(tmp / "data", self.clock)
        self.make_service()

    def make_service(self) -> None:
        self.chats = ChatService(self.repo, self.settings, self.clock)
        self.delivery = DeliveryService(
            self.repo, self.settings, self.clock, self.chats,
            Pacer(global_rate=500, private_interval=0.01, group_per_minute=1000))
        self.delivery.sender = TelegramSender(self.bot)  # type: ignore[arg-type]

    async def add_chat(self, chat_id: int, type_: ChatType = ChatType.PRIVATE,
                       **kw: object) -> None:
        self.emulator.chat(chat_id, type_.value)
        await self.repo.put_chat(chat(chat_id, type=type_, created_at=self.clock.now(),
                                digest_since=self.clock.now(), **kw))

    async def store(self, *articles: Article) -> int:
        for a in articles:
            await self.repo.add_article(a)
        return await self.delivery.fan_out(articles)

    async def settle(self) -> None:
        for _ in range(200):
            await asyncio.sleep(0.02)
            if not any(not t.done() for t in self.delivery._workers.values()):
                return


@pytest.fixture
async def rig(tmp_path: Path, emulator: Emulator) -> AsyncIterator[Rig]:
    bot = Bot(TOKEN, base_url=emulator.base_url, request=AiohttpRequest(16))
    await bot.initialize()
    r = Rig(tmp_path, emulator, bot)
    yield r
    await r.delivery.shutdown(1.0)
    await bot.shutdown()
    await r.repo.close()


def _mk(**kw: object) -> Article:
    return article(ingested_at=START, published_at=START, **kw)


async def test_instant_to_private_group_and_channel_with_language_filter(rig: Rig) -> None:
    await rig.add_chat(1)
    await rig.add_chat(-2, ChatType.SUPERGROUP)
    await rig.add_chat(-3, ChatType.CHANNEL)
    await rig.add_chat(4, languages=("lt",))
    await rig.add_chat(5, topics=frozenset({"poland"}))
    a = _mk(title="Belarus & <friends>", language="en")
    assert await rig.store(a) == 3
    await rig.settle()
    for chat_id in (1, -2, -3):
        [msg] = rig.emulator.sent(chat_id)
        assert "Belarus &amp; &lt;friends&gt;" in msg.html
        assert [b[0] for b in msg.buttons()[0]] == ["👍 Yes (0)", "👎 No (0)"]
    assert rig.emulator.sent(4) == [] and rig.emulator.sent(5) == []
    delivered = await rig.repo.get_delivery(a.id, ChatKey(1))
    assert delivered is not None and delivered.status is DeliveryStatus.SENT


async def test_quiet_hours_hold_alerts_until_the_window_ends(rig: Rig) -> None:
    # 12:00 UTC is 14:00 in Vilnius (UTC+2 before the DST change).
    await rig.add_chat(1, timezone="Europe/Vilnius", quiet=QuietHours("13:00", "15:00"))
    await rig.store(_mk())
    await rig.delivery.tick()
    await rig.settle()
    assert rig.emulator.sent(1) == []
    rig.clock.advance(timedelta(minutes=59))
    await rig.delivery.tick()
    await rig.settle()
    assert rig.emulator.sent(1) == []
    rig.clock.advance(timedelta(minutes=1))
    await rig.delivery.tick()
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 1


async def test_digest_at_local_time_across_the_dst_change(rig: Rig) -> None:
    await rig.add_chat(1, mode=DeliveryMode.DIGEST, digest_time="08:00", timezone="Europe/Vilnius")
    await rig.store(_mk(title="Day one news"))
    sent_at: list[datetime] = []
    # Walk from 28 March 12:00 UTC to 31 March in 10-minute steps; DST starts 29 March.
    while rig.clock.now() < datetime(2026, 3, 31, 12, 0, tzinfo=UTC):
        before = len(rig.emulator.sent(1))
        await rig.delivery.tick()
        await rig.settle()
        if len(rig.emulator.sent(1)) > before:
            sent_at.append(rig.clock.now())
        if rig.clock.now().hour == 20 and rig.clock.now().minute == 0:
            await rig.store(_mk(title=f"Evening news {rig.clock.now().day}"))
        rig.clock.advance(timedelta(minutes=10))
    # 29 March 08:00 local = 05:00 UTC (after the change), 30 and 31 March likewise.
    assert [t.strftime("%d %H:%M") for t in sent_at] == ["29 05:00", "30 05:00", "31 05:00"]
    digests = rig.emulator.sent(1)
    assert "Day one news" in digests[0].text and "Evening news 28" in digests[0].text


async def test_digest_splits_at_4096_and_keeps_every_article_once(rig: Rig) -> None:
    await rig.add_chat(1, mode=DeliveryMode.DIGEST)
    long_summary = ("A long sentence about the border and the trade that goes on. " * 10,)
    articles = [_mk(title=f"Story {i}", summary=long_summary) for i in range(30)]
    await rig.store(*articles)
    sent = await rig.delivery.send_digest_now(ChatKey(1))
    assert sent == 30
    messages = rig.emulator.sent(1)
    assert len(messages) >= 3
    buttons = [data for m in messages for row in m.buttons() for _, data in row[:1]]
    assert sorted(buttons) == sorted(f"v1|{a.id}|y" for a in articles)
    assert all(len(m.text.encode("utf-16-le")) // 2 <= 4096 for m in messages)
    assert not rig.emulator.errors
    assert await rig.repo.pending(ChatKey(1)) == []


async def test_a_digest_names_the_keyword_topic_an_article_matched_in_any_process(
        rig: Rig) -> None:
    trams = Topic("own:trams", "Vilnius trams", ("vilnius tram",))
    ferries = Topic("own:ferries", "Klaipeda ferries", ("klaipeda ferry",))
    await rig.add_chat(1, mode=DeliveryMode.DIGEST, topics=frozenset(), own_topics=(ferries, trams))
    await rig.store(_mk(title="A Vilnius tram line opens", topics=()))
    rig.make_service()  # another process (or a restart) sends the digest: nothing in memory
    await rig.delivery.send_digest_now(ChatKey(1))
    [digest] = rig.emulator.sent(1)
    assert "Vilnius trams" in digest.text and "Klaipeda ferries" not in digest.text


async def test_digest_order_follows_votes(rig: Rig) -> None:
    await rig.add_chat(1, mode=DeliveryMode.DIGEST)
    liked = [_mk(title=f"Liked {i}", source="Good Source") for i in range(3)]
    disliked = [_mk(title=f"Disliked {i}", source="Bad Source") for i in range(3)]
    history = [_mk(title="old good", source="Good Source"),
               _mk(title="old bad", source="Bad Source")]
    for a in history:
        await rig.repo.add_article(a)
    for user in range(20):
        await rig.repo.put_vote(Vote(history[0].id, user, 1, START))
        await rig.repo.put_vote(Vote(history[1].id, user, -1, START))
    await rig.store(*disliked, *liked)
    await rig.delivery.send_digest_now(ChatKey(1))
    text = rig.emulator.sent(1)[0].text
    assert max(text.index(f"Liked {i}") for i in range(3)) < min(
        text.index(f"Disliked {i}") for i in range(3))


async def test_retry_after_is_honoured_and_message_sent_once(rig: Rig) -> None:
    rig.emulator.limits = True
    await rig.add_chat(1)
    a, b = _mk(), _mk()
    await rig.store(a, b)
    for _ in range(200):
        await asyncio.sleep(0.05)
        if len(rig.emulator.sent(1)) == 2:
            break
    assert len(rig.emulator.sent(1)) == 2
    assert rig.emulator.count_429 >= 1, "the tight test pacer must have hit the limit"
    assert await rig.repo.pending(ChatKey(1)) == []


async def test_blocked_chat_goes_inactive_and_is_dropped(rig: Rig) -> None:
    await rig.add_chat(1)
    rig.emulator.chats[1].blocked = True
    await rig.store(_mk(), _mk())
    await rig.settle()
    stored = await rig.repo.get_chat(ChatKey(1))
    assert stored is not None and not stored.active
    assert await rig.repo.pending(ChatKey(1)) == []
    rig.emulator.chats[1].blocked = False
    await rig.store(_mk())
    await rig.settle()
    assert rig.emulator.sent(1) == [], "an inactive chat gets nothing more"


async def test_chat_not_found_goes_inactive(rig: Rig) -> None:
    await rig.add_chat(1)
    rig.emulator.chats[1].not_found = True
    await rig.store(_mk())
    await rig.settle()
    stored = await rig.repo.get_chat(ChatKey(1))
    assert stored is not None and not stored.active


async def test_group_migration_moves_subscriptions_and_sends_there(rig: Rig) -> None:
    await rig.add_chat(-10, ChatType.GROUP, topics=frozenset({"belarus", "poland"}))
    rig.emulator.chats[-10].migrate_to = -10010
    rig.emulator.chat(-10010, "supergroup")
    await rig.store(_mk())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if rig.emulator.sent(-10010):
            break
    assert len(rig.emulator.sent(-10010)) == 1
    moved = await rig.repo.get_chat(ChatKey(-10010))
    assert moved is not None and moved.topics == {"belarus", "poland"}
    assert await rig.repo.get_chat(ChatKey(-10)) is None


async def test_server_errors_are_retried_until_sent(rig: Rig) -> None:
    await rig.add_chat(1)
    rig.emulator.fail_next = 2
    await rig.store(_mk())
    for _ in range(200):
        await asyncio.sleep(0.05)
        if rig.emulator.sent(1):
            break
    assert len(rig.emulator.sent(1)) == 1
    assert rig.delivery.retried_total == 2


async def test_restart_sends_pending_once(rig: Rig) -> None:
    await rig.add_chat(1)
    sender = rig.delivery.sender
    rig.delivery.sender = None  # "crash" before anything is sent
    arts = [_mk() for _ in range(3)]
    await rig.store(*arts)
    first = await rig.repo.get_delivery(arts[0].id, ChatKey(1))
    assert first is not None
    await rig.repo.put_delivery(replace(first, status=DeliveryStatus.SENT))  # one went out before
    await rig.repo.close()
    rig.repo = TinyDBRepository(rig.tmp / "data", rig.clock)
    rig.make_service()
    assert sender is not None
    await rig.delivery.kick()
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 2
    await rig.delivery.kick()
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 2, "nothing marked sent is sent again"


async def test_photo_and_preview_modes(rig: Rig) -> None:
    await rig.add_chat(1, images=ImageMode.PHOTO)
    await rig.add_chat(2, images=ImageMode.PREVIEW)
    await rig.add_chat(3, images=ImageMode.OFF)
    await rig.store(_mk(image_url="https://img.example/lead.jpg"))
    await rig.settle()
    [photo] = rig.emulator.sent(1)
    assert photo.method == "sendPhoto" and len(photo.text) <= 1024
    [preview] = rig.emulator.sent(2)
    assert json.loads(preview.params["link_preview_options"]) == {
        "url": "https://img.example/lead.jpg", "prefer_large_media": True,
        "show_above_text": True}
    [plain] = rig.emulator.sent(3)
    assert json.loads(plain.params["link_preview_options"]) == {"is_disabled": True}


@pytest.mark.parametrize(("thread", "mode", "image"), [
    (0, ImageMode.OFF, None), (7, ImageMode.PREVIEW, None),
    (0, ImageMode.PREVIEW, "https://img.example/i.jpg")])
async def test_sender_posts_what_ptb_send_message_would(rig: Rig, thread: int, mode: ImageMode,
                                                        image: str | None) -> None:
    # The sender encodes text alerts itself (the fan-out's hot path); the request must be the
    # one PTB's send_message makes for the same message, field for field and byte for byte.
    rig.emulator.chat(-60, "supergroup", is_forum=True)
    message = Rendered('<b>Minsk</b> «quotes» &amp; ünïcode', 26, ((("👍 Yes (2)", "v1|a|y"),
                                                                   ("👎 No (0)", "v1|a|n")),))
    sender = TelegramSender(rig.bot)  # type: ignore[arg-type]
    result = await sender.send(ChatKey(-60, thread), message, image_mode=mode, image_url=image,
                               link_url="https://n.example/a")
    assert result.outcome is Outcome.SENT and isinstance(result.message_id, int)
    preview = LinkPreviewOptions(is_disabled=True)
    if mode is ImageMode.PREVIEW:
        preview = (LinkPreviewOptions(url=image, prefer_large_media=True, show_above_text=True)
                   if image else LinkPreviewOptions(url="https://n.example/a",
                                                    prefer_large_media=True))
    ptb = await rig.bot.send_message(-60, message.html, parse_mode="HTML",
                                     reply_markup=keyboard(message.buttons),
                                     link_preview_options=preview,
                                     message_thread_id=thread or None)
    assert ptb.message_id != result.message_id
    ours, theirs = rig.emulator.sent(-60)
    assert ours.params == theirs.params


async def test_forum_threads_are_isolated(rig: Rig) -> None:
    rig.emulator.chat(-50, "supergroup", is_forum=True)
    await rig.repo.put_chat(replace(chat(-50, type=ChatType.SUPERGROUP), key=ChatKey(-50, 7)))
    await rig.repo.put_chat(replace(chat(-50, type=ChatType.SUPERGROUP,
                                   topics=frozenset({"poland"})), key=ChatKey(-50, 9)))
    await rig.store(_mk())
    await rig.settle()
    [msg] = rig.emulator.sent(-50)
    assert msg.thread_id == 7
    rig.emulator.chats[-50].deleted_threads.add(7)
    await rig.store(_mk())
    await rig.settle()
    gone = await rig.repo.get_chat(ChatKey(-50, 7))
    assert gone is not None and not gone.active
    other = await rig.repo.get_chat(ChatKey(-50, 9))
    assert other is not None and other.active


async def test_more_chats_than_workers_wait_in_line_and_all_are_served(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.delivery.queue.MAX_WORKERS", 4)
    for chat_id in range(100, 130):
        await rig.add_chat(chat_id)
    most = 0
    a = _mk(title="Belarus in line")
    assert await rig.store(a) == 30
    for _ in range(400):
        most = max(most, sum(not t.done() for t in rig.delivery._workers.values()))
        if all(rig.emulator.sent(c) for c in range(100, 130)):
            break
        await asyncio.sleep(0.01)
    assert all(len(rig.emulator.sent(c)) == 1 for c in range(100, 130))
    assert 1 <= most <= 4, most


async def test_a_process_that_lost_the_lead_sends_nothing_and_leaves_it_pending(
        rig: Rig) -> None:
    await rig.add_chat(1)
    leading = [False]
    rig.delivery.may_send = lambda: leading[0]
    a = _mk(title="Belarus fenced")
    assert await rig.store(a) == 1
    await rig.settle()
    assert rig.emulator.sent(1) == []
    pending = await rig.repo.get_delivery(a.id, ChatKey(1))
    assert pending is not None and pending.status is DeliveryStatus.PENDING
    assert pending.attempts == 0, "not a failed attempt: someone else will send it"
    leading[0] = True
    await rig.delivery.kick()
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 1


async def test_a_worker_whose_chat_lock_fails_gives_its_place_back(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.delivery.queue.MAX_WORKERS", 2)
    monkeypatch.setattr(type(rig.repo), "shared", property(lambda _self: True))
    failing = [True]

    async def try_lock(_name: str) -> bool:
        if failing[0]:
            raise StorageError("the database is away")
        return True

    monkeypatch.setattr(rig.repo, "try_lock", try_lock)
    for chat_id in (1, 2, 3):
        await rig.add_chat(chat_id)
    assert await rig.store(_mk(title="Belarus while the database restarts")) == 3
    await rig.settle()
    assert rig.delivery._workers == {}, "no worker left holding a place"
    failing[0] = False
    for chat_id in (1, 2, 3):
        rig.delivery._start(chat_id, retry=True)  # what the 30 s retry does
    await rig.settle()
    assert all(len(rig.emulator.sent(c)) == 1 for c in (1, 2, 3))


async def test_a_message_whose_mark_could_not_be_written_is_not_sent_again(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # The 3-process soak's database restart: Telegram accepted a message, then the store was
    # away for its "sent" mark; the chat's next worker sent it again.
    real_put = rig.repo.put_deliveries
    away = [True]

    async def put_deliveries(deliveries: object) -> None:
        if away[0]:
            raise StorageError("the database is away")
        await real_put(deliveries)  # type: ignore[arg-type]

    monkeypatch.setattr(rig.repo, "put_deliveries", put_deliveries)
    await rig.add_chat(1)
    a = _mk(title="Belarus while the database restarts")
    assert await rig.store(a) == 1
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 1
    rig.delivery._start(1, retry=True)  # the store is still away: nothing goes out
    await rig.settle()
    away[0] = False
    rig.delivery._start(1, retry=True)  # what the 30 s retry does once it is back
    await rig.settle()
    assert len(rig.emulator.sent(1)) == 1, "sent once"
    stored = await rig.repo.get_delivery(a.id, ChatKey(1))
    assert stored is not None and stored.status is DeliveryStatus.SENT
    assert stored.message_id == rig.emulator.sent(1)[0].message_id
