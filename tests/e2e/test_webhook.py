"""Webhook mode end to end: the emulator POSTs updates to the bot's webhook server."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tests.conftest import BotProcess, free_port, write_config
from tests.emulator.server import Emulator
from tests.newsserver import NewsServer, rss


def test_webhook_mode_with_secret(tmp_path: Path, emulator: Emulator, news: NewsServer,
                                  bot_factory: list[BotProcess]) -> None:
    port = free_port()
    news.set("/feed.xml", rss("t", []), "application/rss+xml")
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "N")])
    text = config.read_text().replace(
        "[telegram]\n", f'[telegram]\nwebhook_url = "https://bot.example.org/newsbot-hook"\n'
                        f'webhook_listen = "127.0.0.1:{port}"\n', 1)
    config.write_text(text)
    emulator.webhook_proxy = f"http://127.0.0.1:{port}"
    bot = BotProcess(config, emulator).start(wait=False)
    bot_factory.append(bot)
    emulator.wait_for(lambda: emulator.webhook is not None, timeout=30)
    hook = emulator.webhook
    assert hook is not None and hook["url"] == "https://bot.example.org/newsbot-hook"
    secret = hook["secret_token"]
    assert secret and len(secret) >= 32 and emulator.token not in hook["url"]

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    emulator.wait_for(listening, timeout=20)
    emulator.inject_message(77, 77, "/follow belarus")
    assert "Belarus" in emulator.wait_sent(77)[0].text

    forged = {"update_id": 99999, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 78, "type": "private", "first_name": "x"},
        "from": {"id": 78, "is_bot": False, "first_name": "x"}, "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    assert emulator.post_with_secret(forged, "wrong-secret") == 403
    assert emulator.post_with_secret(forged, "") == 403
    assert emulator.sent(78) == []
    assert not any(m == "getUpdates" for m, _ in emulator.calls)
    assert bot.stop(signal.SIGTERM) == 0
