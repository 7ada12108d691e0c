"""Storage: the ``Repository`` Protocol and its TinyDB implementation."""

from bot.storage.base import Repository

__all__ = ["Repository"]
