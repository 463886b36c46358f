"""The queue model: order, incremental upserts and re-ranks against a full sort, filter,
saved views, marks, and a stable position for the selected case."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.config import Config
from store.core import effective_heat
from store.records import Case, Status
from store.rules import heat as heat_rules
from tui.queue_model import SORT_KEYS, QueueModel, bench_model, synthetic_cases

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CONFIG = Config()


def case(cid: int, *, neg: float = 10.0, urgency: float = 0.0, opened_min: float = 60,
         waiting_min: float | None = None, status: Status = Status.NEW, **kw) -> Case:
    """A case opened ``opened_min`` minutes before NOW, waiting ``waiting_min`` minutes."""
    parts = {"negativity": neg, "urgency": urgency, "reach": 0.0, "repeat": 0.0, "velocity": 0.0}
    opened = NOW - timedelta(minutes=opened_min)
    fields = {
        "platform": "mastodon", "customer_id": cid, "customer": f"user{cid}@example.social",
        "status": status, "opened_at": opened, "updated_at": opened, "heat_parts": parts,
        "heat_static": heat_rules.total(parts), "priority": heat_rules.priority(parts),
        "waiting_since": None if waiting_min is None else NOW - timedelta(minutes=waiting_min),
        "last_text": f"message {cid}",
    }
    return Case(id=cid, **(fields | kw))


def reference_order(cases: list[Case], now: datetime) -> list[int]:
    """Hottest first by the store's own effective heat; ties: oldest, then lowest id."""
    def key(c: Case):
        return (-effective_heat(c, now, CONFIG)[0], c.opened_at, c.id)
    return [c.id for c in sorted(cases, key=key)]


def random_cases(rng: random.Random, n: int, start_id: int = 1) -> list[Case]:
    return [case(i, neg=round(rng.uniform(0, 40), 1), urgency=rng.choice((0.0, 7.5, 15.0)),
                 opened_min=rng.randrange(1, 600),
                 waiting_min=rng.choice((None, rng.uniform(0, 200))),
                 first_response_at=rng.choice((None, NOW - timedelta(hours=9))))
            for i in range(start_id, start_id + n)]


def test_hottest_first_with_ties_oldest_first():
    m = QueueModel(now=NOW)
    m.upsert([case(1, neg=10), case(2, neg=30), case(3, neg=10, opened_min=120)])
    assert list(m.ids()) == [2, 3, 1]
    assert [m.row_at(i).id for i in range(3)] == [2, 3, 1]
    assert m.index_of(3) == 1 and m.id_at(-1) == 1
    with pytest.raises(IndexError):
        m.row_at(3)


def test_heat_is_the_stores_effective_heat():
    rng = random.Random(3)
    cases = random_cases(rng, 300)
    m = QueueModel(now=NOW)
    m.upsert(cases)
    for later in (0, 7, 45, 300):
        now = NOW + timedelta(minutes=later)
        m.rerank(now)
        for c in cases:
            assert m.heat(c.id) == effective_heat(c, now, CONFIG)[0]
        assert list(m.ids()) == reference_order(cases, now)


def test_sla_pressure_grows_until_breach():
    m = QueueModel(now=NOW)
    m.upsert([case(1, neg=40, waiting_min=0), case(2, neg=41)])
    assert list(m.ids()) == [2, 1]
    m.rerank(NOW + timedelta(minutes=10))
    assert m.heat(1) > 41 and list(m.ids()) == [1, 2]
    m.rerank(NOW + timedelta(hours=5))
    assert m.remaining(1) < 0
    assert m.heat(1) == effective_heat(m.get(1), NOW + timedelta(hours=5), CONFIG)[0]


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.sampled_from(
    ["add", "change", "remove", "tick", "bigtick", "back", "filter", "view"]),
    min_size=1, max_size=30))
def test_incremental_order_equals_a_full_sort(rng, ops):
    cases = {c.id: c for c in random_cases(rng, 40)}
    m = QueueModel(now=NOW, view="all")
    m.upsert(cases.values())
    now, next_id = NOW, 1000
    for op in ops:
        if op == "add":
            batch = random_cases(rng, rng.choice((1, 3, 400)), next_id)
            next_id += len(batch)
            cases.update((c.id, c) for c in batch)
            m.upsert(batch)
        elif op == "change" and cases:
            old = rng.choice(list(cases.values()))
            new = case(old.id, neg=round(rng.uniform(0, 40), 1), opened_min=rng.randrange(600),
                       waiting_min=rng.choice((None, rng.uniform(0, 100))))
            cases[old.id] = new
            m.upsert([new])
        elif op == "remove" and cases:
            gone = rng.sample(list(cases), min(len(cases), rng.choice((1, 5))))
            for cid in gone:
                del cases[cid]
            m.remove(gone)
        elif op == "tick":
            now += timedelta(seconds=rng.uniform(0.1, 30))
            m.rerank(now)
        elif op == "bigtick":
            now += timedelta(minutes=rng.uniform(1, 90))
            m.rerank(now)
        elif op == "back":
            now -= timedelta(minutes=rng.uniform(0, 20))
            m.rerank(now)
        elif op == "filter":
            m.set_filter(rng.choice(("", "1", "12", "user2", "message 3")))
        elif op == "view":
            m.set_view(rng.choice(("all", "open", "breaching")))
    everything = QueueModel(now=now, view="all")
    everything.upsert(cases.values())
    assert list(everything.ids()) == reference_order(list(cases.values()), now)
    same = QueueModel(now=now, view=m.view)
    same.upsert(cases.values())
    same.set_filter(m.filter_text)
    assert list(m.ids()) == list(same.ids())
    for cid in m.ids():
        assert m.row_at(m.index_of(cid)).id == cid


