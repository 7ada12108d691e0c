"""Builder-style fakes for records: sensible defaults, override what a test cares about."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.models import Article, Chat, ChatKey, ChatType, Delivery, DeliveryStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def article(**kw: Any) -> Article:
    n = next(_ids)
    base = Article(
        id=f"{n:012x}", url=f"https://news.example/{n}", title=f"Article {n} about Belarus",
        source="Example News", feed_url="https://news.example/rss", language="en",
        summary=("First sentence.", "Second sentence."), topics=("belarus",),
        published_at=T0, ingested_at=T0, keys=(f"u:https://news.example/{n}",),
    )
    return replace(base, **kw)


def chat(chat_id: int = 100, **kw: Any) -> Chat:
    base = Chat(key=ChatKey(chat_id), type=ChatType.PRIVATE, topics=frozenset({"belarus"}),
                created_at=T0, digest_since=T0)
    return replace(base, **kw)


def delivery(article_id: str, chat_id: int = 100, **kw: Any) -> Delivery:
    base = Delivery(article_id, ChatKey(chat_id), DeliveryStatus.PENDING, T0)
    return replace(base, **kw)
