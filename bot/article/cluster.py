"""Same-story detection across outlets: cosine of weighted word stems over title and lead.

Why this and not SimHash (the first version): SimHash finds near-verbatim copies, but another
outlet rewrites the story; on labelled same-story pairs of the Telegram Data Clustering
Contest it found 20 % of them. News is written lead-first, so the title and the first
``LEAD_WORDS`` words carry the story; different stories on one subject share the subject's
words but not its names and numbers, so those weigh more. Words are case-folded, stop words
dropped, and reduced to Snowball stems (Russian for Cyrillic, English for Latin), so that
«Лукашенко» and «Лукашенкой» are one term. Two articles from one site are never one story
(the contest winner's rule: an outlet publishes a story once; a second piece is another one).

The decision is pairwise and depends on nothing else, so ``same_story`` (for outside
evaluations) and ingest's ``StoryIndex`` decide alike; a test keeps them in step.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import snowballstemmer
import stopwordsiso

LEAD_WORDS = 60
TITLE_WEIGHT = 2.0     # each title word counts as much as two lead words
NAME_WEIGHT = 3.0      # names and numbers tell stories on one subject apart
SAME_STORY = 0.6       # cosine at or above which two articles are one story
STORY_WINDOW = timedelta(hours=48)
MAX_STORIES = 20_000
SHORTLIST = 20         # candidates scored exactly after the index's first pass

_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_STOP = frozenset(stopwordsiso.stopwords(["en", "ru", "be", "uk", "de", "pl", "lt", "lv", "et"]))
_RUSSIAN = snowballstemmer.stemmer("russian")
_ENGLISH = snowballstemmer.stemmer("english")

Story = tuple[str, str, str]  # (title, text, url)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_RUSSIAN.stemWord(word) if _CYRILLIC.search(word) else _ENGLISH.stemWord(word))


def _terms(text: str) -> Iterable[tuple[str, bool]]:
    """Stems of ``text``'s content words, each with whether it is a name or a number."""
    text = unicodedata.normalize("NFKC", text)
    for match in _WORD.finditer(text):
        word = match.group()
        folded = word.casefold()
        if len(folded) < 2 or folded in _STOP:
            continue
        # Any capitalised word but the first is taken for a name (Minsk, Лукашенко, EU):
        # sentence starts count too, which costs little, since they differ between stories.
        name = any(ch.isdigit() for ch in word) or (word[0].isupper() and match.start() > 0)
        yield _stem(folded), name


def lead_of(title: str, text: str) -> str:
    """The start of ``text``, enough for ``LEAD_WORDS`` content words, without the headline.

    Text extracted from a page often starts with its headline; a feed's own text doesn't.
    """
    words = text.split()
    head = title.split()
    if head and [w.casefold() for w in words[:len(head)]] == [w.casefold() for w in head]:
        words = words[len(head):]
    return " ".join(words[:LEAD_WORDS * 3])


@dataclass(frozen=True, slots=True)
class StoryVector:
    """Weighted stems of an article's title and lead, with the vector's length."""

    weights: dict[str, float]
    norm: float

    def cosine(self, other: StoryVector) -> float:
        """Cosine similarity with another vector (0.0 for an empty one)."""
        if not self.norm or not other.norm:
            return 0.0
        small, large = sorted((self.weights, other.weights), key=len)
        dot = sum(w * large.get(term, 0.0) for term, w in small.items())
        return dot / (self.norm * other.norm)


def story_vector(title: str, lead: str) -> StoryVector:
    """The vector of an article from its title and lead (see ``lead_of``)."""
    weights: dict[str, float] = {}
    for text, scale, limit in ((title, TITLE_WEIGHT, None), (lead, 1.0, LEAD_WORDS)):
        for n, (term, name) in enumerate(_terms(text)):
            if limit is not None and n >= limit:
                break
            weights[term] = weights.get(term, 0.0) + scale * (NAME_WEIGHT if name else 1.0)
    return StoryVector(weights, math.sqrt(sum(w * w for w in weights.values())))


def site_of(url: str) -> str:
    """The site an article comes from: its host without ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def same_story(a: Story, b: Story) -> bool:
    """Whether two articles, each ``(title, text, url)``, tell the same story.

    The same decision ingest makes when ``b`` arrives while ``a`` is recent.
    """
    if site_of(a[2]) == site_of(b[2]):
        return False
    first = story_vector(a[0], lead_of(a[0], a[1]))
    second = story_vector(b[0], lead_of(b[0], b[1]))
    return first.cosine(second) >= SAME_STORY


@dataclass(frozen=True, slots=True)
class _Entry:
    story_id: str
    vector: StoryVector
    site: str
    added: datetime


class StoryIndex:
    """Recent stories, found again by their terms (an inverted index).

    Memory is bounded by ``STORY_WINDOW`` and ``MAX_STORIES``. A lookup first adds up the
    products of shared terms through the index (terms that most stories share are skipped
    in this pass only), then scores a shortlist exactly: the decision is ``same_story``'s.
    """

    def __init__(self, window: timedelta = STORY_WINDOW, limit: int = MAX_STORIES) -> None:
        self._window = window
        self._limit = limit
        self._entries: dict[str, _Entry] = {}   # article id -> entry
        self._order: deque[str] = deque()       # article ids, oldest first
        self._postings: dict[str, dict[str, float]] = {}  # term -> article id -> weight

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def find(self, vector: StoryVector, site: str, now: datetime) -> str | None:
        """The story id of the most similar recent article from another site, if any.

        Returns:
            The ``story_id`` it was added with, or None when no story is similar enough.
        """
        self._expire(now)
        if not vector.norm:
            return None
        common = max(50, len(self._entries) // 10)
        partial: dict[str, float] = {}
        for term, weight in vector.weights.items():
            posting = self._postings.get(term)
            if not posting or len(posting) > common:
                continue
            for article_id, other in posting.items():
                partial[article_id] = partial.get(article_id, 0.0) + weight * other
        best: tuple[float, str] | None = None
        for article_id in sorted(partial, key=partial.__getitem__, reverse=True)[:SHORTLIST]:
            entry = self._entries[article_id]
            if entry.site == site:
                continue
            score = vector.cosine(entry.vector)
            if score >= SAME_STORY and (best is None or score > best[0]):
                best = (score, entry.story_id)
        return best[1] if best else None

    def add(self, article_id: str, story_id: str, vector: StoryVector, site: str,
            when: datetime) -> None:
        """Remember an article as part of ``story_id`` (its own id for a new story)."""
        if article_id in self._entries:
            return
        self._entries[article_id] = _Entry(story_id, vector, site, when)
        self._order.append(article_id)
        for term, weight in vector.weights.items():
            self._postings.setdefault(term, {})[article_id] = weight
        while len(self._order) > self._limit:
            self._drop(self._order.popleft())

    def _expire(self, now: datetime) -> None:
        while self._order and self._entries[self._order[0]].added < now - self._window:
            self._drop(self._order.popleft())

    def _drop(self, article_id: str) -> None:
        entry = self._entries.pop(article_id)
        for term in entry.vector.weights:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(article_id, None)
                if not posting:
                    del self._postings[term]
