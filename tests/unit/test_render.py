"""Formatting fuzz: any feed text renders to messages Telegram accepts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import VoteTotals
from bot.render import (
    MAX_CAPTION,
    MAX_TEXT,
    article_message,
    digest_messages,
    parse_vote,
    replace_vote_row,
    vote_data,
)
from tests.builders import article
from tests.emulator.telegram_html import parse_html, utf16_len

feed_text = st.one_of(
    st.text(min_size=0, max_size=3000),
    st.lists(st.sampled_from([*"<>&\"'/;=#x0123abc ", "&amp;", "<b>", "</i>", "&#128512;",
                              "&nbsp;", "<script>", "\x00", "\u202e"]),
             max_size=200).map("".join),
    st.from_regex(r"[\u0590-\u05ff\u0600-\u06ff\u200f\u202e ]{0,200}", fullmatch=True),
    st.just("👨‍👩‍👧‍👦🏳️‍🌈👍🏽" * 200),
    st.just("x" * 5000),
)


@settings(max_examples=150, deadline=None)
@given(title=feed_text, source=feed_text, summary=st.lists(feed_text, max_size=4),
       url_tail=st.text(max_size=50))
def test_article_messages_are_valid_telegram_html(title: str, source: str, summary: list[str],
                                                  url_tail: str) -> None:
    a = article(title=title, source=source or "s", summary=tuple(summary),
                url="https://news.example/" + url_tail, also_sources=(source,))
    for limit in (MAX_TEXT, MAX_CAPTION):
        rendered = article_message(a, VoteTotals(3, 1), limit=limit)
        plain = parse_html(rendered.html)
        assert 1 <= utf16_len(plain.strip()) and utf16_len(plain) <= limit
        for row in rendered.buttons:
            for label, data in row:
                assert label and 1 <= len(data.encode()) <= 64


@settings(max_examples=40, deadline=None)
@given(titles=st.lists(feed_text, min_size=1, max_size=40), summary=feed_text,
       topic=feed_text)
def test_digests_split_on_article_boundaries(titles: list[str], summary: str,
                                             topic: str) -> None:
    items = [(article(title=t, summary=(summary,)), VoteTotals()) for t in titles]
    messages = digest_messages([(topic or "t", items)], "Briefing")
    assert sum(len(m.buttons) for m in messages) == len(items)
    for m in messages:
        plain = parse_html(m.html)
        assert 1 <= utf16_len(plain.strip()) and utf16_len(plain) <= MAX_TEXT
        assert len(m.buttons) <= 10


def test_vote_data_round_trip_and_relabel() -> None:
    data = vote_data("0123456789ab", yes=True)
    assert parse_vote(data) == ("0123456789ab", 1)
    assert parse_vote("v1|0123456789ab|x") is None
    assert parse_vote("v1|0123456789abc|y") is None
    rows = [[("1️⃣ Yes (0)", data), ("1️⃣ No (0)", vote_data("0123456789ab", yes=False))]]
    new = replace_vote_row(rows, "0123456789ab", VoteTotals(5, 2))
    assert new == [[("1️⃣ Yes (5)", data), ("1️⃣ No (2)", rows[0][1][1])]]
