"""Topic matching: aliases on word boundaries, any script, ``*`` endings, exclusions.

Aliases compile into a token index rather than regular expressions, so nothing a user
types can make matching slow, and the cost of matching one article grows with the article's
words, not with the number of topics.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Topic

_TOKEN = re.compile(r"\w+")
TITLE_WEIGHT = 3


def tokens(text: str) -> list[str]:
    """Split text into case-folded word tokens (Unicode-aware)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True, slots=True)
class _Phrase:
    owner: str
    words: tuple[str, ...]
    prefix_last: bool
    exclude: bool


def _compile(owner: str, alias: str, *, exclude: bool) -> _Phrase | None:
    text = alias.strip()
    prefix = text.endswith("*")
    words = tuple(tokens(text.rstrip("*")))
    if not words:
        return None
    return _Phrase(owner, words, prefix, exclude)


class TopicMatcher:
    """An index of many topics' aliases; ``match`` returns the topics an article is in."""

    def __init__(self, topics: Iterable[Topic] = ()) -> None:
        self._exact: dict[str, list[_Phrase]] = defaultdict(list)
        self._prefix: dict[str, list[_Phrase]] = defaultdict(list)
        self._prefix_lengths: set[int] = set()
        self._topics: dict[str, Topic] = {}
        for topic in topics:
            self.add(topic)

    def add(self, topic: Topic, owner: str | None = None) -> None:
        """Index a topic under ``owner`` (its id by default)."""
        key = owner or topic.id
        self._topics[key] = topic
        phrases = [_compile(key, a, exclude=False) for a in topic.aliases]
        phrases += [_compile(key, a, exclude=True) for a in topic.exclude]
        for phrase in phrases:
            if phrase is None:
                continue
            # A single-word prefix alias is keyed by its stem; longer phrases by their first
            # word, checked word by word at each place it occurs.
            if phrase.prefix_last and len(phrase.words) == 1:
                self._prefix[phrase.words[0]].append(phrase)
                self._prefix_lengths.add(len(phrase.words[0]))
            else:
                self._exact[phrase.words[0]].append(phrase)

    def _candidates(self, word: str) -> list[_Phrase]:
        found = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length <= len(word):
                found.extend(self._prefix.get(word[:length], ()))
        return found

    @staticmethod
    def _phrase_at(phrase: _Phrase, words: list[str], i: int) -> bool:
        n = len(phrase.words)
        if i + n > len(words):
            return False
        for j, want in enumerate(phrase.words):
            got = words[i + j]
            last = j == n - 1
            if last and phrase.prefix_last:
                if not got.startswith(want):
                    return False
            elif got != want:
                return False
        return True

    def _hits(self, words: list[str]) -> tuple[dict[str, int], set[str]]:
        hits: dict[str, int] = defaultdict(int)
        excluded: set[str] = set()
        cache: dict[str, list[_Phrase]] = {}
        for i, word in enumerate(words):
            cands = cache.get(word)
            if cands is None:
                cands = cache[word] = self._candidates(word)
            for phrase in cands:
                if (phrase.exclude and phrase.owner in excluded) or not self._phrase_at(
                        phrase, words, i):
                    continue
                if phrase.exclude:
                    excluded.add(phrase.owner)
                else:
                    hits[phrase.owner] += 1
        return hits, excluded

    def _scored(self, title: str, text: str) -> tuple[dict[str, int], set[str]]:
        title_hits, title_ex = self._hits(tokens(title))
        text_hits, text_ex = self._hits(tokens(text))
        excluded = title_ex | text_ex
        result: dict[str, int] = {}
        for owner in set(title_hits) | set(text_hits):
            if owner in excluded:
                continue
            result[owner] = TITLE_WEIGHT * title_hits.get(owner, 0) + text_hits.get(owner, 0)
        return result, excluded

    def scores(self, title: str, text: str) -> dict[str, int]:
        """Return a relevance score per matching owner (title hits weigh more)."""
        return self._scored(title, text)[0]

    def match(self, title: str, text: str, given: Iterable[str] = ()) -> list[str]:
        """Return the owners whose aliases occur in the title or text, best first.

        Args:
            title: The article's title.
            text: The article's text.
            given: Owners the article belongs to whatever it says (a feed's own topics);
                they follow the matched ones, and their exclusions still apply.
        """
        scores, excluded = self._scored(title, text)
        ranked = sorted(scores, key=lambda k: (-scores[k], k))
        return ranked + [g for g in dict.fromkeys(given) if g not in scores and g not in excluded]


def find_topic(topics: Iterable[Topic], query: str) -> Topic | None:
    """Find a topic by id, name or alias, case-insensitively, in any script.

    An alias with a ``*`` ending matches any word it begins ("/follow Lietuvos").
    """
    wanted = " ".join(tokens(query))
    if not wanted:
        return None
    topics = list(topics)
    for topic in topics:
        if wanted in (topic.id, " ".join(tokens(topic.name))):
            return topic
    for topic in topics:
        for alias in topic.aliases:
            words = " ".join(tokens(alias.rstrip("*")))
            if words == wanted or (alias.endswith("*") and words and wanted.startswith(words)):
                return topic
    return None
