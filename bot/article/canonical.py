"""Canonical URLs and content hashes, the keys that deduplicate articles."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.topics import tokens

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "oly_")
_TRACKING = {"fbclid", "gclid", "dclid", "yclid", "msclkid", "igshid", "ref", "ref_src",
             "cmpid", "_ga", "spm", "at_medium", "at_campaign", "ocid", "rss", "from"}


def canonical_url(url: str) -> str:
    """Normalise a URL for comparison.

    Lower-cases scheme and host, drops ``www.``, default ports, fragments and tracking
    parameters, sorts the remaining query, and treats http and https as one.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised words of title and text.

    Text extracted from a page often starts with its headline and a feed's own text does not;
    a leading headline is left out, so one story's page and its full-text feed item (one
    story syndicated to two feeds) hash alike and go out once.
    """
    head, body = tokens(title), tokens(text)
    if head and body[:len(head)] == head:
        body = body[len(head):]
    words = " ".join(head + body[:300])
    return hashlib.sha256(words.encode()).hexdigest()[:24]


def article_id(key: str) -> str:
    """A short, stable id (12 hex digits) for callback data and storage."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]
