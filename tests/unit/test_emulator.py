"""The emulator must reject what Telegram rejects, or tests would pass on code that fails in
production. Each violation is sent straight to its HTTP API."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.server import SPEC_PATH, Emulator, spec_from_json, spec_from_ptb


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    e = Emulator().start()
    e.chat(1, "private")
    yield e
    e.stop()


def call(emu: Emulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    data = json.dumps(params).encode()
    req = urllib.request.Request(f"{emu.base_url}{emu.token}/{method}", data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def kb(data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "Yes (0)", "callback_data": data}]]}


def test_a_valid_message_is_accepted(emu: Emulator) -> None:
    status, body = call(emu, "sendMessage", chat_id=1, text="<b>ok</b> &amp; fine",
                        parse_mode="HTML", reply_markup=kb("v1|abc|y"))
    assert status == 200 and body["ok"]


@pytest.mark.parametrize(("method", "params", "words"), [
    ("sendMessag", {"chat_id": 1, "text": "x"}, "not found"),
    ("sendMessage", {"chat_id": 1}, "required"),
    ("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"}, "unknown parameter"),
    ("sendMessage", {"chat_id": 1, "text": ""}, "empty"),
    ("sendMessage", {"chat_id": 1, "text": "<b></b>", "parse_mode": "HTML"}, "empty"),
    ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "too long"),
    ("sendMessage", {"chat_id": 1, "text": "😀" * 2049}, "too long"),  # 4098 UTF-16 units
    ("sendMessage", {"chat_id": 1, "text": "<div>x</div>", "parse_mode": "HTML"},
     "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "<b><i>x</b></i>", "parse_mode": "HTML"},
     "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"}, "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "a &nbsp; b", "parse_mode": "HTML"},
     "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "a & b", "parse_mode": "HTML"}, "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "1 < 2", "parse_mode": "HTML"}, "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": '<a title="t" href="x">x</a>', "parse_mode": "HTML"},
     "parse entities"),
    ("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("d" * 65)},
     "BUTTON_DATA_INVALID"),
    ("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("")},
     "BUTTON_DATA_INVALID"),
    ("sendMessage", {"chat_id": 999, "text": "x"}, "chat not found"),
    ("sendPhoto", {"chat_id": 1, "photo": "https://i.example/x.jpg", "caption": "c" * 1025},
     "too long"),
    ("answerCallbackQuery", {"callback_query_id": "q1", "text": "t" * 201}, "TOO_LONG"),
    ("sendMessage", {"chat_id": 1, "text": "x",
                     "link_preview_options": {"is_disabled": True, "bogus": 1}}, "link_preview"),
])
def test_each_violation_is_rejected(emu: Emulator, method: str, params: dict[str, Any],
                                    words: str) -> None:
    status, body = call(emu, method, **params)
    assert status in (400, 404) and not body["ok"]
    assert words.lower() in body["description"].lower()


def test_wrong_token_is_unauthorized(emu: Emulator) -> None:
    req = urllib.request.Request(f"{emu.base_url}0:nope/getMe", data=b"{}",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 401
    info.value.close()


def test_limits_answer_429_with_retry_after() -> None:
    e = Emulator(limits=True).start()
    try:
        e.chat(5, "private")
        first, _ = call(e, "sendMessage", chat_id=5, text="a")
        second, body = call(e, "sendMessage", chat_id=5, text="b")
        assert first == 200 and second == 429
        assert body["parameters"]["retry_after"] >= 1
    finally:
        e.stop()


def test_blocked_and_migrated_chats() -> None:
    e = Emulator().start()
    try:
        e.chat(6, "private").blocked = True
        status, _ = call(e, "sendMessage", chat_id=6, text="a")
        assert status == 403
        e.chat(-7, "group").migrate_to = -1007
        status, body = call(e, "sendMessage", chat_id=-7, text="a")
        assert status == 400 and body["parameters"]["migrate_to_chat_id"] == -1007
    finally:
        e.stop()


def _spec_sources() -> list[tuple[str, dict[str, Any]]]:
    """The corpus's JSON spec (when ../shared is there) and PTB's signatures (always)."""
    sources = [("ptb", spec_from_ptb())]
    if SPEC_PATH.is_file():
        sources.append(("json", spec_from_json(SPEC_PATH)))
    elif os.environ.get("CI") == "true":
        pytest.fail(f"the Bot API spec is missing from {SPEC_PATH.parent}; CI has ../shared")
    return sources


@pytest.mark.parametrize("source", ["json", "ptb"])
def test_both_spec_sources_catch_unknown_and_missing_parameters(source: str) -> None:
    specs = dict(_spec_sources())
    if source not in specs:
        pytest.skip(f"no Bot API spec at {SPEC_PATH} (the shared corpus folder is absent)")
    emu = Emulator(spec=specs[source]).start()
    try:
        emu.chat(1, "private")
        assert call(emu, "sendMessage", chat_id=1, text="hi")[0] == 200
        status, body = call(emu, "sendMessage", chat_id=1, text="hi", colour="red")
        assert status == 400 and "unknown parameter 'colour'" in body["description"]
        status, body = call(emu, "sendMessage", chat_id=1)
        assert status == 400 and "'text' is required" in body["description"]
        status, body = call(emu, "answerCallbackQuery")
        assert status == 400 and "callback_query_id" in body["description"]
        assert call(emu, "sendTelepathy", chat_id=1)[0] == 404
    finally:
        emu.stop()


def test_a_second_poller_ends_the_first_with_409_as_telegram_does() -> None:
    e = Emulator().start()
    try:
        first: list[tuple[int, dict[str, Any]]] = []
        waiting = threading.Thread(target=lambda: first.append(call(e, "getUpdates",
                                                                    timeout=3)))
        waiting.start()
        e.wait_for(lambda: any(m == "getUpdates" for m, _ in e.calls))
        time.sleep(0.2)
        status, body = call(e, "getUpdates", timeout=0)
        waiting.join(5)
        assert status == 200 and body["ok"], "the newer poller is served"
        assert first[0][0] == 409 and "terminated by other getUpdates" in \
            first[0][1]["description"]
        assert e.get_updates_conflicts == 1
        status, _ = call(e, "getUpdates", timeout=0)
        assert status == 200 and e.get_updates_conflicts == 1, "one after another is fine"
    finally:
        e.stop()
