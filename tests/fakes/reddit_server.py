"""Fake Reddit on 127.0.0.1: OAuth token endpoint and the oauth.reddit.com calls we use.

One server plays both hosts (point ``auth_url`` and ``base_url`` at it):

* ``POST /api/v1/access_token`` — HTTP basic auth with the app's client id/secret; the
  ``password`` grant (checks username/password; a wrong one is ``200 {"error":
  "invalid_grant"}`` as on Reddit) or ``client_credentials``. Wrong client → 401.
* ``GET /r/{a+b}/new``, ``/r/{a+b}/comments``, ``/search``, ``/user/{name}/comments`` —
  Listings (``{"kind": "Listing", "data": {"children": [{"kind": "t3", "data": …}]}}``),
  newest first, honouring ``limit`` and ``before`` (the items newer than that fullname,
  the ones closest to it; an unknown anchor gives an empty page, like Reddit).
* ``POST /api/comment`` and ``/api/compose`` with ``api_type=json`` — errors inside a 200
  as ``{"json": {"errors": [[code, message, field]]}}``; ``GET /message/sent`` lists the
  private messages sent (t4 things with ``dest``, ``subject``, ``body``).

Every API answer carries ``x-ratelimit-remaining`` / ``-used`` / ``-reset`` as float
strings. Requests without a valid bearer token get 401. Faults: ``expire_tokens()``,
``faults`` (a queue of (method, path prefix, status, headers) answers), ``comment_errors``
(next /api/comment answered 200 with these errors), ``commit_then`` (next comment is
stored, then answered with a status or delayed past the client timeout), ``compose_then``
(the same for the next private message).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = BASE36[r] + out
        if n == 0:
            return out


@dataclass
class CommitThen:
    """Store the next comment, then answer with ``status`` after ``delay`` seconds."""

    status: int = 503
    delay: float = 0.0


@dataclass
class FakeReddit:
    client_id: str = "cid-123"
    client_secret: str = "secret-456"
    username: str = "acme_support"
    password: str = "hunter2"
    things: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> grant
    expired: set[str] = field(default_factory=set)
    faults: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    comment_errors: list[list[list[str]]] = field(default_factory=list)
    commit_then: list[CommitThen] = field(default_factory=list)
    compose_then: list[CommitThen] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # private messages, as t4 things
    remaining: float = 600.0
    used: int = 0
    reset: int = 420
    expires_in: int = 86400
    url: str = ""

    def __post_init__(self) -> None:
        self._ids = itertools.count(1_000_000)
        self._runner: web.AppRunner | None = None

    # -- content ------------------------------------------------------------------------

    def add_post(self, sub: str, author: str, title: str, selftext: str = "",
                 created: float | None = None) -> dict[str, Any]:
        ident = b36(next(self._ids))
        slug = "_".join(title.lower().split())[:40] or "post"
        data = {"subreddit": sub, "selftext": selftext, "author_fullname": "t2_" + b36(hash(
                author) % 10**8), "title": title, "name": f"t3_{ident}", "id": ident,
                "author": author, "created_utc": float(created or time.time()),
                "permalink": f"/r/{sub}/comments/{ident}/{slug}/",
                "url": f"https://www.reddit.com/r/{sub}/comments/{ident}/{slug}/",
                "is_self": True, "num_comments": 0, "score": 1, "over_18": False}
        self.things.append({"kind": "t3", "data": data})
        return data

    def add_comment(self, parent: str, author: str, body: str,
                    created: float | None = None) -> dict[str, Any]:
        ident = b36(next(self._ids))
        link = parent if parent.startswith("t3_") else self._thing(parent)["link_id"]
        post = self._thing(link)
        data = {"subreddit": post["subreddit"], "link_id": link, "parent_id": parent,
                "name": f"t1_{ident}", "id": ident, "author": author, "body": body,
                "created_utc": float(created or time.time()), "link_title": post["title"],
                "permalink": f"{post['permalink']}{ident}/", "score": 1}
        self.things.append({"kind": "t1", "data": data})
        return data

    def _thing(self, name: str) -> dict[str, Any]:
        return next(t["data"] for t in self.things if t["data"]["name"] == name)

    def comments_by(self, author: str) -> list[dict[str, Any]]:
        return [t["data"] for t in self.things if t["kind"] == "t1"
                and t["data"]["author"] == author]

    def expire_tokens(self) -> None:
        self.expired |= set(self.tokens)

    def requests_to(self, path: str, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests
                if r["path"] == path and (method is None or r["method"] == method)]

    # -- server -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/v1/access_token", self._token)
        app.router.add_route("*", "/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _headers(self) -> dict[str, str]:
        self.used += 1
        self.remaining = max(0.0, self.remaining - 1)
        return {"x-ratelimit-remaining": f"{self.remaining:.1f}",
                "x-ratelimit-used": str(self.used), "x-ratelimit-reset": str(self.reset)}

    async def _record(self, request: web.Request) -> dict[str, Any]:
        form = dict(await request.post()) if request.method == "POST" else {}
        entry = {"method": request.method, "path": request.path, "query": dict(request.query),
                 "headers": dict(request.headers), "form": form}
        self.requests.append(entry)
        return entry

    async def _token(self, request: web.Request) -> web.Response:
        entry = await self._record(request)
        auth = request.headers.get("Authorization", "")
        try:
            cid, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            cid = secret = ""
        if (cid, secret) != (self.client_id, self.client_secret):
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        form = entry["form"]
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return web.json_response({"error": "invalid_grant"})
        elif grant != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"})
        token = f"tok-{next(self._ids)}"
        self.tokens[token] = grant
        return web.json_response({"access_token": token, "token_type": "bearer",
                                  "expires_in": self.expires_in, "scope": "*"})

    def _listing(self, things: list[dict[str, Any]], query) -> dict[str, Any]:
        newest_first = list(reversed(things))
        limit = min(int(query.get("limit", 25)), 100)
        before = query.get("before")
        if before:
            names = [t["data"]["name"] for t in newest_first]
            if before not in names:
                page: list[dict[str, Any]] = []
            else:
                newer = newest_first[: names.index(before)]
                page = newer[-limit:]
        else:
            page = newest_first[:limit]
        return {"kind": "Listing", "data": {
            "after": page[-1]["data"]["name"] if len(page) == limit else None,
            "dist": len(page), "modhash": "", "geo_filter": "", "children": page,
            "before": None}}

    async def _api(self, request: web.Request) -> web.Response:
        entry = await self._record(request)
        path = request.path
        for i, (method, prefix, status, headers) in enumerate(self.faults):
            if method == request.method and path.startswith(prefix):
                del self.faults[i]
                return web.json_response({"message": "fault", "error": status}, status=status,
                                         headers={**self._headers(), **headers})
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if token not in self.tokens or token in self.expired:
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401,
                                     headers=self._headers())
        headers = self._headers()
        q = request.query
        parts = path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 3 and parts[0] == "r" \
                and parts[2] in ("new", "comments"):
            subs = set(parts[1].lower().split("+"))
            kind = "t3" if parts[2] == "new" else "t1"
            things = [t for t in self.things if t["kind"] == kind
                      and t["data"]["subreddit"].lower() in subs]
            return web.json_response(self._listing(things, q), headers=headers)
        if request.method == "GET" and path == "/search":
            words = q.get("q", "").lower().split()
            things = [t for t in self.things if t["kind"] == "t3" and all(
                w in (t["data"]["title"] + " " + t["data"]["selftext"]).lower() for w in words)]
            return web.json_response(self._listing(things, q), headers=headers)
        if request.method == "GET" and len(parts) == 3 and parts[0] == "user" \
                and parts[2] == "comments":
            things = [t for t in self.things if t["kind"] == "t1"
                      and t["data"]["author"] == parts[1]]
            return web.json_response(self._listing(things, q), headers=headers)
        if request.method == "POST" and path == "/api/comment":
            return await self._comment(entry["form"], headers)
        if request.method == "GET" and path == "/message/sent":
            return web.json_response(self._listing(self.sent, q), headers=headers)
        if request.method == "POST" and path == "/api/compose":
            return await self._compose(entry["form"], headers)
        return web.json_response({"message": "Not Found", "error": 404}, status=404,
                                 headers=headers)

    async def _compose(self, form: dict[str, Any], headers: dict[str, str]) -> web.Response:
        ident = b36(next(self._ids))
        self.sent.append({"kind": "t4", "data": {
            "name": f"t4_{ident}", "id": ident, "author": self.username,
            "dest": str(form.get("to", "")), "subject": str(form.get("subject", "")),
            "body": str(form.get("text", "")), "created_utc": time.time(), "new": False}})
        if self.compose_then:  # sent, but the answer is a fault or never comes in time
            fault = self.compose_then.pop(0)
            await asyncio.sleep(fault.delay)
            return web.json_response({"message": "fault", "error": fault.status},
                                     status=fault.status, headers=headers)
        return web.json_response({"json": {"errors": [], "data": {}}}, headers=headers)

    async def _comment(self, form: dict[str, Any], headers: dict[str, str]) -> web.Response:
        if form.get("api_type") != "json":
            return web.Response(text='{"jquery": []}', headers=headers)
        if self.comment_errors:
            errors = self.comment_errors.pop(0)
            return web.json_response({"json": {"errors": errors}}, headers=headers)
        parent = str(form.get("thing_id", ""))
        if not any(t["data"]["name"] == parent for t in self.things):
            return web.json_response({"json": {"errors": [
                ["NO_THING_ID", "that thing doesn't exist", "parent"]]}}, headers=headers)
        if not str(form.get("text", "")).strip():
            return web.json_response({"json": {"errors": [
                ["NO_TEXT", "we need something here", "text"]]}}, headers=headers)
        data = self.add_comment(parent, self.username, str(form["text"]))
        if self.commit_then:
            fault = self.commit_then.pop(0)
            await asyncio.sleep(fault.delay)
            return web.json_response({"message": "fault", "error": fault.status},
                                     status=fault.status, headers=headers)
        return web.json_response({"json": {"errors": [], "data": {"things": [
            {"kind": "t1", "data": data}]}}}, headers=headers)
