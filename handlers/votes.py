"""Yes/No vote buttons: count durably, answer the query, relabel the pressed message."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.delivery.sender import keyboard
from bot.errors import StorageError
from bot.render import Button, replace_vote_row
from bot.texts import text
from bot.votes import VoteOutcome
from handlers.replies import services, ui_language

log = logging.getLogger(__name__)
MAX_RELABELS = 5  # edits of one message per press, while other presses keep moving totals
_TOASTS = {VoteOutcome.COUNTED: "vote_counted", VoteOutcome.MOVED: "vote_moved",
           VoteOutcome.SAME: "vote_same", VoteOutcome.STALE: "vote_stale"}


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Apply a press; the toast says "counted" only after the vote is on disk."""
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    s = services(context)
    lang = await ui_language(update, context)
    try:
        result = await s.votes.press(query.data or "", query.from_user.id)
    except StorageError:
        log.exception("vote not saved")
        await query.answer(text("vote_failed", lang), show_alert=True)
        return
    await query.answer(text(_TOASTS[result.outcome], lang))
    if result.outcome not in (VoteOutcome.COUNTED, VoteOutcome.MOVED):
        return
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if markup is None or message is None:
        return
    rows: list[list[Button]] = [[(b.text, str(b.callback_data or "")) for b in row]
                                for row in markup.inline_keyboard]
    article_id = result.article_id
    chat_id, message_id = message.chat.id, message.message_id
    shown: list[list[list[Button]]] = [rows]  # what the message shows, as far as we know

    async def relabel() -> None:
        # Reads the stored totals when the edit is made: with edits coalesced per message
        # (bot/delivery/edits.py) the last edit of this process carries the latest totals.
        # Another process may edit the same message with totals it read earlier, and its
        # edit may land after ours; so after each edit the totals are read again and the
        # edit repeated until they stand still. Whichever process edits last then re-reads
        # totals that include every vote stored before its edit returned.
        for _ in range(MAX_RELABELS):
            new_rows = replace_vote_row(shown[0], article_id, await s.votes.totals(article_id))
            if new_rows == shown[0]:
                return
            try:
                await context.bot.edit_message_reply_markup(chat_id, message_id,
                                                            reply_markup=keyboard(new_rows))
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    log.info("vote buttons not updated", extra={"error": exc.message})
                    return
            except TelegramError as exc:
                log.info("vote buttons not updated", extra={"error": str(exc)})
                return
            shown[0] = new_rows

    s.edits.request((chat_id, message_id), relabel)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other callback data: a short notice, nothing changes."""
    query = update.callback_query
    if query is not None:
        await query.answer(text("vote_stale", await ui_language(update, context)))
