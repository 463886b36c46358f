"""Crash safety of the outbox: kill -9 the sender at random moments; nothing lost, nothing
sent twice.

A real store file holds N cases, each with a queued reply (some of them DMs;
``undo_seconds = 0``). A fake Mastodon on 127.0.0.1 (tests/fakes/mastodon_server.py, in
this process on its own thread and loop) records every POST with its Idempotency-Key and
honours the key as Mastodon does. ``heatdesk ingest --feed masto`` — the real command, a
separate process — streams the account and delivers the outbox; the test SIGKILLs it at
random points (mostly while a POST is in flight or its answer is being recorded: the
moments where a crash could lose or double a reply), many times, and starts it again
until the outbox is drained; the last run is stopped with SIGTERM and must drain and exit
0. Between runs the fake also fails POSTs: 503s, 503s *after* creating the status (the
answer is lost), and a 429 with Retry-After.

A killed process leaves the reply it was sending leased ('sending') until its lease runs
out; instead of waiting that long the test moves the dead process's leases into the past
(exactly what the clock would do), after making sure the process is gone.

Checked exactly: every reply exists on the fake exactly once — by idempotency key and by
content (thread + text) — and nothing else was posted; each outbox row is delivered with
that status's id and URL; the timeline has one ``delivered`` event per reply; SQLite's
integrity check passes. ``HEATDESK_KILLS`` raises the kill count for a soak
(scripts/soak.py), ``HEATDESK_KILL_SEED`` picks the random schedule.

Also here: two senders side by side post each reply once; and the bounds that keep a
flood or a sick network from taking a process down — the ingest queue never grows past its
size while a fast feed outruns the writer, oversized input is refused with a reason, every
adapter gives up on a server that accepts and never answers, a webhook body that never
finishes is cut off (408), a store outage holds the batch and loses nothing, and big
answers arriving in many pieces are read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import pytest

from tests.fakes.mastodon_server import FakeMastodon

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("HEATDESK_KILLS", "12"))
SEED = int(os.environ.get("HEATDESK_KILL_SEED", "1"))
# enough replies that every round has some to send (a soak with more kills gets more)
REPLIES = int(os.environ.get("HEATDESK_KILL_REPLIES", str(max(60, 5 * KILLS))))
TOKEN = "killsuite-token-4Rt9Lm2Q"
WAIT = 120.0  # generous: a loaded 2-core machine


class LoopThread:
    """An event loop in a daemon thread, where the fake server lives."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="fake-mastodon")
        self.thread.start()

    def run(self, coro, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args: Any, **kw: Any) -> Any:
        """Run ``fn`` on the fake's loop (its state is not thread-safe)."""
        async def go():
            return fn(*args, **kw)

        return self.run(go())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def fake():
    bg = LoopThread()

    async def start() -> FakeMastodon:
        server = FakeMastodon(token=TOKEN, heartbeat=1.0)
        return await server.start()

    server = bg.run(start())
    server.bg = bg
    yield server
    try:
        bg.run(server.close(), timeout=10)
    finally:
        bg.close()


def write_config(path: Path, base_url: str) -> None:
    path.write_text(f"""
[desk]
brand = "Acme Outfitters"
handles = ["acme", "acme@mastodon.example"]
undo_seconds = 0

[[feeds]]
name = "masto"
kind = "mastodon"
base_url = "{base_url}"
token_env = "HD_KILL_MASTODON_TOKEN"
streams = ["user"]
request_timeout = 10
connect_timeout = 5
""", encoding="utf-8")


def seed_store(db: Path, cfg: Path, fake: FakeMastodon, n: int) -> dict[int, tuple[str, str]]:
    """N customers mention us on the fake; their mentions are in the store with a reply
    queued for each. Returns outbox id → (status answered, exact text to be posted)."""
    from feeds.mastodon import status_to_mention
    from store import open_store
    from store.config import load_config

    notes = [fake.bg.call(fake.mention, f"cust{i}@example.social",
                          f"order {i} never arrived, refund please") for i in range(n)]

    async def go() -> dict[int, tuple[str, str]]:
        store = await open_store(str(db), load_config(cfg))
        try:
            mentions = [status_to_mention(note["status"], source="masto") for note in notes]
            for m in mentions:
                m.sentiment = -0.5
            await store.ingest(mentions)
            expected = {}
            for i, m in enumerate(mentions):
                stored = await store.mention("mastodon", m.external_id)
                text = f"Sorry about order {i} — refund #{i:03d} is on its way."
                outbox_id = await store.reply(stored.case_id, "alice", text,
                                              private=i % 7 == 3)
                expected[outbox_id] = (m.external_id, f"@{m.author} {text}")
            return expected
        finally:
            await store.close()

    return asyncio.run(go())


