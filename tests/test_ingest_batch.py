"""Ingest is batch-shaped (a few queries per batch, decisions kept in memory): a batch must
group its mentions exactly as if each had been ingested on its own, in order.

Hypothesis makes sequences with the cases that matter — the same customer again inside
and outside the case window, replies to earlier mentions (in the same batch or an earlier
one) and to unknown posts, the brand's own posts, repeats of one post, cases resolved and
closed between batches — and compares a store fed in batches with one fed one by one.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.config import Config
from store.core import Ops
from store.records import Mention
from store.sqlite import SqliteTx, _greatest, _migrate

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
AUTHORS = ["ann", "bob", "cat", "acme"]  # acme is the brand


def _store(path) -> tuple[sqlite3.Connection, Ops]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_function("GREATEST", 2, _greatest, deterministic=True)
    _migrate(conn)
    return conn, Ops(Config(handles=["acme"], case_window_hours=24))


def _ingest(conn, ops, mentions, now, keep: bool = False) -> None:
    """One batch in one transaction; ``keep`` lets ``ops`` remember the cases' latest
    mentions once committed, as Store.ingest does."""
    conn.execute("BEGIN IMMEDIATE")
    result = ops.ingest(SqliteTx(conn), mentions, now)
    conn.execute("COMMIT")
    if keep:
        ops.keep_recent(result.recent)


def _between(conn, ops, step: int, now: float) -> None:
    """Agents at work between batches: resolve some open cases, close some resolved."""
    conn.execute("BEGIN IMMEDIATE")
    tx = SqliteTx(conn)
    if step % 2:
        for (case_id,) in conn.execute(
                "SELECT id FROM cases WHERE status = 'new' ORDER BY id LIMIT 1").fetchall():
            ops.resolve(tx, case_id, "agent", now)
    if step % 3 == 0:
        for (case_id,) in conn.execute(
                "SELECT id FROM cases WHERE status = 'resolved' ORDER BY id LIMIT 1").fetchall():
            ops.close(tx, case_id, "agent", None, now)
    conn.execute("COMMIT")


mention_specs = st.lists(
    st.tuples(
        st.sampled_from(AUTHORS),
        st.integers(0, 40),          # hours after T0 (the case window is 24 h)
        st.integers(-1, 12),         # reply to the k-th mention before (-1: none, 12: unknown)
        st.sampled_from(["My order is late and nobody answers!", "Thanks, all sorted now",
                         "Where is my refund? Third time asking.", "Love the boots"]),
        st.integers(0, 60_000),      # followers
        st.booleans(),               # repeat an earlier post (a duplicate)
    ),
    min_size=1, max_size=25)


def _mentions(specs) -> list[Mention]:
    out: list[Mention] = []
    for i, (author, hours, reply, text, followers, repeat) in enumerate(specs):
        if repeat and out:
            out.append(out[(i * 7) % len(out)])
            continue
        in_reply_to = None
        if reply == 12:
            in_reply_to = "unknown-post"
        elif reply >= 0 and reply < len(out):
            in_reply_to = out[-1 - reply].external_id
        out.append(Mention(platform="mastodon", external_id=f"p{i}", author=author, text=text,
                           created_at=T0 + timedelta(hours=hours, seconds=i),
                           followers=followers, in_reply_to=in_reply_to, sentiment=0.0))
    return out


def _copy(m: Mention) -> Mention:
    return Mention(platform=m.platform, external_id=m.external_id, author=m.author, text=m.text,
                   created_at=m.created_at, followers=m.followers, in_reply_to=m.in_reply_to,
                   sentiment=m.sentiment)


def _state(conn) -> dict:
    return {
        "mentions": conn.execute("SELECT id, external_id, case_id, from_brand FROM mentions "
                                 "ORDER BY id").fetchall(),
        "cases": conn.execute(
            "SELECT id, customer_id, status, waiting_since, last_activity, followers, last_text, "
            "prior_cases, linked_case_id, mention_count, heat_parts, heat_static, priority, "
            "suggestion FROM cases ORDER BY id").fetchall(),
        "customers": conn.execute("SELECT id, handle, followers FROM customers "
                                  "ORDER BY id").fetchall(),
        "events": conn.execute("SELECT case_id, kind, body, mention_id FROM events "
                               "ORDER BY case_id, kind, mention_id, body").fetchall(),
    }


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=mention_specs, cut=st.lists(st.integers(1, 8), min_size=1, max_size=6))
def test_a_batch_groups_as_one_at_a_time(tmp_path_factory, specs, cut):
    mentions = _mentions(specs)
    # The same sequence, cut into batches (sizes from ``cut``, cycling) and one by one,
    # with the same agent work between the same mentions. The batched store keeps its
    # cases' latest mentions between batches; the other rereads them every time.
    batches, i, k = [], 0, 0
    while i < len(mentions):
        size = cut[k % len(cut)]
        batches.append(mentions[i:i + size])
        i, k = i + size, k + 1
    tmp = tmp_path_factory.mktemp("batch")
    a, ops_a = _store(tmp / "batched.db")
    b, ops_b = _store(tmp / "single.db")
    now = T0.timestamp()
    for step, batch in enumerate(batches):
        _ingest(a, ops_a, [_copy(m) for m in batch], now, keep=True)  # rescored from memory
        for m in batch:
            _ingest(b, ops_b, [_copy(m)], now)
        _between(a, ops_a, step, now)
        _between(b, ops_b, step, now)
    assert _state(a) == _state(b)
    a.close()
    b.close()


def _expected_heat(conn, ops) -> dict[int, str]:
    """Every case's heat parts computed from scratch: its latest customer mentions read now."""
    from store.core import HEAT_WINDOW, dt
    from store.rules.heat import MentionSignal

    out = {}
    for case_id, prior in conn.execute("SELECT id, prior_cases FROM cases").fetchall():
        rows = conn.execute(
            "SELECT text, sentiment, followers, created_at FROM mentions WHERE case_id = ? "
            "AND from_brand = 0 ORDER BY created_at DESC, id DESC LIMIT ?",
            (case_id, HEAT_WINDOW)).fetchall()
        signals = [MentionSignal(t, s or 0.0, f, dt(c)) for t, s, f, c in reversed(rows)]
        out[case_id] = ops._heat_columns(signals, prior)[0]
    return out


