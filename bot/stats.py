"""Figures for /stats: chats, followers, feeds with health, articles, votes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.settings import Settings
from bot.storage.base import Repository


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's health line."""

    name: str
    ok: bool
    last_success: str
    failures: int
    error: str


@dataclass(frozen=True, slots=True)
class Stats:
    """A snapshot of the bot's state."""

    active_by_type: dict[str, int]
    inactive: int
    followers: dict[str, int]
    articles: int
    articles_day: int
    votes: int
    deliveries: dict[str, int]
    feeds: list[FeedHealth]


class StatsService:
    """Computes ``Stats`` from the store."""

    def __init__(self, repo: Repository, settings: Settings, clock: Clock) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock

    async def snapshot(self) -> Stats:
        """Compute the current figures."""
        tally = await self.repo.chat_tally()
        followers = sorted(tally.followers.items(), key=lambda item: (-item[1], item[0]))
        day = await self.repo.articles_count_since(self.clock.now() - timedelta(days=1))
        states = {s.url: s for s in await self.repo.feed_states()}
        feeds = []
        for feed in self.settings.feeds:
            state = states.get(feed.url)
            if state is None:
                feeds.append(FeedHealth(feed.name, True, "never", 0, "not polled yet"))
                continue
            ok_at = state.last_success.strftime("%Y-%m-%d %H:%M") if state.last_success \
                else "never"
            feeds.append(FeedHealth(feed.name, state.failures == 0, ok_at, state.failures,
                                    state.last_error if state.failures else ""))
        return Stats(tally.active_by_type, tally.inactive, dict(followers),
                     await self.repo.article_count(), day, await self.repo.vote_count(),
                     await self.repo.delivery_counts(), feeds)
