"""Webhook: anyone who can sign with the shared secret can push mentions in (CONTRACTS.md).

Options (``[[feeds]]`` with ``kind = "webhook"``)
    ``listen`` (``"127.0.0.1:8787"``; ``"[::1]:8787"``, ``":8787"`` for every interface),
    ``secret_env`` (the *name* of the env var holding the shared secret; required — a
    webhook without a secret refuses to start), ``max_body`` (bytes, default 1 MiB),
    ``queue_size`` (requests waiting for the pipeline, default 256), ``enqueue_timeout``
    (seconds a request may wait for room, default 10; then 503), ``max_skew`` (300 s),
    ``ack`` (``"handed"``, the default, or ``"queued"``; see below), ``read_timeout``
    (seconds to receive the whole body, default 30; then 408 and the connection is
    closed, so a client trickling bytes cannot hold connections open for ever).

``POST /mentions``
    The body is Mention JSON: one object or an array of them. It must be signed like
    GitHub and Meta sign theirs: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw
    body)>``, compared in constant time. With ``X-Heatdesk-Timestamp: <unix seconds>`` the
    signature covers ``"<timestamp>.<raw body>"`` and a timestamp more than ``max_skew``
    seconds from now (either way) is refused. Order of checks: size (413, from
    ``Content-Length`` before reading and again while reading, the read is capped),
    signature (401), then the body (400). Nothing unsigned is parsed, queued or stored.
    ``platform`` defaults to ``"webhook"`` when absent.

    Answers: ``202 {"accepted": n, "rejected": [{"index": i, "reason": "…"}]}`` when at least
    one mention was valid (invalid elements of an array are rejected individually, the
    valid ones accepted); ``400`` (same JSON shape, or ``{"error": …}``) when the body is not
    JSON or nothing in it is valid; ``401`` bad or missing signature or stale timestamp;
    ``413`` too large; ``503`` (with ``Retry-After``) when the pipeline did not take the
    request within ``enqueue_timeout``. ``GET /health`` answers ``{"ok": true, …}``.

Acknowledgement, honestly
    A request's valid mentions go onto a bounded `asyncio.Queue` as one unit. With
    ``ack = "handed"`` (default) the 202 is sent only once ``stream`` has handed every one
    of them to its consumer (the ingest pipeline's ``put`` returned for each); with
    ``ack = "queued"`` as soon as they are on the queue. Either way a 202 does *not* mean
    "durably stored": the pipeline commits in batches shortly after, so a crash in that
    window (well under a second) loses what was acknowledged. Senders that need
    certainty should retry on any doubt — the store is unique on (platform, id), so a
    resend is harmless. On shutdown, requests still waiting get 503 rather than a 202
    for mentions that would never be stored (with ``"queued"``, mentions already
    acknowledged but not yet handed on are lost; that is why ``"handed"`` is the default).
    A request that timed out with 503 is withdrawn if the stream has not started on it.

The server runs only while ``stream`` runs and stops when it is cancelled or closed.
``stream`` never yields a `Cursor`: a webhook has nothing to resume.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from feeds.base import ConfigError, FeedAdapter, FeedItem, StreamError
from feeds.mentions import InvalidMention, mention_from_json
from store.records import Mention

log = logging.getLogger("heatdesk.feeds.webhook")

SIGNATURE_HEADER = "X-Hub-Signature-256"
TIMESTAMP_HEADER = "X-Heatdesk-Timestamp"
DEFAULT_MAX_BODY = 1024 * 1024
READ_CHUNK = 64 * 1024
ACK_MODES = ("handed", "queued")


def parse_listen(value: Any, name: str = "webhook") -> tuple[str | None, int]:
    """``"127.0.0.1:8787"`` / ``"[::1]:8787"`` / ``":8787"`` → (host or None, port)."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"webhook feed {name!r}: listen must be HOST:PORT, not {value!r}")
    text = value.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ConfigError(f"webhook feed {name!r}: listen must be [IPV6]:PORT, not {value!r}")
    else:
        host, _, port = text.rpartition(":")
    if not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"webhook feed {name!r}: bad port in listen {value!r}")
    return (host or None), int(port)


