"""Reddit adapter against a fake Reddit on 127.0.0.1 (OAuth, listings, rate limits, comments)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.base import ConfigError, Cursor, DeliveryError, Malformed, StreamError, adapter_class
from feeds.reddit import RedditFeed, _State, listing_children, ratelimit_wait, thing_mention
from store.records import Mention, OutboxItem
from tests.fakes.reddit_server import CommitThen, FakeReddit

ENV = {"RD_ID": "cid-123", "RD_SECRET": "secret-456", "RD_PW": "hunter2"}
UA = re.compile(r"^python:heatdesk:v[\w.]+ \(by /u/acme_support\)$")
NOW = time.time()


@pytest.fixture
async def reddit():
    fake = FakeReddit()
    await fake.start()
    yield fake
    await fake.close()


def make(reddit: FakeReddit, env=ENV, **options) -> RedditFeed:
    base = {"base_url": reddit.url, "auth_url": reddit.url, "subreddits": ["acme", "AcmeHelp"],
            "client_id_env": "RD_ID", "client_secret_env": "RD_SECRET",
            "username": "acme_support", "password_env": "RD_PW", "interval_seconds": 0.01}
    base.update(options)
    return RedditFeed("rd", base, env=env)


@pytest.fixture
async def feed(reddit):
    f = make(reddit)
    yield f
    await f.aclose()


async def poll(feed: RedditFeed, state: _State) -> list:
    items: list = []
    for listing in feed.listings():
        got, _ = await feed.poll_listing(listing, state)
        items += got
    return items


def outbox(text: str, parent: str | None, *, attempts: int = 1, kind: str = "reply",
           recipient: str | None = None, error: str | None = None) -> OutboxItem:
    return OutboxItem(id=1, case_id=1, event_id=1, kind=kind, platform="reddit", text=text,
                      idempotency_key="hd-1-1-x", not_before=datetime.now(UTC),
                      attempts=attempts, in_reply_to=parent, recipient=recipient, error=error)


# -- configuration -----------------------------------------------------------------------


def test_config(reddit):
    assert adapter_class("reddit") is RedditFeed
    f = make(reddit)
    assert UA.match(f.user_agent)
    assert f.can_send
    assert [l.path for l in f.listings()] == ["/r/acme+AcmeHelp/new", "/r/acme+AcmeHelp/comments"]
    assert make(reddit, user_agent="android:com.acme.desk:v2.0 (by /u/acme_support)").user_agent \
        == "android:com.acme.desk:v2.0 (by /u/acme_support)"
    with pytest.raises(ConfigError, match="user_agent must look like"):
        make(reddit, user_agent="Mozilla/5.0")
    with pytest.raises(ConfigError, match="username or a user_agent"):
        make(reddit, username=None)
    with pytest.raises(ConfigError, match="subreddit"):
        make(reddit, subreddits=["no spaces allowed"])
    assert not make(reddit, env={"RD_ID": "x", "RD_SECRET": "y"}).can_send


# -- OAuth and the user agent ------------------------------------------------------------


async def test_oauth_password_grant_basic_auth_and_user_agent(feed, reddit):
    reddit.add_post("acme", "carol", "Where is my order?", "Ordered 3 weeks ago.")
    await poll(feed, _State({}, [], {}))
    await poll(feed, _State({}, [], {}))
    [token_req] = reddit.requests_to("/api/v1/access_token")
    assert token_req["method"] == "POST"
    basic = base64.b64decode(token_req["headers"]["Authorization"].removeprefix("Basic "))
    assert basic == b"cid-123:secret-456"
    assert token_req["form"] == {"grant_type": "password", "username": "acme_support",
                                 "password": "hunter2"}
    assert feed.tokens_fetched == 1  # cached across requests
    api = [r for r in reddit.requests if r["path"] != "/api/v1/access_token"]
    assert len(api) == 4
    for r in reddit.requests:
        assert UA.match(r["headers"]["User-Agent"])
    for r in api:
        assert r["headers"]["Authorization"].startswith("bearer tok-")
        assert r["query"]["raw_json"] == "1" and r["query"]["limit"] == "100"


async def test_read_only_without_password_uses_client_credentials(reddit):
    f = make(reddit, env={"RD_ID": "cid-123", "RD_SECRET": "secret-456"})
    reddit.add_post("acme", "carol", "hello acme")
    items = await poll(f, _State({}, [], {}))
    assert [m.author for m in items] == ["carol"]
    assert reddit.requests_to("/api/v1/access_token")[0]["form"] == {
        "grant_type": "client_credentials"}
    assert not f.can_send
    with pytest.raises(DeliveryError) as err:
        await f.send(outbox("hi", "t3_x"), None)
    assert not err.value.retryable
    await f.aclose()


async def test_expired_token_is_refreshed_once_on_401(feed, reddit):
    reddit.add_post("acme", "carol", "first")
    await poll(feed, _State({}, [], {}))
    reddit.expire_tokens()
    reddit.add_post("acme", "dave", "second")
    items = await poll(feed, _State({}, [], {}))
    assert feed.tokens_fetched == 2
    assert {m.author for m in items} == {"carol", "dave"}
    statuses = [r["headers"]["Authorization"] for r in reddit.requests_to("/r/acme+AcmeHelp/new")]
    assert statuses[1] != statuses[2]  # retried with the new token


async def test_wrong_password_and_wrong_client(reddit):
    f = make(reddit, env={**ENV, "RD_PW": "nope"})
    with pytest.raises(StreamError, match="invalid_grant"):
        async for _ in f.stream(None):
            pass
    with pytest.raises(DeliveryError) as err:
        await f.send(outbox("hi", "t3_abc"), None)
    assert not err.value.retryable and "nope" not in err.value.reason
    await f.aclose()
    f = make(reddit, env={**ENV, "RD_SECRET": "bad"})
    with pytest.raises(StreamError, match="client id/secret"):
        async for _ in f.stream(None):
            pass
    await f.aclose()


# -- listings ----------------------------------------------------------------------------


async def test_posts_and_comments_become_mentions(feed, reddit):
    post = reddit.add_post("AcmeHelp", "carol", "Refund?", "Charged twice & <no> reply",
                           created=NOW - 60)
    comment = reddit.add_comment(post["name"], "dave", "Same here, third time I ask",
                                 created=NOW - 30)
    reddit.add_comment(comment["name"], "acme_support", "We're on it", created=NOW - 20)
    reddit.add_comment(post["name"], "erin", "[removed]", created=NOW - 10)
    reddit.add_post("elsewhere", "zed", "unrelated")
    items = await poll(feed, _State({}, [], {}))
    p, c = items
    assert isinstance(p, Mention) and p.platform == "reddit"
    assert p.external_id == post["name"] and p.author == "carol"
    assert p.text == "Refund?\n\nCharged twice & <no> reply"
    assert p.created_at == datetime.fromtimestamp(NOW - 60, UTC)
    assert p.url == f"https://www.reddit.com{post['permalink']}"
    assert p.in_reply_to is None and p.followers == 0 and p.source == "rd"
    assert c.external_id == comment["name"] and c.in_reply_to == post["name"]
    assert c.text == "Same here, third time I ask"
    json.dumps(p.raw)


async def test_before_anchor_pages_forward_without_loss(feed, reddit):
    for i in range(3):
        reddit.add_post("acme", "carol", f"old {i}", created=NOW - 1000 + i)
    state = _State({}, [], {})
    assert len(await poll(feed, state)) == 3
    anchor = state.before["r/acme+AcmeHelp/new"]
    for i in range(250):  # a burst bigger than one page between two polls
        reddit.add_post("acme", f"user{i}", f"new {i}", created=NOW - 500 + i)
    items = await poll(feed, state)
    assert [m.text for m in items] == [f"new {i}" for i in range(250)]
    befores = [r["query"].get("before") for r in reddit.requests_to("/r/acme+AcmeHelp/new")]
    assert befores[1] == anchor and len(befores) == 1 + 3  # 100 + 100 + 50
    assert await poll(feed, state) == []


async def test_deleted_anchor_is_detected(feed, reddit):
    reddit.add_post("acme", "carol", "will be deleted", created=NOW - 100)
    state = _State({}, [], {})
    await poll(feed, state)
    reddit.things.clear()  # the anchor disappears; Reddit then answers empty pages
    reddit.add_post("acme", "dave", "after the anchor vanished", created=NOW - 50)
    found = []
    for _ in range(5):
        found += await poll(feed, state)
    assert [m.text for m in found] == ["after the anchor vanished"]
    assert state.before["r/acme+AcmeHelp/new"] == reddit.things[0]["data"]["name"]


async def test_search_listing(reddit):
    f = make(reddit, subreddits=[], query="acme refund")
    reddit.add_post("random", "carol", "Acme refund never came")
    reddit.add_post("random", "dave", "I love cats")
    state = _State({}, [], {})
    assert [m.author for m in await poll(f, state)] == ["carol"]
    req = reddit.requests_to("/search")[0]
    assert req["query"]["q"] == "acme refund" and req["query"]["sort"] == "new"
    assert "before" not in req["query"]
    assert await poll(f, state) == []  # deduped by seen ids
    await f.aclose()


async def test_stream_cursor_and_resume(reddit):
    reddit.add_post("acme", "carol", "one", created=NOW - 10)
    f = make(reddit)
    got = []
    async for item in f.stream(None):
        got.append(item)
        if isinstance(item, Cursor):
            break
    await f.aclose()
    cursor = json.loads(got[-1].value)
    assert cursor["before"]["r/acme+AcmeHelp/new"] == reddit.things[0]["data"]["name"]
    assert cursor["seen"] == [reddit.things[0]["data"]["name"]]
    reddit.add_post("acme", "dave", "two", created=NOW - 5)
    f = make(reddit)
    got = []
    async for item in f.stream(got_cursor := json.dumps(cursor)):
        got.append(item)
        if isinstance(item, Cursor):
            break
    await f.aclose()
    assert [m.text for m in got if isinstance(m, Mention)] == ["two"]
    assert reddit.requests_to("/r/acme+AcmeHelp/new")[-1]["query"]["before"] == \
        json.loads(got_cursor)["before"]["r/acme+AcmeHelp/new"]


async def test_malformed_children_are_reported(feed, reddit):
    reddit.add_post("acme", "carol", "good")
    reddit.things.append({"kind": "t3", "data": {"name": "t3_zzz", "subreddit": "acme",
                                                 "author": "x", "created_utc": "soon",
                                                 "title": "bad", "selftext": ""}})
    items = await poll(feed, _State({}, [], {}))
    assert [type(i) for i in items] == [Malformed, Mention]
    assert "created_utc" in items[0].reason


# -- rate limits -------------------------------------------------------------------------


async def test_ratelimit_headers_are_read_and_low_remaining_slows_down(feed, reddit):
    slept: list[float] = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    feed._sleep = fake_sleep
    await poll(feed, _State({}, [], {}))
    assert feed.ratelimit == {"remaining": 598.0, "used": 2.0, "reset": 420.0}
    assert slept == []
    reddit.remaining, reddit.reset = 31.0, 300  # next answer says 30.0 left
    await poll(feed, _State({}, [], {}))
    assert feed.ratelimit["remaining"] == 29.0
    assert slept and 300 / 31 * 0.9 <= slept[0] <= 300 / 30 + 0.1  # spread over the window
    slept.clear()
    reddit.remaining, reddit.reset = 4.0, 200
    await poll(feed, _State({}, [], {}))
    assert any(190 <= s <= 200 for s in slept)  # waits for the window to reset


async def test_sending_does_not_wait_out_a_low_rate_limit(feed, reddit):
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.remaining, reddit.reset = 3.0, 240

    async def no_sleep(seconds):
        pass

    feed._sleep = no_sleep  # the listing poll would wait out the window
    await poll(feed, _State({}, [], {}))  # learns: 1.0 left, window resets in 240 s
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", post["name"]), None)
    assert err.value.retryable and 200 <= err.value.retry_after <= 240
    assert reddit.requests_to("/api/comment") == []


async def test_429_on_a_listing_is_a_stream_error_with_retry_after(feed, reddit):
    reddit.faults = [("GET", "/r/", 429, {"x-ratelimit-reset": "321",
                                          "x-ratelimit-remaining": "0.0"})]
    with pytest.raises(StreamError) as err:
        async for _ in feed.stream(None):
            pass
    assert err.value.retry_after == 321


async def test_server_error_on_a_listing_is_a_stream_error(feed, reddit):
    reddit.faults = [("GET", "/r/", 503, {})]
    with pytest.raises(StreamError, match="503"):
        async for _ in feed.stream(None):
            pass


# -- sending -----------------------------------------------------------------------------


async def test_comment_send(feed, reddit):
    post = reddit.add_post("acme", "carol", "Refund?")
    target = thing_mention({"kind": "t3", "data": post})
    delivery = await feed.send(outbox("Sorry Carol, DM us your order number.", post["name"]),
                               target)
    [req] = reddit.requests_to("/api/comment", "POST")
    assert req["form"] == {"api_type": "json", "thing_id": post["name"],
                           "text": "Sorry Carol, DM us your order number."}
    assert req["headers"]["Authorization"].startswith("bearer ")
    assert UA.match(req["headers"]["User-Agent"])
    [mine] = reddit.comments_by("acme_support")
    assert delivery.remote_id == mine["name"]
    assert delivery.remote_url == "https://www.reddit.com" + mine["permalink"]
    # without in_reply_to the target's fullname is used
    await feed.send(outbox("again", None), target)
    assert reddit.requests_to("/api/comment")[-1]["form"]["thing_id"] == post["name"]


@pytest.mark.parametrize("message,wait", [
    ("you are doing that too much. try again in 5 minutes.", 300),
    ("you are doing that too much. try again in 34 seconds.", 34),
    ("Looks like you've been doing that a lot. Take a break for 1 minute before trying again.",
     60),
])
async def test_ratelimit_inside_a_200_is_retryable(feed, reddit, message, wait):
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.comment_errors = [[["RATELIMIT", message, "ratelimit"]]]
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", post["name"]), None)
    assert err.value.retryable and err.value.retry_after == wait
    assert reddit.comments_by("acme_support") == []


async def test_other_errors_inside_a_200_are_not_retryable(feed, reddit):
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.comment_errors = [[["THREAD_LOCKED", "Comments are locked.", "parent"]]]
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", post["name"]), None)
    assert not err.value.retryable
    assert err.value.reason == "reddit refused it: THREAD_LOCKED: Comments are locked."
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", "t3_doesnotexist"), None)
    assert not err.value.retryable and "NO_THING_ID" in err.value.reason


async def test_503_on_post_is_retryable_and_the_retry_posts(feed, reddit):
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.faults = [("POST", "/api/comment", 503, {})]
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", post["name"]), None)
    assert err.value.retryable
    item = outbox("hi", post["name"], attempts=2, error=err.value.reason)
    delivery = await feed.send(item, None)  # checked our comments, found none, posted
    assert reddit.requests_to("/user/acme_support/comments")
    assert [c["name"] for c in reddit.comments_by("acme_support")] == [delivery.remote_id]


async def test_retry_after_a_timeout_finds_the_comment_instead_of_reposting(reddit):
    f = make(reddit, timeout_seconds=0.3)
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.commit_then = [CommitThen(200, delay=1.0)]  # lands, but the answer never arrives
    with pytest.raises(DeliveryError) as err:
        await f.send(outbox("We refunded you.", post["name"]), None)
    assert err.value.retryable and "outcome unknown" in err.value.reason
    retry = outbox("We refunded you.", post["name"], attempts=2, error=err.value.reason)
    delivery = await f.send(retry, None)
    [mine] = reddit.comments_by("acme_support")
    assert delivery.remote_id == mine["name"]
    assert len(reddit.requests_to("/api/comment")) == 1  # not posted twice
    await f.aclose()


async def test_retry_check_failure_does_not_risk_a_double_post(feed, reddit):
    post = reddit.add_post("acme", "carol", "Refund?")
    reddit.faults = [("GET", "/user/", 500, {})]
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", post["name"], attempts=3), None)
    assert err.value.retryable and "cannot check" in err.value.reason
    assert reddit.requests_to("/api/comment") == []


async def test_private_message(feed, reddit):
    await feed.send(outbox("Could you send us your order number?", None, kind="dm",
                           recipient="carol"), None)
    [req] = reddit.requests_to("/api/compose", "POST")
    assert req["form"]["to"] == "carol" and req["form"]["api_type"] == "json"
    assert req["form"]["text"] == "Could you send us your order number?"


async def test_a_private_message_retried_after_a_timeout_is_not_sent_twice(reddit):
    f = make(reddit, timeout_seconds=0.3)
    reddit.compose_then = [CommitThen(200, delay=1.0)]  # sent, but the answer never arrives
    first = outbox("Could you send us your order number?", None, kind="dm", recipient="Carol")
    with pytest.raises(DeliveryError) as err:
        await f.send(first, None)
    assert err.value.retryable and "outcome unknown" in err.value.reason
    retry = outbox("Could you send us your order number?", None, kind="dm", recipient="Carol",
                   attempts=2, error=err.value.reason)
    delivery = await f.send(retry, None)
    [sent] = reddit.sent
    assert delivery.remote_id == sent["data"]["name"]
    assert len(reddit.requests_to("/api/compose", "POST")) == 1  # checked, not sent again
    # a different text to the same person is a new message, and goes out
    await f.send(outbox("And your postcode, please.", None, kind="dm", recipient="carol",
                        attempts=2, error="timeout"), None)
    assert len(reddit.requests_to("/api/compose", "POST")) == 2
    await f.aclose()


async def test_a_private_message_retry_that_cannot_check_does_not_send(feed, reddit):
    reddit.faults = [("GET", "/message/sent", 500, {})]
    with pytest.raises(DeliveryError) as err:
        await feed.send(outbox("hi", None, kind="dm", recipient="carol", attempts=2), None)
    assert err.value.retryable and "cannot check" in err.value.reason
    assert reddit.requests_to("/api/compose", "POST") == []


async def test_too_long_and_empty_are_refused_before_sending(feed, reddit):
    for text in ("", "x" * 10_001):
        with pytest.raises(DeliveryError) as err:
            await feed.send(outbox(text, "t3_abc"), None)
        assert not err.value.retryable
    assert reddit.requests == []


def test_ratelimit_wait():
    assert ratelimit_wait("try again in 2 hours") == 7200
    assert ratelimit_wait("no number here") == 600


# -- the parsers never crash -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=15,
)
field_values = st.one_of(json_values, st.sampled_from(
    ["t3_abc", "t1_def", "carol", "/r/acme/comments/abc/x/", "1763805600.0", "[removed]"]))
things = st.fixed_dictionaries(
    {"kind": st.sampled_from(["t1", "t3", "t2", "more", 5])},
    optional={"data": st.dictionaries(st.sampled_from(
        ["name", "author", "created_utc", "title", "selftext", "body", "parent_id",
         "permalink"]), field_values, max_size=8)})


@settings(max_examples=300)
@given(st.one_of(things, json_values))
def test_thing_parser_never_crashes(thing):
    try:
        m = thing_mention(thing)
    except ValueError:
        return
    if m is not None:
        assert m.external_id.startswith(("t1_", "t3_")) and isinstance(m.text, str)
        json.dumps(m.raw)


@given(json_values)
def test_listing_parser_never_crashes(body):
    try:
        listing_children(body)
    except ValueError:
        pass
