"""Same-story detection: the labelled contest pairs, ingest's index in step with
``same_story``, and memory bounded by the time window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.article.cluster import (
    StoryIndex,
    lead_of,
    same_story,
    site_of,
    story_vector,
)
from tests.conftest import corpus_or_skip

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _pairs() -> list[dict[str, object]]:
    path = corpus_or_skip("clustering", "tgcontest_pairs.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _story(row: dict[str, object], side: str) -> tuple[str, str, str]:
    return (str(row[f"{side}_title"]), str(row[f"{side}_text"]), str(row[f"{side}_url"]))


def test_labelled_pairs_precision_first() -> None:
    """Development data only: the bench reports the figures; this guards against a slide."""
    tp = fp = fn = 0
    for row in _pairs():
        got = same_story(_story(row, "first"), _story(row, "second"))
        want = bool(row["same_story"])
        tp += got and want
        fp += got and not want
        fn += want and not got
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.9, (precision, recall)
    assert 2 * precision * recall / (precision + recall) >= 0.8, (precision, recall)


def test_ingest_index_decides_as_same_story_does() -> None:
    """Every pair: b arriving while a (and 148 other articles) are recent in the index."""
    rows = _pairs()
    for row in rows:
        index = StoryIndex()
        for n, other in enumerate(rows):
            if other is row:
                continue
            for side in ("first", "second"):
                title, text, url = _story(other, side)
                index.add(f"noise-{n}-{side}", f"noise-{n}-{side}",
                          story_vector(title, lead_of(title, text)), site_of(url), T0)
        a, b = _story(row, "first"), _story(row, "second")
        index.add("a", "a", story_vector(a[0], lead_of(a[0], a[1])), site_of(a[2]), T0)
        found = index.find(story_vector(b[0], lead_of(b[0], b[1])), site_of(b[2]),
                           T0 + timedelta(hours=1))
        if same_story(a, b):
            assert found is not None, row["id"]
        else:
            assert found != "a", row["id"]


def test_index_memory_is_bounded_by_the_window() -> None:
    index = StoryIndex(window=timedelta(hours=48), limit=100_000)
    for n in range(5_000):
        when = T0 + timedelta(minutes=n)
        title = f"Story number {n} about Minsk {n * 7919 % 10007}"
        index.add(str(n), str(n), story_vector(title, title), f"site{n % 7}.example", when)
        if n % 500 == 0:
            index.find(story_vector(title, title), "elsewhere.example", when)
    index.find(story_vector("x", "y"), "z", T0 + timedelta(minutes=5_000))
    assert len(index) <= 48 * 60 + 1
    assert len(index._postings) < 10_000
