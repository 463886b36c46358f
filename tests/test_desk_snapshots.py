"""Snapshots of the desk: 80×24 and 160×45, the composer, the escalation dialog, help.

Deterministic: a fixed store (tests/desk_helpers.py), a fixed clock and time zone, a
fixed theme, no feeds and no periodic ticks. Update with ``--snapshot-update`` after
checking the new pictures by eye.
"""

from __future__ import annotations

from textual.widgets import Input, TextArea

from tests.desk_helpers import desk_of, make_app, make_db, wait_screen


def _app(tmp_path):
    return make_app(db=str(make_db(tmp_path / "desk.db")))


async def _loaded(pilot) -> None:
    await desk_of(pilot)


def test_desk_wide(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), terminal_size=(160, 45), run_before=_loaded)


def test_desk_narrow(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=_loaded)


def test_desk_narrow_case_open(snap_compare, tmp_path):
    async def run_before(pilot) -> None:
        desk = await desk_of(pilot)
        await pilot.press("enter")
        await desk.settle()
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_desk_wide_marked_and_filtered(snap_compare, tmp_path):
    async def run_before(pilot) -> None:
        desk = await desk_of(pilot)
        await pilot.press("space", "space", "slash", *"acme")
        desk.query_one("#filter", Input).cursor_blink = False
        await desk.settle()
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(160, 45), run_before=run_before)


def test_composer(snap_compare, tmp_path):
    from tui.composer import Composer

    async def run_before(pilot) -> None:
        await desk_of(pilot)
        await pilot.press("r")
        composer = await wait_screen(pilot, Composer)
        area = composer.query_one(TextArea)
        area.cursor_blink = False
        area.text = "Hi Maria, sorry about the double charge. Could you DM us your order number?"
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(100, 30), run_before=run_before)


def test_escalation_dialog(snap_compare, tmp_path):
    from tui.dialogs import EscalateDialog

    async def run_before(pilot) -> None:
        await desk_of(pilot)
        await pilot.press("e")
        dialog = await wait_screen(pilot, EscalateDialog)
        note = dialog.query_one("#note", Input)
        note.cursor_blink = False
        note.value = "chargeback threat"
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(100, 30), run_before=run_before)


def test_help(snap_compare, tmp_path):
    from tui.help import HelpScreen

    async def run_before(pilot) -> None:
        await desk_of(pilot)
        await pilot.press("question_mark")
        await wait_screen(pilot, HelpScreen)

    assert snap_compare(_app(tmp_path), terminal_size=(100, 45), run_before=run_before)
