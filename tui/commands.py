"""The command palette's desk provider: every desk action and view, and the themes.

Generated from ``tui.keys.ACTIONS`` (the same data as the bindings and the help screen),
so an action added there shows up here with the key currently bound to it.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keys import ACTIONS


class DeskCommands(Provider):
    """Desk actions, saved views and themes for ``ctrl+p``."""

    def _desk(self):
        from tui.desk import DeskScreen

        screen = self.screen
        return screen if isinstance(screen, DeskScreen) else None

    def _commands(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = []
        desk = self._desk()
        if desk is not None:
            for action in ACTIONS:
                if action.name in ("command_palette", "cursor_down", "cursor_up", "cursor_top",
                                   "cursor_bottom", "switch_pane", "close_pane"):
                    continue
                key = desk.key_for(action.name)
                title = action.help[0].upper() + action.help[1:]
                where = f"{action.group} · key {key}" if key else f"{action.group} · no key"
                out.append((title, where, partial(desk.run_action, action.name)))
        app = self.app
        for name in sorted(app.available_themes):
            out.append((f"Theme: {name}", "switch the desk's look",
                        partial(setattr, app, "theme", name)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
