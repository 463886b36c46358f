"""Reddit: posts and comments from subreddits and search, replies via /api/comment.

Auth
    OAuth2 ``POST {auth_url}/api/v1/access_token`` with HTTP basic auth (client id and
    secret from the env vars named by ``client_id_env`` / ``client_secret_env``): the
    *password* grant (``username`` + the env var named by ``password_env``) for a script app
    that may post, or the *client_credentials* grant (read only) when no password is set.
    The token is cached until a minute before ``expires_in``; a 401 from the API refreshes
    it once. A wrong login arrives as ``200 {"error": "invalid_grant"}``, not as a 4xx.
    Every request carries the User-Agent Reddit requires,
    ``<platform>:<app id>:<version> (by /u/<username>)``; the option ``user_agent`` must have
    that form, and without it one is built (``python:heatdesk:<version> (by /u/<username>)``).

Listings
    ``subreddits`` → ``/r/a+b/new`` (posts, t3) and ``/r/a+b/comments`` (comments, t1) as two
    multireddit listings; ``query`` → ``/search?q=…&sort=new`` (posts). ``raw_json=1`` keeps
    ``&``, ``<`` and ``>`` unescaped. Each listing is read with ``before=<newest fullname
    seen>`` and paged forward (up to `MAX_PAGES` × 100 per poll), so a burst between polls
    is not cut off at 100. Because a ``before`` anchor that was deleted makes Reddit answer
    an empty page forever, every `VERIFY_EVERY`-th empty answer is checked with a plain read
    of the newest page; the seen-ids set keeps that from repeating anything. Search does not
    page reliably, so it is always the newest page, deduped by seen ids.

    t3 → Mention(text = title + selftext), t1 → Mention(text = body, in_reply_to = parent_id
    fullname); external_id = fullname, created_at = created_utc, url = www.reddit.com +
    permalink, followers 0 (a listing does not say). Our own posts (``username``) and
    ``[deleted]``/``[removed]`` bodies are skipped.

Rate limits
    ``x-ratelimit-remaining`` / ``-used`` / ``-reset`` (floats as strings; reset is seconds
    to the end of the window) are read from every answer: below `PACE_BELOW` remaining the
    adapter spreads the rest of the window evenly across requests, and at or below
    ``low_remaining`` (default 5) it waits for the window to reset. Sending never waits
    more than `SEND_WAIT` seconds for that: it fails retryably with ``retry_after`` instead.
    429 → `StreamError` / retryable `DeliveryError` with ``retry_after`` from the reset.

Cursor
    JSON ``{"before": {listing: fullname}, "seen": [last 1000 fullnames]}``, yielded after
    every poll that changed it.

Sending
    ``reply``/``followup`` → ``POST /api/comment`` (``thing_id`` = ``item.in_reply_to`` or the
    target's fullname, ``text``, ``api_type=json``); ``dm`` → ``POST /api/compose``. Errors
    come inside a 200 as ``{"json": {"errors": [[code, message, field]]}}``: ``RATELIMIT``
    is retryable after the time in its message ("try again in 5 minutes"), anything else
    is not and is reported with Reddit's message. Success → Delivery(remote_id = the new
    comment's fullname, remote_url = www.reddit.com + permalink).

    Reddit has no idempotency key. A retry after an unknown outcome (timeout, 5xx, a
    crash mid-send: the item's ``attempts`` > 1 or an earlier ``error``) first reads our own
    newest comments (``/user/<username>/comments``) and, when one under the same parent has
    the same body, reports that one as delivered instead of posting again; a private
    message is checked the same way against ``/message/sent`` (same recipient, subject and
    text). If that check
    itself fails, the attempt fails (retryable) rather than risk a double post. Reddit may
    take a moment to list a new comment, so a retry very soon after a timeout can still
    duplicate; the delivery backoff (seconds to minutes) makes that unlikely.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from feeds.base import (
    ConfigError,
    Cursor,
    Delivery,
    DeliveryError,
    FeedAdapter,
    FeedItem,
    Malformed,
    StreamError,
)
from feeds.http import parse_retry_value, read_body, scrub
from store.records import Mention, OutboxItem

log = logging.getLogger("heatdesk.feeds.reddit")

PLATFORM = "reddit"
WEB = "https://www.reddit.com"
DEFAULT_BASE = "https://oauth.reddit.com"
DEFAULT_AUTH = "https://www.reddit.com"
DEFAULT_INTERVAL = 60.0
PAGE = 100
MAX_PAGES = 5
VERIFY_EVERY = 5
SEEN_LIMIT = 1000
PACE_BELOW = 50.0
SEND_WAIT = 5.0
MAX_COMMENT = 10_000
MAX_TEXT = 40_000
MAX_BODY_BYTES = 16 * 1024 * 1024

_FULLNAME = re.compile(r"^t[1-6]_[0-9a-z]{1,16}$")
_USER_AGENT = re.compile(r"^[^\s:]+:[^\s:]+:[^\s:]+ \(by /u/[A-Za-z0-9_-]{3,20}\)$")
_USERNAME = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_WAIT = re.compile(r"(\d+(?:\.\d+)?)\s*(millisecond|second|minute|hour)s?", re.IGNORECASE)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("heatdesk")
    except Exception:
        return "0.1.0"


def ratelimit_wait(message: str, default: float = 600.0) -> float:
    """Seconds from a RATELIMIT message like "try again in 5 minutes."."""
    match = _WAIT.search(message or "")
    if not match:
        return default
    amount, unit = float(match.group(1)), match.group(2).lower()
    scale = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}[unit]
    return max(1.0, amount * scale)


def _float(headers: Mapping[str, str], key: str) -> float | None:
    value = headers.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


# -- things → mentions -------------------------------------------------------------------


class ThingError(ValueError):
    """A listing child that cannot be used."""


def thing_mention(thing: Any, *, source: str | None = None) -> Mention | None:
    """A t3 (post) or t1 (comment) as a Mention; None for other kinds or removed text."""
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        raise ThingError("listing child without data")
    kind, data = thing.get("kind"), thing["data"]
    if kind not in ("t1", "t3"):
        return None
    name = data.get("name")
    if not isinstance(name, str) or not _FULLNAME.match(name) or not name.startswith(kind):
        raise ThingError(f"{kind} without a valid fullname")
    author = data.get("author")
    if not isinstance(author, str) or not author:
        raise ThingError(f"{name}: no author")
    try:
        created = datetime.fromtimestamp(float(data.get("created_utc")), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ThingError(f"{name}: bad created_utc") from None
    if kind == "t3":
        title, selftext = data.get("title"), data.get("selftext") or ""
        if not isinstance(title, str) or not isinstance(selftext, str):
            raise ThingError(f"{name}: title/selftext not text")
        if selftext in ("[deleted]", "[removed]") and author == "[deleted]":
            return None
        text = title + ("\n\n" + selftext if selftext.strip() else "")
        in_reply_to = None
    else:
        body = data.get("body")
        if not isinstance(body, str):
            raise ThingError(f"{name}: body not text")
        if body in ("[deleted]", "[removed]"):
            return None
        text = body
        parent = data.get("parent_id")
        in_reply_to = parent if isinstance(parent, str) and _FULLNAME.match(parent) else None
    permalink = data.get("permalink")
    url = WEB + permalink if isinstance(permalink, str) and permalink.startswith("/") else None
    return Mention(
        platform=PLATFORM,
        external_id=name,
        author=author[:100],
        text=text[:MAX_TEXT],
        created_at=created,
        url=url,
        in_reply_to=in_reply_to,
        followers=0,
        raw={"kind": kind, "data": data},
        source=source,
    )


def listing_children(body: Any) -> list[Any]:
    """The children of a Listing; raise ThingError when the body is not one."""
    if not isinstance(body, dict) or body.get("kind") != "Listing":
        raise ThingError("answer is not a Listing")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise ThingError("Listing without children")
    return data["children"]


# -- cursor ------------------------------------------------------------------------------


@dataclass
class _State:
    before: dict[str, str]
    seen: list[str]
    empty: dict[str, int]

    @classmethod
    def load(cls, value: str | None) -> _State:
        state = cls({}, [], {})
        if not value:
            return state
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            return state
        if not isinstance(data, dict):
            return state
        before = data.get("before")
        if isinstance(before, dict):
            state.before = {str(k): v for k, v in before.items()
                            if isinstance(v, str) and _FULLNAME.match(v)}
        seen = data.get("seen")
        if isinstance(seen, list):
            state.seen = [s for s in seen if isinstance(s, str)][-SEEN_LIMIT:]
        return state

    def dump(self) -> str:
        return json.dumps({"before": self.before, "seen": self.seen[-SEEN_LIMIT:]},
                          separators=(",", ":"))


@dataclass(frozen=True)
class Listing:
    key: str
    path: str
    params: tuple[tuple[str, str], ...]
    pages_forward: bool


# -- HTTP --------------------------------------------------------------------------------


class _Failed(Exception):
    """A request that did not succeed; ``status`` None means no answer (outcome unknown)."""

    def __init__(self, reason: str, status: int | None = None,
                 retry_after: float | None = None, retryable: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable


class RedditFeed(FeedAdapter):
    """Reddit posts and comments in; comments (and private messages) out."""

    kind = "reddit"
    platform = PLATFORM

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        super().__init__(name, options, env)
        o = self.options
        self.base_url = str(o.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.auth_url = str(o.get("auth_url") or DEFAULT_AUTH).rstrip("/")
        for url in (self.base_url, self.auth_url):
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"reddit feed {name!r}: not a URL: {url!r}")
        subs = o.get("subreddits") or []
        if isinstance(subs, str):
            subs = [subs]
        self.subreddits = [str(s).strip().removeprefix("/").removeprefix("r/") for s in subs
                           if str(s).strip()]
        bad = [s for s in self.subreddits if not re.fullmatch(r"[A-Za-z0-9_]{2,21}", s)]
        if bad:
            raise ConfigError(f"reddit feed {name!r}: not a subreddit name: {bad[0]!r}")
        self.query = str(o.get("query") or "").strip() or None
        self.username = str(o.get("username") or "").strip().removeprefix("/u/").removeprefix(
            "u/") or None
        if self.username and not _USERNAME.match(self.username):
            raise ConfigError(f"reddit feed {name!r}: not a Reddit username: {self.username!r}")
        agent = o.get("user_agent")
        if agent:
            agent = str(agent)
            if not _USER_AGENT.match(agent):
                raise ConfigError(
                    f"reddit feed {name!r}: user_agent must look like "
                    "'<platform>:<app id>:<version> (by /u/<username>)', e.g. "
                    "'python:com.example.desk:v1.0 (by /u/acme_support)'")
            self.user_agent = agent
        elif self.username:
            self.user_agent = f"python:heatdesk:v{_version()} (by /u/{self.username})"
        else:
            raise ConfigError(f"reddit feed {name!r} needs a username or a user_agent: Reddit "
                              "requires a contact in the User-Agent")
        try:
            self.interval = float(o.get("interval_seconds", DEFAULT_INTERVAL))
            self.low_remaining = float(o.get("low_remaining", 5))
            self.timeout = float(o.get("timeout_seconds", 30))
        except (TypeError, ValueError):
            raise ConfigError(f"reddit feed {name!r}: interval_seconds must be a number") \
                from None
        self._http: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock: asyncio.Lock | None = None
        self.tokens_fetched = 0
        self.ratelimit: dict[str, float | None] = {"remaining": None, "used": None,
                                                   "reset": None}
        self._reset_at: float | None = None
        self.pauses: list[float] = []
        self._sleep = asyncio.sleep
        self._reported: set[str] = set()  # malformed listing children already reported

    # -- configuration ------------------------------------------------------------------

    def listings(self) -> list[Listing]:
        out = []
        if self.subreddits:
            multi = "+".join(self.subreddits)
            out.append(Listing(f"r/{multi}/new", f"/r/{multi}/new", (), True))
            out.append(Listing(f"r/{multi}/comments", f"/r/{multi}/comments", (), True))
        if self.query:
            out.append(Listing("search", "/search",
                               (("q", self.query), ("sort", "new"), ("type", "link")), False))
        return out

    @property
    def can_send(self) -> bool:
        return bool(self.username and self.secret("client_id_env")
                    and self.secret("client_secret_env") and self.secret("password_env"))

    # -- HTTP ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without our credentials, in any form a server might echo them: the
        id, secret and password, the basic-auth header value, the access token."""
        client_id, secret = self.secret("client_id_env"), self.secret("client_secret_env")
        values = [client_id, secret, self.secret("password_env"), self._token]
        if client_id and secret:
            values.append(base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii"))
        return scrub(text, values)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": self.user_agent})
        return self._http

    def _lock(self) -> asyncio.Lock:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        return self._token_lock

    async def _fetch_token(self) -> str:
        client_id, secret = self.secret("client_id_env"), self.secret("client_secret_env")
        if not client_id or not secret:
            names = f"{self.options.get('client_id_env')}/{self.options.get('client_secret_env')}"
            raise _Failed(f"reddit client id/secret are not set ({names})", retryable=False)
        password = self.secret("password_env")
        if password and self.username:
            form = {"grant_type": "password", "username": self.username, "password": password}
        else:
            form = {"grant_type": "client_credentials"}
        try:
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
            async with self._client().post(
                    f"{self.auth_url}/api/v1/access_token", data=form,
                    headers={"Authorization": f"Basic {basic}"}) as resp:
                status = resp.status
                self._note_ratelimit(resp.headers)
                raw = await read_body(resp, MAX_BODY_BYTES)
                try:
                    body = json.loads(raw) if raw else None
                except (ValueError, RecursionError):
                    body = None
                headers = resp.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _Failed(self._scrub(f"reddit login: {type(exc).__name__}: {exc}".rstrip(": "))
                          ) from None
        if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            self.tokens_fetched += 1
            try:
                expires = float(body.get("expires_in") or 3600)
            except (TypeError, ValueError):
                expires = 3600.0
            self._token = body["access_token"]
            self._token_until = time.monotonic() + max(30.0, expires - 60.0)
            return self._token
        if status == 429:
            raise _Failed("reddit login rate-limited", 429, self._retry_after(headers))
        if status >= 500:
            raise _Failed(f"reddit login: HTTP {status}", status)
        error = body.get("error") if isinstance(body, dict) else None
        if status == 401:
            raise _Failed("reddit rejected the client id/secret (HTTP 401)", 401,
                          retryable=False)
        raise _Failed(self._scrub(f"reddit login failed: {error or 'HTTP ' + str(status)}"),
                      status, retryable=False)

    async def _ensure_token(self, stale: str | None = None) -> str:
        async with self._lock():
            if self._token and self._token != stale and time.monotonic() < self._token_until:
                return self._token
            return await self._fetch_token()

    def _note_ratelimit(self, headers: Mapping[str, str]) -> None:
        remaining = _float(headers, "x-ratelimit-remaining")
        reset = _float(headers, "x-ratelimit-reset")
        if remaining is None and reset is None:
            return
        self.ratelimit = {"remaining": remaining, "used": _float(headers, "x-ratelimit-used"),
                          "reset": reset}
        self._reset_at = time.monotonic() + reset if reset is not None else None

    def _retry_after(self, headers: Mapping[str, str]) -> float:
        """The longer of Reddit's window reset and ``Retry-After`` (1 s to 1 h; 60 s if neither)."""
        reset = _float(headers, "x-ratelimit-reset")  # Reddit's: seconds, as a float
        after = parse_retry_value(headers.get("Retry-After"))
        return max(1.0, min(max(reset or 0.0, after or 0.0) or 60.0, 3600.0))

    def pace(self) -> float:
        """Seconds to wait before the next request, from the last rate-limit headers."""
        remaining = self.ratelimit.get("remaining")
        if remaining is None or self._reset_at is None:
            return 0.0
        left = self._reset_at - time.monotonic()
        if left <= 0:
            return 0.0
        if remaining <= self.low_remaining:
            return min(left, 900.0)
        if remaining < PACE_BELOW:
            return min(left / remaining, 60.0)
        return 0.0

    async def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                       data: Mapping[str, str] | None = None,
                       max_wait: float = 900.0) -> tuple[int, Any]:
        """An authenticated API call: (status, JSON body). 401 refreshes the token once.

        Waits as `pace` says first; when that is longer than ``max_wait`` (sending: a few
        seconds, so one item never holds up the outbox) it fails retryably instead.
        """
        token = await self._ensure_token()
        for attempt in (1, 2):
            delay = self.pace()
            if delay > max_wait:
                raise _Failed(f"reddit rate limit nearly used up ({path})", 429, delay)
            if delay > 0:
                self.pauses.append(delay)
                await self._sleep(delay)
            try:
                async with self._client().request(
                        method, f"{self.base_url}{path}", params=params, data=data,
                        headers={"Authorization": f"bearer {token}"}) as resp:
                    status = resp.status
                    headers = resp.headers
                    self._note_ratelimit(headers)
                    raw = await read_body(resp, MAX_BODY_BYTES)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise _Failed(self._scrub(f"reddit {path}: {type(exc).__name__}: {exc}"
                                          .rstrip(": "))) from None
            if status == 401 and attempt == 1:
                token = await self._ensure_token(stale=token)
                continue
            if len(raw) > MAX_BODY_BYTES:
                raise _Failed(f"reddit {path}: answer larger than {MAX_BODY_BYTES} bytes", status)
            try:
                body = json.loads(raw) if raw else None
            except (ValueError, RecursionError):
                body = None
            if status == 429:
                raise _Failed(f"reddit rate limit reached ({path})", 429,
                              self._retry_after(headers))
            if status >= 500:
                raise _Failed(f"reddit {path}: HTTP {status}", status)
            if status >= 400:
                message = body.get("message") if isinstance(body, dict) else None
                reason = f"reddit {path}: HTTP {status}" + (f" {message}" if message else "")
                raise _Failed(self._scrub(reason), status, retryable=status in (408, 409))
            return status, body
        raise _Failed(f"reddit {path}: still unauthorized after a new token", 401,
                      retryable=False)

    # -- ingest -------------------------------------------------------------------------

    async def _read(self, listing: Listing, before: str | None) -> list[Any]:
        params = {"limit": str(PAGE), "raw_json": "1", **dict(listing.params)}
        if before:
            params["before"] = before
        try:
            _, body = await self._request("GET", listing.path, params=params)
        except _Failed as exc:
            raise StreamError(exc.reason, retry_after=exc.retry_after) from None
        return listing_children(body)

    async def poll_listing(self, listing: Listing, state: _State) -> tuple[list[FeedItem], bool]:
        """New items of one listing (oldest first) and whether the state changed."""
        items: list[FeedItem] = []
        before = state.before.get(listing.key) if listing.pages_forward else None
        pages: list[list[Any]] = []
        try:
            page = await self._read(listing, before)
            pages.append(page)
            if before and not page:
                count = state.empty.get(listing.key, 0) + 1
                state.empty[listing.key] = count
                if count % VERIFY_EVERY == 0:  # is the anchor gone? read the newest page
                    pages.append(await self._read(listing, None))
            else:
                state.empty[listing.key] = 0
                while before and len(page) >= PAGE and len(pages) < MAX_PAGES:
                    newest = page[0].get("data", {}).get("name") if isinstance(page[0], dict) \
                        else None
                    if not isinstance(newest, str):
                        break
                    page = await self._read(listing, newest)
                    if not page:
                        break
                    pages.append(page)
        except ThingError as exc:
            return [Malformed(f"reddit {listing.key}", str(exc))], False
        found: list[Mention] = []
        newest_name: str | None = None
        newest_at: float = -1.0
        for page in pages:
            for child in page:
                try:
                    mention = thing_mention(child, source=self.name)
                except ThingError as exc:
                    # Reported once: a bad child newer than the anchor is read again on
                    # every poll until something newer arrives.
                    data = child.get("data") if isinstance(child, dict) else None
                    name = data.get("name") if isinstance(data, dict) else None
                    key = f"{listing.key}|{name if isinstance(name, str) else ''}|{exc}"
                    if key not in self._reported:
                        if len(self._reported) >= SEEN_LIMIT:
                            self._reported.clear()
                        self._reported.add(key)
                        items.append(Malformed(f"reddit {listing.key}", str(exc)))
                    continue
                data = child["data"]
                try:
                    created = float(data.get("created_utc"))
                except (TypeError, ValueError):
                    created = 0.0
                if isinstance(data.get("name"), str) and created >= newest_at:
                    newest_name, newest_at = data["name"], created
                if mention is not None:
                    found.append(mention)
        changed = False
        if listing.pages_forward and newest_name and newest_name != before:
            state.before[listing.key] = newest_name
            changed = True
        known = set(state.seen)
        found.sort(key=lambda m: m.created_at)
        for mention in found:
            if mention.external_id in known:
                continue
            known.add(mention.external_id)
            state.seen.append(mention.external_id)
            changed = True
            if self.username and mention.author.lower() == self.username.lower():
                continue
            items.append(mention)
        del state.seen[:-SEEN_LIMIT]
        return items, changed

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        listings = self.listings()
        if not listings:
            raise StreamError(f"reddit feed {self.name!r} has no subreddits and no query")
        state = _State.load(cursor)
        while True:
            changed = False
            for listing in listings:
                try:
                    items, did_change = await self.poll_listing(listing, state)
                except _Failed as exc:  # token trouble
                    raise StreamError(exc.reason, retry_after=exc.retry_after) from None
                changed |= did_change
                for item in items:
                    yield item
            if changed:
                yield Cursor(state.dump())
            await asyncio.sleep(self.interval)

    # -- send ---------------------------------------------------------------------------

    async def _recent(self, path: str, params: dict[str, str], what: str) -> list:
        """A listing of our newest things, to look for an earlier attempt in (a failure to
        read it is retryable: the send is tried, and checked, again)."""
        try:
            _, body = await self._request("GET", path, params={"limit": "100", "raw_json": "1",
                                                               **params}, max_wait=SEND_WAIT)
            return listing_children(body)
        except (_Failed, ThingError) as exc:
            raise DeliveryError(f"cannot check whether an earlier attempt was {what}: "
                                f"{getattr(exc, 'reason', exc)}", retryable=True) from None

    async def _find_own(self, parent: str, text: str) -> Delivery | None:
        """Our comment under ``parent`` with this text, if an earlier attempt landed."""
        children = await self._recent(f"/user/{self.username}/comments", {"sort": "new"},
                                      "posted")
        for child in children:
            data = child.get("data") if isinstance(child, dict) else None
            if (isinstance(data, dict) and data.get("parent_id") == parent
                    and isinstance(data.get("body"), str)
                    and data["body"].strip() == text.strip()):
                return self._delivery(data)
        return None

    async def _find_sent(self, to: str, subject: str, text: str) -> Delivery | None:
        """Our private message to ``to`` with this subject and text, if an earlier attempt
        was sent (``/message/sent``, newest first)."""
        children = await self._recent("/message/sent", {}, "sent")
        for child in children:
            data = child.get("data") if isinstance(child, dict) else None
            if (isinstance(data, dict) and isinstance(data.get("dest"), str)
                    and data["dest"].lower() == to.lower()
                    and data.get("subject") == subject
                    and isinstance(data.get("body"), str)
                    and data["body"].strip() == text.strip()):
                name = data.get("name") if isinstance(data.get("name"), str) else None
                return Delivery(remote_id=name, remote_url=None)
        return None

    @staticmethod
    def _delivery(data: Mapping[str, Any]) -> Delivery:
        name = data.get("name") if isinstance(data.get("name"), str) else None
        permalink = data.get("permalink")
        if isinstance(permalink, str) and permalink.startswith("/"):
            url = WEB + permalink
        elif name and isinstance(data.get("link_id"), str):
            url = f"{WEB}/comments/{data['link_id'][3:]}/_/{name[3:]}/"
        else:
            url = None
        return Delivery(remote_id=name, remote_url=url)

    @staticmethod
    def _json_errors(body: Any) -> list[tuple[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("json"), dict):
            return []
        errors = body["json"].get("errors") or []
        out = []
        for err in errors if isinstance(errors, list) else []:
            if isinstance(err, list) and err:
                out.append((str(err[0]), str(err[1]) if len(err) > 1 else ""))
        return out

    async def _post(self, path: str, form: Mapping[str, str]) -> Any:
        try:
            _, body = await self._request("POST", path, data=form, max_wait=SEND_WAIT)
        except _Failed as exc:
            if exc.status is None:
                reason = f"{exc.reason}: outcome unknown; will check before posting again"
            else:
                reason = exc.reason
            raise DeliveryError(reason, retryable=exc.retryable,
                                retry_after=exc.retry_after) from None
        errors = self._json_errors(body)
        for code, message in errors:
            if code == "RATELIMIT":
                raise DeliveryError(self._scrub(f"reddit RATELIMIT: {message}"), retryable=True,
                                    retry_after=ratelimit_wait(message))
        if errors:
            detail = "; ".join(f"{code}: {message}".rstrip(": ") for code, message in errors)
            raise DeliveryError(self._scrub(f"reddit refused it: {detail}"), retryable=False)
        return body

    async def send(self, item: OutboxItem, target: Mention | None) -> Delivery:
        if not self.can_send:
            raise DeliveryError(f"reddit feed {self.name!r} holds no posting credentials "
                                "(username, password_env, client id/secret)", retryable=False)
        text = item.text
        if not text.strip():
            raise DeliveryError("the reply is empty", retryable=False)
        if len(text) > MAX_COMMENT:
            raise DeliveryError(f"reply is {len(text)} characters; Reddit allows "
                                f"{MAX_COMMENT}", retryable=False)
        if item.kind == "dm":
            to = item.recipient or (target.author if target is not None else None)
            if not to or to == "[deleted]":
                raise DeliveryError("no Reddit user to message", retryable=False)
            subject = str(item.data.get("subject") or "About your post")[:100]
            if item.attempts > 1 or item.error:
                existing = await self._find_sent(to, subject, text)
                if existing is not None:
                    return existing
            await self._post("/api/compose", {"api_type": "json", "to": to,
                                              "subject": subject, "text": text})
            return Delivery(remote_id=None, remote_url=None)
        parent = item.in_reply_to or (target.external_id if target is not None else None)
        if not parent or not _FULLNAME.match(parent):
            raise DeliveryError(f"nothing on Reddit to reply to ({parent!r})", retryable=False)
        if item.attempts > 1 or item.error:
            existing = await self._find_own(parent, text)
            if existing is not None:
                return existing
        body = await self._post("/api/comment",
                                {"api_type": "json", "thing_id": parent, "text": text})
        try:
            things = body["json"]["data"]["things"]
            data = things[0]["data"]
            assert isinstance(data, dict)
        except (KeyError, IndexError, TypeError, AssertionError):
            raise DeliveryError("reddit answered without the new comment; will check before "
                                "posting again", retryable=True) from None
        return self._delivery(data)

    async def aclose(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None
