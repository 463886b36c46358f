"""No token leaks: secret values never reach the store, the output, the logs or an error.

Secrets are named in the config only by environment variable (``token_env``,
``password_env``, ``secret_env``, ``client_id_env``/``client_secret_env``, ``url_env``);
the values here are distinctive strings, searched for (as text, and Reddit's HTTP basic
credentials also base64-encoded as they travel) in:

- the SQLite store's bytes (``desk.db``, ``-wal``, ``-shm``), hence outbox errors, timeline
  events, feed health and cursors;
- ``heatdesk export``, ``case list``/``case show``, ``doctor`` output;
- stdout/stderr of ``heatdesk ingest`` while every platform rejects the credentials (and
  echoes them back in its error bodies, as a badly behaved proxy might), and while every
  platform is unreachable;
- the text of every DeliveryError / StreamError the adapters raise, and their reprs.

A config file holding a literal secret is refused with a hint, through the CLI.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from store.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0

MASTO_TOKEN = "mastoTOKEN-zq81Xw-leakcheck"
BSKY_PASSWORD = "bskyPASS-4kd9-Rt2m-leakcheck"
REDDIT_ID = "redditID-Hn3Wq7-leakcheck"
REDDIT_SECRET = "redditSECRET-Vb5Kp1-leakcheck"
REDDIT_PASSWORD = "redditPASS-Yc8Lz6-leakcheck"
HOOK_SECRET = "hookSECRET-Ds4Jm9-leakcheck"
SLACK_PATH = "/services/T0SEC/B0SEC/slackPATH-Qe2Nv7-leakcheck"
ENV_NAMES = {"HD_SEC_MASTO": MASTO_TOKEN, "HD_SEC_BSKY": BSKY_PASSWORD,
             "HD_SEC_REDDIT_ID": REDDIT_ID, "HD_SEC_REDDIT_SECRET": REDDIT_SECRET,
             "HD_SEC_REDDIT_PW": REDDIT_PASSWORD, "HD_SEC_HOOK": HOOK_SECRET}


def forbidden(slack_url: str = "") -> list[str]:
    """Every form a secret could leak in."""
    basic = base64.b64encode(f"{REDDIT_ID}:{REDDIT_SECRET}".encode()).decode()
    out = [MASTO_TOKEN, BSKY_PASSWORD, REDDIT_ID, REDDIT_SECRET, REDDIT_PASSWORD, HOOK_SECRET,
           SLACK_PATH.rsplit("/", 1)[1], basic]
    return out + ([slack_url] if slack_url else [])


def assert_clean(text: str, where: str, slack_url: str = "") -> None:
    for secret in forbidden(slack_url):
        assert secret not in text, f"{where} holds a secret ({secret[:10]}…): {text[:3000]}"


# -- a platform that rejects everything and echoes what it was sent -------------------------


class EchoServer:
    """Answers every request with an error whose body repeats the request: headers
    (Authorization included), path, query and body. Reddit's token endpoint answers
    ``200 {"error": …}`` as Reddit does for a bad login."""

    def __init__(self, status: int = 401) -> None:
        self.status = status
        self.seen: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> EchoServer:
        async def any_request(request: web.Request) -> web.Response:
            body = (await request.read()).decode("utf-8", "replace")
            echo = (f"{request.method} {request.path_qs} auth={request.headers.get('Authorization')}"
                    f" body={body}")
            self.seen.append(echo)
            payload = {"error": echo, "message": echo, "error_description": echo,
                       "json": {"errors": [["BAD", echo, "x"]]}}
            if request.path.endswith("/api/v1/access_token"):
                return web.json_response(payload, status=200)
            return web.json_response(payload, status=self.status,
                                     headers={"WWW-Authenticate": f"Bearer error={echo[:200]!r}"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_request)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port() -> int:
    return closed_port()


# -- config: literal secrets refused ---------------------------------------------------------


LITERALS = {
    "token": (('[[feeds]]\nname = "masto"\nkind = "mastodon"\nbase_url = "https://m.example"\n'
               f'token = "{MASTO_TOKEN}"\n'), "token"),
    "password": (('[[feeds]]\nname = "sky"\nkind = "bluesky"\nhandle = "acme.example.com"\n'
                  f'password = "{BSKY_PASSWORD}"\n'), "password"),
    "secret": (('[[feeds]]\nname = "hook"\nkind = "webhook"\nlisten = "127.0.0.1:8787"\n'
                f'secret = "{HOOK_SECRET}"\n'), "secret"),
    "client_secret": (('[[feeds]]\nname = "rdt"\nkind = "reddit"\nusername = "acme"\n'
                       f'client_secret = "{REDDIT_SECRET}"\n'), "client_secret"),
    "escalation url": (('[[escalation.targets]]\ntier = 1\nkind = "slack"\n'
                        f'url = "https://hooks.slack.com{SLACK_PATH}"\n'), "url"),
    "password in a URL": (('[[feeds]]\nname = "masto"\nkind = "mastodon"\n'
                           f'base_url = "https://acme:{BSKY_PASSWORD}@m.example"\n'), "base_url"),
    "token in a query": (('[[feeds]]\nname = "rss"\nkind = "rss"\n'
                          f'url = "https://news.example/feed?x=1&access_token={MASTO_TOKEN}"\n'),
                         "url"),
}


@pytest.mark.parametrize("case", sorted(LITERALS))
def test_a_literal_secret_in_the_config_is_refused_with_a_hint(tmp_path, case):
    text, key = LITERALS[case]
    cfg = tmp_path / "heatdesk.toml"
    cfg.write_text('[desk]\nbrand = "Acme"\n\n' + text, encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("HEATDESK_CONFIG", None)
    for args, stream in ((["case", "list"], "stderr"), (["ingest", "--duration", "1"], "stderr"),
                         (["doctor"], "stdout")):
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--db", str(tmp_path / "desk.db"), "--config",
             str(cfg), *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
            check=False)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        said = getattr(done, stream)
        assert f"'{key}' holds a literal secret" in said, (args, said)
        assert f"'{key}_env'" in said and "environment variable" in said  # the hint
        assert "Traceback" not in done.stderr
        assert_clean(done.stdout + done.stderr, f"{args}")
    # the same refusal as a library call: one line, no value
    from store.config import load_config

    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "\n" not in str(err.value)
    assert_clean(str(err.value), "ConfigError")


def test_secret_keys_are_recognised_whatever_their_case_and_prefix(tmp_path):
    from store.config import parse_config

    for key in ("Token", "access_token", "api_key", "bot_token", "app_password", "PASSWORD"):
        with pytest.raises(ConfigError, match="literal secret"):
            parse_config({"feeds": [{"name": "x", "kind": "mastodon", key: "v"}]})
    # URLs are read for credentials too; a plain URL, or a user name alone, is fine
    for url in ("https://acme:hunter2@m.example", "https://m.example/feed?api_key=k",
                "https://m.example/feed?Bot_Token="):
        with pytest.raises(ConfigError, match="password or token inside the URL"):
            parse_config({"feeds": [{"name": "x", "kind": "rss", "url": url}]})
    for url in ("https://m.example", "https://acme@m.example/feed?page=2&tokenize=no",
                "http://[::1", "not a url: token=x"):
        parse_config({"feeds": [{"name": "x", "kind": "rss", "url": url}]})
    # naming the variable is how it is done, and is accepted
    parse_config({"feeds": [{"name": "x", "kind": "mastodon", "token_env": "T"}],
                  "escalation": {"targets": [{"tier": 1, "url_env": "U"}]}})


# -- adapters: reprs and every error they raise ------------------------------------------------


def adapters(base: str, ws: str, env: dict[str, str]):
    from feeds.bluesky import BlueskyFeed
    from feeds.mastodon import MastodonFeed
    from feeds.reddit import RedditFeed
    from feeds.webhook import WebhookFeed

    return [
        MastodonFeed("masto", {"base_url": base, "token_env": "HD_SEC_MASTO",
                               "request_timeout": 5, "connect_timeout": 2}, env),
        BlueskyFeed("sky", {"jetstream_url": ws + "/subscribe", "service_url": base,
                            "handle": "acme.example.com", "password_env": "HD_SEC_BSKY",
                            "watch_dids": ["did:plc:acme"], "timeout_seconds": 5}, env),
        RedditFeed("rdt", {"base_url": base, "auth_url": base, "username": "acme_support",
                           "client_id_env": "HD_SEC_REDDIT_ID",
                           "client_secret_env": "HD_SEC_REDDIT_SECRET",
                           "password_env": "HD_SEC_REDDIT_PW", "subreddits": ["acme"],
                           "timeout_seconds": 5}, env),
        WebhookFeed("hook", {"listen": f"127.0.0.1:{free_port()}", "secret_env": "HD_SEC_HOOK"},
                    env),
    ]


def outbox_item(platform: str, kind: str = "reply", in_reply_to: str | None = None, **kw):
    from datetime import UTC, datetime

    from store.records import OutboxItem

    return OutboxItem(id=1, case_id=1, event_id=1, kind=kind, platform=platform,
                      text="Sorry about that, we are on it.", idempotency_key="hd-1-1-abc",
                      not_before=datetime.now(UTC), attempts=kw.pop("attempts", 1),
                      in_reply_to=in_reply_to, recipient="cust", **kw)


def targets():
    from datetime import UTC, datetime

    from store.records import Mention

    when = datetime.now(UTC)
    return {
        "mastodon": (outbox_item("mastodon", in_reply_to="1090"), None),
        "bluesky": (outbox_item("bluesky", in_reply_to="at://did:plc:cust/app.bsky.feed.post/3kx"),
                    Mention(platform="bluesky", external_id="at://did:plc:cust/app.bsky.feed.post/3kx",
                            author="did:plc:cust", text="hi", created_at=when,
                            raw={"commit": {"cid": "bafyreia", "record": {"text": "hi"}}})),
        "reddit": (outbox_item("reddit", in_reply_to="t1_abc123"), None),
        "webhook": (outbox_item("webhook"), None),
    }


async def collect_errors(feed, item, target, stream_seconds: float = 8.0) -> list[str]:
    """The text of what ``send`` and ``stream`` raise (and what a stream yields)."""
    texts: list[str] = []
    try:
        await feed.send(item, target)
    except Exception as exc:  # noqa: BLE001 - every error's text is what we check
        texts += [str(exc), repr(exc), str(getattr(exc, "reason", ""))]
    if feed.kind == "webhook":
        return texts

    async def read() -> None:
        async for thing in feed.stream(None):
            texts.append(repr(thing))

    try:
        await asyncio.wait_for(read(), stream_seconds)
    except TimeoutError:
        texts.append("(stream still running)")
    except Exception as exc:  # noqa: BLE001
        texts += [str(exc), repr(exc), str(getattr(exc, "reason", ""))]
    return texts


@pytest.mark.parametrize("status", [401, 403, 500])
async def test_adapter_errors_and_reprs_never_carry_a_secret(status):
    server = await EchoServer(status).start()
    try:
        env = dict(ENV_NAMES)
        feeds = adapters(server.url, server.url.replace("http://", "ws://"), env)
        items = targets()
        for feed in feeds:
            assert_clean(repr(feed) + str(feed), f"repr of {feed.kind}")
            item, target = items[feed.platform]
            texts = await collect_errors(feed, item, target)
            await feed.aclose()
            assert texts, feed.kind
            for text in texts:
                assert_clean(text, f"{feed.kind} error at HTTP {status}")
        # the echo server did see the credentials: the check above is not vacuous
        seen = "\n".join(server.seen)
        assert MASTO_TOKEN in seen and BSKY_PASSWORD in seen and REDDIT_PASSWORD in seen
    finally:
        await server.close()


async def test_adapter_errors_when_the_platform_is_unreachable():
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    feeds = adapters(base, f"ws://127.0.0.1:{port}", dict(ENV_NAMES))
    items = targets()
    for feed in feeds:
        item, target = items[feed.platform]
        for text in await collect_errors(feed, item, target, stream_seconds=5.0):
            assert_clean(text, f"{feed.kind} error, unreachable")
        await feed.aclose()


async def test_slack_announce_scrubs_the_webhook_url():
    import aiohttp

    from feeds.base import DeliveryError
    from feeds.slack import announce

    server = await EchoServer(404).start()
    try:
        url = server.url + SLACK_PATH
        async with aiohttp.ClientSession() as session:
            with pytest.raises(DeliveryError) as err:
                await announce(url, "case 7 escalated", session)
        assert_clean(str(err.value) + repr(err.value), "slack error", slack_url=url)
        assert SLACK_PATH in "\n".join(server.seen)
    finally:
        await server.close()
    async with aiohttp.ClientSession() as session:  # unreachable
        url = f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"
        with pytest.raises(DeliveryError) as err:
            await announce(url, "case 7 escalated", session)
        assert_clean(str(err.value), "slack error, unreachable", slack_url=url)


def test_redact_catches_every_configured_secret_value():
    from feeds.delivery import OutboxSender
    from feeds.supervisor import redact

    feeds = adapters("http://127.0.0.1:9", "ws://127.0.0.1:9", dict(ENV_NAMES))
    slack = "https://hooks.slack.com" + SLACK_PATH
    sender = OutboxSender(None, feeds, escalation_targets=[{"tier": 1, "url_env": "HD_SEC_SLACK"}],
                          env={"HD_SEC_SLACK": slack})
    text = " ".join([*ENV_NAMES.values(), slack])
    redacted = redact(text, sender._secrets())
    for secret in [*ENV_NAMES.values(), slack]:
        assert secret not in redacted


# -- the whole process: heatdesk ingest, doctor, export ------------------------------------------


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def desk_config(base: str, hook_port: int) -> str:
    ws = base.replace("http://", "ws://")
    return f"""
