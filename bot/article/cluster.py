"""Near-duplicate detection across sources with SimHash over title and lead."""

from __future__ import annotations

import hashlib

from bot.topics import tokens

BITS = 64
NEAR = 10  # Hamming distance at or below which two fingerprints are the same story


def simhash(title: str, text: str) -> int:
    """Return a 64-bit SimHash of word 2-shingles of the title and the first 80 words."""
    head, body = tokens(title), tokens(text)
    if body[:len(head)] == head:
        # Text extracted from a page often starts with its headline; a feed's own text
        # doesn't. Without this the two copies of one story drift ~11 bits apart.
        body = body[len(head):]
    words = head + body[:80]
    shingles = [" ".join(words[i:i + 2]) for i in range(max(len(words) - 1, 1))]
    weights = [0] * BITS
    for sh in shingles:
        h = int.from_bytes(hashlib.blake2b(sh.encode(), digest_size=8).digest(), "big")
        for bit in range(BITS):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(BITS) if weights[bit] > 0)


def distance(a: int, b: int) -> int:
    """Hamming distance of two fingerprints."""
    return (a ^ b).bit_count()


class ClusterIndex:
    """Recent fingerprints, for finding the story an article repeats."""

    def __init__(self, limit: int = 5000) -> None:
        self._items: list[tuple[int, str, str]] = []
        self._limit = limit

    def find(self, fingerprint: int, feed_url: str) -> str | None:
        """Return the article id of a near-duplicate from another feed, if any."""
        for fp, article, feed in reversed(self._items):
            if feed != feed_url and distance(fp, fingerprint) <= NEAR:
                return article
        return None

    def add(self, fingerprint: int, article_id: str, feed_url: str) -> None:
        """Remember an article's fingerprint."""
        self._items.append((fingerprint, article_id, feed_url))
        if len(self._items) > self._limit:
            del self._items[: len(self._items) - self._limit]
