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