[desk]
brand = "Acme Outfitters"
handles = ["acme", "acme.example.com", "acme_support"]
undo_seconds = 0

[[feeds]]
name = "masto"
kind = "mastodon"
base_url = "{base}"
token_env = "HD_SEC_MASTO"
request_timeout = 5
connect_timeout = 2

[[feeds]]
name = "sky"
kind = "bluesky"
jetstream_url = "{ws}/subscribe"
service_url = "{base}"
handle = "acme.example.com"
password_env = "HD_SEC_BSKY"
watch_dids = ["did:plc:acme"]
timeout_seconds = 5

[[feeds]]
name = "rdt"
kind = "reddit"
base_url = "{base}"
auth_url = "{base}"
username = "acme_support"
client_id_env = "HD_SEC_REDDIT_ID"
client_secret_env = "HD_SEC_REDDIT_SECRET"
password_env = "HD_SEC_REDDIT_PW"
subreddits = ["acme"]
timeout_seconds = 5

[[feeds]]
name = "hook"
kind = "webhook"
listen = "127.0.0.1:{hook_port}"
secret_env = "HD_SEC_HOOK"

[[escalation.targets]]
tier = 1
kind = "slack"
url_env = "HD_SEC_SLACK"
"""


def seed(db: Path, cfg: Path) -> None:
    """A case per platform, each with a reply queued; one escalated (announced to Slack)."""
    from datetime import UTC, datetime, timedelta

    from store import open_store
    from store.config import load_config
    from store.records import Mention

    t = datetime.now(UTC) - timedelta(minutes=5)
    mentions = [
        Mention(platform="mastodon", external_id="1090", author="cust@example.social",
                text="@acme my order never arrived", created_at=t, source="masto"),
        Mention(platform="bluesky", external_id="at://did:plc:cust/app.bsky.feed.post/3kx",
                author="did:plc:cust", text="@acme.example.com refund please", created_at=t,
                source="sky", raw={"commit": {"cid": "bafyreia", "record": {"text": "x"}}}),
        Mention(platform="reddit", external_id="t1_abc123", author="redditor",
                text="acme charged me twice", created_at=t, source="rdt"),
        Mention(platform="webhook", external_id="w1", author="webform:1",
                text="the app logs me out", created_at=t, source="hook"),
    ]
    for m in mentions:
        m.sentiment = -0.6

    async def go() -> None:
        store = await open_store(str(db), load_config(cfg))
        try:
            await store.ingest(mentions)
            for m in mentions:
                case_id = (await store.mention(m.platform, m.external_id)).case_id
                await store.reply(case_id, "alice", "Sorry about this, we are on it.")
            await store.escalate(case_id, "alice", 1, "customer threatens a chargeback")
        finally:
            await store.close()

    asyncio.run(go())


def cli(db: Path, cfg: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", "--db", str(db), "--config",
                           str(cfg), *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120, check=False)


def outbox_settled(db: Path) -> bool:
    """Every outbox row has had an attempt that ended in an error (or gave up)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM outbox WHERE error IS NULL").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.mark.parametrize("platform", ["rejecting", "unreachable"])
