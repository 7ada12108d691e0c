"""ChatService: keyword topics follow a chat's activity."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chats import ChatService
from bot.clock import FakeClock
from bot.errors import CommandError
from bot.models import ChatKey, ChatType
from bot.settings import load_settings
from bot.storage.tinydb_store import TinyDBRepository
from tests.builders import T0
from tests.conftest import write_config


async def test_keyword_topics_leave_and_return_with_the_chat(tmp_path: Path) -> None:
    repo = TinyDBRepository(tmp_path / "data")
    service = ChatService(repo, load_settings(write_config(tmp_path, []), env={}),
                          FakeClock(T0))
    chat = await service.ensure(ChatKey(5), ChatType.PRIVATE)
    await service.add_own_topic(chat, '"Ostrovets nuclear plant"')
    assert (await service.own_matcher()).match("", "the Ostrovets nuclear plant") != []
    await service.deactivate(ChatKey(5))
    assert (await service.own_matcher()).match("", "the Ostrovets nuclear plant") == []
    await service.ensure(ChatKey(5), ChatType.PRIVATE)
    assert (await service.own_matcher()).match("", "the Ostrovets nuclear plant") != []
    await repo.close()


async def test_language_codes_and_time_zone_names_are_checked(tmp_path: Path) -> None:
    repo = TinyDBRepository(tmp_path / "data")
    service = ChatService(repo, load_settings(write_config(tmp_path, []), env={}),
                          FakeClock(T0))
    chat = await service.ensure(ChatKey(5), ChatType.PRIVATE)
    assert (await service.set_languages(chat, ["EN", "be,", "en"])).languages == ("en", "be")
    for bad in (["xx"], ["en", "qq"], ["eng"]):
        with pytest.raises(CommandError) as info:
            await service.set_languages(chat, bad)
        assert info.value.key == "lang_bad"
    stored = await repo.get_chat(ChatKey(5))
    assert stored is not None and stored.languages == ("en", "be"), \
        "a refused /lang changes nothing"
    assert (await service.set_timezone(chat, "europe/minsk")).timezone == "Europe/Minsk"
    assert (await service.set_timezone(chat, " Asia/Ho chi minh ")).timezone == "Asia/Ho_Chi_Minh"
    for bad in ("Europe", "../../etc/passwd", "Mars/Base", "/usr/share/zoneinfo/UTC"):
        with pytest.raises(CommandError):
            await service.set_timezone(chat, bad)
    await repo.close()


async def test_fan_out_targets_follow_every_change_of_a_chat(tmp_path: Path) -> None:
    from dataclasses import replace  # noqa: PLC0415

    from bot.delivery.queue import DeliveryService  # noqa: PLC0415
    from tests.builders import article, chat  # noqa: PLC0415

    repo = TinyDBRepository(tmp_path / "data")
    settings = load_settings(write_config(tmp_path, []), env={})
    clock = FakeClock(T0)
    chats = ChatService(repo, settings, clock)
    delivery = DeliveryService(repo, settings, clock, chats)
    await repo.put_chat(chat(1, topics=frozenset({"belarus"})))
    await repo.put_chat(chat(2, topics=frozenset({"lithuania", "belarus"}), languages=("lt",)))
    await repo.put_chat(chat(3, topics=frozenset({"lithuania"})))
    both = article(topics=("lithuania", "belarus"), language="en")
    async def chosen() -> dict[ChatKey, str]:
        return {t.chat: t.topic_id for t in await delivery.targets(both)}

    assert await chosen() == {ChatKey(1): "belarus", ChatKey(3): "lithuania"}
    await repo.put_chat(replace(await repo.get_chat(ChatKey(2)), languages=()))  # type: ignore[arg-type]
    await chats.deactivate(ChatKey(3))
    assert await chosen() == {ChatKey(1): "belarus", ChatKey(2): "lithuania"}
    await repo.close()
