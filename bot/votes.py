"""Per-article Yes/No votes: one vote per user per article, movable, durable before the toast."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.clock import Clock
from bot.models import Vote, VoteTotals
from bot.render import parse_vote
from bot.storage.base import Repository


class VoteOutcome(StrEnum):
    """What a button press did."""

    COUNTED = "counted"
    MOVED = "moved"
    SAME = "same"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class VoteResult:
    """The outcome of a press and the article's totals after it."""

    outcome: VoteOutcome
    article_id: str = ""
    totals: VoteTotals = field(default_factory=VoteTotals)


class VoteService:
    """Applies button presses to the store."""

    def __init__(self, repo: Repository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    async def press(self, data: str, user_id: int) -> VoteResult:
        """Apply one press of a vote button.

        Args:
            data: The callback data of the pressed button.
            user_id: The Telegram user who pressed it.

        Returns:
            ``STALE`` for forged, malformed or unknown-article data (nothing changes).
        """
        parsed = parse_vote(data)
        if parsed is None:
            return VoteResult(VoteOutcome.STALE)
        article_id, value = parsed
        if await self.repo.get_article(article_id) is None:
            return VoteResult(VoteOutcome.STALE, article_id)
        before = await self.repo.get_vote(article_id, user_id)
        if before == value:
            return VoteResult(VoteOutcome.SAME, article_id, await self.repo.totals(article_id))
        totals = await self.repo.put_vote(Vote(article_id, user_id, value, self.clock.now()))
        outcome = VoteOutcome.MOVED if before else VoteOutcome.COUNTED
        return VoteResult(outcome, article_id, totals)

    async def totals(self, article_id: str) -> VoteTotals:
        """The article's stored totals now."""
        return await self.repo.totals(article_id)
