"""A local news site for tests: feeds and article pages on 127.0.0.1, changeable at run time."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.sax.saxutils import escape

from tests.emulator.server import QuietHandler, QuietHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    delay: float = 0.0
    endless: bool = False
    # Send the body as given, headers included: no gzip of our own (compression bombs).
    raw: bool = False
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        """The body compressed, once: the ingest benchmarks fetch 10,000 pages, and the site
        shares the machine's cores with the bots it measures."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body)
        return self._gzipped


class NewsServer:
    """Serves ``routes`` (path -> Route); records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server = QuietHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> NewsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            **kw: Any) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            self.routes[path] = Route(data, content_type, **kw)

    def hits(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                with site.lock:
                    site.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                    route = site.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.endless:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"<item>" + b"x" * 65536 + b"</item>"
                    try:
                        for _ in range(100_000):
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    return
                body = route.body
                if not route.raw and "gzip" in self.headers.get("Accept-Encoding", "") \
                        and len(body) > 1024:
                    body = route.gzipped()
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


def rss(title: str, items: list[dict[str, str]]) -> str:
    """Build an RSS 2.0 document from dicts with title, link, guid, description, pubDate."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>',
           f"<title>{escape(title)}</title><link>http://example.org/</link>"
           "<description>test</description>"]
    for item in items:
        out.append("<item>")
        out.append(f"<title>{escape(item['title'])}</title>")
        out.append(f"<link>{escape(item['link'])}</link>")
        out.append(f"<guid>{escape(item.get('guid', item['link']))}</guid>")
        if "description" in item:
            out.append(f"<description>{escape(item['description'])}</description>")
        if "image" in item:
            out.append(f'<media:content url="{escape(item["image"])}" medium="image"/>')
        when = item.get("pubDate") or format_datetime(datetime.now(tz=UTC))
        out.append(f"<pubDate>{when}</pubDate>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out)


def article_page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{escape(title)}</title>"
            f'<meta property="og:title" content="{escape(title)}"></head><body>'
            f"<header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
            f"<main><article><h1>{escape(title)}</h1>{body}"
            "<div class='vote'>Enjoyed this article? Yes (75) No (3)</div>"
            "<p>Loading comments...</p></article></main>"
            "<footer>Sign up for our newsletter. All rights reserved.</footer></body></html>")
