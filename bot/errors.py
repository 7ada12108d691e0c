"""The one error hierarchy of newsbot.

Third-party exceptions are wrapped at the boundary where they occur, so callers only ever
catch ``NewsbotError`` subclasses.
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base class of every error newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """The configuration is invalid.

    Attributes:
        problems: One human-readable line per problem: ``file: key: what is wrong``.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StorageError(NewsbotError):
    """The data folder can't be read or written."""


class StorageLockedError(StorageError):
    """Another process holds the data folder."""


class StorageCorruptError(StorageError):
    """A data file can't be parsed or fails its schema checks."""


class NotLeadingError(NewsbotError):
    """This process no longer holds the leader lease, so it must not send deliveries."""


class FeedError(NewsbotError):
    """A feed could not be fetched or parsed."""


class PageRetryError(NewsbotError):
    """A teaser's article page failed for now (timeout, 5xx): its item waits for the next poll.

    Not a ``FeedError``: the feed itself is fine, and the poll's other items go on.
    """


class FetchBlockedError(FeedError):
    """A URL was refused by the fetch policy (scheme, address, size, redirects)."""


class DeliveryError(NewsbotError):
    """A message could not be delivered."""


class CommandError(NewsbotError):
    """A chat command was invalid; the message is shown to the user.

    Attributes:
        key: Message catalogue key of the reply.
        params: Values for the placeholders of that message.
    """

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
