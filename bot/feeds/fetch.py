"""HTTP fetching for feeds and article pages, with limits and an SSRF policy.

* Feeds are fetched from wherever the operator configured them.
* Article pages and redirects are untrusted links: they are fetched only over http(s), from
  the feed's own host, or from hosts whose every address is public.
* The address check happens at **connect time**, on the very address the socket connects to
  (``GuardedNetworkBackend`` under httpx). Checking a name and letting the connection resolve
  it again would let a DNS server answer a public address to the check and 127.0.0.1 to the
  connection (DNS rebinding).
* Every response is capped at ``max_bytes`` and ``timeout`` (the whole transfer, not per read).
  The cap applies to the *decoded* bytes, while decoding: httpx would decode every encoding a
  server lists (``gzip, gzip``), so a 1.8 KB answer could become gigabytes before a size check
  saw it. We read raw bytes and decompress with an output limit per call, and refuse an
  encoding we did not ask for, or more than one.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from bot import __version__
from bot.errors import FeedError, FetchBlockedError

USER_AGENT = f"newsbot/{__version__} (+https://github.com/newsbot; Telegram news briefings)"
MAX_REDIRECTS = 5
ACCEPT_ENCODING = "gzip, deflate"
RAW_CHUNK = 65_536
DECODE_STEP = 262_144

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[list[str]]]

# IPv6 prefixes that carry an IPv4 address: NAT64 (RFC 6052) and 6to4 (RFC 3056).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 7915


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


def effective_address(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form embeds (mapped, NAT64, 6to4, compatible), else itself.

    ``::ffff:127.0.0.1`` reaches the loopback just as ``127.0.0.1`` does, so the policy must
    judge the embedded address.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _NAT64_LOCAL or address in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address (after unwrapping embedded IPv4)."""
    inner = effective_address(address)
    return inner.is_global and not inner.is_multicast


async def system_resolver(host: str) -> list[str]:
    """Resolve a host name with the system resolver (all addresses, any family)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FeedError(f"can't resolve {host}: {exc.strerror or exc}") from exc
    return [str(info[4][0]).split("%")[0] for info in infos]


async def _addresses(host: str, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    return [ipaddress.ip_address(a) for a in await resolver(host)]


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Which addresses one fetch may connect to.

    Attributes:
        trusted_host: The configured feed's host; any of its addresses is allowed.
        trust_all: True for the configured feed URL itself (the operator chose it).
    """

    trusted_host: str | None = None
    trust_all: bool = True


# The policy of the fetch running in this task; the network backend reads it when it opens a
# connection (httpcore connects inside the task that sends the request).
_policy: contextvars.ContextVar[FetchPolicy] = contextvars.ContextVar(
    "newsbot_fetch_policy", default=FetchPolicy(trust_all=False))  # noqa: B039 - frozen


async def allowed_addresses(host: str, policy: FetchPolicy,
                            resolver: Resolver = system_resolver) -> list[IPAddress]:
    """Resolve ``host`` once and return the addresses the policy allows, in resolver order.

    Raises:
        FetchBlockedError: When none is allowed (some non-public address and not the feed's).
        FeedError: When the name does not resolve.
    """
    addresses = await _addresses(host, resolver)
    if not addresses:
        raise FeedError(f"can't resolve {host}: no addresses")
    trusted_name = policy.trusted_host is not None and \
        host.lower().strip("[]") == policy.trusted_host.lower().strip("[]")
    if policy.trust_all or trusted_name or all(is_public(a) for a in addresses):
        return addresses
    # A page on another name that resolves inside the feed host's own addresses is the feed's
    # own site under an alias (news.example and www.news.example on one server).
    trusted: set[IPAddress] = set()
    if policy.trusted_host is not None:
        try:
            trusted = set(await _addresses(policy.trusted_host, resolver))
        except FeedError:
            trusted = set()
    if trusted and set(addresses) <= trusted:
        return addresses
    raise FetchBlockedError(f"refused {host}: resolves to a non-public address (SSRF policy)")


_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")


