"""Store behaviour on a real database file (and on PostgreSQL, via the backend fixture)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from store import open_store
from store.records import ClaimConflict, SchemaTooNew, Status, StoreError, TransitionError
from tests.conftest import mention


async def test_ingest_is_idempotent_and_keeps_text_verbatim(store):
    hostile = "@acme \x00nul \x1b[31mred\x1b[0m \u202eevil [bold]x[/bold] \x1b]52;c;aGk=\x07 👩‍👩‍👧"
    first = await store.ingest([mention("1", text=hostile), mention("2", author="bob@x")])
    again = await store.ingest([mention("1", text=hostile), mention("2", author="bob@x")])
    assert (first.new, first.duplicates) == (2, 0)
    assert (again.new, again.duplicates) == (0, 2)
    assert len(await store.open_cases()) == 2
    stored = await store.mention("mastodon", "1")
    assert stored.text == hostile


async def test_reply_joins_thread_and_same_customer_groups_within_window(store):
    await store.ingest([
        mention("1", text="my order never arrived"),
        mention("2", text="hello??", minutes=30, in_reply_to="1"),
        mention("3", text="still waiting", minutes=120),          # same customer, 2 h later
        mention("4", text="new problem", minutes=60 * 30),        # 30 h later: new case
        mention("5", author="alice@example.social", platform="bluesky", text="hi"),  # other platform
    ])
    cases = sorted(await store.cases(), key=lambda c: c.id)
    assert [c.mention_count for c in cases] == [3, 1, 1]
    assert cases[0].customer == "alice@example.social"
    assert cases[1].platform == "mastodon" and cases[2].platform == "bluesky"
    assert cases[1].prior_cases == 1  # the 30 h-later case knows the customer wrote before


async def test_reply_to_another_customers_thread_joins_that_case(store):
    await store.ingest([mention("1", text="order missing"),
                        mention("2", author="carol@x", text="same here", in_reply_to="1")])
    assert len(await store.cases()) == 1


async def test_heat_orders_furious_high_reach_over_question_over_thanks(store):
    await store.ingest([
        mention("q", author="q@x", text="What time does the Leeds store open on Sunday?"),
        mention("t", author="t@x", text="Thank you so much, the new boots are lovely!"),
        mention("f", author="f@x", followers=120_000,
                text="You charged me twice and nobody answers. Refund me now or I file a "
                     "chargeback. Never again."),
    ])
    ranked = sorted(await store.open_cases(), key=lambda c: -store.heat(c)[0])
    assert [c.customer for c in ranked] == ["f@x", "q@x", "t@x"]
    heat, parts = store.heat(ranked[0])
    assert heat == pytest.approx(sum(parts.values()), abs=0.2)
    assert set(parts) >= {"negativity", "urgency", "reach", "sla", "repeat", "velocity"}


async def test_claim_is_compare_and_set(store):
    await store.ingest([mention("1")])
    await store.claim(1, "ann")
    await store.claim(1, "ann")  # claiming your own case again is fine
    with pytest.raises(ClaimConflict) as info:
        await store.claim(1, "ben")
    assert info.value.holder == "ann"
    with pytest.raises(ClaimConflict):
        await store.reply(1, "ben", "hi")  # replying to another's case needs a take-over
    await store.claim(1, "ben", take_over=True)
    assert (await store.case(1)).assignee == "ben"


async def test_lifecycle_and_forbidden_transitions(store):
    await store.ingest([mention("1", text="refund please")])
    await store.reply(1, "ann", "We're on it")
    case = await store.case(1)
    assert case.status is Status.ACKNOWLEDGED and case.waiting_since is None
    assert case.first_response_at is not None
    await store.reply(1, "ann", "Sending you a DM", private=True)
    assert (await store.case(1)).status is Status.OFFLINE
    with pytest.raises(TransitionError, match="resolve it first"):
        await store.close_case(1, "ann", "how did it go?")
    await store.resolve(1, "ann")
    await store.close_case(1, "ann", "How did it go?")
    case = await store.case(1)
    assert case.status is Status.CLOSED
    with pytest.raises(TransitionError):
        await store.resolve(1, "ann")
    detail = await store.detail(1)
    kinds = [e.kind for e in detail.events]
    assert kinds.count("status") >= 4 and "dm" in kinds and "reply" in kinds
    assert all(e.agent == "ann" for e in detail.events if e.kind in ("reply", "dm", "claim"))
    followups = [o for o in detail.outbox if o.kind == "followup"]
    assert len(followups) == 1 and followups[0].in_reply_to == "1"


async def test_customer_writing_again_reopens_waiting_and_links_after_close(store):
    await store.ingest([mention("1", text="where is my parcel")])
    await store.reply(1, "ann", "Checking now")
    await store.wait_on_customer(1, "ann")
    await store.ingest([mention("2", text="any news?", minutes=10)])
    case = await store.case(1)
    assert case.status is Status.ACKNOWLEDGED and case.waiting_since is not None
    await store.resolve(1, "ann")
    await store.close_case(1, "ann", "How did it go?")
    await store.ingest([mention("3", text="it came, thanks", minutes=20)])
    newest = max(await store.cases(), key=lambda c: c.id)
    assert newest.id != 1 and newest.linked_case_id == 1 and newest.prior_cases == 1
    assert any(e.kind == "link" for e in (await store.detail(1)).events)


async def test_sla_clock_set_by_customer_cleared_only_by_human_reply(store):
    await store.ingest([mention("1", text="help")])
    case = await store.case(1)
    assert case.waiting_since is not None
    await store.note(1, "ann", "looking into it")
    await store.escalate(1, "ann", 1, "VIP")
    assert (await store.case(1)).waiting_since is not None  # notes/escalations don't stop it
    await store.reply(1, "ann", "Hi, on it")
    assert (await store.case(1)).waiting_since is None


async def test_outbox_undo_window_and_delivery_results(store):
    await store.ingest([mention("1", text="help")])
    await store.reply(1, "ann", "first reply")
    assert await store.due_outbox() == []  # still inside the undo window
    item = await store.undo(1, "ann")
    assert item.state == "cancelled"
    with pytest.raises(StoreError, match="nothing to undo"):
        await store.undo(1, "ann")
    store.config.undo_seconds = 0
    await store.reply(1, "ann", "second reply")
    due = await store.due_outbox()
    assert [d.text for d in due] == ["second reply"]
    assert await store.due_outbox() == []  # leased: not handed out twice
    await store.delivered(due[0].id, "r1", "https://example.social/r1")
    await store.delivered(due[0].id, "r1", "https://example.social/r1")  # idempotent
    events = [e for e in (await store.detail(1)).events if e.kind == "delivered"]
    assert len(events) == 1


async def test_failed_delivery_retries_then_fails_with_reason(store):
    store.config.undo_seconds = 0
    await store.ingest([mention("1", text="help")])
    await store.reply(1, "ann", "hello")
    item = (await store.due_outbox())[0]
    from store.records import utcnow

    await store.delivery_failed(item.id, "503 from server", utcnow() - timedelta(seconds=1))
    again = await store.due_outbox()
    assert [i.idempotency_key for i in again] == [item.idempotency_key]
    assert again[0].attempts == 2
    await store.delivery_failed(item.id, "422 text too long", None)
    detail = await store.detail(1)
    assert detail.outbox[0].state == "failed"
    assert [e.body for e in detail.events if e.kind == "delivery_failed"] == ["422 text too long"]


async def test_expired_lease_is_reclaimed_after_a_crash(store):
    store.config.undo_seconds = 0
    await store.ingest([mention("1")])
    await store.reply(1, "ann", "hello")
    first = await store.due_outbox(lease_seconds=-1)  # the sender "crashed" mid-send
    second = await store.due_outbox()
    assert [i.idempotency_key for i in second] == [first[0].idempotency_key]


async def test_change_cursor_reports_what_changed(store):
    start = await store.change_seq()
    await store.ingest([mention("1"), mention("2", author="b@x")])
    changes = await store.changes_since(start)
    assert changes.case_ids == {1, 2} and changes.seq > start
    await store.claim(2, "ann")
    later = await store.changes_since(changes.seq)
    assert later.case_ids == {2}
    await store.set_presence(1, "ann", "viewing")
    assert (await store.changes_since(later.seq)).presence
    assert (await store.presence())[1] == [("ann", "viewing")]


async def test_deleted_mentions_are_flagged_and_kept(store):
    await store.ingest([mention("1", text="oops")])
    result = await store.ingest([], deletes=[("mastodon", "1")])
    assert result.deleted == 1
    m = await store.mention("mastodon", "1")
    assert m.deleted and m.text == "oops"


async def test_tags_snooze_score_and_validation(store):
    await store.ingest([mention("1")])
    await store.tag(1, "ann", "Billing")
    await store.tag(1, "ann", "billing")  # already there: no second event
    assert (await store.case(1)).tags == ["billing"]
    await store.tag(1, "ann", "billing", remove=True)
    from store.records import utcnow

    await store.snooze(1, "ann", utcnow() - timedelta(seconds=1))
    assert await store.wake_snoozed() == [1]
    with pytest.raises(StoreError, match="not been handled"):
        await store.score(1, "sup", 4)
    await store.reply(1, "ann", "done")
    await store.resolve(1, "ann")
    await store.score(1, "sup", 4, "good tone")
    with pytest.raises(StoreError, match="1 to 5"):
        await store.score(1, "sup", 6)
    export = (await store.export())[0]
    assert export["qa"][0]["score"] == 4 and export["qa"][0]["agent"] == "sup"
    assert [e["kind"] for e in export["events"]].count("tag") == 2


async def test_export_carries_contract_fields(store):
    await store.ingest([mention("1", text="charged twice!")])
    await store.reply(1, "ann", "sorry")
    row = (await store.export())[0]
    for key in ("case_id", "status", "platform", "customer", "assignee", "escalation_tier",
                "heat", "heat_parts", "opened_at", "first_response_at", "resolved_at",
                "sla_breached", "tags", "mentions", "events", "suggestion", "repeat_contact",
                "prior_cases", "promised_by", "qa"):
        assert key in row, key
    assert row["mentions"][0]["sentiment"] < 0
    assert "deleted" in row["mentions"][0]
    reply = next(e for e in row["events"] if e["kind"] == "reply")
    assert reply["delivery"] == "pending" and reply["agent"] == "ann"
    json.dumps(row)


async def test_brand_posts_join_thread_without_opening_cases(store):
    await store.ingest([mention("1", text="help"),
                        mention("2", author="acme@mastodon.example", text="on it", in_reply_to="1"),
                        mention("3", author="acme@mastodon.example", text="our news")])
    cases = await store.cases()
    assert len(cases) == 1 and cases[0].mention_count == 1


async def test_newer_schema_is_refused(tmp_path, config):
    path = tmp_path / "desk.db"
    s = await open_store(str(path), config)
    await s.close()
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        await open_store(str(path), config)


async def test_not_a_store_is_a_clear_error(tmp_path, config):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a database" * 100)
    with pytest.raises(StoreError, match="not a heatdesk store"):
        await open_store(str(bad), config)
    with pytest.raises(StoreError, match="directory"):
        await open_store(str(tmp_path), config)


async def test_sqlite_wait_for_change_wakes_on_another_connection(tmp_path, config):
    import asyncio
    import time

    path = str(tmp_path / "desk.db")
    desk = await open_store(path, config)
    feeder = await open_store(path, config)
    try:
        waiter = asyncio.create_task(desk.wait_for_change(10))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await feeder.ingest([mention("1")])
        await asyncio.wait_for(waiter, 5)
        assert time.monotonic() - started < 5  # woke on the commit, not the 10 s timeout
        assert (await desk.changes_since(0)).case_ids == {1}
    finally:
        await desk.close()
        await feeder.close()


async def test_replies_thread_to_the_newest_post_that_was_not_deleted(store):
    await store.ingest([mention("1", text="order late"), mention("2", text="hello?", minutes=5)])
    await store.ingest([], deletes=[("mastodon", "2")])
    await store.reply(1, "ann", "Sorry, checking now")
    item = (await store.detail(1)).outbox[0]
    assert item.in_reply_to == "1"