def test_many_small_ticks_agree_with_one_big_one():
    cases = synthetic_cases(3000, NOW)
    stepped = QueueModel(now=NOW)
    stepped.upsert(cases)
    for s in range(1, 121):
        stepped.rerank(NOW + timedelta(seconds=s * 2.5))
    once = QueueModel(now=NOW + timedelta(seconds=300))
    once.upsert(cases)
    assert list(stepped.ids()) == list(once.ids())
    assert all(stepped.heat(c.id) == once.heat(c.id) for c in cases)


def test_sort_keys_and_reverse():
    cases = [
        case(1, neg=30, opened_min=10, waiting_min=5, sentiment=-0.2, followers=10,
             platform="reddit"),
        case(2, neg=5, opened_min=300, waiting_min=50, sentiment=-0.9, followers=5000,
             platform="bluesky"),
        case(3, neg=20, opened_min=100, sentiment=0.5, followers=100, platform="mastodon"),
    ]
    m = QueueModel(now=NOW)
    m.upsert(cases)
    expected = {
        "heat": [1, 3, 2], "age": [2, 1, 3], "sla": [2, 1, 3], "sentiment": [2, 1, 3],
        "reach": [2, 3, 1], "platform": [2, 3, 1],
    }
    assert set(expected) == set(SORT_KEYS)
    for key, order in expected.items():
        m.set_sort(key)
        assert list(m.ids()) == order, key
        m.set_sort(key, reverse=True)
        assert list(m.ids()) == order[::-1], key
        assert [m.index_of(i) for i in order[::-1]] == [0, 1, 2]
    with pytest.raises(ValueError):
        m.set_sort("colour")


def test_sort_generation_and_reverse_cost_nothing_to_rows():
    m = QueueModel(now=NOW)
    m.upsert([case(1), case(2, neg=20)])
    gen = m.sort_generation
    m.set_sort("heat", reverse=True)
    assert m.sort_generation == gen + 1 and m.reverse and list(m.ids()) == [1, 2]


def test_filter_matches_customer_text_and_tags_case_insensitively():
    m = QueueModel(now=NOW)
    m.upsert([
        case(1, customer="Alice@Example.social", last_text="my order never arrived"),
        case(2, last_text="REFUND please", tags=["billing"]),
        case(3, last_text="love the new jacket", tags=["Praise"]),
        case(4, last_text="ref\u200bund or I call my lawyer"),  # hidden from a naive search
    ])
    m.set_filter("alice")
    assert list(m.ids()) == [1]
    m.set_filter("refund")
    assert sorted(m.ids()) == [2, 4]
    m.set_filter("praise")
    assert list(m.ids()) == [3]
    m.set_filter("refund billing")  # every term must match
    assert list(m.ids()) == [2]
    m.set_filter("  ")
    assert len(m) == 4 and m.filter_text == ""


def test_filter_narrowing_and_widening_agree_with_brute_force():
    cases = synthetic_cases(5000, NOW)
    m = QueueModel(now=NOW, view="all")
    m.upsert(cases)
    full_order = list(m.ids())
    for text in ["r", "re", "ref", "refund", "refund l", "refund late", "refund", "", "LOVE"]:
        m.set_filter(text)
        terms = text.casefold().split()
        expected = {c.id for c in cases if all(
            t in "\n".join([c.customer, c.last_text, *c.tags]).casefold() for t in terms)}
        assert set(m.ids()) == expected, text
        assert list(m.ids()) == [i for i in full_order if i in expected]


def test_upserts_respect_the_filter_and_view():
    m = QueueModel(now=NOW)
    m.upsert([case(1, last_text="refund"), case(2, last_text="hello")])
    m.set_filter("refund")
    m.upsert([case(3, last_text="refund now"), case(4, last_text="nothing")])
    assert sorted(m.ids()) == [1, 3]
    m.upsert([case(3, last_text="refund now", status=Status.RESOLVED, resolved_at=NOW)])
    assert list(m.ids()) == [1]  # resolved: out of the open view
    assert m.total == 4


