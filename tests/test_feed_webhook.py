"""The webhook feed: signed Mention JSON over HTTP on 127.0.0.1 (CONTRACTS.md, Webhook)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from feeds.base import ConfigError, StreamError, adapter_class
from feeds.webhook import WebhookFeed, parse_listen, sign, verify
from store.records import Mention

SECRET = "whsec-0c8f1e2d3a4b5c6d"
SECRET_ENV = "HD_TEST_WEBHOOK_SECRET"


def mention(i: int = 1, **extra) -> dict:
    obj = {"platform": "mastodon", "id": f"10944014421364{i:04d}",
           "author": "alice@example.social", "author_name": "Alice", "followers": 1200,
           "text": "@acme my order never arrived", "created_at": "2026-11-22T10:00:00Z",
           "url": "https://example.social/@alice/1094", "in_reply_to": None, "lang": "en"}
    obj.update(extra)
    return obj


class Rig:
    """A running WebhookFeed on 127.0.0.1:0 and a consumer that collects what it yields."""

    def __init__(self, **options):
        opts = {"listen": "127.0.0.1:0", "secret_env": SECRET_ENV}
        opts.update(options)
        self.feed = WebhookFeed("inbound", opts, env={SECRET_ENV: SECRET})
        self.items: list = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Rig:
        self.task = asyncio.create_task(self._consume())
        await asyncio.wait_for(self.feed.started.wait(), 5)
        self.url = f"http://127.0.0.1:{self.feed.bound[1]}"
        self.session = aiohttp.ClientSession()
        return self

    async def _consume(self) -> None:
        async for item in self.feed.stream(None):
            self.items.append(item)
            await self.gate.wait()

    async def __aexit__(self, *exc) -> None:
        await self.session.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def post(self, body: bytes | str | object, *, signed: bool = True,
                   timestamp: str | None = None, secret: str = SECRET,
                   headers: dict | None = None) -> tuple[int, dict]:
        raw = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"}
        if signed:
            hdrs["X-Hub-Signature-256"] = sign(secret, raw, timestamp)
        if timestamp is not None:
            hdrs["X-Heatdesk-Timestamp"] = timestamp
        hdrs.update(headers or {})
        async with self.session.post(self.url + "/mentions", data=raw, headers=hdrs) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = {}
            return resp.status, answer


async def test_signed_object_is_accepted_after_it_was_handed_on():
    async with Rig() as rig:
        status, answer = await rig.post(mention())
        assert (status, answer) == (202, {"accepted": 1, "rejected": []})
        # "handed": the 202 comes only after the consumer took the mention
        (m,) = rig.items
        assert isinstance(m, Mention) and m.platform == "mastodon" and m.source == "inbound"
        assert m.external_id == "109440144213640001" and m.followers == 1200


async def test_array_with_a_bad_element_accepts_the_good_ones():
    async with Rig() as rig:
        body = [mention(1), {"platform": "x", "id": "2"}, mention(3), "nope",
                mention(5, created_at="yesterday")]
        status, answer = await rig.post(body)
        assert status == 202 and answer["accepted"] == 2
        assert [r["index"] for r in answer["rejected"]] == [1, 3, 4]
        assert "author" in answer["rejected"][0]["reason"]
        assert "ISO 8601" in answer["rejected"][2]["reason"]
        assert [m.external_id for m in rig.items] == [mention(1)["id"], mention(3)["id"]]


async def test_platform_defaults_to_webhook():
    async with Rig() as rig:
        obj = mention()
        del obj["platform"]
        status, _ = await rig.post([obj, {**mention(2), "platform": None}])
        assert status == 202
        assert [m.platform for m in rig.items] == ["webhook", "webhook"]


@pytest.mark.parametrize("body, why", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"[]", "no mentions"),
    (b'{"id": 1}', None),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
])
async def test_bad_bodies_are_400(body, why):
    async with Rig() as rig:
        status, answer = await rig.post(body)
        assert status == 400
        if why:
            assert why in json.dumps(answer)
        assert rig.items == []


async def test_unsigned_or_badly_signed_never_reaches_the_queue():
    async with Rig() as rig:
        assert (await rig.post(mention(), signed=False))[0] == 401
        assert (await rig.post(mention(), secret="not-the-secret"))[0] == 401
        raw = json.dumps(mention()).encode()
        bad = {"X-Hub-Signature-256": "sha1=" + sign(SECRET, raw)[7:]}
        assert (await rig.post(raw, signed=False, headers=bad))[0] == 401
        truncated = {"X-Hub-Signature-256": sign(SECRET, raw)[:-2]}
        assert (await rig.post(raw, signed=False, headers=truncated))[0] == 401
        nonascii = {"X-Hub-Signature-256": "sha256=é"}
        assert (await rig.post(raw, signed=False, headers=nonascii))[0] == 401
        # signed for a different body
        other = {"X-Hub-Signature-256": sign(SECRET, raw + b" ")}
        assert (await rig.post(raw, signed=False, headers=other))[0] == 401
        # even invalid JSON is refused as unsigned first (never parsed)
        status, answer = await rig.post(b"{not json", signed=False)
        assert status == 401 and "signature" in answer["error"].lower()
        assert rig.items == [] and rig.feed._queue.qsize() == 0
        assert rig.feed.stats.unauthorized == 7
        # upper-case hex is the same signature
        upper = {"X-Hub-Signature-256": "SHA256=" + sign(SECRET, raw)[7:].upper()}
        assert (await rig.post(raw, signed=False, headers=upper))[0] == 202


async def test_timestamp_window():
    async with Rig() as rig:
        now = int(time.time())
        assert (await rig.post(mention(1), timestamp=str(now)))[0] == 202
        assert (await rig.post(mention(2), timestamp=str(now - 250)))[0] == 202
        status, answer = await rig.post(mention(3), timestamp=str(now - 301))
        assert status == 401 and "300" in answer["error"]
        assert (await rig.post(mention(4), timestamp=str(now + 301)))[0] == 401
        assert (await rig.post(mention(5), timestamp="soon"))[0] == 401
        # a timestamp header with a signature over the body alone does not verify
        raw = json.dumps(mention(6)).encode()
        hdrs = {"X-Heatdesk-Timestamp": str(now), "X-Hub-Signature-256": sign(SECRET, raw)}
        assert (await rig.post(raw, signed=False, headers=hdrs))[0] == 401
        # replaying a signed body with a fresh timestamp needs a new signature
        old_sig = sign(SECRET, raw, str(now - 400))
        hdrs = {"X-Heatdesk-Timestamp": str(now), "X-Hub-Signature-256": old_sig}
        assert (await rig.post(raw, signed=False, headers=hdrs))[0] == 401
        assert [m.external_id for m in rig.items] == [mention(1)["id"], mention(2)["id"]]


async def test_too_large_by_content_length_and_while_reading():
    async with Rig(max_body=2048) as rig:
        big = json.dumps([mention(i) for i in range(30)]).encode()
        assert len(big) > 2048
        status, _ = await rig.post(big)
        assert status == 413

        async def chunks():
            for _ in range(10):
                yield b" " * 1024
        hdrs = {"X-Hub-Signature-256": "sha256=00", "Content-Type": "application/json"}
        try:
            async with rig.session.post(rig.url + "/mentions", data=chunks(), headers=hdrs) as resp:
                assert resp.status == 413
        except aiohttp.ClientError:
            pass  # the server may close before the client finished sending: also a refusal
        assert rig.feed.stats.too_large == 2
        assert (await rig.post(mention()))[0] == 202  # still serving
        assert len(rig.items) == 1


async def test_health():
    async with Rig() as rig:
        await rig.post(mention())
        async with rig.session.get(rig.url + "/health") as resp:
            assert resp.status == 200
            health = await resp.json()
        assert health["ok"] is True and health["accepted"] == 1
        assert SECRET not in json.dumps(health)
        async with rig.session.get(rig.url + "/mentions") as resp:
            assert resp.status == 405


async def test_backpressure_times_out_with_503_and_nothing_is_lost():
    async with Rig(queue_size=1, enqueue_timeout=0.3, ack="queued") as rig:
        rig.gate.clear()  # the pipeline is stuck after the first mention
        assert (await rig.post(mention(1)))[0] == 202  # taken by the consumer
        await asyncio.sleep(0.05)
        assert (await rig.post(mention(2)))[0] == 202  # waits in the queue
        status, answer = await rig.post(mention(3))  # no room: refused, not dropped
        assert status == 503 and "busy" in answer["error"]
        rig.gate.set()
        await asyncio.sleep(0.1)
        assert (await rig.post(mention(3)))[0] == 202  # the retry goes through
        await asyncio.sleep(0.1)
        assert [m.external_id[-1] for m in rig.items] == ["1", "2", "3"]


async def test_handed_mode_answers_503_when_the_pipeline_does_not_take_it():
    async with Rig(queue_size=4, enqueue_timeout=0.2) as rig:
        rig.gate.clear()
        first = asyncio.create_task(rig.post(mention(1)))
        await asyncio.sleep(0.05)
        second = await rig.post(mention(2))
        assert second[0] == 503  # waited in the queue, never taken: withdrawn
        assert (await first)[0] == 503  # taken but never confirmed: not acknowledged
        rig.gate.set()
        await asyncio.sleep(0.1)
        assert (await rig.post(mention(2)))[0] == 202
        # the withdrawn request was never handed on; the unconfirmed one was (a resend
        # of it would be a duplicate the store drops)
        assert [m.external_id[-1] for m in rig.items] == ["1", "2"]


async def test_stopping_the_stream_stops_the_server_and_refuses_waiting_requests():
    rig = Rig(queue_size=4, enqueue_timeout=5)
    async with rig:
        rig.gate.clear()
        waiting = asyncio.create_task(rig.post(mention(1)))
        await asyncio.sleep(0.1)
        url = rig.url
        rig.task.cancel()
        await asyncio.gather(rig.task, return_exceptions=True)
        status, _ = await waiting
        assert status == 503
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(url + "/health"):
                pass


async def test_config_errors_and_refusal_to_start_without_a_secret():
    with pytest.raises(ConfigError, match="secret_env"):
        WebhookFeed("w", {"listen": "127.0.0.1:0"})
    with pytest.raises(ConfigError, match="not set"):
        WebhookFeed("w", {"listen": "127.0.0.1:0", "secret_env": "NOPE"}, env={})
    with pytest.raises(ConfigError, match="listen"):
        WebhookFeed("w", {"listen": "8787", "secret_env": SECRET_ENV}, env={SECRET_ENV: SECRET})
    with pytest.raises(ConfigError, match="ack"):
        WebhookFeed("w", {"secret_env": SECRET_ENV, "ack": "never"}, env={SECRET_ENV: SECRET})
    with pytest.raises(ConfigError, match="max_body"):
        WebhookFeed("w", {"secret_env": SECRET_ENV, "max_body": 0}, env={SECRET_ENV: SECRET})
    assert parse_listen("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":8787") == (None, 8787)
    feed = WebhookFeed("w", {"secret_env": SECRET_ENV}, env={SECRET_ENV: SECRET})
    assert (feed.host, feed.port, feed.max_body) == ("127.0.0.1", 8787, 1024 * 1024)
    assert not feed.can_send and SECRET not in repr(feed)
    assert adapter_class("webhook") is WebhookFeed
    # the secret vanishing between construction and start also refuses
    env = {SECRET_ENV: SECRET}
    feed = WebhookFeed("w", {"secret_env": SECRET_ENV, "listen": "127.0.0.1:0"}, env=env)
    env.clear()
    with pytest.raises(ConfigError):
        async for _ in feed.stream(None):
            pass


async def test_port_in_use_is_a_stream_error():
    async with Rig() as rig:
        port = rig.feed.bound[1]
        other = WebhookFeed("w2", {"listen": f"127.0.0.1:{port}", "secret_env": SECRET_ENV},
                            env={SECRET_ENV: SECRET})
        with pytest.raises(StreamError, match="cannot listen"):
            async for _ in other.stream(None):
                pass


def test_verify_function():
    body = b'{"a": 1}'
    assert verify(SECRET, body, sign(SECRET, body), None) is None
    assert verify(SECRET, body, None, None) == "missing X-Hub-Signature-256"
    assert verify(SECRET, body, sign(SECRET, body, "100"), "100", now=350) is None
    assert "300" in verify(SECRET, body, sign(SECRET, body, "100"), "100", now=401)
    assert verify(SECRET, body, "sha256=" + "0" * 64, None) == "bad signature"
