"""Every user-facing string, in six languages, from the gettext catalogues in ``bot/i18n``.

Messages are keyed by id (``msgid``); ``en.po`` is the source and ``ru``, ``be``, ``uk``,
``lt`` and ``pl`` translate it. Babel (already installed with trafilatura) reads the ``.po``
files, so there is no compile step. ``text(key, lang, **params)`` fills placeholders and
escapes every value except ``Markup``.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "en"
UI_LANGUAGES = ("en", "ru", "be", "uk", "lt", "pl")
CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"


class Markup(str):
    """A string that is already valid Telegram HTML."""

    __slots__ = ()


def ui_language_of(language_code: str | None) -> str | None:
    """The UI language for a Telegram ``language_code`` ("ru", "pt-br"), None when we lack it."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in UI_LANGUAGES else None


@lru_cache(maxsize=len(UI_LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """Return ``{message id: text}`` of one UI language."""
    with (CATALOGUE_DIR / f"{lang}.po").open("rb") as fh:
        po = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def text(key: str, lang: str | None = None, **params: object) -> str:
    """Return the message ``key`` in ``lang`` (English when missing), placeholders escaped.

    Args:
        key: Message id.
        lang: UI language code; unknown codes fall back to English.
        **params: Placeholder values; strings are HTML-escaped. Pass ``Markup`` to keep HTML.
    """
    code = lang if lang in UI_LANGUAGES else DEFAULT_LANGUAGE
    template = catalogue(code).get(key) or catalogue(DEFAULT_LANGUAGE)[key]
    safe = {k: (v if isinstance(v, Markup) else html.escape(str(v), quote=False))
            for k, v in params.items()}
    return template.format(**safe)
