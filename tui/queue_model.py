"""The desk's queue as data: cases in ranked order, filtered, marked — no Textual here.

The queue widget (``tui.queue_view``) draws from this model; the desk feeds it
``store.records.Case`` snapshots from the change cursor. It stays fast at 100k cases:

- The order is a sorted list of one packed int per row (primary key, secondary
  milliseconds, case id): ints sort and bisect several times faster than tuples, and the
  id makes every key unique. An upsert moves one entry by bisection; a large batch
  rebuilds with one sort. Reversing the sort is free: rows are read from the other end.
- Heat depends on time (SLA pressure grows until breach). Every heat, key and breach is
  computed for ``model.now``, which moves only on ``rerank(now)`` — the desk's slow tick —
  so the order holds still between ticks. Each running clock is filed in a one-second
  timing wheel under the moment its heat next changes by a tenth, so a tick touches only
  the rows that actually changed, then fixes their places (bisect, or one Timsort pass).
- The rows shown (saved view + filter) are a second sorted list kept alongside. Filtering
  tests rows in memory order and keeps the sorted keys that passed.

Decisions: the default view is ``open`` (``all`` shows everything), so a case the desk
upserts as resolved simply leaves the queue. ``breaching`` means past its SLA target at
``now`` (``at_risk_s`` widens it to cases due soon). ``resolved_today`` uses the local day.
The filter matches every whitespace-separated term, case-insensitively, as a substring of
the customer, the last text or a tag, all cleaned first (so "ref\\u200bund" cannot hide
from a search for "refund"). Mutate the model on the event loop only.

At 100k cases the garbage collector's full passes cost more than any operation here;
a desk should ``gc.freeze()`` after its initial load (``bench_model`` does).
"""

from __future__ import annotations

import gc
import math
import random
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.records import OPEN_STATUSES, PLATFORMS, Case, Status, utcnow
from store.rules.heat import HeatWeights, problem_level
from store.rules.sla import SlaTargets
from tui.safe_text import clean

SORT_KEYS = ("heat", "age", "sla", "sentiment", "reach", "platform")
VIEWS = ("open", "mine", "escalated", "breaching", "resolved_today", "all")

_TIME_KEYS = frozenset({"heat", "platform"})  # keys that include heat, which moves with time
_TIME_VIEWS = frozenset({"breaching", "resolved_today"})
_DONE = frozenset({Status.RESOLVED, Status.CLOSED})

_ID_BITS = 40
_ID_MASK = (1 << _ID_BITS) - 1
_MS_BITS = 45  # milliseconds since 1970, until the year 3084
_MS_MAX = (1 << _MS_BITS) - 1
_P = _MS_BITS + _ID_BITS  # where a key's primary field starts
_PLATFORM_RANK = {name: i for i, name in enumerate(sorted(PLATFORMS))}


class _Row:
    """One case plus what the queue derives from it (key, heat, clock, haystack)."""

    __slots__ = ("case", "check_at", "due", "hay", "heat", "key", "level", "open", "resolved",
                 "sla", "static", "tail", "target_s", "version", "waiting")


@dataclass(frozen=True, slots=True)
class PreparedCases:
    """Rows built by ``QueueModel.prepare`` (possibly in a worker), for ``apply``."""

    rows: list[_Row]
    keys: list[int]  # their sort keys, sorted (empty for small batches)
    now_ts: float  # the model time they were computed for
    sort: str  # and the sort key


def _ms(ts: float) -> int:
    ms = int(ts * 1000.0)
    return 0 if ms < 0 else min(ms, _MS_MAX)


def _cold(r: _Row) -> int:
    """Heat as tenths below 100, so that ascending order is hottest first."""
    return 1000 - round(r.heat * 10.0)


def _by_heat(r: _Row) -> int:
    return (_cold(r) << _P) | r.tail


def _by_age(r: _Row) -> int:
    if r.waiting is None:
        return (1 << _P) | r.tail
    return (_ms(r.waiting) << _ID_BITS) | r.case.id


def _by_sla(r: _Row) -> int:
    return ((_MS_MAX if r.due is None else _ms(r.due)) << _P) | r.tail


def _by_sentiment(r: _Row) -> int:
    sentiment = max(-1.0, min(1.0, r.case.sentiment or 0.0))
    return (round((sentiment + 1.0) * 1e6) << _P) | r.tail


