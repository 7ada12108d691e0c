"""Convert records to and from JSON-ready dicts. Pure; shared by the journal and the files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.models import (
    Article,
    Chat,
    ChatKey,
    ChatType,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    FeedState,
    ImageMode,
    QuietHours,
    Topic,
)


def dt_out(value: datetime | None) -> str | None:
    """Serialise an aware datetime (as UTC ISO 8601)."""
    return None if value is None else value.astimezone(UTC).isoformat()


def dt_in(value: Any) -> datetime | None:
    """Parse what ``dt_out`` wrote."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _req_dt(value: Any) -> datetime:
    parsed = dt_in(value)
    if parsed is None:
        raise ValueError("missing timestamp")
    return parsed


def topic_out(topic: Topic) -> dict[str, Any]:
    """Encode a (chat-defined) topic."""
    return {"id": topic.id, "name": topic.name, "aliases": list(topic.aliases),
            "exclude": list(topic.exclude)}


def topic_in(data: dict[str, Any]) -> Topic:
    """Decode a topic."""
    return Topic(str(data["id"]), str(data["name"]), tuple(data.get("aliases", ())),
                 tuple(data.get("exclude", ())))


def chat_out(chat: Chat) -> dict[str, Any]:
    """Encode a chat."""
    return {
        "key": chat.key.encode(), "type": chat.type.value, "title": chat.title,
        "active": chat.active, "mode": chat.mode.value, "digest_time": chat.digest_time,
        "timezone": chat.timezone, "languages": list(chat.languages),
        "quiet": [chat.quiet.start, chat.quiet.end] if chat.quiet else None,
        "ui_language": chat.ui_language, "images": chat.images.value,
        "topics": sorted(chat.topics), "own_topics": [topic_out(t) for t in chat.own_topics],
        "created_at": dt_out(chat.created_at), "digest_since": dt_out(chat.digest_since),
        "last_digest_at": dt_out(chat.last_digest_at),
    }


def subscriptions_of(chat: Chat) -> str:
    """What decides who gets an article, as one comparable string (see ``subscriptions_version``).

    A digest's time stamp or a title changes often and decides nothing about fan-out.
    """
    return json.dumps([chat.active, sorted(chat.topics), list(chat.languages),
                       [topic_out(t) for t in chat.own_topics]],
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def chat_in(data: dict[str, Any]) -> Chat:
    """Decode a chat."""
    quiet = data.get("quiet")
    return Chat(
        key=ChatKey.decode(str(data["key"])), type=ChatType(data["type"]),
        title=str(data.get("title", "")), active=bool(data.get("active", True)),
        mode=DeliveryMode(data.get("mode", "instant")),
        digest_time=str(data.get("digest_time", "08:00")),
        timezone=str(data.get("timezone", "UTC")),
        languages=tuple(data.get("languages", ())),
        quiet=QuietHours(quiet[0], quiet[1]) if quiet else None,
        ui_language=data.get("ui_language"), images=ImageMode(data.get("images", "preview")),
        topics=frozenset(data.get("topics", ())),
        own_topics=tuple(topic_in(t) for t in data.get("own_topics", ())),
        created_at=dt_in(data.get("created_at")), digest_since=dt_in(data.get("digest_since")),
        last_digest_at=dt_in(data.get("last_digest_at")),
    )


def article_out(a: Article) -> dict[str, Any]:
    """Encode an article (its full text is not kept: only the summary is shown)."""
    return {
        "id": a.id, "url": a.url, "title": a.title, "source": a.source, "feed": a.feed_url,
        "lang": a.language, "summary": list(a.summary), "topics": list(a.topics),
        "published": dt_out(a.published_at), "ingested": dt_out(a.ingested_at),
        "keys": list(a.keys), "image": a.image_url, "cluster": a.cluster_id,
        "also": list(a.also_sources), "lead": a.lead,
    }


def article_in(d: dict[str, Any]) -> Article:
    """Decode an article."""
    return Article(
        id=str(d["id"]), url=str(d["url"]), title=str(d["title"]), source=str(d["source"]),
        feed_url=str(d.get("feed", "")), language=str(d.get("lang", "")),
        summary=tuple(d.get("summary", ())), topics=tuple(d.get("topics", ())),
        published_at=_req_dt(d["published"]), ingested_at=_req_dt(d["ingested"]),
        keys=tuple(d.get("keys", ())), image_url=d.get("image"), cluster_id=d.get("cluster"),
        also_sources=tuple(d.get("also", ())), lead=str(d.get("lead") or ""),
    )


def delivery_out(d: Delivery) -> dict[str, Any]:
    """Encode a delivery."""
    return {"a": d.article_id, "c": d.chat.encode(), "s": d.status.value,
            "t": dt_out(d.created_at), "st": dt_out(d.sent_at), "m": d.message_id,
            "n": d.attempts, "e": d.error, "g": d.topic}


def delivery_in(d: dict[str, Any]) -> Delivery:
    """Decode a delivery."""
    return Delivery(
        article_id=str(d["a"]), chat=ChatKey.decode(str(d["c"])),
        status=DeliveryStatus(d["s"]), created_at=_req_dt(d["t"]), sent_at=dt_in(d.get("st")),
        message_id=d.get("m"), attempts=int(d.get("n", 0)), error=str(d.get("e", "")),
        topic=str(d.get("g", "")),
    )


def feed_out(f: FeedState) -> dict[str, Any]:
    """Encode a feed's poll state."""
    return {"url": f.url, "etag": f.etag, "lm": f.last_modified, "ok": dt_out(f.last_success),
            "err": f.last_error, "err_at": dt_out(f.last_error_at), "fails": f.failures,
            "next": dt_out(f.next_poll_at), "total": f.articles_total,
            "since": dt_out(f.failing_since), "listed": sorted(f.listed)}


def feed_in(d: dict[str, Any]) -> FeedState:
    """Decode a feed's poll state."""
    return FeedState(
        url=str(d["url"]), etag=d.get("etag"), last_modified=d.get("lm"),
        last_success=dt_in(d.get("ok")), last_error=str(d.get("err", "")),
        last_error_at=dt_in(d.get("err_at")), failures=int(d.get("fails", 0)),
        next_poll_at=dt_in(d.get("next")), articles_total=int(d.get("total", 0)),
        failing_since=dt_in(d.get("since")),
        listed=frozenset(str(x) for x in d.get("listed") or ()),
    )
