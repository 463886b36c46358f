"""Shared fixtures for the desk's app and snapshot tests: a fixed store and a fixed clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import open_store
from store.config import Config
from store.records import Mention

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)
AGENT = "alice"

# (external id, platform, author, display name, followers, minutes after T0, text)
MENTIONS = [
    ("m1", "mastodon", "maria@example.social", "Maria", 120, 0,
     "@acme my order never arrived and I was charged twice. I want a refund."),
    ("m2", "bluesky", "ben.bsky.social", "Ben", 40, 5,
     "@acme.example.com love the new rain jacket, thanks!"),
    ("m3", "reddit", "trail_runner", None, 52000, 8,
     "Third time I ask: where is my refund? Never again, chargeback is next."),
    ("m4", "mastodon", "dave@hikers.example", "Dave", 15, 15,
     "@acme what are your store hours on Sunday?"),
    ("m5", "webhook", "webform:cust_1", "Erin [bold red]Evil[/]", 0, 20,
     "The app keeps logging me out \x1b]52;c;aGk=\x07 [link=http://x]click[/link]"),
    ("m6", "mastodon", "maria@example.social", "Maria", 120, 22,
     "@acme still nothing?? this is ridiculous"),
]


def desk_config() -> Config:
    """The config every desk test uses."""
    return Config(brand="Acme Outfitters", handles=["acme@mastodon.example"],
                  undo_seconds=30)


def mentions() -> list[Mention]:
    from store.rules.sentiment import score

    out = []
    for ext, platform, author, name, followers, minutes, text in MENTIONS:
        m = Mention(platform=platform, external_id=ext, author=author, author_name=name,
                    followers=followers, text=text, created_at=T0 + timedelta(minutes=minutes),
                    source="demo")
        if ext == "m6":
            m.in_reply_to = "m1"
        m.sentiment = score(text)
        out.append(m)
    return out


async def fill_store(path: Path, config: Config | None = None):
    """A real SQLite store at ``path`` holding the fixed mentions; returns it open."""
    store = await open_store(str(path), config or desk_config())
    await store.ingest(mentions())
    return store


def make_db(path: Path) -> Path:
    """Fill a store file synchronously (for snapshot tests, which run their own loop)."""

    async def run() -> None:
        store = await fill_store(path)
        await store.close()

    asyncio.run(run())
    return path


def fixed_clock() -> datetime:
    return NOW


def make_app(store=None, db=None, config=None, **kw):
    """A DeskApp on a fixed clock, without feeds or periodic ticks."""
    from tui.app import DeskApp

    return DeskApp(config=config or desk_config(), store=store, db=db, agent=AGENT,
                   clock=kw.pop("clock", fixed_clock), tz=UTC, live=False,
                   theme=kw.pop("theme", "textual-dark"), **kw)


async def desk_of(pilot, timeout: float = 5.0):
    """The DeskScreen once it is up and loaded."""
    from tui.desk import DeskScreen

    deadline = time.monotonic() + timeout
    while not isinstance(pilot.app.screen, DeskScreen):
        if time.monotonic() > deadline:
            raise TimeoutError("the desk screen did not appear")
        await pilot.pause(0.02)
    desk = pilot.app.screen
    await desk.settle(timeout)
    await pilot.pause()
    return desk


async def wait_screen(pilot, cls, timeout: float = 5.0):
    """Wait until the active screen is a ``cls``."""
    deadline = time.monotonic() + timeout
    while not isinstance(pilot.app.screen, cls):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{cls.__name__} did not appear (have {pilot.app.screen!r})")
        await pilot.pause(0.02)
    await pilot.pause()
    return pilot.app.screen


async def wait_for(predicate, pilot, timeout: float = 5.0):
    """Poll an (async or plain) predicate until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await pilot.pause(0.05)
