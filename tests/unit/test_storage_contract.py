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


async def test_round_trip_of_every_record(open_store: Opener) -> None:
    repo = open_store()
    c = chat(7, quiet=QuietHours("22:00", "07:00"), languages=("en", "lt"),
             own_topics=(Topic("kw_x", "x", ("x*",), ("y",)),))
    a = article(image_url="https://img.example/1.jpg", also_sources=("Other",), lead="Lead.")
    await repo.put_chat(c)
    await repo.add_article(a)
    await repo.add_deliveries([delivery(a.id, 7)])
    await repo.put_vote(Vote(a.id, 1, 1, T0))
    await repo.put_vote(Vote(a.id, 2, -1, T0))
    await repo.put_feed_state(FeedState("https://f", etag="e1", failures=2, last_success=T0))
    await repo.close()

    again = open_store()
    assert await again.get_chat(ChatKey(7)) == c
    assert [k.key for k in (await again.all_chats())] == [ChatKey(7)]
    stored = await again.get_article(a.id)
    assert stored is not None and replace(stored, text="") == replace(a, text="")
    assert await again.article_for_key(a.keys[0]) == a.id
    assert await again.totals_of([a.id, "000000000000"]) == {a.id: await again.totals(a.id)}
    assert await again.keys_known([*a.keys, "u:https://never.example/x"]) == set(a.keys)
    assert await again.keys_known([]) == set()
    assert await again.articles_since(T0 - timedelta(days=1)) == [stored]
    assert await again.article_count() == 1
    assert [d.article_id for d in await again.pending(ChatKey(7))] == [a.id]
    assert ((await again.totals(a.id)).yes, (await again.totals(a.id)).no) == (1, 1)
    assert await again.get_vote(a.id, 2) == -1 and await again.get_vote(a.id, 3) == 0
    assert await again.vote_count() == 2
    assert await again.get_feed_state("https://f") == FeedState("https://f", etag="e1", failures=2,
                                                          last_success=T0)
    assert [f.url for f in await again.feed_states()] == ["https://f"]


