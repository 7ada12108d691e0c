"""A minimal Bot API answerer, for measuring the bot's own send ceiling.

The validating emulator (tests/emulator) checks every call against the Bot API spec and
Telegram's HTML rules; that costs more CPU per request than the bot spends sending it, so it
can't show how fast the bot itself can go. This server answers every method at once with a
canned result (``getMe`` a bot user, anything else a message). Run: ``python bench/sink.py PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

BOT = {"id": 1, "is_bot": True, "first_name": "sink", "username": "sink_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False}


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve one keep-alive connection until the client closes it."""
    served = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *headers = head.decode("latin-1").split("\r\n")
            length = next((int(h.split(":", 1)[1]) for h in headers
                           if h.lower().startswith("content-length:")), 0)
            if length:
                await reader.readexactly(length)
            served += 1
            method = request_line.split(" ")[1].rsplit("/", 1)[-1]
            result = BOT if method == "getMe" else {
                "message_id": served, "date": int(time.time()),
                "chat": {"id": 1, "type": "private"}}
            body = json.dumps({"ok": True, "result": result}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    """Listen on 127.0.0.1:``port`` forever."""
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
