"""Reading cases for a desk's progressive load: hottest first with a limit, pages by id,
and the index that keeps the first read short (on each backend via the store fixture)."""

from __future__ import annotations

import sqlite3

import pytest

from store import open_store
from store.schema import SCHEMA_VERSION
from tests.conftest import mention

TEXTS = [
    "thanks, love it",
    "where is my order? it never arrived",
    "I was charged twice and want a refund now, this is a scam",
    "what are your opening hours",
    "the app crashed again, third time this week, really annoyed",
    "my account was hacked and you did nothing, lawyer next",
    "cool jacket",
    "refund please, the zip broke after one day",
]


async def filled(store):
    await store.ingest([mention(f"m{i}", author=f"cust{i}@example.social", text=text,
                                minutes=i, followers=10 ** (i % 5))
                        for i, text in enumerate(TEXTS)])
    cases = await store.cases()
    assert len(cases) == len(TEXTS)
    return cases


def hottest_first(cases):
    return [c.id for c in sorted(cases, key=lambda c: (-c.heat_static, c.id))]


async def test_hottest_open_cases_first_with_a_limit(store):
    cases = await filled(store)
    assert len({c.heat_static for c in cases}) > 3  # the order means something
    top = hottest_first(cases)
    await store.resolve(top[0], "bob")  # the hottest is no longer open
    first = await store.cases(open_only=True, order="heat", limit=3)
    assert [c.id for c in first] == top[1:4]
    assert [c.id for c in await store.cases(open_only=True, order="heat", limit=100)] == top[1:]
    everything = await store.cases(order="heat")
    assert [c.id for c in everything] == hottest_first(await store.cases())
    assert await store.cases(open_only=True, order="heat", limit=0) == []


async def test_open_cases_in_pages_by_id(store):
    cases = await filled(store)
    await store.resolve(cases[2].id, "bob")
    want = [c.id for c in await store.open_cases()]
    assert len(want) == len(TEXTS) - 1
    got, after = [], None
    while True:
        page = await store.cases(open_only=True, after_id=after, limit=3)
        got += [c.id for c in page]
        if len(page) < 3:
            break
        after = page[-1].id
    assert got == want
    assert [c.id for c in await store.cases(after_id=cases[5].id)] == [c.id for c in cases[6:]]
    assert [c.id for c in await store.cases(limit=2)] == [c.id for c in cases[:2]]


async def test_bad_orders_are_refused(store):
    with pytest.raises(ValueError, match="order"):
        await store.cases(order="age")
    with pytest.raises(ValueError, match="after_id"):
        await store.cases(order="heat", after_id=3)


async def test_the_first_screen_read_can_use_the_open_heat_index(store):
    # The query as Store.cases writes it for open_only + order="heat" + limit; the
    # partial index's condition must match it word for word on both backends.
    sql = ("SELECT id FROM cases WHERE status NOT IN ('resolved', 'closed') "
           "ORDER BY heat_static DESC, id LIMIT 3")
    await filled(store)

    def plan(tx):
        if store.backend == "sqlite":
            return " ".join(str(r) for r in tx.fetchall("EXPLAIN QUERY PLAN " + sql))
        tx.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show
        tx.execute("SET LOCAL enable_sort = off")  # whether it can use the index at all
        return " ".join(r[0] for r in tx.fetchall("EXPLAIN " + sql))

    assert "cases_open_heat" in await store._read(plan)


async def test_a_version_1_store_gets_the_index(tmp_path, config):
    path = tmp_path / "desk.db"
    s = await open_store(str(path), config)
    await s.ingest([mention("m1", text="help, my order never arrived")])
    await s.close()
    conn = sqlite3.connect(path)  # back to how version 1 left it
    conn.execute("DROP INDEX cases_open_heat")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    s = await open_store(str(path), config)
    try:
        assert [c.id for c in await s.cases(open_only=True, order="heat", limit=5)] == [1]
    finally:
        await s.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchone()[0] == str(SCHEMA_VERSION) == "2"
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                            "AND name = 'cases_open_heat'").fetchone()
    finally:
        conn.close()
