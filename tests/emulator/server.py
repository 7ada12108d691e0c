"""The Bot API emulator: a threaded HTTP server that answers like Telegram and records
everything the bot does.

Tests drive it in-process: ``inject_message``, ``inject_channel_post``, ``press`` (a callback
query), ``set_member``; and read ``sent(chat_id)``, ``messages``, ``answers``. Every method
call is validated against the Bot API 10.1 spec (method exists, required fields, no unknown
fields) and Telegram's text, caption, HTML and callback-data rules. With ``limits=True`` it
answers 429 past Telegram's flood limits.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import sys
import threading
import time
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.emulator.telegram_html import HtmlError, parse_html, utf16_len

# The Bot API spec as JSON (PaulSonOfLars/telegram-bot-api-spec), from the shared corpus; a
# fresh clone without ../shared validates against python-telegram-bot's own signatures.
SPEC_PATH = (Path(__file__).resolve().parents[3] / "shared" / "corpus" / "telegram-bot-api"
             / "api.json")
# Arguments of PTB's Bot methods that are PTB's own, never sent to the Bot API.
_PTB_ONLY = {"self", "read_timeout", "write_timeout", "connect_timeout", "pool_timeout",
             "api_kwargs", "rate_limit_args"}
BOT_ID = 7000000001
BOT_USERNAME = "newsbot_test_bot"


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class Superseded(ApiError):
    """A waiting getUpdates ended by a newer one (counted in ``get_updates_conflicts``).

    Not an error of the newer caller's; the older one is often a poll its client already
    gave up (a poller stopping makes one last call), so it is not listed in ``errors``.
    """


def load_spec() -> dict[str, Any]:
    """The methods of the Bot API spec when the shared corpus has it, else PTB's."""
    if SPEC_PATH.is_file():
        return spec_from_json(SPEC_PATH)
    return spec_from_ptb()


def spec_from_json(path: Path) -> dict[str, Any]:
    """Methods and their fields from the JSON spec: ``{method: {"fields": [...]}}``."""
    return json.loads(path.read_text(encoding="utf-8"))["methods"]  # type: ignore[no-any-return]


def spec_from_ptb() -> dict[str, Any]:
    """The same shape, found by introspecting the installed python-telegram-bot.

    Each camelCase method of ``telegram.Bot`` is a Bot API method; its parameters without a
    default are required. PTB's convenience parameters are accepted as they are what PTB may
    send; the check still catches a name PTB doesn't know and a missing required one.
    """
    import inspect  # noqa: PLC0415 - only without the corpus

    from telegram import Bot  # noqa: PLC0415

    methods: dict[str, Any] = {}
    for name in dir(Bot):
        if not name[:1].islower() or name.lower() == name or name.startswith("_"):
            continue
        function = getattr(Bot, name)
        if not inspect.iscoroutinefunction(function):
            continue
        fields = [{"name": p.name, "required": p.default is inspect.Parameter.empty}
                  for p in inspect.signature(function).parameters.values()
                  if p.name not in _PTB_ONLY and p.kind is not inspect.Parameter.VAR_KEYWORD]
        methods[name] = {"name": name, "fields": fields}
    return methods


@dataclass
class ChatInfo:
    id: int
    type: str
    title: str = ""
    is_forum: bool = False
    blocked: bool = False
    not_found: bool = False
    migrate_to: int | None = None
    deleted_threads: set[int] = field(default_factory=set)


