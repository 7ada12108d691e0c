"""newsbot: Telegram news briefings with summaries, votes and digests."""

import os

__version__ = "0.1.0"

# PTB 22 warns on every RetryAfter unless it may hand out ``retry_after`` as a timedelta,
# which is what our sender expects. Set before python-telegram-bot is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "1")
