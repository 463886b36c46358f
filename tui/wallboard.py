"""The wallboard: the desk at a glance, full screen and read-only.

``WallboardScreen(store, config)`` is what the desk pushes on ``w``; ``WallboardApp`` runs it
on its own (``heatdesk wallboard``, ``run_wallboard``). The numbers are
``store.rules.metrics.snapshot``; their definitions are in METRICS.md.

Data flow: on mount a worker loads the open cases and today's closed ones, the customer
mentions of the trend window and the timeline events NRT is measured on. Then it follows
the change cursor (``wait_for_change``): changed cases are fetched by id, new mentions and
events by id range (``mention_stats_after``/``events_after``), so nothing is reloaded to
see one change. The snapshot is computed in a thread after a change (one at a time,
starting at most every ``MIN_GAP`` seconds) and every ``TICK`` seconds anyway, because
waits and breaches grow with time alone. Measured with 55k open cases, 100k mentions and
100k events in the windows: a snapshot takes about 1 s, a change shows in 1-2.4 s, the
event loop stays responsive (lag under 20 ms); while changes stream in at that size the
thread recomputes back to back (one core).

Decisions worth knowing:
- "Today" starts at local midnight (the desk's time zone when pushed from the desk).
- Levels come from ``[wallboard.thresholds]`` over ``DEFAULT_THRESHOLDS`` (per metric, the
  config wins). A tile past a bound gets ``.level-warn``/``.level-alarm`` (bold, reverse:
  readable without colour) and the word WARN or ALARM.
- Layout follows the terminal: below 32 rows only the headline tiles and the volume trend
  (the compact board); from 32 rows (or 160 columns) the sentiment trend and the panels
  (platforms, tags, agents, feeds) too; 8 tiles in one row from 160 columns.
- No customer text is shown: tags, platform, agent and feed names only, as ``Text``.
- Theme: ``--theme``, else ``theme`` in ``[wallboard]``, else ``heatdesk-wallboard`` (the
  desk's own theme is for the desk). Pushed over the desk, the board keeps the desk's.
- Keys: ``q`` quits the standalone board; pushed over the desk, ``esc``/``w``/``q`` go back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Digits, Footer, Sparkline, Static

from store import open_store
from store.api import Store
from store.config import Config, default_config_path
from store.records import Case, Event, StoreError, utcnow
from store.rules.metrics import (
    RESPONSE_KINDS,
    Level,
    WallboardMetrics,
    check_thresholds,
    is_open,
    level,
    snapshot,
    start_of_day,
    top_tags,
)
from tui.safe_text import clean, fit

try:
    import themes
except ImportError:  # themes/ is optional: the board still runs on Textual's themes
    themes = None  # type: ignore[assignment]

FOLLOW_WAIT = 0.25  # seconds between looks at the change cursor
TICK = 5.0  # recompute at least this often: waits and breaches grow with time alone
MIN_GAP = 0.5  # ... and start one at most this often after changes
PRESENCE_EVERY = 10.0
TREND_HOURS = 6.0
TREND_BUCKET_MINUTES = 15.0
VOLUME_MINUTES = 120.0
VOLUME_BUCKET_MINUTES = 5.0
TAG_ROWS = 12
EVENT_KINDS = frozenset(RESPONSE_KINDS | {"mention", "undo"})
LEVELS = ("ok", "warn", "alarm")


def default_thresholds(config: Config) -> dict[str, dict[str, float]]:
    """Levels a board shows without a ``[wallboard.thresholds]`` table (METRICS.md)."""
    target = config.sla.minutes("normal", first=True)
    return {
        "oldest_waiting_minutes": {"warn": 0.75 * target, "alarm": target},
        "sla_breaches": {"warn": 1, "alarm": 5},
        "service_level_percent": {"warn": 80, "alarm": 60},
        "median_frt_minutes": {"warn": 0.5 * target, "alarm": target},
        "promises_broken": {"warn": 1, "alarm": 3},
    }


def thresholds_for(config: Config) -> tuple[dict[str, Any], list[str]]:
    """The thresholds in force (defaults overlaid by the config) and problems with the table."""
    table = config.wallboard.get("thresholds", {}) if isinstance(config.wallboard, Mapping) else {}
    problems = check_thresholds(table)
    merged: dict[str, Any] = dict(default_thresholds(config))
    if isinstance(table, Mapping):
        merged.update(table)
    return merged, problems


# -- formatting ----------------------------------------------------------------------------


def count_text(n: int) -> str:
    """A count with thousands separators (Digits draws the commas small)."""
    return f"{n:,}"


def duration_text(d: timedelta | None) -> str:
    """A duration as h:mm ("-" when there is nothing to measure)."""
    if d is None:
        return "-"
    minutes = max(0, int(d.total_seconds() // 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def percent_text(p: float | None) -> str:
    """A percentage, rounded down so 100% means every one of them."""
    return "-" if p is None else f"{math.floor(p + 1e-9)}%"


def tone(value: float) -> str:
    """VADER's words for a compound score (±0.05 is the usual neutral band)."""
    return "negative" if value <= -0.05 else "positive" if value >= 0.05 else "neutral"


