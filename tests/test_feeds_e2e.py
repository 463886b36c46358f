"""The real feeds end to end, through the command line, against fakes on 127.0.0.1.

Each test starts fake platform servers (tests/fakes/) in a background thread with its own
event loop, writes a config with a ``[[feeds]]`` table pointing at them (secrets only by
env var name, the values set in the child's environment), and runs ``python -m tui.cli
ingest`` as a real subprocess. While it runs, the test injects what a real network does
(a dropped stream, repeated events, a malformed frame, a delete) and waits — by reading the
SQLite store, never by sleeping a fixed time — until the store holds what it should, then
stops the process with SIGTERM (which must drain and exit 0). A reply is then queued with
``heatdesk case reply`` (``[desk] undo_seconds = 0``) and a second ingest run delivers it:
the fake must have received exactly one post, in the right thread, and the export must say
"delivered" with the remote URL. Distinctive secret values are checked never to appear in
any output, the export or the store's files.

Timeouts are generous and nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bluesky_server import (
    FakeJetstream,
    FakePds,
    delete_event,
    mention_facet,
    post_event,
    strong_ref,
)
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.reddit_server import FakeReddit
from tests.fakes.rss_server import FakeFeedServer, rss

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "heatdesk.toml"
PLATFORMS_DOC = ROOT / "docs" / "PLATFORMS.md"
WAIT = 30.0  # seconds any one condition may take; generous on purpose
SUMMARY = re.compile(r"ingested (\d+) new, (\d+) duplicate, (\d+) deleted, (\d+) skipped")

# Distinctive secret values: they must never show up in any output, export or store file.
MASTO_TOKEN = "mastoTok-e2e-9Qv7XkL2pZ"
BSKY_PASSWORD = "bskyAppPw-e2e-4hTr-8uWq"
REDDIT_CLIENT_ID = "redditCid-e2e-Jm3Ns8"
REDDIT_SECRET = "redditSecret-e2e-Vb6Yc1Rk"
REDDIT_PASSWORD = "redditPw-e2e-Lq2Wd5Zx"
WEBHOOK_SECRET = "hookSecret-e2e-Gf7Hs3Pd"
SLACK_PATH = "/services/T0E2E/B0E2E/slackPathSecret-e2e-Ux4Mn"
SLACK_EXEC_PATH = "/services/T0E2E/B0EXEC/slackExecSecret-e2e-Pw8Rt"


# -- plumbing --------------------------------------------------------------------------------


class LoopThread:
    """An event loop in a daemon thread, for the fake servers the subprocess talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fakes", daemon=True)
        self.thread.start()
        self.closers: list[Callable] = []  # the fakes' close coroutines, run at teardown

    def run(self, coro, timeout: float = WAIT) -> Any:
        """Run a coroutine on the fakes' loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args: Any, **kw: Any) -> Any:
        """Call a plain function on the fakes' loop (their state is not thread-safe)."""
        async def go():
            return fn(*args, **kw)

        return self.run(go())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


RUNNING: list[subprocess.Popen] = []  # ingest processes a failing test may leave behind


@pytest.fixture
def bg():
    thread = LoopThread()
    yield thread
    for proc in RUNNING:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    RUNNING.clear()
    for close in reversed(thread.closers):
        # a fake that will not close must not hide the test's own failure
        with contextlib.suppress(Exception):
            thread.run(close(), timeout=10)
    thread.close()


def start(bg: LoopThread, factory: Callable[[], Any]) -> Any:
    """Build and start a fake on the background loop; it is closed after the test."""
    async def go():
        fake = factory()
        await fake.start()
        return fake

    fake = bg.run(go())
    bg.closers.append(fake.close)
    return fake


