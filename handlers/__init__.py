"""All handler registration, in one ordered list."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import admin, commands, membership, votes
from handlers.errors import on_error
from handlers.throttle import throttle

# New messages and channel posts only: a command in an *edited* message is ignored, as
# Telegram users expect (editing an old /follow must not re-run it).
_COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register every handler on ``app``.

    Order matters: group -1 runs first for every update (throttling may stop it there);
    in group 0 the first matching handler wins.
    """
    # 1. Throttle floods before anything else touches storage.
    app.add_handler(TypeHandler(Update, throttle), group=-1)
    # 2. Commands (with /cmd@BotName handled by CommandHandler itself).
    for names, callback in (
        (("start", "help"), commands.start),
        (("topics",), commands.topics),
        (("follow",), commands.follow),
        (("unsubscribe", "unfollow"), commands.unsubscribe),
        (("list",), commands.list_settings),
        (("digest",), commands.digest),
        (("timezone",), commands.timezone),
        (("lang",), commands.lang_filter),
        (("quiet",), commands.quiet),
        (("language",), commands.language),
        (("images",), commands.images),
        (("stats",), admin.stats),
    ):
        app.add_handler(CommandHandler(list(names), callback, filters=_COMMAND_UPDATES))
    #    Any other command, in a private chat only: groups have other bots' commands too.
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE
                                   & filters.UpdateType.MESSAGE, commands.unknown_command))
    # 3. Buttons: votes, then topic toggles, then anything else (stale or forged).
    app.add_handler(CallbackQueryHandler(votes.vote, pattern=r"^v\d+\|"))
    app.add_handler(CallbackQueryHandler(commands.topic_button, pattern=r"^t1[|]"))
    app.add_handler(CallbackQueryHandler(votes.unknown_button))
    # 4. Membership: blocked or let back in, groups upgraded to supergroups, and any
    #    message from a chat that had blocked the bot (group 1, so commands still run).
    app.add_handler(ChatMemberHandler(membership.my_membership,
                                      ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.migrated))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED,
                                   membership.any_private_message), group=1)
    # 5. Errors: logged with the update id, and the user gets a short apology.
    app.add_error_handler(on_error)
