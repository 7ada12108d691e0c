"""Hostile HTTP answers: compression bombs, stacked or unasked encodings, DNS rebinding.

Served for real by the local news site on 127.0.0.1; the fetcher is the one the bot uses for
feeds and article pages.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator

import pytest

from bot.errors import FeedError, FetchBlockedError
from bot.feeds.fetch import Fetcher, effective_address, is_public
from tests.conftest import ROOT
from tests.newsserver import NewsServer, rss

MAX_BYTES = 1_000_000


def _zeros(size: int, wbits: int) -> bytes:
    """``size`` zero bytes compressed as a stream (gzip: wbits 31; zlib: 15; raw: -15)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    out = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    gzip_zeros = _zeros(256 << 20, 31)  # 256 MiB of zeros, ~250 KB on the wire
    gzip_in_gzip = zlib.compress(gzip_zeros, 9, wbits=31) if sys.version_info >= (3, 11) \
        else b""
    return {"gzip": gzip_zeros, "gzip, gzip": gzip_in_gzip,
            "deflate": _zeros(256 << 20, 15), "raw-deflate": _zeros(256 << 20, -15)}


@pytest.fixture
def site(bombs: dict[str, bytes]) -> Iterator[NewsServer]:
    s = NewsServer().start()
    s.set("/bomb.gz", bombs["gzip"], "application/rss+xml", raw=True,
          headers={"Content-Encoding": "gzip"})
    s.set("/bomb2.gz", bombs["gzip, gzip"], "text/html", raw=True,
          headers={"Content-Encoding": "gzip, gzip"})
    s.set("/bomb.deflate", bombs["deflate"], "text/html", raw=True,
          headers={"Content-Encoding": "deflate"})
    s.set("/bomb.rawdeflate", bombs["raw-deflate"], "text/html", raw=True,
          headers={"Content-Encoding": "deflate"})
    # Brotli was never asked for (Accept-Encoding: gzip, deflate): refused unread.
    s.set("/bomb.br", b"\x1b\xff\xff\x0f" * 64, "text/html", raw=True,
          headers={"Content-Encoding": "br"})
    yield s
    s.stop()


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"], ids=["feed", "page"])
async def test_single_encoding_bombs_are_cut_at_max_bytes(site: NewsServer,
                                                          trusted: str | None) -> None:
    fetcher = Fetcher(timeout=10, max_bytes=MAX_BYTES)
    try:
        for path in ("/bomb.gz", "/bomb.deflate", "/bomb.rawdeflate"):
            result = await fetcher.get(f"{site.url}{path}", trusted_host=trusted)
            assert result.truncated, path
            assert len(result.body) == MAX_BYTES and not result.body.strip(b"\0"), path
    finally:
        await fetcher.close()


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"], ids=["feed", "page"])
async def test_stacked_and_unasked_encodings_are_refused(site: NewsServer,
                                                         trusted: str | None) -> None:
    fetcher = Fetcher(timeout=10, max_bytes=MAX_BYTES)
    try:
        with pytest.raises(FetchBlockedError, match="stacked"):
            await fetcher.get(f"{site.url}/bomb2.gz", trusted_host=trusted)
        with pytest.raises(FetchBlockedError, match="not asked for"):
            await fetcher.get(f"{site.url}/bomb.br", trusted_host=trusted)
    finally:
        await fetcher.close()


async def test_ordinary_gzip_and_corrupt_streams(site: NewsServer) -> None:
    feed = rss("t", [{"title": "x", "link": "http://x.example/1"}]) + " " * 4000
    site.set("/ok.xml", feed, "application/rss+xml")  # gzipped by the site (Accept-Encoding)
    site.set("/corrupt", b"\x1f\x8b\x08\x00garbage-garbage", raw=True,
             headers={"Content-Encoding": "gzip"})
    fetcher = Fetcher(timeout=5, max_bytes=MAX_BYTES)
    try:
        ok = await fetcher.get(f"{site.url}/ok.xml")
        assert ok.body == feed.encode() and not ok.truncated
        assert site.hits("/ok.xml")[0]["accept-encoding"] == "gzip, deflate"
        with pytest.raises(FeedError, match="corrupt"):
            await fetcher.get(f"{site.url}/corrupt")
    finally:
        await fetcher.close()


