"""Fake Bluesky on 127.0.0.1: a Jetstream v1 websocket and a PDS speaking XRPC.

`FakeJetstream` serves ``/subscribe`` exactly as Jetstream v1 does: one JSON text frame per
event, shaped like the recorded production events in tests/fixtures/jetstream/ (compact
JSON, record keys sorted as Go encodes maps). It honours ``wantedCollections`` (with the
``prefix.*`` wildcard), ``wantedDids`` and ``cursor`` (replay of every event whose
``time_us`` is at or after the cursor, in script order); identity and account events pass
every collection filter, as upstream. Without a cursor it plays its whole script as if it
arrived live, then follows `push`. Faults: drop the connection after N frames (abrupt, no
close frame, or a clean close), send every event twice, refuse the handshake (429/503),
and raw string frames in the script are sent as they are (malformed input).

`FakePds` implements the XRPC calls the adapter makes: createSession, refreshSession,
createRecord, getRecord and resolveHandle, with ``ratelimit-*`` headers. Faults: expire
the current access (and refresh) tokens, answer the next createRecord with a status (429,
503, ...) optionally after committing it ("outcome unknown"), and answer a duplicate
record key the way today's PDS does (500 InternalServerError) or with a chosen error.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

POST = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


# -- event builders (the recorded wire shape) --------------------------------------------


def fake_cid(seed: str) -> str:
    """A CIDv1-looking string ("bafyrei" + base32), 59 characters like real ones."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode().lower().rstrip("=")
    return ("bafyrei" + digest + "abcdefghijklmnopqrstuvwxyz")[:59]


def tid(micros: int, clock: int = 0) -> str:
    value = (micros << 10) | (clock & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 0x1F] for i in reversed(range(13)))


def _iso_ms(micros: int) -> str:
    secs, us = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{us // 1000:03d}Z"


def post_event(did: str, time_us: int, text: str, *, rkey: str | None = None,
               created_us: int | None = None, langs: list[str] | None = None,
               reply: dict | None = None, facets: list | None = None,
               embed: dict | None = None, cid: str | None = None) -> dict:
    """A Jetstream ``commit`` create of an app.bsky.feed.post, as production sends it."""
    rkey = rkey or tid(time_us - 1500, 7)
    record: dict[str, Any] = {"$type": POST, "createdAt": _iso_ms(created_us or time_us - 1500)}
    if embed is not None:
        record["embed"] = embed
    if facets is not None:
        record["facets"] = facets
    record["langs"] = ["en"] if langs is None else langs
    if reply is not None:
        record["reply"] = reply
    record["text"] = text
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": tid(time_us, 3),
            "operation": "create",
            "collection": POST,
            "rkey": rkey,
            "record": record,
            "cid": cid or fake_cid(f"{did}/{rkey}"),
        },
    }


def mention_facet(text: str, handle: str, did: str) -> dict:
    """A mention facet for ``@handle`` inside ``text`` (byte offsets)."""
    token = "@" + handle
    start = len(text[: text.index(token)].encode())
    return {"features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            "index": {"byteEnd": start + len(token.encode()), "byteStart": start}}


def strong_ref(event: dict) -> dict:
    """{cid, uri} of a post event, as a reply ref."""
    c = event["commit"]
    return {"cid": c["cid"], "uri": f"at://{event['did']}/{c['collection']}/{c['rkey']}"}


def delete_event(did: str, time_us: int, rkey: str, collection: str = POST) -> dict:
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": tid(time_us, 3), "operation": "delete", "collection": collection,
                       "rkey": rkey}}


def like_event(did: str, time_us: int, subject: dict) -> dict:
    rkey = tid(time_us - 900, 2)
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": tid(time_us, 3), "operation": "create",
                       "collection": "app.bsky.feed.like", "rkey": rkey,
                       "record": {"$type": "app.bsky.feed.like",
                                  "createdAt": _iso_ms(time_us - 900), "subject": subject},
                       "cid": fake_cid(f"{did}/like/{rkey}")}}


def identity_event(did: str, time_us: int, seq: int = 1) -> dict:
    return {"did": did, "time_us": time_us, "kind": "identity",
            "identity": {"did": did, "seq": seq, "time": _iso_ms(time_us - 500)}}


def account_event(did: str, time_us: int, seq: int = 2) -> dict:
    return {"did": did, "time_us": time_us, "kind": "account",
            "account": {"active": True, "did": did, "seq": seq, "time": _iso_ms(time_us - 500)}}


def encode(event: dict | str) -> str:
    """One frame's text: compact JSON like Jetstream's Go encoder (raw strings as given)."""
    if isinstance(event, str):
        return event
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


# -- Jetstream ---------------------------------------------------------------------------