async def test_votes_move_repeat_and_return_the_new_totals(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    await repo.add_article(a)
    assert await repo.put_vote(Vote(a.id, 1, 1, T0)) == await repo.totals(a.id)
    assert (await repo.put_vote(Vote(a.id, 1, 1, T0))).yes == 1
    moved = await repo.put_vote(Vote(a.id, 1, -1, T0))
    assert (moved.yes, moved.no) == (0, 1)


async def test_pending_deliveries_and_status_changes(open_store: Opener) -> None:
    repo = open_store()
    assert await repo.delivery_counts() == {s.value: 0 for s in DeliveryStatus}, "every status"
    a1, a2 = article(), article()
    for a in (a1, a2):
        await repo.add_article(a)
    assert await repo.add_deliveries([delivery(a1.id, 1), delivery(a2.id, 1, topic="own:7"),
                                delivery(a1.id, 2)]) == 3
    assert await repo.add_deliveries([delivery(a1.id, 1)]) == 0, "existing pairs are kept"
    assert sorted(k.chat_id for k in await repo.pending_alert_chats()) == [1, 2]
    assert await repo.delivered_to(a1.id, [ChatKey(1), ChatKey(3), ChatKey(2, 5)]) == {ChatKey(1)}
    assert await repo.delivered_to(a2.id, []) == set()
    d = await repo.get_delivery(a1.id, ChatKey(1))
    assert d is not None
    await repo.put_delivery(replace(d, status=DeliveryStatus.SENT, message_id=5))
    counts = await repo.delivery_counts()
    assert counts["sent"] == 1 and counts["pending"] == 2
    await repo.close()
    again = open_store()
    assert [(x.article_id, x.topic) for x in await again.pending(ChatKey(1))] == \
        [(a2.id, "own:7")], \
        "a delivery keeps the topic it was matched by"
    sent = await again.get_delivery(a1.id, ChatKey(1))
    assert sent is not None and sent.status is DeliveryStatus.SENT and sent.message_id == 5


async def test_pending_is_read_a_page_at_a_time_and_marked_in_one_write(open_store: Opener) -> None:
    repo = open_store()
    articles = [article() for _ in range(7)]
    for a in articles:
        await repo.add_article(a)
    # Created out of order: the oldest come first, whatever order they were recorded in.
    await repo.add_deliveries(delivery(a.id, 1, created_at=T0 + timedelta(minutes=(n * 5) % 7))
                        for n, a in enumerate(articles))
    await repo.add_deliveries([delivery(articles[0].id, 2)])
    oldest = sorted(await repo.pending(ChatKey(1)), key=lambda d: d.created_at)
    assert len(oldest) == 7
    first = await repo.pending(ChatKey(1), limit=3)
    assert first == oldest[:3]
    assert len(await repo.pending(limit=5)) == 5, "a limit without a chat too"
    await repo.put_deliveries(replace(d, status=DeliveryStatus.SENT, message_id=n)
                        for n, d in enumerate(first))
    await repo.put_deliveries([])
    assert await repo.pending(ChatKey(1), limit=3) == oldest[3:6], "the next page"
    await repo.close()
    again = open_store()
    marked = [await again.get_delivery(d.article_id, ChatKey(1)) for d in first]
    assert [d.message_id for d in marked if d is not None] == [0, 1, 2]
    counts = await again.delivery_counts()
    assert counts["sent"] == 3 and counts["pending"] == 5


async def test_marks_made_at_once_are_each_durable_when_their_call_returns(
        open_store: Opener) -> None:
    repo = open_store()
    a = article()
    await repo.add_article(a)
    await repo.add_deliveries([delivery(a.id, chat) for chat in range(1, 6)])
    # Five senders answered in the same event-loop turn mark their deliveries at once.
    marks = [replace(d, status=DeliveryStatus.SENT, message_id=chat)
             for chat in range(1, 6)
             if (d := await repo.get_delivery(a.id, ChatKey(chat))) is not None]
    await asyncio.gather(*(repo.put_delivery(m) for m in marks))
    await repo.close()
    again = open_store()
    assert await again.pending() == []
    assert [(await again.get_delivery(a.id, ChatKey(c))) for c in range(1, 6)] == marks


async def test_move_chat_on_migration(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    await repo.add_article(a)
    await repo.put_chat(chat(-5, topics=frozenset({"belarus", "poland"})))
    await repo.add_deliveries([delivery(a.id, -5)])
    await repo.move_chat(-5, -1005)
    assert await repo.get_chat(ChatKey(-5)) is None and await repo.threads_of(-5) == []
    moved = await repo.get_chat(ChatKey(-1005))
    assert moved is not None and moved.topics == {"belarus", "poland"}
    assert [d.chat for d in await repo.pending()] == [ChatKey(-1005)]


async def test_prune_keeps_what_is_still_pending(open_store: Opener) -> None:
    repo = open_store()
    old, old_pending, new = (article(ingested_at=T0 - timedelta(days=70)),
                             article(ingested_at=T0 - timedelta(days=70)), article())
    for a in (old, old_pending, new):
        await repo.add_article(a)
        await repo.put_vote(Vote(a.id, 1, 1, T0))
    await repo.add_deliveries([delivery(old_pending.id, 9)])
    assert await repo.prune(T0 - timedelta(days=30)) == 1
    assert await repo.get_article(old.id) is None
    assert await repo.article_for_key(old.keys[0]) is None
    assert await repo.keys_known(old.keys) == set(), "a pruned article's keys are forgotten"
    assert (await repo.totals(old.id)).yes == 0
    assert await repo.get_article(old_pending.id) is not None
    assert await repo.get_article(new.id) is not None


def test_a_second_owner_is_refused_where_the_store_cannot_be_shared(open_store: Opener) -> None:
    first = open_store()
    if first.shared:
        second = open_store()  # a second bot process on the same database is welcome
        assert second.shared
    else:
        with pytest.raises(StorageLockedError, match="another newsbot process"):
            open_store()


async def test_leases_divide_work_between_holders(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # another process where there can be one
    assert await repo.try_lease("feed:a", "p1", 5.0)
    assert not await other.try_lease("feed:a", "p2", 5.0), "held by p1"
    assert await other.lease_holder("feed:a") == "p1"
    assert await repo.try_lease("feed:a", "p1", 5.0), "the holder renews"
    assert await other.try_lease("feed:b", "p2", 5.0), "another name is free"
    await other.release_lease("feed:a", "p2")  # not its lease: nothing happens
    assert await repo.lease_holder("feed:a") == "p1"
    await repo.release_lease("feed:a", "p1")
    assert await repo.lease_holder("feed:a") is None
    assert await other.try_lease("feed:a", "p2", 0.2)
    time.sleep(0.3)
    assert await repo.lease_holder("feed:a") is None, "expired"
    assert await repo.try_lease("feed:a", "p1", 5.0), "an expired lease is taken over"


async def test_locks_are_exclusive_between_processes(open_store: Opener) -> None:
    repo = open_store()
    assert await repo.try_lock("chat:5")
    if repo.shared:
        other = open_store()
        assert not await other.try_lock("chat:5"), "held by the first process"
        assert await other.try_lock("chat:6")
        await repo.unlock("chat:5")
        assert await other.try_lock("chat:5")
        await other.close()  # a process that ends lets go of its locks
        assert await repo.try_lock("chat:5")
    await repo.unlock("chat:5")


async def test_shared_values_and_chat_changes_are_seen_by_every_process(open_store: Opener) -> None:
    repo = open_store()
    assert await repo.shared_value("webhook_secret", "first") == "first"
    if not repo.shared:
        return
    other = open_store()
    assert await other.shared_value("webhook_secret", "second") == "first", "made once"
    before = (await other.subscriptions_version())
    await repo.put_chat(chat(7))
    assert (await other.subscriptions_version()) != before
    seen = (await other.subscriptions_version())
    await repo.move_chat(7, 8)
    assert (await other.subscriptions_version()) != seen
    assert [c.key for c in (await other.all_chats())] == [ChatKey(8)]


def test_a_database_being_copied_keeps_bots_out_and_the_other_way(database_url: str) -> None:
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    bot = PostgresStore(database_url)
    with pytest.raises(StorageLockedError, match="in use by another newsbot process"):
        PostgresStore(database_url, lock="sole")
    bot.close()
    copying = PostgresStore(database_url, lock="sole")
    with pytest.raises(StorageLockedError, match="being copied"):
        PostgresStore(database_url)
    copying.close()
    PostgresStore(database_url).close()


def test_postgres_errors_are_one_line_with_the_password_masked(database_url: str) -> None:
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    password = database_url.split(":")[2].split("@", maxsplit=1)[0]
    wrong = database_url.replace(f":{password}@", ":wrong-password@")
    with pytest.raises(StorageError) as caught:
        PostgresStore(wrong)
    message = str(caught.value)
    assert "password authentication failed" in message and "\n" not in message
    assert "wrong-password" not in message and "***" in message
    unreachable = database_url.replace("127.0.0.1:", "127.0.0.1:1").rsplit(":", 1)[0] + \
        ":9/x"
    with pytest.raises(StorageError, match="can't connect"):
        PostgresStore(unreachable)


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
        await writer.add_article(a)
        await writer.add_deliveries([delivery(a.id, 7)])
        await asyncio.wait_for(waiting, 2)
        again = asyncio.ensure_future(anext(signals))
        await writer.add_deliveries([delivery(a.id, 7)])  # already there: nothing new, no signal
        await asyncio.sleep(0.5)
        assert not again.done()
        again.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await again
    finally:
        await signals.aclose()
        await listener.close()
        await writer.close()


async def test_a_data_folder_has_no_other_process_to_hear_from(tmp_path: Path) -> None:
    from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

    repo = TinyDBRepository(tmp_path / "data")
    assert [s async for s in repo.pending_signals()] == []
    await repo.close()


async def test_articles_another_process_stored_are_found_by_a_mark(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo
    none, mark = await repo.stories_stored_after(None)
    assert none == []
    a = article(lead="Talks began in Minsk on Monday.", cluster_id="first-of-story")
    # Stored before leads were kept: its summary stands in, sentences in order.
    b = article(lead="", summary=("One.", "Two.", "Three."))
    await other.add_article(a)
    await other.add_article(b)
    found, mark = await repo.stories_stored_after(mark)
    if repo.shared:
        assert found == [
            StoredStory(a.id, "first-of-story", a.title, "Talks began in Minsk on Monday.",
                        a.url, a.ingested_at),
            StoredStory(b.id, b.id, b.title, "One. Two. Three.", b.url, b.ingested_at)]
        again, _mark = await repo.stories_stored_after(mark)
        assert [x.id for x in again] in ([], [a.id, b.id]), "at most the overlap again"
    else:
        assert found == [], "nobody else stores in a data folder"


async def test_a_new_article_is_stored_once_whoever_holds_a_copy(open_store: Opener) -> None:
    repo = open_store()
    first = article(keys=("u:https://a.example/1", "h:same-text"))
    assert await repo.record_article(first, [delivery(first.id, 100), delivery(first.id, 200)]) == 2
    assert await repo.record_article(first, [delivery(first.id, 300)]) is None, "its id is taken"
    copy = article(keys=("u:https://b.example/9", "h:same-text"))
    assert await repo.record_article(copy, [delivery(copy.id, 100)]) is None, \
        "its text's key is taken"
    other = article(keys=("u:https://c.example/2", "h:other-text"))
    assert await repo.record_article(other, []) == 0
    await repo.close()

    again = open_store()
    assert await again.get_article(copy.id) is None
    assert await again.article_for_key("u:https://b.example/9") is None, "no key of a refused copy"
    assert await again.article_for_key("h:same-text") == first.id
    stored = await again.articles_since(T0 - timedelta(days=1))
    assert {a.id for a in stored} == {first.id, other.id}
    assert sorted(d.chat.chat_id for d in await again.pending()) == [100, 200], \
        "the stored article's deliveries, and none of a refused one"


async def test_an_article_of_a_story_names_its_outlet_on_the_first(open_store: Opener) -> None:
    repo = open_store()
    first = article(source="One")
    await repo.record_article(first, [])
    for n, source in enumerate(["Two", "Two", "One", "Three"]):
        await repo.record_article(article(source=source, cluster_id=first.id,
                                    keys=(f"u:https://copy.example/{n}",)), [])
    stored = await repo.get_article(first.id)
    assert stored is not None
    assert stored.also_sources == ("Two", "Three"), "each other outlet once, in order"
    assert replace(stored, also_sources=()) == replace(first, text=""), "nothing else changed"


async def test_an_article_and_its_deliveries_are_stored_together_or_not_at_all(
        database_url: str) -> None:
    from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

    repo = PostgresRepository(database_url)
    try:
        a = article()
        # A delivery the database refuses (its article doesn't exist) fails the whole call.
        with pytest.raises(StorageError):
            await repo.record_article(a, [delivery(a.id, 100), delivery("no-such-article", 200)])
        assert await repo.get_article(a.id) is None
        assert await repo.article_for_key(a.keys[0]) is None
        assert await repo.pending() == []
        assert await repo.record_article(a, [delivery(a.id, 100)]) == 1, "and it may come again"
    finally:
        await repo.close()


def test_two_processes_storing_copies_at_once_store_one(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    one, two = PostgresStore(database_url), PostgresStore(database_url)
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


async def test_subscriptions_version_changes_only_with_who_gets_what(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # on a database: another process sees it

    start = (await other.subscriptions_version())
    await repo.put_chat(chat(7))
    added = (await other.subscriptions_version())
    assert added != start, "a new chat"
    await repo.put_chat(chat(7, last_digest_at=T0, title="renamed"))
    assert await other.subscriptions_version() == added, \
        "a digest stamp decides nothing about fan-out"
    changes = [{"topics": frozenset({"lithuania"})}, {"languages": ("en",)}, {"active": False},
               {"own_topics": (Topic("kw_x", "x", ("x*",), ()),)}]
    seen = added
    current = chat(7, last_digest_at=T0, title="renamed")
    for change in changes:
        current = replace(current, **change)
        await repo.put_chat(current)
        assert (await other.subscriptions_version()) != seen, change
        seen = (await other.subscriptions_version())
    await repo.move_chat(7, 8)
    assert (await other.subscriptions_version()) != seen, "a chat moved to a new id"


async def test_edits_apply_to_the_chat_as_stored_not_as_read(open_store: Opener) -> None:
    repo = open_store()
    other = open_store() if repo.shared else repo  # on a database: another process
    await repo.put_chat(chat(7, topics=frozenset({"belarus"}),
                             own_topics=(Topic("kw_a", "a", ("a",)),)))
    # Both edits are made from the same (now stale) read, as two processes would.
    await repo.edit_chat(ChatKey(7), ChatEdit(follow=frozenset({"lithuania"})))
    await other.edit_chat(ChatKey(7),
                          ChatEdit.setting(timezone="Europe/Vilnius", last_digest_at=T0))
    await other.edit_chat(ChatKey(7), ChatEdit(put_own=(Topic("kw_b", "b", ("b",)),)))
    changed = await repo.edit_chat(ChatKey(7), ChatEdit(unfollow=frozenset({"belarus"}),
                                                  put_own=(Topic("kw_a", "A!", ("a", "aa")),)))
    assert changed is not None
    assert changed.topics == {"lithuania"} and changed.timezone == "Europe/Vilnius"
    assert [(t.id, t.name) for t in changed.own_topics] == [("kw_a", "A!"), ("kw_b", "b")]
    assert changed.last_digest_at == T0
    await repo.close()
    again = open_store()
    assert await again.get_chat(ChatKey(7)) == changed, "durable"
    cleared = await again.edit_chat(ChatKey(7), ChatEdit(clear_subscriptions=True,
                                                   follow=frozenset({"poland"})))
    assert cleared is not None and cleared.topics == {"poland"} and cleared.own_topics == ()
    assert await again.edit_chat(ChatKey(8), ChatEdit.setting(active=False)) is None
    assert await again.get_chat(ChatKey(8)) is None, "an edit creates nothing"
    with pytest.raises(ValueError, match="topics"):
        ChatEdit.setting(topics=frozenset())


def test_two_processes_editing_one_chat_at_once_keep_both_changes(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    one, two = PostgresStore(database_url), PostgresStore(database_url)
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


async def test_lookups_find_their_chats_without_reading_every_chat(open_store: Opener) -> None:
    repo = open_store()
    own = Topic("kw_a", "a", ("a",))
    digest = {"mode": DeliveryMode.DIGEST, "digest_time": "08:00", "timezone": "Europe/Vilnius"}
    await repo.put_chat(chat(1, topics=frozenset({"belarus", "poland"}), languages=("en",)))
    await repo.put_chat(chat(2, topics=frozenset({"lithuania"}), own_topics=(own,)))
    await repo.put_chat(chat(3, topics=frozenset({"belarus"}), active=False, own_topics=(own,)))
    # due 08:00 next day
    await repo.put_chat(chat(4, topics=frozenset(), digest_since=T0, **digest))
    before = T0 - timedelta(days=3)
    await repo.put_chat(chat(5, topics=frozenset(), created_at=before, digest_since=before,
                             **digest))
    await repo.put_chat(chat(6, topics=frozenset(), created_at=before, digest_since=before,
                       active=False, **digest))
    other = open_store() if repo.shared else repo  # another process sees the same
    found = sorted((key.chat_id, g.topic_id, g.languages)
                   for g in await other.followers(["belarus", "lithuania", "belarus"])
                   for key in g.chats)
    assert found == [(1, "belarus", ("en",)), (2, "lithuania", ())], \
        "active followers, once per topic looked up that they follow"
    found = await other.followers(["poland", "belarus"])
    assert sorted((key.chat_id, g.topic_id) for g in found for key in g.chats) \
        == [(1, "belarus"), (1, "poland")]
    assert await other.followers([]) == [] and await other.followers(["nobody"]) == []
    assert [c.key.chat_id for c in await other.chats_with_own_topics()] == [2]
    due_at = next_due(T0, "08:00", "Europe/Vilnius")
    early = await other.digests_due(due_at - timedelta(seconds=1), 10)
    assert [c.key.chat_id for c in early] == [5]
    due = await other.digests_due(due_at, 10)
    assert [c.key.chat_id for c in due] == [5, 4], "most overdue first"
    assert [c.key.chat_id for c in await other.digests_due(due_at, 1)] == [5]
    # Sent: due again only at the next 08:00; a follow or unfollow changes what is found.
    await repo.edit_chat(ChatKey(5), ChatEdit.setting(last_digest_at=due_at))
    await repo.edit_chat(ChatKey(1), ChatEdit(unfollow=frozenset({"belarus"})))
    await repo.edit_chat(ChatKey(3), ChatEdit.setting(active=True))
    assert [c.key.chat_id for c in await other.digests_due(due_at, 10)] == [4]
    assert [key.chat_id for g in await other.followers(["belarus"]) for key in g.chats] == [3]
    assert sorted(c.key.chat_id for c in await other.chats_with_own_topics()) == [2, 3]


async def test_oldest_pending_and_bounded_article_reads(open_store: Opener) -> None:
    repo = open_store()
    old, mid, new = (article(ingested_at=T0 + timedelta(hours=h), topics=topics)
                     for h, topics in ((0, ("belarus",)), (1, ("poland",)), (2, ("belarus",))))
    for a in (old, mid, new):
        await repo.add_article(a)
    assert [a.id for a in await repo.articles_since(T0)] == [old.id, mid.id, new.id]
    assert [a.id for a in await repo.articles_since(T0, newest=2)] == [mid.id, new.id], \
        "the newest, oldest first"
    assert [a.id for a in await repo.articles_since(T0, topic="belarus")] == [old.id, new.id]
    assert [a.id for a in await repo.articles_since(T0, topic="belarus", newest=1)] == [new.id]
    until = T0 + timedelta(hours=1)
    upto = await repo.articles_since(T0, until=until)
    assert [a.id for a in upto] == [old.id, mid.id], "inclusive"
    assert [a.id for a in await repo.articles_since(T0, until=until, newest=1)] == [mid.id]
    await repo.add_deliveries([delivery(new.id, 1, created_at=T0 + timedelta(hours=2)),
                         delivery(old.id, 2, created_at=T0),
                         delivery(mid.id, 2, created_at=T0 + timedelta(hours=1))])
    assert await repo.oldest_pending(10) == [(ChatKey(2), T0),
                                             (ChatKey(1), T0 + timedelta(hours=2))]
    assert await repo.oldest_pending(1) == [(ChatKey(2), T0)]
    await repo.put_vote(Vote(old.id, 1, 1, T0))
    await repo.put_vote(Vote(old.id, 2, -1, T0))
    await repo.put_vote(Vote(new.id, 1, 1, T0))
    tallies = sorted(await repo.vote_tallies(T0 + timedelta(minutes=1)))
    assert tallies == [(new.source, ("belarus",), VoteTotals(1, 0))], "ingested since, with votes"
    assert len(await repo.vote_tallies(T0)) == 2


async def test_a_schema_5_database_is_upgraded_with_its_chats_found_by_index(
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
        assert repo.store.schema_version() == 6
        found = await repo.followers(["poland", "belarus"])
        assert sorted((key.chat_id, g.topic_id) for g in found for key in g.chats) \
            == [(5, "belarus"), (6, "belarus"), (6, "poland")]
        assert [g.languages for g in await repo.followers(["poland"])] == [("lt",)]
        assert [c.key.chat_id for c in await repo.chats_with_own_topics()] == [6]
        due = next_due(T0, "08:00", "Europe/Vilnius")
        assert await repo.digests_due(due - timedelta(seconds=1), 10) == []
        assert [c.key for c in await repo.digests_due(due, 10)] == [ChatKey(5)]
    finally:
        await repo.close()


async def test_the_chat_tally_counts_in_the_store(open_store: Opener) -> None:
    repo = open_store()
    own = Topic("kw_a", "a", ("a",))
    await repo.put_chat(chat(1, topics=frozenset({"belarus", "poland"})))
    await repo.put_chat(chat(-2, type=ChatType.SUPERGROUP, topics=frozenset({"belarus"}),
                       own_topics=(own,)))
    await repo.put_chat(chat(3, topics=frozenset({"belarus"}), active=False, own_topics=(own,)))
    tally = await repo.chat_tally()
    assert tally.active_by_type == {"private": 1, "supergroup": 1} and tally.inactive == 1
    assert tally.followers == {"belarus": 2, "poland": 1, KEYWORD_FOLLOWERS: 1}
    for hours in (0, 20, 30):
        await repo.add_article(article(ingested_at=T0 + timedelta(hours=hours)))
    assert await repo.articles_count_since(T0 + timedelta(hours=10)) == 2


async def test_chats_waiting_for_their_digest_are_not_alert_chats(open_store: Opener) -> None:
    repo = open_store()
    a = article()
    await repo.add_article(a)
    await repo.put_chat(chat(1))
    await repo.put_chat(chat(2, mode=DeliveryMode.DIGEST))
    await repo.put_chat(chat(3, mode=DeliveryMode.DIGEST, active=False))
    await repo.add_deliveries([delivery(a.id, n) for n in (1, 2, 3, 4)])
    assert sorted(k.chat_id for k in await repo.pending_alert_chats()) == [1, 3, 4], \
        "instant, inactive (to drop) and unknown chats; the digest chat waits for its digest"
    await repo.edit_chat(ChatKey(2), ChatEdit.setting(mode=DeliveryMode.INSTANT))
    assert sorted(k.chat_id for k in await repo.pending_alert_chats()) == [1, 2, 3, 4]


def test_a_read_on_its_own_leaves_no_transaction_open(database_url: str) -> None:
    # PostgreSQL only: reads outside a batch run in autocommit (one round trip); one that
    # finds a transaction open reads in it and ends it. Either way nothing stays open to
    # hold locks (an idle open transaction blocks migrations and VACUUM).
    from psycopg.pq import TransactionStatus  # noqa: PLC0415

    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    store = PostgresStore(database_url)
    try:
        store.put_chat(chat(1))
        conn = store._conn
        assert conn is not None
        assert store.get_chat(ChatKey(1)) is not None
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert not conn.autocommit, "writes still commit as one transaction"
        conn.execute("SELECT 1")  # a transaction left open behind the store's back
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        assert store.get_chat(ChatKey(1)) is not None
        assert conn.info.transaction_status == TransactionStatus.IDLE
        with store.batch():
            store.put_chat(chat(2))
            assert store.get_chat(ChatKey(2)) is not None, "a read in a batch sees its writes"
        assert store.get_chat(ChatKey(2)) is not None
    finally:
        store.close()
