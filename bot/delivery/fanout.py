"""Fan-out: which chats get an article, and under which of their topics (pure).

The caller gathers the data (the active chats that follow the article's topics, the chats
whose keyword topics matched it); this module decides. No storage, no clock, no Telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bot.models import Article, Chat, ChatKey, FollowerGroup


class Target(NamedTuple):
    """One chat that gets an article.

    Immutable, and a named tuple for the reason ``ChatKey`` is one: an article of a busy
    topic makes thousands (half a frozen dataclass's cost each).

    Attributes:
        chat: The chat (or forum thread).
        topic_id: The topic it was matched by: a shipped topic's id, or the id of one of the
            chat's own keyword topics. Stored with the delivery, so the message names it
            whichever process sends it, and however long after.
    """

    chat: ChatKey
    topic_id: str


def takes_language(languages: tuple[str, ...], language: str) -> bool:
    """Tell whether a chat's language filter lets an article in ``language`` through."""
    return not languages or language in languages


def targets(article: Article, followers: Sequence[FollowerGroup],
            own_hits: Sequence[tuple[Chat, str]]) -> list[Target]:
    """Return every active chat the article goes to, each once.

    Args:
        article: The new article.
        followers: The active chats that follow the article's topics, grouped by topic and
            language filter.
        own_hits: ``(chat, own topic id)`` for each keyword topic that matched the article,
            with the chat as stored now.

    Returns:
        One target per chat. A shipped topic wins over a keyword topic, and the article's
        first (best) topic over its others: that is the group the chat sees it under.
    """
    language = article.language
    taken = [group for group in followers if takes_language(group.languages, language)]
    if len(article.topics) == 1 and not own_hits:
        # The common case, and thousands of followers: nobody can appear twice.
        return [Target(key, group.topic_id) for group in taken for key in group.chats]
    by_topic: dict[str, list[FollowerGroup]] = {}
    for group in taken:
        by_topic.setdefault(group.topic_id, []).append(group)
    found: dict[ChatKey, Target] = {}
    for topic_id in article.topics:
        for group in by_topic.get(topic_id, ()):
            for key in group.chats:
                if key not in found:
                    found[key] = Target(key, topic_id)
    for owner, own_id in own_hits:
        if (owner.key in found or not owner.active
                or not takes_language(owner.languages, language)
                or not any(topic.id == own_id for topic in owner.own_topics)):
            continue
        found[owner.key] = Target(owner.key, own_id)
    return list(found.values())