class FakeSlack:
    """A Slack-compatible incoming webhook: records every POST, answers ``ok`` (or, while
    ``failures[path]`` counts down, ``500 rollup_error`` as Slack does on a bad day)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict, int]] = []
        self.failures: dict[str, int] = {}
        self.url = ""
        self._runner = None

    async def start(self) -> None:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            payload = await request.json()
            if request.path not in (SLACK_PATH, SLACK_EXEC_PATH):
                status, text = 404, "no_service"
            elif self.failures.get(request.path, 0) > 0:
                self.failures[request.path] -= 1
                status, text = 500, "rollup_error"
            else:
                status, text = 200, "ok"
            self.received.append((request.path, payload, status))
            return web.Response(status=status, text=text)

        app = web.Application()
        app.router.add_post("/{tail:.*}", hook)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Desk:
    """One store and one config in tmp_path, driven through ``python -m tui.cli``."""

    def __init__(self, tmp_path: Path, config: str, env: dict[str, str]):
        self.dir = tmp_path
        self.db = tmp_path / "desk.db"
        self.cfg = tmp_path / "heatdesk.toml"
        self.cfg.write_text(config, encoding="utf-8")
        self.env = {**os.environ, "NO_COLOR": "1", **env}
        self.env.pop("HEATDESK_CONFIG", None)
        self.outputs: list[str] = []

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui.cli", "--db", str(self.db), "--config", str(self.cfg),
                *args]

    def cli(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*args), capture_output=True, text=True, cwd=ROOT,
                              env=self.env, timeout=120, check=False)
        self.outputs += [done.stdout, done.stderr]
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done

    def start_ingest(self, *args: str, duration: float = 90) -> subprocess.Popen:
        """``heatdesk ingest`` in the background; the test stops it with SIGTERM."""
        proc = subprocess.Popen(self.command("ingest", "--duration", str(duration), *args),
                                cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        RUNNING.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> tuple[str, dict[str, int]]:
        """SIGTERM; the run must drain, print its summary and exit 0."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        self.outputs += [out, err]
        assert proc.returncode == 0, f"ingest exited {proc.returncode}: {err}"
        assert "Traceback" not in err and "Unclosed" not in err, err
        match = SUMMARY.search(err)
        assert match, err
        figures = dict(zip(("new", "duplicate", "deleted", "skipped"), map(int, match.groups())))
        return err, figures

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        """Read the store directly (read-only; WAL lets us read while ingest writes)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []
        finally:
            conn.close()

    def mentions(self, platform: str) -> dict[str, int]:
        """external id → deleted flag for one platform."""
        return dict(self.rows("SELECT external_id, deleted FROM mentions WHERE platform = ?",
                              platform))

    def outbox(self) -> list[tuple]:
        return self.rows("SELECT case_id, kind, state, idempotency_key, remote_url, error "
                         "FROM outbox ORDER BY id")

    def export(self) -> list[dict]:
        done = self.cli("export")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def case_of(self, export: list[dict], platform: str, customer: str) -> dict:
        (case,) = [c for c in export if c["platform"] == platform and c["customer"] == customer]
        return case

    def assert_no_secrets(self, secrets: list[str]) -> None:
        """No secret value in any output, the export, or the store's files."""
        texts = self.outputs + [self.cli("export").stdout]
        blobs = [p.read_bytes() for p in self.dir.glob("desk.db*") if p.is_file()]
        for secret in secrets:
            for text in texts:
                assert secret not in text, f"secret {secret[:6]}… leaked: {text[:2000]}"
            for blob in blobs:
                assert secret.encode() not in blob, f"secret {secret[:6]}… is in the store"


