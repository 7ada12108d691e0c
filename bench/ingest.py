"""Ingest benchmark: FEEDS local feeds x ITEMS items with article pages (teasers in the feed,
so every article page is fetched, extracted and summarized).

First pass: end-to-end new articles/s and time per stage. Second pass: every feed answers
304. In the same run, lemon24/reader (``pip install reader sgmllib3k``) updates the same
feeds as the peer: cold (parse and store only) and all-304.

Run: ``python bench/ingest.py [FEEDS ITEMS]`` (defaults 500 20).
"""

from __future__ import annotations

import asyncio
import collections
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402
from bot.ingest import Ingestor  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.storage.tinydb_store import TinyDBRepository  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.newsserver import NewsServer, article_page, rss  # noqa: E402

WORKERS = 2
SENTENCES = [
    "Officials in Minsk and Vilnius met on Monday to discuss cross-border trade.",
    "The talks focused on rail freight, customs queues and energy links.",
    "Both sides said progress had been made but gave few details.",
    "Business groups welcomed the meeting and asked for faster procedures.",
    "Analysts expect a further round of talks before the end of the year.",
    "The European Commission said it was following the discussions closely.",
    "Hauliers have waited for days at the border crossings this autumn.",
    "A joint statement is expected after the next meeting in Warsaw.",
]


def build_site(site: NewsServer, feeds: int, items: int) -> list[str]:
    urls = []
    for f in range(feeds):
        entries = []
        for i in range(items):
            path = f"/f{f}/a{i}"
            paras = [f"{s} (report {f}-{i}, part {k})" for k, s in enumerate(SENTENCES)] * 2
            site.set(path, article_page(f"Border talks {f}-{i} in Minsk", paras))
            entries.append({"title": f"Border talks {f}-{i} in Minsk",
                            "link": f"{site.url}{path}", "guid": f"{f}-{i}",
                            "description": "Teaser only."})
        site.set(f"/feed{f}.xml", rss(f"Feed {f}", entries), "application/rss+xml",
                 etag=f'"v{f}"')
        urls.append(f"{site.url}/feed{f}.xml")
    return urls


async def newsbot_passes(urls: list[str], tmp: Path) -> dict[str, float]:
    settings = load_settings(write_config(tmp, [(u, f"Feed {i}") for i, u in enumerate(urls)]),
                             env={})
    repo = TinyDBRepository(tmp / "data", SystemClock())
    fetcher = Fetcher(timeout=30, max_connections=32)
    ingestor = Ingestor(settings, fetcher, SystemClock(), repo, workers=WORKERS)
    started = time.perf_counter()
    results = await ingestor.run_once(concurrency=16)
    cold = time.perf_counter() - started
    stages: collections.Counter[str] = collections.Counter()
    for r in results:
        stages.update(r.stage_seconds)
    new = sum(len(r.articles) for r in results)
    started = time.perf_counter()
    again = await ingestor.run_once(concurrency=16)
    warm = time.perf_counter() - started
    await fetcher.close()
    await ingestor.close()
    await repo.close()
    return {"articles": new, "cold": cold, "warm": warm,
            "not_modified": sum(r.not_modified for r in again), **dict(stages)}


def reader_passes(urls: list[str], tmp: Path) -> dict[str, float] | None:
    try:
        from reader import make_reader  # noqa: PLC0415 - optional peer
    except ImportError:
        return None
    reader = make_reader(str(tmp / "reader.sqlite"))
    for url in urls:
        reader.add_feed(url)
    started = time.perf_counter()
    reader.update_feeds(workers=16, scheduled=False)
    cold = time.perf_counter() - started
    entries = sum(1 for _ in reader.get_entries())
    started = time.perf_counter()
    reader.update_feeds(workers=16, scheduled=False)
    warm = time.perf_counter() - started
    reader.close()
    return {"cold": cold, "warm": warm, "entries": entries}


def main() -> None:
    feeds, items = (int(x) for x in (sys.argv[1:3] or (500, 20)))
    site = NewsServer().start()
    try:
        urls = build_site(site, feeds, items)
        with tempfile.TemporaryDirectory() as tmp:
            ours = asyncio.run(newsbot_passes(urls, Path(tmp)))
            peer = reader_passes(urls, Path(tmp))
    finally:
        site.stop()
    n = ours["articles"]
    stage = " · ".join(f"{k} {ours.get(k, 0.0):.1f} s" for k in
                       ("fetch", "parse", "extract", "detect", "match", "summarize"))
    lines = [f"{feeds} local feeds x {items} items = {feeds * items:,} articles, each a teaser "
             f"whose page is fetched, extracted, language-tagged, matched and summarized; "
             f"measured {datetime.now(tz=UTC):%Y-%m-%d}.", "",
             "| pass | newsbot | reader (peer) | target |", "|---|---|---|---|",
             f"| first pass | {ours['cold']:.1f} s, {n / ours['cold']:.0f} articles/s end to end"
             f" | {peer['cold']:.1f} s, {peer['entries'] / peer['cold']:.0f} entries/s (parse "
             f"and store only) | >= 50 articles/s |" if peer else
             f"| first pass | {ours['cold']:.1f} s, {n / ours['cold']:.0f} articles/s | (reader "
             "not installed) | >= 50 articles/s |",
             f"| all feeds 304 | {ours['warm']:.2f} s ({ours['not_modified']:.0f} not modified) |"
             f" {peer['warm']:.2f} s |" + " <= reader |" if peer else
             f"| all feeds 304 | {ours['warm']:.2f} s | | |",
             "", f"Stage seconds, summed over concurrent tasks (CPU-bound stages run in worker "
             f"threads): {stage}."]
    text = "\n".join(lines)
    print(text)
    write_section("Ingest", text, "python bench/ingest.py")


if __name__ == "__main__":
    main()
