"""The help screen, generated from the desk's bindings (never written twice).

Lists every action of ``tui.keys.ACTIONS`` by section with the keys bound to it *now*
(after the config's ``[keys]`` remapping), plus the composer's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import ACTIONS

COMPOSER_KEYS = (("ctrl+s", "send (twice to send despite draft warnings)"),
                 ("ctrl+t", "insert a saved reply"),
                 ("esc", "cancel (asks first if you changed the draft)"))


def help_table(key_for: Callable[[str], str | None], width: int = 80) -> Table:
    """A two-column table per section: keys and what they do."""
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True, min_width=10)
    table.add_column(ratio=1)
    group = None
    for action in ACTIONS:
        if action.group != group:
            group = action.group
            table.add_row("", "")
            table.add_row("", Text.assemble((group, "bold underline")))
        keys = key_for(action.name)
        table.add_row(Text(keys or "palette", style="bold" if keys else "dim"),
                      Text(action.help))
    table.add_row("", "")
    table.add_row("", Text.assemble(("Composer", "bold underline")))
    for key, what in COMPOSER_KEYS:
        table.add_row(key, what)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key the desk knows, as bound right now."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: 90%; border: thick $accent;
        background: $panel; padding: 0 1;
    }
    HelpScreen .title { text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False)]

    def __init__(self, key_for: Callable[[str], str | None]) -> None:
        super().__init__()
        self.key_for = key_for

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("heatdesk — keys  (esc closes; ctrl+p finds any action by name)",
                         classes="title", markup=False)
            yield Static(help_table(self.key_for), markup=False)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        if direction == "down":
            scroll.scroll_down()
        else:
            scroll.scroll_up()
