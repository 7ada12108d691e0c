"""The message catalogues: complete in six languages, same placeholders, valid Telegram HTML."""

from __future__ import annotations

import string

import pytest

from bot.texts import UI_LANGUAGES, Markup, catalogue, text, ui_language_of
from tests.emulator.telegram_html import parse_html


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_every_key_exists_with_the_same_placeholders(lang: str) -> None:
    source, target = catalogue("en"), catalogue(lang)
    assert set(target) == set(source), f"{lang}: missing {set(source) - set(target)}"
    for key, english in source.items():
        assert placeholders(target[key]) == placeholders(english), f"{lang}:{key}"


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_every_message_renders_to_valid_telegram_html(lang: str) -> None:
    for key, template in catalogue(lang).items():
        values = dict.fromkeys(placeholders(template), "<x & y>")
        rendered = text(key, lang, **values)
        plain = parse_html(rendered)
        assert plain.strip(), f"{lang}:{key} is empty"
        assert "<x & y>" in plain or not values


def test_translations_are_not_english_copies() -> None:
    english = catalogue("en")
    for lang in ("ru", "be", "uk", "lt", "pl"):
        same = [k for k, v in catalogue(lang).items() if v == english[k]]
        assert not same, f"{lang} leaves these in English: {same}"


def test_markup_is_kept_and_unknown_language_falls_back() -> None:
    assert "<code>x</code>" in text("help", "ru", topics=Markup("<code>x</code>"))
    assert text("vote_counted", "xx") == text("vote_counted", "en")
    assert "Спасибо" in text("vote_counted", "ru")
    assert "Дзякуй" in text("vote_counted", "be")


def test_ui_language_of_telegram_codes() -> None:

    assert ui_language_of("ru") == "ru"
    assert ui_language_of("be-BY") == "be"
    assert ui_language_of("PL") == "pl"
    assert ui_language_of("pt-br") is None
    assert ui_language_of(None) is None
