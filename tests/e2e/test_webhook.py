"""Webhook mode end to end: the emulator POSTs updates to the bot's webhook server."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from tests.conftest import BotProcess, free_port, write_config
from tests.emulator.server import Emulator
from tests.newsserver import NewsServer, rss


def webhook_config(tmp_path: Path, emulator: Emulator, news: NewsServer) -> tuple[Path, int]:
    """A config in webhook mode on a free port, the emulator posting to it; (path, port)."""
    port = free_port()
    news.set("/feed.xml", rss("t", []), "application/rss+xml")
    config = write_config(tmp_path, [(f"{news.url}/feed.xml", "N")])
    config.write_text(config.read_text().replace(
        "[telegram]\n", f'[telegram]\nwebhook_url = "https://bot.example.org/newsbot-hook"\n'
                        f'webhook_listen = "127.0.0.1:{port}"\n', 1))
    emulator.webhook_proxy = f"http://127.0.0.1:{port}"
    return config, port


def wait_listening(emulator: Emulator, port: int) -> None:
    """Wait until the bot's webhook listener accepts connections."""
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    emulator.wait_for(listening, timeout=20)


def test_webhook_mode_with_secret(tmp_path: Path, emulator: Emulator, news: NewsServer,
                                  bot_factory: list[BotProcess]) -> None:
    config, port = webhook_config(tmp_path, emulator, news)
    bot = BotProcess(config, emulator).start(wait=False)
    bot_factory.append(bot)
    emulator.wait_for(lambda: emulator.webhook is not None, timeout=30)
    hook = emulator.webhook
    assert hook is not None and hook["url"] == "https://bot.example.org/newsbot-hook"
    secret = hook["secret_token"]
    assert secret and len(secret) >= 32 and emulator.token not in hook["url"]

    wait_listening(emulator, port)
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


def _post_raw(port: int, headers: dict[str, str], body_prefix: bytes = b"",
              timeout: float = 5.0) -> tuple[int, float]:
    """POST with the given headers and only ``body_prefix`` of the body; return status, time."""
    request = ["POST /newsbot-hook HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    request += [f"{k}: {v}" for k, v in headers.items()]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(request) + "\r\n\r\n").encode() + body_prefix)
        answer = s.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1]), time.monotonic() - started


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_webhook_shared_secret_and_body_limit(tmp_path: Path, emulator: Emulator,
                                              news: NewsServer,
                                              bot_factory: list[BotProcess]) -> None:
    config, port = webhook_config(tmp_path, emulator, news)
    shared = "shared_SECRET-of-the-replicas_0123456789"
    bot = BotProcess(config, emulator, env={"TELEGRAM_WEBHOOK_SECRET": shared,
                                            "NEWSBOT_LOG_LEVEL": "DEBUG"}).start(wait=False)
    bot_factory.append(bot)
    emulator.wait_for(lambda: emulator.webhook is not None, timeout=30)
    assert emulator.webhook is not None and emulator.webhook["secret_token"] == shared

    wait_listening(emulator, port)
    emulator.inject_message(81, 81, "/start")
    assert "/follow" in emulator.wait_sent(81)[0].text
    assert bot.proc is not None
    rss_before = _rss_kb(bot.proc.pid)
    # A 99 MB body is refused from its headers alone, with or without the secret, and the
    # bot reads none of it (the server answers while the client has sent 64 KB).
    for headers, expected in (
        ({"Content-Length": "99000000", "Content-Type": "application/json"}, 403),
        ({"Content-Length": "99000000", "Content-Type": "application/json",
          "X-Telegram-Bot-Api-Secret-Token": shared}, 413),
        ({"Content-Length": "1000001", "X-Telegram-Bot-Api-Secret-Token": shared}, 413),
    ):
        for _ in range(6):
            status, took = _post_raw(port, headers, b"{" + b" " * 65_535)
            assert status == expected and took < 2.0
    # Chunked, no declared length: cut at 1 MB while reading.
    status, _ = _post_raw(port, {"Transfer-Encoding": "chunked",
                                 "X-Telegram-Bot-Api-Secret-Token": shared},
                          b"".join(f"{65536:x}\r\n".encode() + b" " * 65536 + b"\r\n"
                                   for _ in range(17)))
    assert status == 413
    assert _rss_kb(bot.proc.pid) - rss_before < 20_000, "no body was buffered"
    # Still serving, and the secret never reached the log, even at DEBUG.
    emulator.inject_message(82, 82, "/start")
    assert "/follow" in emulator.wait_sent(82)[0].text
    assert bot.stop(signal.SIGTERM) == 0
    log = bot.log()
    assert shared not in log and emulator.token not in log
    assert "Traceback" not in log
