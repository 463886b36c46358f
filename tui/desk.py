"""The desk screen: the live queue, the case pane, and every action by key.

Data flow: on mount a worker loads the hottest open cases (``FIRST_PAGE`` of them, by
stored heat) into a ``QueueModel`` and paints them; a second worker then loads every open
case (and today's resolved ones, for the "resolved today" view) behind that first screen,
while the first follows the store's change cursor,
waking every 0.25 s at most (``wait_for_change``), fetching only the changed cases by id
and applying them as one batch — so the queue repaints a few times a second however fast
mentions arrive, and the highlighted case stays highlighted when rows move. A slow tick
re-ranks time-dependent heat (every 5 s). Every action goes through the ``Store``; what it
raises (a claim conflict, a forbidden transition) becomes a notification with the reason.

Decisions worth knowing:
- Actions work on the highlighted case in the queue, or on the case open in the side pane
  while the side pane has focus. With marked cases, claim/resolve/tag work on all of them.
- On a wide screen the side pane follows the highlight (after a short pause, so scrolling
  through the queue does not hammer the store); on a narrow one (< 110 columns) the pane
  takes the whole screen when opened (enter) and esc/tab goes back to the queue.
- Replying to (or acting on) a case another agent holds asks for a take-over first.
- Presence: "viewing" while a case is open in the side pane, "typing" while the composer is
  open, refreshed every 10 s (entries expire after 30 s), cleared on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual import on, work
from textual._context import NoActiveAppError
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from store.records import OPEN_STATUSES, Case, ClaimConflict, Status, StoreError, utcnow
from tui.cli import customer_display, fill, promise_time, saved_replies
from tui.composer import Composer
from tui.dialogs import (
    ConfirmDialog,
    EscalateDialog,
    OfflineDialog,
    ScoreDialog,
    SnoozeDialog,
    TextDialog,
)
from tui.help import HelpScreen
from tui.keys import BY_NAME, binding_id, desk_bindings, display_keys, unbound_actions
from tui.queue_model import SORT_KEYS, QueueModel
from tui.queue_view import QueueView
from tui.safe_text import clean, fit
from tui.timeline import Timeline

NARROW = 110
FOLLOW_WAIT = 0.25
RERANK_EVERY = 5.0
PRESENCE_EVERY = 10.0
PREVIEW_DELAY = 0.2
STATUS_EVERY = 2.0
WAKE_EVERY = 30.0
BIG_BATCH = 2000  # cases; above this the model prepares rows in a worker thread
FIRST_PAGE = 300  # the hottest open cases, painted before the rest load (any screen's worth)
LOAD_PAGE = 2000  # open cases per store call while the rest load (other calls go between)
VIEW_LABELS = {"open": "open", "mine": "mine", "escalated": "escalated",
               "breaching": "breaching", "resolved_today": "resolved today", "all": "all"}


def _quiet_when_gone(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Let a desk worker end quietly when the screen is taken down under it.

    On exit Textual removes the screen's widgets first and cancels the screen's workers
    last; a worker that wakes from a store call in between finds ``#queue`` gone. That is
    the end of the screen, not an error. The same miss while the screen is alive is a bug,
    and is raised as one.
    """
    @functools.wraps(method)
    async def run(self: DeskScreen, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except NoMatches:
            if self.gone:
                return None
            raise
    return run


class _Held(NamedTuple):
    assignee: str | None


class _QueueLoad:
    """What ``cli.promise_time`` reads from a store, answered from the desk's memory (the
    desk already knows every open case: no need to fetch 100k rows for one promise)."""

    def __init__(self, holders: dict[int, str | None]) -> None:
        self.holders = holders

    async def open_cases(self) -> list[_Held]:
        return [_Held(a) for a in self.holders.values()]


class DeskQueue(QueueView):
    """The queue as the desk uses it: marking a case also moves on to the next one."""

    def action_toggle_mark(self) -> None:
        super().action_toggle_mark()
        self.action_cursor_down()


class DeskScreen(Screen):
    """The live queue on the left, the open case on the right, actions by key."""

    BINDINGS: ClassVar[list[BindingType]] = desk_bindings()
    AUTO_FOCUS = "#queue"

    def __init__(self) -> None:
        super().__init__()
        app = self.app
        self.store = app.store
        self.config = app.config
        self.agent: str = app.agent
        self.model = QueueModel.from_config(self.config, agent=self.agent, now=app.now())
        self.presence: dict[int, list[tuple[str, str]]] = {}
        self.open_id: int | None = None
        self.last_sent: tuple[int, float] | None = None  # (case id, monotonic time)
        self.loaded = asyncio.Event()  # the first screen (the hottest cases) is in
        self.fully_loaded = asyncio.Event()  # and every open case, and today's finished ones
        self.seq = 0
        self._preview_timer = None
        self._presence_case: int | None = None
        self._typing_case: int | None = None
        self._status_cache = ""
        self.outbox_pending = 0
        self.open_holders: dict[int, str | None] = {}  # open case id → assignee
        # Until the agent first moves the cursor, it stays on the hottest case as new ones
        # arrive; after that it stays on the agent's case however the rows move.
        self.follow_top = True
        self._last_wake = 0.0
        self._detail = None  # the open case's last fetched detail
        self.feeds_down: list[str] = []
        for binding in unbound_actions(self.config.keys):
            self._bindings.key_to_bindings.setdefault(binding.key, []).append(binding)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        with Horizontal(id="main"):
            yield DeskQueue(self.model, id="queue")
            yield Timeline(self.config, id="timeline")
        yield Input(placeholder="filter: words in the customer, text or tags · esc clears",
                    id="filter")
        yield Footer()

    @property
    def queue(self) -> QueueView:
        return self.query_one("#queue", QueueView)

    @property
    def timeline(self) -> Timeline:
        return self.query_one("#timeline", Timeline)

    @property
    def gone(self) -> bool:
        """True once the screen is being taken down (the app exiting, or the screen popped)."""
        try:
            running = self.app.is_running
        except NoActiveAppError:  # the app has already gone
            return True
        return not running or self._closing or self._closed or not self.is_attached

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.model.add_listener(self._model_changed)
        self._apply_width(self.app.size.width)
        self._apply_palette()
        self.app.theme_changed_signal.subscribe(self, self._apply_palette)
        self._update_status()
        self.follow_store()
        if self.app.live:
            self.set_interval(RERANK_EVERY, self._tick)
            self.set_interval(PRESENCE_EVERY, self._refresh_presence)

    def _apply_palette(self, *_: object) -> None:
        palette = self.app.heat_palette()
        if palette is not None:
            self.queue.set_palette(palette.stops)

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW, "narrow")

    @property
    def narrow(self) -> bool:
        return self.has_class("narrow")

    def _show_pane(self, show: bool) -> None:
        self.set_class(show, "pane-open")

    # -- following the store -----------------------------------------------------------------

    @work(group="follow", exclusive=True)
    @_quiet_when_gone
    async def follow_store(self) -> None:
        """Load the hottest cases and paint them, then apply the change cursor's deltas as
        they come while ``_load_rest`` brings in the rest."""
        store = self.store
        # The cursor first: whatever changes after this point, during either load, comes
        # as a delta, and the model keeps the newest version of a case whichever arrives
        # first (Case.version), so a slow load never overwrites a newer delta.
        seq = await store.change_seq()
        cases = await store.cases(open_only=True, order="heat", limit=FIRST_PAGE)
        whole = len(cases) < FIRST_PAGE  # that is every open case: one load is enough
        if whole:
            cases += await self._finished_today()
        await self._upsert(cases)
        self._set_presence(await store.presence())
        self.seq = seq
        self.loaded.set()
        self._after_load()
        if whole:
            self._fully_loaded()
        else:
            self._load_rest()
        await self._check_outbox_and_feeds()
        last_check = time.monotonic()
        while True:
            await store.wait_for_change(FOLLOW_WAIT)
            try:
                await self.apply_changes()
                if time.monotonic() - last_check >= STATUS_EVERY:
                    last_check = time.monotonic()
                    await self._check_outbox_and_feeds()
            except StoreError as exc:  # a transient store problem: say so, keep following
                self.notify(f"store: {exc}", severity="error", timeout=5, markup=False)
                await asyncio.sleep(1.0)

    async def _finished_today(self) -> list[Case]:
        """Today's resolved and closed cases, for the "resolved today" view."""
        day = self.app.now().replace(hour=0, minute=0, second=0, microsecond=0)
        cases: list[Case] = []
        for status in ("resolved", "closed"):
            cases += await self.store.cases(status=status, since=day)
        return cases

    @work(group="load", exclusive=True)
    @_quiet_when_gone
    async def _load_rest(self) -> None:
        """Every open case and today's finished ones, behind the first screen.

        Read in calls of ``LOAD_PAGE`` (the pane, actions and deltas get the store between
        them), prepared in a thread and applied in one batch. The pages are not one
        snapshot, and need not be: a case that changed after the cursor position taken
        before the first read also comes as a delta, and the newer version wins.
        """
        cases: list[Case] = []
        after: int | None = None
        while True:
            page = await self._retrying(lambda after=after: self.store.cases(
                open_only=True, after_id=after, limit=LOAD_PAGE))
            cases += page
            # These cases stay for the life of the desk: out of the collector's reach with
            # them as they come (after a young collection, so short-lived cycles are not
            # kept), or each full collection while the heap grows rescans every case read
            # so far (at 100k: five of them, a third of a second, the screen frozen).
            gc.collect(1)
            gc.freeze()
            if len(page) < LOAD_PAGE:
                break
            after = page[-1].id
        cases += await self._retrying(self._finished_today)
        await self._upsert(cases)  # the cursor stays on its case as the rows arrive
        if self.follow_top and self.queue.cursor_index != 0:
            self.queue.action_first()  # the agent has not moved: the hottest of them all
        self._fully_loaded()

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A store read, tried again every second through a transient store problem."""
        while True:
            try:
                return await call()
            except StoreError as exc:
                self.notify(f"store: {exc}", severity="error", timeout=5, markup=False)
                await asyncio.sleep(1.0)

    def _fully_loaded(self) -> None:
        self.fully_loaded.set()
        self._update_status()

    async def apply_changes(self) -> None:
        """Fetch what changed since the cursor and apply it (one batch)."""
        store = self.store
        changes = await store.changes_since(self.seq)
        if changes.seq == self.seq:
            return
        self.seq = changes.seq
        if changes.presence:  # first, so a pane refreshed below shows it
            self._set_presence(await store.presence())
        if changes.case_ids:
            ids = sorted(changes.case_ids)
            rows: list[Case] = []
            for i in range(0, len(ids), 900):
                rows += await store.cases(ids=ids[i:i + 900])
            await self._upsert(rows)  # the queue keeps its cursor on the same case
            if self.follow_top and self.queue.cursor_index != 0:
                self.queue.action_first()  # until the agent moves, show the hottest
            if self.open_id in changes.case_ids:
                await self.refresh_pane(keep_scroll=True)

    async def _upsert(self, cases: list[Case]) -> None:
        """Apply cases to the model; big batches are prepared in a thread, off the loop.

        The model keeps a case it holds in a newer version; so does ``open_holders``.
        """
        model = self.model
        if len(cases) > BIG_BATCH:
            for _ in range(3):  # the clock or the sort moved meanwhile: prepare again,
                prepared = await asyncio.to_thread(model.prepare, cases)
                if model.is_current(prepared):  # rather than redo every row on the loop
                    break
        else:
            prepared = model.prepare(cases)
        model.apply(prepared)
        holders, get = self.open_holders, model.get
        for c in cases:
            held = get(c.id) or c  # the version the model kept
            if held.status in OPEN_STATUSES:
                holders[held.id] = held.assignee
            else:
                holders.pop(held.id, None)

    async def _check_outbox_and_feeds(self) -> None:
        """Refresh the status line's outbox count and feed warnings."""
        self.outbox_pending = await self.store.pending_outbox()
        health = await self.store.feed_health()
        # A replay or demo that reached its end is done, not down.
        self.feeds_down = sorted(name for name, h in health.items()
                                 if h.get("connected") is False and not h.get("finished"))
        self._update_status()

    def select_case(self, case_id: int) -> bool:
        """Highlight a case in the queue (False when the current view does not show it)."""
        return self.queue.select_case(case_id)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the queue is fully loaded and no pane load or action is still running."""
        await asyncio.wait_for(self.fully_loaded.wait(), timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self._preview_timer is not None or any(
                w.node is self and w.group in ("pane", "act", "presence")
                and not w.is_finished for w in self.app.workers)
            if not busy:
                return
            await asyncio.sleep(0.02)

    def _set_presence(self, presence: dict[int, list[tuple[str, str]]]) -> None:
        """Remember who is where; the queue marks other agents (✎ typing, ◉ viewing)."""
        self.presence = presence
        marks = {}
        for case_id, entries in presence.items():
            others = [("✎" if state == "typing" else "◉") + agent
                      for agent, state in entries if agent != self.agent]
            if others:
                marks[case_id] = " ".join(others)
        self.queue.set_presence(marks)

    def _after_load(self) -> None:
        if len(self.model):
            self.queue.action_first()
            if not self.narrow:
                self._schedule_preview()

    def _model_changed(self) -> None:
        self._update_status()

    def _tick(self) -> None:
        if self.gone:
            return
        self.model.rerank(self.app.now())
        self._render_pane()
        # Nobody else wakes snoozed cases; a desk does it now and then (a cheap read
        # unless one is due, so forty desks doing it cost nothing worth counting).
        if time.monotonic() - self._last_wake >= WAKE_EVERY:
            self._last_wake = time.monotonic()
            self._wake_snoozed()

    @work(group="wake", exclusive=True)
    @_quiet_when_gone
    async def _wake_snoozed(self) -> None:
        with contextlib.suppress(StoreError):
            await self.store.wake_snoozed()

    # -- status line -------------------------------------------------------------------------

    def _update_status(self) -> None:
        m = self.model
        line = Text()
        line.append(f" {clean(self.config.brand)} ", style="bold reverse")
        line.append(f" {clean(self.agent)} ", style="bold")
        line.append("│ ")
        line.append(VIEW_LABELS.get(m.view, m.view), style="bold")
        line.append(f" {len(m)}")
        if len(m) != m.total:
            line.append(f"/{m.total}", style="dim")
        line.append(" │ sort ")
        line.append(m.sort_key + (" ↑" if m.reverse else ""), style="bold")
        if m.filter_text:
            line.append(" │ filter ")
            line.append(fit(m.filter_text, min(24, len(m.filter_text))), style="bold yellow")
        if m.marks:
            line.append(" │ ")
            line.append(f"{len(m.marks)} marked", style="bold magenta")
        if self.outbox_pending:
            line.append(" │ ")
            line.append(f"outbox {self.outbox_pending}", style="bold yellow")
        if self.feeds_down:
            line.append(" │ ")
            line.append("⚠ feed down: " + ", ".join(clean(f) for f in self.feeds_down[:3]),
                        style="bold red")
        if not self.fully_loaded.is_set():
            line.append(" │ loading…", style="italic")
        key = line.plain
        if key != self._status_cache:
            self._status_cache = key
            self.query_one("#status", Static).update(line)

    # -- the side pane -----------------------------------------------------------------------

    def on_queue_view_highlighted(self, message) -> None:
        if message.case_id is not None and len(self.model) and \
                message.case_id != self.model.id_at(0):
            self.follow_top = False  # the agent moved: from now on the cursor stays put
        self._update_status()
        if not self.narrow:
            self._schedule_preview()

    def on_queue_view_selected(self, message) -> None:
        self.action_open_case()

    def _schedule_preview(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview)

    def _preview(self) -> None:
        self._preview_timer = None
        if self.gone:
            return
        case_id = self.queue.cursor_case_id
        if case_id is not None and case_id != self.open_id:
            self.open_case(case_id)

    def open_case(self, case_id: int, focus: bool = False) -> None:
        """Show a case in the side pane."""
        self.open_id = case_id
        self._load_pane(focus)

    @work(group="pane", exclusive=True)
    @_quiet_when_gone
    async def _load_pane(self, focus: bool = False) -> None:
        await self.refresh_pane()
        if focus:
            self.timeline.focus()
        await self._say_viewing()

    async def refresh_pane(self, keep_scroll: bool = False) -> None:
        """Reload the open case's detail into the side pane."""
        case_id = self.open_id
        if case_id is None:
            self.timeline.clear()
            return
        try:
            detail = await self.store.detail(case_id)
        except StoreError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if case_id != self.open_id:
            return
        self._detail = detail
        self._render_pane(keep_scroll)

    def _render_pane(self, keep_scroll: bool = True) -> None:
        """Draw the open case's detail as of now (the SLA clock moves without a fetch)."""
        detail = self._detail
        if detail is None or detail.case.id != self.open_id:
            return
        now = self.app.now()
        heat, parts = self.store.heat(detail.case, now)
        self.timeline.show(detail, heat, parts, now, self.presence.get(detail.case.id, []),
                           self.agent, keep_scroll=keep_scroll)

    # -- presence ----------------------------------------------------------------------------

    async def _say_viewing(self) -> None:
        previous, self._presence_case = self._presence_case, self.open_id
        try:
            if previous is not None and previous != self.open_id:
                await self.store.set_presence(previous, self.agent, None)
            if self.open_id is not None and self._typing_case != self.open_id:
                await self.store.set_presence(self.open_id, self.agent, "viewing")
        except StoreError:
            pass

    @work(group="presence", exclusive=True)
    @_quiet_when_gone
    async def _refresh_presence(self) -> None:
        with contextlib.suppress(StoreError):
            if self._typing_case is not None:
                await self.store.set_presence(self._typing_case, self.agent, "typing")
            elif self._presence_case is not None:
                await self.store.set_presence(self._presence_case, self.agent, "viewing")

    async def clear_presence(self) -> None:
        """Say we are gone from every case (on exit)."""
        for case_id in {self._presence_case, self._typing_case} - {None}:
            with contextlib.suppress(StoreError):
                await self.store.set_presence(case_id, self.agent, None)
        self._presence_case = self._typing_case = None

    # -- helpers for actions -----------------------------------------------------------------

    def key_for(self, action: str) -> str | None:
        """The keys bound to an action right now, for display."""
        keymap = getattr(self.app, "_keymap", {}) or {}
        keys = keymap.get(binding_id(action))
        if keys is None:
            keys = self.config.keys.get(action) or BY_NAME[action].keys
        return display_keys(keys) if keys else None

    def current_id(self) -> int | None:
        """The case an action works on: the pane's when it has focus, else the highlight."""
        if self.open_id is not None and (self.timeline.has_focus or
                                         (self.narrow and self.has_class("pane-open"))):
            return self.open_id
        case_id = self.queue.cursor_case_id
        return case_id if case_id is not None else self.open_id

    def current_case(self) -> Case | None:
        case_id = self.current_id()
        case = self.model.get(case_id) if case_id is not None else None
        if case is None:
            self.notify("No case selected.", severity="warning")
        return case

    def label(self, case: Case) -> str:
        return f"#{case.id} {clean(case.customer)}"

    def fail(self, exc: Exception) -> None:
        """Show a store error as a notification with its reason."""
        self.notify(str(exc), title=type(exc).__name__ if isinstance(exc, ClaimConflict)
                    else "Could not do that", severity="error", timeout=6, markup=False)

    async def attempt(self, fn: Callable[[], Awaitable[Any]]) -> bool:
        """Run one store action; errors become notifications. True when it worked."""
        try:
            await fn()
        except StoreError as exc:
            self.fail(exc)
            return False
        return True

    async def ask(self, screen) -> Any:
        """Show a dialog and wait for its answer (only inside a worker)."""
        return await self.app.push_screen_wait(screen)

    async def ensure_mine(self, case: Case, doing: str) -> bool:
        """Before acting on another agent's case, ask to take it over.

        Decided from the queue's copy of the case, so a dialog opens at once (keys typed
        right after the action key land in it, not on the desk); if the copy was stale,
        ``send`` asks again when the store says so.
        """
        if case.assignee is None or case.assignee == self.agent:
            return True
        return await self.take_over(case.id, case.assignee, doing)

    async def take_over(self, case_id: int, holder: str, doing: str) -> bool:
        """Ask, then take the case from ``holder``; True when it is ours now."""
        if not await self.ask(ConfirmDialog(
                f"Case #{case_id} is held by {clean(holder)}. Take it over to {doing}?",
                yes="Take over", no="Leave it", title="Someone else holds this case")):
            return False
        return await self.attempt(lambda: self.store.claim(case_id, self.agent,
                                                           take_over=True))

    async def send(self, case: Case, text: str, what: str, **kw: Any) -> bool:
        """Queue a reply/DM; if someone took the case meanwhile, ask before taking it back."""
        try:
            await self.store.reply(case.id, self.agent, text, **kw)
        except ClaimConflict as exc:
            if not await self.take_over(case.id, exc.holder, "send this"):
                return False
            if not await self.attempt(lambda: self.store.reply(case.id, self.agent, text,
                                                               **kw)):
                return False
        except StoreError as exc:
            self.fail(exc)
            return False
        self.sent(case, what)
        await self.refresh_cases([case.id])
        return True

    async def refresh_cases(self, ids) -> None:
        """Apply our own change right away instead of waiting for the cursor."""
        with contextlib.suppress(StoreError):
            await self.apply_changes()
        if self.open_id in set(ids):
            await self.refresh_pane(keep_scroll=True)

    def values_for(self, case: Case, promised: datetime | None = None) -> dict[str, str]:
        """Saved-reply variables for a case."""
        return {"customer": customer_display(case.customer),
                "promised_time": promised.strftime("%H:%M UTC") if promised else "soon",
                "agent": self.agent, "brand": self.config.brand}

    async def compose_text(self, case: Case, *, title: str, public: bool, text: str = "",
                           checks: bool = True, limit: int | None = None,
                           promised: datetime | None = None) -> str | None:
        """Open the composer for a case, saying we are typing meanwhile."""
        self._typing_case = case.id
        self._announce(case.id, "typing")  # in the background: the composer opens now
        try:
            return await self.ask(Composer(
                title=title, platform=case.platform, public=public, text=text,
                context=case.last_text, replies=saved_replies(self.config),
                values=self.values_for(case, promised), checks=checks, limit=limit))
        finally:
            self._typing_case = None
            self._announce(case.id, "viewing" if self._presence_case == case.id else None)

    @work(group="announce")
    @_quiet_when_gone
    async def _announce(self, case_id: int, state: str | None) -> None:
        with contextlib.suppress(StoreError):
            await self.store.set_presence(case_id, self.agent, state)

    def sent(self, case: Case, what: str) -> None:
        self.last_sent = (case.id, time.monotonic())
        seconds = self.config.undo_seconds
        self.notify(f"{what} for #{case.id}: sending in {seconds:.0f} s — u to undo",
                    timeout=max(3.0, min(seconds, 10.0)), markup=False)

    def targets(self) -> list[int]:
        """Marked cases (for bulk actions), else the current one."""
        if self.model.marks:
            return self.model.marked()
        case_id = self.current_id()
        return [case_id] if case_id is not None else []

    async def bulk(self, ids: list[int], verb: str, fn: Callable[[int], Awaitable[Any]]) -> None:
        """Run one action on many cases; report how many worked and the first failure."""
        done, errors = 0, []
        for case_id in ids:
            try:
                await fn(case_id)
                done += 1
            except StoreError as exc:
                errors.append(f"#{case_id}: {exc}")
        if len(ids) > 1:
            self.model.clear_marks()
        await self.refresh_cases(ids)
        if errors:
            self.notify(f"{verb} {done} of {len(ids)}; " + "; ".join(errors[:3])
                        + (" …" if len(errors) > 3 else ""), severity="error", timeout=8,
                        markup=False)
        elif len(ids) > 1:
            self.notify(f"{verb} {done} cases.", markup=False)

    # -- moving ------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.queue.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.queue.action_cursor_up()

    def action_cursor_top(self) -> None:
        self.queue.action_first()

    def action_cursor_bottom(self) -> None:
        self.queue.action_last()

    def action_open_case(self) -> None:
        case_id = self.queue.cursor_case_id
        if case_id is None:
            self.notify("The queue is empty.", severity="warning")
            return
        if self.narrow:
            self._show_pane(True)
            self.open_case(case_id, focus=True)
        else:
            self.open_case(case_id)

    def action_switch_pane(self) -> None:
        if self.timeline.has_focus:
            if self.narrow:
                self._show_pane(False)
            self.queue.focus()
            return
        if self.open_id is None or (self.narrow and self.queue.cursor_case_id != self.open_id):
            case_id = self.queue.cursor_case_id
            if case_id is None:
                return
            self.open_case(case_id)
        if self.narrow:
            self._show_pane(True)
        self.timeline.focus()

    def action_close_pane(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.model.set_filter("")
            self.queue.focus()
        elif self.narrow and self.has_class("pane-open"):
            self._show_pane(False)
            self.queue.focus()
        elif self.timeline.has_focus:
            self.queue.focus()
        elif self.model.filter_text:
            self.model.set_filter("")

    # -- case actions ------------------------------------------------------------------------

    @work(group="act")
    @_quiet_when_gone
    async def action_claim(self) -> None:
        ids = self.targets()
        if not ids:
            self.notify("No case selected.", severity="warning")
            return
        if len(ids) > 1:
            await self.bulk(ids, "Claimed", lambda i: self.store.claim(i, self.agent))
            return
        try:
            await self.store.claim(ids[0], self.agent)
        except ClaimConflict as exc:
            if await self.ask(ConfirmDialog(
                    f"Case #{ids[0]} is held by {clean(exc.holder)}. Take it over?",
                    yes="Take over", no="Leave it", title="Someone else holds this case")):
                if not await self.attempt(
                        lambda: self.store.claim(ids[0], self.agent, take_over=True)):
                    return
            else:
                return
        except StoreError as exc:
            self.fail(exc)
            return
        self.notify(f"Claimed #{ids[0]}.")
        await self.refresh_cases(ids)

    @work(group="act")
    @_quiet_when_gone
    async def action_release(self) -> None:
        case = self.current_case()
        if case and await self.attempt(lambda: self.store.release(case.id, self.agent)):
            self.notify(f"Released #{case.id}.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_reply(self) -> None:
        case = self.current_case()
        if case is None or not await self.ensure_mine(case, "reply"):
            return
        text = await self.compose_text(case, title=f"Reply in public to {self.label(case)} on "
                                       f"{case.platform}", public=True)
        if text:
            await self.send(case, text, "Reply queued")

    @work(group="act")
    @_quiet_when_gone
    async def action_acknowledge(self) -> None:
        case = self.current_case()
        if case is None or not await self.ensure_mine(case, "acknowledge it"):
            return
        with contextlib.suppress(TimeoutError):  # the promise counts every open case
            await asyncio.wait_for(self.fully_loaded.wait(), 10.0)
        when = await promise_time(_QueueLoad(self.open_holders), self.config)
        template = saved_replies(self.config)["ack"]
        text = await self.compose_text(
            case, title=f"Acknowledge {self.label(case)} — promise by {when:%H:%M} UTC",
            public=True, text=fill(template, **self.values_for(case, when)), promised=when)
        if text:
            await self.send(case, text, "Acknowledgement queued", kind="reply",
                            promised_by=when)

    @work(group="act")
    @_quiet_when_gone
    async def action_offline(self) -> None:
        case = self.current_case()
        if case is None:
            return
        channel = await self.ask(OfflineDialog(self.label(case), case.suggestion))
        if channel is None or not await self.ensure_mine(case, "take it offline"):
            return
        if channel == "dm":
            text = await self.compose_text(case, title=f"DM to {self.label(case)} on "
                                           f"{case.platform}", public=False,
                                           text=f"Hi {customer_display(case.customer)}, ")
            if text:
                await self.send(case, text, "DM queued", private=True)
            return
        note = await self.ask(TextDialog(f"Take {self.label(case)} offline by {channel}",
                                         placeholder="note (optional): when, who, what next",
                                         hint="enter to record · esc cancels"))
        if note is None:
            note = ""
        if await self.attempt(lambda: self.store.take_offline(case.id, self.agent, channel,
                                                              note)):
            self.notify(f"#{case.id} taken offline by {channel}.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_escalate(self) -> None:
        case = self.current_case()
        if case is None:
            return
        answer = await self.ask(EscalateDialog(self.label(case), case.escalation_tier))
        if answer is None:
            return
        if await self.attempt(lambda: self.store.escalate(case.id, self.agent, answer.tier,
                                                          answer.note, answer.phone)):
            self.notify(f"#{case.id} escalated to tier {answer.tier}"
                        + (" with a phone call-back" if answer.phone else "") + ".")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_note(self) -> None:
        case = self.current_case()
        if case is None:
            return
        text = await self.compose_text(case, title=f"Internal note on {self.label(case)} "
                                       "(never sent)", public=False, checks=False,
                                       limit=10000)
        if text and await self.attempt(lambda: self.store.note(case.id, self.agent, text)):
            self.notify(f"Note added to #{case.id}.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_resolve(self) -> None:
        ids = self.targets()
        if not ids:
            self.notify("No case selected.", severity="warning")
            return
        if len(ids) > 1:
            if not await self.ask(ConfirmDialog(f"Resolve {len(ids)} marked cases?",
                                                yes="Resolve", title="Bulk resolve")):
                return
            await self.bulk(ids, "Resolved", lambda i: self.store.resolve(i, self.agent))
            return
        if await self.attempt(lambda: self.store.resolve(ids[0], self.agent)):
            self.notify(f"Resolved #{ids[0]}. l closes the loop.")
            await self.refresh_cases(ids)

    @work(group="act")
    @_quiet_when_gone
    async def action_close_loop(self) -> None:
        case = self.current_case()
        if case is None:
            return
        if case.status is Status.CLOSED:
            self.notify(f"#{case.id} is already closed.", severity="warning")
            return
        text = await self.compose_text(
            case, title=f"Close the loop on {self.label(case)}: follow-up request",
            public=True, text=fill(saved_replies(self.config)["followup"],
                                   **self.values_for(case)))
        if not text:
            return
        if case.status is not Status.RESOLVED and not await self.attempt(
                lambda: self.store.resolve(case.id, self.agent)):
            return
        if await self.attempt(lambda: self.store.close_case(case.id, self.agent, text)):
            self.sent(case, "Closed; follow-up queued")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_tag(self) -> None:
        ids = self.targets()
        if not ids:
            self.notify("No case selected.", severity="warning")
            return
        known = sorted({t for i in self.model.ids() for t in (self.model.get(i).tags or [])})
        what = f"{len(ids)} marked cases" if len(ids) > 1 else f"#{ids[0]}"
        answer = await self.ask(TextDialog(f"Tag {what}", placeholder="tag (-tag removes; "
                                           "several separated by spaces)", suggestions=known))
        if not answer:
            return
        words = answer.replace(",", " ").split()

        async def apply(case_id: int) -> None:
            for word in words:
                remove = word.startswith("-")
                await self.store.tag(case_id, self.agent, word.lstrip("-+"), remove=remove)

        if len(ids) > 1:
            await self.bulk(ids, "Tagged", apply)
        elif await self.attempt(lambda: apply(ids[0])):
            self.notify(f"#{ids[0]}: {' '.join(words)}", markup=False)
            await self.refresh_cases(ids)

    @work(group="act")
    @_quiet_when_gone
    async def action_snooze(self) -> None:
        case = self.current_case()
        if case is None:
            return
        minutes = await self.ask(SnoozeDialog(self.label(case), self.app.now()))
        if minutes is None:
            return
        until = utcnow() + timedelta(minutes=int(minutes))
        if await self.attempt(lambda: self.store.snooze(case.id, self.agent, until)):
            self.notify(f"#{case.id} snoozed until {until.astimezone():%a %H:%M}.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_undo(self) -> None:
        case_id = None
        if self.last_sent and time.monotonic() - self.last_sent[1] <= self.config.undo_seconds:
            case_id = self.last_sent[0]
        if case_id is None:
            case_id = self.current_id()
        if case_id is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        try:
            item = await self.store.undo(case_id, self.agent)
        except StoreError as exc:
            self.fail(exc)
            return
        self.last_sent = None
        self.notify(f"Unsent on #{case_id}: {fit(item.text, 50).rstrip()}", markup=False)
        await self.refresh_cases([case_id])

    @work(group="act")
    @_quiet_when_gone
    async def action_reopen(self) -> None:
        case = self.current_case()
        if case and await self.attempt(lambda: self.store.reopen(case.id, self.agent)):
            self.notify(f"Reopened #{case.id}.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_wait_customer(self) -> None:
        case = self.current_case()
        if case and await self.attempt(lambda: self.store.wait_on_customer(case.id,
                                                                           self.agent)):
            self.notify(f"#{case.id} is waiting on the customer.")
            await self.refresh_cases([case.id])

    @work(group="act")
    @_quiet_when_gone
    async def action_score(self) -> None:
        case = self.current_case()
        if case is None:
            return
        answer = await self.ask(ScoreDialog(self.label(case), self.config.qa_rubric))
        if answer is None:
            return
        score, note = answer
        if await self.attempt(lambda: self.store.score(case.id, self.agent, score, note)):
            self.notify(f"#{case.id} scored {score}/5.")
            await self.refresh_cases([case.id])

    # -- the queue ---------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        case_id = self.queue.cursor_case_id
        if case_id is None:
            return
        self.queue.action_toggle_mark()

    def action_clear_marks(self) -> None:
        self.model.clear_marks()

    @work(group="act")
    @_quiet_when_gone
    async def action_assign_marked(self) -> None:
        ids = self.targets()
        if not ids:
            self.notify("No case selected.", severity="warning")
            return
        who = await self.ask(TextDialog(f"Assign {len(ids)} case(s) to", value=self.agent,
                                        placeholder="agent name"))
        if not who:
            return
        await self.bulk(ids, f"Assigned to {who}",
                        lambda i: self.store.claim(i, who, take_over=True))

    def _keep(self, change: Callable[[], None]) -> None:
        # The queue keeps its cursor on the same case (and scrolls to it) by itself.
        change()

    def action_cycle_sort(self) -> None:
        keys = SORT_KEYS
        nxt = keys[(keys.index(self.model.sort_key) + 1) % len(keys)]
        self._keep(lambda: self.model.set_sort(nxt, self.model.reverse))
        self.notify(f"Sorted by {nxt}.", timeout=1.5)

    def action_reverse_sort(self) -> None:
        self._keep(lambda: self.model.set_sort(self.model.sort_key, not self.model.reverse))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.model.filter_text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._keep(lambda: self.model.set_filter(event.value))

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.queue.focus()

    def _view(self, view: str) -> None:
        self._keep(lambda: self.model.set_view(view, self.agent))
        if self.queue.cursor_case_id is None and len(self.model):
            self.queue.action_first()

    def action_view_open(self) -> None:
        self._view("open")

    def action_view_mine(self) -> None:
        self._view("mine")

    def action_view_escalated(self) -> None:
        self._view("escalated")

    def action_view_breaching(self) -> None:
        self._view("breaching")

    def action_view_resolved_today(self) -> None:
        self._view("resolved_today")

    def action_view_all(self) -> None:
        self._view("all")

    # -- the desk ----------------------------------------------------------------------------

    def action_wallboard(self) -> None:
        self.app.open_wallboard()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.key_for))

    def action_command_palette(self) -> None:
        self.app.action_command_palette()

    @work(group="quit", exclusive=True)
    @_quiet_when_gone
    async def action_quit(self) -> None:
        try:
            pending = await self.store.pending_outbox()
        except StoreError:
            pending = 0
        if pending and not await self.ask(ConfirmDialog(
                f"{pending} outgoing item(s) are still in the outbox, not yet sent. "
                "If you quit, they go out when a desk or `heatdesk ingest` runs next.",
                yes="Quit anyway", no="Stay", title="Unsent replies")):
            return
        await self.clear_presence()
        await self.app.shutdown()
        self.app.exit(0)
