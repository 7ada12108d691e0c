"""Feed documents to ``ParsedFeed``: feedparser for RSS/Atom, our own reader for JSON Feed."""

from __future__ import annotations

import calendar
import html
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.errors import FeedError
from bot.models import FeedItem, ParsedFeed

_TAG = re.compile(r"<[^>]+>")
_ENTITY_BOMB = re.compile(rb"<!ENTITY", re.IGNORECASE)
MAX_ITEMS = 200


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
        items.append(FeedItem(
            guid=str(item["id"]) if item.get("id") is not None else None,
            url=urljoin(base_url, link), title=_text(str(item.get("title", ""))),
            summary_html=str(item.get("summary", "")),
            content_html=str(item.get("content_html") or html.escape(
                str(item.get("content_text", "")))),
            published_at=when,
            image_url=str(image) if image and str(image).startswith("http") else None,
        ))
    return ParsedFeed(title=_text(str(data.get("title", ""))), items=tuple(items),
                      language=data.get("language"))


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
    # feedparser resolves internal entities; refusing DTD entity declarations closes the
    # billion-laughs door before it opens.
    if _ENTITY_BOMB.search(raw[:65536]):
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
        items.append(FeedItem(
            guid=entry.get("id") or None,
            url=urljoin(base_url, link.strip()),
            title=_text(entry.get("title", "")),
            summary_html=entry.get("summary", "") or "",
            content_html=content,
            published_at=_when(entry),
            image_url=_image(entry),
        ))
    feed = parsed.get("feed", {})
    bozo = str(parsed.get("bozo_exception", "")) if parsed.get("bozo") else ""
    return ParsedFeed(title=_text(feed.get("title", "")), items=tuple(items), bozo=bozo,
                      language=(feed.get("language") or None))
