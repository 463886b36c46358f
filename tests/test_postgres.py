"""PostgreSQL specifics: verbatim text, LISTEN/NOTIFY, migrations, claims across connections,
the change cursor's commit order, leases, reconnects (skipped without a server, see conftest)."""

from __future__ import annotations

import asyncio
import time

import pytest

from store import open_store
from store.records import ClaimConflict, SchemaTooNew, StoreError
from tests.conftest import PG_URL, drop_pg, fresh_pg_url, mention, require_pg

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_url():
    require_pg()
    url = await fresh_pg_url()
    yield url
    await drop_pg(url)


@pytest.fixture
async def pg(pg_url, config):
    s = await open_store(pg_url, config)
    yield s
    await s.close()


async def raw(url: str):
    import asyncpg

    return await asyncpg.connect(url)


# -- pure helpers (no server needed, but they live with the backend they serve) ------------


def test_translate_numbers_placeholders_outside_quotes_and_comments():
    from store.postgres import translate

    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == \
        "SELECT a FROM t WHERE b = $1 AND c = $2"
    assert translate("SELECT '?', \"we?ird\", 'it''s ?' FROM t WHERE x = ? -- why?\n AND y = ?") \
        == "SELECT '?', \"we?ird\", 'it''s ?' FROM t WHERE x = $1 -- why?\n AND y = $2"
    assert translate("/* ? */ SELECT $$ ? $$, $t$ ? $t$, ?") == "/* ? */ SELECT $$ ? $$, $t$ ? $t$, $1"
    assert translate("SELECT 1") == "SELECT 1"


def test_text_escape_is_reversible_and_identity_for_plain_text():
    from store.postgres import ESC, escape_text, unescape_text

    for text in ["plain", "", "\x00", "a\x00b", ESC, ESC + "\ue002", ESC + "\ue001" + "\x00",
                 "\ue001\ue002", "\x00" * 3 + ESC * 3, "👩‍👩‍👧 \u202e"]:
        stored = escape_text(text)
        assert "\x00" not in stored
        assert unescape_text(stored) == text
    assert escape_text("plain text ✓ 👍") == "plain text ✓ 👍"


# -- text ---------------------------------------------------------------------------------


HOSTILE = [
    "nul \x00 in the middle", "\x00", "ends with nul\x00",
    "private use \ue000 and \ue000\ue002 and \ue000\ue001",
    "bidi \u202eevil\u202c \u2066iso\u2069 rtl שלום مرحبا",
    "emoji 👩‍👩‍👧 🇬🇧 🏳️‍🌈 e\u0301 combining", "\x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07 \r\n\t",
]


async def test_hostile_text_round_trips_verbatim_everywhere(pg):
    batch = []
    for i, text in enumerate(HOSTILE):
        batch.append(mention(f"id\x00{i}", author=f"au\x00thor{i}\ue000", text=text,
                             author_name=text, url=f"https://x.example/{text}",
                             raw={"text": text, "nested": [text]}))
    result = await pg.ingest(batch, cursors={"feed\x00": "cur\x00sor"})
    assert result.new == len(HOSTILE)
    for i, text in enumerate(HOSTILE):
        m = await pg.mention("mastodon", f"id\x00{i}")
        assert m is not None
        assert (m.text, m.author_name, m.author) == (text, text, f"au\x00thor{i}\ue000")
        assert m.url == f"https://x.example/{text}"
        assert m.raw == {"text": text, "nested": [text]}
    assert await pg.cursor("feed\x00") == "cur\x00sor"
    case = (await pg.cases())[0]
    assert case.customer == "au\x00thor0\ue000"
    await pg.note(case.id, "ann\x00", "note \x00 with nul")
    await pg.reply(case.id, "ann\x00", "reply \x00\ue000 verbatim")
    detail = await pg.detail(case.id)
    bodies = [e.body for e in detail.events]
    assert "note \x00 with nul" in bodies and "reply \x00\ue000 verbatim" in bodies
    assert detail.outbox[0].text == "reply \x00\ue000 verbatim"
    assert detail.case.assignee == "ann\x00"
    # the same hostile text ingested again is a duplicate, found by its NUL-bearing id
    assert (await pg.ingest(batch)).duplicates == len(HOSTILE)


async def test_aggregates_come_back_as_python_numbers(pg):
    await pg.ingest([mention("1", followers=10), mention("2", author="b@x", followers=5)])
    total, avg, count = await pg._read(lambda tx: tx.fetchone(
        "SELECT SUM(followers), AVG(followers), COUNT(*) FROM mentions"))
    assert (total, avg, count) == (15, 7.5, 2)
    assert type(total) is int and type(avg) is float


# -- live changes ---------------------------------------------------------------------------


