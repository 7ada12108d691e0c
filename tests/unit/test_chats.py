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


def test_keyword_topics_leave_and_return_with_the_chat(tmp_path: Path) -> None:
    repo = TinyDBRepository(tmp_path / "data")
    service = ChatService(repo, load_settings(write_config(tmp_path, []), env={}),
                          FakeClock(T0))
    chat = service.ensure(ChatKey(5), ChatType.PRIVATE)
    service.add_own_topic(chat, '"Ostrovets nuclear plant"')
    assert service.own_matcher().match("", "the Ostrovets nuclear plant") != []
    service.deactivate(ChatKey(5))
    assert service.own_matcher().match("", "the Ostrovets nuclear plant") == []
    service.ensure(ChatKey(5), ChatType.PRIVATE)
    assert service.own_matcher().match("", "the Ostrovets nuclear plant") != []
    repo.close()


def test_language_codes_and_time_zone_names_are_checked(tmp_path: Path) -> None:
    repo = TinyDBRepository(tmp_path / "data")
    service = ChatService(repo, load_settings(write_config(tmp_path, []), env={}),
                          FakeClock(T0))
    chat = service.ensure(ChatKey(5), ChatType.PRIVATE)
    assert service.set_languages(chat, ["EN", "be,", "en"]).languages == ("en", "be")
    for bad in (["xx"], ["en", "qq"], ["eng"]):
        with pytest.raises(CommandError) as info:
            service.set_languages(chat, bad)
        assert info.value.key == "lang_bad"
    assert repo.get_chat(ChatKey(5)).languages == ("en", "be"), "a refused /lang changes nothing"
    assert service.set_timezone(chat, "europe/minsk").timezone == "Europe/Minsk"
    assert service.set_timezone(chat, " Asia/Ho chi minh ").timezone == "Asia/Ho_Chi_Minh"
    for bad in ("Europe", "../../etc/passwd", "Mars/Base", "/usr/share/zoneinfo/UTC"):
        with pytest.raises(CommandError):
            service.set_timezone(chat, bad)
    repo.close()


def test_fan_out_targets_follow_every_change_of_a_chat(tmp_path: Path) -> None:
    from dataclasses import replace  # noqa: PLC0415

    from bot.delivery.queue import DeliveryService  # noqa: PLC0415
    from tests.builders import article, chat  # noqa: PLC0415

    repo = TinyDBRepository(tmp_path / "data")
    settings = load_settings(write_config(tmp_path, []), env={})
    clock = FakeClock(T0)
    chats = ChatService(repo, settings, clock)
    delivery = DeliveryService(repo, settings, clock, chats)
    repo.put_chat(chat(1, topics=frozenset({"belarus"})))
    repo.put_chat(chat(2, topics=frozenset({"lithuania", "belarus"}), languages=("lt",)))
    repo.put_chat(chat(3, topics=frozenset({"lithuania"})))
    both = article(topics=("lithuania", "belarus"), language="en")
    def chosen() -> dict[ChatKey, str]:
        return {t.chat: t.topic_id for t in delivery.targets(both)}

    assert chosen() == {ChatKey(1): "belarus", ChatKey(3): "lithuania"}
    repo.put_chat(replace(repo.get_chat(ChatKey(2)), languages=()))  # type: ignore[arg-type]
    chats.deactivate(ChatKey(3))
    assert chosen() == {ChatKey(1): "belarus", ChatKey(2): "lithuania"}
    repo.close()
