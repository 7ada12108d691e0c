"""The Bot API transport: its own answer mapping must raise what PTB's ``BaseRequest`` raises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from telegram.error import ChatMigrated, NetworkError, RetryAfter, TelegramError
from telegram.request import BaseRequest, RequestData

from bot.aiohttp_request import answer_result


class Canned(BaseRequest):
    """A PTB transport that answers every request with one canned (status, body)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None, pool_timeout: Any = None
                         ) -> tuple[int, bytes]:
        return self.status, self.body


def _error(description: str, code: int, **parameters: int) -> bytes:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return json.dumps(answer).encode()


ANSWERS = [
    (429, _error("Too Many Requests: retry after 7", 429, retry_after=7)),
    (400, _error("Bad Request: group chat was upgraded to a supergroup chat", 400,
                 migrate_to_chat_id=-1001234)),
    (403, _error("Forbidden: bot was blocked by the user", 403)),
    (400, _error("Bad Request: chat not found", 400)),
    (401, _error("Unauthorized", 401)),
    (404, _error("Not Found", 404)),
    (409, _error("Conflict: terminated by other getUpdates request", 409)),
    (500, _error("Internal Server Error", 500)),
    (502, b"<html>Bad Gateway</html>"),
    (503, b""),
    (403, b"<html>proxy says no</html>"),
    (599, _error("odd", 599)),
    (400, _error("Bad Request: odd", 400, something=1)),
]


@pytest.mark.parametrize(("status", "body"), ANSWERS)
async def test_errors_are_the_ones_ptb_raises(status: int, body: bytes) -> None:
    with pytest.raises(TelegramError) as theirs:
        await Canned(status, body).post("http://x/botT/sendMessage")
    with pytest.raises(TelegramError) as ours:
        answer_result(status, body)
    assert type(ours.value) is type(theirs.value)
    if isinstance(theirs.value, RetryAfter):
        assert isinstance(ours.value, RetryAfter)
        assert ours.value.retry_after == theirs.value.retry_after
    elif isinstance(theirs.value, ChatMigrated):
        assert isinstance(ours.value, ChatMigrated)
        assert ours.value.new_chat_id == theirs.value.new_chat_id
    assert ours.value.message == theirs.value.message


async def test_success_is_the_result() -> None:
    body = json.dumps({"ok": True, "result": {"message_id": 42}}).encode()
    assert answer_result(200, body) == await Canned(200, body).post("http://x/botT/sendMessage")
    assert answer_result(200, body) == {"message_id": 42}


def test_a_body_that_is_not_json_is_a_network_error_naming_it() -> None:
    with pytest.raises(NetworkError, match="not a JSON object"):
        answer_result(200, b"<html>proxy login</html>")
