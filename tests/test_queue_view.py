"""The queue widget in a real (headless) app: keys, marks, messages, hostile text, layout,
and a cursor that stays on its case while rows move."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from store.records import Case, Status
from tui.queue_model import QueueModel, synthetic_cases
from tui.queue_view import COLUMNS, QueueView, heat_styles, layout, span

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOSTILE = [
    "\x1b]52;c;cm0gLXJmIH4vKgo=\x07copied",  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example\x1b\\acme support\x1b]8;;\x1b\\",  # OSC 8: a fake link
    "\x1b[2J\x1b[H\x1b[31mwiped\x1b[0m",  # CSI: clear screen, colour
    "\x9b31m8-bit\x9d0;title\x9c",  # 8-bit C1 CSI and OSC
    "\u202edesrever\u202c \u2066iso\u2069",  # bidi override and isolate
    "nul\x00bell\x07back\x08cr\rline\nbreak\ttab",
    "[bold red]markup[/] [link=https://x]y[/link] :smile:",
    "👩\u200d👩\u200d👧 日本語のテキストはとても長いです 😡😡",
]


BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI


def hostile_cases() -> list[Case]:
    cases = synthetic_cases(1000, NOW)
    for i, text in enumerate(HOSTILE):
        cases[i].last_text = text
        cases[i].customer = text
        cases[i].heat_static = 99.0 - i  # at the top of the queue
        cases[i].assignee = text[:12]
    return cases


class QueueApp(App):
    """A bare app hosting one QueueView, recording its messages."""

    def __init__(self, model: QueueModel, **kw) -> None:
        super().__init__()
        self.model = model
        self.kw = kw
        self.highlighted: list[int | None] = []
        self.selected: list[int] = []

    def compose(self) -> ComposeResult:
        yield QueueView(self.model, **self.kw)

    def on_queue_view_highlighted(self, message: QueueView.Highlighted) -> None:
        self.highlighted.append(message.case_id)

    def on_queue_view_selected(self, message: QueueView.Selected) -> None:
        self.selected.append(message.case_id)


def make_model(cases=None, **kw) -> QueueModel:
    model = QueueModel(now=NOW, **kw)
    model.upsert(cases if cases is not None else synthetic_cases(1000, NOW))
    return model


def lines(view: QueueView) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


async def test_keys_move_the_cursor_and_announce_the_case():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.pause()
        assert view.cursor_index == 0 and view.cursor_case_id == model.id_at(0)
        await pilot.press("j", "j", "down")
        assert view.cursor_index == 3
        await pilot.press("k", "up")
        assert view.cursor_index == 1
        await pilot.press("G")
        assert view.cursor_index == len(model) - 1
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        assert lines(view)[-1].startswith("▸")
        await pilot.press("g")
        assert view.cursor_index == 0 and view.scroll_y == 0
        await pilot.press("end", "home")
        assert view.cursor_index == 0
        await pilot.press("k")  # already at the top
        assert view.cursor_index == 0
        await pilot.press("j", "pagedown")  # 24 lines: a header and 23 rows
        assert view.cursor_index == 24 and view.scroll_y == 23
        await pilot.press("pageup")
        assert view.cursor_index == 1 and view.scroll_y == 0
        await pilot.pause()
        assert app.highlighted[0] == model.id_at(0)
        assert app.highlighted[1:4] == [model.id_at(1), model.id_at(2), model.id_at(3)]
        assert app.highlighted[-1] == model.id_at(1)


async def test_space_marks_and_enter_selects():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.press("j", "space", "j", "space", "j")
        assert model.marked() == [model.id_at(1), model.id_at(2)]
        await pilot.pause()
        assert lines(view)[2].startswith(" ✓") and lines(view)[4].startswith("▸ ")
        await pilot.press("k", "space")
        assert model.marked() == [model.id_at(1)]
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [model.id_at(2)]


async def test_hostile_rows_render_no_escapes_and_keep_their_columns():
    model = make_model(hostile_cases())
    for size in ((80, 24), (120, 30), (44, 12), (24, 12), (10, 5)):
        app = QueueApp(model, presence={model.id_at(0): "✎ bob\x1b[5m"})
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            view = app.query_one(QueueView)
            width = view.scrollable_content_region.width
            for y in range(view.size.height):
                strip = view.render_line(y)
                assert strip.cell_length == width
                assert not any(unsafe(ch) for ch in strip.text), (size, strip.text)
                for segment in strip:
                    assert segment.style is None or segment.style.link is None
                    assert segment.control is None
            shown = "\n".join(lines(view))
            assert "[bold red]markup[/]" in shown or size[0] < 60  # shown, not obeyed
            if size[0] >= 80:
                assert "acme support" in shown and "copied" in shown
                assert "✎" in shown


async def test_cursor_stays_on_its_case_when_rows_move():
    cases = synthetic_cases(1000, NOW)
    model = make_model(cases)
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.press(*["j"] * 5)
        target = view.cursor_case_id
        assert view.cursor_index == 5
        await pilot.pause()
        announced = len(app.highlighted)
        # Ten new cases hotter than everything arrive above it.
        newcomers = synthetic_cases(10, NOW, seed=99)
        for i, c in enumerate(newcomers):
            c.id, c.heat_static, c.waiting_since = 5000 + i, 100.0, None
        model.upsert(newcomers)
        await pilot.pause()
        assert view.cursor_case_id == target and view.cursor_index == 15
        assert lines(view)[16].startswith("▸")
        # The case itself cools down to the bottom: the cursor goes with it.
        c = model.get(target)
        c.heat_static, c.waiting_since = -50.0, None
        model.upsert([c])
        await pilot.pause()
        assert view.cursor_case_id == target and view.cursor_index == len(model) - 1
        assert view.scroll_y == view.max_scroll_y
        # Time passes and the queue re-ranks: still the same case.
        model.rerank(NOW + timedelta(minutes=30))
        await pilot.pause()
        assert view.cursor_case_id == target
        assert len(app.highlighted) == announced  # the case under the cursor never changed


async def test_cursor_moves_on_when_its_case_leaves():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.press("j", "j")
        gone, following = model.id_at(2), model.id_at(3)
        case = model.get(gone)
        case.status = Status.RESOLVED  # leaves the open view
        model.upsert([case])
        await pilot.pause()
        assert view.cursor_index == 2 and view.cursor_case_id == following
        assert app.highlighted[-1] == following
        model.set_filter("no case has this text")
        await pilot.pause()
        assert len(model) == 0 and view.cursor_case_id is None
        assert lines(view)[1].strip() == ""
        model.set_filter("")
        await pilot.pause()
        assert view.cursor_case_id == model.id_at(0)


async def test_header_shows_columns_and_sort():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.pause()
        header = view.render_line(0).text
        for label in ("heat▼", "sla", "plat", "customer", "status", "agent", "message"):
            assert label in header
        model.set_sort("sla", reverse=True)
        await pilot.pause()
        assert "sla▲" in view.render_line(0).text
        model.set_sort("sentiment")
        await pilot.pause()
        assert "by sentiment▼" in view.render_line(0).text


async def test_click_selects_a_row_and_the_header_sorts():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.click(QueueView, offset=(30, 4))
        assert view.cursor_index == 3
        await pilot.click(QueueView, offset=(30, 4), times=2)
        await pilot.pause()
        assert app.selected == [model.id_at(3)]
        await pilot.click(QueueView, offset=(8, 0))  # the sla column header
        assert model.sort_key == "sla"


async def test_rows_are_cached_until_something_they_show_changes():
    model = make_model()
    app = QueueApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(QueueView)
        await pilot.pause()
        first = view.render_line(3)
        assert view.render_line(3) is first
        case = model.row_at(2)
        case.last_text = "changed text"
        model.upsert([case])
        await pilot.pause()
        assert "changed text" in view.render_line(3).text


def test_layout_fits_every_width_and_keeps_all_columns_at_80():
    names = [c.name for c in COLUMNS]
    assert [c.name for c, _ in layout(79)] == names
    for width in range(12, 200):
        cols = layout(width)
        used = sum(w for _, w in cols) + len(cols) - 1
        flexible = {"message", "customer"} & {c.name for c, _ in cols}
        assert used == width if flexible else used <= width or width < 13
        assert [c.name for c, _ in cols][:3] == ["gutter", "heat", "sla"]


def test_heat_scale_and_durations():
    smooth = heat_styles()
    assert len(smooth) == 101 and smooth[0].color != smooth[100].color
    stepped = heat_styles(["blue", "yellow", "red"])  # 16-colour themes: no blending
    assert {s.color.name for s in stepped} == {"blue", "yellow", "red"}
    assert [span(s) for s in (5, 600, 7200, 86400 * 3, -300)] == ["5s", "10m", "2h", "3d", "5m"]


@pytest.mark.parametrize("palette", [None, ["#000000", "#ffffff"], ["red"]])
async def test_no_color_still_shows_heat_as_numbers_and_bars(monkeypatch, palette):
    monkeypatch.setenv("NO_COLOR", "1")
    model = make_model()
    app = QueueApp(model, palette=palette)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(QueueView)
        row = view.render_line(1).text
        heat = model.heat(model.id_at(0))
        assert f"{round(heat):>3}" in row[:6] and any(b in row[:7] for b in "▁▂▃▄▅▆▇█")
        assert cell_len(row) == view.scrollable_content_region.width


def test_bench_view_reports_first_paint_and_key_latency():
    from tui.queue_view import bench_view

    result = bench_view(300, presses=2, size=(80, 24))
    assert result["n"] == 300
    for key in ("first_paint_ms", "key_j_median_ms", "pagedown_median_ms", "G_g_median_ms"):
        assert result[key] >= 0