class FakeJetstream:
    """A Jetstream v1 ``/subscribe`` endpoint with a script of events and faults."""

    def __init__(self, script: list[dict | str] | None = None):
        self.script: list[dict | str] = list(script or [])
        self.connections: list[dict[str, list[str]]] = []
        self.drops: list[int | None] = []  # per connection: frames to send before dropping
        self.drop_clean = False  # drop with a close frame instead of an abort
        self.duplicate = False  # every event twice
        self.reject: list[tuple[int, dict[str, str]]] = []  # next handshakes refused
        self.frames_sent = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/subscribe", self._subscribe)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/subscribe"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(self, *events: dict | str) -> None:
        """Append live events; open connections send them."""
        async with self._changed:
            self.script.extend(events)
            self._changed.notify_all()

    @staticmethod
    def _passes(event: dict | str, cursor: int | None, collections: list[str],
                dids: list[str]) -> bool:
        if isinstance(event, str):
            return True
        if cursor is not None and int(event.get("time_us", 0)) < cursor:
            return False
        if dids and event.get("did") not in dids:
            return False
        if collections and event.get("kind") == "commit":
            coll = str(event.get("commit", {}).get("collection", ""))
            if not any(coll == c or (c.endswith(".*") and coll.startswith(c[:-1]))
                       for c in collections):
                return False
        return True

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        query = {k: request.query.getall(k) for k in request.query}
        self.connections.append(query)
        if self.reject:
            status, headers = self.reject.pop(0)
            return web.json_response({"error": "refused"}, status=status, headers=headers)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        collections = query.get("wantedCollections", [])
        dids = query.get("wantedDids", [])
        drop = self.drops.pop(0) if self.drops else None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        reader = asyncio.create_task(self._drain(ws))
        sent = 0
        index = 0

        async def hang_up() -> web.WebSocketResponse:
            if self.drop_clean:
                await ws.close()
            else:
                request.transport.abort()  # type: ignore[union-attr]
            return ws

        try:
            if drop == 0:
                return await hang_up()
            while not ws.closed:
                while index < len(self.script):
                    event = self.script[index]
                    index += 1
                    if not self._passes(event, cursor, collections, dids):
                        continue
                    for _ in range(2 if self.duplicate and not isinstance(event, str) else 1):
                        await ws.send_str(encode(event))
                        sent += 1
                        self.frames_sent += 1
                        if drop is not None and sent >= drop:
                            await asyncio.sleep(0.01)  # let the frame leave first
                            return await hang_up()
                async with self._changed:
                    if index >= len(self.script):
                        try:
                            await asyncio.wait_for(self._changed.wait(), 0.1)
                        except TimeoutError:
                            pass
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            reader.cancel()
        return ws

    @staticmethod
    async def _drain(ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break


# -- PDS ---------------------------------------------------------------------------------


@dataclass
class _Account:
    did: str
    handle: str
    password: str


@dataclass
class PostFault:
    """What the next createRecord does instead of succeeding."""

    status: int
    error: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    commit: bool = False  # write the record anyway, then answer with the fault
    delay: float = 0.0  # seconds to wait before answering (client timeouts)


class FakePds:
    """The XRPC endpoints of a PDS that the Bluesky adapter uses."""

    def __init__(self) -> None:
        self.accounts: dict[str, _Account] = {}
        self.handles: dict[str, str] = {}  # handle -> did, for resolveHandle
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.access: dict[str, str] = {}  # token -> did
        self.refresh: dict[str, str] = {}
        self.expired_access: set[str] = set()
        self.expired_refresh: set[str] = set()
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (nsid, auth, body/params)
        self.post_faults: list[PostFault] = []
        self.duplicate_fault = PostFault(500, "InternalServerError", "Internal Server Error")
        self.remaining = 5000
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def add_account(self, handle: str, did: str, password: str) -> None:
        self.accounts[handle] = _Account(did, handle, password)
        self.handles[handle] = did

    def add_post(self, event: dict) -> None:
        """Make a Jetstream post event's record fetchable with getRecord."""
        c = event["commit"]
        uri = f"at://{event['did']}/{c['collection']}/{c['rkey']}"
        self.records[(event["did"], c["collection"], c["rkey"])] = {
            "uri": uri, "cid": c["cid"], "value": c["record"]}

    def expire_tokens(self, refresh_too: bool = False) -> None:
        """Every access token issued so far now answers 400 ExpiredToken."""
        self.expired_access |= set(self.access)
        if refresh_too:
            self.expired_refresh |= set(self.refresh)

    def calls_to(self, nsid: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [c for c in self.calls if c[0] == nsid]

    def posts_by(self, did: str) -> list[dict[str, Any]]:
        return [r for (repo, coll, _), r in self.records.items() if repo == did and coll == POST]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/xrpc/{nsid}", self._xrpc)
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
        self.remaining = max(0, self.remaining - 1)
        return {"ratelimit-limit": "5000", "ratelimit-remaining": str(self.remaining),
                "ratelimit-reset": str(int(time.time()) + 3600), "ratelimit-policy": "5000;w=3600"}

    def _error(self, status: int, error: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": error, "message": message}, status=status,
                                 headers={**self._headers(), **(headers or {})})

    def _ok(self, body: dict) -> web.Response:
        return web.json_response(body, headers=self._headers())

    def _issue(self, did: str, handle: str) -> dict[str, Any]:
        n = next(self._ids)
        access, refresh = f"access-{n}-{did}", f"refresh-{n}-{did}"
        self.access[access] = did
        self.refresh[refresh] = did
        return {"accessJwt": access, "refreshJwt": refresh, "handle": handle, "did": did,
                "active": True}

    def _auth(self, request: web.Request, table: dict[str, str],
              expired: set[str]) -> tuple[str | None, web.Response | None]:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if not token:
            return None, self._error(401, "AuthenticationRequired", "Authentication Required")
        if token in expired:
            return None, self._error(400, "ExpiredToken", "Token has expired")
        if token not in table:
            return None, self._error(400, "InvalidToken", "Token could not be verified")
        return table[token], None

    async def _xrpc(self, request: web.Request) -> web.Response:
        nsid = request.match_info["nsid"]
        body: dict[str, Any] = {}
        if request.method == "POST" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return self._error(400, "InvalidRequest", "body is not JSON")
        else:
            body = dict(request.query)
        self.calls.append((nsid, request.headers.get("Authorization", ""), body))
        handler = getattr(self, "_" + nsid.replace(".", "_"), None)
        if handler is None:
            return self._error(501, "MethodNotImplemented", f"{nsid} is not implemented")
        return await handler(request, body)

    async def _com_atproto_server_createSession(self, request, body):
        acct = self.accounts.get(str(body.get("identifier", "")).lower())
        if acct is None or acct.password != body.get("password"):
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._ok(self._issue(acct.did, acct.handle))

    async def _com_atproto_server_refreshSession(self, request, body):
        did, err = self._auth(request, self.refresh, self.expired_refresh)
        if err is not None:
            return err
        token = request.headers["Authorization"][7:]
        del self.refresh[token]  # a refresh token is single-use
        acct = next(a for a in self.accounts.values() if a.did == did)
        return self._ok(self._issue(acct.did, acct.handle))

    async def _com_atproto_identity_resolveHandle(self, request, body):
        did = self.handles.get(str(body.get("handle", "")).lower())
        if did is None:
            return self._error(400, "InvalidRequest", "Unable to resolve handle")
        return self._ok({"did": did})

    async def _com_atproto_repo_getRecord(self, request, body):
        key = (str(body.get("repo")), str(body.get("collection")), str(body.get("rkey")))
        rec = self.records.get(key)
        if rec is None:
            return self._error(400, "RecordNotFound",
                               f"Could not locate record: at://{key[0]}/{key[1]}/{key[2]}")
        return self._ok(rec)

    async def _com_atproto_repo_createRecord(self, request, body):
        did, err = self._auth(request, self.access, self.expired_access)
        if err is not None:
            return err
        if body.get("repo") != did:
            return self._error(401, "AuthRequired", "Not authorized to write to this repo")
        record = body.get("record")
        collection = body.get("collection")
        if not isinstance(record, dict) or record.get("$type") != collection:
            return self._error(400, "InvalidRequest", "Invalid $type")
        if not isinstance(record.get("text"), str) or not record.get("createdAt"):
            return self._error(400, "InvalidRecord", "Record/text is required")
        rkey = str(body.get("rkey") or tid(int(time.time() * 1e6), next(self._ids)))
        key = (did, collection, rkey)
        fault = self.post_faults.pop(0) if self.post_faults else None
        if key in self.records:
            f = self.duplicate_fault
            return self._error(f.status, f.error, f.message, f.headers)
        uri = f"at://{did}/{collection}/{rkey}"
        created = {"uri": uri, "cid": fake_cid(uri + json.dumps(record, sort_keys=True)),
                   "value": record}
        if fault is not None and not fault.commit:
            return self._error(fault.status, fault.error, fault.message, fault.headers)
        self.records[key] = created
        if fault is not None:
            await asyncio.sleep(fault.delay)
            return self._error(fault.status, fault.error, fault.message, fault.headers)
        return self._ok({"uri": uri, "cid": created["cid"],
                         "commit": {"cid": fake_cid("commit" + uri), "rev": tid(int(time.time() * 1e6))},
                         "validationStatus": "valid"})
