"""The wallboard: the store reads it follows, and the screen at three sizes (tui/wallboard.py)."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from textual.app import App
from textual.widgets import Digits

import store.api as store_api
from store import open_store
from store.config import Config
from store.rules.sla import SlaTargets
from tests.conftest import T0, mention
from tui.wallboard import (
    BarList,
    Tile,
    WallboardApp,
    WallboardScreen,
    count_text,
    default_thresholds,
    duration_text,
    percent_text,
    run_wallboard,
    thresholds_for,
    tone,
)


async def test_mention_stats_after_follows_new_mentions_by_id(store):
    await store.ingest([mention("m1", text="love it", minutes=0),
                        mention("m2", author="bob@example.social", text="awful", minutes=5),
                        mention("b1", author="acme@mastodon.example", text="sorry!", minutes=6)])
    rows = await store.mention_stats_after(0, T0 - timedelta(hours=1))
    assert [r[1] for r in rows] == [T0, T0 + timedelta(minutes=5)]  # the brand's post left out
    assert rows[0][2] > 0 > rows[1][2]
    last = rows[-1][0]
    assert await store.mention_stats_after(last, T0 - timedelta(hours=1)) == []
    await store.ingest([mention("m3", author="carol@example.social", minutes=-90),
                        mention("m4", author="dan@example.social", minutes=10)])
    newer = await store.mention_stats_after(last, T0 - timedelta(hours=1))
    assert [r[1] for r in newer] == [T0 + timedelta(minutes=10)]  # m3 is older than `since`
    assert all(r[0] > last for r in newer)


async def test_events_after_filters_by_id_time_and_kind(store):
    result = await store.ingest([mention("m1", text="where is my parcel")])
    case_id = next(iter(result.case_ids))
    await store.claim(case_id, "alice")
    await store.reply(case_id, "alice", "Looking into it now.")
    everything = await store.events_after(0, T0 - timedelta(days=3650))
    assert [e.kind for e in everything][:1] == ["mention"]
    assert {"claim", "reply"} <= {e.kind for e in everything}
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    replies = await store.events_after(0, T0 - timedelta(days=3650), kinds=["reply", "dm"])
    assert [e.kind for e in replies] == ["reply"] and replies[0].agent == "alice"
    assert await store.events_after(replies[0].id, T0 - timedelta(days=3650)) == [
        e for e in everything if e.id > replies[0].id]
    assert await store.events_after(0, T0 - timedelta(days=3650), kinds=[]) == []
    future = everything[-1].at + timedelta(hours=1)
    assert await store.events_after(0, future) == []


# -- a desk with hand-worked numbers -------------------------------------------------------

NOW = T0 + timedelta(minutes=60)  # 11:00 UTC; "today" is 22 Nov from 00:00 UTC


class Clock:
    """The store's clock during a fill: every write is stamped at T0 + ``minutes``."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self):
        return self.t

    def at(self, minutes: float) -> Clock:
        self.t = T0 + timedelta(minutes=minutes)
        return self


def desk_config(**wallboard) -> Config:
    # Equal targets for both priorities, so the numbers do not depend on the heat rules.
    return Config(brand="Acme Outfitters", handles=["acme@mastodon.example"],
                  sla=SlaTargets(first_response={"hot": 60, "normal": 60},
                                 next_response={"hot": 120, "normal": 120}),
                  wallboard=wallboard)


