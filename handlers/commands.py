"""Chat commands. Each handler parses the update, calls one service and replies."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.chats import ChatService
from bot.errors import CommandError
from bot.models import Chat, DeliveryMode
from bot.texts import Markup, text
from handlers.permissions import may_change
from handlers.replies import (
    chat_key,
    chat_type,
    command_args,
    reply,
    services,
    ui_language,
)

TOPIC_DATA_PREFIX = "t1|"


def topic_keyboard(chat: Chat | None, context: ContextTypes.DEFAULT_TYPE
                   ) -> InlineKeyboardMarkup:
    """One button per topic: ✅ when followed; pressing toggles."""
    s = services(context)
    rows = []
    for topic in s.settings.topics:
        followed = chat is not None and topic.id in chat.topics
        label = f"{'✅' if followed else '➕'} {topic.name}"
        rows.append([InlineKeyboardButton(label, callback_data=f"{TOPIC_DATA_PREFIX}{topic.id}")])
    return InlineKeyboardMarkup(rows)


def _topic_names(context: ContextTypes.DEFAULT_TYPE) -> str:
    names = [f"{t.name} (<code>{html.escape(t.id)}</code>)"
             for t in services(context).settings.topics]
    return ", ".join(names) or "—"


async def _current_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    key, kind = chat_key(update), chat_type(update)
    if key is None or kind is None:
        return None
    tg_chat = update.effective_chat
    user = update.effective_user
    title = (tg_chat.title or tg_chat.username or "") if tg_chat else ""
    return await services(context).chats.ensure(key, kind, title,
                                          user.language_code if user else None)


async def _changeable_chat(update: Update,
                           context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    chat = await _current_chat(update, context)
    if chat is None:
        return None
    if not await may_change(update, context):
        await reply(update, context, text("not_admin", chat.ui_language))
        return None
    return chat


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start and /help: what the bot does, the commands, the topics."""
    chat = await _current_chat(update, context)
    if chat is None:
        return
    await reply(update, context, text("help", chat.ui_language,
                                      topics=Markup(_topic_names(context))))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command we don't have, in a private chat: point to /help instead of staying silent."""
    chat = await _current_chat(update, context)
    message = update.effective_message
    if chat is None or message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0].split("@", 1)[0]
    await reply(update, context, text("unknown_command", chat.ui_language,
                                      command=command[:40]))


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topics: the topics with follow/unfollow buttons."""
    chat = await _current_chat(update, context)
    if chat is None:
        return
    if not services(context).settings.topics:
        await reply(update, context, text("topics_none", chat.ui_language))
        return
    await reply(update, context, text("topics_header", chat.ui_language),
                topic_keyboard(chat, context))


def _how(chat: Chat) -> str:
    if chat.mode is DeliveryMode.DIGEST:
        return text("how_digest", chat.ui_language, time=chat.digest_time, tz=chat.timezone)
    return text("how_instant", chat.ui_language)


async def follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow TOPIC, /follow "phrase" -word, or /follow alone for a keyboard."""
    chat = await _changeable_chat(update, context)
    if chat is None:
        return
    s = services(context)
    args = command_args(update)
    lang = chat.ui_language
    try:
        if not args:
            await reply(update, context, text("follow_pick", lang), topic_keyboard(chat, context))
            return
        if any(q in args for q in "\"“”«»„"):
            chat, own, created = await s.chats.add_own_topic(chat, args)
            excluding = text("own_excluding", lang, words=", ".join(own.exclude)) \
                if own.exclude else ""
            key = "own_created" if created else "own_exists"
            await reply(update, context, text(key, lang, topic=own.name,
                                              excluding=Markup(excluding)))
            return
        chat, topic, added = await s.chats.follow(chat, args)
    except CommandError as exc:
        await _explain(update, context, chat, exc)
        return
    if not added:
        await reply(update, context, text("already_following", lang, topic=topic.name))
        return
    await reply(update, context, text("followed", lang, topic=topic.name,
                                      how=Markup(_how(chat))))
    await s.delivery.backfill(chat, topic.id)