def wait_until(predicate: Callable[[], Any], what: str, proc: subprocess.Popen | None = None,
               timeout: float = WAIT) -> Any:
    """Poll ``predicate`` until it is truthy; fail with the ingest's stderr if it died."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            err = proc.communicate()[1]
            pytest.fail(f"ingest exited ({proc.returncode}) while waiting for {what}:\n{err}")
        if time.monotonic() > deadline:
            extra = ""
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    extra = proc.communicate(timeout=30)[1]
                except subprocess.TimeoutExpired:
                    proc.kill()
                    extra = proc.communicate()[1]
            pytest.fail(f"timed out waiting for {what}\n{extra}")
        time.sleep(0.05)


def desk_config(feeds: str, extra: str = "") -> str:
    return ('[desk]\nbrand = "Acme Outfitters"\n'
            'handles = ["acme", "acme@mastodon.example", "acme.example.com", "acme_support"]\n'
            "undo_seconds = 0\n\n" + feeds + "\n" + extra)


def report(name: str, **figures: Any) -> None:
    """The figures of one run, for the log (pytest -s) and the project notes."""
    print(f"\n[e2e {name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# -- Mastodon --------------------------------------------------------------------------------


def test_mastodon_end_to_end(tmp_path, bg):
    fake: FakeMastodon = start(bg, lambda: FakeMastodon(token=MASTO_TOKEN))
    desk = Desk(tmp_path, desk_config(f'''
[[feeds]]
name = "masto"
kind = "mastodon"
base_url = "{fake.base_url}"
token_env = "HD_E2E_MASTODON_TOKEN"
streams = ["user"]
idle_timeout = 20
'''), {"HD_E2E_MASTODON_TOKEN": MASTO_TOKEN})

    # Already waiting before the desk starts: taken by the first start's backfill.
    first = bg.call(fake.mention, "alice@example.social", "my order 1234 never arrived",
                    display_name="Alice", followers=1200)
    proc = desk.start_ingest()
    wait_until(lambda: bg.call(lambda: len(fake.subscribers)) >= 1, "the user stream", proc)
    wait_until(lambda: first["status"]["id"] in desk.mentions("mastodon"), "the backfill", proc)

    # Live, with every notification sent twice, after a frame that is not JSON.
    bg.call(setattr, fake, "duplicate_notifications", True)
    bg.call(fake.push_raw, 'event: notification\ndata: {"id": "77", "type": "mention", \n\n')
    bob = bg.call(fake.mention, "bob@other.example", "where is my refund? charged twice")
    wait_until(lambda: bob["status"]["id"] in desk.mentions("mastodon"), "bob's mention", proc)

    # The connection drops; what is posted meanwhile comes in through the catch-up.
    connects = bg.call(lambda: fake.stream_connects)
    bg.call(fake.drop_streams)
    carol = bg.call(fake.mention, "carol", "hello? anyone there? my parcel is lost")
    wait_until(lambda: bg.call(lambda: fake.stream_connects) > connects, "a reconnect", proc)
    wait_until(lambda: bg.call(lambda: len(fake.subscribers)) >= 1, "the stream again", proc)
    wait_until(lambda: carol["status"]["id"] in desk.mentions("mastodon"), "the catch-up", proc)

    # Alice writes again (her latest post: the reply must answer this one); bob deletes his.
    again = bg.call(fake.mention, "alice@example.social", "still nothing?? third time I ask",
                    in_reply_to=first["status"]["id"])
    bg.call(fake.delete, bob["status"]["id"])
    wait_until(lambda: desk.mentions("mastodon").get(again["status"]["id"]) == 0
               and desk.mentions("mastodon").get(bob["status"]["id"]) == 1,
               "alice's second post and bob's delete", proc)
    err, run1 = desk.stop(proc)
    assert "skipped mastodon:masto user" in err and "not JSON" in err

    stored = desk.mentions("mastodon")
    expected = {n["status"]["id"] for n in (first, bob, carol, again)}
    assert set(stored) == expected  # each exactly once: the store is unique on the id
    assert run1["new"] == 4 and run1["deleted"] == 1 and run1["skipped"] == 1
    assert run1["duplicate"] >= 2  # bob's and alice's second notification, at least
    export = desk.export()
    assert sorted(m["id"] for c in export for m in c["mentions"]) == sorted(expected)
    alice = desk.case_of(export, "mastodon", "alice@example.social")
    assert [m["id"] for m in alice["mentions"]] == [first["status"]["id"], again["status"]["id"]]
    bob_case = desk.case_of(export, "mastodon", "bob@other.example")
    assert bob_case["mentions"][0]["deleted"] is True
    assert bob_case["mentions"][0]["text"].endswith("charged twice")  # the text is kept
    carol_case = desk.case_of(export, "mastodon", "carol")

    # A public reply to alice and a DM to carol, sent by the next ingest run.
    desk.cli("case", "reply", alice["case_id"], "--text", "Sorry about that, we're on it.",
             "--force", "--agent", "ann")
    desk.cli("case", "reply", carol_case["case_id"], "--private", "--text",
             "Could you send us your order number here?", "--force", "--agent", "ann")
    proc = desk.start_ingest()
    wait_until(lambda: [r[2] for r in desk.outbox()] == ["delivered", "delivered"],
               "both deliveries", proc)
    # The restarted run also takes the feed at once (the stopped run released its lease).
    later = bg.call(fake.mention, "dave", "is the sale still on?")
    wait_until(lambda: later["status"]["id"] in desk.mentions("mastodon"),
               "a mention in the second run", proc)
    _, run2 = desk.stop(proc)

    posts = bg.call(lambda: [dict(p) for p in fake.posts])
    assert len(posts) == 2 and [p["answer"] for p in posts] == [200, 200]
    public, direct = posts
    keys = {kind: key for _, kind, _, key, _, _ in desk.outbox()}
    assert public["form"] == {"status": "@alice@example.social Sorry about that, we're on it.",
                              "visibility": "public", "in_reply_to_id": again["status"]["id"]}
    assert public["idempotency_key"] == keys["reply"]
    assert public["idempotency_key"].startswith(f"hd-{alice['case_id']}-")
    assert direct["form"]["visibility"] == "direct"
    assert direct["form"]["status"] == "@carol Could you send us your order number here?"
    assert direct["form"]["in_reply_to_id"] == carol["status"]["id"]
    assert direct["idempotency_key"] == keys["dm"]
    created = bg.call(lambda: list(fake.created))
    export = desk.export()
    reply = next(e for e in desk.case_of(export, "mastodon", "alice@example.social")["events"]
                 if e["kind"] == "reply")
    dm = next(e for e in desk.case_of(export, "mastodon", "carol")["events"] if e["kind"] == "dm")
    assert reply["delivery"] == "delivered"
    assert reply["remote_url"] == bg.call(lambda: fake.statuses[created[0]]["url"])
    assert dm["delivery"] == "delivered"
    assert dm["remote_url"] == bg.call(lambda: fake.statuses[created[1]]["url"])
    shown = desk.cli("case", "show", alice["case_id"]).stdout
    assert "[delivered]" in shown
    desk.assert_no_secrets([MASTO_TOKEN])
    report("mastodon", mentions=len(desk.mentions("mastodon")), posts=len(posts),
           run1=run1, run2=run2, reconnects=bg.call(lambda: fake.stream_connects))


# -- Bluesky ---------------------------------------------------------------------------------

ACME_DID = "did:plc:acmee2eoutfitters000001"
ALICE_DID = "did:plc:alicee2ecustomer0000001"
BOB_DID = "did:plc:bobe2ecustomer000000001"
DAVE_DID = "did:plc:davee2estranger00000001"


def test_bluesky_end_to_end(tmp_path, bg):
    jetstream: FakeJetstream = start(bg, FakeJetstream)
    pds: FakePds = start(bg, FakePds)
    bg.call(pds.add_account, "acme.example.com", ACME_DID, BSKY_PASSWORD)
    now_us = int(time.time() * 1_000_000)
    ours = post_event(ACME_DID, now_us - 60_000_000, "Some parcels are late this week, sorry.")
    text1 = "@acme.example.com my parcel never came"
    alice1 = post_event(ALICE_DID, now_us - 50_000_000, text1,
                        facets=[mention_facet(text1, "acme.example.com", ACME_DID)])
    bob = post_event(BOB_DID, now_us - 40_000_000, "anyone else waiting on an Acme refund?")
    other = post_event(DAVE_DID, now_us - 35_000_000, "lovely weather today")
    # Played as if live on the first connection, which drops after the third frame (the
    # frame that is not JSON); the reconnect rewinds 5 s from its cursor: duplicates.
    jetstream.script = [ours, alice1, '{"did": "did:plc:x", "time_us": ', bob, other]
    jetstream.drops = [3]
    desk = Desk(tmp_path, desk_config(f'''
[[feeds]]
name = "sky"
kind = "bluesky"
jetstream_url = "{jetstream.url}"
service_url = "{pds.url}"
handle = "acme.example.com"
password_env = "HD_E2E_BLUESKY_PASSWORD"
keywords = ["acme"]
cursor_every_seconds = 0.2
'''), {"HD_E2E_BLUESKY_PASSWORD": BSKY_PASSWORD})

    def uri(event: dict) -> str:
        return strong_ref(event)["uri"]

    proc = desk.start_ingest()
    wait_until(lambda: {uri(alice1), uri(bob)} <= set(desk.mentions("bluesky")),
               "alice's mention and bob's keyword post", proc)
    assert bg.call(lambda: len(jetstream.connections)) >= 2  # the drop was reconnected
    # Live, every event twice: alice answers our post (a thread whose root is ours), and
    # bob deletes his post.
    bg.call(setattr, jetstream, "duplicate", True)
    alice2 = post_event(ALICE_DID, int(time.time() * 1_000_000), "still no answer?? where is it",
                        reply={"root": strong_ref(ours), "parent": strong_ref(ours)})
    bg.run(jetstream.push(alice2, delete_event(BOB_DID, int(time.time() * 1_000_000) + 5,
                                               bob["commit"]["rkey"])))
    wait_until(lambda: desk.mentions("bluesky").get(uri(alice2)) == 0
               and desk.mentions("bluesky").get(uri(bob)) == 1,
               "alice's reply and bob's delete", proc)
    err, run1 = desk.stop(proc)
    assert "skipped jetstream frame" in err

    stored = desk.mentions("bluesky")
    assert set(stored) == {uri(alice1), uri(bob), uri(alice2)}  # not ours, not dave's
    assert run1["new"] == 3 and run1["deleted"] == 1
    assert run1["duplicate"] >= 2 and run1["skipped"] >= 1
    export = desk.export()
    alice = desk.case_of(export, "bluesky", ALICE_DID)
    assert [m["id"] for m in alice["mentions"]] == [uri(alice1), uri(alice2)]
    assert desk.case_of(export, "bluesky", BOB_DID)["mentions"][0]["deleted"] is True

    desk.cli("case", "reply", alice["case_id"], "--text",
             "So sorry, we're tracing your parcel now.", "--force", "--agent", "ann")
    proc = desk.start_ingest()
    wait_until(lambda: [r[2] for r in desk.outbox()] == ["delivered"], "the delivery", proc)
    _, run2 = desk.stop(proc)

    created = bg.call(lambda: pds.posts_by(ACME_DID))
    assert len(created) == 1
    assert len(bg.call(pds.calls_to, "com.atproto.repo.createRecord")) == 1
    record = created[0]["value"]
    assert record["text"] == "So sorry, we're tracing your parcel now."
    assert record["reply"]["parent"] == strong_ref(alice2)  # her latest post, with its cid
    assert record["reply"]["root"] == strong_ref(ours)  # the thread she answered
    rkey = created[0]["uri"].rsplit("/", 1)[1]
    reply = next(e for e in desk.case_of(desk.export(), "bluesky", ALICE_DID)["events"]
                 if e["kind"] == "reply")
    assert reply["delivery"] == "delivered"
    assert reply["remote_url"] == f"https://bsky.app/profile/{ACME_DID}/post/{rkey}"
    assert reply["remote_id"] == created[0]["uri"]
    desk.assert_no_secrets([BSKY_PASSWORD])
    report("bluesky", mentions=len(stored), posts=len(created), run1=run1, run2=run2,
           connections=bg.call(lambda: len(jetstream.connections)))


# -- RSS (and a platform with no account to answer from) ----------------------------------------


def test_rss_end_to_end_and_a_reply_with_no_account(tmp_path, bg):
    hour = 3600

    def item(n: int, author: str, text: str, age: float) -> dict:
        from datetime import UTC, datetime, timedelta

        return {"title": f"Comment on Winter boots by {author}",
                "link": f"https://blog.example.com/boots/#comment-{n}", "author": author,
                "date": datetime.now(UTC) - timedelta(seconds=age),
                "guid": f"https://blog.example.com/?p=7#comment-{n}", "description": text}

    greta = item(1, "Greta", "The zip broke after two days. I want a refund.", 3 * hour)
    hans = item(2, "Hans", "Lovely boots, warm and dry.", 2 * hour)
    # newest first, and Greta's comment listed twice (a sloppy feed)
    server: FakeFeedServer = start(bg, lambda: FakeFeedServer(rss([hans, greta, greta])))
    server.faults = [(503, {"Retry-After": "1"})]  # the first poll finds the blog down
    desk = Desk(tmp_path, desk_config(f'''
[[feeds]]
name = "blog"
kind = "rss"
url = "{server.url}"
interval_seconds = 0.3
'''), {})
    proc = desk.start_ingest()
    wait_until(lambda: len(desk.mentions("rss")) == 2, "the two comments", proc)
    polls = bg.call(lambda: len(server.requests))
    bg.call(server.set_body, b"<html><body>Maintenance: back soon</body></html>")
    wait_until(lambda: bg.call(lambda: len(server.requests)) >= polls + 2, "two more polls", proc)
    greta2 = item(3, "Greta", "Still waiting for an answer about my refund!", 60)
    bg.call(server.set_body, rss([greta2, hans, greta]))
    wait_until(lambda: len(desk.mentions("rss")) == 3, "the new comment", proc)
    wait_until(lambda: bg.call(lambda: server.statuses[-1]) == 304,
               "a conditional GET answered 304 Not Modified", proc)
    err, run1 = desk.stop(proc)
    assert "not a feed" in err or "not an RSS or Atom feed" in err
    assert run1["new"] == 3 and run1["skipped"] == 1
    assert set(desk.mentions("rss")) == {greta["guid"], hans["guid"], greta2["guid"]}
    statuses = bg.call(lambda: list(server.statuses))
    assert statuses[0] == 503

    export = desk.export()
    case = desk.case_of(export, "rss", "Greta")
    assert len(case["mentions"]) == 2
    desk.cli("case", "reply", case["case_id"], "--text", "Sorry Greta, we'll sort it.",
             "--force")
    run2 = desk.cli("ingest", "--duration", "4")  # this time the run ends by itself
    assert SUMMARY.search(run2.stderr), run2.stderr
    ((_, _, state, _, _, error),) = desk.outbox()
    assert state == "failed" and "no rss account is configured" in error
    shown = desk.cli("case", "show", case["case_id"]).stdout
    assert "delivery_failed" in shown and "no rss account is configured" in shown
    event = next(e for e in desk.case_of(desk.export(), "rss", "Greta")["events"]
                 if e["kind"] == "reply")
    assert event["delivery"] == "failed" and "no rss account" in event["error"]
    report("rss", mentions=3, polls=len(statuses), run1=run1)


# -- Reddit ----------------------------------------------------------------------------------


def test_reddit_end_to_end(tmp_path, bg):
    fake: FakeReddit = start(bg, lambda: FakeReddit(
        client_id=REDDIT_CLIENT_ID, client_secret=REDDIT_SECRET, username="acme_support",
        password=REDDIT_PASSWORD))
    post = bg.call(fake.add_post, "acme", "alice_r", "Order never arrived",
                   "Ordered three weeks ago, no tracking. Refund?", time.time() - 500)
    bob = bg.call(fake.add_comment, post["name"], "bob_r", "same here, support never answers",
                  time.time() - 400)
    bg.call(fake.add_comment, post["name"], "acme_support", "We're looking into it.",
            time.time() - 300)  # our own: not a mention
    # The newest listing child has no author: reported once (not on every poll), skipped.
    fake.things.append({"kind": "t1", "data": {
        "subreddit": "acme", "name": "t1_zzbad", "author": "", "body": "?",
        "created_utc": time.time() - 200}})
    fake.faults.append(("GET", "/r/acme/new", 503, {}))  # the first read fails
    desk = Desk(tmp_path, desk_config(f'''
[[feeds]]
name = "reddit"
kind = "reddit"
base_url = "{fake.url}"
auth_url = "{fake.url}"
subreddits = ["acme"]
username = "acme_support"
user_agent = "python:com.acme.desk:v1.0 (by /u/acme_support)"
client_id_env = "HD_E2E_REDDIT_ID"
client_secret_env = "HD_E2E_REDDIT_SECRET"
password_env = "HD_E2E_REDDIT_PASSWORD"
interval_seconds = 0.3
'''), {"HD_E2E_REDDIT_ID": REDDIT_CLIENT_ID, "HD_E2E_REDDIT_SECRET": REDDIT_SECRET,
       "HD_E2E_REDDIT_PASSWORD": REDDIT_PASSWORD})
    proc = desk.start_ingest()
    wait_until(lambda: {post["name"], bob["name"]} <= set(desk.mentions("reddit")),
               "the post and bob's comment", proc)
    again = bg.call(fake.add_comment, bob["name"], "alice_r", "still waiting, this is absurd")
    wait_until(lambda: again["name"] in desk.mentions("reddit"), "alice's comment", proc)
    err, run1 = desk.stop(proc)
    assert "t1 without a valid fullname" in err or "no author" in err
    stored = desk.mentions("reddit")
    assert set(stored) == {post["name"], bob["name"], again["name"]}
    assert run1["new"] == 3 and run1["skipped"] == 1
    agents = {r["headers"].get("User-Agent") for r in bg.call(lambda: list(fake.requests))}
    assert agents == {"python:com.acme.desk:v1.0 (by /u/acme_support)"}

    # Bob answered alice's post, so his comment joins her case (the thread is one case).
    alice = desk.case_of(desk.export(), "reddit", "alice_r")
    assert [m["id"] for m in alice["mentions"]] == [post["name"], bob["name"], again["name"]]
    desk.cli("case", "reply", alice["case_id"], "--text",
             "Sorry about this! Could you send us your order number?", "--force")
    before = len(bg.call(fake.comments_by, "acme_support"))
    proc = desk.start_ingest()
    wait_until(lambda: [r[2] for r in desk.outbox()] == ["delivered"], "the delivery", proc)
    _, run2 = desk.stop(proc)

    posted = bg.call(fake.requests_to, "/api/comment", "POST")
    assert len(posted) == 1
    assert posted[0]["form"]["thing_id"] == again["name"]  # her latest comment
    assert posted[0]["form"]["text"] == "Sorry about this! Could you send us your order number?"
    ours = bg.call(fake.comments_by, "acme_support")
    assert len(ours) == before + 1
    reply = next(e for e in desk.case_of(desk.export(), "reddit", "alice_r")["events"]
                 if e["kind"] == "reply")
    assert reply["delivery"] == "delivered"
    assert reply["remote_url"] == "https://www.reddit.com" + ours[-1]["permalink"]
    assert set(desk.mentions("reddit")) == set(stored)  # our own comment is not a mention
    desk.assert_no_secrets([REDDIT_CLIENT_ID, REDDIT_SECRET, REDDIT_PASSWORD])
    report("reddit", mentions=len(stored), posts=len(posted), run1=run1, run2=run2)


# -- Webhook (+ routing to the platform's account, escalation to Slack, SIGTERM drain) ---------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_post(url: str, body: bytes, secret: str | None = WEBHOOK_SECRET,
                timestamp: str | None = None, signature: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        message = body if timestamp is None else timestamp.encode() + b"." + body
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
            secret.encode(), message, hashlib.sha256).hexdigest()
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    if timestamp is not None:
        headers["X-Heatdesk-Timestamp"] = timestamp
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_webhook_end_to_end_with_routing_escalation_and_drain(tmp_path, bg):
    masto: FakeMastodon = start(bg, lambda: FakeMastodon(token=MASTO_TOKEN))
    slack: FakeSlack = start(bg, FakeSlack)
    port = free_port()
    desk = Desk(tmp_path, desk_config(f'''
[[feeds]]
name = "inbound"
kind = "webhook"
listen = "127.0.0.1:{port}"
secret_env = "HD_E2E_WEBHOOK_SECRET"

[[feeds]]                    # not ingested here: only the account replies go out through
name = "masto"
kind = "mastodon"
base_url = "{masto.base_url}"
token_env = "HD_E2E_MASTODON_TOKEN"
''', '''
[[escalation.targets]]
tier = 1
kind = "slack"
url_env = "HD_E2E_SLACK_URL"

[[escalation.targets]]
tier = 2
kind = "slack"
url_env = "HD_E2E_SLACK_EXEC_URL"
'''), {"HD_E2E_WEBHOOK_SECRET": WEBHOOK_SECRET, "HD_E2E_MASTODON_TOKEN": MASTO_TOKEN,
       "HD_E2E_SLACK_URL": slack.url + SLACK_PATH,
       "HD_E2E_SLACK_EXEC_URL": slack.url + SLACK_EXEC_PATH})
    url = f"http://127.0.0.1:{port}/mentions"
    doctor = desk.cli("doctor").stdout  # every secret's variable is set: all ok
    assert "feed     ok   inbound (webhook)" in doctor and "feed     ok   masto (mastodon)" in doctor
    assert "escalate ok   tier 1 (slack) via $HD_E2E_SLACK_URL" in doctor

    def health() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    # A Mastodon post that reached us through someone else's pipeline (a CRM, a bridge).
    status = bg.call(masto.status, "dana@example.social", "@acme my jacket arrived torn",
                     mention_me=True)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    dana = json.dumps({"platform": "mastodon", "id": status["id"],
                       "author": "dana@example.social", "text": "@acme my jacket arrived torn",
                       "created_at": now, "url": status["url"], "followers": 300}).encode()
    proc = desk.start_ingest("--feed", "inbound")
    wait_until(health, "the webhook to listen", proc)
    assert signed_post(url, dana) == (202, {"accepted": 1, "rejected": []})
    assert signed_post(url, dana)[0] == 202  # a resend: accepted, stored once
    batch = json.dumps([{"id": "form-1", "author": "erin@example.com", "created_at": now,
                         "text": "Contact form: where is my order 5521?"},
                        {"id": "form-x", "author": "nobody"}]).encode()
    code, answer = signed_post(url, batch)
    assert code == 202 and answer["accepted"] == 1 and answer["rejected"][0]["index"] == 1
    assert signed_post(url, dana, secret=None)[0] == 401
    assert signed_post(url, dana, signature="sha256=" + "0" * 64)[0] == 401
    assert signed_post(url, b"{not json")[0] == 400
    stale = str(int(time.time()) - 3600)
    assert signed_post(url, dana, timestamp=stale)[0] == 401
    last = json.dumps({"id": "form-2", "author": "finn@example.com", "created_at": now,
                       "text": "Contact form: the app logs me out every time"}).encode()
    assert signed_post(url, last, timestamp=str(int(time.time())))[0] == 202
    # SIGTERM right after the 202: the run drains and commits it before it exits 0.
    _, run1 = desk.stop(proc)
    assert set(desk.mentions("mastodon")) == {status["id"]}
    assert set(desk.mentions("webhook")) == {"form-1", "form-2"}
    assert run1["new"] == 3 and run1["duplicate"] == 1

    case = desk.case_of(desk.export(), "mastodon", "dana@example.social")
    desk.cli("case", "reply", case["case_id"], "--text",
             "That's not how it should arrive. We'll send a new one today.", "--force")
    # Tier 2 goes to both targets; the executives' hook fails once, and the retry must
    # not announce to the supervisors a second time.
    bg.call(slack.failures.__setitem__, SLACK_EXEC_PATH, 1)
    desk.cli("case", "escalate", case["case_id"], "--tier", "2", "--note",
             "torn on arrival, second time")
    proc = desk.start_ingest("--feed", "inbound")
    wait_until(lambda: sorted(r[2] for r in desk.outbox()) == ["delivered", "delivered"],
               "the reply and the escalation", proc)
    _, run2 = desk.stop(proc)

    posts = bg.call(lambda: [dict(p) for p in masto.posts])
    assert len(posts) == 1  # through the configured Mastodon account, once
    assert posts[0]["form"]["in_reply_to_id"] == status["id"]
    assert posts[0]["form"]["status"].startswith("@dana@example.social That's not how")
    announced = bg.call(lambda: list(slack.received))
    assert [(p, status) for p, _, status in announced] == [
        (SLACK_PATH, 200), (SLACK_EXEC_PATH, 500), (SLACK_EXEC_PATH, 200)]
    for _, payload, _ in announced:
        assert f"case {case['case_id']} escalated to tier 2" in payload["text"]
        assert "torn on arrival" in payload["text"]
    events = desk.case_of(desk.export(), "mastodon", "dana@example.social")["events"]
    escalate = next(e for e in events if e["kind"] == "escalate")
    reply = next(e for e in events if e["kind"] == "reply")
    assert escalate["delivery"] == "delivered"
    assert reply["delivery"] == "delivered"
    assert reply["remote_url"] == bg.call(lambda: masto.statuses[masto.created[0]]["url"])
    desk.assert_no_secrets([WEBHOOK_SECRET, MASTO_TOKEN, SLACK_PATH.rsplit("/", 1)[1],
                            SLACK_EXEC_PATH.rsplit("/", 1)[1]])
    report("webhook", mentions=3, posts=len(posts), announcements=len(announced), run1=run1,
           run2=run2)


# -- the example config --------------------------------------------------------------------------


def test_the_example_config_parses_and_every_feed_in_it_builds(monkeypatch):
    from store.config import load_config
    from tui.runtime import build_adapters

    config = load_config(EXAMPLE)
    kinds = {f["kind"] for f in config.feeds}
    assert {"mastodon", "bluesky", "rss", "reddit", "webhook"} <= kinds
    names = [v for f in config.feeds for k, v in f.items() if k.endswith("_env")]
    names += [t["url_env"] for t in config.escalation_targets]
    assert names and all(n.startswith("HEATDESK_") for n in names)
    for name in names:
        monkeypatch.setenv(name, "example-value-" + name.lower())
    adapters = build_adapters(config.feeds)  # every table is a feed its adapter accepts
    assert {a.kind for a in adapters} == kinds
    assert all(a.can_send for a in adapters if a.kind in ("mastodon", "bluesky", "reddit"))
    assert config.escalation_targets and config.saved_replies and config.keys
    assert config.sla.minutes("hot", first=True) < config.sla.minutes("normal", first=True)
    from store.rules.metrics import check_thresholds
    from tui.keys import keymap_from_config

    assert check_thresholds(config.wallboard["thresholds"]) == []
    assert keymap_from_config(config.keys)[1] == []  # no unknown action names


def test_every_config_snippet_in_the_platforms_guide_is_valid(monkeypatch):
    import tomllib

    from store.config import parse_config
    from tui.runtime import build_adapters

    text = PLATFORMS_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    feeds = 0
    for block in blocks:
        config = parse_config(tomllib.loads(block))
        for table in config.feeds:
            for key, name in table.items():
                if key.endswith("_env"):
                    monkeypatch.setenv(name, "doc-value")
        feeds += len(build_adapters(config.feeds))
        assert all(t["url_env"] for t in config.escalation_targets)
    assert feeds == 5  # mastodon, bluesky, rss, reddit, webhook


def test_an_html_page_is_not_a_feed_but_an_empty_feed_with_a_sloppy_type_is():
    # Found by the RSS run above: a maintenance page served with 200 was read as an empty
    # feed and nobody was told.
    from feeds.rss import parse_feed

    page = b"<html><body>Maintenance: back soon</body></html>"
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    assert parse_feed(page, "https://x.example/feed", {"content-type": "application/rss+xml"}
                      ) == ([], "not an RSS or Atom feed")
    assert parse_feed(page, "https://x.example/feed", {"content-type": "text/html"})[1]
    assert parse_feed(empty, "https://x.example/feed", {"content-type": "text/html"}) == ([], None)
