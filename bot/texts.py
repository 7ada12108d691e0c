"""Every user-facing string, keyed by id. ``text(key, lang, **params)`` fills placeholders.

Placeholders are filled with already-escaped HTML where a message embeds user or feed text;
callers pass raw values and ``text`` escapes them.
"""

from __future__ import annotations

import html

DEFAULT_LANGUAGE = "en"
UI_LANGUAGES = ("en", "ru", "be", "uk", "lt", "pl")

CATALOGUE: dict[str, dict[str, str]] = {
    "help": {"en": (
        "<b>newsbot</b> sends you news briefings on the topics you follow: a short summary "
        "of each article with 👍 Yes / 👎 No buttons, so you can say whether it was worth it.\n\n"
        "<b>Topics</b>: {topics}\n\n"
        "<b>Follow</b>\n"
        "/follow belarus: follow a topic (id, name or any alias, e.g. /follow Беларусь)\n"
        "/follow: pick topics from buttons\n"
        "/follow \"Ostrovets nuclear plant\" -sport*: your own keyword topic "
        "(quoted phrases; -word excludes; * matches any ending)\n"
        "/unsubscribe belarus, /unsubscribe \"phrase\" or /unsubscribe all\n"
        "/topics: all topics with follow buttons\n"
        "/list: what this chat follows and its settings\n\n"
        "<b>How and when</b>\n"
        "Instant mode sends each article as it arrives. Digest mode collects them and sends "
        "one briefing a day.\n"
        "/digest 08:00: daily digest at 08:00 in this chat's time zone\n"
        "/digest off: back to instant alerts\n"
        "/digest: send the briefing of undelivered articles now\n"
        "/timezone Europe/Vilnius: this chat's time zone (IANA name)\n"
        "/quiet 22:00-07:00: hold instant alerts at night (/quiet off)\n"
        "/lang en lt: only articles in these languages (/lang any)\n"
        "/images preview|photo|off: how lead images are shown\n"
        "/language ru: the bot's own language (en, ru, be, uk, lt, pl)\n\n"
        "In groups only admins can change settings; in forum groups each thread has its own."
    )},
    "topics_none": {"en": "No topics are configured yet."},
    "topics_header": {"en": "<b>Topics</b>: tap to follow ✅ or unfollow."},
    "follow_pick": {"en": "Which topic should this chat follow? Tap one below."},
    "followed": {"en": "✅ Following <b>{topic}</b>. New articles will arrive {how}."},
    "already_following": {"en": "This chat already follows <b>{topic}</b>."},
    "how_instant": {"en": "as soon as they are published"},
    "how_digest": {"en": "in the daily digest at {time} ({tz})"},
    "unknown_topic": {"en": "I don't know the topic <b>{query}</b>. Available topics: {topics}."},
    "unfollowed": {"en": "Unsubscribed from <b>{topic}</b>."},
    "not_following": {"en": "This chat doesn't follow <b>{topic}</b>."},
    "unfollowed_all": {"en": "Unsubscribed from all topics ({count}). Use /follow to start again."},
    "unsubscribe_usage": {"en": "Usage: /unsubscribe TOPIC, /unsubscribe \"phrase\" or "
                                "/unsubscribe all. This chat follows: {topics}."},
    "own_created": {"en": "✅ Following your keyword topic <b>{topic}</b>{excluding}."},
    "own_excluding": {"en": ", excluding {words}"},
    "own_exists": {"en": "This chat already follows <b>{topic}</b>."},
    "own_limit": {"en": "This chat already has {limit} keyword topics, the maximum. Remove one "
                        "with /unsubscribe \"phrase\"."},
    "own_too_long": {"en": "A phrase can be at most {limit} characters."},
    "own_bad": {"en": "Put the phrase in quotes, e.g. /follow \"Ostrovets nuclear plant\" "
                      "-sport*. A phrase needs at least one letter or digit."},
    "list": {"en": (
        "<b>This chat</b>\n"
        "Topics: {topics}\n"
        "Keyword topics: {own}\n"
        "Delivery: {mode}\n"
        "Time zone: {tz}\n"
        "Languages: {langs}\n"
        "Quiet hours: {quiet}\n"
        "Images: {images}\n"
        "Bot language: {ui}"
    )},
    "none": {"en": "none"},
    "any": {"en": "any"},
    "off": {"en": "off"},
    "mode_instant": {"en": "instant alerts"},
    "mode_digest": {"en": "daily digest at {time}"},
    "digest_set": {"en": "🗞 Daily digest at <b>{time}</b> ({tz}). Change the zone with "
                         "/timezone."},
    "digest_off": {"en": "Digest off: articles arrive as instant alerts again."},
    "digest_bad": {"en": "Use /digest HH:MM (24-hour, e.g. /digest 08:00), /digest off, or "
                         "/digest alone to get the briefing now."},
    "digest_empty": {"en": "Nothing new since your last briefing."},
    "digest_header": {"en": "Your briefing: {count} articles"},
    "timezone_set": {"en": "🕒 Time zone set to <b>{tz}</b> (local time now {local})."},
    "timezone_bad": {"en": "<b>{tz}</b> is not a time zone I know. Use an IANA name such as "
                           "Europe/Vilnius, Europe/Minsk, Europe/Warsaw or UTC."},
    "timezone_usage": {"en": "Usage: /timezone AREA/CITY, e.g. /timezone Europe/Vilnius. "
                             "Current: {tz}."},
    "lang_set": {"en": "Only articles in: <b>{langs}</b>."},
    "lang_any": {"en": "Articles in any language."},
    "lang_bad": {"en": "<b>{code}</b> is not an ISO 639-1 language code. Example: /lang en lt "
                       "(or /lang any)."},
    "quiet_set": {"en": "🌙 Quiet hours {start}-{end} ({tz}): instant alerts wait until they end."},
    "quiet_off": {"en": "Quiet hours off."},
    "quiet_bad": {"en": "Use /quiet HH:MM-HH:MM, e.g. /quiet 22:00-07:00, or /quiet off."},
    "language_set": {"en": "Bot language: <b>{code}</b>."},
    "language_bad": {"en": "Supported bot languages: en, ru, be, uk, lt, pl. Example: "
                           "/language ru."},
    "images_set": {"en": "Lead images: <b>{mode}</b>."},
    "images_bad": {"en": "Use /images preview, /images photo or /images off."},
    "not_admin": {"en": "Only group admins can change this chat's news settings."},
    "admins_only": {"en": "This command is for the bot's administrators."},
    "stats": {"en": (
        "<b>Stats</b>\n"
        "Chats: {chats} active ({types}), {inactive} inactive\n"
        "Followers: {followers}\n"
        "Articles stored: {articles} (last 24 h: {articles_day})\n"
        "Votes: {votes}\n"
        "Deliveries: {deliveries}\n"
        "<b>Feeds</b>\n{feeds}"
    )},
    "stats_feed": {"en": "{status} {name}: ok {ok}, {failures} failures{error}"},
    "vote_counted": {"en": "Thanks, your vote is counted."},
    "vote_moved": {"en": "Vote changed."},
    "vote_same": {"en": "You already voted that way."},
    "vote_stale": {"en": "This button has expired."},
    "vote_failed": {"en": "Sorry, your vote could not be saved. Please try again."},
    "busy": {"en": "Too many requests; please slow down a little."},
    "error": {"en": "Sorry, something went wrong. Please try again later."},
    "source": {"en": "Source"},
    "also_in": {"en": "also in"},
    "topic_label": {"en": "Topic"},
    "keyword_topic": {"en": "Your keywords"},
}


def text(key: str, lang: str | None = None, **params: object) -> str:
    """Return the message ``key`` in ``lang`` (English when missing), placeholders escaped.

    Args:
        key: Catalogue id.
        lang: UI language code.
        **params: Placeholder values; strings are HTML-escaped. Pass ``Markup`` to keep HTML.
    """
    entry = CATALOGUE[key]
    template = entry.get(lang or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    safe = {k: (v if isinstance(v, Markup) else html.escape(str(v), quote=False))
            for k, v in params.items()}
    return template.format(**safe)


class Markup(str):
    """A string that is already valid Telegram HTML."""

    __slots__ = ()
