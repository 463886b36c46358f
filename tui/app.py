"""The desk application: opens the store, runs feeds in-process, shows the desk screen.

``run_desk(args, config)`` is what ``heatdesk`` / ``heatdesk desk`` calls (tui/cli.py).
The store is opened on the app's own event loop (its backend runs queries on its own
thread), and unless ``--no-ingest`` an ``IngestRuntime`` (feeds → pipeline → store, plus
the outbox sender) runs as tasks on that loop too, so one laptop is a whole desk.

Decisions: a store that cannot be opened ends the app with one clear line on stderr and
exit code 1. The clock is injectable (``clock=``) so tests and snapshots see a fixed
"now"; the store itself always stamps events with the real time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from store import open_store
from store.api import Store
from store.config import Config, default_config_path
from store.records import StoreError, utcnow
from tui.commands import DeskCommands
from tui.keys import keymap_from_config

log = logging.getLogger("heatdesk")

PRESENCE_TTL = 30.0
BACKGROUND_GROUPS = frozenset({"follow", "pane", "presence", "wake", "announce", "wallboard"})


def _themes_module():
    try:
        import themes
    except ImportError:  # themes/ is optional: the desk still runs on Textual's themes
        return None
    return themes


QUIT_QUESTIONS = ("Unsent replies", "Quit the desk?")  # dialog titles ctrl+c answers yes


class DeskApp(App[int]):
    """heatdesk's desk: the live queue, the case timeline and every action by key."""

    TITLE = "heatdesk"
    CSS_PATH = "desk.tcss"
    COMMANDS = App.COMMANDS | {DeskCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        *,
        config: Config | None = None,
        db: str | Path | None = None,
        store: Store | None = None,
        agent: str = "agent",
        feeds: list[dict[str, Any]] | None = None,
        theme: str | None = None,
        no_color: bool | None = None,
        clock: Callable[[], datetime] | None = None,
        tz: tzinfo | None = None,
        live: bool = True,
    ) -> None:
        # Textual takes NO_COLOR out of the environment as it starts (and then draws in
        # monochrome); read it first so the heat palette knows too.
        env_no_color = bool(os.environ.get("NO_COLOR"))
        super().__init__()
        self.config = config or Config()
        self.db = db
        self.store: Store | None = store
        self._owns_store = store is None
        self.agent = agent
        self.feed_tables = feeds
        self.runtime = None
        self.clock = clock or utcnow
        self.tz = tz  # None: the terminal's local time
        # live=False (tests, snapshots): no periodic re-rank or presence refresh.
        self.live = live
        self.no_color = env_no_color if no_color is None else no_color
        self.error: str | None = None
        self.ready = asyncio.Event()
        self._requested_theme = theme or self.config.theme
        self._themes = _themes_module()
        keymap, self.unknown_keys = keymap_from_config(self.config.keys)
        if keymap:
            self.set_keymap(keymap)
        self._setup_themes()

    # -- themes ------------------------------------------------------------------------------

    def _setup_themes(self) -> None:
        self.theme_errors: list[str] = []
        if self._themes is not None:
            config_dir = (self.config.path.parent if self.config.path
                          else default_config_path().parent)
            try:
                self.theme_errors = self._themes.register_all(self, config_dir)
            except Exception as exc:  # noqa: BLE001 — a broken user theme must not stop the desk
                self.theme_errors = [f"themes: {exc}"]
        wanted = self._requested_theme
        if wanted is None and self._themes is not None:
            wanted = getattr(self._themes, "DEFAULT_THEME", None)
            wanted = getattr(wanted, "name", wanted)
        if wanted:
            if wanted in self.available_themes:
                self.theme = wanted
            else:
                self.theme_errors.append(
                    f"unknown theme {wanted!r}; try one of: "
                    + ", ".join(sorted(self.available_themes)))

    def heat_palette(self):
        """The heat palette for the current theme (None when themes/ is not available)."""
        if self._themes is None:
            return None
        try:
            return self._themes.palette_for(self.theme, self.no_color)
        except Exception:  # noqa: BLE001 — no palette is better than no desk
            return None

    # -- life cycle --------------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self.store is None:
            try:
                self.store = await open_store(self.db, self.config)
            except (StoreError, OSError) as exc:
                self.error = str(exc)
                self.exit(1)
                return
        if self.feed_tables:
            try:
                await self._start_ingest()
            except StoreError as exc:
                self.error = str(exc)
                self.exit(1)
                return
        for line in self.theme_errors:
            self.notify(line, severity="warning", timeout=8)
        if self.unknown_keys:
            self.notify("[keys] names no such action: " + ", ".join(self.unknown_keys),
                        severity="warning", timeout=8, markup=False)
        from tui.desk import DeskScreen

        await self.push_screen(DeskScreen())

    async def _start_ingest(self) -> None:
        from tui.runtime import IngestRuntime, build_adapters

        adapters = build_adapters(self.feed_tables or [])
        self.runtime = IngestRuntime(self.store, self.config, adapters)
        await self.runtime.start()

    async def shutdown(self) -> None:
        """Stop feeds, clear presence, close the store (idempotent)."""
        # Background readers first, so none of them meets a closed store on the way out.
        for worker in list(self.workers):
            if worker.group in BACKGROUND_GROUPS:
                worker.cancel()
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runtime.stop(), 15)
        store = self.store
        if store is not None and self._owns_store:
            self.store = None
            with contextlib.suppress(Exception):
                await store.close()

    async def action_quit(self) -> None:
        screen = self.screen
        if getattr(screen, "title_text", None) in QUIT_QUESTIONS:
            screen.dismiss(True)  # ctrl+c on "quit?" means yes
            return
        quit_desk = getattr(screen, "action_quit", None)
        if quit_desk is not None and screen.__class__.__name__ == "DeskScreen":
            await quit_desk()
            return
        desk = next((s for s in reversed(self.screen_stack)
                     if s.__class__.__name__ == "DeskScreen"), None)
        if desk is not None:  # a dialog, the composer, help or the wallboard over the desk
            self._quit_over(desk)
            return
        await self.shutdown()
        self.exit(0)

    @work(group="quit", exclusive=True)
    async def _quit_over(self, desk) -> None:
        """ctrl+c with something open over the desk: say what would be lost, then ask."""
        from textual.widgets import Input, TextArea

        from tui.dialogs import ConfirmDialog

        lost = []
        top = self.screen
        if (any(box.value.strip() for box in top.query(Input))
                or any(area.text.strip() for area in top.query(TextArea))):
            lost.append("What is typed in the open dialog is lost if you quit.")
        try:
            pending = await self.store.pending_outbox()
        except StoreError:
            pending = 0
        if pending:
            lost.append(f"{pending} outgoing item(s) are still in the outbox, not yet sent; "
                        "they go out when a desk or `heatdesk ingest` runs next.")
        if lost and not await self.push_screen_wait(ConfirmDialog(
                " ".join(lost), yes="Quit anyway", no="Stay", title="Quit the desk?")):
            return
        await desk.clear_presence()
        await self.shutdown()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.shutdown()

    def open_wallboard(self) -> None:
        """Show the wallboard screen if this build has one."""
        try:
            from tui.wallboard import WallboardScreen
        except ImportError:
            self.notify("The wallboard is not available in this build.", severity="warning")
            return
        self.push_screen(WallboardScreen(self.store, self.config, live=self.live))

    def now(self) -> datetime:
        """The desk's idea of "now", in the desk's time zone (injectable for tests)."""
        return self.clock().astimezone(self.tz)


def _feed_tables(args: argparse.Namespace, config: Config) -> list[dict[str, Any]] | None:
    if getattr(args, "no_ingest", False):
        return None
    from tui.runtime import parse_feed_spec

    if getattr(args, "demo", False) or not config.feeds:
        return [parse_feed_spec("demo", config)]
    return list(config.feeds)


def run_desk(args: argparse.Namespace, config: Config, wallboard: bool = False) -> int:
    """Run the desk (or the wallboard) in this terminal; returns the exit code."""
    from tui.cli import agent_name

    if wallboard:
        try:
            from tui.wallboard import run_wallboard
        except ImportError:
            sys.stderr.write("heatdesk: the wallboard is not available in this build\n")
            return 1
        return run_wallboard(args, config)
    feeds = _feed_tables(args, config)
    app = DeskApp(config=config, db=getattr(args, "db", None), agent=agent_name(args),
                  feeds=feeds, theme=getattr(args, "theme", None))
    code = app.run()
    if app.error:
        sys.stderr.write(f"heatdesk: {app.error}\n")
        return 1
    return code or 0
