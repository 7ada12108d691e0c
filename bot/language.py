"""Language identification: alphabet rules, py3langid and langdetect (seeded), voting.

Measured on the lingua sentence sets (see BENCHMARKS.md): langdetect alone can't say
Belarusian (it answers ``uk`` or ``ru``) and calls Kazakh and Bulgarian Russian or
Belarusian; py3langid is stronger but calls some Russian sentences Bulgarian or Serbian.
The alphabet settles most of those cases before any model votes:

* Kazakh (``ә ғ қ ң ө ұ ү һ``), Serbian/Macedonian (``ј љ њ ћ ђ џ ѓ ќ ѕ``) letters: not ours.
* ``ў``: Belarusian. ``ї є ґ``, or ``і`` with ``и``: Ukrainian. ``і`` with ``ы`` (and no
  ``и``): Belarusian, unless the model is sure it is Kazakh without its own letters. ``і``
  with ``и`` and ``ы``: one of the two quotes Russian, and the model chooses between them.
* ``ы`` or ``э`` without ``і``: Russian. ``ъ`` before a consonant: Bulgarian.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException
from py3langid.langid import MODEL_FILE, LanguageIdentifier

# langdetect is random unless seeded; the same text must always get the same answer.
DetectorFactory.seed = 0

TARGETS = ("en", "ru", "be", "uk", "lt", "pl", "de", "lv", "et")
_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_KAZAKH = set("әғқңөұүһӘҒҚҢӨҰҮҺ")
_SOUTH_SLAVIC = set("јљњћђџѓќѕЈЉЊЋЂЏЃЌЅ")
_BULGARIAN_HARD_SIGN = re.compile(r"ъ[^еёюя\W]")
_LATVIAN = set("āēīķļņģĀĒĪĶĻŅĢ")
_LITHUANIAN = set("ėįųĖĮŲ")
_POLISH = set("łśźżćńŁŚŹŻĆŃ")


SHORT_TEXT = 40  # characters: below this a text is a title or a phrase, not prose
KAZAKH_WITHOUT_LETTERS = 0.5  # the open model's confidence in Kazakh that overrules і + ы
# Latin letters that look like Cyrillic ones. Belarusian and Ukrainian web text often types
# the Latin "i" for "і" («Кiраванне»); inside a Cyrillic word each of these is Cyrillic.
_LOOK_ALIKES = str.maketrans("aceiopxyAOCEHKMPTXBI", "асеіорхуАОСЕНКМРТХВІ")
_MIXED_WORD = re.compile(r"\w*[\u0400-\u04FF]\w*")


@lru_cache(maxsize=1)
def _langid() -> Any:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def _langid_targets() -> Any:
    """py3langid choosing among our languages only, for short texts with a feed's hint.

    On a few words the open model answers pcm, lg, sv or fi for German, English or Estonian.
    """
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(TARGETS))
    return identifier


def _likelier(text: str, languages: tuple[str, ...]) -> str:
    """Of ``languages`` (some of ours), the one the model restricted to ours ranks first."""
    ranked = [code for code, _p in _langid_targets().rank(text) if code in languages]
    return str(ranked[0]) if ranked else languages[0]


def cyrillic_look_alikes(text: str) -> str:
    """Read Latin look-alike letters inside Cyrillic words as the Cyrillic letters."""
    return _MIXED_WORD.sub(lambda m: m.group().translate(_LOOK_ALIKES), text)


def _cyrillic(text: str) -> str | None:
    letters = set(text)
    lower = text.lower()
    if letters & _KAZAKH:
        return "kk"
    if letters & _SOUTH_SLAVIC:
        return "mk" if letters & set("ѓќѕЃЌЅ") else "sr"
    if "ў" in lower:
        return "be"
    has_i, has_y = "і" in lower, "ы" in lower
    if set("їєґ") & set(lower):
        return "uk"
    if has_i and "и" in lower:
        # Belarusian has no и and Russian no і: Ukrainian, unless Belarusian letters are there
        # too. Then one of the two is quoting Russian («трансформеры» in Ukrainian, «Ученых
        # записок» in Belarusian), and the model restricted to those two decides.
        if has_y or "э" in lower:
            return _likelier(text, ("be", "uk"))
        return "uk"
    if has_i and has_y:
        # Belarusian, or Kazakh typed without its own letters (common on the web: «ц» for
        # «ң»), which shares і and ы; only a model can tell those apart.
        code, prob = _langid().classify(text)
        return "kk" if code == "kk" and prob >= KAZAKH_WITHOUT_LETTERS else "be"
    if (has_y or "э" in lower) and not has_i:
        if set("иъщ") & set(lower):
            return "ru"
        # Belarusian has neither и nor щ nor ъ; let the model choose between the two.
        code = str(_langid().classify(text)[0])
        return "be" if code == "be" else "ru"
    if _BULGARIAN_HARD_SIGN.search(lower):
        return "bg"
    return None


def _langdetect(text: str) -> tuple[str, float]:
    try:
        ranked = detect_langs(text)
    except LangDetectException:
        return "", 0.0
    if not ranked:
        return "", 0.0
    return str(ranked[0].lang).split("-")[0], float(ranked[0].prob)


_CYRILLIC_TARGETS = ("ru", "be", "uk")
# Letters a language's alphabet lacks: Russian has no і ї є ґ ў, Ukrainian no ы э ъ ё ў,
# Belarusian no и щ ъ ї є ґ (it writes an apostrophe where Russian writes ъ).
_NEVER_WRITES = {"ru": set("іїєґў"), "uk": set("ыэъёў"), "be": set("ищъїєґ")}
UK_OVERRULE = 0.9  # langdetect's confidence needed to call a py3langid "uk" Russian
OTHER_LANGUAGE = 0.99
BALTIC_DOUBT = 0.9  # below this confidence the Baltic letters overrule the model


def _short(sample: str, hint: str | None, *, cyrillic: bool) -> str:
    """A title or phrase from a feed that names its language: the hint decides a close call.

    No letter told the language apart (the rules ran first). Unless the open model is sure
    of another language, the model restricted to ours chooses among the languages of this
    script that its letters allow, and a hint among those wins unless that choice is clear.
    """
    code, prob = _langid().classify(sample)
    if str(code) not in TARGETS and prob >= OTHER_LANGUAGE:
        return str(code)  # sure that it is another language, whatever the feed says
    ranked = _langid_targets().rank(sample)
    script = [(code, p) for code, p in ranked if (code in _CYRILLIC_TARGETS) == cyrillic]
    if cyrillic:
        # A letter one of the three never writes rules it out (the rules above found no
        # letter that names one language outright, but may have found one that excludes).
        letters = set(sample.lower())
        script = [(code, p) for code, p in script if not letters & _NEVER_WRITES[code]] or script
    total = sum(p for _code, p in script) or 1.0
    code, prob = script[0] if script else ranked[0]
    if hint in {allowed for allowed, _p in script} and prob / total < 0.9:
        return str(hint)
    return str(code)


def detect_language(text: str, hint: str | None = None) -> str:
    """Return the ISO 639-1 code of ``text``'s language, or ``""`` when unknown.

    Args:
        text: Title and body of an article (longer text gives better answers).
        hint: The feed's configured language, used when the text is too short to tell.

    Returns:
        A two-letter code.
    """
    sample = cyrillic_look_alikes(text[:4000])
    words = _WORD.findall(sample)
    if not words:
        return hint or ""
    if len(words) < 3 and hint:
        return hint
    letters = [ch for ch in sample if ch.isalpha()]
    cyrillic = len(_CYRILLIC.findall(sample))
    # A title or phrase from a feed that names its language: see _short.
    short_with_hint = len(sample.strip()) < SHORT_TEXT and hint in TARGETS
    if letters and cyrillic / len(letters) > 0.5:
        rule = _cyrillic(sample)
        if rule:
            return rule
        if short_with_hint:
            return _short(sample, hint, cyrillic=True)
        code, _prob = _langid().classify(sample)
        # Without a telling letter the text is one of ru/bg/uk/be; the models' doubts about
        # Russian are mostly Bulgarian or Serbian, which these letters would have shown.
        if code == "be":
            return "be"  # langdetect has no Belarusian: its "ru" would be no second opinion
        if code in ("bg", "uk", "mk", "sr"):
            # Two models must agree before a letterless Cyrillic text is not Russian; for
            # Ukrainian, langdetect's "ru" on a few words must be a confident one.
            second, second_prob = _langdetect(sample)
            if code == "uk" and second == "ru" and second_prob < UK_OVERRULE:
                return "uk"
            return "ru" if second == "ru" else str(code)
        return "ru"
    if short_with_hint:
        return _short(sample, hint, cyrillic=False)
    code, prob = _langid().classify(sample)
    code = str(code)
    # Between the Baltic languages (and their neighbours) the letters decide; a name such as
    # "Nausėda" in an English text must not, so this only settles the models' Baltic doubts:
    # an Estonian sentence the model is sure of stays Estonian with "Kariņš" in it.
    if code in ("lv", "lt", "et", "pl", "sl", "hr", "sk", "cs") and prob < BALTIC_DOUBT:
        chars = set(sample)
        if chars & _LATVIAN and not chars & (_LITHUANIAN | _POLISH):
            return "lv"
        if chars & _LITHUANIAN and not chars & (_LATVIAN | _POLISH):
            return "lt"
    if prob >= 0.9 or code in TARGETS:
        if hint and prob < 0.5 and len(words) < 8:
            return hint
        return code
    second, second_prob = _langdetect(sample)
    if second in TARGETS and second_prob >= 0.5:
        return second
    return hint or code
