"""Feeds against a real HTTP server on 127.0.0.1: fetching limits, SSRF policy, parsing,
deduplication and backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bot.ingest as ingest_module
from bot.article.canonical import canonical_url
from bot.clock import FakeClock
from bot.errors import FeedError, FetchBlockedError, StorageError
from bot.feeds.fetch import Fetcher, FetchPolicy, allowed_addresses
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import BACKOFF_CAP, next_poll
from bot.ingest import Ingestor
from bot.models import Article, ChatKey, Delivery, DeliveryStatus
from bot.settings import Settings, load_settings
from bot.storage.tinydb_store import TinyDBRepository
from tests.builders import article
from tests.conftest import corpus_or_skip, write_config
from tests.newsserver import NewsServer, article_page, rss

LONG = [f"Paragraph {i}: officials in Minsk and Vilnius met to discuss border trade and the "
        f"future of regional energy links, according to statements released on Monday."
        for i in range(6)]


@pytest.fixture
def site() -> Iterator[NewsServer]:
    s = NewsServer().start()
    yield s
    s.stop()


# ------------------------------------------------------------------ parsing
def test_real_belarusian_feeds_parse() -> None:
    real = corpus_or_skip("feeds", "real-news")
    tut = parse_feed((real / "epam-bsu" / "tut.by_main_2019-11-25.xml").read_bytes(),
                     "https://news.tut.by/rss/index.rss")
    assert len(tut.items) == 100
    assert all(i.url.startswith("https://") or i.url.startswith("http://") for i in tut.items)
    assert tut.items[0].title and "<" not in tut.items[0].title
    onliner = parse_feed((real / "embedded-in-tests" / "onliner.by_2021-10-26.xml").read_bytes(),
                         "https://www.onliner.by/feed")
    assert len(onliner.items) == 30 and all(i.published_at for i in onliner.items)


def test_every_real_corpus_feed_parses_and_no_edge_case_crashes() -> None:
    root = corpus_or_skip("feeds")
    real = [p for p in (root / "real-news").rglob("*")
            if p.suffix in (".xml", ".rss", ".atom")]
    assert len(real) == 29
    for path in real:
        feed = parse_feed(path.read_bytes(), "https://example.org/feed")
        assert feed.items, f"{path.name} gave no items"
    edge = [p for p in (root / "edge-cases").rglob("*") if p.is_file() and p.suffix != ".md"]
    assert len(edge) == 59
    for path in edge:
        try:
            parse_feed(path.read_bytes(), "https://example.org/feed")
        except FeedError:
            pass  # refused cleanly is fine; any other exception fails the test


def test_relative_links_html_titles_missing_dates_and_json_feed() -> None:
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>&lt;b&gt;Bold&lt;/b&gt; title</title><link>/news/1</link></item>
    </channel></rss>"""
    feed = parse_feed(doc, "https://site.example/rss/feed.xml")
    assert feed.items[0].url == "https://site.example/news/1"
    assert feed.items[0].title == "Bold title"
    assert feed.items[0].published_at is None
    json_feed = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J",
      "items": [{"id": "1", "url": "/a", "title": "Hello", "content_text": "Body",
                 "date_published": "2026-01-02T03:04:05Z", "image": "https://i.example/x.jpg"}]}"""
    jf = parse_feed(json_feed, "https://j.example/feed.json")
    assert jf.items[0].url == "https://j.example/a"
    assert jf.items[0].published_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert jf.items[0].image_url == "https://i.example/x.jpg"


def test_billion_laughs_is_refused_quickly() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
      <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
      <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
      <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
      <rss><channel><item><title>&lol9;</title><link>http://x/</link></item></channel></rss>"""
    started = time.monotonic()
    with pytest.raises(FeedError, match="entit"):
        parse_feed(bomb, "https://x.example/")
    assert time.monotonic() - started < 1.0