async def fill_desk(store, clock: Clock) -> dict[str, int]:
    """Six cases worked through a morning (times are minutes from 10:00 UTC).

    erin  bluesky  08:00 opened; ana answers 09:30 (FRT 90, late); resolved 09:35; refund, shipping
    alice mastodon 09:00 opened; ana answers 09:20 (FRT 20); alice again 09:30; ana 10:10 (NRT 40)
    bob   bluesky  09:40 opened; nobody answers (waiting 80 min at 11:00: a breach)
    dan   reddit   09:50 opened; ben takes it offline 10:20 (FRT 30); escalated tier 1; refund
    frank mastodon 10:15 opened; ana acknowledges 10:16 (FRT 1), promising 10:45; shipping
    carol mastodon 10:30 opened; unanswered (waiting 30 min, inside the target)
    """

    async def ingest(ext, author, minutes, platform, text):
        clock.at(minutes)
        result = await store.ingest([mention(ext, author=author, minutes=minutes,
                                             platform=platform, text=text)])
        return next(iter(result.case_ids))

    ids = {}
    ids["erin"] = await ingest("e1", "erin", -120, "bluesky",
                               "Terrible service, still no refund after three weeks")
    ids["alice"] = await ingest("a1", "alice", -60, "mastodon", "Where is my order? It is late")
    clock.at(-40)
    await store.claim(ids["alice"], "ana")
    await store.reply(ids["alice"], "ana", "Sorry, checking now.")
    clock.at(-30)
    await store.claim(ids["erin"], "ana")
    await store.reply(ids["erin"], "ana", "So sorry for the wait.")
    await ingest("a2", "alice", -30, "mastodon", "Still nothing, this is awful")
    clock.at(-25)
    await store.resolve(ids["erin"], "ana")
    await store.tag(ids["erin"], "ana", "refund")
    await store.tag(ids["erin"], "ana", "shipping")
    ids["bob"] = await ingest("b1", "bob", -20, "bluesky", "App keeps crashing at checkout")
    ids["dan"] = await ingest("d1", "dan", -10, "reddit", "I was charged twice, want my money")
    clock.at(10)
    await store.reply(ids["alice"], "ana", "Found it: it ships today.")
    ids["frank"] = await ingest("f1", "frank", 15, "mastodon", "Love the new boots, great fit")
    clock.at(16)
    await store.claim(ids["frank"], "ana")
    await store.reply(ids["frank"], "ana", "Thanks! Back to you by 10:45.",
                      promised_by=T0 + timedelta(minutes=45))
    await store.tag(ids["frank"], "ana", "shipping")
    clock.at(20)
    await store.claim(ids["dan"], "ben")
    await store.take_offline(ids["dan"], "ben", "phone")
    clock.at(25)
    await store.escalate(ids["dan"], "ben", 1, "refund over the agent limit")
    await store.tag(ids["dan"], "ben", "refund")
    ids["carol"] = await ingest("c1", "carol", 30, "mastodon", "Do you ship to Norway?")
    clock.at(60)
    return ids


@pytest.fixture
def store_clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(store_api, "utcnow", clock)
    return clock


@pytest.fixture
async def desk_store(tmp_path, store_clock):
    """A real SQLite store in tmp_path holding the morning above."""
    s = await open_store(str(tmp_path / "desk.db"), desk_config())
    s.ids = await fill_desk(s, store_clock)
    yield s
    await s.close()


def board_app(store, config=None, **kw) -> WallboardApp:
    return WallboardApp(config=config or store.config, store=store, clock=lambda: NOW,
                        tz=UTC, **kw)


