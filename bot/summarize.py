"""Extractive summaries with sumy, offline: sentencex splits sentences, a regex splits words.

sumy's stock ``Tokenizer`` needs NLTK data that can't be downloaded here, so sumy gets
``OfflineTokenizer`` (sumy only calls ``to_sentences`` and ``to_words``). Stemmers are NLTK's
Snowball/sumy's own where they exist (no data files needed); stop words come from sumy or
``stopwordsiso``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import sentencex
import stopwordsiso
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer, null_stemmer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from bot.topics import tokens

MAX_SENTENCES_IN = 120  # caps the O(n^2) (and KL's ~n^3) cost of one article
MAX_SENTENCE_CHARS = 600
LENGTH_PRIOR = 0.2
_WORD = re.compile(r"\w+")
_LANG_NAMES = {"en": "english", "ru": "russian", "de": "german", "uk": "ukrainian",
               "pl": "polish", "lt": "lithuanian", "be": "belarusian", "lv": "latvian",
               "et": "estonian", "fr": "french", "es": "spanish", "it": "italian",
               "pt": "portuguese", "cs": "czech", "sk": "slovak"}
_SUMMARIZERS: dict[str, Callable[[Any], Any]] = {
    "lexrank": LexRankSummarizer, "lsa": LsaSummarizer, "textrank": TextRankSummarizer,
    "luhn": LuhnSummarizer, "kl": KLSummarizer, "reduction": ReductionSummarizer,
    "sumbasic": SumBasicSummarizer,
}


class OfflineTokenizer:
    """The tokenizer object sumy needs, without NLTK data."""

    def __init__(self, language: str) -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Split a paragraph into sentences."""
        return tuple(s.strip() for s in sentencex.segment(self.language or "en", paragraph)
                     if s.strip())

    @staticmethod
    def to_words(sentence: str) -> tuple[str, ...]:
        """Split a sentence into words."""
        return tuple(_WORD.findall(sentence))


@lru_cache(maxsize=32)
def _stemmer(lang: str) -> Callable[[str], str]:
    name = _LANG_NAMES.get(lang)
    if not name:
        return null_stemmer  # type: ignore[no-any-return]
    try:
        stemmer: Callable[[str], str] = Stemmer(name)
        # Some of sumy's stemmers import an optional package only on first use (Polish needs
        # pystempel); probe once here so a missing one means no stemming, not a failed pass.
        stemmer("probe")
    except (LookupError, ValueError, ImportError):
        return null_stemmer  # type: ignore[no-any-return]
    return stemmer


@lru_cache(maxsize=32)
def stop_words(lang: str) -> frozenset[str]:
    """Return stop words for a language (empty when none are known)."""
    name = _LANG_NAMES.get(lang)
    if name:
        try:
            return frozenset(get_stop_words(name))
        except LookupError:
            pass
    if lang and stopwordsiso.has_lang(lang):
        return frozenset(stopwordsiso.stopwords(lang))
    return frozenset()


def split_sentences(text: str, lang: str) -> list[str]:
    """Split text into sentences, paragraph by paragraph, in article order."""
    tokenizer = OfflineTokenizer(lang)
    out: list[str] = []
    for raw in text.split("\n"):
        para = raw.strip()
        if para:
            out.extend(tokenizer.to_sentences(para))
    return out


def _same_as_title(sentence: str, title: str) -> bool:
    a, b = tokens(sentence), tokens(title)
    if not a or not b:
        return False
    if a == b:
        return True
    overlap = len(set(a) & set(b)) / max(len(set(a)), 1)
    return overlap > 0.9 and abs(len(a) - len(b)) <= 2


def _rate(name: str, document: Any, lang: str) -> dict[Any, float]:
    summarizer = _SUMMARIZERS[name](_stemmer(lang))
    summarizer.stop_words = stop_words(lang)
    if hasattr(summarizer, "rate_sentences"):
        return dict(summarizer.rate_sentences(document))
    chosen = summarizer(document, len(document.sentences))
    return {s: float(len(chosen) - i) for i, s in enumerate(chosen)}


def _hybrid(document: Any, sentences: list[Any], count: int, lang: str) -> list[int]:
    """Reduction's centrality, normalised, plus a small prior for longer sentences.

    Measured on the BBC set (BENCHMARKS.md): Reduction alone 0.583 ROUGE-2, this 0.589.
    Forcing the lead sentence in scored 0.56-0.58 there, so centrality decides.
    """
    n = len(sentences)
    ratings = _rate("reduction", document, lang)
    top = max(ratings.values(), default=0.0) or 1.0
    lengths = [len(_WORD.findall(str(s))) for s in sentences]
    longest = max(lengths) or 1
    score = [ratings.get(sentences[i], 0.0) / top + LENGTH_PRIOR * lengths[i] / longest
             for i in range(n)]
    return sorted(sorted(range(n), key=lambda i: -score[i])[:count])


def summarize(text: str, title: str, lang: str, algorithm: str = "hybrid",
              count: int = 3) -> tuple[str, ...]:
    r"""Return at most ``count`` sentences of ``text``, in article order.

    Args:
        text: The clean article body (boilerplate already removed), paragraphs split by ``\\n``.
        title: The title; a sentence that repeats it is never chosen.
        lang: ISO 639-1 code of the text.
        algorithm: ``hybrid`` or a sumy summarizer name (see ``bot.settings.SUMMARIZERS``).
        count: How many sentences.

    Returns:
        The chosen sentences.
    """
    raw = split_sentences(text, lang)
    picked: list[str] = []
    seen: set[str] = set()
    for sentence in raw:
        clean = " ".join(sentence.split())
        if len(clean) > MAX_SENTENCE_CHARS:
            clean = clean[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"
        if len(_WORD.findall(clean)) < 3 or _same_as_title(clean, title) or clean in seen:
            continue
        seen.add(clean)
        picked.append(clean)
        if len(picked) >= MAX_SENTENCES_IN:
            break
    if len(picked) <= count:
        return tuple(picked)
    tokenizer = OfflineTokenizer(lang)
    sentences = [Sentence(s, tokenizer) for s in picked]
    document = ObjectDocumentModel([Paragraph(sentences)])
    if algorithm == "hybrid":
        chosen = _hybrid(document, sentences, count, lang)
        return tuple(picked[i] for i in chosen)
    summarizer = _SUMMARIZERS[algorithm](_stemmer(lang))
    summarizer.stop_words = stop_words(lang)
    result = {str(s) for s in summarizer(document, count)}
    return tuple(s for s in picked if s in result)[:count]
