"""The composer: write a public reply, a DM or a note, within the platform's limit.

A ``ModalScreen`` around a ``TextArea`` with a live count against the platform's length
limit, saved replies on ``ctrl+t`` (with {customer}, {promised_time}, {agent}, {brand}
filled in), and the draft checks (tone, personal data in public) shown as a warning
line before a public reply goes out: the first ``ctrl+s`` shows them, a second one sends
anyway. ``esc`` cancels, asking first when the draft is not empty (a template the agent
did not touch counts as empty: nothing of theirs would be lost). Dismisses with the
text to send, or ``None``.

Decisions: Bluesky counts graphemes (what a reader sees as one character), the others
count code points. Mastodon's "every link counts as 23" is not modelled: a long link
reads as longer here than on the server, never shorter, so the limit errs safe.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from tui.dialogs import ChoiceDialog, ConfirmDialog
from tui.safe_text import clean, fit

LIMITS = {"mastodon": 500, "bluesky": 300, "reddit": 10000}
DEFAULT_LIMIT = 1000


def limit_for(platform: str) -> int:
    """The platform's length limit for one post."""
    return LIMITS.get(platform, DEFAULT_LIMIT)


def _extends(ch: str) -> bool:
    """True for characters that join the previous one into a single grapheme."""
    o = ord(ch)
    return (unicodedata.combining(ch) != 0
            or 0xFE00 <= o <= 0xFE0F  # variation selectors
            or 0x1F3FB <= o <= 0x1F3FF  # skin tones
            or 0xE0020 <= o <= 0xE007F  # emoji tags
            or o == 0x20E3  # keycap
            or unicodedata.category(ch) in ("Mn", "Me", "Mc"))


def grapheme_count(text: str) -> int:
    """Graphemes as a reader counts them (emoji ZWJ sequences and flags are one)."""
    count = 0
    join_next = False
    regional_open = False
    prev_cr = False
    for ch in text:
        o = ord(ch)
        if join_next:
            join_next = False
            regional_open = False
            continue
        if ch == "\u200d":  # zero-width joiner: glue the next character on
            join_next = count > 0
            continue
        if ch == "\n" and prev_cr:
            prev_cr = False
            continue
        prev_cr = ch == "\r"
        if count and _extends(ch):
            continue
        if 0x1F1E6 <= o <= 0x1F1FF:  # regional indicators pair up into a flag
            if regional_open:
                regional_open = False
                continue
            regional_open = True
        else:
            regional_open = False
        count += 1
    return count


def length_of(text: str, platform: str) -> int:
    """How long the platform considers ``text``."""
    return grapheme_count(text) if platform == "bluesky" else len(text)


def draft_issues(text: str, public: bool) -> list[str]:
    """The draft checks' messages (empty when the rules module is not available)."""
    from tui.cli import check_draft

    try:
        return check_draft(text, public)
    except Exception as exc:  # noqa: BLE001 — a broken rule must not block a reply
        return [f"draft check failed: {exc}"]


def fill_template(template: str, values: dict[str, str]) -> str:
    """A saved reply with its {variables} filled."""
    from tui.cli import fill

    return fill(template, **values)


class Composer(ModalScreen[str | None]):
    """Write a reply, DM or note; dismisses with the text or None."""

    DEFAULT_CSS = """
    Composer { align: center middle; }
    Composer > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $panel; padding: 0 1;
    }
    Composer .title { text-style: bold; width: 1fr; }
    Composer .context { color: $text-muted; width: 1fr; height: auto; max-height: 3; }
    Composer TextArea { height: 8; min-height: 3; }
    Composer .count { width: 1fr; }
    Composer .warnings { color: $text-warning; width: 1fr; height: auto; display: none; }
    Composer .warnings.-shown { display: block; }
    Composer .hint { color: $text-muted; width: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+t", "saved_reply", "Saved reply", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, *, title: str, platform: str, public: bool = True, text: str = "",
                 context: str = "", replies: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, limit: int | None = None,
                 checks: bool = True,
                 check: Callable[[str, bool], list[str]] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.platform = platform
        self.public = public
        self.initial = text
        self.context = context
        self.replies = replies or {}
        self.values = values or {}
        self.limit = limit if limit is not None else limit_for(platform)
        self.checks = checks
        self._check = check or draft_issues
        self._warned_for: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(clean(self.title_text)), classes="title", markup=False)
            if self.context:
                yield Static(Text(clean(self.context)), classes="context", markup=False)
            yield TextArea(self.initial, id="draft", soft_wrap=True, show_line_numbers=False,
                           tab_behavior="focus")
            yield Static("", id="count", classes="count", markup=False)
            yield Static("", id="warnings", classes="warnings", markup=False)
            yield Static("ctrl+s send · ctrl+t saved reply · esc cancel", classes="hint",
                         markup=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        self._update_count()

    @property
    def draft(self) -> str:
        """The text in the composer now."""
        return self.query_one(TextArea).text

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._update_count()
        if self._warned_for is not None and self.draft != self._warned_for:
            self._warned_for = None
            self.query_one("#warnings", Static).update("")
            self.query_one("#warnings").remove_class("-shown")

    def _update_count(self) -> None:
        n = length_of(self.draft, self.platform)
        over = n > self.limit
        line = Text()
        line.append(f"{n} / {self.limit}", style="bold red" if over else "bold")
        kind = "public reply" if self.public else "private"
        line.append(f"  {clean(self.platform)} · {kind}", style="dim")
        if over:
            line.append(f"  {n - self.limit} too long", style="bold red")
        self.query_one("#count", Static).update(line)

    def action_send(self) -> None:
        text = self.draft.strip()
        if not text:
            self.notify("Nothing to send: the draft is empty.", severity="warning")
            return
        if length_of(text, self.platform) > self.limit:
            self.notify(f"Too long for {clean(self.platform)}: {length_of(text, self.platform)} "
                        f"of {self.limit}.", severity="error", markup=False)
            return
        if self.checks and self._warned_for != self.draft:
            issues = self._check(text, self.public)
            if issues:
                self._warned_for = self.draft
                warn = Text("⚠ " + "; ".join(clean(i) for i in issues), style="bold")
                warn.append("  — ctrl+s again to send anyway", style="")
                box = self.query_one("#warnings", Static)
                box.update(warn)
                box.add_class("-shown")
                return
        self.dismiss(text)

    def action_saved_reply(self) -> None:
        if not self.replies:
            self.notify("No saved replies configured.", severity="warning")
            return
        choices = [(name, f"{name}: {fit(fill_template(t, self.values), 48)}")
                   for name, t in self.replies.items()]

        def chosen(name: str | None) -> None:
            if name is None:
                return
            area = self.query_one(TextArea)
            area.insert(fill_template(self.replies[name], self.values))
            area.focus()

        self.app.push_screen(ChoiceDialog("Insert a saved reply", choices), chosen)

    def action_cancel(self) -> None:
        if not self.draft.strip() or self.draft == self.initial:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDialog("Discard this draft?", yes="Discard", no="Keep",
                                           title="Cancel the reply"), answered)
