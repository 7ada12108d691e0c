"""A send's outcome: what Telegram answered, who sends, and what that does (pure).

* ``Outcome``/``SendResult``: Telegram's answer to one send, as data.
* ``Sender``: what sends a message (``TelegramSender`` in production, a fake in tests).
* ``settle``: the outcome policy. Data in (the result, the deliveries the message carried,
  ``now``), data out (a ``Settlement``); ``DeliveryService`` carries it out against storage
  and its workers. Every answer Telegram can give is checked without a network or database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.models import ChatKey, Delivery, DeliveryStatus, ImageMode
from bot.render import Rendered

# Transient failures (network, 5xx) back off 2, 4, ... 300 s; 20 attempts span about an hour
# of outage before a delivery is given up (with an error log line).
MAX_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 300.0
ERROR_CHARS = 200  # of Telegram's description kept with a dropped delivery


class Outcome(StrEnum):
    """What happened to one send."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"
    FORBIDDEN = "forbidden"
    MIGRATED = "migrated"
    CHAT_GONE = "chat_gone"
    THREAD_GONE = "thread_gone"
    TRANSIENT = "transient"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of a send and what it carries."""

    outcome: Outcome
    message_id: int | None = None
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str = ""


class Sender(Protocol):
    """Sends one message to one chat; answers with the outcome and never raises for it."""

    async def send(self, key: ChatKey, message: Rendered, *, image_url: str | None = None,
                   image_mode: ImageMode = ImageMode.OFF, caption: Rendered | None = None,
                   link_url: str | None = None) -> SendResult:
        """Send ``message`` (as a photo with ``caption`` when the mode and image allow)."""
        ...


class ChatChange(StrEnum):
    """What a send's result tells about the chat itself."""

    NONE = "none"
    MOVED = "moved"              # a group became a supergroup: everything moves to the new id
    UNREACHABLE = "unreachable"  # blocked, kicked, deleted: every thread goes inactive
    THREAD_GONE = "thread_gone"  # one forum thread deleted: that subscription ends


class Tally(StrEnum):
    """Which counter a send's result adds to."""

    SENT = "sent"
    THROTTLED = "throttled"
    RETRIED = "retried"
    FAILED = "failed"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Settlement:
    """What to do after one send.

    Attributes:
        records: Deliveries to write, in their new state (the chat's next message waits
            until they are durable, so the crash window stays one message per chat).
        go_on: Whether the chat's worker may send the chat's next message now.
        chat: What happens to the chat.
        moved_to: The new chat id when ``chat`` is ``MOVED``.
        retry_in: Seconds until the chat's worker runs again, if it must.
        backoff: ``retry_in`` is a back-off: nothing may restart the chat before it ends.
        hold_chat: Seconds the pacer keeps the chat quiet (Telegram's ``retry_after``).
        tally: The counter this adds to.
        log: ``(level, message)`` for the log, or None.
    """

    records: tuple[Delivery, ...] = ()
    go_on: bool = False
    chat: ChatChange = ChatChange.NONE
    moved_to: int | None = None
    retry_in: float | None = None
    backoff: bool = False
    hold_chat: float | None = None
    tally: Tally = Tally.NONE
    log: tuple[str, str] | None = None


def settle(result: SendResult, deliveries: list[Delivery], now: datetime) -> Settlement:
    """Map a send's result to what it does to storage and to the chat.

    Args:
        result: What Telegram (or the network) answered.
        deliveries: The deliveries the message carried (one alert, or a digest's part).
        now: The bot's time, for the "sent" marks.

    Returns:
        The settlement to carry out.
    """
    outcome = result.outcome
    error = result.error[:ERROR_CHARS]
    if outcome is Outcome.SENT:
        return Settlement(
            records=tuple(replace(d, status=DeliveryStatus.SENT, sent_at=now,
                                  message_id=result.message_id, attempts=d.attempts + 1)
                          for d in deliveries),
            go_on=True, tally=Tally.SENT)
    if outcome is Outcome.RETRY_AFTER:
        wait = max(result.retry_after, 1.0)
        return Settlement(retry_in=wait, hold_chat=wait, tally=Tally.THROTTLED,
                          log=("warning", "429 from Telegram"))
    if outcome is Outcome.MIGRATED and result.new_chat_id is not None:
        return Settlement(chat=ChatChange.MOVED, moved_to=result.new_chat_id,
                          log=("info", "group migrated"))
    if outcome in (Outcome.FORBIDDEN, Outcome.CHAT_GONE):
        return Settlement(chat=ChatChange.UNREACHABLE,
                          log=("info", "chat unreachable, marked inactive"))
    if outcome is Outcome.THREAD_GONE:
        return Settlement(chat=ChatChange.THREAD_GONE,
                          log=("info", "forum thread gone, subscription ended"))
    if outcome is Outcome.REJECTED:
        # This message can never be sent (Telegram refused its content): drop it, go on.
        return Settlement(
            records=tuple(replace(d, status=DeliveryStatus.DROPPED, error=error)
                          for d in deliveries),
            go_on=True, tally=Tally.FAILED, log=("error", "Telegram rejected a message; dropped"))
    # Transient: a network error, a 5xx, or a migration without its new id.
    attempts = max((d.attempts for d in deliveries), default=0) + 1
    if attempts >= MAX_ATTEMPTS:
        return Settlement(
            records=tuple(replace(d, status=DeliveryStatus.DROPPED, attempts=attempts,
                                  error=error) for d in deliveries),
            tally=Tally.FAILED, log=("error", "delivery failed after retries; dropped"))
    return Settlement(
        records=tuple(replace(d, status=DeliveryStatus.PENDING, attempts=attempts, error=error)
                      for d in deliveries),
        retry_in=min(2.0 ** attempts, MAX_BACKOFF_SECONDS), backoff=True, tally=Tally.RETRIED)