def test_ingest_doctor_export_and_the_store_never_hold_a_secret(tmp_path, platform):
    bg = LoopThread()
    server = bg.run(EchoServer(401).start()) if platform == "rejecting" else None
    try:
        base = server.url if server else f"http://127.0.0.1:{closed_port()}"
        slack_url = base + SLACK_PATH
        db, cfg = tmp_path / "desk.db", tmp_path / "heatdesk.toml"
        cfg.write_text(desk_config(base, free_port()), encoding="utf-8")
        env = {**os.environ, **ENV_NAMES, "HD_SEC_SLACK": slack_url, "NO_COLOR": "1"}
        env.pop("HEATDESK_CONFIG", None)
        seed(db, cfg)
        outputs: list[tuple[str, str]] = []
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--db", str(db), "--config",
                                 str(cfg), "ingest", "--duration", "120"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + WAIT
            while not outbox_settled(db) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            time.sleep(1.0)  # let the feeds fail a time or two and publish their health
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        outputs.append(("ingest", out + err))
        assert outbox_settled(db), err
        assert proc.returncode == 0, err
        for args in (["doctor"], ["export"], ["export", "--format", "csv"], ["case", "list"],
                     *(["case", "show", str(i)] for i in range(1, 5)),
                     *(["case", "show", str(i), "--json"] for i in range(1, 5))):
            done = cli(db, cfg, env, *args)
            assert "Traceback" not in done.stderr, done.stderr
            outputs.append((" ".join(args), done.stdout + done.stderr))
        for where, text in outputs:
            assert_clean(text, where, slack_url)
        exported = [json.loads(line) for line in dict(outputs)["export"].splitlines()]
        errors = [e.get("error") for c in exported for e in c["events"] if e.get("error")]
        assert len(errors) >= 4  # every reply and the escalation recorded why it failed
        for path in sorted(tmp_path.glob("desk.db*")):
            blob = path.read_bytes()
            for secret in forbidden(slack_url):
                assert secret.encode() not in blob, f"{path.name} holds {secret[:10]}…"
        conn = sqlite3.connect(db)
        health = dict(conn.execute("SELECT feed, data FROM feed_health").fetchall())
        conn.close()
        assert {"masto", "sky", "rdt"} <= set(health)
        if server is not None:  # the platform was sent the credentials and said so loudly
            seen = "\n".join(server.seen)
            assert MASTO_TOKEN in seen and REDDIT_PASSWORD in seen and BSKY_PASSWORD in seen
    finally:
        if server is not None:
            bg.run(server.close())
        bg.close()