async def shown(pilot, at_least: int = 1, timeout: float = 5.0) -> WallboardScreen:
    """The board once it has drawn ``at_least`` snapshots."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if isinstance(screen, WallboardScreen) and screen.refreshes >= at_least:
            await pilot.pause()
            return screen
        await pilot.pause(0.02)
    raise AssertionError("the wallboard did not draw in time")


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    return "\n".join("".join(seg.text for seg in strip)
                     for strip in app.screen._compositor.render_strips())


def tiles(screen) -> dict[str, Tile]:
    return {t.metric: t for t in screen.query(Tile)}


def visible(widget) -> bool:
    """On screen: displayed, with a non-empty region inside the terminal."""
    region = widget.region
    size = widget.app.size
    return (widget.display and region.width > 0 and region.height > 0
            and region.right <= size.width and region.bottom <= size.height)


EXPECTED = {  # metric: (big digits, note, level with the default thresholds)
    "queue_depth": ("5", "2 awaiting", None),
    "oldest_waiting_minutes": ("1:20", "h:mm", "alarm"),  # bob since 09:40; target 60
    "sla_breaches": ("1", "0 at risk", "warn"),
    "service_level_percent": ("60%", "3/5 in target", "alarm"),  # alice, dan, frank of 5 due
    "median_frt_minutes": ("0:25", "h:mm today", "ok"),  # 1, 20, 30, 90 minutes
    "median_nrt_minutes": ("0:40", "h:mm today", None),  # alice: 09:30 → 10:10
    "open_escalations": ("1", "T1 1", None),
    "promises_broken": ("1", "open, past due", "warn"),  # frank: promised 10:45
}


async def test_board_shows_the_hand_worked_numbers_at_120x40(desk_store):
    app = board_app(desk_store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await shown(pilot)
        assert screen.has_class("-medium") and screen.has_class("-tall")
        for metric, (value, note, lvl) in EXPECTED.items():
            tile = tiles(screen)[metric]
            assert (tile.value, tile.note, tile.level) == (value, note, lvl), metric
            assert visible(tile)
        assert tiles(screen)["oldest_waiting_minutes"].has_class("level-alarm")
        assert tiles(screen)["sla_breaches"].word == "WARN"
        assert tiles(screen)["service_level_percent"].word == "ALARM"
        assert tiles(screen)["queue_depth"].word == ""
        assert screen.query_one("#platforms", BarList).rows == [
            ("mastodon", 3, ""), ("bluesky", 1, ""), ("reddit", 1, "")]
        assert screen.query_one("#tags", BarList).rows == [("refund", 2, ""), ("shipping", 2, "")]
        assert [r[:2] for r in screen.query_one("#agents", BarList).rows] == [("ana", 2),
                                                                            ("ben", 1)]
        m = screen.metrics
        assert sum(m.volume) == 6 and m.volume[-1] == 0  # 09:00–11:00; erin's 08:00 is older
        text = screen_text(app)
        for words in ("Acme Outfitters", "WALLBOARD", "11:00", "2 agents active", "VOLUME",
                      "SENTIMENT", "CASES PER PLATFORM", "TOP TAGS", "AGENTS", "FEEDS",
                      "mastodon", "refund", "ana", "ALARM", "WARN", "3/5 in target"):
            assert words in text, words
        assert "last 5 min 0 · peak 1 · 6 in 2 h" in text
        # No customer text reaches the board.
        for words in ("Norway", "charged twice", "boots", "crashing", "alice", "erin"):
            assert words not in text, words


async def test_compact_board_at_80x24_shows_headline_numbers_and_one_trend(desk_store):
    app = board_app(desk_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot)
        assert screen.has_class("-narrow") and screen.has_class("-short")
        for metric, (value, _, lvl) in EXPECTED.items():
            tile = tiles(screen)[metric]
            assert tile.value == value and tile.level == lvl
            assert visible(tile), metric
        assert visible(screen.query_one("#trend-volume"))
        assert not screen.query_one("#trend-sentiment").display
        assert not screen.query_one("#wb-panels").display
        text = screen_text(app)
        assert "ALARM" in text and "WARN" in text and "VOLUME" in text
        assert "SENTIMENT" not in text and "TOP TAGS" not in text
        assert "q Quit" in text


async def test_wide_board_at_200x50_shows_everything(desk_store):
    app = board_app(desk_store)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await shown(pilot)
        assert screen.has_class("-wide") and screen.has_class("-tall")
        rows = {t.region.y for t in screen.query(Tile)}
        assert len(rows) == 1  # the eight tiles in one row
        for widget_id in ("#trend-volume", "#trend-sentiment", "#panel-platforms", "#panel-tags",
                          "#panel-agents", "#panel-feeds"):
            assert visible(screen.query_one(widget_id)), widget_id
        text = screen_text(app)
        for words in ("OLDEST WAITING", "PROMISES BROKEN", "today from Sun 22 Nov 00:00",
                      "reddit", "shipping", "ben", "no feed has reported"):
            assert words in text, words


async def test_board_follows_the_store_within_seconds(desk_store, store_clock):
    app = board_app(desk_store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await shown(pilot)
        before = screen.refreshes
        assert tiles(screen)["queue_depth"].value == "5"
        store_clock.at(59)
        await desk_store.ingest([mention("g1", author="gina", minutes=59,
                                         text="Is the Oslo store open today?")])
        await desk_store.escalate(desk_store.ids["carol"], "ana", 2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if tiles(screen)["queue_depth"].value == "6":
                break
            await pilot.pause(0.05)
        assert screen.refreshes > before
        assert tiles(screen)["queue_depth"].value == "6"
        assert tiles(screen)["queue_depth"].note == "3 awaiting"
        assert tiles(screen)["open_escalations"].note == "T1 1 · T2 1"
        assert screen.metrics.volume[-1] == 1  # gina, 10:59


async def test_a_change_during_a_slow_snapshot_is_not_left_for_the_tick(desk_store, store_clock,
                                                                        monkeypatch):
    from tui import wallboard

    def slow_snapshot(*args, **kw):
        time.sleep(0.3)
        return wallboard_snapshot(*args, **kw)

    wallboard_snapshot = wallboard.snapshot
    monkeypatch.setattr(wallboard, "snapshot", slow_snapshot)
    monkeypatch.setattr(wallboard, "TICK", 60.0)  # only changes may trigger a redraw here
    app = board_app(desk_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot)
        store_clock.at(59)
        for n, author in enumerate(("gina", "hal", "ivy")):
            await desk_store.ingest([mention(f"g{n}", author=author, minutes=59)])
            await pilot.pause(0.15)  # lands while the previous snapshot is computing
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and tiles(screen)["queue_depth"].value != "8":
            await pilot.pause(0.05)
        assert tiles(screen)["queue_depth"].value == "8"


async def test_thresholds_come_from_the_config(desk_store):
    config = desk_config(thresholds={
        "queue_depth": {"warn": 3, "alarm": 10},
        "sla_breaches": {"warn": 1, "alarm": 1},
        "service_level_percent": {"warn": 50, "alarm": 40},  # overrides the default
        "open_escalations": {"warn": "many"},  # not a number: reported, ignored
    })
    app = board_app(desk_store, config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await shown(pilot)
        t = tiles(screen)
        assert (t["queue_depth"].level, t["queue_depth"].word) == ("warn", "WARN")
        assert t["queue_depth"].query_one(Digits).has_class("level-warn")
        assert (t["sla_breaches"].level, t["sla_breaches"].word) == ("alarm", "ALARM")
        assert t["sla_breaches"].query_one(Digits).has_class("level-alarm")
        assert (t["service_level_percent"].level, t["service_level_percent"].word) == ("ok", "")
        assert t["oldest_waiting_minutes"].level == "alarm"  # the default still applies
        assert t["open_escalations"].level == "ok"
        notes = [str(n.message) for n in app._notifications]
        assert any("wallboard.thresholds.open_escalations.warn" in n for n in notes)


def test_default_thresholds_follow_the_sla_target():
    config = desk_config()
    assert default_thresholds(config)["oldest_waiting_minutes"] == {"warn": 45, "alarm": 60}
    merged, problems = thresholds_for(desk_config(thresholds={"sla_breaches": {"warn": 9}}))
    assert merged["sla_breaches"] == {"warn": 9} and problems == []
    assert merged["promises_broken"] == {"warn": 1, "alarm": 3}


async def test_tags_are_text_never_markup_and_customer_text_stays_off(desk_store, store_clock):
    hostile = "[bold red]pwned[/] \x1b]52;c;ZXZpbA==\x07\x1b[2J"
    store_clock.at(40)
    await desk_store.ingest([mention("h1", author="mallory", minutes=40,
                                     text="[link=https://evil.example]click[/link] \x1b[31mred")])
    case_id = (await desk_store.cases(status="new"))[-1].id
    await desk_store.tag(case_id, "ana", hostile)
    app = board_app(desk_store)
    async with app.run_test(size=(200, 50)) as pilot:
        await shown(pilot)
        text = screen_text(app)
        assert "[bold red]pwne…" in text  # shown as typed (cropped to the column), not obeyed
        assert "\x1b" not in text and "\x07" not in text
        assert "evil.example" not in text and "click" not in text and "mallory" not in text


async def test_theme_defaults_to_wallboard_and_honours_theme_and_no_color(desk_store,
                                                                          monkeypatch):
    app = board_app(desk_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot)
        assert app.theme == "heatdesk-wallboard"
    app = board_app(desk_store, theme="heatdesk-light")
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot)
        assert app.theme == "heatdesk-light"
    app = board_app(desk_store, theme="no-such-theme")
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot)
        assert app.theme == "heatdesk-wallboard"
        assert any("unknown theme 'no-such-theme'" in str(n.message) for n in app._notifications)
    monkeypatch.setenv("NO_COLOR", "1")
    app = board_app(desk_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot)
        assert app.no_color
        # Levels still read in monochrome: a word in the frame, bold/reverse digits.
        tile = tiles(screen)["oldest_waiting_minutes"]
        assert tile.word == "ALARM" and tile.query_one(Digits).has_class("level-alarm")


async def test_q_quits_the_standalone_board(desk_store):
    app = board_app(desk_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot)
        await pilot.press("escape")  # nothing to go back to
        assert app.screen is screen
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


class Host(App):
    """Stands in for the desk: pushes the board as a screen."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(WallboardScreen(self.store, self.store.config, clock=lambda: NOW,
                                         tz=UTC))