async def test_notify_wakes_wait_for_change_in_another_connection(pg_url, config):
    writer = await open_store(pg_url, config)
    follower = await open_store(pg_url, config)
    try:
        await writer.ingest([mention("1")])
        started = time.monotonic()
        await follower.wait_for_change(5)  # first call starts listening, returns at once
        assert time.monotonic() - started < 2
        started = time.monotonic()
        await follower.wait_for_change(0.3)  # nothing happens: waits out the timeout
        assert time.monotonic() - started >= 0.25
        seq = await follower.change_seq()

        waiter = asyncio.create_task(follower.wait_for_change(10))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        t0 = time.monotonic()
        await writer.claim(1, "ann")
        await asyncio.wait_for(waiter, 5)
        latency = time.monotonic() - t0
        assert latency < 3  # generous: the point is "woken", not "timed out at 10 s"
        assert (await follower.changes_since(seq)).case_ids == {1}
        print(f"notify latency {latency * 1000:.1f} ms")

        # a change committed while nobody waited is not lost: the next call returns at once
        await writer.note(1, "ann", "while you were away")
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        await follower.wait_for_change(10)
        assert time.monotonic() - t0 < 1
    finally:
        await writer.close()
        await follower.close()


async def test_follower_survives_a_killed_listener_and_worker_connection(pg_url, config):
    writer = await open_store(pg_url, config)
    follower = await open_store(pg_url, config)
    admin = await raw(PG_URL)
    try:
        await writer.ingest([mention("1")])
        await follower.wait_for_change(1)
        name = pg_url.rsplit("/", 1)[1]
        killed = await admin.fetchval(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        assert killed >= 3  # two workers and the listener
        await asyncio.sleep(0.1)
        # reads and writes reconnect; the follower reconnects its listener and keeps going
        assert len(await follower.cases()) == 1
        await follower.wait_for_change(2)
        waiter = asyncio.create_task(follower.wait_for_change(10))
        await asyncio.sleep(0.1)
        await writer.claim(1, "ann")
        await asyncio.wait_for(waiter, 5)
        assert (await follower.case(1)).assignee == "ann"
    finally:
        await admin.close()
        await writer.close()
        await follower.close()


async def test_change_cursor_never_skips_a_commit_under_concurrent_writers(pg_url, config):
    """A follower that advances its cursor must never miss a later-committed lower seq."""
    writers = [await open_store(pg_url, config) for _ in range(3)]
    follower = await open_store(pg_url, config)
    try:
        await writers[0].ingest([mention(str(i), author=f"c{i}@x") for i in range(1, 7)])
        seen: set[int] = set()
        cursor = await follower.change_seq()
        start = cursor

        async def write(store, n):
            for k in range(n):
                await store.note(1 + (k % 6), "ann", f"note {k}")

        async def follow(stop: asyncio.Event):
            nonlocal cursor
            while not stop.is_set():
                rows = await follower._read(lambda tx, after=cursor: tx.fetchall(
                    "SELECT seq FROM changes WHERE seq > ? ORDER BY seq", (after,)))
                for (s,) in rows:
                    seen.add(s)
                    cursor = s
                await asyncio.sleep(0)

        stop = asyncio.Event()
        task = asyncio.create_task(follow(stop))
        await asyncio.gather(*(write(s, 40) for s in writers))
        await asyncio.sleep(0.1)
        stop.set()
        await task
        all_seqs = {r[0] for r in await follower._read(lambda tx: tx.fetchall(
            "SELECT seq FROM changes WHERE seq > ?", (start,)))}
        assert len(all_seqs) == 120
        assert all_seqs == seen
    finally:
        for s in writers:
            await s.close()
        await follower.close()


# -- migrations -------------------------------------------------------------------------------


async def test_newer_schema_is_refused(pg_url, config):
    s = await open_store(pg_url, config)
    await s.close()
    conn = await raw(pg_url)
    await conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    await conn.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        await open_store(pg_url, config)


async def test_concurrent_first_opens_migrate_once(pg_url, config):
    stores = await asyncio.gather(*(open_store(pg_url, config) for _ in range(6)))
    try:
        conn = await raw(pg_url)
        version = await conn.fetchval("SELECT value FROM meta WHERE key = 'schema_version'")
        triggers = await conn.fetchval(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'changes'::regclass")
        await conn.close()
        from store.schema import SCHEMA_VERSION

        assert version == str(SCHEMA_VERSION) and triggers == 2
        await stores[0].ingest([mention("1")])
        assert [c.id for c in await stores[5].cases()] == [1]
        assert await stores[3].integrity_check() == "ok"
    finally:
        for s in stores:
            await s.close()


async def test_a_dropped_trigger_is_reported_and_restored_on_open(pg_url, config):
    s = await open_store(pg_url, config)
    conn = await raw(pg_url)
    await conn.execute("DROP TRIGGER heatdesk_changes_notify ON changes")
    await conn.execute("DELETE FROM meta WHERE key = 'pg_extras'")
    await conn.close()
    assert "heatdesk_changes_notify is missing" in await s.integrity_check()
    await s.close()
    s = await open_store(pg_url, config)
    assert await s.integrity_check() == "ok"
    await s.close()


# -- claims ------------------------------------------------------------------------------------


async def test_concurrent_claims_from_many_connections_have_one_winner(pg_url, config):
    stores = [await open_store(pg_url, config) for _ in range(8)]
    try:
        await stores[0].ingest([mention(str(i), author=f"c{i}@x") for i in range(1, 11)])
        for case_id in range(1, 11):
            results = await asyncio.gather(
                *(s.claim(case_id, f"agent{i}") for i, s in enumerate(stores)),
                return_exceptions=True)
            winners = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
            assert len(winners) == 1, results
            winner = f"agent{winners[0]}"
            for r in results:
                if isinstance(r, BaseException):
                    assert isinstance(r, ClaimConflict) and r.holder == winner
            detail = await stores[1].detail(case_id)
            assert detail.case.assignee == winner
            assert [e.agent for e in detail.events if e.kind == "claim"] == [winner]
    finally:
        for s in stores:
            await s.close()


async def test_conditional_update_alone_gives_one_winner_under_read_committed(pg):
    """The core's compare-and-set, without the store's write lock: still one winner."""
    await pg.ingest([mention("1")])
    conns = [await raw(pg.url) for _ in range(6)]
    try:
        for c in conns:
            await c.execute("BEGIN ISOLATION LEVEL READ COMMITTED")

        async def claim(c, agent):
            status = await c.execute(
                "UPDATE cases SET assignee = $1 WHERE id = 1 AND assignee IS NULL", agent)
            await asyncio.sleep(0.05)  # hold the row while the others queue behind it
            await c.execute("COMMIT")
            return int(status.split()[-1])

        counts = await asyncio.gather(*(claim(c, f"a{i}") for i, c in enumerate(conns)))
        assert sorted(counts) == [0] * 5 + [1]
        assert (await pg.case(1)).assignee == f"a{counts.index(1)}"
    finally:
        for c in conns:
            await c.close()


# -- leases -------------------------------------------------------------------------------


async def test_lease_expires_after_a_crash_and_another_worker_takes_over(pg_url, config):
    a = await open_store(pg_url, config)
    b = await open_store(pg_url, config)
    try:
        assert await a.lease("feed:masto", "host-a:1", 0.5)
        assert not await b.lease("feed:masto", "host-b:2", 0.5)
        assert await a.lease("feed:masto", "host-a:1", 0.5)  # renewal
        await a.close()  # "crash": no release
        assert not await b.lease("feed:masto", "host-b:2", 0.5)
        await asyncio.sleep(0.6)
        assert await b.lease("feed:masto", "host-b:2", 5)
        a = await open_store(pg_url, config)
        assert not await a.lease("feed:masto", "host-a:1", 0.5)  # the old holder must stand down
        assert await b.lease("feed:masto", "host-b:2", 0)  # release: renew with ttl 0
        await asyncio.sleep(0.01)
        assert await a.lease("feed:masto", "host-a:1", 5)
    finally:
        await a.close()
        await b.close()


async def test_racing_lease_takers_get_one_holder(pg_url, config):
    stores = [await open_store(pg_url, config) for _ in range(6)]
    try:
        got = await asyncio.gather(*(s.lease("outbox", f"w{i}", 30) for i, s in enumerate(stores)))
        assert sum(got) == 1
    finally:
        for s in stores:
            await s.close()


# -- opening, closing, errors ----------------------------------------------------------------


async def test_integrity_check_close_and_closed_store(pg):
    await pg.ingest([mention("1")])
    assert await pg.integrity_check() == "ok"
    assert pg.backend == "postgresql"
    await pg.close()
    await pg.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await pg.cases()


async def test_unreachable_server_and_missing_database_are_clear_errors(config):
    require_pg()
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at 127.0.0.1:1/x"):
        await open_store("postgresql://postgres:secret@127.0.0.1:1/x", config)
    base = PG_URL.rsplit("/", 1)[0]
    with pytest.raises(StoreError, match="does not exist") as info:
        await open_store(base + "/hd_no_such_db", config)
    assert "secret" not in str(info.value)


async def test_store_works_across_event_loops(pg_url, config):
    """A store opened in one loop keeps working when a CLI runs another (no loop affinity)."""
    s = await open_store(pg_url, config)
    try:
        await s.ingest([mention("1")])
        await s.wait_for_change(0)  # listening on this loop

        async def elsewhere():
            await s.wait_for_change(0)  # listens again on this loop
            return await s.cases()

        cases = await asyncio.get_running_loop().run_in_executor(
            None, lambda: asyncio.run(elsewhere()))
        assert [c.id for c in cases] == [1]
        await s.wait_for_change(0)  # back here: the other loop's listener is gone, no error
        await s.claim(1, "ann")
        await s.wait_for_change(2)
    finally:
        await s.close()