def _two_writers(path):
    a, ops_a = _store(path)
    b = sqlite3.connect(path, isolation_level=None)
    b.create_function("GREATEST", 2, _greatest, deterministic=True)
    return a, ops_a, b, Ops(Config(handles=["acme"], case_window_hours=24))


def _said(i: int, text: str) -> Mention:
    return Mention(platform="mastodon", external_id=f"x{i}", author="ann", text=text,
                   created_at=T0 + timedelta(minutes=i), followers=200, sentiment=-0.6)


def _heat(conn) -> dict[int, str]:
    return dict(conn.execute("SELECT id, heat_parts FROM cases").fetchall())


def test_kept_mentions_are_not_trusted_after_another_writer(tmp_path):
    """Two ingesting processes grow the same case. Each keeps the case's latest mentions
    between its own batches; once the other has written (the case's version moved) the
    list is stale and must be read again: here the stale list would lack one mention, and
    the thread's velocity counts them."""
    a, ops_a, b, ops_b = _two_writers(tmp_path / "shared.db")
    now = T0.timestamp()
    _ingest(a, ops_a, [_said(1, "My order is late and nobody answers!")], now, keep=True)
    _ingest(b, ops_b, [_said(2, "Where is my refund?")], now, keep=True)
    _ingest(a, ops_a, [_said(3, "Still nothing from you.")], now, keep=True)
    assert len(_heat(a)) == 1
    assert _heat(a) == _expected_heat(a, ops_a)
    a.close()
    b.close()


def test_kept_mentions_of_a_batch_that_rolled_back_are_not_kept(tmp_path):
    """A batch that rolls back leaves nothing to remember: its mention is not in the
    store, even if another writer then brings the case to the version the lost batch
    would have set."""
    a, ops_a, b, ops_b = _two_writers(tmp_path / "shared.db")
    now = T0.timestamp()
    _ingest(a, ops_a, [_said(1, "My parcel is late.")], now, keep=True)
    a.execute("BEGIN IMMEDIATE")
    lost = ops_a.ingest(SqliteTx(a), [_said(2, "Chargeback filed and my lawyer is on it.")], now)
    a.execute("ROLLBACK")
    assert lost.recent  # what Store.ingest keeps only after a commit
    _ingest(b, ops_b, [_said(3, "Any news on my parcel?")], now, keep=True)
    _ingest(a, ops_a, [_said(4, "Still waiting, third time asking.")], now, keep=True)
    assert _heat(a) == _expected_heat(a, ops_a)
    a.close()
    b.close()
