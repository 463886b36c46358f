"""The composer: length limits and counting, saved replies, draft checks, cancel."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Static, TextArea

from tests.desk_helpers import wait_screen
from tui.composer import Composer, grapheme_count, length_of, limit_for
from tui.dialogs import ChoiceDialog, ConfirmDialog


def test_limits_per_platform():
    assert limit_for("mastodon") == 500
    assert limit_for("bluesky") == 300
    assert limit_for("reddit") == 10000
    assert limit_for("webhook") == 1000
    assert limit_for("rss") == 1000


@pytest.mark.parametrize("text, graphemes", [
    ("hello", 5),
    ("", 0),
    ("e\u0301", 1),  # e + combining acute
    ("👩‍👩‍👧", 1),  # family: ZWJ sequence
    ("👍🏽", 1),  # skin tone
    ("🇩🇪🇫🇷", 2),  # two flags
    ("❤️", 1),  # heart + variation selector
    ("a\r\nb", 3),
])
def test_grapheme_count(text, graphemes):
    assert grapheme_count(text) == graphemes


def test_bluesky_counts_graphemes_others_code_points():
    family = "👩‍👩‍👧"
    assert length_of(family, "bluesky") == 1
    assert length_of(family, "mastodon") == len(family)


class Harness(App):
    """Opens one composer and records what it dismissed with."""

    def __init__(self, composer: Composer) -> None:
        super().__init__()
        self.composer = composer
        self.result: object = "not yet"

    def on_mount(self) -> None:
        self.push_screen(self.composer, self._done)

    def _done(self, value) -> None:
        self.result = value


def make(**kw) -> Composer:
    defaults = {"title": "Reply in public to #1 maria", "platform": "mastodon", "public": True,
                    "replies": {"ack": "Hi {customer}, back to you by {promised_time}. {agent} "
                             "at {brand}"},
                    "values": {"customer": "@maria", "promised_time": "14:45 UTC",
                            "agent": "alice", "brand": "Acme"},
                    "check": lambda text, public: []}
    defaults.update(kw)
    return Composer(**defaults)


def _static_text(screen, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render())


async def test_live_count_and_send():
    app = Harness(make())
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        await pilot.press(*"thanks")
        assert "6 / 500" in _static_text(composer, "#count")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.result == "thanks"


async def test_over_the_limit_refuses_to_send():
    app = Harness(make(platform="bluesky"))
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        composer.query_one(TextArea).text = "x" * 301
        await pilot.pause()
        assert "1 too long" in _static_text(composer, "#count")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is composer
    assert app.result == "not yet"


async def test_empty_draft_is_not_sent():
    app = Harness(make())
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is composer


async def test_saved_reply_fills_variables():
    app = Harness(make())
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        await pilot.press("ctrl+t")
        await wait_screen(pilot, ChoiceDialog)
        await pilot.press("enter")
        await wait_screen(pilot, Composer)
        assert composer.draft == "Hi @maria, back to you by 14:45 UTC. alice at Acme"


async def test_draft_warnings_then_second_send_goes_anyway():
    calls = []

    def check(text, public):
        calls.append((text, public))
        return ["sounds defensive", "an email address in public"]

    app = Harness(make(check=check))
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        composer.query_one(TextArea).text = "write to bob@example.com, not our fault"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is composer
        assert "sounds defensive" in _static_text(composer, "#warnings")
        assert composer.query_one("#warnings").display
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.result == "write to bob@example.com, not our fault"
    assert calls == [("write to bob@example.com, not our fault", True)]


async def test_editing_after_a_warning_checks_again():
    app = Harness(make(check=lambda text, public: ["too blunt"] if "blunt" in text else []))
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        composer.query_one(TextArea).text = "blunt"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        composer.query_one(TextArea).text = "kind words"
        await pilot.pause()
        assert not composer.query_one("#warnings").display
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.result == "kind words"


async def test_checks_off_for_notes():
    app = Harness(make(checks=False, check=lambda t, p: ["never shown"], public=False))
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        composer.query_one(TextArea).text = "internal"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.result == "internal"


async def test_escape_on_an_empty_draft_cancels_at_once():
    app = Harness(make())
    async with app.run_test() as pilot:
        await wait_screen(pilot, Composer)
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_escape_on_a_draft_asks_first():
    app = Harness(make())
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        await pilot.press(*"half a thought")
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("n")  # keep
        await wait_screen(pilot, Composer)
        assert composer.draft == "half a thought"
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
    assert app.result is None


async def test_untouched_template_cancels_without_asking():
    app = Harness(make(text="Hi @maria, "))
    async with app.run_test() as pilot:
        await wait_screen(pilot, Composer)
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_real_draft_rules_are_used_when_present():
    from tui.composer import draft_issues

    try:
        import store.rules.drafts  # noqa: F401
    except ImportError:
        assert draft_issues("anything", True) == []
    else:
        assert isinstance(draft_issues("call me at +1 555 123 4567", True), list)


async def test_markup_in_the_context_is_shown_literally():
    app = Harness(make(context="[bold red]boom[/] \x1b]52;c;aGk=\x07"))
    async with app.run_test() as pilot:
        composer = await wait_screen(pilot, Composer)
        shown = _static_text(composer, ".context")
        assert "[bold red]boom[/]" in shown and "\x1b" not in shown