@dataclass
class Sent:
    """A message the bot sent (and its current state after edits)."""

    chat_id: int
    message_id: int
    method: str
    text: str
    html: str
    reply_markup: dict[str, Any] | None
    thread_id: int | None
    params: dict[str, Any]
    at: float
    client_port: int = 0  # the bot's side of the connection: tells two bot processes apart

    def buttons(self) -> list[list[tuple[str, str]]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", "")) for b in row] for row in rows]


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded server that says nothing when a client it serves is killed mid-request."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A bot killed mid-request (the crash tests and the soak do it on purpose).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """A keep-alive request handler that doesn't print a line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return


class Emulator:
    """In-process state and the HTTP server around it."""

    def __init__(self, token: str = "123456789:TESTtokenTESTtokenTESTtokenTESTtoken12",
                 *, limits: bool = False, spec: dict[str, Any] | None = None) -> None:
        self.token = token
        self.limits = limits
        self.spec = spec or load_spec()
        self.lock = threading.Condition()
        self.updates: deque[dict[str, Any]] = deque()
        self.update_ids = itertools.count(1)
        self.message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self.chats: dict[int, ChatInfo] = {}
        self.members: dict[tuple[int, int], str] = {}
        self.messages: list[Sent] = []
        self.by_id: dict[tuple[int, int], Sent] = {}
        self.answers: list[dict[str, Any]] = []
        self.pressed: dict[str, dict[str, Any]] = {}  # query id -> its callback_query
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_times: list[float] = []  # time.time() of each entry of ``calls``
        self.call_ports: list[int] = []  # the client port of each entry of ``calls``
        self._request = threading.local()  # the client port of the request being handled
        self.errors: list[tuple[str, str]] = []
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        # Stands in for a TLS-terminating reverse proxy: webhook POSTs go to this base
        # (e.g. "http://127.0.0.1:8443") with the registered URL's path.
        self.webhook_proxy: str | None = None
        # Several replicas behind a load balancer: webhook POSTs go to these in turn.
        self.webhook_proxies: list[str] = []
        self._next_proxy = itertools.count()
        # getUpdates calls made while another was still waiting, answered 409 as Telegram
        # does when two bot processes poll at once
        self.get_updates_conflicts = 0
        self._polling_now = 0
        self.fail_next: int = 0
        # A network fault applied to every request before it is handled (so a failed call
        # never took effect): "drop" closes the connection, "5xx" answers 502 from a
        # "proxy", "garbage" answers 200 with a body that is not JSON, "slow" answers after
        # ``slow_seconds``. None: healthy.
        self.fault: str | None = None
        # Up to this many seconds of random delay before an edit is applied: edits that race
        # over a real network land in any order (stale vote totals, issue 13.9).
        self.edit_jitter = 0.0
        self.slow_seconds = 3.0
        self.faulted_requests = 0
        self.fail_status: int = 500
        self.count_429 = 0
        # With limits on, every rate decision: (monotonic time, "ok" | "global" | "chat",
        # chat id, client port). Tells a bench which limit a 429 broke, and whose sends
        # filled the window.
        self.rate_log: list[tuple[float, str, int, int]] = []
        self._sends_global: deque[float] = deque()
        self._sends_chat: dict[int, deque[float]] = defaultdict(deque)
        self.server = QuietHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/bot"

    def start(self) -> Emulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ test API
    def chat(self, chat_id: int, type_: str = "private", title: str = "",
             is_forum: bool = False) -> ChatInfo:
        with self.lock:
            info = self.chats.get(chat_id)
            if info is None:
                info = ChatInfo(chat_id, type_, title or f"chat {chat_id}", is_forum)
                self.chats[chat_id] = info
            return info

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        with self.lock:
            self.members[(chat_id, user_id)] = status

    def _chat_obj(self, info: ChatInfo) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": info.id, "type": info.type}
        if info.type == "private":
            obj["first_name"] = info.title
        else:
            obj["title"] = info.title
        if info.is_forum:
            obj["is_forum"] = True
        return obj

    def _user(self, user_id: int, language_code: str = "en") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "language_code": language_code}

    def _push(self, update: dict[str, Any]) -> int:
        with self.lock:
            update_id = next(self.update_ids)
            update["update_id"] = update_id
            hook = self.webhook
            if hook is None:
                self.updates.append(update)
                self.lock.notify_all()
        if hook is not None:
            self._post_webhook(hook, update)
        return update_id

    def _post_webhook(self, hook: dict[str, Any], update: dict[str, Any],
                      secret: str | None = None) -> int:
        url = hook["url"]
        proxy = self.webhook_proxy
        if self.webhook_proxies:
            proxy = self.webhook_proxies[next(self._next_proxy) % len(self.webhook_proxies)]
        if proxy:
            url = proxy.rstrip("/") + urlsplit(url).path
        req = urllib.request.Request(url, data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json"})
        token = secret if secret is not None else hook.get("secret_token")
        if token:
            req.add_header("X-Telegram-Bot-Api-Secret-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - test loopback
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def post_with_secret(self, update: dict[str, Any], secret: str) -> int:
        """POST an update to the webhook with a chosen secret; returns the HTTP status."""
        assert self.webhook is not None
        return self._post_webhook(self.webhook, update, secret)

    def inject_message(self, chat_id: int, user_id: int | None, text: str, *,
                       chat_type: str = "private", thread_id: int | None = None,
                       sender_chat: int | None = None, language_code: str = "en",
                       edited: bool = False, entities: bool = True) -> int:
        info = self.chat(chat_id, chat_type)
        msg_id = next(self.message_ids[chat_id])
        message: dict[str, Any] = {"message_id": msg_id, "date": int(time.time()),
                                   "chat": self._chat_obj(info)}
        if user_id is not None:
            message["from"] = self._user(user_id, language_code)
        if sender_chat is not None:
            message["sender_chat"] = self._chat_obj(self.chat(sender_chat))
            message["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                               "username": "GroupAnonymousBot"}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if text is not None:
            message["text"] = text
            if entities and text.startswith("/"):
                cmd_len = len(text.split(maxsplit=1)[0]) if text.split() else 1
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": utf16_len(text[:cmd_len])}]
        if edited:
            message["edit_date"] = int(time.time())
        return self._push({"edited_message" if edited else "message": message})

    def inject_channel_post(self, chat_id: int, text: str) -> int:
        info = self.chat(chat_id, "channel")
        msg_id = next(self.message_ids[chat_id])
        post: dict[str, Any] = {"message_id": msg_id, "date": int(time.time()),
                                "chat": self._chat_obj(info), "sender_chat": self._chat_obj(info),
                                "text": text}
        if text.startswith("/"):
            post["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": utf16_len(text.split(maxsplit=1)[0])}]
        return self._push({"channel_post": post})

    def inject_raw(self, update: dict[str, Any]) -> int:
        return self._push(update)

    def press(self, user_id: int, sent: Sent, data: str | None = None,
              button: tuple[int, int] | None = None) -> str:
        """Press a button of a sent message (by position or with explicit data)."""
        if data is None:
            assert button is not None
            data = sent.buttons()[button[0]][button[1]][1]
        query_id = f"q{next(self.update_ids)}x"
        info = self.chat(sent.chat_id)
        message = {"message_id": sent.message_id, "date": int(time.time()),
                   "chat": self._chat_obj(info),
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "newsbot",
                            "username": BOT_USERNAME},
                   "text": sent.text}
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if sent.thread_id:
            message["message_thread_id"] = sent.thread_id
            message["is_topic_message"] = True
        query = {"id": query_id, "from": self._user(user_id),
                 "chat_instance": str(sent.chat_id), "data": data, "message": message}
        self.pressed[query_id] = query
        self._push({"callback_query": query})
        return query_id

    def press_again(self, query_id: str) -> int:
        """Deliver a press's update once more, as Telegram does when a poller confirmed
        nothing before it died (its answer, if any, is refused as too old)."""
        return self._push({"callback_query": dict(self.pressed[query_id])})

    # ------------------------------------------------------------------ reading
    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Sent]:
        with self.lock:
            return [m for m in self.messages if (chat_id is None or m.chat_id == chat_id)
                    and (method is None or m.method == method)]

    def answer_for(self, query_id: str) -> dict[str, Any] | None:
        with self.lock:
            for answer in self.answers:
                if answer.get("callback_query_id") == query_id:
                    return answer
        return None

    def wait_for(self, predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 15.0,
                  contains: str | None = None) -> list[Sent]:
        def ready() -> list[Sent] | None:
            found = [m for m in self.sent(chat_id) if contains is None or contains in m.text]
            return found if len(found) >= count else None
        return self.wait_for(ready, timeout)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ HTTP
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._dispatch(b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._dispatch(self.rfile.read(length) if length else b"")

            def _dispatch(self, body: bytes) -> None:
                path = urlsplit(self.path).path
                prefix = f"/bot{emulator.token}/"
                if not path.startswith("/bot"):
                    return self._reply(404, {"ok": False, "error_code": 404,
                                             "description": "Not Found"})
                if not path.startswith(prefix):
                    return self._reply(401, {"ok": False, "error_code": 401,
                                             "description": "Unauthorized"})
                method = path[len(prefix):]
                fault = emulator.fault
                if fault is not None:
                    with emulator.lock:
                        emulator.faulted_requests += 1
                    if fault == "drop":
                        self.close_connection = True
                        return None
                    if fault == "5xx":
                        return self._raw(502, b"<html><body>502 Bad Gateway</body></html>",
                                         "text/html")
                    if fault == "garbage":
                        return self._raw(200, b"\x00\xffnot json{", "application/json")
                    time.sleep(emulator.slow_seconds)
                try:
                    params = emulator._parse_body(body, self.headers.get("Content-Type", ""),
                                                  urlsplit(self.path).query)
                    emulator._request.port = self.client_address[1]
                    result = emulator.call(method, params)
                except ApiError as exc:
                    payload: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                               "description": exc.description}
                    if exc.parameters:
                        payload["parameters"] = exc.parameters
                    return self._reply(exc.code, payload)
                return self._reply(200, {"ok": True, "result": result})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                self._raw(status, json.dumps(payload).encode(), "application/json")

            def _raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The bot may have been killed mid-request (the soak does that on purpose).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler

    def _parse_body(self, body: bytes, content_type: str, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(query))
        if not body:
            return params
        if "application/json" in content_type:
            params.update(json.loads(body))
        elif "multipart/form-data" in content_type:
            raise ApiError(400, "Bad Request: the emulator does not take file uploads")
        else:
            params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        return params

    # ------------------------------------------------------------------ methods
    def _validate(self, method: str, params: dict[str, Any]) -> None:
        spec = self.spec.get(method)
        if spec is None:
            raise ApiError(404, "Not Found: method not found")
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name in params:
            if name not in fields:
                raise ApiError(400, f"Bad Request: unknown parameter {name!r} for {method}")
        for name, f in fields.items():
            if f.get("required") and name not in params:
                if method == "editMessageText" and name == "text":
                    continue
                raise ApiError(400, f"Bad Request: parameter {name!r} is required")

    @staticmethod
    def _json(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def _check_text(self, value: Any, parse_mode: Any, *, lo: int, hi: int, what: str) -> str:
        raw = str(value)
        if parse_mode == "HTML":
            try:
                plain = parse_html(raw)
            except HtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif parse_mode in (None, ""):
            plain = raw
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        length = utf16_len(plain.strip())
        if length < lo:
            raise ApiError(400, f"Bad Request: {what} is empty")
        if utf16_len(plain) > hi:
            raise ApiError(400, f"Bad Request: {what} is too long")
        return plain

    def _check_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if "reply_markup" not in params:
            return None
        markup = self._json(params["reply_markup"])
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list):
            raise ApiError(400, "Bad Request: inline_keyboard must be an array")
        for row in rows:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed")
                data = button.get("callback_data")
                kinds = [k for k in button if k not in ("text", "icon_custom_emoji_id", "style")]
                if len(kinds) != 1:
                    raise ApiError(400, "Bad Request: a button needs exactly one action")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _target_chat(self, params: dict[str, Any]) -> ChatInfo:
        raw = params.get("chat_id")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        info = self.chats.get(chat_id)
        if info is None or info.not_found:
            raise ApiError(400, "Bad Request: chat not found")
        if info.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if info.migrate_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": info.migrate_to})
        thread = params.get("message_thread_id")
        if thread is not None and int(thread) in info.deleted_threads:
            raise ApiError(400, "Bad Request: message thread not found")
        return info

    def _rate_check(self, info: ChatInfo) -> None:
        if not self.limits:
            return
        now = time.monotonic()
        glob = self._sends_global
        while glob and now - glob[0] > 1.0:
            glob.popleft()
        chat = self._sends_chat[info.id]
        window, cap = (1.0, 1) if info.type == "private" else (60.0, 20)
        while chat and now - chat[0] > window:
            chat.popleft()
        port = getattr(self._request, "port", 0)
        if len(glob) >= 30:
            self.count_429 += 1
            self.rate_log.append((now, "global", info.id, port))
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if len(chat) >= cap:
            wait = max(1, int(window - (now - chat[0])) + 1)
            self.count_429 += 1
            self.rate_log.append((now, "chat", info.id, port))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        glob.append(now)
        chat.append(now)
        self.rate_log.append((now, "ok", info.id, port))

    def call(self, method: str, params: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((method, params))
            self.call_times.append(time.time())
            self.call_ports.append(getattr(self._request, "port", 0))
        try:
            self._validate(method, params)
            handler = getattr(self, f"m_{method}", None)
            if handler is None:
                return True
            if self.fail_next > 0 and method in ("sendMessage", "sendPhoto"):
                with self.lock:
                    self.fail_next -= 1
                raise ApiError(self.fail_status, "Internal Server Error")
            return handler(params)
        except Superseded:
            raise
        except ApiError as exc:
            with self.lock:
                self.errors.append((method, exc.description))
            raise

    def m_getMe(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return {"id": BOT_ID, "is_bot": True, "first_name": "newsbot",
                "username": BOT_USERNAME, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def m_getUpdates(self, params: dict[str, Any]) -> Any:  # noqa: N802
        offset = int(params.get("offset", 0) or 0)
        timeout = min(float(params.get("timeout", 0) or 0), 5.0)
        limit = int(params.get("limit", 100) or 100)
        deadline = time.monotonic() + timeout
        with self.lock:
            if self.webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active")
            # As Telegram: a newer getUpdates ends one still waiting with 409 Conflict.
            if self._polling_now:
                self.get_updates_conflicts += 1
            self._polling_now = me = self._polling_now + 1
            self.lock.notify_all()
            try:
                while True:
                    if self._polling_now != me:
                        raise Superseded(409, "Conflict: terminated by other getUpdates "
                                            "request; make sure that only one bot instance "
                                            "is running")
                    while self.updates and self.updates[0]["update_id"] < offset:
                        self.updates.popleft()
                    if self.updates:
                        return list(itertools.islice(self.updates, 0, limit))
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    self.lock.wait(remaining)
            finally:
                if self._polling_now == me:
                    self._polling_now = 0

    def m_setWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        url = str(params["url"])
        with self.lock:
            self.webhook = {"url": url, "secret_token": params.get("secret_token")} if url \
                else None
        return True

    def m_deleteWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        with self.lock:
            self.webhook = None
        return True

    def m_getWebhookInfo(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    def m_setMyCommands(self, params: dict[str, Any]) -> Any:  # noqa: N802
        commands = self._json(params["commands"])
        for c in commands:
            name, desc = str(c.get("command", "")), str(c.get("description", ""))
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum()
                    and name == name.lower()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(desc) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self.lock:
            self.commands.append({"commands": commands,
                                  "scope": self._json(params.get("scope"))})
        return True

    def m_getChatMember(self, params: dict[str, Any]) -> Any:  # noqa: N802
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": self._user(user_id)}
        if status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": False,
                           "can_manage_chat": True, "can_delete_messages": True,
                           "can_manage_video_chats": True, "can_restrict_members": True,
                           "can_promote_members": False, "can_change_info": True,
                           "can_invite_users": True, "can_post_stories": False,
                           "can_edit_stories": False, "can_delete_stories": False})
        elif status == "creator":
            member["is_anonymous"] = False
        return member

    def m_getChat(self, params: dict[str, Any]) -> Any:  # noqa: N802
        info = self._target_chat(params)
        obj = self._chat_obj(info)
        obj.update({"accent_color_id": 0, "max_reaction_count": 11,
                    "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                            "unique_gifts": False,
                                            "premium_subscription": False}})
        return obj

    def _record(self, method: str, info: ChatInfo, params: dict[str, Any], html_text: str,
                plain: str, markup: dict[str, Any] | None) -> dict[str, Any]:
        thread = params.get("message_thread_id")
        with self.lock:
            msg_id = next(self.message_ids[info.id])
            sent = Sent(info.id, msg_id, method, plain, html_text, markup,
                        int(thread) if thread is not None else None, params, time.time(),
                        getattr(self._request, "port", 0))
            self.messages.append(sent)
            self.by_id[(info.id, msg_id)] = sent
        result: dict[str, Any] = {
            "message_id": msg_id, "date": int(time.time()), "chat": self._chat_obj(info),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "newsbot",
                     "username": BOT_USERNAME},
        }
        if method == "sendPhoto":
            result["photo"] = [{"file_id": "photo1", "file_unique_id": "p1", "width": 800,
                                "height": 600}]
            if plain:
                result["caption"] = plain
        else:
            result["text"] = plain
        if markup:
            result["reply_markup"] = markup
        if thread is not None:
            result["message_thread_id"] = int(thread)
            result["is_topic_message"] = True
        return result

    def m_sendMessage(self, params: dict[str, Any]) -> Any:  # noqa: N802
        info = self._target_chat(params)
        plain = self._check_text(params["text"], params.get("parse_mode"), lo=1, hi=4096,
                                 what="message text")
        markup = self._check_markup(params)
        preview = self._json(params.get("link_preview_options"))
        if preview is not None and not isinstance(preview, dict):
            raise ApiError(400, "Bad Request: can't parse link_preview_options")
        if isinstance(preview, dict):
            allowed = {"is_disabled", "url", "prefer_small_media", "prefer_large_media",
                       "show_above_text"}
            if set(preview) - allowed:
                raise ApiError(400, "Bad Request: unknown link_preview_options field")
            if preview.get("prefer_small_media") and preview.get("prefer_large_media"):
                raise ApiError(400, "Bad Request: small and large media both preferred")
        with self.lock:
            self._rate_check(info)
        return self._record("sendMessage", info, params, str(params["text"]), plain, markup)

    def m_sendPhoto(self, params: dict[str, Any]) -> Any:  # noqa: N802
        info = self._target_chat(params)
        photo = str(params["photo"])
        if not photo.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: wrong remote file identifier specified")
        caption = params.get("caption", "")
        plain = self._check_text(caption, params.get("parse_mode"), lo=0, hi=1024,
                                 what="message caption") if caption else ""
        markup = self._check_markup(params)
        with self.lock:
            self._rate_check(info)
        return self._record("sendPhoto", info, params, str(caption), plain, markup)

    def _edit_target(self, params: dict[str, Any]) -> Sent:
        chat_id, msg_id = int(params.get("chat_id", 0)), int(params.get("message_id", 0))
        sent = self.by_id.get((chat_id, msg_id))
        if sent is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return sent

    def m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if self.edit_jitter:
            time.sleep(random.uniform(0.0, self.edit_jitter))  # noqa: S311 - test timing
        sent = self._edit_target(params)
        markup = self._check_markup(params)
        if markup == sent.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same")
        with self.lock:
            sent.reply_markup = markup
        return {"message_id": sent.message_id, "date": int(time.time()),
                "chat": self._chat_obj(self.chats[sent.chat_id]), "text": sent.text,
                **({"reply_markup": markup} if markup else {})}

    def m_editMessageText(self, params: dict[str, Any]) -> Any:  # noqa: N802
        sent = self._edit_target(params)
        plain = self._check_text(params.get("text", ""), params.get("parse_mode"), lo=1,
                                 hi=4096, what="message text")
        markup = self._check_markup(params)
        with self.lock:
            sent.text, sent.html = plain, str(params.get("text", ""))
            if markup is not None:
                sent.reply_markup = markup
        return {"message_id": sent.message_id, "date": int(time.time()),
                "chat": self._chat_obj(self.chats[sent.chat_id]), "text": plain}

    def m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:  # noqa: N802
        text = str(params.get("text", ""))
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        with self.lock:
            if any(a["callback_query_id"] == params["callback_query_id"] for a in self.answers):
                raise ApiError(400, "Bad Request: query is too old and response timeout "
                                    "expired or query ID is invalid")
            self.answers.append({**params, "answered_at": time.monotonic()})
        return True
