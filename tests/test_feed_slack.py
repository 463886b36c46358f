"""Escalations to Slack-compatible incoming webhooks, against a fake on 127.0.0.1."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.base import DeliveryError
from feeds.slack import announce, escalation_text, escape_slack, one_line

SECRET_PATH = "/services/T0000/B0000/XXXXsecretXXXX"


class FakeSlack:
    """Answers like hooks.slack.com: ``ok``, or a plain-text error code per path."""

    ANSWERS = {
        SECRET_PATH: (200, "ok", {}),
        "/invalid": (400, "invalid_payload", {}),
        "/notext": (400, "no_text", {}),
        "/archived": (410, "channel_is_archived", {}),
        "/limited": (429, "rate_limited", {"Retry-After": "30"}),
        "/boom": (500, "rollup_error", {}),
        "/ok-empty": (204, "", {}),
        "/ok-json": (200, '{"ok": true}', {}),
        "/json-error": (200, '{"ok": false, "error": "invalid_blocks"}', {}),
        "/error-200": (200, "invalid_token", {}),
    }

    def __init__(self):
        self.received: list[tuple[str, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json()))
        status, body, headers = self.ANSWERS[request.path]
        return web.Response(status=status, text=body, headers=headers)

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc):
        await self.session.close()
        await self.runner.cleanup()


async def test_ok_posts_the_text_escaped():
    async with FakeSlack() as slack:
        await announce(slack.base + SECRET_PATH, "case 7 <!channel> & <https://evil|bank>",
                       slack.session)
        ((_path, body),) = slack.received
        assert body == {"text": "case 7 &lt;!channel&gt; &amp; &lt;https://evil|bank&gt;"}
        # already escaped text is not escaped twice
        await announce(slack.base + SECRET_PATH, escalation_text(7, 1, note="a & b"),
                       slack.session, escape=False)
        assert slack.received[-1][1]["text"].endswith("note: a &amp; b")


@pytest.mark.parametrize("path, code", [("/invalid", "invalid_payload"), ("/notext", "no_text"),
                                        ("/archived", "channel_is_archived"),
                                        ("/error-200", "invalid_token"),
                                        ("/json-error", "invalid_blocks")])
async def test_plain_text_errors_are_final(path, code):
    async with FakeSlack() as slack:
        with pytest.raises(DeliveryError) as err:
            await announce(slack.base + path, "hello", slack.session)
        assert not err.value.retryable and code in err.value.reason


async def test_rate_limit_and_server_errors_are_retryable():
    async with FakeSlack() as slack:
        with pytest.raises(DeliveryError) as err:
            await announce(slack.base + "/limited", "hello", slack.session)
        assert err.value.retryable and err.value.retry_after == 30
        with pytest.raises(DeliveryError) as err:
            await announce(slack.base + "/boom", "hello", slack.session)
        assert err.value.retryable and "rollup_error" in err.value.reason


async def test_compatible_success_answers():
    async with FakeSlack() as slack:
        await announce(slack.base + "/ok-empty", "hello", slack.session)
        await announce(slack.base + "/ok-json", "hello", slack.session)


async def test_empty_text_and_bad_urls_fail_before_sending_and_never_leak_the_url():
    async with FakeSlack() as slack:
        with pytest.raises(DeliveryError) as err:
            await announce(slack.base + SECRET_PATH, "  ", slack.session)
        assert not err.value.retryable and "no_text" in err.value.reason
        with pytest.raises(DeliveryError) as err:
            await announce("hooks.slack.com/services/x", "hi", slack.session)
        assert not err.value.retryable
        assert slack.received == []
        secret_url = "http://127.0.0.1:9" + SECRET_PATH  # nothing listens there
        with pytest.raises(DeliveryError) as err:
            await announce(secret_url, "hi", slack.session, timeout=2)
        assert err.value.retryable
        assert "XXXXsecretXXXX" not in err.value.reason and "127.0.0.1" not in err.value.reason


def test_escalation_text_is_one_escaped_line():
    text = escalation_text(
        42, 2, customer="mallory@evil.example", platform="mastodon",
        summary="refund NOW\n<!channel> <@U123> <https://evil.example|your bank> & more",
        heat=87.4, agent="bob", note="called twice\r\nno answer\u202e", phone=True,
        url="https://example.social/@mallory/1", brand="Acme")
    assert "\n" not in text and "\r" not in text and "\u202e" not in text
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text and "&amp; more" in text
    assert text.startswith("[Acme] Case 42 escalated to tier 2 (executive) by bob · mastodon "
                           "mallory@evil.example · heat 87 · “refund NOW")
    assert "phone call-back requested" in text and text.endswith("https://example.social/@mallory/1")
    long = escalation_text(1, 1, summary="word " * 200)
    assert "…" in long and len(long) < 250
    assert escape_slack("a&b<c>d") == "a&amp;b&lt;c&gt;d"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.text())
def test_escalation_text_never_breaks_the_line_or_carries_markup(summary, note, customer):
    text = escalation_text(1, 1, summary=summary, note=note, customer=customer, agent=note)
    assert "<" not in text and ">" not in text
    assert all(ch not in text for ch in "\n\r\x00\x1b\u2028\u2029\u202e\u2066")
    assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    json.dumps({"text": text})  # always serialisable (no lone surrogates)
    assert one_line(summary) == one_line(one_line(summary))


class FlakySlack(FakeSlack):
    """Two incoming webhooks on 127.0.0.1: /a always answers ok, /b fails ``fail_b``
    times with a 500 first. ``received`` holds the paths asked, in order."""

    def __init__(self, fail_b: int = 1):
        super().__init__()
        self.fail_b = fail_b

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(request.path)
        if request.path == "/b" and self.fail_b > 0:
            self.fail_b -= 1
            return web.Response(status=500, text="rollup_error")
        return web.Response(text="ok")


async def test_a_restarted_sender_does_not_announce_again_to_targets_that_took_it(store):
    """Target a takes the escalation, target b fails; the sender 'crashes' (a new
    OutboxSender, nothing in memory) and the retry goes to b alone."""
    from feeds.delivery import OutboxSender
    from tests.conftest import mention

    await store.ingest([mention("m1", text="Charged twice and nobody answers. Chargeback next.")])
    case_id = (await store.open_cases())[0].id
    await store.escalate(case_id, "ann", 1, "chargeback threat")
    targets = [{"tier": 1, "url_env": "HD_T_A"}, {"tier": 1, "url_env": "HD_T_B"}]
    async with FlakySlack(fail_b=1) as slack:
        env = {"HD_T_A": slack.base + "/a", "HD_T_B": slack.base + "/b"}

        def sender() -> OutboxSender:
            return OutboxSender(store, [], escalation_targets=targets, env=env)

        await sender().deliver_due()
        assert slack.received == ["/a", "/b"]
        (item,) = [i for i in await store.outbox() if i.kind == "escalation"]
        assert item.state == "pending" and item.data["announced"] == ["HD_T_A"]
        await store._write(lambda tx: tx.execute(  # the retry is due now
            "UPDATE outbox SET next_attempt_at = 0 WHERE id = ?", (item.id,)))
        await sender().deliver_due()
        assert slack.received == ["/a", "/b", "/b"]  # a heard it once
        (item,) = [i for i in await store.outbox() if i.kind == "escalation"]
        assert item.state == "delivered"
