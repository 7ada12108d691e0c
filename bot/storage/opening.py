"""Open the configured store: PostgreSQL when a database URL is set, else the data folder.

Only this module chooses a backend, and it imports the PostgreSQL one (and so its driver)
only when a URL is configured.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.clock import Clock
from bot.settings import StorageSettings
from bot.storage.core import CoreRepository, SyncStore, WriteObserver


def open_repository(storage: StorageSettings, clock: Clock | None = None,
                    on_write: WriteObserver | None = None) -> CoreRepository:
    """The repository the settings name.

    Raises:
        StorageError: With one line naming the folder or the (masked) URL.
    """
    location = storage.url.reveal() if storage.url is not None else str(storage.dir)
    if is_database_url(location):
        from bot.storage.postgres import PostgresRepository  # noqa: PLC0415

        return PostgresRepository(location, clock, on_write=on_write)
    from bot.storage.tinydb_store import TinyDBRepository  # noqa: PLC0415

    return TinyDBRepository(Path(location), clock, on_write=on_write)


def open_lease_store(repo: CoreRepository, storage: StorageSettings,
                     clock: Clock | None = None) -> SyncStore:
    """A synchronous handle on the same store, for the leader lease's own thread.

    A database gets a connection of its own, so a busy event loop (or a busy worker thread)
    never delays a renewal; a data folder's store is the same object, as only its in-memory
    leases are used from that thread.
    """
    if not repo.shared or storage.url is None:
        return repo.core
    from bot.storage.postgres import PostgresStore  # noqa: PLC0415

    return PostgresStore(storage.url.reveal(), clock, lock="none")


def is_database_url(location: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for a folder path."""
    return location.startswith(("postgresql://", "postgres://"))


def open_location(location: str, clock: Clock | None = None, *,
                  sole: bool = False) -> SyncStore:
    """Open a synchronous store, for work outside the event loop (``copy-data``).

    Args:
        location: The URL or the folder.
        clock: The bot's clock.
        sole: Refuse a database any bot process is using, and keep bots out while open
            (``copy-data``). A data folder is always held by one process.

    Raises:
        StorageError: With one line naming it (the password masked).
    """
    if is_database_url(location):
        from bot.storage.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(location, clock, lock="sole" if sole else "bot")
    from bot.storage.tinydb_store import TinyDBStore  # noqa: PLC0415

    return TinyDBStore(Path(location), clock)


def masked(url: str) -> str:
    """The URL with its password replaced by ``***`` (for every message that names it)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe_location(location: str) -> str:
    """A store's name for messages, the password masked."""
    return masked(location) if is_database_url(location) else location


def database_password(location: str) -> str | None:
    """The password in a database URL, if any (for the log scrubber)."""
    return urlsplit(location).password if is_database_url(location) else None
