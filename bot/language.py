"""Language identification: langdetect (seeded) plus rules for what it gets wrong.

langdetect has no Belarusian (it answers ``uk`` or ``ru``) and mistakes some Cyrillic
languages for each other. The alphabet settles most of those cases: only Belarusian uses
``ў``; Belarusian writes both ``і`` and ``ы`` (Ukrainian has no ``ы``, Russian no ``і``);
Kazakh, which also has both, has letters (``ә ғ қ ң ө ұ ү һ``) that Belarusian lacks.
"""

from __future__ import annotations

import re

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

# langdetect is random unless seeded; the same text must always get the same answer.
DetectorFactory.seed = 0

SUPPORTED = ("en", "ru", "be", "uk", "lt", "pl", "de", "lv", "et")
_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_KAZAKH = set("әғқңөұүһӘҒҚҢӨҰҮҺ")
_SERBIAN_MACEDONIAN = set("јљњћђџѓќѕЈЉЊЋЂЏЃЌЅ")
_BELARUSIAN_ONLY = set("ўЎ")
_UKRAINIAN_ONLY = set("їєґЇЄҐ")


def _cyrillic_rule(text: str) -> str | None:
    letters = set(text)
    if letters & (_KAZAKH | _SERBIAN_MACEDONIAN):
        return None
    if letters & _BELARUSIAN_ONLY:
        return "be"
    lower = text.lower()
    has_i, has_y = "і" in lower, "ы" in lower
    if letters & _UKRAINIAN_ONLY and not has_y:
        return "uk"
    if has_i and has_y:
        return "be"
    if has_i and "и" in lower:
        return "uk"
    return None


def detect_language(text: str, hint: str | None = None) -> str:
    """Return the ISO 639-1 code of ``text``'s language, or ``""`` when unknown.

    Args:
        text: Title and body of an article (longer text gives better answers).
        hint: The feed's configured language, used when the text is too short to tell.

    Returns:
        A two-letter code.
    """
    sample = text[:4000]
    words = _WORD.findall(sample)
    if len(words) < 3 and hint:
        return hint
    cyrillic = len(_CYRILLIC.findall(sample))
    letters = sum(1 for ch in sample if ch.isalpha())
    if letters and cyrillic / letters > 0.5:
        rule = _cyrillic_rule(sample)
        if rule:
            return rule
    try:
        ranked = detect_langs(sample)
    except LangDetectException:
        return hint or ""
    if not ranked:
        return hint or ""
    best = ranked[0]
    code = str(best.lang).split("-")[0]
    if hint and (best.prob < 0.8 or len(words) < 8):
        return hint
    if code in ("uk", "ru", "bg", "mk") and letters and cyrillic / letters > 0.5:
        # langdetect's guesses among Cyrillic languages are weak; trust the alphabet first.
        lower = sample.lower()
        if "ы" in lower or "э" in lower or "ъ" in lower:
            return "ru" if "і" not in lower else "be"
        if "і" in lower or "ї" in lower or "є" in lower:
            return "uk"
    return code
