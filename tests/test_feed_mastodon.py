"""The Mastodon adapter: recorded wire format, SSE parsing, catch-up, replies, faults.

Recorded traffic lives in tests/fixtures/mastodon/ (provenance in tests/fixtures/README.md);
everything live runs against tests/fakes/mastodon_server.py on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.base import (
    ConfigError,
    Cursor,
    Deleted,
    DeliveryError,
    Malformed,
    StreamError,
    adapter_class,
)
from feeds.http import (
    html_to_text,
    parse_link_header,
    parse_retry_value,
    query_param,
    retry_after,
)
from feeds.mastodon import (
    MastodonFeed,
    SSEError,
    SSEEvent,
    SSEParser,
    id_key,
    parse_event,
    parse_notification,
    parse_sse,
    parse_stream_spec,
    status_to_mention,
)
from feeds.mentions import InvalidMention
from store.records import Mention, OutboxItem
from tests.fakes.mastodon_server import FakeMastodon

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
TOKEN_ENV = "HD_TEST_MASTODON_TOKEN"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def user_items(body: bytes | str) -> list:
    out = []
    for ev in parse_sse(body):
        assert isinstance(ev, SSEEvent)
        out += parse_event("user", ev.event, ev.data)[0]
    return out


# -- recorded traffic ---------------------------------------------------------------------------


def test_recorded_user_stream_gives_exactly_the_mentions_and_the_delete():
    items = user_items(fixture_bytes("streaming_user.sse"))
    assert [type(i).__name__ for i in items] == ["Mention", "Mention", "Deleted"]
    first, second, deleted = items
    assert first.platform == "mastodon"
    assert first.external_id == "117024236408130890"
    assert first.author == "admin"
    assert first.author_name is None  # display_name "" in the recording
    assert first.text == "@mastodonpy_test beep beep I'm a jeep"  # &#39; decoded
    assert first.url == "http://localhost:3000/@admin/117024236408130890"
    assert first.lang == "en" and first.in_reply_to is None and not first.edited
    assert first.created_at == datetime(2026, 8, 2, 5, 22, 18, 555000, tzinfo=UTC)
    assert first.raw["id"] == "117024236408130890" and "content" in first.raw
    assert second.external_id == "117024236635443611"
    assert second.author == "mastodonpy_test_2"
    assert second.in_reply_to == "117024236559579118"
    assert second.text == "@mastodonpy_test pssssst!"
    assert deleted == Deleted("mastodon", "117024236332527350")


def test_recorded_user_stream_notification_ids_advance_the_cursor():
    ids = []
    for ev in parse_sse(fixture_bytes("streaming_user.sse")):
        ids.append(parse_event("user", ev.event, ev.data)[1])
    assert [i for i in ids if i] == ["14", "16"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_recorded_stream_parses_identically_in_any_chunking(size):
    raw = fixture_bytes("streaming_user.sse")
    whole = parse_sse(raw)
    parser = SSEParser()
    pieces = []
    for start in range(0, len(raw), size):
        pieces += parser.feed(raw[start:start + size])
    pieces += parser.close()
    assert pieces == whole
    assert [e.event for e in whole] == ["update", "notification", "update", "notification",
                                       "status.update", "delete"]


def test_recorded_stream_with_crlf_and_cr_line_endings():
    raw = fixture_bytes("streaming_user.sse").decode()
    expected = parse_sse(raw)
    assert parse_sse(raw.replace("\n", "\r\n")) == expected
    assert parse_sse(raw.replace("\n", "\r")) == expected
    # CRLF split across chunks must not make an extra blank line (which would dispatch)
    parser = SSEParser()
    out = []
    for part in raw.replace("\n", "\r\n").split("\r"):
        out += parser.feed(part)
        out += parser.feed("\r")
    assert out == expected[:len(out)] and len(out) == len(expected)


def test_recorded_notifications_rest_body_and_link_headers():
    body = json.loads(fixture_bytes("notifications_mentions.json"))
    items, note_id = parse_notification(body[0])
    assert note_id == "21"
    (mention,) = items
    assert mention.external_id == "117020577157693549"
    assert mention.author == "admin" and mention.followers == 1
    assert mention.text == "@mastodonpy_test hello!"
    headers = json.loads(fixture_bytes("notifications_mentions.headers.json"))
    links = parse_link_header(headers["link"][0])
    assert query_param(links["prev"], "min_id") == "21"
    assert query_param(links["next"], "max_id") == "21"
    assert query_param(links["prev"], "types[]") == "mention"
    reset = headers["x-ratelimit-reset"][0]  # "2026-08-01T13:55:00.940463Z"
    then = datetime(2026, 8, 1, 13, 50, tzinfo=UTC).timestamp()
    assert parse_retry_value(reset, now=then) == pytest.approx(300.940463, abs=1e-3)
    all_body = json.loads(fixture_bytes("notifications_all.json"))
    assert parse_notification(all_body[0])[1] == "20"


# -- SSE parser ------------------------------------------------------------------------------


def test_sse_heartbeats_without_blank_lines_do_not_split_or_dispatch_events():
    body = (":)\nevent: update\n:thump\ndata: {\"a\":\n:thump\ndata: 1}\n\n:thump\n:thump\n"
            "event: delete\ndata: 42\n\n:")
    events = parse_sse(body)
    assert events == [SSEEvent("update", '{"a":\n1}'), SSEEvent("delete", "42")]


def test_sse_field_rules():
    body = ("\ufeffdata:no-space\n\n"          # BOM dropped; no space after colon
            "event: x\ndata\n\n"                  # bare field name: empty data line
            "event: only-event\n\n"               # no data: nothing dispatched
            "id: 7\nretry: 1500\nevent: y\ndata:  two spaces\n\n"
            "unknown: field\ndata: z\n\n")
    parser = SSEParser()
    events = parser.feed(body.encode()) + parser.close()
    assert events == [SSEEvent("message", "no-space"), SSEEvent("x", ""),
                      SSEEvent("y", " two spaces", "7"), SSEEvent("message", "z", "7")]
    assert parser.retry_ms == 1500


def test_sse_unfinished_event_at_end_is_discarded_and_utf8_split_is_rejoined():
    data = "event: update\ndata: café ☕\n\n".encode()
    parser = SSEParser()
    out = []
    for b in data:
        out += parser.feed(bytes([b]))
    assert out == [SSEEvent("update", "café ☕")]
    assert parse_sse(b"event: update\ndata: {\"x\": 1}\n") == []
    assert parse_sse(b"data: \xff\xfe ok\n\n") == [SSEEvent("message", "\ufffd\ufffd ok")]


def test_sse_oversized_lines_and_events_are_dropped_and_reported():
    parser = SSEParser(max_line=100, max_event=150)
    out = parser.feed("data: " + "x" * 200 + "\n\n")
    out += parser.feed("data: " + "y" * 90 + "\ndata: " + "y" * 90 + "\n\n")
    out += parser.feed("data: " + "z" * 60)
    out += parser.feed("z" * 60 + "\n\ndata: fine\n\n")
    assert [type(e).__name__ for e in out] == ["SSEError", "SSEError", "SSEError", "SSEEvent"]
    assert out[-1] == SSEEvent("message", "fine")


# -- status → Mention ------------------------------------------------------------------------


def _status(**kw):
    base = json.loads(fixture_bytes("post_status_reply_response.json"))
    base.update(kw)
    return base


def test_status_html_becomes_plain_text_with_newlines_and_entities():
    m = status_to_mention(_status(
        content='<p>Hi &amp; hello &lt;team&gt;<br />line two<br>three</p><p>para &quot;2&quot;'
                ' <a href="https://ex.com/a/very/long"><span class="invisible">https://</span>'
                '<span class="ellipsis">ex.com/a/ve</span><span class="invisible">ry/long</span>'
                '</a></p>',
        spoiler_text="billing", edited_at="2026-08-02T05:22:24.192Z",
        media_attachments=[{"type": "image", "description": "receipt photo"}]))
    assert m.text == ('CW: billing\n\nHi & hello <team>\nline two\nthree\n\npara "2" '
                      "https://ex.com/a/very/long\n\n[image: receipt photo]")
    assert m.edited
    assert m.author == "mastodonpy_test_2" and m.in_reply_to == "117024236559579118"
    assert m.lang == "ja" and m.followers == 0


def test_html_to_text_edge_cases():
    assert html_to_text("") == ""
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text("<p>a</p><p></p><p></p><p>b</p>") == "a\n\nb"
    assert html_to_text("<ul><li>one</li><li>two</li></ul>") == "one\ntwo"
    assert html_to_text("<p>x<script>alert(1)</script>y</p>") == "xy"
    assert html_to_text("<p>unterminated <b>bold") == "unterminated bold"
    assert html_to_text("&#x1F600; &nbsp;&lt;") == "😀 \xa0<"


@pytest.mark.parametrize("status, reason", [
    ("not a dict", "JSON object"),
    ({"id": "1"}, "account"),
    ({"id": "1", "account": {"acct": "a"}, "content": "<p>x</p>"}, "created_at"),
    ({"id": "1", "account": {}, "content": "x", "created_at": "2026-01-01T00:00:00Z"}, "acct"),
    ({"id": "", "account": {"acct": "a"}, "created_at": "2026-01-01T00:00:00Z"}, "id"),
    ({"id": "1", "account": {"acct": "a"}, "content": 5, "created_at": "2026-01-01T00:00:00Z"},
     "content"),
])
def test_bad_statuses_are_refused_with_a_reason(status, reason):
    with pytest.raises(InvalidMention, match=reason):
        status_to_mention(status)


@pytest.mark.parametrize("followers, expected", [(float("inf"), 0), (float("nan"), 0),
                                                 (10**400, 10**12), (-5, 0), ("many", 0),
                                                 (True, 0), (12.7, 12)])
def test_follower_counts_are_clamped(followers, expected):
    status = _status()
    status["account"] = {**status["account"], "followers_count": followers}
    assert status_to_mention(status).followers == expected


def test_event_routing_per_stream_kind():
    status = json.dumps(_status())
    assert parse_event("user", "update", status) == ([], None)
    assert parse_event("user", "status.update", status) == ([], None)
    assert parse_event("user", "filters_changed", "") == ([], None)
    fav = json.dumps({"id": "30", "type": "favourite", "account": {}, "status": None})
    assert parse_event("user", "notification", fav) == ([], "30")
    (m,), _ = parse_event("hashtag", "update", status)
    assert isinstance(m, Mention) and not m.edited
    (m,), _ = parse_event("hashtag", "status.update", status)
    assert m.edited
    reblog = json.dumps(_status(reblog=_status()))
    assert parse_event("hashtag", "update", reblog) == ([], None)
    assert parse_event("hashtag", "delete", '"123"') == ([Deleted("mastodon", "123")], None)
    (bad,), _ = parse_event("user", "notification", "{broken", where="w")
    assert isinstance(bad, Malformed) and "not JSON" in bad.reason and bad.where == "w notification"
    (bad,), nid = parse_event("user", "notification", json.dumps(
        {"id": "31", "type": "mention", "status": {"id": "1"}}))
    assert isinstance(bad, Malformed) and nid == "31"  # the cursor still moves past it
    (bad,), _ = parse_event("user", "delete", "")
    assert isinstance(bad, Malformed)


def test_ids_compare_numerically():
    assert id_key("100") > id_key("99")
    assert id_key("117024236635443611") > id_key("117024236408130890")
    assert sorted(["10", "9", "x", "100"], key=id_key) == ["9", "10", "100", "x"]


def test_stream_specs_and_config_errors():
    assert parse_stream_spec("user").path == "/api/v1/streaming/user"
    assert parse_stream_spec("user:notification").path == "/api/v1/streaming/user/notification"
    spec = parse_stream_spec("hashtag:#Acme")
    assert (spec.path, spec.params, spec.tag) == ("/api/v1/streaming/hashtag", (("tag", "Acme"),),
                                                  "Acme")
    assert parse_stream_spec("hashtag:acme:local").path == "/api/v1/streaming/hashtag/local"
    for bad in ("public", "hashtag:", "hashtag:a b", "hashtag:x:remote", 5):
        with pytest.raises(ConfigError):
            parse_stream_spec(bad)
    with pytest.raises(ConfigError, match="base_url"):
        MastodonFeed("m", {})
    with pytest.raises(ConfigError, match="http"):
        MastodonFeed("m", {"base_url": "ftp://x"})
    with pytest.raises(ConfigError, match="idle_timeout"):
        MastodonFeed("m", {"base_url": "https://x.example", "idle_timeout": "soon"})
    assert adapter_class("mastodon") is MastodonFeed


# -- retry-after parsing (both forms Mastodon and proxies use) ---------------------------------


def test_retry_after_forms():
    now = 1_800_000_000.0
    assert parse_retry_value("7", now) == 7
    assert parse_retry_value("1800000042", now) == 42  # epoch seconds
    assert parse_retry_value("1800000042000", now) == 42  # epoch milliseconds
    iso = datetime.fromtimestamp(now + 90, UTC).isoformat().replace("+00:00", "Z")
    assert parse_retry_value(iso, now) == pytest.approx(90)
    assert parse_retry_value("Fri, 15 Jan 2027 08:00:30 GMT",
                             datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()) == 30
    assert parse_retry_value("2020-01-01T00:00:00Z", now) == 0  # already past
    for junk in (None, "", "soon", "-", "nan"):
        assert parse_retry_value(junk, now) is None
    assert retry_after({"X-RateLimit-Reset": iso}, now) == pytest.approx(90)
    assert retry_after({"Retry-After": "3", "X-RateLimit-Reset": iso}, now) == 3
    assert retry_after({"Retry-After": "junk", "X-RateLimit-Reset": iso}, now) == pytest.approx(90)
    assert retry_after({}, now) is None


# -- against the fake server --------------------------------------------------------------------


@pytest.fixture
async def fake():
    async with FakeMastodon() as server:
        yield server


def make_feed(fake: FakeMastodon, token: str | None = None, **options) -> MastodonFeed:
    opts = {"base_url": fake.base_url, "token_env": TOKEN_ENV, "streams": ["user"],
            "idle_timeout": 5, "request_timeout": 5}
    opts.update(options)
    return MastodonFeed("masto", opts, env={TOKEN_ENV: fake.token if token is None else token})


class Collector:
    """Runs one ``stream(cursor)`` call in the background and keeps what it yields."""

    def __init__(self, feed: MastodonFeed, cursor: str | None):
        self.items: list = []
        self.error: BaseException | None = None
        self.finished = False
        self.task = asyncio.create_task(self._run(feed, cursor))

    async def _run(self, feed, cursor):
        try:
            async for item in feed.stream(cursor):
                self.items.append(item)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc
        finally:
            self.finished = True

    @property
    def mentions(self) -> list[Mention]:
        return [i for i in self.items if isinstance(i, Mention)]

    @property
    def cursors(self) -> list[str]:
        return [i.value for i in self.items if isinstance(i, Cursor)]

    async def until(self, predicate, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.finished and not predicate(self):
                raise AssertionError(f"stream ended ({self.error!r}) with {self.items!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; have {self.items!r} error={self.error!r}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_first_start_backfills_then_follows_live_mentions(fake):
    fake.mention("alice@example.social", "my order never arrived", display_name="Alice",
                 followers=1200)
    fake.mention("bob", "where is my refund?\n\nthird time I ask")
    feed = make_feed(fake)
    c = Collector(feed, None)
    try:
        await c.until(lambda c: c.cursors)
        assert [m.author for m in c.mentions] == ["alice@example.social", "bob"]  # oldest first
        alice, bob = c.mentions
        assert alice.author_name == "Alice" and alice.followers == 1200
        assert alice.text == "@acme my order never arrived" and alice.source == "masto"
        assert bob.text == "@acme where is my refund?\n\nthird time I ask"
        assert c.cursors == ["2"]
        await fake.wait_subscribers(1)
        fake.favourite("carol")  # not a mention: ignored, but the cursor moves
        fake.home_update("dave", "just a post in the home timeline")
        live = fake.mention("erin", "hello?")
        await c.until(lambda c: len(c.mentions) == 3 and c.cursors[-1] == live["id"])
        assert c.mentions[-1].external_id == live["status"]["id"]
        assert c.cursors == ["2", "3", "4"]
        assert all(not isinstance(i, Malformed) for i in c.items)
        # the stream was subscribed before the catch-up was asked for (no gap between them)
        paths = [p for _, p in fake.requests]
        stream_at = next(i for i, p in enumerate(paths) if p.startswith("/api/v1/streaming/user"))
        rest_at = next(i for i, p in enumerate(paths) if p.startswith("/api/v1/notifications"))
        assert stream_at < rest_at
        assert any(p.startswith("/api/v2/instance") for p in paths)
    finally:
        await c.stop()
        await feed.aclose()


async def test_backfill_zero_takes_only_the_cursor(fake):
    for i in range(3):
        fake.mention("alice", f"old {i}")
    feed = make_feed(fake, backfill=0)
    c = Collector(feed, None)
    try:
        await c.until(lambda c: c.cursors)
        assert c.mentions == [] and c.cursors == ["3"]
    finally:
        await c.stop()
        await feed.aclose()


async def test_catch_up_after_a_dropped_stream_loses_nothing(fake):
    fake.mention("alice", "first")
    feed = make_feed(fake, page_limit=2)
    c = Collector(feed, None)
    await c.until(lambda c: c.cursors == ["1"])
    await fake.wait_subscribers(1)
    fake.mention("bob", "second (live)")
    await c.until(lambda c: c.cursors[-1:] == ["2"])
    fake.drop_streams()  # connection reset mid-body
    await c.until(lambda c: c.finished)
    assert isinstance(c.error, StreamError)
    await c.stop()

    missed = [fake.mention("carol", f"while away {i}") for i in range(5)]
    fake.favourite("dave")
    missed.append(fake.mention("erin", "last one while away"))
    cursor = c.cursors[-1]
    before = len(fake.requests)
    c2 = Collector(feed, cursor)
    try:
        await c2.until(lambda c: c.cursors and c.cursors[-1] == missed[-1]["id"])
        got = [m.external_id for m in c2.mentions]
        assert got == [n["status"]["id"] for n in missed]  # all of them, oldest first
        # paged with limit=2, following rel="prev" (min_id = newest of each page)
        asked = [p for _, p in fake.requests[before:] if p.startswith("/api/v1/notifications")]
        assert len(asked) >= 4 and "min_id=2" in asked[0]
        assert all("max_id" not in p for p in asked)  # never walks back over the cursor
        await fake.wait_subscribers(1)
        after = fake.mention("frank", "back online")
        await c2.until(lambda c: c.mentions and c.mentions[-1].external_id == after["status"]["id"])
        everything = {m.external_id for m in c.mentions + c2.mentions}
        assert everything == {n["status"]["id"] for n in fake.notifications if n["type"] == "mention"}
    finally:
        await c2.stop()
        await feed.aclose()


async def test_clean_server_close_ends_the_stream_normally(fake):
    feed = make_feed(fake)
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(1)
        fake.drop_streams(clean=True)
        await c.until(lambda c: c.finished)
        assert c.error is None
    finally:
        await c.stop()
        await feed.aclose()


async def test_duplicate_notifications_reach_the_output_and_are_left_to_the_store(fake):
    # The adapter does not dedupe: the store is unique on (platform, status id).
    fake.duplicate_notifications = True
    feed = make_feed(fake)
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(1)
        note = fake.mention("alice", "hello twice")
        await c.until(lambda c: len(c.mentions) >= 2)
        await asyncio.sleep(0.1)
        ids = [m.external_id for m in c.mentions]
        assert set(ids) == {note["status"]["id"]} and len(ids) >= 2
        assert c.cursors.count(note["id"]) == 1  # the cursor only ever moves forward
    finally:
        await c.stop()
        await feed.aclose()


async def test_a_malformed_frame_is_reported_and_the_stream_goes_on(fake):
    feed = make_feed(fake)
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(1)
        fake.push_raw("event: notification\ndata: {\"id\": \"9\", \"type\": \"mention\", \n\n")
        fake.push_raw(b"event: delete\ndata:\n\n")
        note = fake.mention("alice", "still here")
        await c.until(lambda c: c.mentions)
        bad = [i for i in c.items if isinstance(i, Malformed)]
        assert len(bad) == 2 and "not JSON" in bad[0].reason
        assert bad[0].where.startswith("mastodon:masto user")
        assert c.mentions[0].external_id == note["status"]["id"]
    finally:
        await c.stop()
        await feed.aclose()


async def test_hashtag_stream_updates_edits_and_deletes(fake):
    feed = make_feed(fake, streams=["hashtag:acme", "user:notification"])
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(2)
        assert sorted(fake.subscribers) == ["hashtag:acme", "user:notification"]
        status = fake.tagged("zoe@example.social", "loving my #acme boots", "acme")
        await c.until(lambda c: c.mentions)
        fake.edit(status["id"], "loving my #acme boots (edit: the sole came off)")
        await c.until(lambda c: len(c.mentions) == 2)
        fake.delete(status["id"])
        await c.until(lambda c: any(isinstance(i, Deleted) for i in c.items))
        first, edited = c.mentions
        assert first.external_id == edited.external_id == status["id"]
        assert not first.edited and edited.edited
        assert "the sole came off" in edited.text and "#acme" in edited.text
        assert Deleted("mastodon", status["id"]) in c.items
    finally:
        await c.stop()
        await feed.aclose()


async def test_hashtag_reconnect_catches_up_from_the_newest_status_seen(fake):
    feed = make_feed(fake, streams=["hashtag:acme"])
    c = Collector(feed, None)
    await fake.wait_subscribers(1)
    seen = fake.tagged("zoe", "one #acme", "acme")
    await c.until(lambda c: c.mentions)
    fake.drop_streams()
    await c.until(lambda c: c.finished)
    await c.stop()
    missed = [fake.tagged("yan", f"two {i} #acme", "acme") for i in range(3)]
    c2 = Collector(feed, None)
    try:
        await c2.until(lambda c: len(c.mentions) == 3)
        assert [m.external_id for m in c2.mentions] == [s["id"] for s in missed]
        assert seen["id"] not in [m.external_id for m in c2.mentions]
    finally:
        await c2.stop()
        await feed.aclose()


async def test_a_restart_catches_hashtags_up_from_the_stored_cursor(fake):
    """A new process (a new adapter) given the last cursor the pipeline stored reads the
    hashtag posts it missed while down, and only those; the notification position is
    kept in the same cursor."""
    feed = make_feed(fake, streams=["user", "hashtag:acme"])
    c = Collector(feed, "0")
    await fake.wait_subscribers(2)
    seen = fake.tagged("zoe", "one #acme", "acme")
    await c.until(lambda c: c.mentions and isinstance(c.items[-1], Cursor))
    await c.stop()
    await feed.aclose()
    stored = [i for i in c.items if isinstance(i, Cursor)][-1].value
    assert json.loads(stored)["tags"] == {"hashtag:acme": seen["id"]}
    missed = [fake.tagged("yan", f"two {i} #acme", "acme") for i in range(3)]

    restarted = make_feed(fake, streams=["user", "hashtag:acme"])
    c2 = Collector(restarted, stored)
    try:
        await c2.until(lambda c: len(c.mentions) == 3)
        assert [m.external_id for m in c2.mentions] == [s["id"] for s in missed]
        last = [i for i in c2.items if isinstance(i, Cursor)][-1].value
        assert json.loads(last)["tags"] == {"hashtag:acme": missed[-1]["id"]}
        assert json.loads(last)["notification"] == json.loads(stored)["notification"]
    finally:
        await c2.stop()
        await restarted.aclose()


async def test_a_plain_notification_cursor_from_an_older_store_still_resumes(fake):
    feed = make_feed(fake, streams=["user"])
    note = fake.mention("zoe", "@acme hello")
    c = Collector(feed, "0")
    try:
        await c.until(lambda c: c.mentions)
        cursors = [i.value for i in c.items if isinstance(i, Cursor)]
        assert cursors and all(v.isdigit() for v in cursors)  # no hashtag: the plain id
        assert cursors[-1] == note["id"]
    finally:
        await c.stop()
        await feed.aclose()


async def test_rate_limited_catch_up_says_how_long_to_wait(fake):
    feed = make_feed(fake)
    fake.rate_limit("GET", "/api/v1/notifications", retry_after="7")
    with pytest.raises(StreamError) as err:
        async for _ in feed.stream("0"):
            pass
    assert err.value.retry_after == 7 and "429" in err.value.reason
    reset = datetime.now(UTC) + timedelta(seconds=42)
    fake.rate_limit("GET", "/api/v1/notifications", retry_after=None, reset=reset)
    with pytest.raises(StreamError) as err:
        async for _ in feed.stream("0"):
            pass
    assert 39 <= err.value.retry_after <= 42.5
    fake.rate_limit("GET", "/api/v1/streaming/user", retry_after="11")
    with pytest.raises(StreamError) as err:
        async for _ in feed.stream("0"):
            pass
    assert err.value.retry_after == 11
    await feed.aclose()


async def test_server_errors_and_bad_tokens_are_stream_errors_without_the_secret(fake):
    fake.fail("GET", "/api/v1/streaming/user", 503, headers={"Retry-After": "2"})
    feed = make_feed(fake)
    with pytest.raises(StreamError) as err:
        async for _ in feed.stream("0"):
            pass
    assert "503" in err.value.reason and err.value.retry_after == 2
    await feed.aclose()
    secret = "s3cr3t-token-that-is-wrong"
    bad = make_feed(fake, token=secret)
    with pytest.raises(StreamError) as err:
        async for _ in bad.stream("0"):
            pass
    assert "401" in err.value.reason and TOKEN_ENV in err.value.reason
    assert secret not in str(err.value) and secret not in repr(bad)
    assert bad.can_send
    await bad.aclose()
    none = make_feed(fake, token="")
    assert not none.can_send
    with pytest.raises(ConfigError, match="token"):
        async for _ in none.stream("0"):
            pass


async def test_a_stream_that_is_not_an_event_stream_is_refused(fake):
    fake.fail("GET", "/api/v1/streaming/user", 200, body="<html>please log in</html>")
    feed = make_feed(fake)
    with pytest.raises(StreamError, match="event stream"):
        async for _ in feed.stream("0"):
            pass
    await feed.aclose()


async def test_an_idle_stream_ends_but_heartbeats_keep_it_alive(fake):
    feed = make_feed(fake, idle_timeout=0.4)
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(1)
        await asyncio.sleep(1.0)  # heartbeats every 0.05 s: still connected
        assert not c.finished
        fake.heartbeat = None  # the server goes silent
        await c.until(lambda c: c.finished, timeout=5)
        assert isinstance(c.error, StreamError) and "idle" in c.error.reason
    finally:
        await c.stop()
        await feed.aclose()


async def test_streaming_url_option_and_no_discovery(fake):
    fake.advertise_streaming = False
    feed = make_feed(fake, streaming_url=fake.base_url.replace("http://", "ws://"))
    c = Collector(feed, "0")
    try:
        await fake.wait_subscribers(1)
        assert not any(p.startswith("/api/v2/instance") for _, p in fake.requests)
    finally:
        await c.stop()
        await feed.aclose()


# -- replies -----------------------------------------------------------------------------------


def outbox(kind="reply", text="Sorry about that, we're on it.", key="hd-7-70-abc123",
           in_reply_to=None, recipient=None) -> OutboxItem:
    return OutboxItem(id=1, case_id=7, event_id=70, kind=kind, platform="mastodon", text=text,
                      idempotency_key=key, not_before=datetime.now(UTC),
                      in_reply_to=in_reply_to, recipient=recipient)


def customer_post(fake: FakeMastodon, acct="alice@example.social") -> Mention:
    note = fake.mention(acct, "my order never arrived")
    (m,), _ = parse_notification(note)
    return m


async def test_reply_is_a_public_status_with_mention_thread_and_idempotency_key(fake):
    target = customer_post(fake)
    feed = make_feed(fake)
    try:
        delivery = await feed.send(outbox(in_reply_to=target.external_id), target)
        (post,) = fake.posts
        assert post["form"] == {"status": "@alice@example.social Sorry about that, we're on it.",
                                "visibility": "public", "in_reply_to_id": target.external_id}
        assert post["idempotency_key"] == "hd-7-70-abc123"
        assert delivery.remote_id == fake.created[0]
        assert delivery.remote_url == fake.statuses[fake.created[0]]["url"]
        # already addressed: not mentioned twice; followup and ack are public too
        await feed.send(outbox("followup", "@Alice@example.social how did it go?", key="k2"),
                        target)
        assert fake.posts[-1]["form"]["status"] == "@Alice@example.social how did it go?"
        assert fake.posts[-1]["form"]["visibility"] == "public"
        await feed.send(outbox("ack", "@alice@example.socially yours", key="k3"), target)
        assert fake.posts[-1]["form"]["status"].startswith("@alice@example.social @alice@")
    finally:
        await feed.aclose()


async def test_dm_is_direct_and_uses_the_recipient_without_a_target(fake):
    target = customer_post(fake, "bob")
    feed = make_feed(fake)
    try:
        await feed.send(outbox("dm", "Could you DM us your order number?",
                               in_reply_to=target.external_id, recipient="bob"), None)
        form = fake.posts[-1]["form"]
        assert form["visibility"] == "direct" and form["status"].startswith("@bob Could")
        assert form["in_reply_to_id"] == target.external_id
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox("dm", "hi", recipient=None), None)
        assert not err.value.retryable
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox("escalation", "x"), None)
        assert not err.value.retryable
    finally:
        await feed.aclose()


async def test_recorded_post_response_becomes_the_delivery(fake):
    recorded = json.loads(fixture_bytes("post_status_reply_response.json"))
    fake.fail("POST", "/api/v1/statuses", 200, body=recorded)
    feed = make_feed(fake)
    try:
        delivery = await feed.send(outbox(recipient="mastodonpy_test"), None)
        assert delivery.remote_id == "117024236635443611"
        assert delivery.remote_url == "http://localhost:3000/@mastodonpy_test_2/117024236635443611"
    finally:
        await feed.aclose()


async def test_a_retry_after_a_lost_503_creates_one_status(fake):
    target = customer_post(fake)
    fake.fail("POST", "/api/v1/statuses", 503, after_create=True)  # posted, answer lost
    feed = make_feed(fake)
    item = outbox(in_reply_to=target.external_id)
    try:
        with pytest.raises(DeliveryError) as err:
            await feed.send(item, target)
        assert err.value.retryable and "503" in err.value.reason
        delivery = await feed.send(item, target)
        assert len(fake.created) == 1 and delivery.remote_id == fake.created[0]
        assert [p["idempotency_key"] for p in fake.posts] == [item.idempotency_key] * 2
        assert fake.posts[0]["form"] == fake.posts[1]["form"]
        # a 503 before anything was created: retryable, and the retry creates it once
        fake.fail("POST", "/api/v1/statuses", 503)
        other = outbox(key="hd-7-71-def456", in_reply_to=target.external_id)
        with pytest.raises(DeliveryError):
            await feed.send(other, target)
        await feed.send(other, target)
        assert len(fake.created) == 2
    finally:
        await feed.aclose()


async def test_rate_limited_post_in_both_forms(fake):
    feed = make_feed(fake)
    try:
        fake.rate_limit("POST", "/api/v1/statuses", retry_after="7")
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(recipient="alice"), None)
        assert err.value.retryable and err.value.retry_after == 7
        reset = datetime.now(UTC) + timedelta(seconds=30)
        fake.rate_limit("POST", "/api/v1/statuses", retry_after=None, reset=reset)
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(recipient="alice"), None)
        assert err.value.retryable and 27 <= err.value.retry_after <= 30.5
        assert fake.created == []
    finally:
        await feed.aclose()


async def test_client_errors_are_final_with_the_servers_message(fake):
    feed = make_feed(fake)
    try:
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(text="x" * 600, recipient="alice"), None)
        assert not err.value.retryable and "character limit of 500" in err.value.reason
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(in_reply_to="404404", recipient="alice"), None)
        assert not err.value.retryable and "Record not found" in err.value.reason
        secret = "wrong-token-abcdef"
        bad = make_feed(fake, token=secret)
        with pytest.raises(DeliveryError) as err:
            await bad.send(outbox(recipient="alice"), None)
        assert not err.value.retryable and "401" in err.value.reason
        assert secret not in err.value.reason and secret not in repr(bad)
        await bad.aclose()
        none = make_feed(fake, token="")
        with pytest.raises(DeliveryError) as err:
            await none.send(outbox(recipient="alice"), None)
        assert not err.value.retryable
    finally:
        await feed.aclose()


async def test_timeouts_and_unreachable_servers_are_retryable(fake):
    fake.post_delay = 1.0
    feed = make_feed(fake, request_timeout=0.2)
    try:
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(recipient="alice"), None)
        assert err.value.retryable and "timed out" in err.value.reason
    finally:
        await feed.aclose()
    gone = MastodonFeed("masto", {"base_url": "http://127.0.0.1:9", "token_env": TOKEN_ENV,
                                  "request_timeout": 2, "connect_timeout": 2},
                        env={TOKEN_ENV: "tok-123456"})
    try:
        with pytest.raises(DeliveryError) as err:
            await gone.send(outbox(recipient="alice"), None)
        assert err.value.retryable and "tok-123456" not in err.value.reason
        with pytest.raises(StreamError):
            async for _ in gone.stream("0"):
                pass
    finally:
        await gone.aclose()


# -- properties: hostile input never crashes the parsers ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
status_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=20), st.integers(), st.none()),
        "account": st.one_of(json_values, st.fixed_dictionaries(
            {}, optional={"acct": json_values, "display_name": json_values,
                          "followers_count": json_values})),
        "content": st.one_of(st.text(max_size=80), json_values),
        "created_at": st.one_of(st.just("2026-08-02T05:22:18.555Z"), json_values),
        "spoiler_text": json_values, "media_attachments": json_values,
        "in_reply_to_id": json_values, "language": json_values, "url": json_values,
        "uri": json_values, "reblog": json_values, "edited_at": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=10))
def test_sse_parser_never_crashes_and_chunking_does_not_matter(data, cuts):
    whole = parse_sse(data)
    parser = SSEParser()
    out, pos = [], 0
    for cut in cuts:
        out += parser.feed(data[pos:pos + cut])
        pos += cut
    out += parser.feed(data[pos:]) + parser.close()
    assert out == whole
    assert all(isinstance(e, (SSEEvent, SSEError)) for e in out)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["user", "hashtag"]),
       st.sampled_from(["notification", "update", "status.update", "delete", "x", ""]),
       st.one_of(st.text(max_size=60), json_values.map(json.dumps),
                 status_like.map(json.dumps),
                 st.fixed_dictionaries({"id": st.text(max_size=5),
                                        "type": st.sampled_from(["mention", "favourite"]),
                                        "status": status_like}).map(json.dumps)))
def test_event_parser_never_crashes(kind, event, data):
    items, note_id = parse_event(kind, event, data)
    assert all(isinstance(i, (Mention, Deleted, Malformed)) for i in items)
    assert note_id is None or isinstance(note_id, str)


@settings(max_examples=300, deadline=None)
@given(status_like)
def test_status_parser_gives_a_mention_or_a_reason(status):
    try:
        m = status_to_mention(status)
    except InvalidMention as exc:
        assert str(exc)
    else:
        assert m.platform == "mastodon" and m.external_id and isinstance(m.text, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.lists(st.sampled_from(
    ["<p>", "</p>", "<br>", "<br/>", "&amp;", "&#", "&#x", "<", ">", "<!--", "-->", "<![CDATA[",
     "<script>", "</script>", "a", " ", "\n", "&", ";", "<li>", "<a href='x'>", "\x00"]),
    max_size=40).map("".join))
def test_html_to_text_never_crashes(content):
    assert isinstance(html_to_text(content), str)
