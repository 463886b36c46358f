"""The desk's queue widget: a virtualised list of cases on Textual's Line API.

``QueueView`` draws a ``QueueModel`` (``tui.queue_model``): only the visible lines are
rendered, each row cached as a ``Strip`` keyed by everything it depends on (case, row
version, width, cursor, mark, presence, clock tick, sort and style generations), so 100k
cases cost no more to show than 30. Line 0 is a fixed header; the cursor follows the
same case when rows move. All case text goes through ``tui.safe_text`` (never markup).

Columns shrink and drop to fit (80 columns keep all of them): heat (number + bar, on a
continuous calm→hot colour scale, so it still reads with NO_COLOR), SLA countdown (``12m``
left, ``-5m!`` breached; a dim age when nobody waits), platform, customer, status (+
escalation tier), assignee (+ presence marker from ``set_presence``) and the last message.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.color import Color, ColorType
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store.records import Status
from tui.queue_model import QueueModel
from tui.safe_text import clean, fit

DEFAULT_PALETTE = ("#5b8def", "#e3b341", "#f85149")  # calm blue → amber → hot red
BARS = "▁▂▃▄▅▆▇█"
PLATFORM_SHORT = {"mastodon": "mast", "bluesky": "bsky", "reddit": "rddt", "rss": "rss",
                  "webhook": "hook", "demo": "demo", "replay": "rply"}
STATUS_SHORT = {Status.NEW: "new", Status.ACKNOWLEDGED: "ack", Status.OFFLINE: "offl",
                Status.WAITING: "wait", Status.SNOOZED: "snz", Status.RESOLVED: "res",
                Status.CLOSED: "done"}
FREEZE_ROWS = 20_000  # gc.freeze() after the first load and after growing this much
SORT_COLUMN = {"heat": "heat", "age": "sla", "sla": "sla", "platform": "platform"}


@dataclass(frozen=True)
class Column:
    """One queue column: its header, its width range, and when it gives way."""

    name: str
    label: str
    min: int
    ideal: int
    drop: int = 0  # 0: never dropped; else dropped in ascending order when space runs out
    align: str = "left"


COLUMNS = (
    Column("gutter", "", 2, 2),
    Column("heat", "heat", 4, 4),
    Column("sla", "sla", 5, 5, align="right"),
    Column("platform", "plat", 4, 4, drop=2),
    Column("customer", "customer", 8, 16, drop=5),
    Column("status", "status", 6, 6, drop=3),
    Column("agent", "agent", 6, 10, drop=1),
    Column("message", "message", 10, 10, drop=4),
)


def layout(width: int) -> list[tuple[Column, int]]:
    """Columns and widths that fill ``width`` cells (one space between columns)."""
    kept = list(COLUMNS)

    def need(cols: list[Column]) -> int:
        return sum(c.min for c in cols) + len(cols) - 1

    for col in sorted((c for c in COLUMNS if c.drop), key=lambda c: c.drop):
        if need(kept) <= width:
            break
        kept.remove(col)
    widths = {c.name: c.min for c in kept}
    spare = width - need(kept)
    for col in kept:  # grow towards ideal widths in column order
        grow = max(0, min(spare, col.ideal - col.min))
        widths[col.name] += grow
        spare -= grow
    flex = "message" if "message" in widths else "customer" if "customer" in widths else None
    if flex and spare > 0:
        widths[flex] += spare
    return [(c, max(0, widths[c.name])) for c in kept]


def heat_styles(palette: Sequence[str] = DEFAULT_PALETTE) -> list[Style]:
    """101 foreground styles for heat 0..100 along the palette (stepped for 16 colours)."""
    stops = [Color.parse(p) for p in palette] or [Color.parse("default")]
    smooth = all(c.type in (ColorType.TRUECOLOR, ColorType.EIGHT_BIT) for c in stops)
    styles = []
    for heat in range(101):
        pos = heat / 100 * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2) if len(stops) > 1 else 0
        if not smooth or len(stops) == 1:
            styles.append(Style(color=stops[min(round(pos), len(stops) - 1)]))
            continue
        a, b = stops[i].get_truecolor(), stops[i + 1].get_truecolor()
        t = pos - i
        rgb = tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
        styles.append(Style(color=Color.from_rgb(*rgb)))
    return styles


def span(seconds: float) -> str:
    """A short duration: 45s, 12m, 5h, 3d."""
    s = abs(seconds)
    if s < 60:
        return f"{int(s)}s"
    if s < 6000:
        return f"{int(s // 60)}m"
    if s < 172800:
        return f"{int(s // 3600)}h"
    return f"{min(99, int(s // 86400))}d"


class QueueView(ScrollView, can_focus=True):
    """The queue of cases, hottest first, drawn from a ``QueueModel`` one line at a time."""

    DEFAULT_CSS = """
    QueueView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .queue-view--header { text-style: bold; background: $panel; color: $foreground; }
        & > .queue-view--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .queue-view--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .queue-view--marked { background: $accent 25%; text-style: bold; }
        & > .queue-view--dim { color: $text-muted; }
        & > .queue-view--breached { color: $text-error; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue-view--header", "queue-view--cursor", "queue-view--marked", "queue-view--dim",
        "queue-view--breached",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next case", show=False, id="queue.next"),
        Binding("k,up", "cursor_up", "Previous case", show=False, id="queue.previous"),
        Binding("g,home", "first", "Top", show=False, id="queue.top"),
        Binding("G,shift+g,end", "last", "Bottom", show=False, id="queue.bottom"),
        Binding("pageup", "page_up", "Page up", show=False, id="queue.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="queue.page_down"),
        Binding("space", "toggle_mark", "Mark", id="queue.mark"),
        Binding("enter", "select", "Open", id="queue.open"),
    ]

    class Highlighted(Message):
        """The cursor moved to another case (``case_id`` None when the queue is empty)."""

        def __init__(self, queue_view: QueueView, case_id: int | None) -> None:
            super().__init__()
            self.queue_view = queue_view
            self.case_id = case_id

        @property
        def control(self) -> QueueView:
            return self.queue_view

    class Selected(Message):
        """The agent opened a case (enter, or a double click)."""

        def __init__(self, queue_view: QueueView, case_id: int) -> None:
            super().__init__()
            self.queue_view = queue_view
            self.case_id = case_id

        @property
        def control(self) -> QueueView:
            return self.queue_view

    def __init__(self, model: QueueModel, *, palette: Sequence[str] | None = None,
                 presence: Mapping[int, str] | None = None, rerank_every: float | None = None,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.model = model
        self.presence: dict[int, str] = dict(presence or {})
        self.rerank_every = rerank_every
        self._palette = tuple(palette or DEFAULT_PALETTE)
        self._heat_styles = heat_styles(self._palette)
        self._cursor_index = 0
        self._cursor_id: int | None = None
        self._announced: int | None = None
        self._style_generation = 0
        self._styles: dict[str, Style] | None = None
        self._row_cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._header_cache: LRUCache[tuple, Strip] = LRUCache(16)
        self._layouts: dict[int, list[tuple[Column, int]]] = {}
        self._painted: dict[int, tuple | None] = {}  # line y -> key of what it shows now
        self._frozen_at = 0  # model size when the loaded rows were last frozen (gc)

    # -- public ----------------------------------------------------------------------------

    @property
    def cursor_case_id(self) -> int | None:
        """The case under the cursor, if any."""
        return self._cursor_id

    @property
    def cursor_index(self) -> int:
        """The cursor's row in the current order."""
        return self._cursor_index

    def select_case(self, case_id: int) -> bool:
        """Move the cursor to a case; False when it is not shown."""
        index = self.model.index_of(case_id)
        if index is None:
            return False
        self._move_to(index)
        return True

    def set_presence(self, presence: Mapping[int, str]) -> None:
        """Who else is looking at or typing on which case: ``{case_id: "👁 bob"}``."""
        self.presence = dict(presence)
        self._refresh_changed()

    def set_palette(self, palette: Sequence[str]) -> None:
        """Colour stops for heat, calm first (e.g. from a theme's heat palette)."""
        self._palette = tuple(palette)
        self._heat_styles = heat_styles(self._palette)
        self._restyle()

    # -- lifecycle -------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.model.add_listener(self._model_changed)
        if self.rerank_every:
            self.set_interval(self.rerank_every, self.model.rerank)
        self._model_changed()

    def on_unmount(self) -> None:
        self.model.remove_listener(self._model_changed)

    def on_resize(self, event: events.Resize) -> None:
        self._sync_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._restyle()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _restyle(self) -> None:
        self._style_generation += 1
        self._styles = None
        self._row_cache.clear()
        self._header_cache.clear()
        self.refresh()

    def _sync_size(self) -> None:
        size = Size(self.scrollable_content_region.width, len(self.model) + 1)
        if size == self.virtual_size:
            return
        scroll_update = getattr(self, "_scroll_update", None)
        if not self.is_mounted or size.width != self.virtual_size.width or scroll_update is None:
            self.virtual_size = size
            return
        # Rows arrive and leave with every delta. Assigning virtual_size would lay out the
        # whole screen each time (a frame several times as costly); the scroll range and
        # the scrollbar are all that change. A scrollbar appearing still asks for a layout.
        self.set_reactive(QueueView.virtual_size, size)
        scroll_update(size)

    def _model_changed(self) -> None:
        """Keep the cursor on the same case as rows move, arrive and leave."""
        model = self.model
        count = len(model)
        self._sync_size()
        index = None if self._cursor_id is None else model.index_of(self._cursor_id)
        if index is None:  # the case left the view: stay at the same place in the list
            index = min(self._cursor_index, count - 1)
        self._set_cursor(max(0, index), scroll=index != self._cursor_index)
        self._refresh_changed()
        if model.total and (not self._frozen_at or model.total - self._frozen_at >= FREEZE_ROWS):
            # The first load, or a big one: move what is loaded out of the collector's
            # reach. A full collection takes ~120 ms at 10k cases and ~200 ms at 100k, a
            # frozen screen every few seconds while mentions stream in
            # (tui/queue_model.py's docstring asks the desk for this).
            self._frozen_at = model.total
            gc.freeze()

    # -- cursor ----------------------------------------------------------------------------

    def _set_cursor(self, index: int, scroll: bool = True) -> None:
        count = len(self.model)
        self._cursor_index = index = max(0, min(index, count - 1))
        self._cursor_id = self.model.id_at(index) if count else None
        if scroll and count:
            self._scroll_cursor_into_view()
        if self._cursor_id != self._announced:
            self._announced = self._cursor_id
            self.post_message(self.Highlighted(self, self._cursor_id))

    def _move_to(self, index: int) -> None:
        old = self._cursor_index
        self._set_cursor(index)
        if self._cursor_index != old:
            self._refresh_changed()

    def _rows_visible(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top, rows = round(self.scroll_y), self._rows_visible()
        if self._cursor_index < top:
            self.scroll_to(y=self._cursor_index, animate=False, immediate=True)
        elif self._cursor_index >= top + rows:
            self.scroll_to(y=self._cursor_index - rows + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self._move_to(self._cursor_index + 1)

    def action_cursor_up(self) -> None:
        self._move_to(self._cursor_index - 1)

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self.model) - 1)

    def action_page_down(self) -> None:
        self._page(self._rows_visible())

    def action_page_up(self) -> None:
        self._page(-self._rows_visible())

    def _page(self, rows: int) -> None:
        """Scroll a page and move the cursor with it, so it keeps its line on screen."""
        self.scroll_to(y=round(self.scroll_y) + rows, animate=False, immediate=True)
        self._move_to(self._cursor_index + rows)

    def action_toggle_mark(self) -> None:
        if self._cursor_id is not None:
            self.model.toggle_mark(self._cursor_id)

    def action_select(self) -> None:
        if self._cursor_id is not None:
            self.post_message(self.Selected(self, self._cursor_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            self._click_header(offset.x)
            return
        index = round(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.model):
            self._move_to(index)
            if event.chain >= 2:
                self.action_select()

    def _click_header(self, x: int) -> None:
        """Sort by the clicked column (again: reverse)."""
        start = 0
        for col, width in self._layout(self.scrollable_content_region.width):
            if start <= x < start + width + 1:
                key = next((k for k, c in SORT_COLUMN.items() if c == col.name and k != "age"),
                           None)
                if key is not None:
                    model = self.model
                    model.set_sort(key, reverse=not model.reverse if model.sort_key == key
                                   else False)
                return
            start += width + 1

    # -- rendering -------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        cols = self._layouts.get(width)
        if cols is None:
            cols = self._layouts[width] = layout(width)
        return cols

    def _style(self) -> dict[str, Style]:
        if self._styles is None:
            base = self.rich_style

            def part(name: str) -> Style:
                return self.get_component_rich_style(name, partial=True)

            cursor = self.get_component_rich_style("queue-view--cursor")
            marked = self.get_component_rich_style("queue-view--marked")
            self._styles = {
                "base": base,
                "header": self.get_component_rich_style("queue-view--header"),
                "dim": base + part("queue-view--dim"),
                "breached": base + part("queue-view--breached"),
                "cursor": cursor,
                "marked": Style(bgcolor=marked.bgcolor, bold=marked.bold),
            }
        return self._styles

    def _line_key(self, y: int, width: int) -> tuple | None:
        """Everything line ``y`` depends on (its Strip's cache key); None for a blank line."""
        model = self.model
        if y == 0:
            return (width, model.sort_key, model.reverse, self._style_generation)
        index = round(self.scroll_y) + y - 1
        if index >= len(model) or width <= 0:
            return None
        case_id = model.id_at(index)
        selected = index == self._cursor_index
        return (case_id, model.version(case_id), width, selected, selected and self.has_focus,
                case_id in model.marks, self.presence.get(case_id), model.tick,
                model.sort_generation, self._style_generation)

    def _refresh_changed(self) -> None:
        """Repaint only the lines that now show something else.

        A cursor step changes two lines and a delta usually a few, yet a whole-widget
        refresh makes the compositor redo every visible line; at 60 frames a second with
        mentions streaming in, that is most of a frame's cost.
        """
        height = self.scrollable_content_region.height
        width = self.scrollable_content_region.width
        painted = self._painted
        if not painted:
            self.refresh()
            return
        dirty = [y for y in range(height) if self._line_key(y, width) != painted.get(y, ())]
        if len(dirty) > height // 2:
            self.refresh()
            return
        full = self.size.width
        start = None
        for i, y in enumerate(dirty):  # one region per run of neighbouring lines
            if start is None:
                start = y
            if i + 1 == len(dirty) or dirty[i + 1] != y + 1:
                self.refresh(Region(0, start, full, y - start + 1))
                start = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        key = self._line_key(y, width)
        self._painted[y] = key
        if y == 0:
            return self._render_header(width)
        if key is None:
            return Strip.blank(width, self._style()["base"])
        case_id, _, _, selected, _, marked = key[:6]
        strip = self._row_cache.get(key)
        if strip is None:
            strip = self._row_cache[key] = self._render_row(case_id, width, selected, marked)
        return strip

    def _render_header(self, width: int) -> Strip:
        model = self.model
        key = (width, model.sort_key, model.reverse, self._style_generation)
        strip = self._header_cache.get(key)
        if strip is not None:
            return strip
        style = self._style()["header"]
        arrow = "▲" if model.reverse else "▼"
        sorted_col = SORT_COLUMN.get(model.sort_key, "message")
        cols = self._layout(width)
        cells = []
        for i, (col, w) in enumerate(cols):
            label = col.label
            if col.name == "message" and sorted_col == "message":  # no column of its own
                label = f"{label} · by {model.sort_key}{arrow}"
            elif col.name == sorted_col:
                label = f"{'age' if model.sort_key == 'age' else label}{arrow}"
            if col.align == "right" and len(label) <= w:
                label = label.rjust(w)
            # A label may run into the space after its column: room for the sort arrow.
            cells.append(fit(label, w + (i < len(cols) - 1), ellipsis=False))
        strip = Strip([Segment(fit("".join(cells), width, ellipsis=False), style)], width)
        self._header_cache[key] = strip
        return strip

    def _render_row(self, case_id: int, width: int, selected: bool, marked: bool) -> Strip:
        model, styles = self.model, self._style()
        case = model.get(case_id)
        base, dim = styles["base"], styles["dim"]
        heat = model.heat(case_id)
        cells: list[tuple[str, Style]] = []
        for col, w in self._layout(width):
            name = col.name
            if name == "gutter":
                text, style = ("▸" if selected else " ") + ("✓" if marked else " "), base
            elif name == "heat":
                level = min(100, max(0, round(heat)))
                text = f"{level:>3}{BARS[min(7, level * 8 // 100)]}"
                style = base + self._heat_styles[level]
            elif name == "sla":
                text, style = self._sla_cell(case_id, case, styles)
            elif name == "platform":
                text, style = PLATFORM_SHORT.get(case.platform) or clean(case.platform), dim
            elif name == "customer":
                text, style = case.customer, base
            elif name == "status":
                text = STATUS_SHORT.get(case.status, str(case.status))
                if case.escalation_tier:
                    text = f"{text} E{case.escalation_tier}"
                style = base
            elif name == "agent":
                presence = self.presence.get(case_id)
                # Cleaned apart: an unterminated sequence in one must not swallow the other.
                text = " ".join(clean(p) for p in (case.assignee, presence) if p)
                style = base
            else:
                text, style = case.last_text, base
            if col.align == "right":
                text = clean(text)
                text = fit(text.rjust(w), w) if len(text) < w else fit(text, w)
            else:
                text = fit(text, w)
            cells.append((text, style))
        segments: list[Segment] = []
        for i, (text, style) in enumerate(cells):
            if i:
                segments.append(Segment(" ", base))
            segments.append(Segment(text, style))
        used = sum(w for _, w in self._layout(width)) + len(cells) - 1
        if selected or marked:
            overlay = styles["cursor" if selected else "marked"]
            segments = [Segment(t, s + overlay) for t, s, _ in segments]
            base += overlay
        return Strip(segments, used).crop_extend(0, width, base)

    def _sla_cell(self, case_id: int, case, styles: dict[str, Style]) -> tuple[str, Style]:
        remaining = self.model.remaining(case_id)
        if remaining is None:  # nobody waits: show how old the case is, quietly
            return span(self.model.now.timestamp() - case.opened_at.timestamp()), styles["dim"]
        if remaining < 0:
            return f"-{span(remaining)}!", styles["breached"]
        return span(remaining), styles["base"]


# -- measuring ---------------------------------------------------------------------------


def bench_view(n: int = 100_000, presses: int = 50, size: tuple[int, int] = (120, 40),
               *, freeze_gc: bool = True) -> dict:
    """First paint and keypress latency of a QueueView over ``n`` cases, in milliseconds.

    Runs a headless app. A frame counts when the compositor's update is ready and turned
    into the escape sequences a terminal would receive; a key is sent the way a terminal
    driver sends it, and its latency runs until the next such frame. ``freeze_gc`` moves
    the loaded cases out of the collector's reach first (``gc.freeze()``), as a desk should:
    without it a full collection during start-up costs about 100 ms at 100k cases.
    """
    import asyncio
    import gc
    import statistics

    from textual.app import App, ComposeResult

    from tui.queue_model import synthetic_cases

    model = QueueModel()
    cases = synthetic_cases(n, model.now)
    start = time.perf_counter()
    model.upsert(cases)
    load_ms = (time.perf_counter() - start) * 1000
    if freeze_gc:
        gc.collect()
        gc.freeze()

    class Bench(App):
        def compose(self) -> ComposeResult:
            yield QueueView(model)

    async def run() -> dict:
        app = Bench()
        frames: list[float] = []
        shown = app._display

        def display(screen, renderable) -> None:
            if renderable is not None:
                if hasattr(renderable, "render_segments"):
                    renderable.render_segments(app.console)  # what a terminal would be sent
                frames.append(time.perf_counter())
            shown(screen, renderable)

        app._display = display
        begin = time.perf_counter()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            first = (frames[0] - begin) * 1000 if frames else float("nan")

            async def latency(key: str, char: str | None = None) -> float:
                await pilot.pause()
                seen = len(frames)
                sent = time.perf_counter()
                app._driver.send_message(events.Key(key, char))
                while len(frames) == seen and time.perf_counter() - sent < 5:
                    await asyncio.sleep(0.0002)
                return (frames[seen] - sent) * 1000 if len(frames) > seen else float("nan")

            steps = [await latency("j", "j") for _ in range(presses)]
            pages = [await latency("pagedown") for _ in range(10)]
            ends = [await latency(k, k) for k in ("G", "g") * 5]
            seen = len(frames)
            sent = time.perf_counter()
            model.rerank()
            while len(frames) == seen and time.perf_counter() - sent < 5:
                await asyncio.sleep(0.0002)
            tick = (frames[seen] - sent) * 1000 if len(frames) > seen else float("nan")
        return {"first_paint_ms": first, "key_j_median_ms": statistics.median(steps),
                "key_j_max_ms": max(steps), "pagedown_median_ms": statistics.median(pages),
                "G_g_median_ms": statistics.median(ends), "rerank_to_frame_ms": tick}

    try:
        result = asyncio.run(run())
    finally:
        if freeze_gc:
            gc.unfreeze()
    return {"n": n, "freeze_gc": freeze_gc, "load_ms": round(load_ms, 2), **{k: round(v, 2) for k, v in result.items()}}


if __name__ == "__main__":  # python -m tui.queue_view [N] [--no-freeze]
    import json
    import sys

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(bench_view(int(args[0]) if args else 100_000,
                                freeze_gc="--no-freeze" not in sys.argv)))
