"""The storage Protocol's contract, run on both backends: TinyDB and a real PostgreSQL.

Each test opens a store, writes, and mostly reads back after closing and opening again, so
that durability is what is checked, not a process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import StorageError, StorageLockedError
from bot.models import (
    KEYWORD_FOLLOWERS,
    ChatEdit,
    ChatKey,
    ChatType,
    DeliveryMode,
    DeliveryStatus,
    FeedState,
    QuietHours,
    StoredStory,
    Topic,
    Vote,
    VoteTotals,
)
from bot.schedule_math import next_due
from tests.builders import T0, article, chat, delivery
from tests.conftest import Opener


def test_round_trip_of_every_record(open_store: Opener) -> None:
    repo = open_store()
    c = chat(7, quiet=QuietHours("22:00", "07:00"), languages=("en", "lt"),
             own_topics=(Topic("kw_x", "x", ("x*",), ("y",)),))
    a = article(image_url="https://img.example/1.jpg", also_sources=("Other",), lead="Lead.")
    repo.put_chat(c)
    repo.add_article(a)
    repo.add_deliveries([delivery(a.id, 7)])
    repo.put_vote(Vote(a.id, 1, 1, T0))
    repo.put_vote(Vote(a.id, 2, -1, T0))
    repo.put_feed_state(FeedState("https://f", etag="e1", failures=2, last_success=T0))
    repo.close()

    again = open_store()
    assert again.get_chat(ChatKey(7)) == c
    assert [k.key for k in again.chats()] == [ChatKey(7)]
    stored = again.get_article(a.id)
    assert stored is not None and replace(stored, text="") == replace(a, text="")
    assert again.article_for_key(a.keys[0]) == a.id
    assert again.totals_of([a.id, "000000000000"]) == {a.id: again.totals(a.id)}
    assert again.keys_known([*a.keys, "u:https://never.example/x"]) == set(a.keys)
    assert again.keys_known([]) == set()
    assert again.articles_since(T0 - timedelta(days=1)) == [stored]
    assert again.article_count() == 1
    assert [d.article_id for d in again.pending(ChatKey(7))] == [a.id]
    assert (again.totals(a.id).yes, again.totals(a.id).no) == (1, 1)
    assert again.get_vote(a.id, 2) == -1 and again.get_vote(a.id, 3) == 0
    assert again.vote_count() == 2
    assert again.get_feed_state("https://f") == FeedState("https://f", etag="e1", failures=2,
                                                          last_success=T0)
    assert [f.url for f in again.feed_states()] == ["https://f"]


def test_votes_move_repeat_and_return_the_new_totals(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    repo.add_article(a)
    assert repo.put_vote(Vote(a.id, 1, 1, T0)) == repo.totals(a.id)
    assert repo.put_vote(Vote(a.id, 1, 1, T0)).yes == 1
    moved = repo.put_vote(Vote(a.id, 1, -1, T0))
    assert (moved.yes, moved.no) == (0, 1)


def test_pending_deliveries_and_status_changes(open_store: Opener) -> None:
    repo = open_store()
    assert repo.delivery_counts() == {s.value: 0 for s in DeliveryStatus}, "every status"
    a1, a2 = article(), article()
    for a in (a1, a2):
        repo.add_article(a)
    assert repo.add_deliveries([delivery(a1.id, 1), delivery(a2.id, 1, topic="own:7"),
                                delivery(a1.id, 2)]) == 3
    assert repo.add_deliveries([delivery(a1.id, 1)]) == 0, "existing pairs are kept"
    assert sorted(k.chat_id for k in repo.pending_alert_chats()) == [1, 2]
    assert repo.delivered_to(a1.id, [ChatKey(1), ChatKey(3), ChatKey(2, 5)]) == {ChatKey(1)}
    assert repo.delivered_to(a2.id, []) == set()
    d = repo.get_delivery(a1.id, ChatKey(1))
    assert d is not None
    repo.put_delivery(replace(d, status=DeliveryStatus.SENT, message_id=5))
    assert repo.delivery_counts()["sent"] == 1 and repo.delivery_counts()["pending"] == 2
    repo.close()
    again = open_store()
    assert [(x.article_id, x.topic) for x in again.pending(ChatKey(1))] == [(a2.id, "own:7")], \
        "a delivery keeps the topic it was matched by"
    sent = again.get_delivery(a1.id, ChatKey(1))
    assert sent is not None and sent.status is DeliveryStatus.SENT and sent.message_id == 5


def test_pending_is_read_a_page_at_a_time_and_marked_in_one_write(open_store: Opener) -> None:
    repo = open_store()
    articles = [article() for _ in range(7)]
    for a in articles:
        repo.add_article(a)
    # Created out of order: the oldest come first, whatever order they were recorded in.
    repo.add_deliveries(delivery(a.id, 1, created_at=T0 + timedelta(minutes=(n * 5) % 7))
                        for n, a in enumerate(articles))
    repo.add_deliveries([delivery(articles[0].id, 2)])
    oldest = sorted(repo.pending(ChatKey(1)), key=lambda d: d.created_at)
    assert len(oldest) == 7
    first = repo.pending(ChatKey(1), limit=3)
    assert first == oldest[:3]
    assert len(repo.pending(limit=5)) == 5, "a limit without a chat too"
    repo.put_deliveries(replace(d, status=DeliveryStatus.SENT, message_id=n)
                        for n, d in enumerate(first))
    repo.put_deliveries([])
    assert repo.pending(ChatKey(1), limit=3) == oldest[3:6], "the next page"
    repo.close()
    again = open_store()
    assert [d.message_id for d in (again.get_delivery(d.article_id, ChatKey(1))
                                   for d in first) if d is not None] == [0, 1, 2]
    assert again.delivery_counts()["sent"] == 3 and again.delivery_counts()["pending"] == 5


def test_staged_writes_are_durable_at_commit(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    repo.add_article(a)
    repo.add_deliveries([delivery(a.id, 1)])
    d = repo.get_delivery(a.id, ChatKey(1))
    assert d is not None
    with repo.staged():
        repo.put_delivery(replace(d, status=DeliveryStatus.SENT))
    assert repo.pending(ChatKey(1)) == [], "readers see staged writes"
    repo.commit()
    repo.close()
    assert open_store().pending(ChatKey(1)) == []


def test_move_chat_on_migration(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    repo.add_article(a)
    repo.put_chat(chat(-5, topics=frozenset({"belarus", "poland"})))
    repo.add_deliveries([delivery(a.id, -5)])
    repo.move_chat(-5, -1005)
    assert repo.get_chat(ChatKey(-5)) is None and repo.threads_of(-5) == []
    moved = repo.get_chat(ChatKey(-1005))
    assert moved is not None and moved.topics == {"belarus", "poland"}
    assert [d.chat for d in repo.pending()] == [ChatKey(-1005)]


def test_prune_keeps_what_is_still_pending(open_store: Opener) -> None:
    repo = open_store()
    old, old_pending, new = (article(ingested_at=T0 - timedelta(days=70)),
                             article(ingested_at=T0 - timedelta(days=70)), article())
    for a in (old, old_pending, new):
        repo.add_article(a)
        repo.put_vote(Vote(a.id, 1, 1, T0))
    repo.add_deliveries([delivery(old_pending.id, 9)])
    assert repo.prune(T0 - timedelta(days=30)) == 1
    assert repo.get_article(old.id) is None and repo.article_for_key(old.keys[0]) is None
    assert repo.keys_known(old.keys) == set(), "a pruned article's keys are forgotten"
    assert repo.totals(old.id).yes == 0
    assert repo.get_article(old_pending.id) is not None and repo.get_article(new.id) is not None


def test_a_second_owner_is_refused_where_the_store_cannot_be_shared(open_store: Opener) -> None:
    first = open_store()
    if first.shared:
        second = open_store()  # a second bot process on the same database is welcome
        assert second.shared
    else:
        with pytest.raises(StorageLockedError, match="another newsbot process"):
            open_store()


def test_leases_divide_work_between_holders(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # another process where there can be one
    assert repo.try_lease("feed:a", "p1", 5.0)
    assert not other.try_lease("feed:a", "p2", 5.0), "held by p1"
    assert other.lease_holder("feed:a") == "p1"
    assert repo.try_lease("feed:a", "p1", 5.0), "the holder renews"
    assert other.try_lease("feed:b", "p2", 5.0), "another name is free"
    other.release_lease("feed:a", "p2")  # not its lease: nothing happens
    assert repo.lease_holder("feed:a") == "p1"
    repo.release_lease("feed:a", "p1")
    assert repo.lease_holder("feed:a") is None
    assert other.try_lease("feed:a", "p2", 0.2)
    time.sleep(0.3)
    assert repo.lease_holder("feed:a") is None, "expired"
    assert repo.try_lease("feed:a", "p1", 5.0), "an expired lease is taken over"


def test_locks_are_exclusive_between_processes(open_store: Opener) -> None:
    repo = open_store()
    assert repo.try_lock("chat:5")
    if repo.shared:
        other = open_store()
        assert not other.try_lock("chat:5"), "held by the first process"
        assert other.try_lock("chat:6")
        repo.unlock("chat:5")
        assert other.try_lock("chat:5")
        other.close()  # a process that ends lets go of its locks
        assert repo.try_lock("chat:5")
    repo.unlock("chat:5")


def test_shared_values_and_chat_changes_are_seen_by_every_process(open_store: Opener) -> None:
    repo = open_store()
    assert repo.shared_value("webhook_secret", "first") == "first"
    if not repo.shared:
        return
    other = open_store()
    assert other.shared_value("webhook_secret", "second") == "first", "made once"
    before = other.subscriptions_version
    repo.put_chat(chat(7))
    assert other.subscriptions_version != before
    seen = other.subscriptions_version
    repo.move_chat(7, 8)
    assert other.subscriptions_version != seen
    assert [c.key for c in other.chats()] == [ChatKey(8)]


def test_a_database_being_copied_keeps_bots_out_and_the_other_way(database_url: str) -> None:
    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    bot = PostgresRepository(database_url)
    with pytest.raises(StorageLockedError, match="in use by another newsbot process"):
        PostgresRepository(database_url, lock="sole")
    bot.close()
    copying = PostgresRepository(database_url, lock="sole")
    with pytest.raises(StorageLockedError, match="being copied"):
        PostgresRepository(database_url)
    copying.close()
    PostgresRepository(database_url).close()


def test_postgres_errors_are_one_line_with_the_password_masked(database_url: str) -> None:
    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    password = database_url.split(":")[2].split("@", maxsplit=1)[0]
    wrong = database_url.replace(f":{password}@", ":wrong-password@")
    with pytest.raises(StorageError) as caught:
        PostgresRepository(wrong)
    message = str(caught.value)
    assert "password authentication failed" in message and "\n" not in message
    assert "wrong-password" not in message and "***" in message
    unreachable = database_url.replace("127.0.0.1:", "127.0.0.1:1").rsplit(":", 1)[0] + \
        ":9/x"
    with pytest.raises(StorageError, match="can't connect"):
        PostgresRepository(unreachable)


async def test_recorded_deliveries_wake_listening_processes(database_url: str) -> None:
    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    listener = PostgresRepository(database_url)
    writer = PostgresRepository(database_url)
    signals = listener.pending_signals()
    try:
        await asyncio.wait_for(anext(signals), 5)  # connected (may have missed some)
        waiting = asyncio.ensure_future(anext(signals))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "nothing recorded yet"
        a = article()
        writer.add_article(a)
        with writer.batch():
            writer.add_deliveries([delivery(a.id, 7)])
        await asyncio.wait_for(waiting, 2)
        again = asyncio.ensure_future(anext(signals))
        writer.add_deliveries([delivery(a.id, 7)])  # already there: nothing new, no signal
        await asyncio.sleep(0.5)
        assert not again.done()
        again.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await again
    finally:
        await signals.aclose()
        listener.close()
        writer.close()


async def test_a_data_folder_has_no_other_process_to_hear_from(tmp_path: Path) -> None:
    from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

    repo = TinyDBRepository(tmp_path / "data")
    assert [s async for s in repo.pending_signals()] == []
    repo.close()


def test_articles_another_process_stored_are_found_by_a_mark(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo
    none, mark = repo.stories_stored_after(None)
    assert none == []
    a = article(lead="Talks began in Minsk on Monday.", cluster_id="first-of-story")
    # Stored before leads were kept: its summary stands in, sentences in order.
    b = article(lead="", summary=("One.", "Two.", "Three."))
    other.add_article(a)
    other.add_article(b)
    found, mark = repo.stories_stored_after(mark)
    if repo.shared:
        assert found == [
            StoredStory(a.id, "first-of-story", a.title, "Talks began in Minsk on Monday.",
                        a.url, a.ingested_at),
            StoredStory(b.id, b.id, b.title, "One. Two. Three.", b.url, b.ingested_at)]
        again, _mark = repo.stories_stored_after(mark)
        assert [x.id for x in again] in ([], [a.id, b.id]), "at most the overlap again"
    else:
        assert found == [], "nobody else stores in a data folder"


def test_a_new_article_is_stored_once_whoever_holds_a_copy(open_store: Opener) -> None:
    repo = open_store()
    first = article(keys=("u:https://a.example/1", "h:same-text"))
    assert repo.record_article(first, [delivery(first.id, 100), delivery(first.id, 200)]) == 2
    assert repo.record_article(first, [delivery(first.id, 300)]) is None, "its id is taken"
    copy = article(keys=("u:https://b.example/9", "h:same-text"))
    with repo.batch():
        assert repo.record_article(copy, [delivery(copy.id, 100)]) is None, \
            "its text's key is taken"
    other = article(keys=("u:https://c.example/2", "h:other-text"))
    assert repo.record_article(other, []) == 0
    repo.close()

    again = open_store()
    assert again.get_article(copy.id) is None
    assert again.article_for_key("u:https://b.example/9") is None, "no key of a refused copy"
    assert again.article_for_key("h:same-text") == first.id
    assert {a.id for a in again.articles_since(T0 - timedelta(days=1))} == {first.id, other.id}
    assert sorted(d.chat.chat_id for d in again.pending()) == [100, 200], \
        "the stored article's deliveries, and none of a refused one"


def test_an_article_of_a_story_names_its_outlet_on_the_first(open_store: Opener) -> None:
    repo = open_store()
    first = article(source="One")
    repo.record_article(first, [])
    for n, source in enumerate(["Two", "Two", "One", "Three"]):
        repo.record_article(article(source=source, cluster_id=first.id,
                                    keys=(f"u:https://copy.example/{n}",)), [])
    stored = repo.get_article(first.id)
    assert stored is not None
    assert stored.also_sources == ("Two", "Three"), "each other outlet once, in order"
    assert replace(stored, also_sources=()) == replace(first, text=""), "nothing else changed"


def test_an_article_and_its_deliveries_are_stored_together_or_not_at_all(
        database_url: str) -> None:
    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    repo = PostgresRepository(database_url)
    try:
        a = article()
        # A delivery the database refuses (its article doesn't exist) fails the whole call.
        with pytest.raises(StorageError):
            repo.record_article(a, [delivery(a.id, 100), delivery("no-such-article", 200)])
        assert repo.get_article(a.id) is None
        assert repo.article_for_key(a.keys[0]) is None
        assert repo.pending() == []
        assert repo.record_article(a, [delivery(a.id, 100)]) == 1, "and it may come again"
    finally:
        repo.close()


def test_two_processes_storing_copies_at_once_store_one(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    one, two = PostgresRepository(database_url), PostgresRepository(database_url)
    try:
        mine = article(keys=("u:https://a.example/1", "h:same-text"))
        theirs = article(keys=("u:https://b.example/1", "h:same-text"))
        with ThreadPoolExecutor(1) as pool:
            with one.batch():
                assert one.record_article(mine, []) == 0
                # The other process's insert waits for this transaction to end ...
                racing = pool.submit(two.record_article, theirs, [])
                time.sleep(0.3)
                assert not racing.done()
            # ... and then finds the text's key taken.
            assert racing.result(timeout=10) is None
        assert two.article_for_key("h:same-text") == mine.id
        assert two.get_article(theirs.id) is None
    finally:
        one.close()
        two.close()


def test_subscriptions_version_changes_only_with_who_gets_what(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # on a database: another process sees it

    start = other.subscriptions_version
    repo.put_chat(chat(7))
    added = other.subscriptions_version
    assert added != start, "a new chat"
    repo.put_chat(chat(7, last_digest_at=T0, title="renamed"))
    assert other.subscriptions_version == added, "a digest stamp decides nothing about fan-out"
    changes = [{"topics": frozenset({"lithuania"})}, {"languages": ("en",)}, {"active": False},
               {"own_topics": (Topic("kw_x", "x", ("x*",), ()),)}]
    seen = added
    current = chat(7, last_digest_at=T0, title="renamed")
    for change in changes:
        current = replace(current, **change)
        repo.put_chat(current)
        assert other.subscriptions_version != seen, change
        seen = other.subscriptions_version
    repo.move_chat(7, 8)
    assert other.subscriptions_version != seen, "a chat moved to a new id"


def test_edits_apply_to_the_chat_as_stored_not_as_read(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # on a database: another process
    repo.put_chat(chat(7, topics=frozenset({"belarus"}), own_topics=(Topic("kw_a", "a", ("a",)),)))
    # Both edits are made from the same (now stale) read, as two processes would.
    repo.edit_chat(ChatKey(7), ChatEdit(follow=frozenset({"lithuania"})))
    other.edit_chat(ChatKey(7), ChatEdit.setting(timezone="Europe/Vilnius", last_digest_at=T0))
    other.edit_chat(ChatKey(7), ChatEdit(put_own=(Topic("kw_b", "b", ("b",)),)))
    changed = repo.edit_chat(ChatKey(7), ChatEdit(unfollow=frozenset({"belarus"}),
                                                  put_own=(Topic("kw_a", "A!", ("a", "aa")),)))
    assert changed is not None
    assert changed.topics == {"lithuania"} and changed.timezone == "Europe/Vilnius"
    assert [(t.id, t.name) for t in changed.own_topics] == [("kw_a", "A!"), ("kw_b", "b")]
    assert changed.last_digest_at == T0
    repo.close()
    again = open_store()
    assert again.get_chat(ChatKey(7)) == changed, "durable"
    cleared = again.edit_chat(ChatKey(7), ChatEdit(clear_subscriptions=True,
                                                   follow=frozenset({"poland"})))
    assert cleared is not None and cleared.topics == {"poland"} and cleared.own_topics == ()
    assert again.edit_chat(ChatKey(8), ChatEdit.setting(active=False)) is None
    assert again.get_chat(ChatKey(8)) is None, "an edit creates nothing"
    with pytest.raises(ValueError, match="topics"):
        ChatEdit.setting(topics=frozenset())


def test_two_processes_editing_one_chat_at_once_keep_both_changes(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    one, two = PostgresRepository(database_url), PostgresRepository(database_url)
    try:
        one.put_chat(chat(9, topics=frozenset()))
        with ThreadPoolExecutor(1) as pool:
            with one.batch():
                one.edit_chat(ChatKey(9), ChatEdit(follow=frozenset({"belarus"})))
                # The other's edit waits for this transaction, then applies to its result.
                racing = pool.submit(two.edit_chat, ChatKey(9),
                                     ChatEdit(follow=frozenset({"poland"})))
                time.sleep(0.3)
                assert not racing.done()
            assert racing.result(timeout=10) is not None
        stored = two.get_chat(ChatKey(9))
        assert stored is not None and stored.topics == {"belarus", "poland"}
    finally:
        one.close()
        two.close()


def test_lookups_find_their_chats_without_reading_every_chat(open_store: Opener) -> None:
    repo = open_store()
    own = Topic("kw_a", "a", ("a",))
    digest = {"mode": DeliveryMode.DIGEST, "digest_time": "08:00", "timezone": "Europe/Vilnius"}
    repo.put_chat(chat(1, topics=frozenset({"belarus", "poland"}), languages=("en",)))
    repo.put_chat(chat(2, topics=frozenset({"lithuania"}), own_topics=(own,)))
    repo.put_chat(chat(3, topics=frozenset({"belarus"}), active=False, own_topics=(own,)))
    repo.put_chat(chat(4, topics=frozenset(), digest_since=T0, **digest))  # due 08:00 next day
    before = T0 - timedelta(days=3)
    repo.put_chat(chat(5, topics=frozenset(), created_at=before, digest_since=before, **digest))
    repo.put_chat(chat(6, topics=frozenset(), created_at=before, digest_since=before,
                       active=False, **digest))
    other = open_store() if repo.shared else repo  # another process sees the same
    found = sorted((f.key.chat_id, f.topic_id, f.languages)
                   for f in other.followers(["belarus", "lithuania", "belarus"]))
    assert found == [(1, "belarus", ("en",)), (2, "lithuania", ())], \
        "active followers, once per topic looked up that they follow"
    assert sorted((f.key.chat_id, f.topic_id) for f in other.followers(["poland", "belarus"])) \
        == [(1, "belarus"), (1, "poland")]
    assert other.followers([]) == [] and other.followers(["nobody"]) == []
    assert [c.key.chat_id for c in other.chats_with_own_topics()] == [2]
    due_at = next_due(T0, "08:00", "Europe/Vilnius")
    assert [c.key.chat_id for c in other.digests_due(due_at - timedelta(seconds=1), 10)] == [5]
    assert [c.key.chat_id for c in other.digests_due(due_at, 10)] == [5, 4], "most overdue first"
    assert [c.key.chat_id for c in other.digests_due(due_at, 1)] == [5]
    # Sent: due again only at the next 08:00; a follow or unfollow changes what is found.
    repo.edit_chat(ChatKey(5), ChatEdit.setting(last_digest_at=due_at))
    repo.edit_chat(ChatKey(1), ChatEdit(unfollow=frozenset({"belarus"})))
    repo.edit_chat(ChatKey(3), ChatEdit.setting(active=True))
    assert [c.key.chat_id for c in other.digests_due(due_at, 10)] == [4]
    assert [f.key.chat_id for f in other.followers(["belarus"])] == [3]
    assert sorted(c.key.chat_id for c in other.chats_with_own_topics()) == [2, 3]


def test_oldest_pending_and_bounded_article_reads(open_store: Opener) -> None:
    repo = open_store()
    old, mid, new = (article(ingested_at=T0 + timedelta(hours=h), topics=topics)
                     for h, topics in ((0, ("belarus",)), (1, ("poland",)), (2, ("belarus",))))
    for a in (old, mid, new):
        repo.add_article(a)
    assert [a.id for a in repo.articles_since(T0)] == [old.id, mid.id, new.id]
    assert [a.id for a in repo.articles_since(T0, newest=2)] == [mid.id, new.id], \
        "the newest, oldest first"
    assert [a.id for a in repo.articles_since(T0, topic="belarus")] == [old.id, new.id]
    assert [a.id for a in repo.articles_since(T0, topic="belarus", newest=1)] == [new.id]
    until = T0 + timedelta(hours=1)
    assert [a.id for a in repo.articles_since(T0, until=until)] == [old.id, mid.id], "inclusive"
    assert [a.id for a in repo.articles_since(T0, until=until, newest=1)] == [mid.id]
    repo.add_deliveries([delivery(new.id, 1, created_at=T0 + timedelta(hours=2)),
                         delivery(old.id, 2, created_at=T0),
                         delivery(mid.id, 2, created_at=T0 + timedelta(hours=1))])
    assert repo.oldest_pending(10) == [(ChatKey(2), T0), (ChatKey(1), T0 + timedelta(hours=2))]
    assert repo.oldest_pending(1) == [(ChatKey(2), T0)]
    repo.put_vote(Vote(old.id, 1, 1, T0))
    repo.put_vote(Vote(old.id, 2, -1, T0))
    repo.put_vote(Vote(new.id, 1, 1, T0))
    tallies = sorted(repo.vote_tallies(T0 + timedelta(minutes=1)))
    assert tallies == [(new.source, ("belarus",), VoteTotals(1, 0))], "ingested since, with votes"
    assert len(repo.vote_tallies(T0)) == 2


def test_a_schema_5_database_is_upgraded_with_its_chats_found_by_index(
        database_url: str) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg.types.json import Jsonb  # noqa: PLC0415

    from bot.storage import codec  # noqa: PLC0415
    from bot.storage.postgres import MIGRATIONS, PostgresRepository  # noqa: PLC0415

    digest = chat(5, topics=frozenset({"belarus"}), mode=DeliveryMode.DIGEST, digest_time="08:00",
                  timezone="Europe/Vilnius", digest_since=T0, created_at=T0)
    instant = chat(6, topics=frozenset({"belarus", "poland"}), languages=("lt",),
                   own_topics=(Topic("kw_a", "a", ("a",)),))
    with psycopg.connect(database_url, autocommit=True) as conn:  # as newsbot 5 left it
        conn.execute("CREATE TABLE newsbot_schema (version int NOT NULL)")
        for number in range(1, 6):
            conn.execute(MIGRATIONS[number])
            conn.execute("INSERT INTO newsbot_schema VALUES (%s)", (number,))
        for c in (digest, instant):
            conn.execute("INSERT INTO chats (chat_id, thread_id, doc, subs) VALUES (%s, 0, %s, %s)",
                         (c.key.chat_id, Jsonb(codec.chat_out(c)), codec.subscriptions_of(c)))
    repo = PostgresRepository(database_url)
    try:
        assert repo.schema_version() == 6
        assert sorted((f.key.chat_id, f.topic_id) for f in repo.followers(["poland", "belarus"])) \
            == [(5, "belarus"), (6, "belarus"), (6, "poland")]
        assert [f.languages for f in repo.followers(["poland"])] == [("lt",)]
        assert [c.key.chat_id for c in repo.chats_with_own_topics()] == [6]
        due = next_due(T0, "08:00", "Europe/Vilnius")
        assert repo.digests_due(due - timedelta(seconds=1), 10) == []
        assert [c.key for c in repo.digests_due(due, 10)] == [ChatKey(5)]
    finally:
        repo.close()


def test_the_chat_tally_counts_in_the_store(open_store: Opener) -> None:
    repo = open_store()
    own = Topic("kw_a", "a", ("a",))
    repo.put_chat(chat(1, topics=frozenset({"belarus", "poland"})))
    repo.put_chat(chat(-2, type=ChatType.SUPERGROUP, topics=frozenset({"belarus"}),
                       own_topics=(own,)))
    repo.put_chat(chat(3, topics=frozenset({"belarus"}), active=False, own_topics=(own,)))
    tally = repo.chat_tally()
    assert tally.active_by_type == {"private": 1, "supergroup": 1} and tally.inactive == 1
    assert tally.followers == {"belarus": 2, "poland": 1, KEYWORD_FOLLOWERS: 1}
    for hours in (0, 20, 30):
        repo.add_article(article(ingested_at=T0 + timedelta(hours=hours)))
    assert repo.articles_count_since(T0 + timedelta(hours=10)) == 2


def test_chats_waiting_for_their_digest_are_not_alert_chats(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    repo.add_article(a)
    repo.put_chat(chat(1))
    repo.put_chat(chat(2, mode=DeliveryMode.DIGEST))
    repo.put_chat(chat(3, mode=DeliveryMode.DIGEST, active=False))
    repo.add_deliveries([delivery(a.id, n) for n in (1, 2, 3, 4)])
    assert sorted(k.chat_id for k in repo.pending_alert_chats()) == [1, 3, 4], \
        "instant, inactive (to drop) and unknown chats; the digest chat waits for its digest"
    repo.edit_chat(ChatKey(2), ChatEdit.setting(mode=DeliveryMode.INSTANT))
    assert sorted(k.chat_id for k in repo.pending_alert_chats()) == [1, 2, 3, 4]
