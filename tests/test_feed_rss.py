"""RSS/Atom adapter against a fake feed server on 127.0.0.1 (conditional GET, faults)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.base import Cursor, DeliveryError, Malformed, StreamError, adapter_class
from feeds.rss import RssFeed, html_to_text, load_cursor, parse_feed
from store.records import Mention, OutboxItem
from tests.fakes.rss_server import FakeFeedServer, atom, rss

T = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

ITEMS = [  # newest first, like WordPress
    {"title": "Comment on Winter boots by Carol", "link": "https://blog.example.com/boots#c3",
     "guid": "https://blog.example.com/?p=7#comment-3", "author": "Carol",
     "date": T + timedelta(minutes=30),
     "description": "<p>Still no refund &amp; no answer&#8230; <b>third</b> time I ask!</p>"},
    {"title": "Comment on Winter boots by Bob", "link": "https://blog.example.com/boots#c2",
     "guid": "https://blog.example.com/?p=7#comment-2", "author": "Bob",
     "date": T + timedelta(minutes=10),
     "description": "Love them&nbsp;&mdash; warm<br/>and dry"},
]


@pytest.fixture
async def server():
    s = FakeFeedServer(rss(ITEMS))
    await s.start()
    yield s
    await s.close()


@pytest.fixture
async def feed(server):
    f = RssFeed("blog", {"url": server.url, "interval_seconds": 0.05})
    yield f
    await f.aclose()


def test_registry_and_config():
    assert adapter_class("rss") is RssFeed
    with pytest.raises(Exception, match="http"):
        RssFeed("x", {"url": "file:///etc/passwd"})
    with pytest.raises(Exception, match="interval"):
        RssFeed("x", {"url": "https://e.com/f", "interval_seconds": "often"})


async def test_first_poll_yields_entries_oldest_first(feed, server):
    items, etag, modified, seen, changed = await feed.poll(None, None, [])
    assert changed and etag == server.current_etag and modified.endswith("GMT")
    bob, carol = items
    assert isinstance(bob, Mention) and bob.platform == "rss"
    assert bob.external_id == "https://blog.example.com/?p=7#comment-2"
    assert bob.author == "Bob" and bob.source == "blog"
    assert bob.text == "Comment on Winter boots by Bob\n\nLove them — warm\nand dry"
    assert bob.created_at == T + timedelta(minutes=10)
    assert bob.url == "https://blog.example.com/boots#c2"
    assert bob.lang == "en-us" and bob.followers == 0
    assert carol.text.endswith("Still no refund & no answer… third time I ask!")
    json.dumps(carol.raw)  # the raw payload is JSON-safe
    assert carol.raw["feed"] == server.url
    assert seen == [bob.external_id, carol.external_id]


async def test_conditional_get_304_and_etag_sent(feed, server):
    _, etag, modified, seen, _ = await feed.poll(None, None, [])
    assert "If-None-Match" not in server.requests[0]
    items, etag2, modified2, seen2, changed = await feed.poll(etag, modified, seen)
    assert server.requests[1]["If-None-Match"] == server.current_etag
    assert server.requests[1]["If-Modified-Since"] == modified
    assert server.statuses == [200, 304]
    assert items == [] and not changed and (etag2, modified2, seen2) == (etag, modified, seen)
    # a new comment: the ETag changes, only the new entry comes out
    server.set_body(rss([{"title": "Comment by Dave", "guid": "https://blog.example.com/?c=4",
                          "link": "https://blog.example.com/c4", "author": "Dave",
                          "description": "cancel my order", "date": T + timedelta(hours=1)}]
                        + ITEMS))
    items, etag3, _, seen3, changed = await feed.poll(etag2, modified2, seen2)
    assert changed and etag3 != etag and [m.author for m in items] == ["Dave"]
    assert len(seen3) == 3


async def test_last_modified_alone_is_used_when_there_is_no_etag(feed, server):
    server.etag = False
    _, etag, modified, seen, _ = await feed.poll(None, None, [])
    assert etag is None and modified
    items, *_ = await feed.poll(etag, modified, seen)
    assert "If-None-Match" not in server.requests[1]
    assert server.requests[1]["If-Modified-Since"] == modified
    assert server.statuses[-1] == 304 and items == []


async def test_server_that_ignores_validators_still_yields_each_entry_once(feed, server):
    server.etag = server.last_modified = False
    items, etag, modified, seen, changed = await feed.poll(None, None, [])
    assert len(items) == 2
    items, etag, modified, seen, changed = await feed.poll(etag, modified, seen)
    assert server.statuses == [200, 200] and items == [] and not changed


async def test_stream_resumes_from_its_cursor(server):
    f = RssFeed("blog", {"url": server.url, "interval_seconds": 0.02})
    got: list = []
    async for item in f.stream(None):
        got.append(item)
        if isinstance(item, Cursor):
            break
    assert [type(i) for i in got] == [Mention, Mention, Cursor]
    etag, _, seen = load_cursor(got[-1].value)
    assert etag == server.current_etag and len(seen) == 2
    # a new process resumes from the persisted cursor: conditional from the first request
    f2 = RssFeed("blog", {"url": server.url, "interval_seconds": 0.02})
    agen = f2.stream(got[-1].value)
    task = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0.3)
    assert not task.done()  # nothing new: 304s, no items, no cursor
    assert server.statuses[1:] and set(server.statuses[1:]) == {304}
    assert server.requests[1]["If-None-Match"] == server.current_etag
    server.set_body(rss([{"title": "New", "guid": "https://blog.example.com/?c=9",
                          "description": "hello"}] + ITEMS))
    item = await asyncio.wait_for(task, 2)
    assert item.external_id == "https://blog.example.com/?c=9"
    await agen.aclose()
    await f.aclose()
    await f2.aclose()


async def test_malformed_feed_is_reported_once_and_recovers(feed, server):
    server.set_body(b"<html><body>502 Bad Gateway</body></html")
    items, etag, modified, seen, _ = await feed.poll(None, None, [])
    assert len(items) == 1 and isinstance(items[0], Malformed)
    assert items[0].where == server.url and items[0].reason
    assert etag is None and modified is None  # not kept: refetch in full next time
    items, etag, modified, seen, _ = await feed.poll(etag, modified, seen)
    assert items == []  # the same broken body is not reported again
    server.set_body(rss(ITEMS))
    items, *_ = await feed.poll(etag, modified, seen)
    assert [m.author for m in items] == ["Bob", "Carol"]


async def test_http_errors_are_stream_errors(feed, server):
    server.faults = [(503, {"Retry-After": "120"}), (429, {}), (500, {}), (404, {})]
    with pytest.raises(StreamError) as err:
        await feed.poll(None, None, [])
    assert err.value.retry_after == 120 and "503" in err.value.reason
    for status in (429, 500, 404):
        with pytest.raises(StreamError, match=str(status)):
            await feed.poll(None, None, [])


async def test_unreachable_feed_is_a_stream_error():
    f = RssFeed("x", {"url": "http://127.0.0.1:1/feed"})
    with pytest.raises(StreamError):
        await f.poll(None, None, [])
    await f.aclose()


async def test_atom_entries_and_fallbacks(feed, server):
    server.set_body(atom([
        {"id": "tag:forum.example,2026:post-2", "title": "Re: Lieferung", "link":
         "https://forum.example/t/2", "updated": T, "author": "Jörg",
         "summary": "<p>Wo bleibt mein Paket?<script>alert(1)</script></p>"},
        {"id": "42", "title": "Anonymous post", "summary": "no author, no date"},
    ]), modified_at=T)
    server.content_type = "application/atom+xml"
    before = datetime.now(UTC)
    items, *_ = await feed.poll(None, None, [])
    anon, joerg = items
    assert joerg.external_id == "tag:forum.example,2026:post-2"
    assert joerg.author == "Jörg" and joerg.lang == "de"
    assert joerg.text == "Re: Lieferung\n\nWo bleibt mein Paket?"
    assert joerg.created_at == T
    # feedparser resolves a relative Atom id against the feed's URL
    assert anon.external_id == server.url.rsplit("/", 1)[0] + "/42"
    assert anon.author == "Acme forum"  # no author: the feed's title
    assert anon.created_at >= before


async def test_bare_rss_guid_is_made_unique_per_feed(feed, server):
    server.set_body(rss([{"title": "t", "guid": "42", "description": "d"}]))
    items, *_ = await feed.poll(None, None, [])
    assert items[0].external_id == f"{server.url}#42"


async def test_feedparser_never_goes_to_the_network_or_disk(feed, server, tmp_path):
    local = tmp_path / "local.xml"
    local.write_bytes(rss(ITEMS))
    for body in (str(local).encode(), b"http://127.0.0.1:1/feed"):
        server.set_body(body)
        items, *_ = await feed.poll(None, None, [])
        assert [type(i) for i in items] == [Malformed]


async def test_rss_cannot_send(feed):
    assert not feed.can_send
    item = OutboxItem(id=1, case_id=1, event_id=1, kind="reply", platform="rss", text="hi",
                      idempotency_key="k", not_before=T)
    with pytest.raises(DeliveryError) as err:
        await feed.send(item, None)
    assert not err.value.retryable


def test_html_to_text():
    assert html_to_text("<p>a&amp;b</p><p>c&#8217;s&nbsp;d</p>") == "a&b\n\nc’s d"
    assert html_to_text("x<br>y<br/>z") == "x\ny\nz"
    assert html_to_text("<style>p{}</style><script>evil()</script>ok") == "ok"
    assert html_to_text("<ul><li>one</li><li>two</li></ul>") == "one\n\ntwo"
    assert html_to_text("  lots   of\t spaces ") == "lots of spaces"
    assert html_to_text("<a href='x'>unclosed") == "unclosed"
    assert html_to_text("") == ""


def test_cursor_is_forgiving():
    assert load_cursor(None) == (None, None, [])
    assert load_cursor("not json") == (None, None, [])
    assert load_cursor('{"etag": 5, "seen": ["a", 3]}') == (None, None, ["a"])
    assert load_cursor(json.dumps({"seen": [str(i) for i in range(900)]}))[2][0] == "400"


@settings(max_examples=200)
@given(st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(st.fixed_dictionaries({}, optional={
        "title": st.text(max_size=30), "guid": st.text(max_size=30),
        "link": st.text(max_size=30), "author": st.text(max_size=20),
        "description": st.text(max_size=60)}), max_size=4).map(rss),
))
def test_parse_feed_never_crashes(body):
    mentions, problem = parse_feed(body, "https://e.example/feed")
    assert problem is None or isinstance(problem, str)
    for m in mentions:
        assert m.external_id and m.author and isinstance(m.text, str)
        json.dumps(m.raw)


@given(st.text(max_size=300))
def test_html_to_text_never_crashes(html):
    assert isinstance(html_to_text(html), str)
