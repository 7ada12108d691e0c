"""Feed documents to ``ParsedFeed``: feedparser for RSS/Atom, our own reader for JSON Feed."""

from __future__ import annotations

import calendar
import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.errors import FeedError
from bot.models import FeedItem, ParsedFeed

_TAG = re.compile(r"<[^>]+>")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
_ENTITY_DECLARATION_BYTES = re.compile(rb"<!ENTITY", re.IGNORECASE)
MAX_ITEMS = 200
# Caps on what one item may store, whatever the feed sends: a title is a line, a summary a
# few paragraphs, a link a URL. Telegram messages are 4096 characters in all.
MAX_TITLE = 1_000
MAX_URL = 2_048
MAX_GUID = 2_048
MAX_SUMMARY_HTML = 100_000
MAX_CONTENT_HTML = 1_000_000
MAX_FEED_TITLE = 500


def declares_entities(raw: bytes) -> bool:
    """True when the document declares XML entities anywhere (any of XML's encodings).

    Looked for in the whole document, not a prefix: a DOCTYPE may follow megabytes of
    comments or whitespace. UTF-16 and UTF-32 documents are decoded first, since their
    ``<!ENTITY`` bytes differ from ASCII's.
    """
    if _ENTITY_DECLARATION_BYTES.search(raw):  # no copy of the document
        return True
    head = raw[:4]
    for encoding, marks in (("utf-32", (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")),
                            ("utf-16", (b"\xff\xfe", b"\xfe\xff")),
                            ("utf-16-le", (b"<\x00",)), ("utf-16-be", (b"\x00<",))):
        if head.startswith(marks):
            text = raw.decode(encoding, errors="replace")
            return _ENTITY_DECLARATION.search(text) is not None
    return False


def _text(value: str) -> str:
    """Plain text of a title that may carry HTML and entities."""
    return " ".join(html.unescape(_TAG.sub(" ", value or "")).split())


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get skips FeedParserDict's deprecated updated->published fallback.
        value = dict.get(entry, key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _image(entry: Any) -> str | None:
    candidates: list[str] = [
        media.get("url", "") for media in entry.get("media_content", []) or []
        if media.get("medium") in (None, "image")
        or str(media.get("type", "")).startswith("image")]
    candidates += [m.get("url", "") for m in entry.get("media_thumbnail", []) or []]
    for link in entry.get("links", []) or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image"):
            candidates.append(link.get("href", ""))
    for url in candidates:
        if url and url.startswith(("http://", "https://")):
            return str(url)
    return None


def capped_item(item: FeedItem) -> FeedItem | None:
    """The item with every field cut to its cap.

    Args:
        item: As parsed.

    Returns:
        A copy within the caps; None for a link longer than any real URL (the item can't be
        identified by a cut one). An over-long GUID or image URL is dropped.
    """
    if len(item.url) > MAX_URL:
        return None
    guid = item.guid if item.guid is None or len(item.guid) <= MAX_GUID else None
    image = item.image_url if item.image_url is None or len(item.image_url) <= MAX_URL \
        else None
    return replace(item, guid=guid, image_url=image, title=item.title[:MAX_TITLE],
                   summary_html=item.summary_html[:MAX_SUMMARY_HTML],
                   content_html=item.content_html[:MAX_CONTENT_HTML])


def _parse_json_feed(raw: bytes, base_url: str) -> ParsedFeed:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"invalid JSON Feed: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
        raise FeedError("invalid JSON Feed: no items array")
    items: list[FeedItem] = []
    for item in data.get("items", [])[:MAX_ITEMS]:
        if not isinstance(item, dict):
            continue
        link = str(item.get("url") or item.get("external_url") or "")
        if not link:
            continue
        when = None
        for key in ("date_published", "date_modified"):
            if item.get(key):
                try:
                    when = datetime.fromisoformat(str(item[key]).replace("Z", "+00:00"))
                    when = when if when.tzinfo else when.replace(tzinfo=UTC)
                    when = when.astimezone(UTC)
                    break
                except ValueError:
                    continue
        image = item.get("image") or item.get("banner_image")
        candidate = capped_item(FeedItem(
            guid=str(item["id"]) if item.get("id") is not None else None,
            url=urljoin(base_url, link), title=_text(str(item.get("title", ""))),
            summary_html=str(item.get("summary", "")),
            content_html=str(item.get("content_html") or html.escape(
                str(item.get("content_text", "")))),
            published_at=when,
            image_url=str(image) if image and str(image).startswith("http") else None,
        ))
        if candidate is not None:
            items.append(candidate)
    language = data.get("language")
    return ParsedFeed(title=_text(str(data.get("title", "")))[:MAX_FEED_TITLE],
                      items=tuple(items),
                      language=str(language)[:35] if language else None)


def parse_feed(raw: bytes, base_url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document.

    Args:
        raw: The body as received.
        base_url: The feed's URL, for relative links.
        content_type: The response's Content-Type, if any.

    Returns:
        The feed and its items; items without a link are skipped.

    Raises:
        FeedError: When the document is not a feed at all.
    """
    head = raw.lstrip()[:1]
    if head in (b"{", b"[") or "json" in content_type:
        return _parse_json_feed(raw, base_url)
    # feedparser resolves internal entities; refusing every entity declaration closes the
    # billion-laughs door (and its slower cousin below expat's amplification cap) before it
    # opens. Real feeds don't declare entities.
    if declares_entities(raw):
        raise FeedError("feed declares XML entities (refused: entity expansion attack)")
    try:
        parsed = feedparser.parse(raw, response_headers={
            "content-location": base_url, "content-type": content_type or "application/xml"})
    except (ValueError, TypeError, LookupError, RecursionError) as exc:
        raise FeedError(f"unparseable feed: {exc}") from exc
    entries = parsed.get("entries", [])
    if not entries and parsed.get("bozo") and not parsed.get("feed"):
        raise FeedError(f"not a feed: {parsed.get('bozo_exception')}")
    items: list[FeedItem] = []
    for entry in entries[:MAX_ITEMS]:
        link = entry.get("link") or ""
        if not link:
            for alt in entry.get("links", []) or []:
                if alt.get("href"):
                    link = alt["href"]
                    break
        if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
            link = entry["id"]
        if not link:
            continue
        content = ""
        for block in entry.get("content", []) or []:
            if len(block.get("value", "")) > len(content):
                content = block["value"]
        candidate = capped_item(FeedItem(
            guid=entry.get("id") or None,
            url=urljoin(base_url, link.strip()),
            title=_text(entry.get("title", "")),
            summary_html=entry.get("summary", "") or "",
            content_html=content,
            published_at=_when(entry),
            image_url=_image(entry),
        ))
        if candidate is not None:
            items.append(candidate)
    feed = parsed.get("feed", {})
    bozo = str(parsed.get("bozo_exception", "")) if parsed.get("bozo") else ""
    language = feed.get("language") or None
    return ParsedFeed(title=_text(feed.get("title", ""))[:MAX_FEED_TITLE], items=tuple(items),
                      bozo=bozo[:500], language=str(language)[:35] if language else None)
