"""The desk's memory: records, rules, persistence. Imports nothing else of heatdesk's."""

from __future__ import annotations

from pathlib import Path

from store.api import CaseDetail, Changes, Store
from store.config import Config, default_db_path
from store.records import StoreError


async def open_store(url: str | Path | None, config: Config | None = None) -> Store:
    """Open the store at a SQLite path or a ``postgresql://`` URL (default: user data dir)."""
    config = config or Config()
    target = str(url) if url else str(default_db_path())
    if target.startswith(("postgresql://", "postgres://")):
        try:
            from store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"PostgreSQL support is not installed ({exc}); pip install 'heatdesk[postgres]'"
            ) from None
        return await PostgresStore.open(target, config)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") - 1 :] if target.startswith("sqlite:////") else target[10:]
    from store.sqlite import SqliteStore

    return await SqliteStore.open(target, config)


__all__ = ["CaseDetail", "Changes", "Config", "Store", "StoreError", "open_store"]