# ------------------------------------------------------------------ fetching
async def test_conditional_get_and_gzip(site: NewsServer) -> None:
    site.set("/f.xml", rss("t", []) + " " * 5000, "application/rss+xml", etag='"v1"')
    fetcher = Fetcher(timeout=5)
    first = await fetcher.get(f"{site.url}/f.xml")
    assert first.status == 200 and first.headers["etag"] == '"v1"'
    assert first.body.startswith(b"<?xml"), "gzip is decoded"
    second = await fetcher.get(f"{site.url}/f.xml", etag='"v1"')
    assert second.not_modified
    assert site.hits("/f.xml")[1]["if-none-match"] == '"v1"'
    assert "newsbot" in site.hits("/f.xml")[0]["user-agent"]
    await fetcher.close()


async def test_size_cap_and_endless_body_are_bounded(site: NewsServer) -> None:
    site.set("/big", b"x" * 300_000)
    site.set("/endless", b"", endless=True)
    fetcher = Fetcher(timeout=5, max_bytes=100_000)
    big = await fetcher.get(f"{site.url}/big")
    assert big.truncated and len(big.body) == 100_000
    started = time.monotonic()
    endless = await fetcher.get(f"{site.url}/endless")
    assert endless.truncated and len(endless.body) == 100_000
    assert time.monotonic() - started < 5
    await fetcher.close()


async def test_redirects_are_limited_and_rechecked(site: NewsServer) -> None:
    site.set("/r1", b"", status=302, headers={"Location": "/r2"})
    site.set("/r2", b"ok")
    for i in range(10):
        site.set(f"/loop{i}", b"", status=302, headers={"Location": f"/loop{i + 1}"})
    site.set("/to-private", b"", status=302,
             headers={"Location": "http://169.254.169.254/latest/meta-data"})
    fetcher = Fetcher(timeout=5)
    ok = await fetcher.get(f"{site.url}/r1")
    assert ok.body == b"ok" and ok.url.endswith("/r2")
    with pytest.raises(FeedError, match="redirects"):
        await fetcher.get(f"{site.url}/loop0")
    with pytest.raises(FetchBlockedError, match="non-public"):
        await fetcher.get(f"{site.url}/to-private", trusted_host="127.0.0.1")
    await fetcher.close()


async def test_ssrf_policy() -> None:
    await allowed_addresses("127.0.0.1", FetchPolicy("127.0.0.1", trust_all=False))
    fetcher = Fetcher(timeout=5)
    try:
        for bad in ("http://10.0.0.5/x", "http://192.168.1.1/", "http://169.254.169.254/",
                    "http://[::1]/", "http://127.0.0.1/"):
            with pytest.raises(FetchBlockedError):
                await fetcher.get(bad, trusted_host="news.example")
        for scheme in ("file:///etc/passwd", "gopher://x/", "ftp://x/"):
            with pytest.raises(FetchBlockedError):
                await fetcher.get(scheme, trusted_host="news.example")
    finally:
        await fetcher.close()


