"""The error handler: log first (with the update id, never the token), then apologise."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot.texts import text, ui_language_of

log = logging.getLogger("newsbot.errors")
# Telegram takes a press's answer for a few seconds only; a press handed to the next poller
# after a killed one (bot/aiohttp_request.py, UpdatesRequest) is often past that.
_QUERY_EXPIRED = "query is too old"


def _lang(update: Update) -> str | None:
    user = update.effective_user
    return ui_language_of(user.language_code) if user else None


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log an unexpected exception; tell the user something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, BadRequest):  # PTB's BadRequest is a NetworkError
        if _QUERY_EXPIRED in context.error.message.lower():
            log.info("press answered too late: Telegram no longer takes its answer",
                     extra={"update_id": update_id})
        else:
            log.warning("the Bot API refused a request while handling an update",
                        extra={"update_id": update_id, "error": context.error.message})
        return
    # A garbled answer from the Bot API raises plain TelegramError ("Invalid server response").
    if isinstance(context.error, NetworkError) or type(context.error) is TelegramError:
        # The Bot API was unreachable while answering: expected in outages, no traceback.
        log.warning("Bot API unreachable while handling an update",
                    extra={"update_id": update_id, "error": str(context.error)})
        return
    log.error("unhandled error", exc_info=context.error, extra={"update_id": update_id})
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text("error", _lang(update)))
        elif update.effective_chat is not None and update.effective_message is not None:
            message = update.effective_message
            await context.bot.send_message(
                update.effective_chat.id, text("error", _lang(update)),
                message_thread_id=message.message_thread_id if message.is_topic_message
                else None)
    except TelegramError:
        log.warning("could not send the apology", extra={"update_id": update_id})
