"""Snapshots of the wallboard per theme and at its three sizes, on a fixed clock.

The store holds the hand-worked morning of tests/test_wallboard.py, written with the
store's clock pinned, and the board's clock is pinned to 11:00 UTC, so every number and
every sparkline is the same on every run. Update after a deliberate change with
``pytest tests/test_wallboard_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

import store.api as store_api
from store import open_store
from tests.test_wallboard import NOW, Clock, desk_config, fill_desk
from tui.wallboard import WallboardApp, WallboardScreen

THEMES = ["heatdesk-dark", "heatdesk-light", "heatdesk-high-contrast", "heatdesk-wallboard",
          "ansi-dark"]


@pytest.fixture(scope="module")
def desk_db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("wallboard") / "desk.db")

    clock = Clock()

    async def fill() -> None:
        store = await open_store(path, desk_config())
        try:
            await fill_desk(store, clock)
        finally:
            await store.close()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_api, "utcnow", clock)
        asyncio.run(fill())
    return path


def board(db: str, theme: str) -> WallboardApp:
    return WallboardApp(config=desk_config(), db=db, theme=theme, clock=lambda: NOW,
                        tz=UTC, live=False)


async def drawn(pilot) -> None:
    for _ in range(250):
        screen = pilot.app.screen
        if isinstance(screen, WallboardScreen) and screen.refreshes:
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("theme", THEMES)
def test_wallboard_theme(theme, desk_db, snap_compare):
    assert snap_compare(board(desk_db, theme), terminal_size=(120, 40), run_before=drawn)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
def test_wallboard_size(size, desk_db, snap_compare):
    assert snap_compare(board(desk_db, "heatdesk-wallboard"), terminal_size=size,
                        run_before=drawn)