def _by_reach(r: _Row) -> int:
    return ((_ID_MASK - min(max(0, r.case.followers), _ID_MASK)) << _P) | r.tail


def _by_platform(r: _Row) -> int:
    rank = _PLATFORM_RANK.get(r.case.platform, len(_PLATFORM_RANK))
    return (rank << (_P + 11)) | (_cold(r) << _P) | r.tail


_KEY_FUNCS: dict[str, Callable[[_Row], int]] = {
    "heat": _by_heat, "age": _by_age, "sla": _by_sla, "sentiment": _by_sentiment,
    "reach": _by_reach, "platform": _by_platform,
}


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _local_day_start(now: datetime) -> float:
    return now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class QueueModel:
    """Cases in the desk's order: incremental upserts, live filter, saved views, marks."""

    def __init__(self, *, weights: HeatWeights | None = None, targets: SlaTargets | None = None,
                 agent: str | None = None, now: datetime | None = None, view: str = "open",
                 at_risk_s: float = 0.0) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
        self.weights = weights or HeatWeights()
        self.targets = targets or SlaTargets()
        self.agent = agent
        self.at_risk_s = at_risk_s
        self.marks: set[int] = set()
        self.generation = 0  # bumps on every change the screen should see
        self.sort_generation = 0  # bumps when the sort key or direction changes
        self.tick = 0  # bumps when time moves (rerank)
        self._rows: dict[int, _Row] = {}
        self._order: list[int] = []  # every row's key, ascending
        self._shown: list[int] = []  # keys passing the view and the filter, ascending
        self._sort = "heat"
        self._reverse = False
        self._key = _by_heat
        self._view = view
        self._filter = ""
        self._terms: tuple[str, ...] = ()
        self._test: Callable[[_Row], bool] | None = None
        self._wheel: dict[int, list[_Row]] = {}  # second -> rows whose heat changes then
        self._next_version = 0
        self._listeners: list[Callable[[], None]] = []
        self._set_now(now or utcnow())
        self._wheel_from = int(self._now_ts)  # earliest second not yet fully processed

    @classmethod
    def from_config(cls, config, agent: str | None = None, **kw) -> QueueModel:
        """A model with the heat weights and SLA targets of a ``store.config.Config``."""
        return cls(weights=config.weights, targets=config.sla, agent=agent, **kw)

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """How many cases are shown (after the view and the filter)."""
        return len(self._shown)

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._rows

    @property
    def total(self) -> int:
        """How many cases the model holds, shown or not."""
        return len(self._rows)

    @property
    def sort_key(self) -> str:
        """The current sort key (one of SORT_KEYS)."""
        return self._sort

    @property
    def reverse(self) -> bool:
        """True when the sort runs the other way."""
        return self._reverse

    @property
    def view(self) -> str:
        """The current saved view (one of VIEWS)."""
        return self._view

    @property
    def filter_text(self) -> str:
        """The live filter, normalised (cleaned, case-folded, single spaces)."""
        return self._filter

    @property
    def now(self) -> datetime:
        """The moment every heat, clock and breach in the model is computed for."""
        return self._now

    def get(self, case_id: int) -> Case | None:
        """The case with this id, shown or not."""
        row = self._rows.get(case_id)
        return None if row is None else row.case

    def row_at(self, index: int) -> Case:
        """The case at ``index`` in the current order (IndexError past the end)."""
        return self._rows[self.id_at(index)].case

    def id_at(self, index: int) -> int:
        """The case id at ``index`` in the current order (IndexError past the end)."""
        shown = self._shown
        if index < 0:
            index += len(shown)
        if not 0 <= index < len(shown):
            raise IndexError(index)
        return (shown[-1 - index] if self._reverse else shown[index]) & _ID_MASK

    def index_of(self, case_id: int) -> int | None:
        """Where the case is in the current order, or None when it is not shown."""
        row = self._rows.get(case_id)
        if row is None:
            return None
        shown = self._shown
        i = bisect_left(shown, row.key)
        if i == len(shown) or shown[i] != row.key:
            return None
        return len(shown) - 1 - i if self._reverse else i

    def ids(self) -> Iterator[int]:
        """Shown case ids in order."""
        keys = reversed(self._shown) if self._reverse else self._shown
        return (k & _ID_MASK for k in keys)

    def heat(self, case_id: int) -> float:
        """Effective heat at ``now``: static heat plus SLA pressure."""
        return self._rows[case_id].heat

    def due(self, case_id: int) -> datetime | None:
        """When the SLA target falls due, or None when nobody is waiting."""
        due = self._rows[case_id].due
        return None if due is None else datetime.fromtimestamp(due, UTC)

    def remaining(self, case_id: int) -> float | None:
        """Seconds left on the SLA clock at ``now`` (negative once breached)."""
        due = self._rows[case_id].due
        return None if due is None else due - self._now_ts

    def version(self, case_id: int) -> int:
        """A number that changes whenever the case's row changes (upsert, heat)."""
        return self._rows[case_id].version

    # -- listeners -------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change (upsert, sort, filter, rerank, marks)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _changed(self) -> None:
        self.generation += 1
        for callback in tuple(self._listeners):
            callback()

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, cases: Iterable[Case]) -> None:
        """Add or replace cases; each moves to its place in the order."""
        self.apply(self.prepare(cases))

    def prepare(self, cases: Iterable[Case]) -> PreparedCases:
        """Build rows for ``apply`` without changing the model: safe in a worker thread.

        At 100k cases this is most of a load's cost, so a desk prepares its initial load
        off the event loop and applies it on the loop.
        """
        now_ts, sort = self._now_ts, self._sort
        latest = {case.id: case for case in cases}  # one row per case: the last one wins
        rows = [self._make_row(case) for case in latest.values()]
        keys = sorted(r.key for r in rows) if len(rows) > 256 else []
        if (now_ts, sort) != (self._now_ts, self._sort):  # the loop moved on meanwhile
            now_ts = math.nan  # never equal: apply recomputes
        return PreparedCases(rows, keys, now_ts, sort)

    def is_current(self, prepared: PreparedCases) -> bool:
        """True when ``prepared`` was built for the model's time and sort as they are now
        (else ``apply`` recomputes every row on the loop; preparing again may be cheaper)."""
        return prepared.now_ts == self._now_ts and prepared.sort == self._sort

    def apply(self, prepared: PreparedCases) -> None:
        """Put prepared rows in the queue (on the event loop; each prepared batch once).

        A case the model already holds in a newer version (``Case.version``) is kept.
        """
        fresh = prepared.rows
        if not fresh:
            return
        keys = prepared.keys
        if prepared.now_ts != self._now_ts or prepared.sort != self._sort:  # stale: redo
            for row in fresh:
                row.heat = self._heat(row)
                row.key = self._key(row)
                row.check_at = self._next_check(row)
            keys = sorted(r.key for r in fresh) if keys else []
        rows = self._rows
        bulk = bool(keys) and len(fresh) > 256 + len(rows) // 64  # one sort beats bisecting
        gone: list[int] = []
        skipped: set[int] = set()
        version = self._next_version
        for row in fresh:
            case_id = row.case.id
            old = rows.get(case_id)
            if old is not None:
                if old.case.version > row.case.version:
                    skipped.add(row.key)
                    continue
                old.check_at = None  # its wheel entry is stale now
                if bulk:
                    gone.append(old.key)
                else:
                    self._unlink(old.key)
            version += 1
            row.version = version
            rows[case_id] = row
            if row.check_at is not None:
                self._file(row)
            if not bulk:
                self._link(row)
        self._next_version = version
        if bulk:
            if gone or skipped:
                drop = set(gone)
                self._order = [k for k in self._order if k not in drop]
                keys = [k for k in keys if k not in skipped] if skipped else keys
            self._order += keys
            self._order.sort()  # two sorted runs: Timsort merges them in one pass
            self._refilter()
        self._changed()

    def remove(self, case_ids: Iterable[int]) -> None:
        """Drop cases from the model (and their marks)."""
        removed = False
        for case_id in case_ids:
            row = self._rows.pop(case_id, None)
            if row is not None:
                row.check_at = None
                self._unlink(row.key)
                self.marks.discard(case_id)
                removed = True
        if removed:
            self._changed()

    def clear(self) -> None:
        """Forget every case."""
        self._rows.clear()
        self._order.clear()
        self._shown.clear()
        self._wheel.clear()
        self.marks.clear()
        self._changed()

    def _make_row(self, case: Case) -> _Row:
        """A row for ``case`` at ``now``; reads the model, never changes it."""
        if not 0 <= case.id <= _ID_MASK:
            raise ValueError(f"case id {case.id} is out of range for the queue")
        row = _Row()
        row.case = case
        row.version = 0
        row.tail = (_ms(case.opened_at.timestamp()) << _ID_BITS) | case.id
        row.static = case.heat_static
        row.open = case.status in OPEN_STATUSES
        row.resolved = _ts(case.resolved_at) if case.status in _DONE else None
        row.hay = "\n".join([clean(case.customer), clean(case.last_text),
                             *map(clean, case.tags)]).casefold()
        row.waiting = _ts(case.waiting_since)
        if row.waiting is None:
            row.target_s = row.due = None
            row.level = 0.0
        else:
            minutes = self.targets.minutes(case.priority, first=case.first_response_at is None)
            row.target_s = minutes * 60.0
            row.due = row.waiting + row.target_s
            row.level = max(0.25, problem_level(case.heat_parts, self.weights))
        row.heat = self._heat(row)
        row.key = self._key(row)
        row.check_at = self._next_check(row)
        return row

    def _heat(self, row: _Row) -> float:
        """Heat at ``now``; sets ``row.sla``.

        The same arithmetic as store.rules.heat.sla_part over sla.sla_state's ``used``,
        with per-row constants (heat_static is the rounded total of the static parts).
        """
        if row.waiting is None:
            row.sla = 0.0
        else:
            used = (self._now_ts - row.waiting) / row.target_s
            row.sla = round(self.weights.sla * min(1.0, max(0.0, used)) * row.level, 1)
        heat = row.static + row.sla
        return round(0.0 if heat < 0.0 else min(heat, 100.0), 1)

    def _next_check(self, row: _Row) -> float | None:
        """When the row's SLA pressure next rounds up by a tenth (None: it never will)."""
        if row.waiting is None:
            return None
        top = self.weights.sla * row.level  # the pressure at breach
        boundary = row.sla + 0.05
        if top <= 0.0 or boundary > top:
            return None
        return row.waiting + row.target_s * boundary / top - 0.001  # a hair early, never late

    def _file(self, row: _Row) -> None:
        """Put the row in the timing wheel under the second of its next check."""
        second = max(int(row.check_at), self._wheel_from)
        bucket = self._wheel.get(second)
        if bucket is None:
            self._wheel[second] = [row]
        else:
            bucket.append(row)

    def _unlink(self, key: int) -> None:
        for keys in (self._order, self._shown):
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]

    def _link(self, row: _Row) -> None:
        insort(self._order, row.key)
        if self._test is None or self._test(row):
            insort(self._shown, row.key)

    def _rekey_all(self) -> None:
        key = self._key
        for row in self._rows.values():
            row.key = key(row)
        self._order = sorted(r.key for r in self._rows.values())
        self._refilter()

    # -- order, view, filter ---------------------------------------------------------------

    def set_sort(self, key: str, reverse: bool = False) -> None:
        """Order by ``key`` (one of SORT_KEYS) in its "needs us most" direction, or reversed.

        heat: hottest first; age: longest waiting first (then cases nobody waits on, oldest
        first); sla: least time left first; sentiment: most negative first; reach: most
        followers first; platform: by name, hottest first within each. Ties: oldest first.
        """
        if key not in _KEY_FUNCS:
            raise ValueError(f"unknown sort key {key!r}; one of {', '.join(SORT_KEYS)}")
        if key == self._sort and reverse == self._reverse:
            return
        self.sort_generation += 1
        self._reverse = reverse
        if key != self._sort:
            self._sort, self._key = key, _KEY_FUNCS[key]
            self._rekey_all()
        self._changed()

    def set_view(self, view: str, agent: str | None = None) -> None:
        """Show one saved view: open, mine, escalated, breaching, resolved_today or all."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
        if agent is not None:
            self.agent = agent
        self._view = view
        self._retest()
        self._refilter()
        self._changed()

    def set_filter(self, text: str) -> None:
        """Live filter: every term must occur in the customer, the last text or a tag."""
        terms = tuple(clean(text).casefold().split())
        normal = " ".join(terms)
        if normal == self._filter:
            return
        narrowing = normal.startswith(self._filter)  # typing on: a subset of what is shown
        self._filter, self._terms = normal, terms
        self._retest()
        self._refilter(narrowing)
        self._changed()

    def _retest(self) -> None:
        """Compile the row test for the view, filter and time (None: every row passes)."""
        view = self._view
        in_view: Callable[[_Row], bool] | None
        if view == "all":
            in_view = None
        elif view == "open":
            def in_view(r: _Row) -> bool:
                return r.open
        elif view == "mine":
            agent = self.agent

            def in_view(r: _Row) -> bool:
                return r.open and agent is not None and r.case.assignee == agent
        elif view == "escalated":
            def in_view(r: _Row) -> bool:
                return r.open and r.case.escalation_tier > 0
        elif view == "breaching":
            limit = self._now_ts + self.at_risk_s

            def in_view(r: _Row) -> bool:
                return r.open and r.due is not None and r.due < limit
        else:  # resolved_today
            start = self._day_start

            def in_view(r: _Row) -> bool:
                return r.resolved is not None and r.resolved >= start
        terms = self._terms
        if not terms:
            self._test = in_view
        elif len(terms) == 1:
            term = terms[0]
            self._test = ((lambda r: term in r.hay) if in_view is None
                          else (lambda r: term in r.hay and in_view(r)))
        elif len(terms) == 2:  # the common "two words" search, without a generator per row
            one, two = terms
            self._test = ((lambda r: one in r.hay and two in r.hay) if in_view is None
                          else (lambda r: one in r.hay and two in r.hay and in_view(r)))
        else:
            self._test = ((lambda r: all(t in r.hay for t in terms)) if in_view is None
                          else (lambda r: all(t in r.hay for t in terms) and in_view(r)))

    def _refilter(self, narrowing: bool = False) -> None:
        test, rows = self._test, self._rows
        if test is None:
            self._shown = list(self._order)
        elif narrowing and len(self._shown) < len(rows) // 4:
            self._shown = [k for k in self._shown if test(rows[k & _ID_MASK])]
        else:
            # Test rows in memory order (far fewer cache misses than in sorted order),
            # then keep the sorted keys whose id passed.
            passed = {case_id for case_id, row in rows.items() if test(row)}
            self._shown = [k for k in self._order if k & _ID_MASK in passed]

    # -- time ------------------------------------------------------------------------------

    def _set_now(self, now: datetime) -> None:
        self._now = now
        self._now_ts = now.timestamp()
        self._day_start = _local_day_start(now)
        self._retest()

    def rerank(self, now: datetime | None = None) -> int:
        """Move the model's clock to ``now`` and re-rank; returns how many heats changed.

        For the desk's slow tick (seconds), never per frame.
        """
        now = now or utcnow()
        backwards = now.timestamp() < self._now_ts
        self._set_now(now)
        self.tick += 1
        if backwards:
            changed = self._restart_clocks()
        else:
            due, kept = self._due_rows()
            changed_rows, old_keys = self._advance(due)
            for row in kept:
                self._file(row)
            changed = len(changed_rows)
            if changed and self._sort in _TIME_KEYS:
                self._rekey(changed_rows, old_keys)
        if self._view in _TIME_VIEWS:
            self._refilter()
        self._changed()
        return changed

    def _due_rows(self) -> tuple[list[_Row], list[_Row]]:
        """Rows whose next heat change is due, and rows of this second still to come."""
        wheel, now_ts = self._wheel, self._now_ts
        end = int(now_ts)
        if end - self._wheel_from > 4096:
            seconds = sorted(s for s in wheel if s <= end)
        else:
            seconds = [s for s in range(self._wheel_from, end + 1) if s in wheel]
        self._wheel_from = end
        due: list[_Row] = []
        kept: list[_Row] = []
        for second in seconds:
            for row in wheel.pop(second):
                at = row.check_at
                if at is None:
                    continue  # replaced, removed or stopped since it was filed
                (due if at <= now_ts else kept).append(row)
        return due, kept

    def _advance(self, due: list[_Row]) -> tuple[list[_Row], list[int]]:
        """New heat for rows whose clock ticked, and their next check (the hot path)."""
        # _heat, _next_check and _file inlined: this loop runs for every clock that ticked.
        changed: list[_Row] = []
        old_keys: list[int] = []
        version = self._next_version
        now_ts, wsla, wheel, first = self._now_ts, self.weights.sla, self._wheel, self._wheel_from
        for row in due:
            waiting, target_s, level = row.waiting, row.target_s, row.level
            used = (now_ts - waiting) / target_s
            used = 0.0 if used < 0.0 else min(used, 1.0)
            row.sla = sla = round(wsla * used * level, 1)
            heat = row.static + sla
            heat = round(0.0 if heat < 0.0 else min(heat, 100.0), 1)
            if heat != row.heat:
                row.heat = heat
                version += 1
                row.version = version
                changed.append(row)
                old_keys.append(row.key)
            top = wsla * level
            boundary = sla + 0.05
            if boundary > top:
                row.check_at = None
                continue
            row.check_at = at = waiting + target_s * boundary / top - 0.001
            second = int(at)
            bucket = wheel.get(max(first, second))
            if bucket is None:
                wheel[max(first, second)] = [row]
            else:
                bucket.append(row)
        self._next_version = version
        return changed, old_keys

    def _restart_clocks(self) -> int:
        """Time went backwards: clocks that stopped at breach may run again."""
        self._wheel.clear()
        self._wheel_from = int(self._now_ts)
        for row in self._rows.values():
            row.heat = self._heat(row)
            self._next_version += 1
            row.version = self._next_version
            row.check_at = self._next_check(row)
            if row.check_at is not None:
                self._file(row)
        self._rekey_all()
        return len(self._rows)

    def _rekey(self, changed: list[_Row], old_keys: list[int]) -> None:
        key = self._key
        if len(changed) <= 64 + len(self._rows) // 100:  # a few moves: bisect each
            for row, old in zip(changed, old_keys, strict=True):
                self._unlink(old)
                row.key = key(row)
                self._link(row)
            return
        # Many moves: drop the old keys in one pass, sort the new ones, and let Timsort
        # merge the two sorted runs (linear), rather than re-sorting from scratch.
        gone = set(old_keys)
        test = self._test
        new_keys: list[int] = []
        new_shown: list[int] = []
        for row in changed:
            row.key = new = key(row)
            new_keys.append(new)
            if test is None or test(row):
                new_shown.append(new)
        for name, fresh in (("_order", new_keys), ("_shown", new_shown)):
            keys = [k for k in getattr(self, name) if k not in gone]
            fresh.sort()
            keys += fresh
            keys.sort()
            setattr(self, name, keys)

    # -- marks -----------------------------------------------------------------------------

    def toggle_mark(self, case_id: int) -> bool:
        """Mark or unmark a case for a bulk action; True when it is now marked."""
        if case_id in self.marks:
            self.marks.discard(case_id)
            marked = False
        elif case_id in self._rows:
            self.marks.add(case_id)
            marked = True
        else:
            return False
        self._changed()
        return marked

    def clear_marks(self) -> None:
        """Unmark every case."""
        if self.marks:
            self.marks.clear()
            self._changed()

    def marked(self) -> list[int]:
        """Marked case ids in the current order (shown ones first, then hidden ones)."""
        shown = [i for i in self.ids() if i in self.marks]
        seen = set(shown)
        return shown + sorted(i for i in self.marks if i not in seen)


# -- measuring ---------------------------------------------------------------------------

_WORDS = ("order", "never", "arrived", "refund", "please", "thanks", "love", "broken", "again",
          "cancel", "charged", "twice", "lawyer", "size", "colour", "delivery", "late", "help",
          "great", "app", "login", "password", "store", "return", "label", "waiting", "week")
_TAGS = ((), ("billing",), ("shipping",), ("refund", "billing"), ("vip",), ("bug",))


def synthetic_cases(n: int, now: datetime | None = None, seed: int = 7) -> list[Case]:
    """``n`` plausible cases around ``now``, mostly open (for benchmarks and tests)."""
    rng = random.Random(seed)
    now = now or utcnow()
    texts = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 18))) for _ in range(512)]
    parts_pool = []
    for _ in range(64):
        parts_pool.append({"negativity": round(rng.random() * 40, 1),
                           "urgency": rng.choice((0.0, 0.0, 7.5, 15.0)),
                           "reach": round(rng.random() * 10, 1), "repeat": 0.0, "velocity": 0.0})
    statuses = (Status.NEW,) * 6 + (Status.ACKNOWLEDGED, Status.WAITING, Status.OFFLINE)
    cases = []
    for i in range(1, n + 1):
        parts = parts_pool[rng.randrange(64)]
        static = round(sum(parts.values()), 1)
        opened = now - timedelta(seconds=rng.random() * 3 * 86400)
        waiting = None if rng.random() < 0.2 else now - timedelta(seconds=rng.random() * 7200)
        cases.append(Case(
            id=i, platform=rng.choice(("mastodon", "bluesky", "reddit", "rss", "demo")),
            customer_id=i, customer=f"user{rng.randrange(10 * n)}@example.social",
            status=rng.choice(statuses), opened_at=opened, updated_at=opened,
            waiting_since=waiting, escalation_tier=1 if rng.random() < 0.05 else 0,
            assignee=rng.choice((None, None, None, "alice", "bob")),
            tags=list(rng.choice(_TAGS)), heat_parts=parts, heat_static=static,
            priority="hot" if static >= 50 else "normal",
            sentiment=round(rng.uniform(-1, 1), 3), followers=int(rng.paretovariate(1.2) * 50),
            mention_count=1, last_text=rng.choice(texts)))
    return cases


def bench_model(n: int, *, freeze_gc: bool = True) -> dict:
    """Time the model's operations at ``n`` cases: ``*_ms`` milliseconds, ``*_us`` µs.

    With ``freeze_gc`` the loaded cases are moved out of the collector's reach after the
    load (``gc.freeze()``), as a desk should do; undone before returning.
    """
    now = utcnow()
    cases = synthetic_cases(n, now)
    rng = random.Random(11)

    def timed(fn: Callable[[], object]) -> float:
        start = time.process_time()  # CPU time: other load on the machine does not count
        fn()
        return (time.process_time() - start) * 1000.0

    model = QueueModel(now=now)
    prepared: list[PreparedCases] = []
    out: dict = {"n": n, "prepare_ms": timed(lambda: prepared.append(model.prepare(cases)))}
    out["apply_ms"] = timed(lambda: model.apply(prepared.pop()))
    out["load_ms"] = out["prepare_ms"] + out["apply_ms"]
    if freeze_gc:
        gc.collect()
        gc.freeze()
    try:
        # One changed case at a time, as the change cursor delivers them.
        samples = [cases[rng.randrange(n)] for _ in range(200)]
        for case in samples:
            case.heat_static = round(rng.random() * 60, 1)
        out["upsert_one_us"] = timed(lambda: [model.upsert([c]) for c in samples]) * 5
        out["upsert_batch100_ms"] = timed(lambda: model.upsert(rng.sample(cases, 100)))
        gone = [c.id for c in rng.sample(cases, 100)]
        out["remove_one_us"] = timed(lambda: [model.remove([i]) for i in gone]) * 10
        out["rerank_5s_ms"] = timed(lambda: model.rerank(now + timedelta(seconds=5)))
        out["rerank_10s_ms"] = timed(lambda: model.rerank(now + timedelta(seconds=15)))
        out["rerank_60s_ms"] = timed(lambda: model.rerank(now + timedelta(seconds=75)))
        ids = [cases[rng.randrange(n)].id for _ in range(1000)]
        out["index_of_us"] = timed(lambda: [model.index_of(i) for i in ids])
        out["row_at_us"] = timed(lambda: [model.row_at(i % len(model)) for i in ids])
        out["filter_first_key_ms"] = timed(lambda: model.set_filter("r"))
        out["filter_narrow_ms"] = timed(lambda: model.set_filter("ref"))
        out["filter_narrow_more_ms"] = timed(lambda: model.set_filter("refund late"))
        out["filter_clear_ms"] = timed(lambda: model.set_filter(""))
        out["sort_change_ms"] = timed(lambda: model.set_sort("sla"))
        out["sort_reverse_ms"] = timed(lambda: model.set_sort("sla", reverse=True))
        out["view_change_ms"] = timed(lambda: model.set_view("escalated"))
    finally:
        if freeze_gc:
            gc.unfreeze()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}
