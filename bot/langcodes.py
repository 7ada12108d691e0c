"""ISO 639-1 language codes, from the CLDR data that Babel ships (all 184 two-letter codes).

Used to check ``/lang`` arguments and feed ``language`` hints, so a typo such as ``/lang xx``
is refused instead of silently filtering out every article.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale


@lru_cache(maxsize=1)
def iso639_1_codes() -> frozenset[str]:
    """Return every ISO 639-1 code (``en``, ``be``, ``lt``...), lower case."""
    names = Locale("en").languages  # Babel types its LocaleDataDict keys loosely
    return frozenset(code for code in names if isinstance(code, str) and len(code) == 2)


def is_iso639_1(code: str) -> bool:
    """Tell whether ``code`` (any case) is an ISO 639-1 language code."""
    return code.lower() in iso639_1_codes()