async def private_host_problem(url: str, resolver: Resolver = system_resolver) -> str | None:
    """Why ``url``'s host is not a public one, or None (for feeds from someone else's list).

    Literal addresses and local names are judged without DNS; other names by what they
    resolve to now. A name that does not resolve here is not refused (the machine may be
    offline); the connection is made to whatever the operator's DNS answers later.
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return "no host"
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        return None if is_public(literal) else f"{host} is not a public address"
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return f"{host} is a local name"
    try:
        addresses = await _addresses(host, resolver)
    except FeedError:
        return None
    private = sorted({str(a) for a in addresses if not is_public(a)})
    return f"{host} resolves to {', '.join(private)}" if private else None


def _check_scheme(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchBlockedError(f"refused non-http(s) URL {url[:200]!r}")
    host = parts.hostname
    if not host:
        raise FetchBlockedError(f"refused URL without host {url[:200]!r}")
    return host


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the fetch policy allows.

    It resolves the name itself, once, checks the answers and connects to the checked address
    (by IP). TLS still verifies the certificate against the host name, which httpcore passes
    separately as the server name.
    """

    def __init__(self, resolver: Resolver = system_resolver,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109 - httpcore's API
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection to an allowed address of ``host``."""
        try:
            addresses = await allowed_addresses(host, _policy.get(), self._resolver)
        except FeedError as exc:
            # httpcore maps its own errors to httpx's; ours travel as ConnectError text.
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str,
                                  timeout: float | None = None,  # noqa: ASYNC109 - httpcore
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        """Never: fetches go over TCP only."""
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        """Sleep, as the inner backend does."""
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that uses ``GuardedNetworkBackend``."""

    def __init__(self, resolver: Resolver, max_connections: int) -> None:
        super().__init__()
        # httpx has no public switch for the network backend; its pool is httpcore's public
        # AsyncConnectionPool, built here with the same defaults plus our backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=max_connections,
            max_keepalive_connections=max_connections, keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(resolver))


class _Decoder:
    """Decodes one Content-Encoding with a bound on the output of each call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._first = True
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

    def decode(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        """Decode at most ``limit`` bytes of output; return it and the unread input."""
        if self._zlib is None:
            return data[:limit], data[limit:]
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if self.encoding == "deflate" and self._first:
                # "deflate" is often sent as a raw stream without the zlib header.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                return self.decode(data, limit)
            raise
        self._first = False
        return out, self._zlib.unconsumed_tail


async def read_bounded(raw: AsyncIterator[bytes], encoding: str,
                       max_bytes: int) -> tuple[bytes, bool]:
    """Decode a raw body while reading it, keeping at most ``max_bytes`` of output.

    Returns:
        The decoded body and whether it was cut.

    Raises:
        FetchBlockedError: For an encoding we did not ask for, or several.
        FeedError: For a corrupt compressed stream.
    """
    names = [part.strip().lower() for part in encoding.split(",") if part.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > 1:
        raise FetchBlockedError(f"refused stacked Content-Encoding {encoding[:80]!r}")
    if names and names[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchBlockedError(f"refused Content-Encoding {names[0][:40]!r} (not asked for)")
    decoder = _Decoder(names[0] if names else "identity")
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in raw:
            pending = chunk
            while pending:
                # Small outputs per call: the decoded body grows by at most DECODE_STEP past
                # what is kept. One byte over the cap tells a cut body from an exact one.
                out, pending = decoder.decode(pending, min(DECODE_STEP, max_bytes + 1 - size))
                if size + len(out) > max_bytes:
                    parts.append(out[:max_bytes - size])
                    return b"".join(parts), True
                parts.append(out)
                size += len(out)
                if not out:
                    break
    except zlib.error as exc:
        raise FeedError(f"corrupt {names[0]} body: {exc}") from exc
    return b"".join(parts), False


class Fetcher:
    """A shared HTTP client with limits."""

    def __init__(self, timeout: float = 20.0, max_bytes: int = 5_000_000,
                 max_connections: int = 16, resolver: Resolver = system_resolver) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._resolver = resolver
        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
            transport=_GuardedTransport(resolver, max_connections),
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
            The response, its decoded body cut at ``max_bytes``.

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
            _check_scheme(current)
            # The configured feed URL itself is trusted; its redirects and every page are
            # checked against the feed's host.
            trust_all = trusted_host is None and current == url
            _policy.set(FetchPolicy(trusted_host or urlsplit(url).hostname, trust_all))
            try:
                async with self._client.stream("GET", current, headers=headers) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise FeedError(f"HTTP {resp.status_code} without Location")
                        current = urljoin(current, location)
                        continue
                    body, truncated = await read_bounded(
                        resp.aiter_raw(RAW_CHUNK), resp.headers.get("content-encoding", ""),
                        self.max_bytes)
                    return FetchResult(str(current), resp.status_code, body,
                                       {k.lower(): v for k, v in resp.headers.items()},
                                       truncated)
            except httpx.ConnectError as exc:
                if "SSRF policy" in str(exc):
                    raise FetchBlockedError(str(exc)[:300]) from exc
                raise FeedError(f"{type(exc).__name__}: {exc}"[:300]) from exc
            except httpx.HTTPError as exc:
                raise FeedError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        raise FeedError(f"more than {MAX_REDIRECTS} redirects")
