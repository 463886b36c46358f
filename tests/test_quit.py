"""ctrl+c is quit from anywhere in the desk; it never throws away typed work or unsent
replies without asking (with a dialog open it used to quit on the spot)."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from tests.desk_helpers import AGENT, desk_of, fill_store, make_app, wait_for, wait_screen
from tui.composer import Composer
from tui.dialogs import ConfirmDialog

WIDE = (160, 45)


@pytest.fixture
async def store(tmp_path):
    s = await fill_store(tmp_path / "desk.db")
    yield s
    await s.close()


async def _compose(pilot, text: str) -> Composer:
    desk = await desk_of(pilot)
    desk.queue.action_first()
    await desk.settle()
    await pilot.press("r")
    composer = await wait_screen(pilot, Composer)
    composer.query_one(TextArea).text = text
    await pilot.pause()
    return composer


async def test_ctrl_c_in_the_composer_asks_before_losing_the_draft(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        composer = await _compose(pilot, "Sorry about that, Maria. We're on it")
        await pilot.press("ctrl+c")
        dialog = await wait_screen(pilot, ConfirmDialog)
        assert "typed" in dialog.question
        await pilot.press("n")  # stay: back in the composer, the draft intact
        await wait_screen(pilot, Composer)
        assert app.is_running
        assert app.screen is composer
        assert composer.query_one(TextArea).text == "Sorry about that, Maria. We're on it"
        await pilot.press("ctrl+c")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("ctrl+c")  # ctrl+c on the quit question means yes
        await wait_for(lambda: not app.is_running, pilot)


async def test_ctrl_c_names_unsent_replies_too(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        case_id = desk.queue.cursor_case_id
        await store.reply(case_id, AGENT, "queued, not sent yet")
        await pilot.press("?")  # help over the desk: nothing typed, but a reply is unsent
        await pilot.pause(0.2)
        assert app.screen is not desk
        await pilot.press("ctrl+c")
        dialog = await wait_screen(pilot, ConfirmDialog)
        assert "1 outgoing item" in dialog.question
        await pilot.press("y")
        await wait_for(lambda: not app.is_running, pilot)


async def test_ctrl_c_over_a_screen_with_nothing_to_lose_quits(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        await pilot.press("?")
        await pilot.pause(0.2)
        assert app.screen is not desk
        await pilot.press("ctrl+c")
        await wait_for(lambda: not app.is_running, pilot)