def _set_level(widget: Widget, lvl: Level | None) -> None:
    for name in LEVELS:
        widget.set_class(lvl == name, f"level-{name}")


# -- widgets -------------------------------------------------------------------------------


class Tile(Vertical):
    """One headline number: its label in the frame, the number in big digits, a note, and
    its level (the frame's foot says WARN or ALARM, so it reads without colour)."""

    def __init__(self, metric: str, label: str, short: str, *, id: str) -> None:
        super().__init__(id=id, classes="tile")
        self.metric = metric
        self.label = label
        self.short_label = short
        self.border_title = label
        self.level: Level | None = None

    def on_resize(self) -> None:
        # The frame keeps three cells each side of its title.
        fits = self.outer_size.width - 6 >= len(self.label)
        self.border_title = self.label if fits else self.short_label

    def compose(self) -> ComposeResult:
        yield Digits("-", classes="tile-value")
        yield Static("", classes="tile-note", markup=False)

    @property
    def value(self) -> str:
        """The text the big digits show."""
        return self.query_one(Digits).value

    @property
    def note(self) -> str:
        """The note under the number, as plain text."""
        return str(self.query_one(".tile-note", Static).render())

    @property
    def word(self) -> str:
        """The level's word in the frame ("" when all is well)."""
        return str(self.border_subtitle or "").strip()

    def show(self, value: str, note: str, lvl: Level | None) -> None:
        """Show a value with its note; ``lvl`` None means the metric has no thresholds."""
        self.level = lvl
        self.query_one(Digits).update(value)
        self.query_one(".tile-note", Static).update(note)
        self.border_subtitle = {"warn": " WARN ", "alarm": " ALARM "}.get(lvl or "", "")
        for widget in (self, self.query_one(Digits), self.query_one(".tile-note", Static)):
            _set_level(widget, lvl)


