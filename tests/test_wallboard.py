"""The wallboard: the store reads it follows, and the screen at three sizes (tui/wallboard.py)."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import T0, mention


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
