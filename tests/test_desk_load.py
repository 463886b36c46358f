"""The desk's progressive load: the hottest open cases are painted first, the rest arrive
behind them, and nothing that changes meanwhile is lost or rolled back.

A real SQLite store of 20 open cases whose stored heat is set by hand (1..20, so the
hottest by stored heat are known), and one case, ``Z``, that is only warm by stored heat
but has waited for hours: by the queue's heat (stored heat plus SLA pressure) it is the
hottest of all, yet it is not on the first screen. ``FIRST_PAGE`` is patched to 3 and
``LOAD_PAGE`` to 4, and the paged read of the rest is held at a gate, so each test sees
the desk between its first screen and its full load.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

import pytest

from store import open_store
from store.records import Mention, Status
from tests.desk_helpers import NOW, T0, desk_config, make_app, wait_for

WIDE = (160, 45)
N = 20


@pytest.fixture
async def store(tmp_path):
    path = tmp_path / "desk.db"
    s = await open_store(str(path), desk_config())
    await s.ingest([Mention(platform="mastodon", external_id=f"x{i}",
                            author=f"cust{i}@example.social", text=f"hello, post number {i}",
                            created_at=T0 + timedelta(minutes=i), sentiment=0.0, source="demo")
                    for i in range(N)])
    ids = [c.id for c in await s.cases()]
    assert len(ids) == N
    conn = sqlite3.connect(path)  # the heat by hand: 1..20 by id, nobody waiting but Z
    for i, case_id in enumerate(ids):
        conn.execute("UPDATE cases SET heat_static = ?, heat_parts = ?, waiting_since = NULL, "
                     "priority = 'normal' WHERE id = ?",
                     (float(i + 1), json.dumps({"negativity": float(i + 1)}), case_id))
    # Z: stored heat 16, waiting five hours (SLA breached): 16 + 20 × 16/55 ≈ 21.8 > 20.
    conn.execute("UPDATE cases SET heat_static = 16.0, heat_parts = ?, waiting_since = ? "
                 "WHERE id = ?", (json.dumps({"negativity": 16.0}),
                                  (NOW - timedelta(hours=5)).timestamp(), ids[0]))
    conn.commit()
    conn.close()
    s.test_ids = ids
    yield s
    await s.close()


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("tui.desk.FIRST_PAGE", 3)
    monkeypatch.setattr("tui.desk.LOAD_PAGE", 4)


class Gate:
    """Holds the desk's paged read of the rest (``after_id`` paging) until opened.

    ``read_first``: the first page is read from the store before waiting, so what it
    returns is older than anything changed while the gate is shut.
    """

    def __init__(self, store, read_first: bool = False) -> None:
        self.open = asyncio.Event()
        self.reached = asyncio.Event()
        self.real = store.cases
        self.read_first = read_first
        self.paged_calls = 0
        store.cases = self.cases

    async def cases(self, **kw):
        paged = kw.get("open_only") and kw.get("order", "id") == "id" and "limit" in kw
        if not paged:
            return await self.real(**kw)
        self.paged_calls += 1
        if self.paged_calls > 1:
            return await self.real(**kw)
        if self.read_first:
            rows = await self.real(**kw)
            self.reached.set()
            await self.open.wait()
            return rows
        self.reached.set()
        await self.open.wait()
        return await self.real(**kw)


async def first_screen(pilot, gate: Gate | None = None):
    """The desk once its first screen is in (and the rest is held at the gate)."""
    from tui.desk import DeskScreen

    await wait_for(lambda: isinstance(pilot.app.screen, DeskScreen)
                   and pilot.app.screen.loaded.is_set(), pilot)
    if gate is not None:
        await asyncio.wait_for(gate.reached.wait(), 5)
    await pilot.pause()
    return pilot.app.screen


def shown_posts(desk) -> list[int]:
    """The queue's rows as drawn: the number of each row's post, top to bottom."""
    lines = (desk.queue.render_line(y).text for y in range(desk.queue.size.height))
    return [int(line.split("post number ")[1].split()[0]) for line in lines
            if "post number " in line]


def status(desk) -> str:
    return str(desk.query_one("#status").render())


def has(desk, case_id: int, test) -> bool:
    case = desk.model.get(case_id)
    return case is not None and test(case)


def effective_order(store, cases) -> list[int]:
    return [c.id for c in sorted(cases, key=lambda c: (-store.heat(c, NOW)[0], c.opened_at))]


async def test_first_screen_is_the_hottest_then_every_case_arrives(store, small_pages):
    ids = store.test_ids
    z = ids[0]
    everything = effective_order(store, await store.open_cases())
    assert everything[0] == z  # the test means something: Z is the hottest of all ...
    gate = Gate(store)
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await first_screen(pilot, gate)
        # ... but not by stored heat, so the first screen is the three hottest by that.
        assert list(desk.model.ids()) == [ids[19], ids[18], ids[17]]
        assert z not in desk.model
        assert not desk.fully_loaded.is_set()
        assert desk.queue.cursor_case_id == ids[19]
        assert "open 3" in status(desk) and "loading…" in status(desk)
        assert shown_posts(desk) == [19, 18, 17]  # and that is what the screen shows
        gate.open.set()
        await asyncio.wait_for(desk.fully_loaded.wait(), 5)
        await pilot.pause()
        assert gate.paged_calls == 6  # 20 cases, 4 a call, and one call that finds none left
        assert list(desk.model.ids()) == everything
        # The agent had not moved: the cursor goes to the hottest of them all.
        assert desk.queue.cursor_case_id == z
        assert shown_posts(desk)[:3] == [0, 19, 18]
        assert "open 20" in status(desk) and "loading…" not in status(desk)
        assert set(desk.open_holders) == set(ids)


async def test_the_agents_case_stays_highlighted_through_the_load(store, small_pages):
    ids = store.test_ids
    gate = Gate(store)
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await first_screen(pilot, gate)
        await pilot.press("j")
        assert desk.queue.cursor_case_id == ids[18]
        gate.open.set()
        await asyncio.wait_for(desk.fully_loaded.wait(), 5)
        await pilot.pause()
        assert len(desk.model) == N
        assert desk.queue.cursor_case_id == ids[18]
        assert desk.model.index_of(ids[18]) == 2  # it moved down: Z and ids[19] are above


async def test_filter_and_sort_set_while_loading_apply_to_every_case(store, small_pages):
    gate = Gate(store)
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await first_screen(pilot, gate)
        desk.model.set_filter("cust1")
        desk.model.set_sort("age")
        assert len(desk.model) == 3  # cust17, cust18, cust19
        gate.open.set()
        await asyncio.wait_for(desk.fully_loaded.wait(), 5)
        await pilot.pause()
        shown = [desk.model.get(i) for i in desk.model.ids()]
        assert sorted(c.customer for c in shown) == sorted(
            f"cust{i}@example.social" for i in (1, *range(10, 20)))
        # age: longest waiting first (only Z waits), then the rest oldest first
        assert [c.id for c in shown] == sorted(
            (c.id for c in shown), key=lambda i: (i != store.test_ids[0], i))


async def test_changes_while_loading_are_not_rolled_back_by_older_pages(store, small_pages):
    ids = store.test_ids
    resolved, tagged = ids[1], ids[2]  # both on the first page of the rest, read before
    gate = Gate(store, read_first=True)
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await first_screen(pilot, gate)  # that page is read and held
        await store.resolve(resolved, "bob")
        await store.tag(tagged, "bob", "changed-meanwhile")
        await store.claim(tagged, "bob")
        # The deltas arrive while the rest is still loading.
        await wait_for(lambda: has(desk, resolved, lambda c: c.status is Status.RESOLVED)
                       and has(desk, tagged, lambda c: c.assignee == "bob"), pilot)
        assert not desk.fully_loaded.is_set()
        gate.open.set()  # the held page, older than both changes, goes in now
        await asyncio.wait_for(desk.fully_loaded.wait(), 5)
        await pilot.pause()
        assert desk.model.get(resolved).status is Status.RESOLVED
        assert desk.model.index_of(resolved) is None  # not back in the open view
        assert "changed-meanwhile" in desk.model.get(tagged).tags
        assert desk.model.get(tagged).assignee == "bob"
        assert desk.open_holders[tagged] == "bob"  # what a promise counts, kept too
        assert len(desk.model) == N - 1
        assert resolved not in desk.open_holders
        assert "open 19" in status(desk)


async def test_a_change_right_after_the_first_read_is_not_missed(store):
    # The whole store fits the first screen here (one load): a change committed after
    # that read can only arrive as a delta, so the cursor position must predate the read.
    ids = store.test_ids
    real = store.cases

    async def cases(**kw):
        rows = await real(**kw)
        if kw.get("order") == "heat" and not hasattr(store, "changed"):
            store.changed = True
            await store.tag(ids[19], "bob", "late")
        return rows

    store.cases = cases
    app = make_app(store=store)
    async with app.run_test(size=WIDE) as pilot:
        desk = await first_screen(pilot)
        assert desk.fully_loaded.is_set() and len(desk.model) == N
        await wait_for(lambda: "late" in desk.model.get(ids[19]).tags, pilot)
