"""Drive newsbot by hand: start the emulator, start the bot against it, type as a user.

``make emulator`` runs this. Lines you type are sent as messages from user 1 in private
chat 1; ``/press N M`` presses button (row N, column M) of the bot's last message, ``/as CHAT
USER TEXT`` sends from another chat or user, ``/quit`` ends. The bot's messages are printed as
they arrive. Feeds come from config/newsbot.toml (or NEWSBOT_CONFIG).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.emulator.server import Emulator, Sent

ROOT = Path(__file__).resolve().parents[2]


def show(message: Sent) -> None:
    print(f"\n[bot -> {message.chat_id}] {message.text}")
    for r, row in enumerate(message.buttons()):
        print("   " + "  ".join(f"[{r} {c}] {label}" for c, (label, _) in enumerate(row)))


def main() -> None:
    emulator = Emulator().start()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": emulator.token,
           "TELEGRAM_API_URL": emulator.base_url}
    env.setdefault("NEWSBOT_DATA_DIR", str(ROOT / "data-emulator"))
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env)
    print(f"emulator on {emulator.base_url}; type messages as user 1 (/quit to stop)")
    seen = 0
    stop = threading.Event()

    def printer() -> None:
        nonlocal seen
        while not stop.is_set():
            sent = emulator.sent()
            for message in sent[seen:]:
                show(message)
            seen = len(sent)
            time.sleep(0.2)

    threading.Thread(target=printer, daemon=True).start()
    try:
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            if text == "/quit":
                break
            if text.startswith("/press "):
                row, col = (int(x) for x in text.split()[1:3])
                last = [m for m in emulator.sent() if m.buttons()]
                if last:
                    emulator.press(1, last[-1], button=(row, col))
                continue
            if text.startswith("/as "):
                _, chat, user, rest = text.split(maxsplit=3)
                emulator.inject_message(int(chat), int(user), rest,
                                        chat_type="private" if int(chat) > 0 else "supergroup")
                continue
            emulator.inject_message(1, 1, text)
    finally:
        stop.set()
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=15)
        emulator.stop()


if __name__ == "__main__":
    main()