async def test_slow_feed_does_not_delay_others(tmp_path: Path, site: NewsServer) -> None:
    site.set("/slow.xml", rss("slow", []), "application/rss+xml", delay=3.0)
    site.set("/fast.xml", rss("fast", [{"title": "Minsk news", "link": f"{site.url}/a",
                                        "description": " ".join(LONG)}]), "application/rss+xml")
    config = write_config(tmp_path, [(f"{site.url}/slow.xml", "Slow"),
                                     (f"{site.url}/fast.xml", "Fast")])
    settings = load_settings(config, env={})
    fetcher = Fetcher(timeout=1.0)
    ingestor = Ingestor(settings, fetcher, FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    started = time.monotonic()
    results = await ingestor.run_once()
    assert time.monotonic() - started < 2.5
    slow, fast = results
    assert not slow.ok and "timed out" in slow.error
    assert fast.ok and "belarus" in fast.articles[0].topics
    await fetcher.close()


# ------------------------------------------------------------------ ingest behaviour
async def test_dedupe_backoff_recovery_and_clusters(tmp_path: Path, site: NewsServer) -> None:
    item = {"title": "Border talks in Minsk", "link": f"{site.url}/a/1?utm_source=rss",
            "guid": "g1", "description": " ".join(LONG)}
    site.set("/one.xml", rss("one", [item]), "application/rss+xml")
    # Another outlet (another host name for the same local server) rewrites the story.
    other_site = site.url.replace("127.0.0.1", "localhost")
    other = {"title": "Border talks held in Minsk", "link": f"{other_site}/b/9", "guid": "x9",
             "description": " ".join(LONG)}
    site.set("/two.xml", rss("two", [other]), "application/rss+xml")
    settings, clock, fetcher, repo = _feeds_at(tmp_path, site, [("/one.xml", "One"),
                                                                ("/two.xml", "Two")])
    ingestor = Ingestor(settings, fetcher, clock, repo)
    one, two = await ingestor.run_once(concurrency=1)
    assert len(one.articles) == 1 and len(two.articles) == 1
    assert two.articles[0].cluster_id == one.articles[0].id, "near-duplicate story clustered"
    primary = await repo.get_article(one.articles[0].id)
    assert primary is not None and primary.also_sources == ("Two",)

    # A changed GUID or extra tracking parameters for the same link: not new.
    changed = dict(item, guid="g1-new", link=f"{site.url}/a/1?utm_medium=x&fbclid=1")
    site.set("/one.xml", rss("one", [changed]), "application/rss+xml")
    again = await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    assert again.ok and again.articles == []

    # Failure: backoff grows; never dropped; recovery resets it.
    site.set("/one.xml", b"oops", status=500)
    for expected in (1, 2):
        failed = await ingestor.poll(settings.feeds[0])
        assert not failed.ok and "HTTP 500" in failed.error
        state = await repo.get_feed_state(settings.feeds[0].url)
        assert state is not None and state.failures == expected
    site.set("/one.xml", rss("one", [item]), "application/rss+xml")
    recovered = await ingestor.poll(settings.feeds[0])
    state = await repo.get_feed_state(settings.feeds[0].url)
    assert recovered.ok and state is not None and state.failures == 0
    await fetcher.close()
    await repo.close()


def _feeds_at(tmp_path: Path, site: NewsServer, feeds: list[tuple[str, str]]
              ) -> tuple[Settings, FakeClock, Fetcher, TinyDBRepository]:
    """A config with the site's feeds ``(path, name)``, a fake clock, a fetcher, a store."""
    settings = load_settings(
        write_config(tmp_path, [(f"{site.url}{path}", name) for path, name in feeds]), env={})
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    return settings, clock, Fetcher(timeout=5), TinyDBRepository(tmp_path / "data", clock)


def _one_feed(tmp_path: Path, site: NewsServer, path: str, items: list[dict[str, str]]
              ) -> tuple[Settings, FakeClock, Fetcher, TinyDBRepository]:
    """A config with one feed serving ``items`` at ``path``, a fake clock, a fetcher, a store."""
    site.set(path, rss(path.strip("/"), items), "application/rss+xml")
    return _feeds_at(tmp_path, site, [(path, "Feed")])


async def test_pruned_item_still_in_the_feed_is_not_new_after_a_restart(
        tmp_path: Path, site: NewsServer) -> None:
    # Found by a short soak: a low-volume feed lists items for longer than the retention
    # window; once pruned (keys and all), a restarted bot took them for new and sent them again.
    old = {"title": "Minsk border talks", "link": f"{site.url}/a/old", "guid": "old",
           "description": " ".join(LONG)}
    undated = {"title": "Vilnius energy links", "link": f"{site.url}/a/undated",
               "description": " ".join(LONG)}
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/slow.xml", [old, undated])
    first = await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    assert len(first.articles) == 2
    clock.advance(timedelta(days=40))
    assert await repo.prune(clock.now() - timedelta(days=30)) == 2
    assert all([await repo.get_article(a.id) is None for a in first.articles])
    await repo.close()

    repo = TinyDBRepository(tmp_path / "data", clock)  # the restart: a new process
    fresh = {"title": "Lithuania opens border post", "link": f"{site.url}/a/new",
             "guid": "new", "description": " ".join(LONG)}
    site.set("/slow.xml", rss("slow", [fresh, old, undated]), "application/rss+xml")
    again = await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    assert [a.title for a in again.articles] == ["Lithuania opens border post"]
    # An item that dropped out of the listing is forgotten: the memory is one listing long.
    state = await repo.get_feed_state(settings.feeds[0].url)
    assert state is not None and len(state.listed) == 3
    site.set("/slow.xml", rss("slow", [fresh]), "application/rss+xml")
    await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    state = await repo.get_feed_state(settings.feeds[0].url)
    assert state is not None and state.listed == {again.articles[0].id}
    await fetcher.close()
    await repo.close()


async def test_failed_item_is_not_remembered_as_listed(tmp_path: Path,
                                                      site: NewsServer) -> None:
    good = {"title": "Minsk talks", "link": f"{site.url}/a/1", "guid": "1",
            "description": " ".join(LONG)}
    bad = {"title": "Vilnius links", "link": f"{site.url}/a/2", "guid": "2",
           "description": " ".join(LONG)}
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/f.xml", [good, bad])
    ingestor = Ingestor(settings, fetcher, clock, repo)
    real_article = ingestor._article

    async def failing(feed, item, result, language, body):  # type: ignore[no-untyped-def]
        if item.title == "Vilnius links":
            raise RuntimeError("extraction blew up")
        return await real_article(feed, item, result, language, body)

    ingestor._article = failing  # type: ignore[method-assign]
    first = await ingestor.poll(settings.feeds[0])
    assert [a.title for a in first.articles] == ["Minsk talks"] and first.skipped == 1
    retry = await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    assert [a.title for a in retry.articles] == ["Vilnius links"]
    await fetcher.close()
    await repo.close()


async def test_teaser_fetches_page_and_filters_boilerplate(tmp_path: Path,
                                                          site: NewsServer) -> None:
    site.set("/a/2", article_page("Lithuania opens new border post", LONG))
    site.set("/f.xml", rss("f", [{"title": "Lithuania opens new border post",
                                  "link": f"{site.url}/a/2", "description": "Teaser…"}]),
             "application/rss+xml")
    config = write_config(tmp_path, [(f"{site.url}/f.xml", "F")])
    settings = load_settings(config, env={})
    fetcher = Fetcher(timeout=5)
    result = await Ingestor(settings, fetcher, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
                            ).poll(settings.feeds[0])
    article = result.articles[0]
    assert "lithuania" in article.topics and article.language == "en"
    assert "Paragraph 0" in article.text
    for junk in ("Loading comments", "Enjoyed this article", "newsletter"):
        assert junk not in article.text
        assert all(junk not in s for s in article.summary)
    assert 1 <= len(article.summary) <= 3
    await fetcher.close()


def test_canonical_url() -> None:
    a = canonical_url("http://WWW.Example.org/news/1/?utm_source=x&b=2&a=1#top")
    assert a == canonical_url("https://example.org/news/1?a=1&b=2&fbclid=zz")


def test_next_poll_backoff_cap_and_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    assert next_poll(now, 600, rng=rng) - now <= timedelta(seconds=660)
    capped = next_poll(now, 600, failures=30, rng=rng) - now
    assert capped <= BACKOFF_CAP * 1.1
    assert next_poll(now, 60, retry_after=1800, rng=rng) - now >= timedelta(seconds=1600)
    assert next_poll(now, 60, max_age=900, rng=rng) - now >= timedelta(seconds=800)




async def test_an_article_whose_store_failed_is_stored_by_the_next_poll(
        tmp_path: Path, site: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by the 3-process soak: the keys were remembered before the store call, so an
    # article whose transaction failed (a database restart, a lock timeout) was never stored.
    item = {"title": "Minsk border talks", "link": f"{site.url}/a/1", "guid": "one",
            "description": " ".join(LONG)}
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/one.xml", [item])
    ingestor = Ingestor(settings, fetcher, clock, repo)
    real_record = repo.record_article

    async def failing(_article: object, _deliveries: object) -> int | None:
        raise StorageError("the database is away")

    monkeypatch.setattr(repo, "record_article", failing)
    with pytest.raises(StorageError):
        await ingestor.poll(settings.feeds[0])
    monkeypatch.setattr(repo, "record_article", real_record)
    clock.advance(timedelta(hours=1))
    again = await ingestor.poll(settings.feeds[0])
    assert [a.title for a in again.articles] == ["Minsk border talks"]
    assert await repo.article_count() == 1
    await fetcher.close()
    await repo.close()


async def test_closing_the_ingestor_ends_its_worker_processes(tmp_path: Path) -> None:
    # A pool still winding down at interpreter exit made Python print "Exception ignored in:
    # <module 'threading'>" and a traceback after a clean SIGTERM; close() now joins it.
    import multiprocessing  # noqa: PLC0415 - only this test counts child processes

    settings = load_settings(write_config(tmp_path, []), env={})
    ingestor = Ingestor(settings, Fetcher(), FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
                        workers=1)
    assert await ingestor._cpu(len, "worker") == 6  # the worker process really ran it
    assert multiprocessing.active_children()
    await ingestor.close()
    assert multiprocessing.active_children() == []
    await ingestor.close()  # a second close is harmless


async def test_copies_taken_at_once_by_two_ingestors_are_stored_once(tmp_path: Path,
                                                                      site: NewsServer) -> None:
    # Two processes on one database each check the text's key before either has stored it:
    # the store's claim decides, and only one copy is fanned out.
    import asyncio  # noqa: PLC0415

    story = {"title": "Minsk and Vilnius sign a border deal", "description": " ".join(LONG)}
    site.set("/one.xml", rss("one", [{**story, "link": f"{site.url}/one/1"}]),
             "application/rss+xml")
    site.set("/two.xml", rss("two", [{**story, "link": f"{site.url}/two/1"}]),
             "application/rss+xml")
    settings, clock, fetcher, repo = _feeds_at(tmp_path, site, [("/one.xml", "One"),
                                                                ("/two.xml", "Two")])

    async def plan(article: Article) -> list[Delivery]:
        return [Delivery(article.id, ChatKey(100), DeliveryStatus.PENDING, clock.now())]

    first, second = (Ingestor(settings, fetcher, clock, repo, plan=plan) for _ in range(2))
    one, two = await asyncio.gather(first.poll(settings.feeds[0]),
                                    second.poll(settings.feeds[1]))
    assert len(one.articles) + len(two.articles) == 1
    assert one.skipped + two.skipped == 1
    assert one.queued + two.queued == 1 and await repo.article_count() == 1
    assert [d.article_id for d in await repo.pending()] == [(one.articles or two.articles)[0].id], \
        "one delivery, of the copy that was stored"
    await fetcher.close()
    await repo.close()


async def test_pages_of_a_poll_are_fetched_ahead_and_stored_in_order(tmp_path: Path,
                                                                     site: NewsServer) -> None:
    # Fetched one after another, the pages of a teaser feed on a slow site made a poll take
    # longer than the feed keeps its items (the soak lost whole stories so).
    items = []
    for i in range(4):
        site.set(f"/a/{i}", article_page(f"Minsk story {i}", LONG), delay=2.0)
        items.append({"title": f"Minsk story {i}", "link": f"{site.url}/a/{i}",
                      "description": "Teaser…"})
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/f.xml", items)
    started = time.monotonic()
    result = await Ingestor(settings, fetcher, clock, repo).poll(settings.feeds[0])
    took = time.monotonic() - started
    assert [a.title for a in result.articles] == [f"Minsk story {i}" for i in (3, 2, 1, 0)]
    assert all("Paragraph 0" in a.text for a in result.articles), "every page was used"
    assert took < 6.0, f"pages fetched one after another ({took:.1f} s for 4 x 2 s)"
    await fetcher.close()
    await repo.close()


async def test_a_teaser_whose_page_fails_waits_for_the_next_poll(tmp_path: Path,
                                                                 site: NewsServer) -> None:
    # Stored with its teaser, the article is a poor one, and a full-text copy of the story in
    # another feed no longer looks the same (the soak sent such a story twice).
    from bot.ingest import PAGE_TRIES  # noqa: PLC0415

    teaser = {"title": "Minsk talks resume", "link": f"{site.url}/a/1", "description": "Teaser…"}
    site.set("/a/1", "busy", status=503)
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/f.xml", [teaser])
    ingestor = Ingestor(settings, fetcher, clock, repo)
    first = await ingestor.poll(settings.feeds[0])
    assert first.ok and first.articles == [] and first.skipped == 1
    site.set("/a/1", article_page("Minsk talks resume", LONG))
    second = await ingestor.poll(settings.feeds[0])
    assert [a.title for a in second.articles] == ["Minsk talks resume"]
    assert "Paragraph 0" in second.articles[0].text, "the page's text, not the teaser"

    # A page that keeps failing: the teaser stands in after PAGE_TRIES polls.
    other = {"title": "Vilnius port news", "link": f"{site.url}/a/2", "description": "Teaser…"}
    site.set("/a/2", "busy", status=502)
    site.set("/f.xml", rss("f", [other, teaser]), "application/rss+xml")
    polls = [await ingestor.poll(settings.feeds[0]) for _ in range(PAGE_TRIES)]
    assert [len(p.articles) for p in polls] == [0] * (PAGE_TRIES - 1) + [1]
    assert polls[-1].articles[0].text.startswith("Teaser")
    site.set("/a/3", "gone", status=404)  # a page that is not there: the teaser at once
    gone = {"title": "Riga bridge", "link": f"{site.url}/a/3", "description": "Teaser…"}
    site.set("/f.xml", rss("f", [gone, other, teaser]), "application/rss+xml")
    assert [a.title for a in (await ingestor.poll(settings.feeds[0])).articles] == ["Riga bridge"]
    await fetcher.close()
    await repo.close()


async def test_a_restart_fills_the_story_index_page_by_page_with_only_what_it_keeps(
        tmp_path: Path, site: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reading all 20,000 recent articles at once raised a bot's RSS by 70 MB for good; the
    # index is now filled a page at a time, newest first, and keeps its newest MAX_STORIES.
    monkeypatch.setattr(ingest_module, "WARM_PAGE", 3)
    monkeypatch.setattr(ingest_module, "MAX_STORIES", 7)
    settings, clock, fetcher, repo = _feeds_at(tmp_path, site, [])
    now = clock.now()
    stored = [article(ingested_at=now - timedelta(minutes=m), title=f"Story {m}",
                      url=f"https://s{m}.example/a") for m in range(12, 0, -1)]
    stored.append(article(ingested_at=now - timedelta(minutes=1), title="Tied story",
                          url="https://tie.example/a"))  # a tie on a page's edge
    for a in stored:
        await repo.add_article(a)
    ingestor = Ingestor(settings, fetcher, clock, repo)
    await ingestor._warm_clusters()
    newest = sorted(stored, key=lambda a: (a.ingested_at, a.id))[-7:]
    assert len(ingestor.stories) == 7
    assert all(a.id in ingestor.stories for a in newest), "the newest seven, ties included"
    await ingestor.close()
    await repo.close()


async def test_a_poll_that_begins_after_the_shutdown_fetches_nothing(tmp_path: Path,
                                                                     site: NewsServer) -> None:
    # Found by the 3-process soak: a poll due as the bot stopped reached its fetch after the
    # fetcher was closed ("Cannot send a request, as the client has been closed").
    item = {"title": "Minsk border talks", "link": f"{site.url}/a/1", "guid": "one",
            "description": " ".join(LONG)}
    settings, clock, fetcher, repo = _one_feed(tmp_path, site, "/one.xml", [item])
    ingestor = Ingestor(settings, fetcher, clock, repo)
    ingestor.stop()
    await fetcher.close()
    result = await ingestor.poll(settings.feeds[0])
    assert result.articles == [] and result.ok
    assert await repo.get_feed_state(settings.feeds[0].url) is None, "nothing changed"
    assert await repo.article_count() == 0
    await repo.close()
