"""The pure fan-out: who gets an article and under which topic (no storage, no clock)."""

from __future__ import annotations

from dataclasses import replace

from bot.delivery.fanout import Target, targets
from bot.models import Chat, ChatKey, FollowerGroup, Topic
from tests.builders import article, chat

OWN = Topic("own:1", "Vilnius trams", ("vilnius tram",))


def followers(*chats: Chat) -> list[FollowerGroup]:
    """A group per chat and topic: fan-out must not rely on a store's grouping."""
    return [FollowerGroup(topic_id, c.languages, (c.key,)) for c in chats
            for topic_id in sorted(c.topics)]


def test_the_articles_first_topic_names_the_group_and_each_chat_gets_it_once() -> None:
    a = chat(1, topics=frozenset({"belarus", "lithuania"}))
    b = chat(2, topics=frozenset({"lithuania"}))
    news = article(topics=("lithuania", "belarus"), language="en")
    assert targets(news, followers(a, b), []) == [Target(ChatKey(1), "lithuania"),
                                                  Target(ChatKey(2), "lithuania")]
    other_order = replace(news, topics=("belarus", "lithuania"))
    assert {t.chat: t.topic_id for t in targets(other_order, followers(a, b), [])} == {
        ChatKey(1): "belarus", ChatKey(2): "lithuania"}


def test_a_language_filter_keeps_other_languages_out() -> None:
    lt_only = chat(1, topics=frozenset({"lithuania"}), languages=("lt",))
    assert targets(article(topics=("lithuania",), language="en"), followers(lt_only), []) == []
    assert targets(article(topics=("lithuania",), language="lt"), followers(lt_only), []) == [
        Target(ChatKey(1), "lithuania")]


def test_a_keyword_topic_counts_only_for_an_active_owner_that_still_has_it() -> None:
    owner = chat(5, own_topics=(OWN,))
    news = article(topics=(), language="en")
    assert targets(news, [], [(owner, OWN.id)]) == [Target(ChatKey(5), OWN.id)]
    assert targets(news, [], [(replace(owner, active=False), OWN.id)]) == []
    assert targets(news, [], [(replace(owner, own_topics=()), OWN.id)]) == [], \
        "a keyword topic removed since the matcher was built sends nothing"
    assert targets(news, [], [(replace(owner, languages=("de",)), OWN.id)]) == []


def test_a_followed_topic_wins_over_a_keyword_topic_of_the_same_chat() -> None:
    both = chat(5, topics=frozenset({"belarus"}), own_topics=(OWN,))
    news = article(topics=("belarus",), language="en")
    assert targets(news, followers(both), [(both, OWN.id)]) == [Target(ChatKey(5), "belarus")]
