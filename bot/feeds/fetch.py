"""HTTP fetching for feeds and article pages, with limits and an SSRF policy.

* Feeds are fetched from wherever the operator configured them.
* Article pages are untrusted links: they are fetched only over http(s), from the feed's own
  host, or from hosts whose every address is public. Each redirect is checked again.
* Every response is capped at ``max_bytes`` and ``timeout`` (the whole transfer, not per read),
  so a never-ending or huge body costs bounded time and memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from bot import __version__
from bot.errors import FeedError, FetchBlockedError

USER_AGENT = f"newsbot/{__version__} (+https://github.com/newsbot; Telegram news briefings)"
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response, cut to the size cap."""

    url: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional GET."""
        return self.status == 304

    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait, if it did."""
        value = self.headers.get("retry-after")
        if not value:
            return None
        if value.strip().isdigit():
            return float(value.strip())
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        date = self.headers.get("date")
        try:
            now = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            now = None
        if now is None:
            return None
        return max(0.0, (when - now).total_seconds())

    def max_age(self) -> float | None:
        """Cache-Control max-age in seconds, if given."""
        for part in self.headers.get("cache-control", "").split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "max-age" and value.strip().isdigit():
                return float(value.strip())
        return None


async def _addresses(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return {ipaddress.ip_address(host)}
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FeedError(f"can't resolve {host}: {exc.strerror or exc}") from exc
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


async def check_url(url: str, trusted_host: str | None) -> None:
    """Refuse a URL that is not http(s) or points to a non-public address.

    Args:
        url: The URL about to be fetched.
        trusted_host: The feed's host: any address of it is allowed (the operator chose it).

    Raises:
        FetchBlockedError: When the policy refuses it.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchBlockedError(f"refused non-http(s) URL {url[:200]!r}")
    host = parts.hostname
    if not host:
        raise FetchBlockedError(f"refused URL without host {url[:200]!r}")
    if trusted_host is None or host.lower() == trusted_host.lower():
        return
    addresses = await _addresses(host)
    if not all(addr.is_global for addr in addresses):
        try:
            trusted = await _addresses(trusted_host)
        except FeedError:
            trusted = set()
        if not addresses <= trusted:
            raise FetchBlockedError(
                f"refused {host}: resolves to a non-public address (SSRF policy)")


class Fetcher:
    """A shared HTTP client with limits."""

    def __init__(self, timeout: float = 20.0, max_bytes: int = 5_000_000,
                 max_connections: int = 16) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
            trust_env=False,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def get(self, url: str, *, etag: str | None = None,
                  last_modified: str | None = None, trusted_host: str | None = None,
                  accept: str = "*/*") -> FetchResult:
        """GET a URL under the limits.

        Args:
            url: What to fetch.
            etag: For a conditional GET.
            last_modified: For a conditional GET.
            trusted_host: None to trust any address (configured feeds); the feed's host to
                apply the SSRF policy (article pages).
            accept: The Accept header.

        Returns:
            The response, its body cut at ``max_bytes``.

        Raises:
            FeedError: On network errors, timeouts and refused URLs.
        """
        try:
            return await asyncio.wait_for(
                self._get(url, etag, last_modified, trusted_host, accept), self.timeout)
        except TimeoutError as exc:
            raise FeedError(f"timed out after {self.timeout:g} s") from exc

    async def _get(self, url: str, etag: str | None, last_modified: str | None,
                   trusted_host: str | None, accept: str) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if trusted_host is not None or current != url:
                await check_url(current, trusted_host or urlsplit(url).hostname)
            try:
                async with self._client.stream("GET", current, headers=headers) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise FeedError(f"HTTP {resp.status_code} without Location")
                        current = urljoin(current, location)
                        continue
                    body = bytearray()
                    truncated = False
                    async for chunk in resp.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            del body[self.max_bytes:]
                            truncated = True
                            break
                    return FetchResult(str(current), resp.status_code, bytes(body),
                                       {k.lower(): v for k, v in resp.headers.items()},
                                       truncated)
            except httpx.HTTPError as exc:
                raise FeedError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        raise FeedError(f"more than {MAX_REDIRECTS} redirects")