class BarList(Widget):
    """Labelled counts with bars scaled to the widget's width; untrusted labels as Text."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"barlist--bar"}
    DEFAULT_CSS = """
    BarList { height: 1fr; }
    BarList > .barlist--bar { color: $primary; }
    """

    def __init__(self, *, id: str | None = None, empty: str = "none") -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, int, str]] = []
        self.empty = empty

    def set_rows(self, rows: list[tuple[str, int, str]]) -> None:
        """(label, count, extra) rows, shown in the order given."""
        if rows != self.rows:
            self.rows = rows
            self.refresh()

    def render(self) -> Text:
        width = max(1, self.size.width)
        if not self.rows:
            return Text(self.empty, style="italic")
        label_w = min(max(len(clean(r[0])) for r in self.rows), max(6, width // 3))
        num_w = max(len(f"{r[1]:,}") for r in self.rows)
        extra_w = max(len(r[2]) for r in self.rows)
        bar_w = max(0, width - label_w - num_w - (extra_w + 1 if extra_w else 0) - 3)
        top = max(r[1] for r in self.rows) or 1
        bar_style = self.get_component_rich_style("barlist--bar")
        out = Text(no_wrap=True, overflow="crop")
        for i, (label, n, extra) in enumerate(self.rows):
            if i:
                out.append("\n")
            out.append(fit(label, label_w), style="bold")
            out.append(f" {n:>{num_w},} ")
            cells = n / top * bar_w
            bar = "█" * int(cells) + ("▌" if cells - int(cells) >= 0.5 else "")
            out.append(bar.ljust(bar_w) if extra_w else bar, style=bar_style)
            if extra_w:
                out.append(" " + extra)
        return out


class ScaledSparkline(Sparkline):
    """A Sparkline measured against a fixed scale rather than the data's own min..max, so
    a flat trend looks flat (+0.01 is not drawn as a full bar). ``low``/``high`` None take
    the data's; with ``mid`` the colour runs min → mid → max (sentiment: red, grey, green).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = Sparkline.COMPONENT_CLASSES | {
        "sparkline--mid-color"}
    DEFAULT_CSS = """
    ScaledSparkline > .sparkline--mid-color { color: $foreground 40%; }
    """

    def __init__(self, *, low: float | None = None, high: float | None = None,
                 mid: float | None = None, id: str | None = None) -> None:
        super().__init__([], id=id)
        self.low, self.high, self.mid = low, high, mid

    def render(self) -> Bars:
        _, base = self.background_colors

        def colour(name: str) -> Color:
            return base + self.get_component_styles(f"sparkline--{name}-color").color

        return Bars(list(self.data or []), self.size.width, self.size.height,
                    low=self.low, high=self.high, mid=self.mid, summary=self.summary_function,
                    colours=(colour("min"), colour("mid"), colour("max")))


