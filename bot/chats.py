"""Chat settings and subscriptions: the service behind the chat commands."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.clock import Clock
from bot.errors import CommandError
from bot.langcodes import is_iso639_1
from bot.models import (
    Chat,
    ChatEdit,
    ChatKey,
    ChatType,
    DeliveryMode,
    ImageMode,
    QuietHours,
    Topic,
)
from bot.schedule_math import parse_hhmm
from bot.settings import Settings, canonical_timezone
from bot.storage.base import Repository
from bot.texts import UI_LANGUAGES, ui_language_of
from bot.topics import TopicMatcher, find_topic, tokens

MAX_OWN_TOPICS = 20
MAX_PHRASE = 100
MAX_PHRASES = 10
_QUOTED = re.compile(r"[\"“”«»„]([^\"“”«»„]*)[\"“”«»„]")


def parse_own_topic(args: str) -> tuple[list[str], list[str]]:
    """Split ``"phrase" "phrase" -word -word*`` into phrases and exclusions.

    Raises:
        CommandError: When there is no usable phrase or a phrase is too long.
    """
    phrases = [" ".join(p.split()) for p in _QUOTED.findall(args)]
    rest = _QUOTED.sub(" ", args)
    excludes = [w[1:] for w in rest.split() if w.startswith("-") and len(w) > 1]
    phrases = [p for p in phrases if p]
    if not phrases or any(not tokens(p.rstrip("*")) for p in phrases):
        raise CommandError("own_bad")
    if any(len(p) > MAX_PHRASE for p in phrases + excludes):
        raise CommandError("own_too_long", limit=MAX_PHRASE)
    excludes = [e for e in excludes if tokens(e.rstrip("*"))]
    return phrases[:MAX_PHRASES], excludes[:MAX_PHRASES]


def own_topic_id(phrases: list[str]) -> str:
    """A stable id for a chat's keyword topic, derived from its first phrase."""
    return "kw_" + "_".join(tokens(phrases[0]))[:60]


