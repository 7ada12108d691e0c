"""OPML import into the TOML config (keeping its comments and order) and OPML 2.0 export."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import tomlkit
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from tomlkit.items import AoT

from bot.errors import ConfigError
from bot.settings import Settings


def read_opml(path: Path) -> list[tuple[str, str]]:
    """Return ``(xmlUrl, title)`` of every feed outline, nested ones included, in order."""
    try:
        root = SafeET.parse(path).getroot()
    except (OSError, SafeET.ParseError) as exc:
        raise ConfigError([f"{path}: not a readable OPML file: {exc}"]) from None
    except DefusedXmlException as exc:  # refused entities or DTDs
        raise ConfigError([f"{path}: refused: {exc}"]) from None

    def walk(node: ET.Element) -> Iterator[tuple[str, str]]:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            if url:
                title = outline.get("title") or outline.get("text") or url
                yield url, title.strip()
            yield from walk(outline)

    body = root.find("body") if root is not None else None
    if root is None or root.tag != "opml" or body is None:
        raise ConfigError([f"{path}: not an OPML document (no <opml><body>)"])
    return list(walk(body))


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``import_opml`` did.

    Attributes:
        added: Feeds appended to the config.
        skipped: Feeds already present or not http(s).
        refused: One line per feed on a non-public host (not added).
    """

    added: int
    skipped: int
    refused: tuple[str, ...] = ()


def import_opml(config_path: Path, opml_path: Path, *, allow_private: bool = False,
                host_problem: Callable[[str], str | None] | None = None) -> ImportResult:
    """Append the OPML's feeds to the config file.

    An OPML file is someone else's input, and configured feeds are fetched from any address:
    a feed on ``169.254.169.254`` or ``127.0.0.1:6379`` would let the file's author make the
    bot fetch from its own network. Such feeds are refused unless ``allow_private``.

    Args:
        config_path: The TOML config to append to.
        opml_path: The OPML file.
        allow_private: Accept feeds on non-public hosts too.
        host_problem: Says why a URL's host is not public, or None (DNS look-ups).
    """
    feeds = read_opml(opml_path)
    doc = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    existing = doc.get("feeds")
    if existing is None:
        existing = tomlkit.aot()
        doc.append("feeds", existing)
    assert isinstance(existing, AoT)
    known = {str(f.get("url", "")).rstrip("/").lower() for f in existing}
    added = skipped = 0
    refused: list[str] = []
    for url, title in feeds:
        if not url.startswith(("http://", "https://")):
            skipped += 1
            continue
        norm = url.rstrip("/").lower()
        if norm in known:
            skipped += 1
            continue
        problem = None if allow_private or host_problem is None else host_problem(url)
        if problem is not None:
            refused.append(f"{url[:200]}: {problem}")
            continue
        table = tomlkit.table()
        table.add("url", url)
        table.add("name", title[:100])
        existing.append(table)
        known.add(norm)
        added += 1
    tmp = config_path.with_name(config_path.name + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(config_path)
    return ImportResult(added, skipped, tuple(refused))


def export_opml(settings: Settings, now: datetime) -> str:
    """Return the configured feeds as an OPML 2.0 document."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             "    <title>newsbot feeds</title>",
             f"    <dateCreated>{escape(format_datetime(now))}</dateCreated>", "  </head>",
             "  <body>"]
    for feed in settings.feeds:
        attrs = (f"type=\"rss\" text={quoteattr(feed.name)} title={quoteattr(feed.name)} "
                 f"xmlUrl={quoteattr(feed.url)}")
        if feed.language:
            attrs += f" language={quoteattr(feed.language)}"
        lines.append(f"    <outline {attrs}/>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"
