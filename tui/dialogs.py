"""Small modal dialogs the desk asks through: confirm, text, choice, escalate, snooze, score.

Each is a ``ModalScreen`` that dismisses with its answer, or ``None`` when cancelled
(``escape``). They show no untrusted text except through ``safe_text``/``markup=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
)
from textual.widgets.option_list import Option

from tui.safe_text import clean


class _ShowsState:
    """A toggle whose mark is drawn only when it is on: Textual draws it either way and
    tells the two apart by colour alone, which NO_COLOR, 16-colour and colour-blind
    agents cannot see."""

    MARK = "X"

    @property
    def BUTTON_INNER(self) -> str:  # Textual's name; its _button reads it
        return self.MARK if self.value else " "


class Radio(_ShowsState, RadioButton):
    """A radio button that shows ● only when chosen."""

    MARK = "●"


class Tick(_ShowsState, Checkbox):
    """A checkbox that shows X only when ticked."""


class DeskDialog(ModalScreen):
    """Common frame: a bordered box in the middle, escape cancels."""

    DEFAULT_CSS = """
    DeskDialog { align: center middle; }
    .dialog {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $panel; padding: 0 1;
    }
    .dialog > .title { text-style: bold; width: 1fr; margin-bottom: 1; }
    .dialog > .hint { color: $text-muted; width: 1fr; }
    .dialog > .question { width: 1fr; height: auto; }
    .dialog .buttons { height: auto; align-horizontal: right; margin-top: 1; }
    .dialog .buttons Button { margin-left: 1; min-width: 10; }
    .dialog RadioSet { width: 1fr; }
    .dialog Input { width: 1fr; }
    .dialog OptionList { height: auto; max-height: 12; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(DeskDialog):
    """A yes/no question; dismisses True or False."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n", "cancel", "No"),
                                             Binding("y", "yes", "Yes")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No",
                 title: str = "Are you sure?") -> None:
        super().__init__()
        self.question, self.yes, self.no, self.title_text = question, yes, no, title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield Static(Text(clean(self.question)), markup=False, classes="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.no} (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextDialog(DeskDialog):
    """One line of text (a tag, a note, an agent name); dismisses the text or None."""

    def __init__(self, title: str, placeholder: str = "", value: str = "",
                 hint: str = "", suggestions: list[str] | None = None) -> None:
        super().__init__()
        self.title_text, self.placeholder, self.value, self.hint = title, placeholder, value, hint
        self.suggestions = suggestions or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="text")
            if self.hint:
                yield Label(self.hint, classes="hint", markup=False)
            if self.suggestions:
                yield Label(Text("known: " + " ".join(clean(s) for s in self.suggestions[:12])),
                            classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._done()
        else:
            self.dismiss(None)

    def _done(self) -> None:
        text = self.query_one(Input).value.strip()
        self.dismiss(text or None)


class ChoiceDialog(DeskDialog):
    """Pick one of several options; dismisses the option's id or None."""

    def __init__(self, title: str, choices: list[tuple[str, str]], hint: str = "") -> None:
        super().__init__()
        self.title_text, self.choices, self.hint = title, choices, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield OptionList(*[Option(Text(clean(label)), id=key) for key, label in self.choices])
            if self.hint:
                yield Label(self.hint, classes="hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


@dataclass
class Escalation:
    """What the escalation dialog asks for."""

    tier: int
    note: str
    phone: bool


class EscalateDialog(DeskDialog):
    """Escalate: tier 1 (supervisor) or 2 (executive), a note, a phone call-back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Escalate", priority=True)]

    def __init__(self, case_label: str, current_tier: int = 0) -> None:
        super().__init__()
        self.case_label = case_label
        self.current_tier = current_tier

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text("Escalate " + clean(self.case_label)), classes="title",
                        markup=False)
            with RadioSet(id="tier"):
                # Already with a supervisor: the next step up is the default.
                yield Radio("Tier 1 — supervisor", value=self.current_tier < 1, id="t1")
                yield Radio("Tier 2 — executive", value=self.current_tier >= 1, id="t2")
            yield Input(placeholder="note for whoever picks it up", id="note")
            yield Tick("Ask for a phone call-back", id="phone")
            yield Label("enter escalates · esc cancels · shift+tab: tier (↑↓, space) · tab: call-back (space)", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Escalate", id="ok", variant="error")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        tier = 2 if self.query_one("#t2", RadioButton).value else 1
        self.dismiss(Escalation(tier, self.query_one("#note", Input).value.strip(),
                                self.query_one("#phone", Checkbox).value))


class OfflineDialog(ChoiceDialog):
    """Take a case offline: DM (opens the composer), phone or email."""

    def __init__(self, case_label: str, suggestion: str | None = None) -> None:
        choices = [("dm", "DM — a private message (opens the composer)"),
                   ("phone", "Phone — call the customer"),
                   ("email", "Email — continue by email")]
        if suggestion in ("dm", "phone"):
            choices.sort(key=lambda c: c[0] != suggestion)
        super().__init__("Take " + case_label + " offline", choices,
                         hint="the timeline records the move; a DM goes through the outbox")


def snooze_choices(now: datetime) -> list[tuple[str, str]]:
    """Snooze options as (minutes, label), ending with tomorrow 09:00 local."""
    local = now.astimezone()
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    minutes = int((tomorrow - local).total_seconds() // 60)
    return [("30", "30 minutes"), ("60", "1 hour"), ("240", "4 hours"),
            (str(minutes), "until tomorrow 09:00")]


class SnoozeDialog(ChoiceDialog):
    """How long to snooze; dismisses minutes (as a string) or None."""

    def __init__(self, case_label: str, now: datetime) -> None:
        super().__init__("Snooze " + case_label, snooze_choices(now),
                         hint="the customer writing again wakes it early")


class ScoreDialog(DeskDialog):
    """QA score 1–5 with an optional note; dismisses (score, note) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")] + [
        Binding(str(n), f"pick({n})", str(n), show=False) for n in range(1, 6)]

    def __init__(self, case_label: str, rubric: list[str] | None = None) -> None:
        super().__init__()
        self.case_label = case_label
        self.rubric = rubric or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text("QA score for " + clean(self.case_label)), classes="title",
                        markup=False)
            for line in self.rubric:
                yield Label(Text("· " + clean(line)), classes="hint", markup=False)
            with RadioSet(id="score"):
                for n in range(1, 6):
                    yield Radio(f"{n}", value=n == 3, id=f"s{n}")
            yield Input(placeholder="note (optional)", id="note")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Score", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def action_pick(self, n: int) -> None:
        self.query_one(f"#s{n}", RadioButton).value = True

    def _score(self) -> int:
        for n in range(1, 6):
            if self.query_one(f"#s{n}", RadioButton).value:
                return n
        return 3

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss((self._score(), self.query_one("#note", Input).value.strip() or None))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.dismiss((self._score(), self.query_one("#note", Input).value.strip() or None))
        else:
            self.dismiss(None)
