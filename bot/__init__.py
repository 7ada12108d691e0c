"""newsbot: Telegram news briefings with summaries, votes and digests."""

__version__ = "0.1.0"
