"""``newsbot preview``: one ingest pass without Telegram, printed as text or JSON lines."""

from __future__ import annotations

import asyncio
import json
import sys

from bot.clock import Clock
from bot.feeds.fetch import Fetcher
from bot.ingest import FeedResult, Ingestor, ingest_workers
from bot.models import Article
from bot.settings import FeedConfig, Settings
from bot.storage.opening import open_repository


def _as_json(article: Article) -> str:
    return json.dumps({
        "url": article.url, "title": article.title, "source": article.source,
        "language": article.language, "topics": list(article.topics),
        "summary": " ".join(article.summary),
    }, ensure_ascii=False)


def _as_text(article: Article) -> str:
    topics = ", ".join(article.topics) or "-"
    lines = [article.title, f"  source: {article.source} | language: {article.language or '?'}"
             f" | topics: {topics}", f"  {article.url}"]
    lines += [f"  {s}" for s in article.summary]
    return "\n".join(lines) + "\n"


async def run_preview(settings: Settings, clock: Clock, *, topic: str | None,
                      limit: int | None, as_json: bool, store: bool) -> int:
    """Run one pass and print it. Returns the exit code (1 if every feed failed)."""
    repo = open_repository(settings.storage, clock) if store else None
    fetcher = Fetcher(settings.ingest.timeout_seconds, settings.ingest.max_bytes)
    ingestor = Ingestor(settings, fetcher, clock, repo, workers=ingest_workers())
    progress = sys.stderr.isatty()
    limit_polls = asyncio.Semaphore(8)

    async def one(feed: FeedConfig) -> FeedResult:
        async with limit_polls:
            return await ingestor.poll(feed)

    done: list[FeedResult] = []
    try:
        tasks = [asyncio.ensure_future(one(feed)) for feed in settings.feeds]
        for finished in asyncio.as_completed(tasks):
            result = await finished
            done.append(result)
            if progress:
                print(f"[{len(done)}/{len(tasks)}] {result.feed.name}: "
                      f"{len(result.articles)} articles", file=sys.stderr)
    finally:
        await ingestor.close()
        await fetcher.close()
        if repo is not None:
            await repo.close()
    order = {feed.url: i for i, feed in enumerate(settings.feeds)}
    done.sort(key=lambda r: order[r.feed.url])
    printed = 0
    for result in done:
        if not result.ok:
            print(f"newsbot: feed {result.feed.name} ({result.feed.url}) failed: {result.error}",
                  file=sys.stderr)
        for article in result.articles:
            if topic and topic not in article.topics:
                continue
            if limit is not None and printed >= limit:
                break
            sys.stdout.write((_as_json(article) + "\n") if as_json else _as_text(article) + "\n")
            printed += 1
    sys.stdout.flush()
    if done and all(not r.ok for r in done):
        return 1
    return 0
