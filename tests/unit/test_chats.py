"""ChatService: keyword topics follow a chat's activity."""

from __future__ import annotations

from pathlib import Path

from bot.chats import ChatService
from bot.clock import FakeClock
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
