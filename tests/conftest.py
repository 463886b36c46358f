"""Shared fixtures: a real store on each backend, and time helpers.

The ``store`` fixture runs each test on a real SQLite file and on a real PostgreSQL
server. PostgreSQL tests skip (with the reason) only when no server is reachable at
``HEATDESK_TEST_PG`` (default postgresql://postgres@127.0.0.1:5432/test); with
``HEATDESK_REQUIRE_PG=1`` (set by .ci/run) an unreachable server is a failure.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from store import open_store
from store.config import Config
from store.records import Mention

PG_URL = os.environ.get("HEATDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def pg_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install 'heatdesk[postgres]')"
    try:
        import store.postgres  # noqa: F401
    except ImportError as exc:
        return f"the PostgreSQL backend is not available ({exc})"
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(PG_URL)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 1).close()
    except OSError as exc:
        return f"no PostgreSQL server reachable at {parsed.hostname}:{parsed.port} ({exc})"
    return None


def require_pg() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is unavailable."""
    reason = pg_reason()
    if reason:
        if os.environ.get("HEATDESK_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL is required here: {reason}")
        pytest.skip(reason)


async def fresh_pg_url() -> str:
    """A new, empty database on the test server (dropped at process exit is not needed)."""
    import asyncpg

    name = "hd_test_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


async def drop_pg(url: str) -> None:
    """Drop a test database made by fresh_pg_url."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    """Each store test runs once per backend."""
    if request.param == "postgres":
        require_pg()
    return request.param


@pytest.fixture
def config() -> Config:
    return Config(handles=["acme@mastodon.example", "acme.example.com"], undo_seconds=10)


@pytest.fixture
async def db_url(backend, tmp_path):
    """A URL for an empty store on the current backend."""
    if backend == "sqlite":
        yield str(tmp_path / "desk.db")
    else:
        url = await fresh_pg_url()
        yield url
        await drop_pg(url)


@pytest.fixture
async def store(db_url, config):
    s = await open_store(db_url, config)
    yield s
    await s.close()


def mention(ext: str, author: str = "alice@example.social", text: str = "hello",
            minutes: float = 0, platform: str = "mastodon", **kw) -> Mention:
    """A Mention at T0 + minutes, scored with the desk's sentiment."""
    from store.rules.sentiment import score

    m = Mention(platform=platform, external_id=ext, author=author, text=text,
                created_at=T0 + timedelta(minutes=minutes), **kw)
    m.sentiment = score(text)
    return m