async def _explain(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat,
                   exc: CommandError) -> None:
    params = dict(exc.params)
    if exc.key == "unknown_topic":
        params["topics"] = Markup(_topic_names(context))
    await reply(update, context, text(exc.key, chat.ui_language, **params))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe TOPIC | "phrase" | all (alias /unfollow)."""
    chat = await _changeable_chat(update, context)
    if chat is None:
        return
    s = services(context)
    args = command_args(update)
    lang = chat.ui_language
    if not args:
        names = [s.chats.topics[t].name for t in sorted(chat.topics) if t in s.chats.topics]
        names += [f"\"{t.name}\"" for t in chat.own_topics]
        await reply(update, context, text("unsubscribe_usage", lang,
                                          topics=", ".join(names) or text("none", lang)))
        return
    if args.lower() == "all":
        chat, count = await s.chats.unfollow_all(chat)
        await reply(update, context, text("unfollowed_all", lang, count=count))
        return
    try:
        chat, name, was = await s.chats.unfollow(chat, args)
    except CommandError as exc:
        await _explain(update, context, chat, exc)
        return
    await reply(update, context, text("unfollowed" if was else "not_following", lang,
                                      topic=name))


async def list_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/list: the chat's topics and settings."""
    chat = await _current_chat(update, context)
    if chat is None:
        return
    s = services(context)
    lang = chat.ui_language
    names = [s.chats.topics[t].name for t in sorted(chat.topics) if t in s.chats.topics]
    own = []
    for t in chat.own_topics:
        entry = " / ".join(f"\"{a}\"" for a in t.aliases)
        if t.exclude:
            entry += " " + " ".join(f"-{w}" for w in t.exclude)
        own.append(entry)
    mode = text("mode_digest", lang, time=chat.digest_time) \
        if chat.mode is DeliveryMode.DIGEST else text("mode_instant", lang)
    quiet = f"{chat.quiet.start}-{chat.quiet.end}" if chat.quiet else text("off", lang)
    await reply(update, context, text(
        "list", lang, topics=", ".join(names) or text("none", lang),
        own="; ".join(own) or text("none", lang), mode=mode, tz=chat.timezone,
        langs=" ".join(chat.languages) or text("any", lang), quiet=quiet,
        images=chat.images.value, ui=chat.ui_language or "en"))


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest (send now), /digest HH:MM, /digest off."""
    chat = await _changeable_chat(update, context)
    if chat is None:
        return
    s = services(context)
    args = command_args(update)
    lang = chat.ui_language
    if not args:
        async def when_sent(count: int) -> None:
            if not count:
                await reply(update, context, text("digest_empty", lang))

        # In the background: the digest waits for the chat's send slots, and this update's
        # handler slot must not wait with it. A second /digest while one runs is a no-op.
        s.delivery.send_digest_soon(chat.key, when_sent)
        return
    try:
        chat = await s.chats.set_digest(chat, args.split()[0])
    except CommandError as exc:
        await _explain(update, context, chat, exc)
        return
    if chat.mode is DeliveryMode.DIGEST:
        await reply(update, context, text("digest_set", lang, time=chat.digest_time,
                                          tz=chat.timezone))
    else:
        await reply(update, context, text("digest_off", lang))
        await s.delivery.kick()


async def _change(update: Update, context: ContextTypes.DEFAULT_TYPE,
                  change: Callable[[ChatService, Chat, str], Awaitable[Chat]]
                  ) -> Chat | None:
    """Check who may change the chat, apply one settings change, explain a bad argument."""
    chat = await _changeable_chat(update, context)
    if chat is None:
        return None
    try:
        return await change(services(context).chats, chat, command_args(update))
    except CommandError as exc:
        await _explain(update, context, chat, exc)
        return None


def _first(args: str) -> str:
    return args.split(maxsplit=1)[0] if args else ""


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timezone AREA/CITY."""
    chat = await _change(update, context, lambda s, c, a: s.set_timezone(c, a))
    if chat is None:
        return
    local = services(context).clock.now().astimezone(ZoneInfo(chat.timezone)).strftime("%H:%M")
    await reply(update, context, text("timezone_set", chat.ui_language, tz=chat.timezone,
                                      local=local))


async def lang_filter(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang CODES or /lang any."""
    chat = await _change(update, context,
                         lambda s, c, a: s.set_languages(c, a.replace(",", " ").split()))
    if chat is None:
        return
    if chat.languages:
        await reply(update, context, text("lang_set", chat.ui_language,
                                          langs=" ".join(chat.languages)))
    else:
        await reply(update, context, text("lang_any", chat.ui_language))


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quiet HH:MM-HH:MM or /quiet off."""
    chat = await _change(update, context, lambda s, c, a: s.set_quiet(c, a.replace(" ", "")))
    if chat is None:
        return
    if chat.quiet:
        await reply(update, context, text("quiet_set", chat.ui_language, start=chat.quiet.start,
                                          end=chat.quiet.end, tz=chat.timezone))
    else:
        await reply(update, context, text("quiet_off", chat.ui_language))
        await services(context).delivery.kick()


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language CODE: the bot's interface language for the chat."""
    chat = await _change(update, context, lambda s, c, a: s.set_ui_language(c, _first(a)))
    if chat is not None:
        await reply(update, context, text("language_set", chat.ui_language,
                                          code=chat.ui_language or "en"))


async def images(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/images preview|photo|off."""
    chat = await _change(update, context, lambda s, c, a: s.set_images(c, _first(a)))
    if chat is not None:
        await reply(update, context, text("images_set", chat.ui_language,
                                          mode=chat.images.value))


async def topic_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A follow/unfollow button of /topics or /follow: toggle and update the keyboard."""
    query = update.callback_query
    if query is None:
        return
    s = services(context)
    topic_id = (query.data or "")[len(TOPIC_DATA_PREFIX):]
    topic = s.chats.topics.get(topic_id)
    if topic is None:
        await query.answer(text("vote_stale", await ui_language(update, context)))
        return
    chat = await _current_chat(update, context)
    if chat is None:
        await query.answer(text("vote_stale"))
        return
    if not await may_change(update, context):
        await query.answer(text("not_admin", chat.ui_language), show_alert=True)
        return
    if topic.id in chat.topics:
        chat, _name, _was = await s.chats.unfollow(chat, topic.id)
        await query.answer(html.unescape(text("unfollowed", chat.ui_language, topic=topic.name)
                                         .replace("<b>", "").replace("</b>", ""))[:200])
    else:
        chat, _t, _added = await s.chats.follow(chat, topic.id)
        await query.answer(f"✅ {topic.name}"[:200])
        await s.delivery.backfill(chat, topic.id)
    if query.message is not None:
        await query.edit_message_reply_markup(topic_keyboard(chat, context))