def ingest(db: Path, cfg: Path) -> subprocess.Popen:
    env = {**os.environ, "HD_KILL_MASTODON_TOKEN": TOKEN, "NO_COLOR": "1"}
    env.pop("HEATDESK_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db), "--config", str(cfg), "ingest",
         "--feed", "masto", "--quiet"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def rows(db: Path, sql: str, *params: Any) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def undelivered(db: Path) -> int:
    return rows(db, "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')")[0][0]


def running_since(db: Path, started: float) -> bool:
    """True once an ingest started after ``started`` is up (its feed published health;
    its signal handlers are installed by then)."""
    try:
        return bool(rows(db, "SELECT 1 FROM feed_health WHERE updated_at > ?", started))
    except sqlite3.OperationalError:
        return False


def expire_leases_of_the_dead(db: Path) -> int:
    """The killed sender's leases, run out (what waiting the lease out would do)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            return conn.execute("UPDATE outbox SET lease_until = 0 "
                                "WHERE state = 'sending'").rowcount
    finally:
        conn.close()


def posted_keys(fake: FakeMastodon) -> set[str]:
    """Idempotency keys of the statuses the fake has created."""
    return fake.bg.call(lambda: {r["idempotency_key"] for r in fake.posts
                                 if r["status_id"] is not None})


def delivered_keys(db: Path) -> set[str]:
    return {k for (k,) in rows(db, "SELECT idempotency_key FROM outbox WHERE state = 'delivered'")}


def posts_seen(fake: FakeMastodon) -> int:
    return fake.bg.call(lambda: len(fake.posts))


def inject_fault(fake: FakeMastodon, round_no: int) -> str | None:
    """What the platform does wrong during this round (some rounds are clean)."""
    path = "/api/v1/statuses"
    plan = {
        1: ("503 twice", lambda: fake.fail("POST", path, 503, times=2)),
        2: ("503 after creating (answer lost)",
            lambda: fake.fail("POST", path, 503, after_create=True)),
        3: ("429 Retry-After 1", lambda: fake.rate_limit("POST", path, retry_after="1")),
        5: ("502 after creating, twice",
            lambda: fake.fail("POST", path, 502, after_create=True, times=2)),
        7: ("503 once", lambda: fake.fail("POST", path, 503)),
        9: ("429 with an ISO X-RateLimit-Reset", lambda: fake.rate_limit(
            "POST", path, retry_after=None, reset=datetime.now(UTC) + timedelta(seconds=1))),
    }
    if round_no % 10 not in plan:
        return None
    name, act = plan[round_no % 10]
    fake.bg.call(act)
    return name


def test_sigkill_during_delivery_sends_every_reply_exactly_once(tmp_path, fake):
    db, cfg = tmp_path / "desk.db", tmp_path / "heatdesk.toml"
    write_config(cfg, fake.base_url)
    expected = seed_store(db, cfg, fake, REPLIES)
    fake.bg.call(setattr, fake, "post_delay", 0.1)  # a POST takes a moment: room to die in
    rng = random.Random(SEED)
    killed, faults, expired, in_doubt = 0, [], 0, 0
    for round_no in range(KILLS):
        fault = inject_fault(fake, round_no)
        if fault:
            faults.append(fault)
        before = posts_seen(fake)
        proc = ingest(db, cfg)
        if rng.random() < 0.75 and undelivered(db):
            # die while replies are going out: after the k-th POST of this run, then a
            # random moment later (mid-POST, answer in hand but not recorded, recording…)
            k = rng.randint(1, 4)
            deadline = time.monotonic() + WAIT
            while (posts_seen(fake) < before + k and proc.poll() is None
                   and time.monotonic() < deadline and undelivered(db)):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))
        else:  # at any moment, start-up included
            time.sleep(rng.uniform(0.05, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (-signal.SIGKILL, 0), err
        # posted on the platform but not recorded as delivered: the window a crash can
        # double a reply in, if retries were not idempotent
        in_doubt += bool(posted_keys(fake) - delivered_keys(db))
        expired += expire_leases_of_the_dead(db)
    # the last run drains what is left, then SIGTERM: drain and exit 0
    started = time.time()
    final = ingest(db, cfg)
    deadline = time.monotonic() + WAIT
    while (undelivered(db) or not running_since(db, started)) and \
            time.monotonic() < deadline and final.poll() is None:
        time.sleep(0.05)
    left = undelivered(db)
    if final.poll() is None:
        final.send_signal(signal.SIGTERM)
    _, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    assert "Traceback" not in err, err
    assert left == 0 and not rows(db, "SELECT 1 FROM outbox WHERE state != 'delivered'"), \
        rows(db, "SELECT id, state, attempts, error FROM outbox WHERE state != 'delivered'")

    posts, created, statuses = fake.bg.call(
        lambda: (list(fake.posts), list(fake.created), dict(fake.statuses)))
    # the POST that created each status (later POSTs with its key got it back)
    creator = {}
    for record in posts:
        sid = record["status_id"]
        if sid is not None and sid not in creator:
            creator[sid] = record
    assert set(creator) == set(created)
    keys_of = {o: k for o, k in rows(db, "SELECT id, idempotency_key FROM outbox")}
    # exactly once by idempotency key ...
    by_key = Counter(creator[sid]["idempotency_key"] for sid in created)
    missing = set(keys_of.values()) - set(by_key)
    assert not missing, (missing, rows(db, "SELECT * FROM outbox WHERE idempotency_key IN "
                                       f"({','.join('?' * len(missing))})", *missing),
                         [(r["idempotency_key"], r["status_id"], r["answer"]) for r in posts
                          if r["idempotency_key"] in missing])
    assert sorted(by_key) == sorted(keys_of.values())
    assert set(by_key.values()) == {1}, by_key.most_common(3)
    # ... and by content: (the status answered, the text), nothing else posted
    by_content = Counter((creator[sid]["form"].get("in_reply_to_id"),
                          creator[sid]["form"]["status"]) for sid in created)
    assert set(by_content.values()) == {1}, by_content.most_common(3)
    assert set(by_content) == set(expected.values())
    assert len(created) == len(expected)
    # each outbox row delivered with that status's id and URL; one delivered event each
    sid_of_key = {creator[sid]["idempotency_key"]: sid for sid in created}
    for oid, state, remote_id, remote_url, kind in rows(
            db, "SELECT id, state, remote_id, remote_url, kind FROM outbox"):
        sid = sid_of_key[keys_of[oid]]
        assert (state, remote_id, remote_url) == ("delivered", sid, statuses[sid]["url"])
        assert creator[sid]["form"]["visibility"] == ("direct" if kind == "dm" else "public")
    delivered = Counter(json.loads(d)["outbox_id"] for (d,) in rows(
        db, "SELECT data FROM events WHERE kind = 'delivered'"))
    assert delivered == Counter({oid: 1 for oid in expected})
    assert rows(db, "SELECT COUNT(*) FROM events WHERE kind = 'delivery_failed'")[0][0] == 0
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were still alive to kill"
    retried = len(posts) - len(created)
    print(f"\n[kill-delivery] kills={killed} rounds={KILLS} replies={len(expected)} "
          f"posts={len(posts)} (repeats with the same key: {retried}) "
          f"kills with a reply posted but not yet recorded={in_doubt} "
          f"leases of the dead expired={expired} faults injected={len(faults)} "
          f"({'; '.join(sorted(set(faults)))})")


def test_two_senders_at_once_post_each_reply_once(tmp_path, fake):
    """Two ``heatdesk ingest`` workers on one store deliver the same outbox side by side:
    each reply is leased by one of them only, so each is POSTed exactly once."""
    db, cfg = tmp_path / "desk.db", tmp_path / "heatdesk.toml"
    write_config(cfg, fake.base_url)
    expected = seed_store(db, cfg, fake, 40)
    fake.bg.call(setattr, fake, "post_delay", 0.05)
    started = time.time()
    procs = [ingest(db, cfg), ingest(db, cfg)]
    deadline = time.monotonic() + WAIT
    while (undelivered(db) or not running_since(db, started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let both be up before they are stopped
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, -signal.SIGTERM), err
    assert undelivered(db) == 0
    posts = fake.bg.call(lambda: list(fake.posts))
    per_key = Counter(r["idempotency_key"] for r in posts)
    assert len(per_key) == len(expected) and set(per_key.values()) == {1}, per_key.most_common(3)
    assert rows(db, "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'") == [(len(expected),)]


# -- bounds: what a flood cannot do ------------------------------------------------------


async def test_a_feed_faster_than_the_writer_waits_and_the_queue_never_overflows(tmp_path):
    from feeds.base import Cursor
    from feeds.pipeline import IngestPipeline
    from store import open_store
    from store.config import Config
    from store.records import Mention

    store = await open_store(str(tmp_path / "desk.db"), Config())
    writes = 0
    real_ingest = store.ingest

    async def slow_ingest(*args, **kw):  # a writer far slower than the feed
        nonlocal writes
        writes += 1
        await asyncio.sleep(0.05)
        return await real_ingest(*args, **kw)

    store.ingest = slow_ingest
    size = 50
    pipeline = IngestPipeline(store, queue_size=size, batch_size=20, max_delay=0.01,
                              scorer=lambda texts: [0.0] * len(texts), use_process=False)
    runner = asyncio.create_task(pipeline.run())
    peak = 0
    blocked = 0
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    try:
        for i in range(600):  # the producer never sleeps: only ``put`` can hold it back
            item = Mention(platform="demo", external_id=f"f{i}", author=f"c{i % 40}",
                           text="flood", created_at=t0, sentiment=0.0)
            put = asyncio.ensure_future(pipeline.put("flood", item))
            if not put.done():
                await asyncio.sleep(0)
                if not put.done():
                    blocked += 1
            await put
            peak = max(peak, pipeline.queue.qsize())
            if i % 100 == 99:
                await pipeline.put("flood", Cursor(str(i)))
        await asyncio.wait_for(pipeline.flush(), WAIT)
    finally:
        await pipeline.close()
        await asyncio.wait_for(runner, WAIT)
    stored = (await store._read(lambda tx: tx.fetchone("SELECT COUNT(*) FROM mentions")))[0]
    cursor = await store.cursor("flood")
    await store.close()
    assert peak <= size
    assert blocked > 0, "the producer was never made to wait"
    assert stored == 600 and cursor == "599"  # nothing dropped on the floor
    assert writes < 600 // 5  # and it was written in batches


def test_oversized_input_is_refused_with_a_reason():
    """Text caps exist where untrusted input enters (the webhook's 413 is covered by
    tests/test_feed_webhook.py): Mention JSON, the Mastodon event stream."""
    from feeds.mastodon import SSEError, SSEParser
    from feeds.mentions import MAX_TEXT_CHARS, InvalidMention, mention_from_json

    base = {"platform": "webhook", "id": "1", "author": "a", "created_at": "2026-11-22T10:00:00Z"}
    mention_from_json({**base, "text": "x" * MAX_TEXT_CHARS})
    with pytest.raises(InvalidMention, match="too long"):
        mention_from_json({**base, "text": "x" * (MAX_TEXT_CHARS + 1)})
    with pytest.raises(InvalidMention, match="too long"):
        mention_from_json({**base, "text": "t", "author": "a" * 100_000})
    parser = SSEParser(max_line=1000, max_event=4000)
    out = parser.feed(b"data: " + b"x" * 5000 + b"\n\n")
    assert any(isinstance(e, SSEError) for e in out)
    out = parser.feed(b"".join(b"data: " + b"y" * 900 + b"\n" for _ in range(10)) + b"\n")
    assert [type(e) for e in out] == [SSEError]  # an event too big in total is dropped too
    assert [e.data for e in parser.feed(b"data: ok\n\n")] == ["ok"]  # and the stream goes on


class SilentServer:
    """Accepts TCP connections and never says a word (a stalled proxy or load balancer)."""

    async def __aenter__(self) -> Self:
        self.writers = []

        async def hold(reader, writer) -> None:
            self.writers.append(writer)
            with contextlib.suppress(Exception):
                await reader.read()  # until the client gives up

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 5)


async def test_every_network_call_gives_up_on_a_silent_server():
    """Each adapter's connect, stream and send end with an error (not a hang) when the
    server accepts the connection and never answers; timeouts set to 1 s here."""
    import aiohttp

    from feeds.base import DeliveryError, StreamError
    from feeds.bluesky import BlueskyFeed
    from feeds.mastodon import MastodonFeed
    from feeds.reddit import RedditFeed
    from feeds.rss import RssFeed
    from feeds.slack import announce
    from store.records import Mention, OutboxItem

    when = datetime.now(UTC)
    item = OutboxItem(id=1, case_id=1, event_id=1, kind="reply", platform="x", text="hello",
                      idempotency_key="hd-1", not_before=when, attempts=1,
                      in_reply_to="t1_abc", recipient="c")
    env = {"T": "token-silent-1", "P": "pw-silent-1", "I": "id-silent-1", "S": "sec-silent-1"}
    async with SilentServer() as silent:
        base = f"http://127.0.0.1:{silent.port}"
        feeds = [
            MastodonFeed("m", {"base_url": base, "token_env": "T", "request_timeout": 1,
                               "connect_timeout": 1, "idle_timeout": 1}, env),
            BlueskyFeed("b", {"jetstream_url": f"ws://127.0.0.1:{silent.port}/subscribe",
                              "service_url": base, "handle": "acme.example.com",
                              "did": "did:plc:acme",  # no handle lookup first
                              "password_env": "P", "watch_dids": ["did:plc:acme"],
                              "timeout_seconds": 1}, env),
            RedditFeed("r", {"base_url": base, "auth_url": base, "username": "acme",
                             "client_id_env": "I", "client_secret_env": "S",
                             "password_env": "P", "subreddits": ["acme"],
                             "timeout_seconds": 1}, env),
            RssFeed("f", {"url": base + "/feed", "timeout_seconds": 1}, env),
        ]
        target = Mention(platform="bluesky", external_id="at://did:plc:c/app.bsky.feed.post/3k",
                         author="did:plc:c", text="hi", created_at=when,
                         raw={"commit": {"cid": "bafy", "record": {}}})
        for feed in feeds:
            async def first_item(feed=feed):
                async for thing in feed.stream(None):
                    return thing
                return None

            with pytest.raises(StreamError):
                await asyncio.wait_for(first_item(), WAIT)
            if feed.kind != "rss":
                item.platform = feed.platform
                item.in_reply_to = target.external_id if feed.kind == "bluesky" else (
                    "1090" if feed.kind == "mastodon" else "t1_abc")
                with pytest.raises(DeliveryError) as err:
                    await asyncio.wait_for(feed.send(item, target if feed.kind == "bluesky"
                                                     else None), WAIT)
                assert err.value.retryable  # outcome unknown: tried again later
            await feed.aclose()
        async with aiohttp.ClientSession() as session:
            with pytest.raises(DeliveryError):
                await asyncio.wait_for(announce(base + "/services/T/B/x", "hi", session,
                                                timeout=1), WAIT)


async def test_a_webhook_body_that_never_finishes_is_cut_off_with_408():
    import socket

    from feeds.webhook import WebhookFeed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feed = WebhookFeed("hook", {"listen": f"127.0.0.1:{port}", "secret_env": "H",
                                "read_timeout": 0.5}, {"H": "hook-secret-xyz"})

    async def consume() -> None:
        async for _ in feed.stream(None):
            pass

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(feed.started.wait(), WAIT)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /mentions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"pl")
        await writer.drain()  # ... and the rest never comes
        status = await asyncio.wait_for(reader.readline(), WAIT)
        assert status.startswith(b"HTTP/1.1 408")
        rest = await asyncio.wait_for(reader.readuntil(b"}"), WAIT)
        assert b"Connection: close" in rest and b"not received within" in rest
        writer.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_store_outage_holds_the_batch_and_loses_nothing(tmp_path):
    """The store stops taking writes for a while (locked for long, disk full, database
    restarting): the pipeline keeps its batch (and its backpressure) and tries again; no
    mention is skipped, no cursor moves past an unstored mention, nothing wedges."""
    from feeds.base import Cursor
    from feeds.pipeline import IngestPipeline
    from store import open_store
    from store.config import Config
    from store.records import Mention, StoreError

    store = await open_store(str(tmp_path / "desk.db"), Config())
    real_ingest = store.ingest
    outage = {"calls": 0, "down": True}

    async def flaky(*args, **kw):
        if outage["down"]:
            outage["calls"] += 1
            raise StoreError("the store stayed locked by another process; try again")
        return await real_ingest(*args, **kw)

    store.ingest = flaky
    pipeline = IngestPipeline(store, max_delay=0.01, scorer=lambda t: [0.0] * len(t),
                              use_process=False)
    runner = asyncio.create_task(pipeline.run())
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    try:
        for i in range(120):
            await pipeline.put("f", Mention(platform="demo", external_id=f"o{i}",
                                            author=f"c{i}", text="where is my order",
                                            created_at=t0, sentiment=0.0))
            if i % 10 == 9:
                await pipeline.put("f", Cursor(str(i)))
            if i == 60:
                deadline = time.monotonic() + WAIT  # let it fail a few times first
                while outage["calls"] < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert await store.cursor("f") is None  # no cursor past unstored mentions
                outage["down"] = False
        await asyncio.wait_for(pipeline.flush(), WAIT)
    finally:
        outage["down"] = False
        await pipeline.close()
        await asyncio.wait_for(runner, WAIT)
    stored = (await store._read(lambda tx: tx.fetchone("SELECT COUNT(*) FROM mentions")))[0]
    cursor = await store.cursor("f")
    await store.close()
    assert stored == 120 and cursor == "119"
    assert pipeline.stats.malformed == 0  # nothing was reported away as "could not be stored"


def _chunking_middleware(piece: int = 700):
    """An aiohttp middleware that sends every JSON answer in small pieces, as a real
    network delivers a big body in several reads."""
    from aiohttp import web

    @web.middleware
    async def chunk(request, handler):
        resp = await handler(request)
        if not isinstance(resp, web.Response) or resp.body is None or \
                resp.content_type != "application/json":
            return resp
        body = bytes(resp.body)
        out = web.StreamResponse(status=resp.status, headers={
            k: v for k, v in resp.headers.items() if k.lower() not in ("content-length",)})
        out.content_length = len(body)
        await out.prepare(request)
        for i in range(0, len(body), piece):
            await out.write(body[i:i + piece])
            await asyncio.sleep(0.001)
        await out.write_eof()
        return out

    return chunk


async def test_big_answers_arriving_in_pieces_are_read_whole(monkeypatch):
    """A body that arrives in several network reads is read whole (and still capped):
    a page of 40 notifications for the Mastodon catch-up, a status answering a POST."""
    from aiohttp import web

    import tests.fakes.mastodon_server as fakes
    from feeds.base import Cursor
    from feeds.mastodon import MastodonFeed
    from store.records import Mention, OutboxItem

    real_app = web.Application
    monkeypatch.setattr(fakes.web, "Application",
                        lambda **kw: real_app(middlewares=[_chunking_middleware()], **kw))
    fake = await FakeMastodon(token=TOKEN, heartbeat=0.2).start()
    try:
        for i in range(40):
            fake.mention(f"cust{i}@example.social", f"order {i} " + "never arrived " * 30)
        feed = MastodonFeed("masto", {"base_url": fake.base_url, "token_env": "T",
                                      "backfill": 40}, {"T": TOKEN})
        got = []

        async def catch_up() -> None:
            async for thing in feed.stream(None):
                got.append(thing)
                if isinstance(thing, Cursor):
                    return

        await asyncio.wait_for(catch_up(), WAIT)
        assert len([m for m in got if isinstance(m, Mention)]) == 40
        status_id = next(m for m in got if isinstance(m, Mention)).external_id
        item = OutboxItem(id=1, case_id=1, event_id=1, kind="reply", platform="mastodon",
                          text="Sorry! " * 40, idempotency_key="hd-1-1-x",
                          not_before=datetime.now(UTC), in_reply_to=status_id,
                          recipient="cust0@example.social")
        delivery = await asyncio.wait_for(feed.send(item, None), WAIT)
        assert delivery.remote_id and delivery.remote_id in fake.statuses
        await feed.aclose()
    finally:
        await fake.close()
