"""The desk, driven like an agent drives it: keys in, the store's events and outbox out.

Every test runs the real app (App.run_test + Pilot) on a real SQLite store in tmp_path,
pre-filled through ``store.ingest``; no feeds run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Input, TextArea

from store.records import Status
from tests.desk_helpers import AGENT, desk_of, fill_store, make_app, wait_for, wait_screen
from tui.composer import Composer
from tui.dialogs import ChoiceDialog, ConfirmDialog, EscalateDialog, ScoreDialog, TextDialog
from tui.help import HelpScreen

WIDE = (160, 45)
NARROW = (80, 24)


@pytest.fixture
async def store(tmp_path):
    s = await fill_store(tmp_path / "desk.db")
    yield s
    await s.close()


async def case_of(store, external_id: str) -> int:
    return (await store.mention(*_platform_of(external_id), external_id)).case_id


def _platform_of(ext: str) -> tuple[str]:
    from tests.desk_helpers import MENTIONS

    return (next(m[1] for m in MENTIONS if m[0] == ext),)


async def kinds(store, case_id: int) -> list[str]:
    return [e.kind for e in (await store.detail(case_id)).events]


async def open_on(pilot, store, ext: str):
    """The desk with the case of mention ``ext`` highlighted."""
    desk = await desk_of(pilot)
    case_id = await case_of(store, ext)
    assert desk.select_case(case_id)
    await desk.settle()
    return desk, case_id


async def type_in_composer(pilot, text: str) -> Composer:
    composer = await wait_screen(pilot, Composer)
    composer.query_one(TextArea).text = text
    await pilot.pause()
    return composer


# -- loading and following ---------------------------------------------------------------


async def test_loads_open_cases_hottest_first(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        assert len(desk.model) == 5  # m6 joined m1's case
        ids = list(desk.model.ids())
        heats = [desk.model.heat(i) for i in ids]
        assert heats == sorted(heats, reverse=True)
        # the side pane follows the highlight on a wide screen
        assert desk.open_id == ids[0]


async def test_follows_new_mentions_and_keeps_selection(store):
    from tests.desk_helpers import T0, mentions

    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        chosen = list(desk.model.ids())[-1]
        desk.select_case(chosen)
        extra = mentions()[0]
        extra.external_id, extra.author = "m9", "zoe@example.social"
        extra.text = "@acme this is a scam, charged twice, lawyer next, cancel everything"
        extra.created_at = T0 + timedelta(minutes=25)
        await store.ingest([extra])
        await wait_for(lambda: len(desk.model) == 6, pilot)
        assert desk.queue.cursor_case_id == chosen


async def test_case_changed_elsewhere_updates_the_pane(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("enter")
        await desk.settle()
        await store.note(case_id, "bob", "customer called the store")
        await wait_for(lambda: "customer called the store" in _pane_text(desk), pilot)


def _pane_text(desk) -> str:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(desk.timeline._body.content if hasattr(desk.timeline._body, "content")
                  else desk.timeline._body.renderable)
    return console.export_text()


async def test_presence_of_another_agent_shows(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await store.set_presence(case_id, "bob", "typing")
        await wait_for(lambda: case_id in desk.presence, pilot)
        await wait_for(lambda: "bob typing" in _pane_text(desk), pilot)


async def test_viewing_presence_is_set_and_cleared_on_quit(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m2")
        await pilot.press("enter")
        await desk.settle()
        assert (AGENT, "viewing") in (await store.presence()).get(case_id, [])
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, pilot)
    assert not (await store.presence()).get(case_id)


async def test_slow_tick_reranks_and_moves_the_sla_clock(store):
    from tests.desk_helpers import NOW

    now = [NOW]
    app = make_app(store=store, clock=lambda: now[0])
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("enter")
        await desk.settle()
        before = desk.model.heat(case_id)
        assert "BREACHED" not in _pane_text(desk)
        now[0] = NOW + timedelta(hours=2)
        desk._tick()
        await pilot.pause()
        assert desk.model.heat(case_id) > before
        assert "BREACHED" in _pane_text(desk)


# -- moving around -------------------------------------------------------------------------


async def test_cursor_keys(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        ids = list(desk.model.ids())
        await pilot.press("j")
        assert desk.queue.cursor_case_id == ids[1]
        await pilot.press("down", "down")
        assert desk.queue.cursor_case_id == ids[3]
        await pilot.press("k")
        assert desk.queue.cursor_case_id == ids[2]
        await pilot.press("G")
        assert desk.queue.cursor_case_id == ids[-1]
        await pilot.press("g")
        assert desk.queue.cursor_case_id == ids[0]
        await pilot.press("up")
        assert desk.queue.cursor_case_id == ids[0]


async def test_enter_and_tab_at_narrow_width(store):
    app = make_app(store=store)
    async with app.run_test(size=NARROW) as pilot:
        desk = await desk_of(pilot)
        assert desk.narrow
        assert not desk.timeline.display or not desk.timeline.region.width
        await pilot.press("j", "enter")
        await desk.settle()
        assert desk.has_class("pane-open")
        assert desk.timeline.has_focus
        assert desk.open_id == list(desk.model.ids())[1]
        await pilot.press("tab")
        assert desk.queue.has_focus and not desk.has_class("pane-open")
        await pilot.press("tab")
        await desk.settle()
        assert desk.timeline.has_focus
        await pilot.press("escape")
        assert desk.queue.has_focus and not desk.has_class("pane-open")


async def test_tab_moves_focus_at_wide_width(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        assert desk.queue.has_focus
        await pilot.press("tab")
        assert desk.timeline.has_focus
        await pilot.press("tab")
        assert desk.queue.has_focus


# -- case actions --------------------------------------------------------------------------


async def test_claim_and_release(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("c")
        await desk.settle()
        assert (await store.case(case_id)).assignee == AGENT
        assert desk.model.get(case_id).assignee == AGENT
        await pilot.press("C")
        await desk.settle()
        assert (await store.case(case_id)).assignee is None
        assert (await kinds(store, case_id))[-2:] == ["claim", "release"]


async def test_claim_conflict_asks_to_take_over(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await store.claim(case_id, "bob")
        await pilot.press("c")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("n")
        await desk.settle()
        assert (await store.case(case_id)).assignee == "bob"
        await pilot.press("c")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await desk.settle()
        assert (await store.case(case_id)).assignee == AGENT


async def test_reply_goes_to_the_outbox_and_undo_unsends(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("r")
        await type_in_composer(pilot, "Hi Dave, we open 10:00–16:00 on Sundays.")
        await pilot.press("ctrl+s")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.outbox[-1].kind == "reply"
        assert detail.outbox[-1].text.startswith("Hi Dave")
        assert detail.case.assignee == AGENT  # replying claims
        assert detail.case.status is Status.ACKNOWLEDGED
        assert any("u to undo" in n.message for n in app._notifications)
        await pilot.press("u")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.outbox[-1].state == "cancelled"
        assert detail.events[-1].kind == "undo"


async def test_draft_checks_warn_before_a_public_reply(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m1")
        await pilot.press("r")
        composer = await type_in_composer(pilot, "Not our fault. Mail bob@example.com")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is composer and composer.query_one("#warnings").display
        assert not (await store.detail(case_id)).outbox
        await pilot.press("ctrl+s")
        await desk.settle()
        assert (await store.detail(case_id)).outbox[-1].text.startswith("Not our fault")


async def test_reply_to_a_case_someone_else_holds_asks_first(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await store.claim(case_id, "bob")
        await wait_for(lambda: desk.model.get(case_id).assignee == "bob", pilot)
        await pilot.press("r")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await type_in_composer(pilot, "Hello from the desk")
        await pilot.press("ctrl+s")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.assignee == AGENT
        assert detail.outbox[-1].text == "Hello from the desk"
        claim = [e for e in detail.events if e.kind == "claim"][-1]
        assert claim.data.get("from") == "bob"


async def test_case_taken_while_typing_asks_before_sending(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("r")
        await type_in_composer(pilot, "typed while bob grabbed it")
        await store.claim(case_id, "bob")
        await pilot.press("ctrl+s")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.assignee == AGENT
        assert detail.outbox[-1].text == "typed while bob grabbed it"


async def test_keys_typed_right_after_the_action_key_land_in_the_composer(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("n", *"reported", "ctrl+s")
        await desk.settle()
        assert (await store.detail(case_id)).events[-1].body == "reported"


async def test_reply_declined_take_over_sends_nothing(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await store.claim(case_id, "bob")
        await wait_for(lambda: desk.model.get(case_id).assignee == "bob", pilot)
        await pilot.press("r")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("n")
        await desk.settle()
        assert not (await store.detail(case_id)).outbox


async def test_acknowledge_promises_a_time(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m1")
        await pilot.press("a")
        composer = await wait_screen(pilot, Composer)
        draft = composer.draft
        assert "@maria" in draft and "UTC" in draft
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, Composer), pilot)
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.promised_by is not None
        assert detail.outbox[-1].text == draft
        reply = [e for e in detail.events if e.kind == "reply"][-1]
        assert reply.data.get("promised_by")


async def test_offline_by_dm_phone_and_email(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m1")
        await pilot.press("o")
        await wait_screen(pilot, ChoiceDialog)
        app.screen.dismiss("dm")
        await type_in_composer(pilot, "Could you send your order number here?")
        await pilot.press("ctrl+s")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.outbox[-1].kind == "dm"
        assert detail.case.status is Status.OFFLINE

        desk2_case = await case_of(store, "m4")
        desk.select_case(desk2_case)
        await desk.settle()
        await pilot.press("o")
        await wait_screen(pilot, ChoiceDialog)
        app.screen.dismiss("phone")
        dialog = await wait_screen(pilot, TextDialog)
        dialog.query_one(Input).value = "calling at 3pm"
        await pilot.press("enter")
        await desk.settle()
        event = (await store.detail(desk2_case)).events[-1]
        assert event.kind == "offline" and event.data["channel"] == "phone"
        assert event.body == "calling at 3pm"

        third = await case_of(store, "m5")
        desk.select_case(third)
        await desk.settle()
        await pilot.press("o")
        await wait_screen(pilot, ChoiceDialog)
        app.screen.dismiss("email")
        await wait_screen(pilot, TextDialog)
        await pilot.press("enter")
        await desk.settle()
        event = (await store.detail(third)).events[-1]
        assert event.kind == "offline" and event.data["channel"] == "email"


async def test_escalate_with_note_and_phone(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m3")
        await pilot.press("e")
        dialog = await wait_screen(pilot, EscalateDialog)
        dialog.query_one("#t2").value = True
        dialog.query_one("#phone").value = True
        dialog.query_one("#note", Input).value = "chargeback threat, 52k followers"
        await pilot.press("enter")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.escalation_tier == 2 and detail.case.phone_callback
        event = detail.events[-1]
        assert event.kind == "escalate" and event.data["note"].startswith("chargeback")
        assert detail.outbox[-1].kind == "escalation"


async def test_escalation_choices_show_which_is_on_without_colour(store):
    """The chosen tier and a ticked call-back are drawn as marks, the others blank: Textual
    alone draws ● on every radio button and tells them apart by colour only."""
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        await open_on(pilot, store, "m3")
        await pilot.press("e")
        dialog = await wait_screen(pilot, EscalateDialog)

        def marks() -> tuple[str, str, str]:
            return tuple(dialog.query_one(f"#{name}").render().plain[:3]
                         for name in ("t1", "t2", "phone"))

        assert marks() == ("▐●▌", "▐ ▌", "▐ ▌")
        dialog.query_one("#t2").value = True
        dialog.query_one("#phone").value = True
        await pilot.pause()
        assert marks() == ("▐ ▌", "▐●▌", "▐X▌")


async def test_escalate_from_the_keyboard_alone(store):
    """No mouse: the note has focus; shift+tab reaches the tier (↓ and space pick tier 2),
    tab twice reaches the call-back (space ticks it), ctrl+s escalates."""
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m3")
        await pilot.press("e")
        await wait_screen(pilot, EscalateDialog)
        await pilot.press(*"VIP")
        await pilot.press("shift+tab", "down", "space", "tab", "tab", "space", "ctrl+s")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.escalation_tier == 2 and detail.case.phone_callback
        assert detail.events[-1].data["note"] == "VIP"


async def test_escalate_cancel_changes_nothing(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m3")
        await pilot.press("e")
        await wait_screen(pilot, EscalateDialog)
        await pilot.press("escape")
        await desk.settle()
        assert (await store.case(case_id)).escalation_tier == 0


async def test_note(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m2")
        await pilot.press("n")
        await type_in_composer(pilot, "regular customer, happy")
        await pilot.press("ctrl+s")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.events[-1].kind == "note"
        assert detail.events[-1].body == "regular customer, happy"
        assert not detail.outbox


async def test_resolve_then_close_the_loop(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m2")
        await pilot.press("x")
        await desk.settle()
        assert (await store.case(case_id)).status is Status.RESOLVED
        # resolved cases leave the open view
        assert desk.model.index_of(case_id) is None
        await pilot.press("5")
        assert desk.select_case(case_id)
        await desk.settle()
        await pilot.press("l")
        composer = await wait_screen(pilot, Composer)
        assert "how it went" in composer.draft
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, Composer), pilot)
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.case.status is Status.CLOSED
        assert detail.outbox[-1].kind == "followup"


async def test_close_the_loop_on_an_open_case_resolves_first(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("l")
        await wait_screen(pilot, Composer)
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, Composer), pilot)
        await desk.settle()
        statuses = [e.body for e in (await store.detail(case_id)).events if e.kind == "status"]
        assert (await store.case(case_id)).status is Status.CLOSED
        assert len(statuses) >= 2


async def test_tag_and_untag(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m1")
        await pilot.press("t")
        dialog = await wait_screen(pilot, TextDialog)
        dialog.query_one(Input).value = "billing refund"
        await pilot.press("enter")
        await desk.settle()
        assert (await store.case(case_id)).tags == ["billing", "refund"]
        await pilot.press("t")
        dialog = await wait_screen(pilot, TextDialog)
        dialog.query_one(Input).value = "-refund"
        await pilot.press("enter")
        await desk.settle()
        assert (await store.case(case_id)).tags == ["billing"]


async def test_snooze(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("z")
        await wait_screen(pilot, ChoiceDialog)
        await pilot.press("enter")  # 30 minutes
        await desk.settle()
        case = await store.case(case_id)
        assert case.status is Status.SNOOZED and case.snoozed_until is not None


async def test_undo_with_nothing_to_undo_says_why(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, _case_id = await open_on(pilot, store, "m4")
        await pilot.press("u")
        await desk.settle()
        assert any("nothing to undo" in n.message for n in app._notifications)


async def test_transition_error_is_a_notification(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await store.resolve(case_id, "bob")
        await store.close_case(case_id, "bob", None)
        await pilot.press("x")  # the desk has not caught up yet, or has: either way a reason
        await desk.settle()
        assert app.is_running
        assert any(n.severity == "error" for n in app._notifications) or \
            desk.model.index_of(case_id) is None


async def test_a_worker_waking_as_the_desk_shuts_down_ends_quietly(store):
    """Textual removes the desk's widgets before it cancels the desk's workers; a worker
    whose store call returns in between must end quietly, not crash the exit (a CI flake:
    NoMatches '#queue' from a desk worker after the screen was gone). The same miss while
    the desk is alive is a bug and must still raise."""
    from textual.css.query import NoMatches

    from tui.desk import DeskScreen

    guarded = DeskScreen._load_pane.__wrapped__  # what the worker runs: guard around body
    bare = guarded.__wrapped__
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        case_id = next(iter(desk.model.ids()))
        desk.open_id = case_id
        await desk.query_one("#timeline").remove()
        assert not desk.gone
        with pytest.raises(NoMatches):  # alive and the pane missing: a real bug, raised
            await guarded(desk)
    with app._context():  # as during the shutdown, where workers still see their app
        assert desk.gone
        desk.open_id = case_id
        with pytest.raises(NoMatches):  # without the guard the late worker crashes...
            await bare(desk)
        assert await guarded(desk) is None  # ...with it, it ends quietly


async def test_score_reopen_and_wait_from_the_palette_actions(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await desk.run_action("wait_customer")
        await desk.settle()
        assert (await store.case(case_id)).status is Status.WAITING
        await store.resolve(case_id, AGENT)
        await desk.settle()
        desk.model.set_view("all")
        desk.select_case(case_id)
        await desk.settle()
        await desk.run_action("score")
        dialog = await wait_screen(pilot, ScoreDialog)
        await pilot.press("5")
        dialog.query_one("#note", Input).value = "textbook"
        dialog.query_one("#note", Input).focus()
        await pilot.press("enter")
        await desk.settle()
        detail = await store.detail(case_id)
        assert detail.qa[-1]["score"] == 5 and detail.qa[-1]["note"] == "textbook"
        await desk.run_action("reopen")
        await desk.settle()
        assert (await store.case(case_id)).status is Status.ACKNOWLEDGED


# -- the queue -----------------------------------------------------------------------------


async def test_marks_and_bulk_resolve_tag_assign(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        ids = list(desk.model.ids())
        await pilot.press("g", "space", "space")
        assert desk.model.marked() == ids[:2]
        await pilot.press("t")
        dialog = await wait_screen(pilot, TextDialog)
        dialog.query_one(Input).value = "wave"
        await pilot.press("enter")
        await desk.settle()
        for case_id in ids[:2]:
            assert "wave" in (await store.case(case_id)).tags
        # marks clear after a bulk action; mark again and assign to bob
        await pilot.press("g", "space", "space")
        await desk.run_action("assign_marked")
        dialog = await wait_screen(pilot, TextDialog)
        dialog.query_one(Input).value = "bob"
        await pilot.press("enter")
        await desk.settle()
        for case_id in ids[:2]:
            assert (await store.case(case_id)).assignee == "bob"
        await pilot.press("g", "space", "space", "space")
        await pilot.press("x")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await desk.settle()
        for case_id in ids[:3]:
            assert (await store.case(case_id)).status is Status.RESOLVED
        assert not desk.model.marks


async def test_bulk_claim(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        await desk.settle()
        await pilot.press("G", "space")
        await pilot.press("g", "space")
        await pilot.pause()
        # The rows may re-rank between the key presses; claim what was actually marked.
        marked = set(desk.model.marked())
        assert len(marked) == 2
        await pilot.press("c")
        await desk.settle()
        for case_id in marked:
            assert (await store.case(case_id)).assignee == AGENT


async def test_sort_cycle_and_reverse_keep_the_selection(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        await pilot.press("j", "j")
        chosen = desk.queue.cursor_case_id
        await pilot.press("s")
        assert desk.model.sort_key == "age"
        assert desk.queue.cursor_case_id == chosen
        await pilot.press("S")
        assert desk.model.reverse
        assert desk.queue.cursor_case_id == chosen


async def test_filter_and_escape_clears(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        await pilot.press("slash")
        assert desk.query_one("#filter", Input).has_focus
        await pilot.press(*"refund")  # matches the last message, customer or tags
        assert len(desk.model) == 1
        await pilot.press("enter")
        assert desk.queue.has_focus and len(desk.model) == 1
        await pilot.press("escape")
        assert len(desk.model) == 5
        await pilot.press("slash", *"hours", "escape")
        assert len(desk.model) == 5 and desk.queue.has_focus


async def test_saved_views(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m3")
        await store.escalate(case_id, "bob", 1)
        mine = await case_of(store, "m2")
        await store.claim(mine, AGENT)
        resolved = await case_of(store, "m4")
        await store.resolve(resolved, AGENT)
        await wait_for(lambda: desk.model.get(case_id).escalation_tier == 1, pilot)
        await wait_for(lambda: desk.model.get(mine).assignee == AGENT, pilot)
        # every delta in, the resolve too (it may come after the other two)
        await wait_for(lambda: desk.model.get(resolved).resolved_at is not None, pilot)
        await pilot.press("2")
        assert list(desk.model.ids()) == [mine]
        await pilot.press("3")
        assert list(desk.model.ids()) == [case_id]
        await pilot.press("5")
        assert list(desk.model.ids()) == [await case_of(store, "m4")]
        await pilot.press("4")
        assert desk.model.view == "breaching"
        await pilot.press("1")
        assert len(desk.model) == 4


# -- the desk ------------------------------------------------------------------------------


async def test_help_lists_every_key(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        await desk_of(pilot)
        await pilot.press("question_mark")
        await wait_screen(pilot, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_keys_are_remappable_from_config(store):
    from tests.desk_helpers import desk_config

    config = desk_config()
    config.keys = {"claim": "K", "reopen": "R", "nonsense": "Z"}
    app = make_app(store=store, config=config)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        assert desk.key_for("claim") == "K"
        await pilot.press("K")
        await desk.settle()
        assert (await store.case(case_id)).assignee == AGENT
        assert any("nonsense" in n.message for n in app._notifications)


async def test_command_palette_runs_a_desk_action(store):
    from textual.command import CommandPalette

    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, case_id = await open_on(pilot, store, "m4")
        await pilot.press("ctrl+p")
        await wait_screen(pilot, CommandPalette)
        await pilot.press(*"claim the case")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await desk_of(pilot)
        await desk.settle()
        assert (await store.case(case_id)).assignee == AGENT


async def test_quit_asks_when_the_outbox_holds_unsent_items(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        _desk, case_id = await open_on(pilot, store, "m4")
        await store.reply(case_id, AGENT, "queued")
        await pilot.press("q")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        await pilot.press("q")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_for(lambda: not app.is_running, pilot)


async def test_wallboard_key_never_crashes(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await desk_of(pilot)
        await pilot.press("w")
        await pilot.pause(0.3)
        assert app.is_running
        try:
            from tui.wallboard import WallboardScreen
        except ImportError:
            assert any("wallboard" in n.message.lower() for n in app._notifications)
            return
        await wait_screen(pilot, WallboardScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is desk


async def test_hostile_text_is_shown_not_obeyed(store):
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk, _case_id = await open_on(pilot, store, "m5")
        await pilot.press("enter")
        await desk.settle()
        text = _pane_text(desk)
        assert "[bold red]Evil[/]" in text
        assert "[link=http://x]click[/link]" in text
        assert "\x1b" not in text and "52;c" not in text


async def test_unopenable_store_is_one_line(tmp_path):
    from tui.app import DeskApp

    bad = tmp_path / "not-a-dir" / "x" / "desk.db"
    (tmp_path / "not-a-dir").write_text("a file, not a directory")
    app = DeskApp(db=str(bad), agent=AGENT, live=False)
    async with app.run_test() as pilot:
        await pilot.pause(0.5)
    assert app.error
