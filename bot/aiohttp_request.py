"""PTB's request interface on aiohttp: the Bot API transport of the running bot.

python-telegram-bot talks HTTP through a ``BaseRequest``; its default, ``HTTPXRequest``, cost
2.2 ms of CPU per request on this machine against 0.3 ms for aiohttp (3,000 POSTs to a local
server, 32 at a time). At Telegram's free limit (30 messages/s) either is fine; for paid
broadcasts (1,000 messages/s) the transport was most of the bot's CPU, so the bot uses this
one. PTB documents ``BaseRequest`` as the way to plug in another HTTP library.

``post_form`` is the fan-out's own path (see ``bot.delivery.sender``): one call with fields the
caller has already encoded, answered with the raw ``result`` and Telegram's errors raised as
PTB's exception classes, exactly as ``BaseRequest.post`` maps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool."""

    def __init__(self, connection_pool_size: int = 8, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0
                 ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-polling timeout to it)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (inside the running event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                json_serialize=json.dumps)

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(  # noqa: PLR0917 - PTB's interface
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; map aiohttp's failures to PTB's errors."""
        files = request_data.multipart_data if request_data else None
        params = request_data.json_parameters if request_data else None
        limits = _limits(_seconds(read_timeout, self._read),
                         _seconds(write_timeout, self._media_write if files else self._write),
                         _seconds(connect_timeout, self._connect),
                         _seconds(pool_timeout, self._pool))
        data: Any = params
        if files:
            form = aiohttp.FormData()
            for key, value in (params or {}).items():
                form.add_field(key, value)
            for key, (filename, content, mimetype) in files.items():
                form.add_field(key, content, filename=filename, content_type=mimetype)
            data = form
        return await self._exchange(method, url, data, limits, {})

    async def post_form(self, url: str, fields: Mapping[str, str]) -> Any:
        """POST fields already encoded as PTB would (objects as JSON strings).

        Returns:
            The ``result`` of Telegram's answer.

        Raises:
            TelegramError: the subclass PTB's ``BaseRequest.post`` would raise for the answer.
        """
        status, payload = await self._exchange(
            "POST", url, urlencode(fields).encode(),
            _limits(self._read, self._write, self._connect, self._pool), FORM)
        return answer_result(status, payload)

    async def _exchange(self, method: str, url: str, data: Any, limits: aiohttp.ClientTimeout,
                        headers: dict[str, str]) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        try:
            async with self._session.request(method, url, data=data, timeout=limits,
                                             headers={"User-Agent": self.USER_AGENT, **headers}
                                             ) as resp:
                return resp.status, await resp.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


class UpdatesRequest(AiohttpRequest):
    """The ``getUpdates`` transport: it asks for more only once the last updates are handled.

    ``getUpdates`` with an offset confirms every earlier update, and Telegram then forgets
    them. PTB asks again as soon as it has queued a batch, so a poller killed (SIGKILL, OOM)
    while handling one had already confirmed it, and its presses and commands reached no
    process (a leader-kill soak: 131 presses unanswered before this, 42-84 after). Here each
    call first waits until ``handled`` says the updates queued so far are done, so a poller
    killed meanwhile leaves them with Telegram and the next poller gets them (a vote counted
    twice is still one vote: pressing the same button keeps it). The wait is capped at
    ``settle_timeout``: an update slower than that (a database that is away) must not hold
    everyone else's.
    """

    def __init__(self, handled: Callable[[], Awaitable[object]],
                 connection_pool_size: int = 2, *, settle_timeout: float = 1.0,
                 **timeouts: float | None) -> None:
        super().__init__(connection_pool_size, **timeouts)
        self.handled = handled
        self.settle_timeout = settle_timeout

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Wait (at most ``settle_timeout``) for the queued updates, then ask for more."""
        # Past the cap the updates are confirmed unhandled: the cost of not stalling every
        # other chat behind one slow update.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.handled(), self.settle_timeout)
        return await super().do_request(*args, **kwargs)


def answer_result(status: int, payload: bytes) -> Any:
    """Telegram's ``result``, or the error PTB's ``BaseRequest.post`` raises for the same answer."""
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if HTTPStatus.OK <= status <= 299:
        if not isinstance(answer, dict):
            raise NetworkError(f"Bot API answered {status} with a body that is not a JSON "
                               f"object: {payload[:200]!r}")
        return answer.get("result")
    try:
        message = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    if isinstance(answer, dict):
        message = str(answer.get("description") or message)
        parameters = answer.get("parameters")
        if parameters:
            if parameters.get("migrate_to_chat_id"):
                raise ChatMigrated(int(parameters["migrate_to_chat_id"]))
            if parameters.get("retry_after"):
                raise RetryAfter(int(parameters["retry_after"]))
            message += f". The server response contained unknown parameters: {parameters}"
    else:
        message += f". Parsing the server response {payload!r} failed"
    errors: dict[int, type[TelegramError]] = {
        HTTPStatus.FORBIDDEN: Forbidden, HTTPStatus.NOT_FOUND: InvalidToken,
        HTTPStatus.UNAUTHORIZED: InvalidToken, HTTPStatus.BAD_REQUEST: BadRequest,
        HTTPStatus.CONFLICT: Conflict}
    raise errors.get(status, NetworkError)(message)


def _limits(read: float | None, write: float | None, connect: float | None,
            pool: float | None) -> aiohttp.ClientTimeout:
    """PTB's four timeouts (None: no limit) as aiohttp's."""
    # aiohttp has no separate write timeout; the reply can't come before the body is sent,
    # so the read allowance also covers the upload.
    sock_read = None if read is None else read + (write or 0.0)
    # aiohttp's connect timeout includes waiting for a free pooled connection.
    waiting = None if connect is None and pool is None else (connect or 0.0) + (pool or 0.0)
    return aiohttp.ClientTimeout(total=None, connect=waiting, sock_connect=connect,
                                 sock_read=sock_read)


def _seconds(value: object, default: float | None) -> float | None:
    """A timeout PTB passed: its "not given" marker means ours; None means no limit."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    if isinstance(value, int | float):
        return float(value)
    return None
