"""The services the handlers call, built once by ``bot.app`` and kept in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.chats import ChatService
from bot.clock import Clock
from bot.delivery.edits import LatestEdits
from bot.delivery.outbox import ReplyOutbox
from bot.delivery.queue import DeliveryService
from bot.settings import Settings
from bot.stats import StatsService
from bot.storage.base import Repository
from bot.votes import VoteService

SERVICES_KEY = "newsbot.services"


@dataclass(slots=True)
class Services:
    """Everything a handler may call."""

    settings: Settings
    clock: Clock
    repo: Repository
    chats: ChatService
    delivery: DeliveryService
    votes: VoteService
    stats: StatsService
    outbox: ReplyOutbox
    edits: LatestEdits = field(default_factory=LatestEdits)