def test_saved_views():
    m = QueueModel(now=NOW, agent="alice")
    m.upsert([
        case(1, assignee="alice"),
        case(2, assignee="bob", escalation_tier=1),
        case(3, waiting_min=90),  # normal priority: 60 minutes to first response
        case(4, status=Status.RESOLVED, resolved_at=NOW - timedelta(minutes=5)),
        case(5, status=Status.CLOSED, resolved_at=NOW - timedelta(days=3)),
        case(6, waiting_min=10),
    ])
    expect = {"open": {1, 2, 3, 6}, "mine": {1}, "escalated": {2}, "breaching": {3},
              "resolved_today": {4}, "all": {1, 2, 3, 4, 5, 6}}
    for view, ids in expect.items():
        m.set_view(view)
        assert set(m.ids()) == ids, view
    m.set_view("mine", agent="bob")
    assert set(m.ids()) == {2}
    m.set_view("breaching")
    m.rerank(NOW + timedelta(minutes=55))  # case 6 breaches as time passes
    assert set(m.ids()) == {3, 6}
    with pytest.raises(ValueError):
        m.set_view("everything")


def test_selected_case_is_found_after_rows_move():
    m = QueueModel(now=NOW)
    m.upsert([case(i, neg=float(i)) for i in range(1, 51)])
    assert m.index_of(25) == 25
    m.upsert([case(100 + i, neg=39.0) for i in range(10)])  # ten hotter cases arrive
    assert m.index_of(25) == 35
    m.upsert([case(25, neg=60.0)])  # the case itself heats up
    assert m.index_of(25) == 0
    m.remove([25])
    assert m.index_of(25) is None and m.get(25) is None


def test_marks():
    m = QueueModel(now=NOW)
    m.upsert([case(1), case(2, neg=20), case(3, neg=30)])
    assert m.toggle_mark(1) and m.toggle_mark(3)
    assert m.marked() == [3, 1]
    assert not m.toggle_mark(3)
    assert not m.toggle_mark(99)  # unknown cases cannot be marked
    m.remove([1])
    assert m.marks == set()
    m.toggle_mark(2)
    m.clear_marks()
    assert m.marked() == []


def test_versions_and_listeners():
    m = QueueModel(now=NOW)
    calls = []
    m.add_listener(lambda: calls.append(m.generation))
    m.upsert([case(1, waiting_min=0, neg=40)])
    v = m.version(1)
    m.upsert([case(1, waiting_min=0, neg=40)])
    assert m.version(1) > v
    v = m.version(1)
    m.rerank(NOW + timedelta(minutes=5))  # heat moved: the row must be drawn again
    assert m.version(1) > v and m.tick == 1
    assert len(calls) == 3 and calls == sorted(calls)


async def test_prepare_in_a_worker_then_apply_on_the_loop():
    import asyncio

    cases = synthetic_cases(2000, NOW)
    m = QueueModel(now=NOW)
    prepared = await asyncio.to_thread(m.prepare, cases)
    assert len(m) == 0  # preparing changes nothing
    m.apply(prepared)
    reference = QueueModel(now=NOW)
    reference.upsert(cases)
    assert list(m.ids()) == list(reference.ids()) and len(m) > 1000


def test_a_stale_prepared_batch_is_recomputed_and_old_versions_lose():
    cases = synthetic_cases(600, NOW)
    m = QueueModel(now=NOW)
    prepared = m.prepare(cases)
    m.rerank(NOW + timedelta(minutes=20))  # time moved between prepare and apply
    m.set_sort("platform")
    m.apply(prepared)
    fresh = QueueModel(now=NOW + timedelta(minutes=20))
    fresh.set_sort("platform")
    fresh.upsert(cases)
    assert list(m.ids()) == list(fresh.ids())
    newer = case(cases[0].id, neg=40.0, version=5)
    m.upsert([newer])
    older = case(cases[0].id, neg=0.0, version=4)
    m.upsert([older])  # a late snapshot from before the change
    assert m.get(cases[0].id) is newer
    m.apply(m.prepare([older] + synthetic_cases(600, NOW, seed=5)[1:]))  # bulk path too
    assert m.get(cases[0].id) is newer


def test_out_of_range_ids_are_refused():
    with pytest.raises(ValueError):
        QueueModel(now=NOW).upsert([case(-1)])


def test_bench_model_reports_every_operation():
    result = bench_model(2000)
    assert result["n"] == 2000
    for key in ("load_ms", "upsert_one_us", "rerank_5s_ms", "filter_first_key_ms",
                "sort_change_ms", "index_of_us"):
        assert result[key] >= 0