_RSS_PROBE = textwrap.dedent("""
    import asyncio, json, resource, sys
    from bot.feeds.fetch import Fetcher

    async def main(base, max_bytes):
        fetcher = Fetcher(timeout=30, max_bytes=max_bytes)
        await fetcher.get(base + "/warm")          # imports, TLS context, pool: not the bomb
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        outcomes = []
        for path, trusted in (("/bomb.gz", None), ("/bomb.deflate", "127.0.0.1"),
                              ("/bomb2.gz", None), ("/bomb2.gz", "127.0.0.1")):
            try:
                r = await fetcher.get(base + path, trusted_host=trusted)
                outcomes.append(len(r.body))
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await fetcher.close()
        print(json.dumps({"grew_kb": after - before, "outcomes": outcomes}))

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


def test_peak_memory_grows_by_at_most_max_bytes_plus_a_constant(site: NewsServer) -> None:
    """The bomb's decoded size (256 MiB, or 256 GiB for gzip-in-gzip) never reaches memory."""
    site.set("/warm", b"ok")
    done = subprocess.run([sys.executable, "-c", _RSS_PROBE, site.url, str(5_000_000)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcomes"] == [5_000_000, 5_000_000, "FetchBlockedError",
                                  "FetchBlockedError"]
    # max_bytes of body plus a bytes() copy of it, plus 16 MB for buffers and allocator slack.
    assert report["grew_kb"] * 1024 <= 2 * 5_000_000 + 16_000_000, report


# ------------------------------------------------------------------ DNS rebinding
class FlippingResolver:
    """Answers ``first`` the first time and ``then`` after (a rebinding DNS server).

    The feed's own host always resolves to a public address.
    """

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first, then]
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        if host == "feed.example":
            return ["93.184.216.34"]
        self.asked.append(host)
        return [self.answers[min(len(self.asked) - 1, 1)]]


async def test_rebinding_name_never_reaches_a_local_page(site: NewsServer) -> None:
    site.set("/secret", b"internal admin page")
    port = site.url.rsplit(":", 1)[1]
    # First answer public, second local: the connection goes to the address that was
    # checked (public, unreachable here), never to the loopback the second answer names.
    resolver = FlippingResolver("93.184.216.34", "127.0.0.1")
    fetcher = Fetcher(timeout=2, resolver=resolver)
    try:
        with pytest.raises(FeedError):
            await fetcher.get(f"http://rebind.example:{port}/secret", trusted_host="feed.example")
        assert resolver.asked == ["rebind.example"], "resolved once, at connect time"
        assert site.hits("/secret") == []
    finally:
        await fetcher.close()
    # The other order: the very first answer is local, so the connection is refused.
    resolver = FlippingResolver("127.0.0.1", "127.0.0.1")
    local = Fetcher(timeout=2, resolver=resolver)
    try:
        with pytest.raises(FetchBlockedError, match="non-public"):
            await local.get(f"http://rebind.example:{port}/secret", trusted_host="feed.example")
        assert site.hits("/secret") == []
    finally:
        await local.close()


async def test_redirect_to_a_rebinding_name_is_checked_at_connect(site: NewsServer) -> None:
    port = site.url.rsplit(":", 1)[1]
    site.set("/go", b"", status=302, headers={"Location": f"http://evil.example:{port}/secret"})
    site.set("/secret", b"internal")
    fetcher = Fetcher(timeout=2, resolver=FlippingResolver("10.0.0.1", "127.0.0.1"))
    try:
        # The configured feed URL is trusted; where it redirects is not.
        with pytest.raises(FetchBlockedError):
            await fetcher.get(f"{site.url}/go")
        assert site.hits("/secret") == []
    finally:
        await fetcher.close()


@pytest.mark.parametrize("address, inner", [
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("::ffff:0:a9fe:a9fe", "169.254.169.254"),  # SIIT form ::ffff:0:a.b.c.d
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("2002:7f00:1::", "127.0.0.1"),
    ("2002:c0a8:101::1", "192.168.1.1"),
    ("::127.0.0.1", "127.0.0.1"),
    ("::10.0.0.1", "10.0.0.1"),
])
def test_ipv6_forms_embedding_ipv4_are_judged_as_that_address(address: str,
                                                              inner: str | None) -> None:
    parsed = ipaddress.ip_address(address)
    if inner is not None:
        assert effective_address(parsed) == ipaddress.ip_address(inner)
    assert not is_public(parsed)


def test_public_addresses_stay_public() -> None:
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946",
                    "64:ff9b::5db8:d822", "2002:5db8:d822::1"):
        assert is_public(ipaddress.ip_address(address)), address


# ------------------------------------------------------------------ XML entities, field caps
def test_entity_declarations_are_refused_wherever_they_are() -> None:
    from bot.feeds.parse import parse_feed  # noqa: PLC0415 - grouped with its tests

    entity = '<!ENTITY a "' + "x" * 900 + '">'
    late = ('<?xml version="1.0"?>\n' + "<!-- " + "padding " * 20_000 + "-->\n"
            + f"<!DOCTYPE rss [{entity}]>\n"
            + "<rss><channel><item><title>t</title><link>http://x/</link>"
            + "<description>" + "&a;" * 100_000 + "</description></item></channel></rss>")
    assert len(late) > 400_000
    for raw in (late.encode(), late.encode("utf-16"), late.encode("utf-16-le"),
                late.encode("utf-32")):
        with pytest.raises(FeedError, match="entit"):
            parse_feed(raw, "https://x.example/")


def test_every_stored_field_is_capped() -> None:
    from bot.feeds.parse import (  # noqa: PLC0415
        MAX_CONTENT_HTML,
        MAX_SUMMARY_HTML,
        MAX_TITLE,
        parse_feed,
    )

    huge = "word " * 400_000
    doc = rss("t" * 10_000, [
        {"title": huge, "link": "http://x.example/1", "description": huge},
        {"title": "long link", "link": "http://x.example/" + "a" * 5000},
    ]).replace("</guid>", f"</guid><content:encoded>{huge}</content:encoded>", 1)
    doc = doc.replace("<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')
    feed = parse_feed(doc.encode(), "http://x.example/feed")
    assert len(feed.title) <= 500
    assert [i.url for i in feed.items] == ["http://x.example/1"], "an over-long link is dropped"
    item = feed.items[0]
    assert len(item.title) <= MAX_TITLE
    assert len(item.summary_html) <= MAX_SUMMARY_HTML
    assert 0 < len(item.content_html) <= MAX_CONTENT_HTML
