"""Open the configured store: PostgreSQL when a database URL is set, else the data folder.

Only this module chooses a backend, and it imports the PostgreSQL one (and so its driver)
only when a URL is configured.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.settings import StorageSettings
from bot.storage.base import Repository


def open_repository(storage: StorageSettings, clock: Clock | None = None) -> Repository:
    """The repository the settings name.

    Raises:
        StorageError: With one line naming the folder or the (masked) URL.
    """
    if storage.url is not None:
        from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

        return PostgresRepository(storage.url.reveal(), clock)
    from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

    return TinyDBRepository(storage.dir, clock)


def describe(storage: StorageSettings) -> str:
    """Where the data lives, for messages (the password masked)."""
    if storage.url is not None:
        from bot.storage.postgres import masked  # noqa: PLC0415

        return masked(storage.url.reveal())
    return str(storage.dir)


def is_database_url(location: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for a folder path."""
    return location.startswith(("postgresql://", "postgres://"))


def open_location(location: str, clock: Clock | None = None) -> Repository:
    """Open a store named on the command line: a database URL or a data folder path.

    Raises:
        StorageError: With one line naming it (the password masked).
    """
    if is_database_url(location):
        from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

        return PostgresRepository(location, clock)
    from pathlib import Path  # noqa: PLC0415

    from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

    return TinyDBRepository(Path(location), clock)


def describe_location(location: str) -> str:
    """A store's name for messages, the password masked."""
    if is_database_url(location):
        from bot.storage.postgres import masked  # noqa: PLC0415

        return masked(location)
    return location