class Bars:
    """Columns of ▁…█ on a fixed scale, one value per column, coloured by value."""

    GLYPHS = "▁▂▃▄▅▆▇█"

    def __init__(self, values: list[float], width: int, height: int, *, low: float | None,
                 high: float | None, mid: float | None, summary: Callable[[list[float]], float],
                 colours: tuple[Color, Color, Color]) -> None:
        self.values, self.width, self.height = values, max(1, width), max(1, height)
        self.low, self.high, self.mid, self.summary = low, high, mid, summary
        self.colours = colours

    def columns(self) -> list[float]:
        """One value per column: each bucket spread over its columns, or several buckets
        summarised into one column when there are more buckets than columns."""
        n, w = len(self.values), self.width
        if not n:
            return [self.low or 0.0] * w
        out = []
        for c in range(w):
            group = self.values[c * n // w:(c + 1) * n // w]
            out.append(self.summary(group) if group else self.values[min(n - 1, c * n // w)])
        return out

    def _style(self, ratio: float) -> Style:
        low_c, mid_c, high_c = self.colours
        if self.mid is None:
            colour = low_c.blend(high_c, ratio)
        else:
            m = self._ratio(self.mid)
            colour = (low_c.blend(mid_c, ratio / m) if ratio < m and m > 0
                      else mid_c.blend(high_c, (ratio - m) / (1 - m)) if m < 1 else mid_c)
        return Style(color=colour.rich_color)

    def _ratio(self, value: float) -> float:
        span = (self._high - self._low) or 1.0
        return min(1.0, max(0.0, (value - self._low) / span))

    def __rich_console__(self, console, options):
        cols = self.columns()
        self._low = min(cols) if self.low is None else self.low
        self._high = max(cols) if self.high is None else self.high
        ratios = [self._ratio(v) for v in cols]
        styles = [self._style(r) for r in ratios]
        for row in reversed(range(self.height)):
            for ratio, style in zip(ratios, styles, strict=True):
                eighths = int(ratio * self.height * 8) - row * 8
                if eighths >= 8:
                    glyph = "█"
                elif eighths > 0:
                    glyph = self.GLYPHS[eighths - 1]
                else:  # the baseline keeps the time axis visible
                    glyph = "▁" if row == 0 else " "
                yield Segment(glyph, style)
            if row:
                yield Segment.line()


class Trend(Vertical):
    """A sparkline with a caption of the numbers that matter (now, low, peak)."""

    def __init__(self, title: str, spark: ScaledSparkline, *, id: str) -> None:
        super().__init__(id=id, classes="panel trend")
        self.border_title = title
        self.spark = spark

    def compose(self) -> ComposeResult:
        yield Static("", classes="trend-caption", markup=False)
        yield self.spark

    def show(self, data: list[float], caption: Text, lvl: Level | None,
             summary: Callable[[list[float]], float] = max) -> None:
        """New data and caption."""
        spark = self.query_one(Sparkline)
        spark.summary_function = summary
        spark.data = data
        cap = self.query_one(".trend-caption", Static)
        cap.update(caption)
        _set_level(cap, lvl)


class Panel(Vertical):
    """A bordered box with a title and a body."""

    def __init__(self, title: str, body: Widget, *, id: str) -> None:
        super().__init__(body, id=id, classes="panel")
        self.border_title = title


# -- following the store -------------------------------------------------------------------


class BoardData:
    """What the board knows of the store, kept up to date by id, never reloaded."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cases: dict[int, Case] = {}
        self.mentions: list[tuple[datetime, float]] = []
        self.events: list[Event] = []
        self.present: set[str] = set()
        self.holding: dict[str, list[str]] = {}  # agent → presence states
        self.feeds: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.last_mention = 0
        self.last_event = 0
        self.day: datetime | None = None

    @staticmethod
    def mention_window(now: datetime) -> datetime:
        return now - timedelta(hours=max(TREND_HOURS, VOLUME_MINUTES / 60))

    @staticmethod
    def event_window(day: datetime) -> datetime:
        # A next response given today may answer a message from yesterday.
        return day - timedelta(hours=24)

    async def load(self, now: datetime, day: datetime) -> None:
        """Everything the board needs at ``now`` (the one full read)."""
        store = self.store
        self.seq = await store.change_seq()
        self.day = day
        self.cases = {c.id: c for c in await store.open_cases()}
        self.cases.update((c.id, c) for c in await store.cases(since=day))
        await self._new_rows(now)
        await self.load_presence()
        await self.load_feeds()

    async def _new_rows(self, now: datetime) -> None:
        assert self.day is not None
        rows = await self.store.mention_stats_after(self.last_mention, self.mention_window(now))
        if rows:
            self.last_mention = rows[-1][0]
            self.mentions.extend((at, s) for _, at, s in rows)
        events = await self.store.events_after(self.last_event, self.event_window(self.day),
                                               EVENT_KINDS)
        if events:
            self.last_event = events[-1].id
            self.events.extend(events)

    async def follow(self, now: datetime) -> tuple[bool, bool]:
        """Apply what changed since the cursor: (cases or mentions changed, presence changed)."""
        changes = await self.store.changes_since(self.seq)
        if changes.seq == self.seq:
            return False, False
        self.seq = changes.seq
        if changes.case_ids:
            ids = sorted(changes.case_ids)
            for i in range(0, len(ids), 900):
                for case in await self.store.cases(ids=ids[i:i + 900]):
                    self.cases[case.id] = case
            await self._new_rows(now)
        if changes.presence:
            await self.load_presence()
        return bool(changes.case_ids), changes.presence

    async def load_presence(self) -> None:
        presence = await self.store.presence()
        holding: dict[str, list[str]] = {}
        for case_id, entries in presence.items():
            for agent, state in entries:
                holding.setdefault(agent, []).append(f"{state} #{case_id}")
        self.holding = holding
        self.present = set(holding)

    async def load_feeds(self) -> None:
        self.feeds = await self.store.feed_health()

    def new_day(self, day: datetime) -> None:
        """Forget what ended before ``day`` (the board shows today)."""
        self.day = day

        def today(c: Case) -> bool:
            return is_open(c) or max(
                t for t in (c.updated_at, c.opened_at, c.first_response_at, c.resolved_at,
                            c.closed_at) if t is not None) >= day

        self.cases = {i: c for i, c in self.cases.items() if today(c)}

    def inputs(self, now: datetime) -> tuple[list[Case], list[tuple[datetime, float]],
                                             list[Event], list[str]]:
        """Copies for the snapshot thread, trimmed to the windows."""
        assert self.day is not None
        start = self.mention_window(now)
        if self.mentions and self.mentions[0][0] < start:
            self.mentions = [m for m in self.mentions if m[0] >= start]
        since = self.event_window(self.day)
        if self.events and self.events[0].at < since:
            self.events = [e for e in self.events if e.at >= since]
        return (list(self.cases.values()), list(self.mentions), list(self.events),
                sorted(self.present))


# -- the screen ----------------------------------------------------------------------------


TILES = (  # metric, label, label for a narrow tile, id
    ("queue_depth", "OPEN CASES", "OPEN", "tile-open"),
    ("oldest_waiting_minutes", "OLDEST WAITING", "OLDEST WAIT", "tile-oldest"),
    ("sla_breaches", "SLA BREACHES", "BREACHES", "tile-breaches"),
    ("service_level_percent", "SERVICE LEVEL", "SERVICE LVL", "tile-service"),
    ("median_frt_minutes", "MEDIAN FRT", "MEDIAN FRT", "tile-frt"),
    ("median_nrt_minutes", "MEDIAN NRT", "MEDIAN NRT", "tile-nrt"),
    ("open_escalations", "ESCALATIONS", "ESCALATED", "tile-escalations"),
    ("promises_broken", "PROMISES BROKEN", "LATE PROMISES", "tile-promises"),
)


class WallboardScreen(Screen):
    """The desk at a glance: headline numbers, trends, platforms, tags, agents, feeds."""

    CSS_PATH: ClassVar[list] = [
        "wallboard.tcss", *([themes.LEVELS_TCSS] if themes is not None else [])]
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-narrow"), (120, "-medium"), (160, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall")]
    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list] = [
        Binding("escape", "back", "Desk"),
        Binding("w", "back", "Desk", show=False),
        Binding("q", "leave", "Quit"),
    ]

    def __init__(
        self,
        store: Store | None = None,
        config: Config | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        tz: tzinfo | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.store = store
        self.config = config or Config()
        self._clock = clock
        self._tz = tz
        self.live = live
        self.thresholds, self.threshold_problems = thresholds_for(self.config)
        self.data: BoardData | None = None
        self.metrics: WallboardMetrics | None = None
        self.refreshes = 0  # how many snapshots have been shown (tests wait on it)
        self.compute_seconds = 0.0
        self.error: str | None = None

    # -- time ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The board's "now" in its time zone (local unless told otherwise)."""
        clock = self._clock or getattr(self.app, "now", None) or utcnow
        tz = self._tz if self._tz is not None else getattr(self.app, "tz", None)
        return clock().astimezone(tz)

    @property
    def pushed(self) -> bool:
        """True when shown over the desk, which esc goes back to."""
        app = self.app
        return (not isinstance(app, WallboardApp) and len(app.screen_stack) > 1
                and not getattr(app, "start_wallboard", False))

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="wb-header", markup=False)
        with Container(id="wb-tiles"):
            for metric, label, short, tile_id in TILES:
                yield Tile(metric, label, short, id=tile_id)
        with Container(id="wb-trends"):
            yield Trend("VOLUME · per 5 min · last 2 h",
                        ScaledSparkline(low=0, id="volume"), id="trend-volume")
            yield Trend("SENTIMENT · per 15 min · last 6 h",
                        ScaledSparkline(low=-1, high=1, mid=0, id="sentiment"),
                        id="trend-sentiment")
        with Container(id="wb-panels"):
            yield Panel("CASES PER PLATFORM", BarList(id="platforms", empty="no open cases"),
                        id="panel-platforms")
            yield Panel("TOP TAGS", BarList(id="tags", empty="no tags today"), id="panel-tags")
            yield Panel("AGENTS · cases held", BarList(id="agents", empty="nobody active"),
                        id="panel-agents")
            yield Panel("FEEDS", Static("", id="feeds", markup=False), id="panel-feeds")
        yield Footer()

    def on_mount(self) -> None:
        self._update_header()
        for line in self.threshold_problems:
            self.notify(line, severity="warning", timeout=10, markup=False)
        if self.store is None:
            self.store = getattr(self.app, "store", None)
        if self.store is None:
            self.error = "no store to show"
            self.notify("The wallboard has no store to show.", severity="error")
            return
        self.follow_store()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.pushed
        return True

    def action_back(self) -> None:
        if self.pushed:
            self.dismiss()

    async def action_leave(self) -> None:
        if self.pushed:
            self.dismiss()
        else:
            await self.app.action_quit()

    # -- following -----------------------------------------------------------------------

    @work(group="wallboard", exclusive=True)
    async def follow_store(self) -> None:
        """Load, then follow the change cursor and recompute the snapshot in a thread."""
        assert self.store is not None
        data = self.data = BoardData(self.store)
        now = self.now()
        await data.load(now, start_of_day(now))
        await self._recompute()
        last_presence = last_feeds = time.monotonic()
        dirty = False
        while True:
            await self.store.wait_for_change(FOLLOW_WAIT)
            try:
                now = self.now()
                day = start_of_day(now)
                if day != data.day:
                    data.new_day(day)
                changed, presence = await data.follow(now)
                mono = time.monotonic()
                if presence:
                    last_presence = mono
                elif mono - last_presence >= PRESENCE_EVERY:  # entries expire without a change
                    await data.load_presence()
                    last_presence, presence = mono, True
                if mono - last_feeds >= PRESENCE_EVERY:
                    await data.load_feeds()
                    last_feeds = mono
            except StoreError as exc:  # a transient store problem: say so, keep following
                self.notify(f"store: {exc}", severity="error", timeout=5, markup=False)
                await asyncio.sleep(1.0)
                continue
            # A change seen during the gap waits for the next look, not for the tick.
            dirty = dirty or changed or presence
            since = time.monotonic() - self._compute_started
            if (dirty and since >= MIN_GAP) or (self.live and since >= TICK):
                await self._recompute()
                dirty = False

    _compute_started = 0.0

    async def _recompute(self) -> None:
        assert self.data is not None
        now = self.now()
        cases, mentions, events, present = self.data.inputs(now)
        day = self.data.day
        started = self._compute_started = time.monotonic()

        def compute() -> tuple[WallboardMetrics, list[tuple[str, int]]]:
            metrics = snapshot(
                cases, mentions, now, self.config.sla, events=events,
                brand_handles=self.config.handles, agents_present=present, day_start=day,
                trend_hours=TREND_HOURS, trend_bucket_minutes=TREND_BUCKET_MINUTES,
                volume_minutes=VOLUME_MINUTES, volume_bucket_minutes=VOLUME_BUCKET_MINUTES)
            # The panel has room for more tags than the snapshot's top five.
            return metrics, top_tags(cases, day, limit=TAG_ROWS)

        metrics, tags = await asyncio.to_thread(compute)
        self.compute_seconds = time.monotonic() - started
        self.show(metrics, tags)

    # -- drawing -------------------------------------------------------------------------

    def level_of(self, metric: str, value: float | None) -> Level | None:
        """A metric's level, or None when no threshold grades it."""
        if not isinstance(self.thresholds.get(metric), Mapping):
            return None
        return level(metric, value, self.thresholds)

    def show(self, m: WallboardMetrics, tags: list[tuple[str, int]] | None = None) -> None:
        """Draw a snapshot (``tags``: a longer top-tags list than the snapshot's)."""
        self.metrics = m
        values = m.values()
        sl = m.service_level
        tiers = " · ".join(f"T{t} {n}" for t, n in m.escalations.items())
        # Notes stay short: a tile is 16 cells wide on an 80-column board.
        notes = {
            "queue_depth": (count_text(m.queue_depth), f"{m.awaiting_reply:,} awaiting"),
            "oldest_waiting_minutes": (duration_text(m.oldest_waiting),
                                       "nobody waiting" if m.oldest_waiting is None else "h:mm"),
            "sla_breaches": (count_text(m.sla_breaches), f"{m.sla_at_risk:,} at risk"),
            "service_level_percent": (percent_text(sl.percent),
                                      f"{sl.in_target:,}/{sl.counted:,} in target"
                                      if sl.counted else "nothing due yet"),
            "median_frt_minutes": (duration_text(m.median_frt),
                                   "none yet today" if m.median_frt is None else "h:mm today"),
            "median_nrt_minutes": (duration_text(m.median_nrt),
                                   "none yet today" if m.median_nrt is None else "h:mm today"),
            "open_escalations": (count_text(m.open_escalations), tiers or "none open"),
            "promises_broken": (count_text(m.promises_broken), "open, past due"),
        }
        for tile in self.query(Tile):
            value, note = notes[tile.metric]
            tile.show(value, note, self.level_of(tile.metric, values[tile.metric]))
        self._show_trends(m, values)
        self.query_one("#platforms", BarList).set_rows(
            [(p, n, "") for p, n in m.per_platform.items()])
        self.query_one("#tags", BarList).set_rows(
            [(t, n, "") for t, n in (m.top_tags if tags is None else tags)])
        holding = self.data.holding if self.data else {}
        self.query_one("#agents", BarList).set_rows(
            [(a, n, ", ".join(holding.get(a, []))[:24]) for a, n in m.agent_load.items()])
        self._show_feeds()
        self._update_header()
        self.refreshes += 1

    def _show_trends(self, m: WallboardMetrics, values: dict[str, float | None]) -> None:
        vol = m.volume
        cap = Text(no_wrap=True, overflow="ellipsis")
        cap.append(f"last 5 min {vol[-1] if vol else 0:,}", style="bold")
        cap.append(f" · peak {max(vol, default=0):,} · {sum(vol):,} in 2 h")
        self.query_one("#trend-volume", Trend).show(
            [float(v) for v in vol], cap,
            self.level_of("volume_last_bucket", values["volume_last_bucket"]))
        trend = m.sentiment_trend
        now_s = trend[-1] if trend else 0.0
        cap = Text(no_wrap=True, overflow="ellipsis")
        cap.append(f"now {now_s:+.2f} {tone(now_s)}", style="bold")
        if trend:
            cap.append(f" · low {min(trend):+.2f} · high {max(trend):+.2f}")
            cap.append(" · scale −1…+1, a quiet spell reads 0", style="italic")
        self.query_one("#trend-sentiment", Trend).show(
            list(trend), cap, self.level_of("sentiment_now", values["sentiment_now"]),
            summary=lambda xs: sum(xs) / len(xs))

    def _show_feeds(self) -> None:
        feeds = self.data.feeds if self.data else {}
        out = Text(no_wrap=True, overflow="ellipsis")
        if not feeds:
            out.append("no feed has reported", style="italic")
        for i, (name, h) in enumerate(sorted(feeds.items())):
            if i:
                out.append("\n")
            if h.get("finished"):
                mark, state = "■", "finished"
            elif h.get("connected"):
                mark, state = "●", "live"
            else:
                mark, state = "○", "down"
            out.append(f"{mark} ", style="bold")
            out.append(clean(str(name)), style="bold")
            out.append(f" {state} · {int(h.get('events') or 0):,} events")
            if h.get("last_error") and state == "down":
                out.append(" · " + clean(str(h["last_error"]))[:60], style="italic")
        self.query_one("#feeds", Static).update(out)

    def _update_header(self) -> None:
        now = self.now()
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {clean(self.config.brand)} ", style="bold reverse")
        line.append(" WALLBOARD ", style="bold")
        line.append(f"│ {now:%H:%M} ", style="bold")
        m = self.metrics
        if m is None:
            parts = ["│ loading… "]
        else:
            parts = [f"│ {m.active_agents} agents active ",
                     f"│ updated {m.at.astimezone(now.tzinfo):%H:%M:%S} ",
                     f"│ today from {now:%a %d %b} 00:00 "]
        # Parts in order of importance, each only if it fits whole.
        width = self.size.width or 80
        for part in parts:
            if line.cell_len + len(part) <= width:
                line.append(part)
        self.query_one("#wb-header", Static).update(line)

    def on_resize(self) -> None:
        # Bars are drawn to the panel's width, the header to the screen's.
        for bars in self.query(BarList):
            bars.refresh()
        self._update_header()


# -- the standalone app --------------------------------------------------------------------


class WallboardApp(App[int]):
    """``heatdesk wallboard``: the wallboard alone, read-only; ``q`` quits."""

    TITLE = "heatdesk wallboard"
    ENABLE_COMMAND_PALETTE = False  # read-only: nothing to command
    BINDINGS: ClassVar[list] = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        *,
        config: Config | None = None,
        db: str | None = None,
        store: Store | None = None,
        theme: str | None = None,
        clock: Callable[[], datetime] | None = None,
        tz: tzinfo | None = None,
        live: bool = True,
    ) -> None:
        # NO_COLOR needs nothing here: Textual then draws in monochrome, and every level
        # also shows as a word and as bold/reverse text.
        super().__init__()
        self.config = config or Config()
        self.db = db
        self.store: Store | None = store
        self._owns_store = store is None
        self.clock = clock or utcnow
        self.tz = tz
        self.live = live
        self.error: str | None = None
        self.theme_errors: list[str] = []
        self._setup_theme(theme)

    def _setup_theme(self, requested: str | None) -> None:
        if themes is not None:
            config_dir = (self.config.path.parent if self.config.path
                          else default_config_path().parent)
            try:
                self.theme_errors = themes.register_all(self, config_dir)
            except Exception as exc:  # noqa: BLE001 — a broken user theme must not stop the board
                self.theme_errors = [f"themes: {exc}"]
        board_theme = self.config.wallboard.get("theme") if isinstance(
            self.config.wallboard, Mapping) else None
        default = themes.WALLBOARD_THEME if themes is not None else None
        wanted = requested or (board_theme if isinstance(board_theme, str) else None) or default
        if wanted and wanted in self.available_themes:
            self.theme = wanted
        elif wanted:
            self.theme_errors.append(f"unknown theme {wanted!r}; try one of: "
                                     + ", ".join(sorted(self.available_themes)))
            if default and default in self.available_themes:
                self.theme = default

    def now(self) -> datetime:
        """The board's idea of "now" (injectable for tests and snapshots)."""
        return self.clock().astimezone(self.tz)

    async def on_mount(self) -> None:
        if self.store is None:
            try:
                self.store = await open_store(self.db, self.config)
            except (StoreError, OSError) as exc:
                self.error = str(exc)
                self.exit(1)
                return
        for line in self.theme_errors:
            self.notify(line, severity="warning", timeout=8, markup=False)
        await self.push_screen(WallboardScreen(self.store, self.config, live=self.live))

    async def action_quit(self) -> None:
        await self._close_store()
        self.exit(0)

    async def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is not None and self._owns_store:
            with contextlib.suppress(Exception):
                await store.close()

    async def on_unmount(self) -> None:
        await self._close_store()


def run_wallboard(args: argparse.Namespace, config: Config) -> int:
    """Run the wallboard in this terminal (``heatdesk wallboard``); returns the exit code."""
    app = WallboardApp(config=config, db=getattr(args, "db", None),
                       theme=getattr(args, "theme", None))
    code = app.run()
    if app.error:
        sys.stderr.write(f"heatdesk: {app.error}\n")
        return 1
    return code or 0


__all__ = ["WallboardApp", "WallboardScreen", "default_thresholds", "run_wallboard"]
