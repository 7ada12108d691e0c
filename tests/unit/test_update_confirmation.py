"""Polling confirms an update to Telegram only once it is handled (``UpdatesRequest``).

A real PTB ``Application`` polls the Bot API emulator over HTTP; a handler held on an event
stands in for an update in progress when the process is killed. While it is held, the
emulator (as Telegram) must still have the update, so that the next poller would get it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.aiohttp_request import AiohttpRequest, UpdatesRequest
from tests.emulator.server import Emulator


def _still_with_telegram(emulator: Emulator, update_id: int) -> bool:
    with emulator.lock:
        return any(u["update_id"] == update_id for u in emulator.updates)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


class HeldHandler:
    """Handles each update by waiting until the test releases the held message text."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[str] = []
        self.done: list[str] = []

    async def __call__(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text if update.effective_message else ""
        self.started.append(text or "")
        if text == "held":
            await self.release.wait()
        self.done.append(text or "")


Polling = tuple[Application[Any, Any, Any, Any, Any, Any], HeldHandler]


@pytest.fixture
async def polling(emulator: Emulator) -> AsyncIterator[Polling]:
    queue: asyncio.Queue[object] = asyncio.Queue()
    updates = UpdatesRequest(queue.join, 2, settle_timeout=1.0, read_timeout=5,
                             write_timeout=5)
    app = (ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
           .concurrent_updates(True).request(AiohttpRequest(8)).update_queue(queue)
           .get_updates_request(updates).build())
    handler = HeldHandler()
    app.add_handler(TypeHandler(Update, handler))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0.0)
        try:
            yield app, handler
        finally:
            handler.release.set()
            await app.updater.stop()
            await app.stop()


async def test_an_update_stays_with_telegram_until_handled(
        emulator: Emulator, polling: Polling) -> None:
    _app, handler = polling
    held = emulator.inject_message(1, 1, "held")
    await _until(lambda: "held" in handler.started)
    # PTB asked again at once on the old transport, confirming the update in progress; here
    # the next getUpdates waits, so a process killed now leaves the update for the next one.
    await asyncio.sleep(0.6)
    assert _still_with_telegram(emulator, held)
    handler.release.set()
    await _until(lambda: not _still_with_telegram(emulator, held), timeout=5.0)
    assert handler.done == ["held"]


async def test_a_slow_update_holds_the_others_at_most_the_settle_timeout(
        emulator: Emulator, polling: Polling) -> None:
    _app, handler = polling
    emulator.inject_message(1, 1, "held")
    await _until(lambda: "held" in handler.started)
    sent = time.monotonic()
    emulator.inject_message(2, 2, "another chat")
    await _until(lambda: "another chat" in handler.done, timeout=5.0)
    # Waited for the held update up to the 1 s cap, then asked again: another chat's
    # update is handled while the first is still in progress.
    assert time.monotonic() - sent < 2.0
    assert handler.done == ["another chat"]