@pytest.mark.parametrize("key", ["escape", "w", "q"])
async def test_pushed_board_goes_back_on_esc_w_and_q(desk_store, key):
    app = Host(desk_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot)
        assert "esc Desk" in screen_text(app)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, WallboardScreen)
        assert app.is_running


async def test_the_desk_opens_the_board_on_w(desk_store):
    from tui.app import DeskApp

    app = DeskApp(config=desk_store.config, store=desk_store, agent="ana", live=False,
                  clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("w")
        screen = await shown(pilot)
        assert tiles(screen)["queue_depth"].value == "5"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "DeskScreen"


def test_run_wallboard_reports_a_store_that_cannot_open(tmp_path, capsys):
    import argparse

    code = run_wallboard(argparse.Namespace(db=str(tmp_path), theme=None), desk_config())
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("heatdesk: ")


def test_formatting():
    assert duration_text(None) == "-"
    assert duration_text(timedelta(minutes=7, seconds=59)) == "0:07"
    assert duration_text(timedelta(hours=26, minutes=5)) == "26:05"
    assert duration_text(timedelta(seconds=-5)) == "0:00"
    assert percent_text(None) == "-"
    assert percent_text(99.9) == "99%" and percent_text(100.0) == "100%"
    assert count_text(12345) == "12,345"
    assert tone(-0.3) == "negative" and tone(0.0) == "neutral" and tone(0.5) == "positive"
