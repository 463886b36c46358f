"""The SQLite backend: one aiosqlite connection, WAL, short write transactions.

Each store call runs one Python function inside aiosqlite's connection thread, so a batch
of hundreds of statements costs one hop off the event loop. Writes use BEGIN IMMEDIATE
and retry on SQLITE_BUSY with backoff, so "database is locked" never reaches a user while
several processes (one ingest, many desks) share the file.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from store.api import Store
from store.config import Config
from store.records import SchemaTooNew, StoreError
from store.schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000
BUSY_RETRIES = 50
POLL_SECONDS = 0.05


def _greatest(a: Any, b: Any) -> Any:
    # PostgreSQL's GREATEST ignores NULLs; so does this.
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


class SqliteTx:
    """A transaction on a sqlite3 connection (runs in the connection's thread)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).fetchone()[0]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.executemany(sql, rows)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _run_in_thread(conn: sqlite3.Connection, fn: Callable[[SqliteTx], T], write: bool) -> T:
    """Run ``fn`` in one transaction, retrying while another process holds the lock."""
    tx = SqliteTx(conn)
    for attempt in range(BUSY_RETRIES):
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc) and attempt < BUSY_RETRIES - 1:
                time.sleep(min(0.5, 0.01 * (2 ** min(attempt, 6))) * (0.5 + random.random()))
                continue
            raise
        try:
            result = fn(tx)
            conn.execute("COMMIT")
            return result
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            if _is_busy(exc) and attempt < BUSY_RETRIES - 1:
                time.sleep(min(0.5, 0.01 * (2 ** min(attempt, 6))) * (0.5 + random.random()))
                continue
            raise
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    raise StoreError("the store stayed locked by another process; try again")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"this store has schema version {version}, newer than this heatdesk "
            f"understands ({SCHEMA_VERSION}); upgrade heatdesk"
        )
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.execute(statement.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT", blob="BLOB"))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(step + 1),),
        )


class SqliteStore(Store):
    """A store in one SQLite file (WAL), shareable by several processes on one host."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path, config: Config):
        self._conn = conn
        self.path = path
        super().__init__(self._run_fn, config)

    @classmethod
    async def open(cls, path: str | Path, config: Config) -> SqliteStore:
        """Open (creating and migrating if needed) the store at ``path``."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a store file")
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None,
                                           timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from None
        store = cls(conn, path, config)
        try:
            await conn._execute(store._setup)  # noqa: SLF001 — one hop, see module docstring
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{path} is not a heatdesk store ({exc})") from None
        except BaseException:
            await conn.close()
            raise
        return store

    def _setup(self) -> None:
        conn = self._conn._conn  # noqa: SLF001
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.DatabaseError(f"cannot switch to WAL (journal mode {mode})")
        # NORMAL in WAL: a commit survives a process crash (kill -9); only an OS crash or
        # power loss can lose the last transactions. See RELIABILITY.md.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.create_function("GREATEST", 2, _greatest, deterministic=True)
        _run_in_thread(conn, lambda tx: _migrate(tx.conn), True)

    async def _run_fn(self, fn: Callable[[SqliteTx], T], write: bool) -> T:
        conn = self._conn._conn  # noqa: SLF001
        return await self._conn._execute(_run_in_thread, conn, fn, write)  # noqa: SLF001

    async def close(self) -> None:
        await self._conn.close()

    async def wait_for_change(self, timeout: float) -> None:
        """Return soon after another process commits (PRAGMA data_version), or at timeout.

        data_version changes when another connection commits; polling it costs one thread
        hop every 50 ms, so a desk sees another agent's work within about 50 ms plus the
        time to fetch the changed cases. Our own writes are seen through changes_since.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        start = await self._data_version()
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(POLL_SECONDS, remaining))
            if await self._data_version() != start:
                return

    async def _data_version(self) -> int:
        conn = self._conn._conn  # noqa: SLF001
        return await self._conn._execute(  # noqa: SLF001
            lambda: conn.execute("PRAGMA data_version").fetchone()[0])

    async def integrity_check(self) -> str:
        rows = await self._read(lambda tx: tx.fetchall("PRAGMA integrity_check"))
        return "; ".join(r[0] for r in rows)
