"""Telegram's HTML parse mode, as the Bot API documents it: the allowed tags, attributes and
named entities, correct nesting, and the text length after entity parsing (UTF-16 units)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(),
    "s": set(), "strike": set(), "del": set(), "span": {"class"}, "tg-spoiler": set(),
    "a": {"href"}, "code": {"class"}, "pre": set(), "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"}, "tg-time": {"unix", "format"},
}
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?")


class HtmlError(ValueError):
    """The text would be refused with "can't parse entities"."""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED:
            raise HtmlError(f"Unsupported start tag \"{tag}\"")
        for name, value in attrs:
            if name not in ALLOWED[tag]:
                raise HtmlError(f"Unsupported attribute \"{name}\" in tag \"{tag}\"")
            if tag == "span" and value != "tg-spoiler":
                raise HtmlError("span needs class=\"tg-spoiler\"")
        if tag == "a" and not dict(attrs).get("href"):
            raise HtmlError("a tag without href")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise HtmlError(f"Unsupported self-closing tag \"{tag}\"")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise HtmlError(f"Unmatched end tag \"{tag}\"")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise HtmlError("Unescaped < or > in text")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise HtmlError(f"Unsupported entity &{name};")
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        raise HtmlError("Comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        raise HtmlError("Declarations are not allowed")

    def unknown_decl(self, data: str) -> None:
        raise HtmlError("Declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        raise HtmlError("Processing instructions are not allowed")


def parse_html(text: str) -> str:
    """Return the plain text of a Telegram-HTML string, or raise ``HtmlError``."""
    for match in _ENTITY.finditer(text):
        name = match.group(1)
        if not match.group(0).endswith(";"):
            raise HtmlError(f"Entity &{name} is not terminated")
        if not name.startswith("#") and name not in NAMED_ENTITIES:
            raise HtmlError(f"Unsupported entity &{name};")
    stray = re.sub(_ENTITY, "", text)
    if "&" in stray:
        raise HtmlError("Unescaped & in text")
    parser = _Parser()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise HtmlError(f"Unclosed start tag \"{parser.stack[-1]}\"")
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
