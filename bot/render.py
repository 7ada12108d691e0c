"""Telegram HTML for articles and digests, and vote/topic keyboards as plain data. Pure.

Every piece of feed text is escaped; lengths are counted as Telegram counts them (UTF-16 code
units of the text after entity parsing).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bot.models import Article, VoteTotals

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DIGEST_ITEMS = 10
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069"
                      r"\ufeff]")
VOTE_DATA = re.compile(r"^v1\|([0-9a-f]{12})\|([yn])$")

Button = tuple[str, str]  # (label, callback_data)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def clean(text: str) -> str:
    """Remove control and invisible formatting characters from feed or user text."""
    return " ".join(_CONTROL.sub("", text).split())


def esc(text: str) -> str:
    """Clean and HTML-escape text for Telegram's HTML parse mode."""
    return html.escape(clean(text), quote=True)


def cut(text: str, limit: int) -> str:
    """Cut plain text to ``limit`` UTF-16 units, at a word boundary, with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    out = text
    while utf16_len(out) > limit - 1:
        out = out[: max(1, len(out) - max(1, (utf16_len(out) - limit) // 2 + 1))]
    if " " in out[-30:]:
        out = out.rsplit(" ", 1)[0]
    return out + "…"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: HTML text (visible length known) and keyboard rows."""

    html: str
    visible: int
    buttons: tuple[tuple[Button, ...], ...]


def vote_data(article_id: str, yes: bool) -> str:
    """Compact, versioned callback data of a vote button (at most 20 bytes)."""
    return f"v1|{article_id}|{'y' if yes else 'n'}"


def vote_row(article_id: str, totals: VoteTotals, marker: str = "") -> tuple[Button, Button]:
    """One keyboard row: ``👍 Yes (N)`` and ``👎 No (M)`` (a keycap marker in digests)."""
    yes_icon, no_icon = (marker, marker) if marker else ("👍", "👎")
    return ((f"{yes_icon} Yes ({totals.yes})", vote_data(article_id, True)),
            (f"{no_icon} No ({totals.no})", vote_data(article_id, False)))


def _source_line(article: Article, source_label: str, also_label: str) -> tuple[str, int]:
    source = cut(clean(article.source), 100)
    text = f"{source_label}: {source}"
    markup = f"<i>{esc(source_label)}: {html.escape(source)}</i>"
    if article.also_sources:
        others = cut(", ".join(clean(s) for s in article.also_sources), 200)
        text += f" · {also_label}: {others}"
        markup += f" · {esc(also_label)}: {html.escape(others)}"
    return markup, utf16_len(text)


def _title(article: Article, limit: int = 300) -> tuple[str, int]:
    title = cut(clean(article.title) or article.url, limit)
    href = html.escape(article.url, quote=True)
    return f'<b><a href="{href}">{html.escape(title)}</a></b>', utf16_len(title)


def article_message(article: Article, totals: VoteTotals, *, limit: int = MAX_TEXT,
                    source_label: str = "Source", also_label: str = "also in") -> Rendered:
    """Render one article as an instant alert (or, with ``limit=1024``, a photo caption)."""
    title, title_len = _title(article)
    source, source_len = _source_line(article, source_label, also_label)
    parts, visible = [title, source], title_len + 1 + source_len
    summary: list[str] = []
    budget = limit - visible - 2
    for sentence in article.summary:
        s = clean(sentence)
        need = utf16_len(s) + (1 if summary else 0)
        if need > budget:
            if not summary:
                s = cut(s, budget)
                summary.append(s)
                visible += utf16_len(s)
            break
        summary.append(s)
        budget -= need
        visible += need
    if summary:
        parts.append("")
        parts.append(html.escape(" ".join(summary)))
        visible += 2
    return Rendered("\n".join(parts), visible, (vote_row(article.id, totals),))


def digest_messages(items: list[tuple[str, list[tuple[Article, VoteTotals]]]],
                    header: str, *, topic_label: str = "Topic",
                    source_label: str = "Source") -> list[Rendered]:
    """Render a digest: articles grouped by topic, split on article boundaries.

    Args:
        items: ``(topic name, [(article, totals), ...])`` in display order.
        header: First line of the first message (plain text).
        topic_label: Word shown before a topic name.
        source_label: Word shown before a source name.

    Returns:
        Messages of at most 4096 visible characters and ten articles each.
    """
    messages: list[Rendered] = []
    lines: list[str] = []
    visible = 0
    rows: list[tuple[Button, ...]] = []

    def flush() -> None:
        nonlocal lines, visible, rows
        if rows:
            messages.append(Rendered("\n".join(lines), visible, tuple(rows)))
        lines, visible, rows = [], 0, []

    header = cut(clean(header), 200)
    first_header = f"<b>{html.escape(header)}</b>"
    pending_header: tuple[str, int] | None = (first_header, utf16_len(header))
    for raw_topic, articles in items:
        topic_name = cut(clean(raw_topic), 100)
        topic_line = f"\n<b>{esc(topic_label)}: {html.escape(topic_name)}</b>"
        topic_len = utf16_len(f"\n{topic_label}: {topic_name}")
        topic_pending = True
        for article, totals in articles:
            title, title_len = _title(article, 200)
            summary = cut(clean(" ".join(article.summary)), 700)
            source = f"{source_label}: {cut(clean(article.source), 100)}"

            def block_for(marker: str, title: str = title, summary: str = summary,
                          source: str = source, title_len: int = title_len) -> tuple[str, int]:
                markup = (f"\n{marker} {title}\n<i>{html.escape(source)}</i>"
                          + (f"\n{html.escape(summary)}" if summary else ""))
                length = (2 + utf16_len(marker) + title_len + 1 + utf16_len(source)
                          + (1 + utf16_len(summary) if summary else 0))
                return markup, length

            block, block_len = block_for(KEYCAPS[min(len(rows), len(KEYCAPS) - 1)])
            head_len = (pending_header[1] if pending_header else 0) + (
                topic_len + 1 if topic_pending else 0)
            if rows and (visible + head_len + block_len + 1 > MAX_TEXT - 64
                         or len(rows) >= MAX_DIGEST_ITEMS):
                flush()
                block, block_len = block_for(KEYCAPS[0])
                if not topic_pending:
                    topic_pending = True
            if pending_header:
                lines.append(pending_header[0])
                visible += pending_header[1]
                pending_header = None
            if topic_pending:
                lines.append(topic_line)
                visible += topic_len + 1
                topic_pending = False
            lines.append(block)
            visible += block_len + 1
            rows.append(vote_row(article.id, totals, KEYCAPS[len(rows)]))
    flush()
    return messages


def parse_vote(data: str) -> tuple[str, int] | None:
    """Return ``(article_id, +1/-1)`` for valid vote callback data, else None."""
    match = VOTE_DATA.match(data or "")
    if not match:
        return None
    return match.group(1), (1 if match.group(2) == "y" else -1)


def replace_vote_row(rows: list[list[Button]], article_id: str,
                     totals: VoteTotals) -> list[list[Button]]:
    """Return the keyboard with the buttons of one article relabelled with new totals."""
    out: list[list[Button]] = []
    for row in rows:
        new_row: list[Button] = []
        for label, data in row:
            parsed = parse_vote(data)
            if parsed and parsed[0] == article_id:
                prefix = label.split(" ", 1)[0] if " " in label else ""
                word, count = ("Yes", totals.yes) if parsed[1] > 0 else ("No", totals.no)
                new_row.append((f"{prefix} {word} ({count})".strip(), data))
            else:
                new_row.append((label, data))
        out.append(new_row)
    return out
