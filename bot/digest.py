"""Digest selection and ranking by votes. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Article, VoteTotals

PRIOR_WEIGHT = 5.0   # votes' worth of the prior: new sources start near the average
PRIOR_MEAN = 0.5


@dataclass(frozen=True, slots=True)
class Record:
    """Yes/No record of a source or topic."""

    yes: int = 0
    no: int = 0


def bayes(record: Record, mean: float = PRIOR_MEAN, weight: float = PRIOR_WEIGHT) -> float:
    """Bayesian average of a Yes share, pulled towards ``mean`` when there are few votes."""
    return (record.yes + mean * weight) / (record.yes + record.no + weight)


def records(tallies: Iterable[tuple[str, tuple[str, ...], VoteTotals]]
            ) -> tuple[dict[str, Record], dict[str, Record]]:
    """Aggregate per-source and per-topic records from ``(source, topics, totals)``."""
    src: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    top: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for source, topics, totals in tallies:
        src[source][0] += totals.yes
        src[source][1] += totals.no
        for topic in topics:
            top[topic][0] += totals.yes
            top[topic][1] += totals.no
    return ({k: Record(*v) for k, v in src.items()}, {k: Record(*v) for k, v in top.items()})


def score(article: Article, totals: VoteTotals, sources: dict[str, Record],
          topics: dict[str, Record]) -> float:
    """Rank score: the article's own votes, its source's and its topics' records."""
    own = bayes(Record(totals.yes, totals.no))
    source = bayes(sources.get(article.source, Record()))
    topic_scores = [bayes(topics.get(t, Record())) for t in article.topics]
    topic = max(topic_scores) if topic_scores else PRIOR_MEAN
    return own + source + 0.5 * topic


def build_digest(entries: list[tuple[Article, VoteTotals, str]], sources: dict[str, Record],
                 topics: dict[str, Record]) -> list[tuple[str, list[tuple[Article, VoteTotals]]]]:
    """Group ``(article, totals, group name)`` by group and sort each group by score.

    Groups are ordered by their best article's score; ties keep publication order.
    """
    groups: dict[str, list[tuple[float, Article, VoteTotals]]] = defaultdict(list)
    for article, totals, group in entries:
        groups[group].append((score(article, totals, sources, topics), article, totals))
    ordered = []
    for name, items in groups.items():
        items.sort(key=lambda x: (-x[0], -x[1].published_at.timestamp()))
        ordered.append((items[0][0], name, [(a, t) for _, a, t in items]))
    ordered.sort(key=lambda x: (-x[0], x[1]))
    return [(name, items) for _, name, items in ordered]
