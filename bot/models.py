"""Typed records shared by the core, storage and delivery. All datetimes are aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class ChatType(StrEnum):
    """Telegram chat types newsbot serves."""

    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class DeliveryMode(StrEnum):
    """How a chat receives articles."""

    INSTANT = "instant"
    DIGEST = "digest"


class ImageMode(StrEnum):
    """How article messages show the lead image."""

    PREVIEW = "preview"
    PHOTO = "photo"
    OFF = "off"


class DeliveryStatus(StrEnum):
    """Life cycle of one article for one chat."""

    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"


class ChatKey(NamedTuple):
    """A chat, or one thread of a forum supergroup.

    Immutable like the dataclasses, and a named tuple because a
    follower look-up makes a few thousand of them an article (measured: 0.7 ms of a 13 ms
    look-up at a million chats went to building frozen-dataclass keys).
    """

    chat_id: int
    thread_id: int = 0

    def encode(self) -> str:
        """Return a stable string form used as a storage key."""
        return f"{self.chat_id}:{self.thread_id}"

    @classmethod
    def decode(cls, text: str) -> ChatKey:
        """Parse the form written by ``encode``."""
        chat, _, thread = text.partition(":")
        return cls(int(chat), int(thread or 0))


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic that chats can follow."""

    id: str
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local-time window ``start``-``end`` (``HH:MM``; may wrap past midnight)."""

    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat (or forum thread) and its settings."""

    key: ChatKey
    type: ChatType
    title: str = ""
    active: bool = True
    mode: DeliveryMode = DeliveryMode.INSTANT
    digest_time: str = "08:00"
    timezone: str = "UTC"
    languages: tuple[str, ...] = ()
    quiet: QuietHours | None = None
    ui_language: str | None = None
    images: ImageMode = ImageMode.PREVIEW
    topics: frozenset[str] = frozenset()
    own_topics: tuple[Topic, ...] = ()
    created_at: datetime | None = None
    digest_since: datetime | None = None
    last_digest_at: datetime | None = None


class StoredStory(NamedTuple):
    """What the story index needs of an article another process stored, and no more.

    Every ingest process reads these each second (with a few seconds' overlap): whole
    articles cost the database and each process decoding summaries, keys and topics that
    clustering never looks at.
    """

    id: str
    story_id: str  # the story's first article (``cluster_id``), or this article's own id
    title: str
    lead: str  # the lead, or the summary for articles stored before leads were kept
    url: str
    ingested_at: datetime


class FollowerGroup(NamedTuple):
    """The active chats that follow one shipped topic with the same language filter.

    What fan-out needs, not the whole chats: a storage look-up returns a few of these for the
    few thousand followers of an article's topics, so the bot never holds every chat in
    memory. Grouped, so that a look-up makes no object per follower beyond its key and the
    language filter is checked once a group (at a million chats an object per follower was
    a third of the look-up's time). Immutable like the dataclasses.

    Attributes:
        topic_id: The shipped topic they follow.
        languages: Their language filter; empty for every language.
        chats: The chats (or forum threads).
    """

    topic_id: str
    languages: tuple[str, ...]
    chats: tuple[ChatKey, ...]


KEYWORD_FOLLOWERS = "(keywords)"  # ChatTally.followers' entry for keyword-topic chats


@dataclass(frozen=True, slots=True)
class ChatTally:
    """Counts of chats for /stats, computed by the store (not by reading every chat).

    Attributes:
        active_by_type: Active chats by chat type.
        inactive: Chats that blocked the bot or are gone.
        followers: Active followers by shipped topic id, and ``"(keywords)"``: active chats
            with keyword topics of their own.
    """

    active_by_type: dict[str, int]
    inactive: int
    followers: dict[str, int]


# The settings a ChatEdit may set; subscriptions change only by their own fields, so two
# processes adding different topics at once both count.
EDITABLE_SETTINGS = frozenset({
    "title", "active", "mode", "digest_time", "timezone", "languages", "quiet", "ui_language",
    "images", "digest_since", "last_digest_at"})