class ChatService:
    """Reads and changes chats; every change is durable before it returns."""

    def __init__(self, repo: Repository, settings: Settings, clock: Clock) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self.topics = {t.id: t for t in settings.topics}
        # (subscriptions_version it was built at, matcher): another process's change shows too
        self._own_matcher: tuple[int, TopicMatcher] | None = None

    # -------------------------------------------------------------- lookup
    async def get(self, key: ChatKey) -> Chat | None:
        """Return a stored chat."""
        return await self.repo.get_chat(key)

    async def ensure(self, key: ChatKey, chat_type: ChatType, title: str = "",
               language_code: str | None = None) -> Chat:
        """Return the chat, creating it with the configured defaults, and reactivate it."""
        chat = await self.repo.get_chat(key)
        if chat is None:
            d = self.settings.delivery
            chat = Chat(key=key, type=chat_type, title=title[:128], mode=d.mode,
                        digest_time=d.digest_time, timezone=d.timezone,
                        ui_language=ui_language_of(language_code),
                        created_at=self.clock.now(), digest_since=self.clock.now())
            await self.repo.put_chat(chat)
        elif not chat.active:
            chat = await self._edit(chat, ChatEdit.setting(active=True))
            self.invalidate()  # its keyword topics count again
        return chat

    async def _edit(self, chat: Chat, edit: ChatEdit) -> Chat:
        """Make one change to the chat as stored now (not to ``chat``, which may be stale)."""
        changed = await self.repo.edit_chat(chat.key, edit)
        if changed is None:  # gone meanwhile (a migration): the change makes it again
            changed = edit.apply(chat)
            await self.repo.put_chat(changed)
        return changed

    async def own_matcher(self) -> TopicMatcher:
        """A matcher over every chat's keyword topics, owners ``<chat key>|<topic id>``."""
        version = await self.repo.subscriptions_version()
        if self._own_matcher is None or self._own_matcher[0] != version:
            matcher = TopicMatcher()
            for chat in await self.repo.chats_with_own_topics():  # active ones only
                for topic in chat.own_topics:
                    matcher.add(topic, owner=f"{chat.key.encode()}|{topic.id}")
            self._own_matcher = (version, matcher)
        return self._own_matcher[1]

    async def own_topic_hits(self, title: str, body: str) -> list[tuple[ChatKey, str]]:
        """Return ``(chat, own topic id)`` for each chat's first keyword topic in a text."""
        hits: dict[ChatKey, str] = {}
        for owner in (await self.own_matcher()).match(title, body):
            key_text, _, topic_id = owner.partition("|")
            hits.setdefault(ChatKey.decode(key_text), topic_id)
        return list(hits.items())

    def invalidate(self) -> None:
        """Drop the keyword matcher after keyword topics or chat activity changed."""
        self._own_matcher = None

    # -------------------------------------------------------------- topics
    def find(self, query: str) -> Topic | None:
        """Find a shipped topic by id, name or alias."""
        return find_topic(self.topics.values(), query)

    async def follow(self, chat: Chat, query: str) -> tuple[Chat, Topic, bool]:
        """Subscribe to a shipped topic. Returns (chat, topic, newly followed)."""
        topic = self.find(query)
        if topic is None:
            raise CommandError("unknown_topic", query=query[:100])
        if topic.id in chat.topics:
            return chat, topic, False
        return await self._edit(chat, ChatEdit(follow=frozenset({topic.id}))), topic, True

    async def unfollow(self, chat: Chat, query: str) -> tuple[Chat, str, bool]:
        """Unsubscribe from a shipped or keyword topic. Returns (chat, its name, was followed)."""
        if _QUOTED.search(query):
            phrases = [" ".join(p.split()) for p in _QUOTED.findall(query) if p.strip()]
            wanted = " ".join(tokens(phrases[0])) if phrases else ""
            for own in chat.own_topics:
                if any(" ".join(tokens(a)) == wanted for a in own.aliases):
                    return await self._drop_own(chat, own), own.name, True
            return chat, phrases[0] if phrases else query, False
        topic = self.find(query)
        if topic is None:
            for own in chat.own_topics:
                if " ".join(tokens(own.name)) == " ".join(tokens(query)):
                    return await self._drop_own(chat, own), own.name, True
            raise CommandError("unknown_topic", query=query[:100])
        if topic.id not in chat.topics:
            return chat, topic.name, False
        return (await self._edit(chat, ChatEdit(unfollow=frozenset({topic.id}))), topic.name,
                True)

    async def _drop_own(self, chat: Chat, own: Topic) -> Chat:
        self.invalidate()  # the keyword matcher must forget it
        return await self._edit(chat, ChatEdit(drop_own=frozenset({own.id})))

    async def unfollow_all(self, chat: Chat) -> tuple[Chat, int]:
        """Drop every subscription. Returns the chat and how many were dropped."""
        count = len(chat.topics) + len(chat.own_topics)
        self.invalidate()
        return await self._edit(chat, ChatEdit(clear_subscriptions=True)), count

    async def add_own_topic(self, chat: Chat, args: str) -> tuple[Chat, Topic, bool]:
        """Create a keyword topic from ``"phrase" -word`` arguments."""
        phrases, excludes = parse_own_topic(args)
        topic = Topic(own_topic_id(phrases), " / ".join(phrases), tuple(phrases),
                      tuple(excludes))
        for own in chat.own_topics:
            if own.id == topic.id:
                if own == topic:
                    return chat, own, False
                self.invalidate()
                return await self._edit(chat, ChatEdit(put_own=(topic,))), topic, True
        if len(chat.own_topics) >= MAX_OWN_TOPICS:
            raise CommandError("own_limit", limit=MAX_OWN_TOPICS)
        self.invalidate()
        return await self._edit(chat, ChatEdit(put_own=(topic,))), topic, True

    # -------------------------------------------------------------- settings
    async def set_digest(self, chat: Chat, arg: str) -> Chat:
        """``HH:MM`` switches to a daily digest; ``off`` back to instant alerts."""
        if arg.lower() == "off":
            return await self._edit(chat, ChatEdit.setting(mode=DeliveryMode.INSTANT))
        try:
            at = parse_hhmm(arg)
        except ValueError:
            raise CommandError("digest_bad") from None
        return await self._edit(chat, ChatEdit.setting(mode=DeliveryMode.DIGEST,
                                                 digest_time=at.strftime("%H:%M"),
                                                 digest_since=self.clock.now()))

    async def set_timezone(self, chat: Chat, name: str) -> Chat:
        """Set the chat's IANA time zone; an empty name asks for one."""
        if not name:
            raise CommandError("timezone_usage", tz=chat.timezone)
        zone = canonical_timezone(name)
        if zone is None:
            raise CommandError("timezone_bad", tz=name[:64])
        return await self._edit(chat, ChatEdit.setting(timezone=zone,
                                                       digest_since=self.clock.now()))

    async def set_languages(self, chat: Chat, codes: list[str]) -> Chat:
        """Restrict delivery to ISO 639-1 languages (``any`` lifts the filter)."""
        if not codes or [c.lower() for c in codes] == ["any"]:
            return await self._edit(chat, ChatEdit.setting(languages=()))
        langs: list[str] = []
        for code in codes:
            low = code.lower().strip(",")
            if not is_iso639_1(low):
                raise CommandError("lang_bad", code=code[:20])
            if low not in langs:
                langs.append(low)
        return await self._edit(chat, ChatEdit.setting(languages=tuple(langs[:20])))

    async def set_quiet(self, chat: Chat, arg: str) -> Chat:
        """``HH:MM-HH:MM`` holds instant alerts in that local window; ``off`` removes it."""
        if arg.lower() == "off":
            return await self._edit(chat, ChatEdit.setting(quiet=None))
        start, sep, end = arg.partition("-")
        try:
            if not sep:
                raise ValueError(arg)
            a, b = parse_hhmm(start), parse_hhmm(end)
        except ValueError:
            raise CommandError("quiet_bad") from None
        if a == b:
            raise CommandError("quiet_bad")
        quiet = QuietHours(a.strftime("%H:%M"), b.strftime("%H:%M"))
        return await self._edit(chat, ChatEdit.setting(quiet=quiet))

    async def set_ui_language(self, chat: Chat, code: str) -> Chat:
        """Set the bot's interface language for the chat."""
        low = code.lower()
        if low not in UI_LANGUAGES:
            raise CommandError("language_bad")
        return await self._edit(chat, ChatEdit.setting(ui_language=low))

    async def set_images(self, chat: Chat, mode: str) -> Chat:
        """Set how lead images are shown."""
        try:
            value = ImageMode(mode.lower())
        except ValueError:
            raise CommandError("images_bad") from None
        return await self._edit(chat, ChatEdit.setting(images=value))

    async def deactivate(self, key: ChatKey) -> None:
        """Mark a chat inactive (it blocked the bot, was deleted, or the thread is gone)."""
        chat = await self.repo.get_chat(key)
        if chat is not None and chat.active:
            await self.repo.edit_chat(key, ChatEdit.setting(active=False))
            self.invalidate()

    def recent_window(self) -> timedelta:
        """How far back a new follower gets recent articles."""
        return timedelta(hours=24)
