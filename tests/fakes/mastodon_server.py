"""Fake Mastodon on 127.0.0.1: the streaming API (SSE) and the REST calls the adapter makes.

Wire format as recorded from Mastodon 4.6 (tests/fixtures/mastodon/): the stream opens with
the ``:)`` greeting, heartbeats are ``:thump`` comment lines *without* a blank line after
them, and each event is ``event: NAME`` + ``data: JSON`` + a blank line (``delete`` carries
the bare status id). Status, Account and Notification entities carry the recorded fields.

REST: ``GET /api/v1/notifications`` (``types[]``, ``exclude_types[]``, ``min_id``,
``max_id``, ``since_id``, ``limit`` ≤ 80, newest first, ``Link`` rel="next"/"prev" exactly
as Mastodon builds them, none on an empty page), ``GET /api/v1/timelines/tag/:tag``,
``GET /api/v2/instance`` (advertising this server as the streaming URL), and
``POST /api/v1/statuses`` (JSON or form) honouring ``Idempotency-Key``: the same key from
the same token returns the status it created the first time, never a second one. Every POST
is recorded in `posts`; statuses created by POST are listed in `created`.

Faults: `fail` (answer the next N matching requests with a status, optionally *after*
committing the POST, "response lost"), `rate_limit` (429 with ``Retry-After`` and/or an ISO
``X-RateLimit-Reset``), `drop_streams` (abrupt or clean), `push_raw` (any bytes, e.g. a
malformed frame), ``duplicate_notifications`` (every notification streamed twice), and
``heartbeat = None`` (a silent stream, for idle timeouts), ``post_delay`` (a slow POST).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

DROP = object()
END = object()


def _iso(when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _key(value: str) -> tuple[int, str]:
    return (len(value), value)


@dataclass
class Fault:
    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1
    after_create: bool = False


@dataclass
class _Sub:
    stream: str
    queue: asyncio.Queue
    request: web.Request


class FakeMastodon:
    """A Mastodon server for one test. ``async with FakeMastodon() as fake: fake.base_url``."""

    def __init__(self, *, token: str = "fake-token-7f3a9c2e51", domain: str = "mastodon.example",
                 me: str = "acme", heartbeat: float | None = 0.05, greeting: bool = True,
                 advertise_streaming: bool = True, max_chars: int = 500):
        self.token = token
        self.domain = domain
        self.heartbeat = heartbeat
        self.greeting = greeting
        self.advertise_streaming = advertise_streaming
        self.max_chars = max_chars
        self.duplicate_notifications = False
        self.post_delay = 0.0
        self.accounts: dict[str, dict] = {}
        self.statuses: dict[str, dict] = {}
        self.notifications: list[dict] = []
        self.posts: list[dict] = []
        self.created: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.stream_connects = 0
        self._idem: dict[tuple[str, str], str] = {}
        self._subs: list[_Sub] = []
        self._status_ids = itertools.count(117024236000000000, 1013)
        self._account_ids = itertools.count(117020617000000000, 7919)
        self._note_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.me = self.account(me, "Acme Outfitters", followers=5200)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> FakeMastodon:
        app = web.Application()
        app.router.add_get("/api/v1/streaming/health", self._health)
        app.router.add_get("/api/v1/streaming/user", self._stream_user)
        app.router.add_get("/api/v1/streaming/user/notification", self._stream_user_notification)
        app.router.add_get("/api/v1/streaming/hashtag", self._stream_hashtag)
        app.router.add_get("/api/v1/streaming/hashtag/local", self._stream_hashtag_local)
        app.router.add_get("/api/v1/notifications", self._notifications)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self._tag_timeline)
        app.router.add_get("/api/v2/instance", self._instance)
        app.router.add_post("/api/v1/statuses", self._post_status)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self.drop_streams(clean=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeMastodon:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- entities (shaped after the recorded traffic) -----------------------------------------------

    def account(self, acct: str, display_name: str = "", *, followers: int = 0) -> dict:
        """The Account entity for ``acct`` (created on first use)."""
        if acct in self.accounts:
            return self.accounts[acct]
        username = acct.split("@")[0]
        local = "@" not in acct
        host = self.domain if local else acct.split("@", 1)[1]
        account_id = str(next(self._account_ids))
        url = f"https://{host}/@{username}"
        data = {
            "id": account_id, "username": username, "acct": acct, "display_name": display_name,
            "locked": False, "bot": False, "discoverable": True, "indexable": False,
            "group": False, "created_at": "2026-08-01T00:00:00.000Z", "note": "",
            "url": url, "uri": f"https://{host}/users/{username}",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "avatar_static": f"https://{self.domain}/avatars/original/missing.png",
            "header": f"https://{self.domain}/headers/original/missing.png",
            "header_static": f"https://{self.domain}/headers/original/missing.png",
            "followers_count": followers, "following_count": 0, "statuses_count": 0,
            "last_status_at": None, "hide_collections": None, "noindex": False,
            "emojis": [], "roles": [], "fields": [],
        }
        self.accounts[acct] = data
        return data

    def _content(self, text: str, mentions: list[dict], tags: tuple[str, ...]) -> str:
        head = "".join(
            f'<span class="h-card" translate="no"><a href="{html.escape(m["url"])}" '
            f'class="u-url mention">@<span>{html.escape(m["username"])}</span></a></span> '
            for m in mentions)
        paragraphs = []
        for i, para in enumerate(text.split("\n\n")):
            body = "<br />".join(html.escape(line) for line in para.split("\n"))
            paragraphs.append(f"<p>{head if i == 0 else ''}{body}</p>")
        if tags:
            links = " ".join(
                f'<a href="https://{self.domain}/tags/{t}" class="mention hashtag" rel="tag">'
                f"#<span>{html.escape(t)}</span></a>" for t in tags)
            paragraphs.append(f"<p>{links}</p>")
        return "".join(paragraphs)

    def status(self, acct: str, text: str, *, mention_me: bool = False,
               in_reply_to: str | None = None, lang: str | None = "en",
               visibility: str = "public", tags: tuple[str, ...] = (),
               display_name: str = "", followers: int = 0, spoiler: str = "") -> dict:
        """A new Status by ``acct`` (stored, not published)."""
        account = self.account(acct, display_name, followers=followers)
        account["statuses_count"] += 1
        account["last_status_at"] = _iso()[:10]
        mentions = []
        if mention_me:
            mentions.append({"id": self.me["id"], "username": self.me["username"],
                             "url": self.me["url"], "acct": self.me["acct"]})
        status_id = str(next(self._status_ids))
        username = account["username"]
        host = self.domain if "@" not in acct else acct.split("@", 1)[1]
        parent = self.statuses.get(in_reply_to) if in_reply_to else None
        data = {
            "id": status_id, "created_at": _iso(),
            "in_reply_to_id": in_reply_to,
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "sensitive": bool(spoiler), "spoiler_text": spoiler, "visibility": visibility,
            "language": lang,
            "uri": f"https://{host}/users/{username}/statuses/{status_id}",
            "url": f"https://{host}/@{username}/{status_id}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0,
            "edited_at": None, "favourited": False, "reblogged": False, "muted": False,
            "bookmarked": False,
            "content": self._content(text, mentions, tags),
            "filtered": [], "reblog": None,
            "application": {"name": "Web", "website": None},
            "account": account, "media_attachments": [], "mentions": mentions,
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in tags],
            "emojis": [], "card": None, "poll": None, "quote": None,
        }
        self.statuses[status_id] = data
        return data

    def _notify(self, kind: str, account: dict, status: dict | None) -> dict:
        note = {"id": str(next(self._note_ids)), "type": kind, "created_at": _iso(),
                "group_key": "", "account": account, "status": status}
        note["group_key"] = f"ungrouped-{note['id']}"
        self.notifications.append(note)
        self._publish(("user", "user:notification"), "notification", json.dumps(note),
                      repeat=2 if self.duplicate_notifications else 1)
        return note

    def mention(self, acct: str, text: str, **kw: Any) -> dict:
        """``acct`` mentions us: the status, a ``mention`` notification, streamed live."""
        status = self.status(acct, text, mention_me=True, **kw)
        return self._notify("mention", status["account"], status)

    def favourite(self, acct: str, status_id: str | None = None) -> dict:
        """``acct`` favourites one of our statuses (a notification that is not a mention)."""
        status = self.statuses.get(status_id) if status_id else None
        if status is None:
            status = self.status(self.me["acct"], "We're here to help.")
        return self._notify("favourite", self.account(acct), status)

    def tagged(self, acct: str, text: str, tag: str, **kw: Any) -> dict:
        """A public status with ``#tag``: an ``update`` on that hashtag's streams."""
        status = self.status(acct, text, tags=(tag,), **kw)
        streams = [f"hashtag:{tag}"] + ([f"hashtag:{tag}:local"] if "@" not in acct else [])
        self._publish(streams, "update", json.dumps(status))
        return status

    def home_update(self, acct: str, text: str) -> dict:
        """A status in our home timeline (``update`` on the user stream; not a mention)."""
        status = self.status(acct, text)
        self._publish(("user",), "update", json.dumps(status))
        return status

    def edit(self, status_id: str, text: str) -> dict:
        """Edit a status: ``status.update`` on the hashtag and user streams."""
        status = self.statuses[status_id]
        tags = tuple(t["name"] for t in status["tags"])
        status["content"] = self._content(text, status["mentions"], tags)
        status["edited_at"] = _iso()
        streams = ["user"] + [f"hashtag:{t}" for t in tags] + [f"hashtag:{t}:local" for t in tags]
        self._publish(streams, "status.update", json.dumps(status))
        return status

    def delete(self, status_id: str) -> None:
        """Delete a status: ``delete`` with the bare id on every stream."""
        self.statuses.pop(status_id, None)
        self.notifications = [n for n in self.notifications
                              if not n.get("status") or n["status"]["id"] != status_id]
        self._publish(None, "delete", status_id)

    # -- streaming ----------------------------------------------------------------------------------

    def _publish(self, streams, event: str, data: str, repeat: int = 1) -> None:
        frame = f"event: {event}\ndata: {data}\n\n"
        for sub in list(self._subs):
            if streams is None or sub.stream in streams:
                for _ in range(repeat):
                    sub.queue.put_nowait(frame)

    def push_raw(self, frame: str | bytes, streams: tuple[str, ...] | None = None) -> None:
        """Send ``frame`` as it is (e.g. a malformed event) on the given (or every) stream."""
        for sub in list(self._subs):
            if streams is None or sub.stream in streams:
                sub.queue.put_nowait(frame)

    def drop_streams(self, clean: bool = False) -> None:
        """End every open stream: abruptly (connection reset mid-body) or cleanly."""
        for sub in list(self._subs):
            sub.queue.put_nowait(END if clean else DROP)

    @property
    def subscribers(self) -> list[str]:
        return [s.stream for s in self._subs]

    async def wait_subscribers(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self._subs) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self._subs)} stream(s) subscribed")
            await asyncio.sleep(0.01)

    async def _stream(self, request: web.Request, stream: str) -> web.StreamResponse:
        denied = self._check(request)
        if denied is not None:
            return denied
        self.stream_connects += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "private, no-store",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        if self.greeting:
            await resp.write(b":)\n")
        sub = _Sub(stream, asyncio.Queue(), request)
        self._subs.append(sub)
        try:
            while True:
                try:
                    msg = await asyncio.wait_for(sub.queue.get(), self.heartbeat or 3600)
                except TimeoutError:
                    if self.heartbeat:
                        await resp.write(b":thump\n")
                    continue
                if msg is END:
                    await resp.write_eof()
                    return resp
                if msg is DROP:
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                await resp.write(msg if isinstance(msg, bytes) else msg.encode())
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            return resp
        finally:
            if sub in self._subs:
                self._subs.remove(sub)

    async def _stream_user(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "user")

    async def _stream_user_notification(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "user:notification")

    async def _stream_hashtag(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, f"hashtag:{request.query.get('tag', '')}")

    async def _stream_hashtag_local(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, f"hashtag:{request.query.get('tag', '')}:local")

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    # -- REST -----------------------------------------------------------------------------------------

    def fail(self, method: str, path: str, status: int, *, headers: dict | None = None,
             body: Any = None, times: int = 1, after_create: bool = False) -> None:
        """Answer the next ``times`` requests to ``method path`` with ``status``."""
        self.faults.append(Fault(method.upper(), path, status, dict(headers or {}), body, times,
                                 after_create))

    def rate_limit(self, method: str, path: str, *, retry_after: str | None = "7",
                   reset: datetime | None = None, times: int = 1) -> None:
        """429 with ``Retry-After`` and/or Mastodon's ISO 8601 ``X-RateLimit-Reset``."""
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if reset is not None:
            headers["X-RateLimit-Reset"] = _iso(reset)
        self.fail(method, path, 429, headers=headers, body={"error": "Too many requests"},
                  times=times)

    def _fault(self, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and request.path.startswith(fault.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: Fault) -> web.Response:
        body = fault.body if fault.body is not None else {
            "error": "There was a temporary problem serving your request, please try again"}
        text = body if isinstance(body, str) else json.dumps(body)
        ctype = "text/plain" if isinstance(body, str) else "application/json"
        return web.Response(status=fault.status, text=text, content_type=ctype,
                            headers=fault.headers)

    def _rate_headers(self) -> dict[str, str]:
        reset = datetime.now(UTC) + timedelta(minutes=5)
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                "X-RateLimit-Reset": _iso(reset)}

    def _check(self, request: web.Request, fault_ok: bool = True) -> web.Response | None:
        self.requests.append((request.method, request.path_qs))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        if fault_ok:
            fault = self._fault(request)
            if fault is not None and not fault.after_create:
                return self._fault_response(fault)
        return None

    def _page(self, request: web.Request, entries: list[dict], extra: list[tuple[str, str]]):
        """Mastodon's paging over ``entries`` (any order): (page newest first, Link header)."""
        q = request.query
        try:
            limit = max(1, min(int(q.get("limit", "40")), 80))
        except ValueError:
            limit = 40
        ordered = sorted(entries, key=lambda e: _key(e["id"]))
        max_id, since_id, min_id = q.get("max_id"), q.get("since_id"), q.get("min_id")
        if max_id:
            ordered = [e for e in ordered if _key(e["id"]) < _key(max_id)]
        if since_id:
            ordered = [e for e in ordered if _key(e["id"]) > _key(since_id)]
        if min_id:
            ordered = [e for e in ordered if _key(e["id"]) > _key(min_id)]
            page = list(reversed(ordered[:limit]))  # immediately newer, newest first
        else:
            page = list(reversed(ordered[-limit:]))  # the newest, newest first
        if not page:
            return page, None
        keep = [("limit", q["limit"])] if "limit" in q else []
        keep += extra
        base = f"{request.scheme}://{request.host}{request.path}"
        nxt = base + "?" + urlencode(keep + [("max_id", page[-1]["id"])])
        prev = base + "?" + urlencode(keep + [("min_id", page[0]["id"])])
        return page, f'<{nxt}>; rel="next", <{prev}>; rel="prev"'

    async def _notifications(self, request: web.Request) -> web.Response:
        denied = self._check(request)
        if denied is not None:
            return denied
        types = request.query.getall("types[]", [])
        exclude = request.query.getall("exclude_types[]", [])
        entries = [n for n in self.notifications if (not types or n["type"] in types)
                   and n["type"] not in exclude]
        extra = [("types[]", t) for t in types] + [("exclude_types[]", t) for t in exclude]
        page, link = self._page(request, entries, extra)
        headers = self._rate_headers()
        if link:
            headers["Link"] = link
        return web.json_response(page, headers=headers)

    async def _tag_timeline(self, request: web.Request) -> web.Response:
        denied = self._check(request)
        if denied is not None:
            return denied
        tag = request.match_info["tag"].lower()
        local = request.query.get("local") == "true"
        entries = [s for s in self.statuses.values() if any(t["name"].lower() == tag
                                                            for t in s["tags"])
                   and (not local or "@" not in s["account"]["acct"])]
        page, link = self._page(request, entries, [("local", "true")] if local else [])
        headers = self._rate_headers()
        if link:
            headers["Link"] = link
        return web.json_response(page, headers=headers)

    async def _instance(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs))
        urls = {"streaming": f"ws://127.0.0.1:{self.port}"} if self.advertise_streaming else {}
        return web.json_response({
            "domain": self.domain, "title": "Fake Mastodon", "version": "4.6.4",
            "source_url": "https://github.com/mastodon/mastodon",
            "configuration": {"urls": urls, "statuses": {"max_characters": self.max_chars}},
        })

    async def _post_status(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs))
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        ctype = request.content_type
        if ctype == "application/json":
            try:
                form = await request.json()
            except ValueError:
                return web.json_response({"error": "Invalid JSON"}, status=400)
        else:
            form = dict(await request.post())
        key = request.headers.get("Idempotency-Key")
        record = {"headers": dict(request.headers), "form": form, "idempotency_key": key,
                  "answer": None, "status_id": None}
        self.posts.append(record)
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            record["answer"] = 401
            return web.json_response({"error": "The access token is invalid"}, status=401)
        fault = self._fault(request)
        if fault is not None and not fault.after_create:
            record["answer"] = fault.status
            return self._fault_response(fault)
        if key and (auth, key) in self._idem and self._idem[(auth, key)] in self.statuses:
            status = self.statuses[self._idem[(auth, key)]]
        else:
            text = str(form.get("status") or "")
            if not text.strip():
                record["answer"] = 422
                return web.json_response({"error": "Validation failed: Text can't be blank"},
                                         status=422)
            if len(text) > self.max_chars:
                record["answer"] = 422
                return web.json_response(
                    {"error": f"Validation failed: Text character limit of {self.max_chars} "
                              "exceeded"}, status=422)
            reply_to = form.get("in_reply_to_id") or None
            if reply_to and reply_to not in self.statuses:
                record["answer"] = 404
                return web.json_response({"error": "Record not found"}, status=404)
            status = self.status(self.me["acct"], text, in_reply_to=reply_to,
                                 visibility=str(form.get("visibility") or "public"), lang=None)
            self.created.append(status["id"])
            if key:
                self._idem[(auth, key)] = status["id"]
        record["status_id"] = status["id"]
        if fault is not None:  # committed, but the answer is lost
            record["answer"] = fault.status
            return self._fault_response(fault)
        record["answer"] = 200
        return web.json_response(status, headers=self._rate_headers())