@dataclass(frozen=True, slots=True)
class ChatEdit:
    """An update intent for one stored chat: only what it names changes.

    Storage applies it to the chat as stored at that moment, atomically (``edit_chat``), so an
    edit made from a stale read (a /follow on one process, a digest's time stamp on another)
    never takes back another's change.

    Attributes:
        follow: Shipped topic ids to add.
        unfollow: Shipped topic ids to remove.
        put_own: Keyword topics to add, or to put in place of the one with the same id.
        drop_own: Keyword topic ids to remove.
        clear_subscriptions: Remove every topic first (``/unsubscribe all``).
        settings: ``(field name, value)`` pairs of other fields (``EDITABLE_SETTINGS``).
    """

    follow: frozenset[str] = frozenset()
    unfollow: frozenset[str] = frozenset()
    put_own: tuple[Topic, ...] = ()
    drop_own: frozenset[str] = frozenset()
    clear_subscriptions: bool = False
    settings: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        unknown = {name for name, _value in self.settings} - EDITABLE_SETTINGS
        if unknown:
            raise ValueError(f"not an editable chat setting: {sorted(unknown)}")

    @classmethod
    def setting(cls, **values: object) -> ChatEdit:
        """An edit of plain settings, e.g. ``ChatEdit.setting(timezone="Europe/Minsk")``."""
        return cls(settings=tuple(values.items()))

    def apply(self, chat: Chat) -> Chat:
        """Return ``chat`` with this edit made."""
        topics = frozenset() if self.clear_subscriptions else chat.topics
        own = () if self.clear_subscriptions else chat.own_topics
        topics = (topics | self.follow) - self.unfollow
        own = tuple(t for t in own if t.id not in self.drop_own)
        for topic in self.put_own:
            if any(t.id == topic.id for t in own):
                own = tuple(topic if t.id == topic.id else t for t in own)
            else:
                own = (*own, topic)
        return replace(chat, topics=topics, own_topics=own, **dict(self.settings))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Article:
    """An ingested, summarized article."""

    id: str
    url: str
    title: str
    source: str
    feed_url: str
    language: str
    summary: tuple[str, ...]
    topics: tuple[str, ...]
    published_at: datetime
    ingested_at: datetime
    keys: tuple[str, ...] = ()
    image_url: str | None = None
    cluster_id: str | None = None
    also_sources: tuple[str, ...] = ()
    text: str = ""
    lead: str = ""  # the start of the text: what same-story detection reads after a restart


@dataclass(frozen=True, slots=True)
class Delivery:
    """One article for one chat."""

    article_id: str
    chat: ChatKey
    status: DeliveryStatus
    created_at: datetime
    sent_at: datetime | None = None
    message_id: int | None = None
    attempts: int = 0
    error: str = ""
    # The topic the chat got it by (a shipped topic's id or its own topic's id), recorded at
    # fan-out so any process, at any later time, names the same group; "" in older records.
    topic: str = ""


@dataclass(frozen=True, slots=True)
class Vote:
    """One user's vote on one article: ``value`` is +1 (Yes) or -1 (No)."""

    article_id: str
    user_id: int
    value: int
    at: datetime


@dataclass(frozen=True, slots=True)
class VoteTotals:
    """Yes/No counts of an article."""

    yes: int = 0
    no: int = 0


@dataclass(frozen=True, slots=True)
class FeedState:
    """What newsbot remembers about polling one feed."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_success: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    failures: int = 0
    next_poll_at: datetime | None = None
    failing_since: datetime | None = None
    articles_total: int = 0
    # Article ids (see ``Ingestor._keys_known``) of the last listing's handled items. An item in
    # it is not new even once its article is pruned: low-volume feeds list items for longer
    # than the retention window, and without this they came back as new after a restart.
    listed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a parsed feed, before extraction."""

    guid: str | None
    url: str
    title: str
    summary_html: str
    content_html: str
    published_at: datetime | None
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str
    items: tuple[FeedItem, ...]
    bozo: str = ""
    language: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
