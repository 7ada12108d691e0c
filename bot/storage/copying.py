"""``newsbot copy-data``: every record from one store into another, either direction.

Chats with their settings and own topics, feed state, articles with their dedupe keys,
deliveries in every status (so nothing is sent again and what was pending stays pending) and
votes. The target must be empty: copying into a store in use would mix two bots' histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import StorageError
from bot.storage.core import SyncStore

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CopyCounts:
    """How many records of each kind were copied."""

    chats: int
    feeds: int
    articles: int
    deliveries: int
    votes: int


def is_empty(repo: SyncStore) -> bool:
    """True when the store holds no chat, feed or article."""
    return not any(True for _ in repo.chats()) and not repo.feed_states() \
        and repo.article_count() == 0


def copy_all(source: SyncStore, target: SyncStore, target_name: str) -> CopyCounts:
    """Copy every record of ``source`` into the empty ``target``.

    Raises:
        StorageError: When the target is not empty (naming it), or a store fails.
    """
    if not is_empty(target):
        raise StorageError(f"{target_name}: the target is not empty (it holds chats, feeds "
                           "or articles); copy into an empty data folder or database")
    chats = list(source.chats())
    feeds = source.feed_states()
    articles = source.articles_since(EPOCH)
    deliveries = list(source.all_deliveries())
    votes = list(source.all_votes())
    with target.batch():
        for chat in chats:
            target.put_chat(chat)
        for feed in feeds:
            target.put_feed_state(feed)
        for article in articles:
            target.add_article(article)
        target.add_deliveries(deliveries)
        for vote in votes:
            target.put_vote(vote)
    return CopyCounts(len(chats), len(feeds), len(articles), len(deliveries), len(votes))
