"""The bot's own HTTP endpoints, served from the event loop with aiohttp.

* The webhook: Telegram (or a load balancer in front of several replicas) POSTs updates here.
  The secret header is checked and the declared size refused *before* the body is read, so a
  stranger can neither make us buffer 100 MB (PTB's listener reads up to 100 MB first) nor
  feed us updates.
* ``/metrics`` and ``/healthz``: answered on the event loop from figures gathered there, so
  they never race the code that changes them, and an idle connection can't block them (the
  old single-threaded wsgiref server stalled on one).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 1_000_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Clients that connect and say nothing are dropped after this many seconds.
IDLE_SECONDS = 15.0

UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_app(path: str, secret: str, on_update: UpdateSink) -> web.Application:
    """An aiohttp application that takes Telegram updates on ``path``.

    Args:
        path: The URL path Telegram posts to (the public URL's path).
        secret: The ``secret_token`` given to setWebhook; requests without it get 403.
        on_update: Called with each update's JSON object.

    Returns:
        The application; bodies over ``MAX_WEBHOOK_BODY`` get 413 unread.
    """
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="wrong or missing secret token\n")
        declared = request.content_length
        if declared is not None and declared > MAX_WEBHOOK_BODY:
            return web.Response(status=413, text="body too large\n")
        try:
            # client_max_size bounds what read() takes when no length was declared (chunked)
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="body too large\n")
        try:
            update = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="not JSON\n")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not an update\n")
        await on_update(update)
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=MAX_WEBHOOK_BODY)
    app.router.add_post("/" + path.strip("/"), receive)
    return app


def metrics_app(exposition: Callable[[], Awaitable[tuple[bytes, str]]],
                health: Callable[[], Awaitable[list[str]]]) -> web.Application:
    """An aiohttp application with ``/metrics`` (Prometheus text) and ``/healthz``.

    Args:
        exposition: Returns the metrics body and its content type.
        health: Returns why the bot is unhealthy; empty when it is healthy.
    """

    async def metrics(_request: web.Request) -> web.Response:
        body, content_type = await exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(_request: web.Request) -> web.Response:
        problems = await health()
        text = "ok\n" if not problems else "\n".join(problems) + "\n"
        return web.Response(status=200 if not problems else 503, text=text)

    app = web.Application(client_max_size=4096)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


class HttpEndpoint:
    """One aiohttp application listening on ``HOST:PORT`` inside the running event loop."""

    def __init__(self, listen: str, app: web.Application) -> None:
        host, _, port = listen.rpartition(":")
        self._host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the operator's choice
        self._port = int(port)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=IDLE_SECONDS)
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            OSError: When the address can't be bound.
        """
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        """Stop serving and close connections."""
        await self._runner.cleanup()