def sign(secret: str | bytes, body: bytes, timestamp: str | None = None) -> str:
    """The ``X-Hub-Signature-256`` value for ``body`` (and ``timestamp``, when sent)."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = body if timestamp is None else timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str | None, timestamp: str | None,
           *, now: float | None = None, max_skew: float = 300.0) -> str | None:
    """None when the request is authentic, else why not (one line, safe to answer)."""
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    if timestamp is not None:
        ts = timestamp.strip()
        if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
            return f"{TIMESTAMP_HEADER} must be unix seconds"
        now = time.time() if now is None else now
        if abs(now - int(ts)) > max_skew:
            return f"{TIMESTAMP_HEADER} is more than {max_skew:g} s away from now"
        timestamp = ts
    expected = sign(secret, body, timestamp).encode("ascii")
    given = signature.strip().encode("utf-8", "surrogateescape")
    # sha256=<hex>: the prefix is case-insensitive, the hex digits compare lower-case
    if given[:7].lower() == b"sha256=":
        given = b"sha256=" + given[7:].lower()
    if not hmac.compare_digest(expected, given):
        return "bad signature"
    return None


@dataclass(eq=False)
class _Ticket:
    """One request's valid mentions, waiting to be handed to the stream's consumer."""

    mentions: list[Mention]
    done: asyncio.Future
    withdrawn: bool = False
    started: bool = False


@dataclass
class _Stats:
    accepted: int = 0
    rejected: int = 0
    unauthorized: int = 0
    too_large: int = 0
    bad_body: int = 0
    busy: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class WebhookFeed(FeedAdapter):
    """Signed Mention JSON pushed over HTTP."""

    kind = "webhook"
    platform = "webhook"

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        super().__init__(name, options, env)
        opts = self.options
        self.host, self.port = parse_listen(opts.get("listen", "127.0.0.1:8787"), name)
        self.max_body = self._int("max_body", DEFAULT_MAX_BODY, 1, 1 << 30)
        self.queue_size = self._int("queue_size", 256, 1, 1_000_000)
        self.enqueue_timeout = self._float("enqueue_timeout", 10.0, 0.0, 3600.0)
        self.max_skew = self._float("max_skew", 300.0, 1.0, 86400.0)
        self.read_timeout = self._float("read_timeout", 30.0, 0.1, 3600.0)
        self.ack = str(opts.get("ack", "handed"))
        if self.ack not in ACK_MODES:
            raise ConfigError(f"webhook feed {name!r}: ack must be one of {', '.join(ACK_MODES)}")
        self._require_secret()
        self.stats = _Stats()
        self.bound: tuple[str, int] | None = None
        self.started = asyncio.Event()
        self._queue: asyncio.Queue[_Ticket] | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"WebhookFeed(name={self.name!r}, listen={self.options.get('listen')!r})"

    def _int(self, key: str, default: int, low: int, high: int) -> int:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"webhook feed {self.name!r}: {key} must be a whole number "
                              f"between {low} and {high}")
        return value

    def _float(self, key: str, default: float, low: float, high: float) -> float:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ConfigError(f"webhook feed {self.name!r}: {key} must be a number between "
                              f"{low:g} and {high:g}")
        return float(value)

    def _require_secret(self) -> str:
        var = self.options.get("secret_env")
        if not var:
            raise ConfigError(f"webhook feed {self.name!r} needs secret_env (the name of an env "
                              "var holding the signing secret); unsigned webhooks are refused")
        secret = self.secret("secret_env")
        if not secret:
            raise ConfigError(f"webhook feed {self.name!r}: the env var {var} (secret_env) is "
                              "not set; refusing to start without a signing secret")
        return secret

    # -- HTTP ------------------------------------------------------------------------------------

    def make_app(self, secret: str, queue: asyncio.Queue) -> web.Application:
        """The aiohttp application (routes ``POST /mentions`` and ``GET /health``)."""
        app = web.Application(client_max_size=self.max_body + 1)

        async def health(request: web.Request) -> web.Response:
            return web.json_response({
                "ok": True, "feed": self.name, "queued": queue.qsize(),
                "capacity": self.queue_size, "accepted": self.stats.accepted,
                "rejected": self.stats.rejected, "unauthorized": self.stats.unauthorized,
                "busy": self.stats.busy})

        async def mentions(request: web.Request) -> web.Response:
            return await self._handle(request, secret, queue)

        app.router.add_post("/mentions", mentions)
        app.router.add_get("/health", health)
        return app

    async def _read_capped(self, request: web.Request) -> bytes | None:
        """The body, or None when it is larger than ``max_body``."""
        if request.content_length is not None and request.content_length > self.max_body:
            return None
        parts, size = [], 0
        while True:
            chunk = await request.content.read(READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body:
                return None
            parts.append(chunk)
        return b"".join(parts)

    def _too_large(self) -> web.Response:
        self.stats.too_large += 1
        resp = web.json_response({"error": f"body larger than {self.max_body} bytes"},
                                 status=413)
        resp.force_close()  # do not drain an oversized body
        return resp

    async def _handle(self, request: web.Request, secret: str,
                      queue: asyncio.Queue) -> web.Response:
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await self._read_capped(request)
        except TimeoutError:
            resp = web.json_response(
                {"error": f"body not received within {self.read_timeout:g} s"}, status=408)
            resp.force_close()
            return resp
        except (ConnectionError, asyncio.IncompleteReadError):
            return web.json_response({"error": "incomplete body"}, status=400)
        if body is None:
            return self._too_large()
        why = verify(secret, body, request.headers.get(SIGNATURE_HEADER),
                     request.headers.get(TIMESTAMP_HEADER), max_skew=self.max_skew)
        if why is not None:
            self.stats.unauthorized += 1
            log.info("webhook %s: refused a request from %s: %s", self.name, request.remote, why)
            return web.json_response({"error": why}, status=401)
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return self._bad({"error": "body is not UTF-8"})
        except (ValueError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            return self._bad({"error": f"body is not JSON: {msg}"})
        elements = payload if isinstance(payload, list) else [payload]
        accepted: list[Mention] = []
        rejected: list[dict[str, Any]] = []
        for index, obj in enumerate(elements):
            try:
                if isinstance(obj, dict) and obj.get("platform") is None:
                    obj = {**obj, "platform": "webhook"}
                accepted.append(mention_from_json(obj, source=self.name))
            except InvalidMention as exc:
                rejected.append({"index": index, "reason": str(exc)})
        self.stats.rejected += len(rejected)
        if not accepted:
            answer = {"accepted": 0, "rejected": rejected}
            if not elements:
                answer["error"] = "no mentions in the body"
            return self._bad(answer)
        outcome = await self._enqueue(queue, accepted)
        if outcome is not None:
            self.stats.busy += 1
            return web.json_response({"error": outcome}, status=503,
                                     headers={"Retry-After": "5"})
        self.stats.accepted += len(accepted)
        return web.json_response({"accepted": len(accepted), "rejected": rejected}, status=202)

    def _bad(self, answer: dict) -> web.Response:
        self.stats.bad_body += 1
        return web.json_response(answer, status=400)

    async def _enqueue(self, queue: asyncio.Queue, mentions: list[Mention]) -> str | None:
        """Queue one request's mentions; None once acknowledged, else why not (→ 503)."""
        if not self._running:
            return "the feed is shutting down"
        ticket = _Ticket(mentions, asyncio.get_running_loop().create_future())
        deadline = asyncio.get_running_loop().time() + self.enqueue_timeout
        try:
            await asyncio.wait_for(queue.put(ticket), self.enqueue_timeout)
        except TimeoutError:
            return "the desk is busy (queue full); try again shortly"
        if self.ack == "queued":
            return None
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            try:
                await asyncio.wait_for(asyncio.shield(ticket.done), remaining)
            except TimeoutError:
                if not ticket.started:
                    ticket.withdrawn = True
                    return "the desk did not take the mentions in time; try again shortly"
                # The stream is handing them on right now: give it one more period, then
                # answer 503 (a resend is harmless, the store dedupes) rather than hang.
                try:
                    await asyncio.wait_for(asyncio.shield(ticket.done), self.enqueue_timeout)
                except TimeoutError:
                    return "the desk is slow to take the mentions; try again shortly"
        except asyncio.CancelledError:
            ticket.withdrawn = not ticket.started
            raise
        except Exception:  # noqa: BLE001 - the stream stopped (set by its finally)
            return "the feed stopped before the mentions were taken"
        return None

    # -- the stream ------------------------------------------------------------------------------

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        secret = self._require_secret()
        queue: asyncio.Queue[_Ticket] = asyncio.Queue(maxsize=self.queue_size)
        self._queue = queue
        current: _Ticket | None = None
        runner = web.AppRunner(self.make_app(secret, queue), access_log=None,
                               shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                raise StreamError(f"webhook {self.name}: cannot listen on "
                                  f"{self.options.get('listen', '127.0.0.1:8787')}: "
                                  f"{exc.strerror or exc}") from None
            sockets = getattr(site._server, "sockets", None) or []
            self.bound = sockets[0].getsockname()[:2] if sockets else (self.host, self.port)
            self._running = True
            self.started.set()
            log.info("webhook %s listening on %s:%s", self.name, *self.bound)
            while True:
                current = await queue.get()
                if current.withdrawn:
                    current = None
                    continue
                current.started = True
                for mention in current.mentions:
                    yield mention
                if not current.done.done():
                    current.done.set_result(None)
                current = None
        finally:
            self._running = False
            self.started.clear()
            unfinished = [current] if current is not None else []
            while not queue.empty():
                unfinished.append(queue.get_nowait())
            for pending in unfinished:
                if not pending.done.done():
                    pending.done.set_exception(StreamError("webhook stopped"))
                    pending.done.exception()  # retrieved: no "never retrieved" warning
            await runner.cleanup()
            self._queue = None
