"""Bluesky: mentions from Jetstream, replies through the account's PDS (AT Protocol XRPC).

Ingest
    One websocket to ``jetstream_url?wantedCollections=app.bsky.feed.post`` (Jetstream v1
    JSON, no compression). A post *create* becomes a `Mention` when it is for us:

    * a ``app.bsky.richtext.facet#mention`` facet names one of ``watch_dids``, or
    * it replies to (``reply.parent``) or quotes (``embed.record``) a post of a watched DID, or
    * its text contains one of ``keywords`` (case-insensitive, on word boundaries, so
      ``acme`` matches "@acme", "#Acme" and "Acme's" but not "acmeville").

    Posts by our own account (option ``did``, else the DID of ``handle`` resolved once via
    ``com.atproto.identity.resolveHandle``, else the session's DID) are skipped, and that
    account is always watched too, so a feed with only a ``handle`` follows its mentions.
    ``watch_dids`` are *not* sent as ``wantedDids``: Jetstream's ``wantedDids`` filters by the
    author's repo, which would deliver the brand's own posts instead of posts about it. Use
    the option ``wanted_dids`` for that filter if you really want to follow authors.

    A post *delete* becomes `Deleted` (platform, at-URI). Jetstream cannot say whether the
    post was one we ingested, so every post delete is passed on; the store ignores deletes
    of posts it never saw. Post updates, identity, account and every other collection are
    ignored. A frame that is not a JSON event (or a post whose record is not a record) is
    reported as `Malformed` and skipped.

    ``created_at`` is the record's ``createdAt``, except that a post claiming to be from the
    future is placed at the time Jetstream saw it (Bluesky's own ``sortAt`` rule); a post
    without a parseable ``createdAt`` also gets that time.

Cursor
    Jetstream cursors are unix microseconds (``time_us``). The adapter yields
    ``Cursor(str(max time_us seen))`` every `CURSOR_EVERY_EVENTS` events or once a second,
    never per event. On (re)connect it asks for ``cursor = saved - 5 s``: events arrive
    slightly out of ``time_us`` order, so the rewind is what makes a resume lossless. The
    price is duplicates, which reach the adapter's output and are dropped by the store
    (unique on platform + at-URI).

Replies (``send``)
    ``com.atproto.server.createSession`` once (identifier = ``handle``, password from the
    env var named by ``password_env``), cached; on ``400 ExpiredToken`` the session is
    refreshed with ``refreshSession`` (or a new ``createSession`` when the refresh token is
    gone too) and the call retried once. The reply is ``com.atproto.repo.createRecord`` of an
    ``app.bsky.feed.post`` with ``reply = {root, parent}``: parent is the customer's post
    (at-URI + the commit ``cid`` kept in the mention's raw event), root is that post's own
    ``reply.root`` when it is itself a reply, else the parent. ``@handle`` and ``https://``
    links in the text get facets. Text over 300 grapheme clusters (or 3000 UTF-8 bytes) is
    refused before anything is sent (not retryable).

    Idempotency: AT Protocol has no idempotency key, so the record key is derived from
    the outbox item (`deterministic_rkey`: a TID whose time is the item's ``not_before``
    and whose low bits come from a hash of ``idempotency_key``). A retry after an unknown
    outcome (timeout, 5xx) writes to the same key, so it can never make a second post. On a
    retry, and whenever createRecord fails in a way that may mean "already exists" (5xx —
    today's PDS answers a duplicate key with 500 — 409, or a 400 that says so), the record
    is looked up with ``getRecord`` and, if it is there, the item counts as delivered.

    429 → retryable, ``retry_after`` from ``ratelimit-reset`` (epoch seconds) or
    ``Retry-After``; 5xx and network errors → retryable; other 4xx → not retryable with the
    server's message. Direct messages (``dm``) are not supported on Bluesky here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from feeds.base import (
    ConfigError,
    Cursor,
    Deleted,
    Delivery,
    DeliveryError,
    FeedAdapter,
    FeedItem,
    Malformed,
    StreamError,
)
from feeds.http import make_session, read_body, retry_after, scrub
from store.records import Mention, OutboxItem

log = logging.getLogger("heatdesk.feeds.bluesky")

PLATFORM = "bluesky"
POST_NSID = "app.bsky.feed.post"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"
LINK_FEATURE = "app.bsky.richtext.facet#link"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
REWIND_US = 5_000_000
CURSOR_EVERY_EVENTS = 1000
CURSOR_EVERY_SECONDS = 1.0
MAX_FRAME_BYTES = 4 * 1024 * 1024
DEFAULT_JETSTREAM = "wss://jetstream2.us-east.bsky.network/subscribe"
DEFAULT_SERVICE = "https://bsky.social"

_DID_RE = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}$")
_RKEY_RE = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_NSID_RE = re.compile(r"^[A-Za-z0-9.-]{1,317}$")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


# -- grapheme clusters (UAX #29, extended clusters, without the regex module) -------------

_CR, _LF, _CONTROL, _EXTEND, _ZWJ, _RI, _SPACING, _L, _V, _T, _LV, _LVT, _PICT, _OTHER = range(14)


def _is_pictographic(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x1FC00 <= cp <= 0x1FFFD
        or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x2190 <= cp <= 0x21FF
        or 0x25A0 <= cp <= 0x25FF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D,
                  0x3297, 0x3299)
    )


def _gcb(ch: str) -> int:
    """The Grapheme_Cluster_Break class of one character (close approximation)."""
    cp = ord(ch)
    if cp == 0x0D:
        return _CR
    if cp == 0x0A:
        return _LF
    if cp == 0x200D:
        return _ZWJ
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if (0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x1F3FB <= cp <= 0x1F3FF
            or 0xE0020 <= cp <= 0xE007F or cp == 0x200C):
        return _EXTEND
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me"):
        return _EXTEND
    if cat == "Mc":
        return _SPACING
    if cat in ("Cc", "Zl", "Zp", "Cs") or (cat == "Cf" and not 0x0600 <= cp <= 0x0605):
        return _CONTROL
    if _is_pictographic(cp):
        return _PICT
    return _OTHER


def graphemes(text: str) -> list[str]:
    """``text`` split into user-perceived characters (extended grapheme clusters).

    Implements UAX #29 rules GB3–GB13 (CR LF, controls, Hangul syllables, Extend/ZWJ,
    SpacingMark, emoji ZWJ sequences, regional-indicator pairs) with character classes
    derived from `unicodedata`; Indic conjunct clusters (GB9c) count per consonant, so
    the count can only err on the high side.
    """
    clusters: list[str] = []
    current: list[str] = []
    prev = None
    ri_run = 0  # regional indicators in a row ending at prev
    pict_zwj = False  # prev is ZWJ after ExtPict Extend*
    in_pict = False  # inside ExtPict Extend*
    for ch in text:
        cls = _gcb(ch)
        brk = True
        if prev is None:
            brk = True
        elif prev == _CR and cls == _LF:
            brk = False
        elif prev in (_CR, _LF, _CONTROL) or cls in (_CR, _LF, _CONTROL):
            brk = True
        elif prev == _L and cls in (_L, _V, _LV, _LVT):
            brk = False
        elif prev in (_LV, _V) and cls in (_V, _T):
            brk = False
        elif prev in (_LVT, _T) and cls == _T:
            brk = False
        elif cls in (_EXTEND, _ZWJ, _SPACING):
            brk = False
        elif pict_zwj and cls == _PICT:
            brk = False
        elif prev == _RI and cls == _RI and ri_run % 2 == 1:
            brk = False
        if brk and current:
            clusters.append("".join(current))
            current = []
        current.append(ch)
        # state for the next character
        if cls == _PICT:
            in_pict = True
        elif cls == _EXTEND and in_pict:
            pass
        elif cls == _ZWJ and in_pict:
            pass
        else:
            in_pict = False
        pict_zwj = cls == _ZWJ and in_pict
        if cls == _ZWJ:
            in_pict = False
        ri_run = ri_run + 1 if cls == _RI else 0
        prev = cls
    if current:
        clusters.append("".join(current))
    return clusters


def grapheme_count(text: str) -> int:
    """How many grapheme clusters ``text`` has (Bluesky's 300 limit counts these)."""
    return len(graphemes(text))


# -- record keys -------------------------------------------------------------------------


def tid_from(micros: int, clock_id: int) -> str:
    """A TID record key: 13 base32-sortable characters of (micros << 10 | clock_id)."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    out = []
    for _ in range(13):
        out.append(_TID_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(out))


def deterministic_rkey(item: OutboxItem) -> str:
    """The record key for ``item``'s post: the same on every attempt, TID-shaped.

    The time part is ``not_before`` (fixed when the item is queued), with its low 10 bits
    and the clock id taken from SHA-256 of the idempotency key, so two items never share a
    key in practice and a retry always reuses its own.
    """
    digest = int.from_bytes(hashlib.sha256(item.idempotency_key.encode()).digest()[:8], "big")
    when = item.not_before
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    micros = int(when.timestamp() * 1_000_000)
    micros = (micros & ~0x3FF) | (digest & 0x3FF)
    return tid_from(micros, digest >> 10)


# -- parsing Jetstream frames ------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_created(value: Any) -> datetime | None:
    if not isinstance(value, str) or not 10 <= len(value) <= 64:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _str(value: Any, limit: int = 2000) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def at_uri(did: str, rkey: str, collection: str = POST_NSID) -> str:
    """``at://{did}/{collection}/{rkey}``."""
    return f"at://{did}/{collection}/{rkey}"


def split_at_uri(uri: str) -> tuple[str, str, str] | None:
    """(did, collection, rkey) of an at-URI, or None when it is not one."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def _strong_ref(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict):
        uri, cid = _str(value.get("uri")), _str(value.get("cid"))
        if uri and cid and split_at_uri(uri):
            return {"uri": uri, "cid": cid}
    return None


class FrameError(ValueError):
    """A Jetstream frame that cannot be used; the message says why."""


def decode_frame(data: str | bytes) -> dict[str, Any]:
    """One Jetstream text frame as an event object; raise FrameError when it is not one."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("binary frame that is not UTF-8 (compressed?)") from None
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError(f"frame larger than {MAX_FRAME_BYTES} bytes")
    try:
        event = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise FrameError("not JSON: nested too deeply") from None
    if not isinstance(event, dict):
        raise FrameError(f"expected a JSON object, got {type(event).__name__}")
    time_us = event.get("time_us")
    if isinstance(time_us, bool) or not isinstance(time_us, int) or not 0 < time_us < 2**62:
        raise FrameError("missing or invalid time_us")
    if not isinstance(event.get("kind"), str):
        raise FrameError("missing kind")
    did = event.get("did")
    if not isinstance(did, str) or not _DID_RE.match(did):
        raise FrameError("missing or invalid did")
    return event


def event_item(event: Mapping[str, Any]) -> Mention | Deleted | None:
    """A decoded event as a Mention (post create), Deleted (post delete) or None (other).

    No mention filtering here: every post create becomes a Mention (see
    `BlueskyFeed.wanted`). Raise FrameError when a post commit is not usable.
    """
    if event.get("kind") != "commit":
        return None
    commit = event.get("commit")
    if not isinstance(commit, dict):
        raise FrameError("commit event without a commit object")
    if commit.get("collection") != POST_NSID:
        return None
    did = str(event["did"])
    rkey = commit.get("rkey")
    if not isinstance(rkey, str) or not _RKEY_RE.match(rkey):
        raise FrameError("post commit with an invalid rkey")
    uri = at_uri(did, rkey)
    operation = commit.get("operation")
    if operation == "delete":
        return Deleted(PLATFORM, uri)
    if operation != "create":
        return None  # an edit: the desk keeps what was first said
    record = commit.get("record")
    if not isinstance(record, dict):
        raise FrameError(f"post create {rkey} without a record")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise FrameError(f"post {rkey}: text is not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError(f"post {rkey}: text is not valid Unicode") from None
    seen_at = datetime.fromtimestamp(int(event["time_us"]) / 1_000_000, UTC)
    created = _parse_created(record.get("createdAt"))
    if created is None or created > seen_at:
        created = seen_at
    in_reply_to = None
    reply = record.get("reply")
    if isinstance(reply, dict):
        parent = _strong_ref(reply.get("parent"))
        in_reply_to = parent["uri"] if parent else None
    langs = record.get("langs")
    lang = None
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        lang = langs[0][:40] or None
    return Mention(
        platform=PLATFORM,
        external_id=uri,
        author=did,
        text=text,
        created_at=created,
        author_name=None,
        followers=0,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        in_reply_to=in_reply_to,
        lang=lang,
        raw=dict(event),
    )


def parse_frame(data: str | bytes) -> tuple[int | None, Mention | Deleted | Malformed | None]:
    """(time_us, item) for one frame; never raises. item is None for ignored events."""
    try:
        event = decode_frame(data)
    except FrameError as exc:
        return None, Malformed("jetstream frame", str(exc))
    time_us = int(event["time_us"])
    try:
        return time_us, event_item(event)
    except FrameError as exc:
        return time_us, Malformed(f"jetstream event {time_us}", str(exc))


def mentioned_dids(record: Mapping[str, Any]) -> set[str]:
    """DIDs named by mention facets of a post record."""
    found: set[str] = set()
    facets = record.get("facets")
    if not isinstance(facets, list):
        return found
    for facet in facets[:200]:
        if not isinstance(facet, dict) or not isinstance(facet.get("features"), list):
            continue
        for feature in facet["features"][:50]:
            if (isinstance(feature, dict) and feature.get("$type") == MENTION_FEATURE
                    and isinstance(feature.get("did"), str)):
                found.add(feature["did"])
    return found


def _referenced_dids(record: Mapping[str, Any]) -> set[str]:
    """Authors of the posts this record replies to or quotes."""
    dids: set[str] = set()
    reply = record.get("reply")
    if isinstance(reply, dict):
        for key in ("parent", "root"):
            ref = reply.get(key)
            parts = split_at_uri(ref.get("uri")) if isinstance(ref, dict) else None
            if parts and key == "parent":
                dids.add(parts[0])
    embed = record.get("embed")
    if isinstance(embed, dict):
        inner = embed.get("record")
        for ref in (inner, inner.get("record") if isinstance(inner, dict) else None):
            parts = split_at_uri(ref.get("uri")) if isinstance(ref, dict) else None
            if parts and parts[1] == POST_NSID:
                dids.add(parts[0])
    return dids


# -- facets for our own replies ----------------------------------------------------------

_HANDLE_IN_TEXT = re.compile(
    r"(?:^|(?<=[\s(\[]))@([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+)"
)
_URL_IN_TEXT = re.compile(r"(?:^|(?<=[\s(\[]))(https?://[^\s<>\"]+)")


def _byte_span(text: str, start: int, end: int) -> dict[str, int]:
    return {"byteStart": len(text[:start].encode("utf-8")),
            "byteEnd": len(text[:end].encode("utf-8"))}


def link_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for the http(s) URLs in ``text`` (trailing punctuation excluded)."""
    facets = []
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group(1).rstrip(".,;:!?)]'")
        if len(url) < 10:
            continue
        start = match.start(1)
        facets.append({"index": _byte_span(text, start, start + len(url)),
                       "features": [{"$type": LINK_FEATURE, "uri": url}]})
    return facets


def handles_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) for each ``@handle`` in ``text`` (the span includes the @)."""
    return [(m.start(1) - 1, m.end(1), m.group(1).lower()) for m in _HANDLE_IN_TEXT.finditer(text)]


# -- small private HTTP helpers ----------------------------------------------------------


class _Unreachable(Exception):
    """The request did not get an answer (network error or timeout): outcome unknown."""


#: Bluesky's own reset (epoch seconds) is read before ``Retry-After``.
_WAIT_HEADERS = ("ratelimit-reset", "RateLimit-Reset", "Retry-After")


def _retry_after(headers: Mapping[str, str], default: float | None = None) -> float | None:
    """Seconds to wait, from ``ratelimit-reset`` (epoch s) or ``Retry-After``, else ``default``."""
    wait = retry_after(headers, names=_WAIT_HEADERS)
    return default if wait is None else wait


def _error_of(body: Any) -> tuple[str, str]:
    if isinstance(body, dict):
        return str(body.get("error") or ""), str(body.get("message") or "")[:300]
    return "", ""


# -- the adapter -------------------------------------------------------------------------


class BlueskyFeed(FeedAdapter):
    """Bluesky mentions from Jetstream; replies through the account's PDS."""

    kind = "bluesky"
    platform = PLATFORM

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        super().__init__(name, options, env)
        opts = self.options
        self.jetstream_url = str(opts.get("jetstream_url") or DEFAULT_JETSTREAM)
        self.service_url = str(opts.get("service_url") or DEFAULT_SERVICE).rstrip("/")
        self.handle = str(opts.get("handle") or "").lstrip("@").lower() or None
        self.watch_dids = self._list("watch_dids")
        self.keywords = self._list("keywords")
        self.wanted_dids = self._list("wanted_dids")
        bad = [d for d in self.watch_dids + self.wanted_dids if not _DID_RE.match(d)]
        if bad:
            raise ConfigError(f"bluesky feed {name!r}: not a DID: {bad[0]!r}")
        for url in (self.jetstream_url, self.service_url):
            if not url.startswith(("ws://", "wss://", "http://", "https://")):
                raise ConfigError(f"bluesky feed {name!r}: not a URL: {url!r}")
        self.own_did: str | None = str(opts["did"]) if opts.get("did") else None
        self.cursor_every_events = int(opts.get("cursor_every_events", CURSOR_EVERY_EVENTS))
        self.cursor_every_seconds = float(opts.get("cursor_every_seconds", CURSOR_EVERY_SECONDS))
        self.rewind_us = int(float(opts.get("rewind_seconds", REWIND_US / 1e6)) * 1_000_000)
        self.request_timeout = float(opts.get("timeout_seconds", 30))
        self._keyword_re = (
            re.compile("|".join(rf"(?<!\w){re.escape(k)}(?!\w)" for k in self.keywords),
                       re.IGNORECASE)
            if self.keywords else None
        )
        self._watch = frozenset(self.watch_dids)
        self._http: aiohttp.ClientSession | None = None
        self._session: dict[str, str] | None = None
        self._session_lock: asyncio.Lock | None = None
        self._resolved_own = False
        self.sessions_created = 0
        self.sessions_refreshed = 0

    def _list(self, key: str) -> list[str]:
        value = self.options.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"bluesky feed {self.name!r}: {key} must be a list")
        return [str(v).strip() for v in value if str(v).strip()]

    # -- what counts as ours ------------------------------------------------------------

    @property
    def can_send(self) -> bool:
        return bool(self.handle and self.secret("password_env") and self.service_url)

    def wanted(self, mention: Mention) -> bool:
        """True when this post is about us (mention facet, reply/quote, keyword), not by us."""
        if self.own_did and mention.author == self.own_did:
            return False
        commit = mention.raw.get("commit") if isinstance(mention.raw, dict) else None
        record = commit.get("record") if isinstance(commit, dict) else None
        if not isinstance(record, dict):
            record = {}
        if self._watch and (mentioned_dids(record) & self._watch
                            or _referenced_dids(record) & self._watch):
            return True
        return bool(self._keyword_re and self._keyword_re.search(mention.text))

    def subscribe_url(self, cursor_us: int | None) -> URL:
        """The Jetstream URL for one connection (cursor already rewound)."""
        url = URL(self.jetstream_url)
        query = [("wantedCollections", POST_NSID)]
        query += [("wantedDids", did) for did in self.wanted_dids]
        if cursor_us is not None:
            query.append(("cursor", str(cursor_us)))
        return url.extend_query(query)

    # -- ingest -------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = make_session(
                # no total: the websocket lives for hours; XRPC calls pass their own
                timeout=aiohttp.ClientTimeout(total=None, connect=15.0),
                headers={"User-Agent": "heatdesk (+https://github.com/heatdesk)"},
            )
        return self._http

    async def _resolve_own_did(self) -> None:
        if self.own_did or self._resolved_own or not self.handle:
            return
        self._resolved_own = True
        try:
            status, _, body = await self._xrpc("GET", "com.atproto.identity.resolveHandle",
                                               params={"handle": self.handle}, timeout=5)
        except _Unreachable:
            return
        if status == 200 and isinstance(body, dict) and isinstance(body.get("did"), str):
            self.own_did = body["did"]

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        start = None
        if cursor and cursor.strip().isdigit():
            start = max(1, int(cursor) - self.rewind_us)
        await self._resolve_own_did()
        if self.own_did:
            self._watch = self._watch | {self.own_did}  # mentions of our own account, always
        if not self._watch and not self._keyword_re:
            raise StreamError(f"bluesky feed {self.name!r} has nothing to watch: set "
                              "watch_dids or keywords (or a handle that resolves)")
        url = self.subscribe_url(start)
        try:
            # The session has no read timeout (the socket lives for hours; the heartbeat
            # finds a silent one): bound the handshake itself, or a server that accepts
            # the connection and never answers the upgrade holds the feed for ever.
            ws = await asyncio.wait_for(self._client().ws_connect(
                url, heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            ), self.request_timeout)
        except TimeoutError:
            raise StreamError(f"jetstream did not answer within {self.request_timeout:g} s") \
                from None
        except aiohttp.WSServerHandshakeError as exc:
            retry = _retry_after(exc.headers or {}) if exc.status in (429, 503) else None
            raise StreamError(f"jetstream refused the connection: HTTP {exc.status}",
                              retry_after=retry) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise StreamError(f"cannot connect to jetstream: {type(exc).__name__}: {exc}") \
                from None
        latest = int(cursor) if cursor and cursor.strip().isdigit() else None
        dirty = False
        since_cursor = 0
        last_cursor_at = time.monotonic()
        loop_error: str | None = None
        try:
            while True:
                wait = max(0.05, self.cursor_every_seconds - (time.monotonic() - last_cursor_at))
                try:
                    msg = await ws.receive(timeout=wait if dirty else None)
                except TimeoutError:
                    msg = None
                if msg is not None:
                    if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        time_us, item = parse_frame(msg.data)
                        if time_us is not None and (latest is None or time_us > latest):
                            latest = time_us
                            dirty = True
                        since_cursor += 1
                        if isinstance(item, Mention):
                            if self.wanted(item):
                                item.source = self.name
                                yield item
                        elif item is not None:
                            yield item
                    elif msg.type == aiohttp.WSMsgType.ERROR:
                        loop_error = f"jetstream connection failed: {ws.exception()}"
                        break
                    else:  # CLOSE / CLOSING / CLOSED
                        if ws.close_code not in (None, 1000):
                            loop_error = f"jetstream closed the connection ({ws.close_code})"
                        break
                now = time.monotonic()
                if dirty and (since_cursor >= self.cursor_every_events
                              or now - last_cursor_at >= self.cursor_every_seconds):
                    yield Cursor(str(latest))
                    dirty = False
                    since_cursor = 0
                    last_cursor_at = now
            if dirty and latest is not None:
                yield Cursor(str(latest))
        finally:
            await ws.close()
        if loop_error:
            raise StreamError(loop_error)

    # -- XRPC ---------------------------------------------------------------------------

    async def _xrpc(self, method: str, nsid: str, *, params: Mapping[str, str] | None = None,
                    body: Any = None, token: str | None = None,
                    timeout: float | None = None) -> tuple[int, Mapping[str, str], Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if body is not None:
            kwargs["json"] = body
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout or self.request_timeout)
        try:
            async with self._client().request(method, f"{self.service_url}/xrpc/{nsid}",
                                              **kwargs) as resp:
                raw = await read_body(resp, MAX_FRAME_BYTES)
                try:
                    data = json.loads(raw) if raw and len(raw) <= MAX_FRAME_BYTES else None
                except (ValueError, RecursionError):
                    data = None
                return resp.status, resp.headers, data
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _Unreachable(f"{nsid}: {type(exc).__name__}: {exc}".rstrip(": ")) from None

    def _scrub(self, text: str) -> str:
        """``text`` without the app password or the session's tokens (a server may echo
        what it was sent in its error message)."""
        session = self._session or {}
        return scrub(text, [self.secret("password_env"), session.get("accessJwt"),
                            session.get("refreshJwt")])

    def _lock(self) -> asyncio.Lock:
        if self._session_lock is None:
            self._session_lock = asyncio.Lock()
        return self._session_lock

    def _accept_session(self, body: Any, what: str) -> dict[str, str]:
        if not (isinstance(body, dict) and isinstance(body.get("accessJwt"), str)
                and isinstance(body.get("refreshJwt"), str) and isinstance(body.get("did"), str)):
            raise DeliveryError(f"bluesky {what} answered without a session", retryable=True)
        self._session = {"accessJwt": body["accessJwt"], "refreshJwt": body["refreshJwt"],
                         "did": body["did"], "handle": str(body.get("handle") or self.handle)}
        self.own_did = self.own_did or body["did"]
        return self._session

    async def _create_session(self) -> dict[str, str]:
        password = self.secret("password_env")
        if not self.handle or not password:
            raise DeliveryError(
                f"bluesky feed {self.name!r} has no handle or password "
                f"({self.options.get('password_env') or 'password_env'} is not set)",
                retryable=False)
        try:
            status, headers, body = await self._xrpc(
                "POST", "com.atproto.server.createSession",
                body={"identifier": self.handle, "password": password})
        except _Unreachable as exc:
            raise DeliveryError(f"bluesky login: {exc}", retryable=True) from None
        if status == 200:
            self.sessions_created += 1
            return self._accept_session(body, "createSession")
        error, message = _error_of(body)
        if status == 429:
            raise DeliveryError("bluesky login rate-limited", retryable=True,
                                retry_after=_retry_after(headers, 60.0))
        if status >= 500:
            raise DeliveryError(f"bluesky login: HTTP {status}", retryable=True)
        raise DeliveryError(self._scrub(f"bluesky login failed for {self.handle}: "
                                        f"{error or status} {message}".rstrip()),
                            retryable=False)

    async def _refresh_session(self, stale_access: str) -> dict[str, str]:
        """A fresh session after ``stale_access`` expired (refresh, else log in again)."""
        async with self._lock():
            session = self._session
            if session and session["accessJwt"] != stale_access:
                return session  # someone else refreshed meanwhile
            if session:
                try:
                    status, _, body = await self._xrpc(
                        "POST", "com.atproto.server.refreshSession",
                        token=session["refreshJwt"])
                except _Unreachable as exc:
                    raise DeliveryError(f"bluesky session refresh: {exc}", retryable=True) \
                        from None
                if status == 200:
                    self.sessions_refreshed += 1
                    return self._accept_session(body, "refreshSession")
                self._session = None
            return await self._create_session()

    async def _ensure_session(self) -> dict[str, str]:
        async with self._lock():
            if self._session is None:
                await self._create_session()
            assert self._session is not None
            return self._session

    async def _authed(self, method: str, nsid: str, *, params=None,
                      body=None) -> tuple[int, Mapping[str, str], Any]:
        """An authenticated call; on ExpiredToken (or any 401) refresh the session and try
        once more (refreshSession, else a new createSession)."""
        session = await self._ensure_session()
        status, headers, data = await self._xrpc(method, nsid, params=params, body=body,
                                                 token=session["accessJwt"])
        error, _ = _error_of(data)
        if (status == 400 and error in ("ExpiredToken", "InvalidToken")) or status == 401:
            session = await self._refresh_session(session["accessJwt"])
            status, headers, data = await self._xrpc(method, nsid, params=params, body=body,
                                                     token=session["accessJwt"])
        return status, headers, data

    # -- send ---------------------------------------------------------------------------

    def check_text(self, text: str) -> None:
        """Raise a non-retryable DeliveryError when ``text`` cannot be a Bluesky post."""
        if not text.strip():
            raise DeliveryError("the reply is empty", retryable=False)
        count = grapheme_count(text)
        if count > MAX_GRAPHEMES:
            raise DeliveryError(
                f"reply is {count} characters; Bluesky allows {MAX_GRAPHEMES} "
                f"(shorten it by {count - MAX_GRAPHEMES})", retryable=False)
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise DeliveryError(f"reply is {size} bytes; Bluesky allows {MAX_TEXT_BYTES}",
                                retryable=False)

    async def _reply_refs(self, item: OutboxItem, target: Mention | None) -> dict[str, Any]:
        """{root, parent} strong refs for a reply to ``target`` (or item.in_reply_to)."""
        uri = target.external_id if target is not None else item.in_reply_to
        if not uri or not split_at_uri(uri):
            raise DeliveryError("no Bluesky post to reply to (the customer's post is unknown)",
                                retryable=False)
        record: Any = None
        cid = None
        raw = target.raw if target is not None and isinstance(target.raw, dict) else {}
        commit = raw.get("commit")
        if isinstance(commit, dict):
            cid = _str(commit.get("cid"))
            record = commit.get("record")
        if not cid:  # came in another way (replay, webhook): ask the network
            did, collection, rkey = split_at_uri(uri)  # type: ignore[misc]
            try:
                status, _, body = await self._xrpc(
                    "GET", "com.atproto.repo.getRecord",
                    params={"repo": did, "collection": collection, "rkey": rkey})
            except _Unreachable as exc:
                raise DeliveryError(f"cannot look up the post to reply to: {exc}",
                                    retryable=True) from None
            if status != 200 or not isinstance(body, dict) or not _str(body.get("cid")):
                raise DeliveryError(f"cannot find the post to reply to ({uri}): HTTP {status}",
                                    retryable=status >= 500)
            cid = body["cid"]
            record = body.get("value")
        parent = {"uri": uri, "cid": cid}
        root = None
        if isinstance(record, dict) and isinstance(record.get("reply"), dict):
            root = _strong_ref(record["reply"].get("root"))
        return {"root": root or parent, "parent": parent}

    async def _facets(self, text: str) -> list[dict[str, Any]]:
        facets = link_facets(text)
        for start, end, handle in handles_in(text)[:10]:
            try:
                status, _, body = await self._xrpc(
                    "GET", "com.atproto.identity.resolveHandle", params={"handle": handle},
                    timeout=5)
            except _Unreachable:
                continue
            if status == 200 and isinstance(body, dict) and _str(body.get("did")):
                facets.append({"index": _byte_span(text, start, end),
                               "features": [{"$type": MENTION_FEATURE, "did": body["did"]}]})
        facets.sort(key=lambda f: f["index"]["byteStart"])
        return facets

    async def _existing(self, repo: str, rkey: str) -> Delivery | None:
        """Our post at ``rkey`` when it already exists (a previous attempt landed)."""
        try:
            status, _, body = await self._xrpc(
                "GET", "com.atproto.repo.getRecord",
                params={"repo": repo, "collection": POST_NSID, "rkey": rkey})
        except _Unreachable:
            return None
        if status == 200 and isinstance(body, dict) and body.get("uri"):
            return self._delivery(str(body["uri"]), repo, rkey)
        return None

    def _delivery(self, uri: str, repo: str, rkey: str) -> Delivery:
        return Delivery(remote_id=uri, remote_url=f"https://bsky.app/profile/{repo}/post/{rkey}")

    async def send(self, item: OutboxItem, target: Mention | None) -> Delivery:
        if item.kind == "dm":
            raise DeliveryError("Bluesky direct messages are not supported; reply in public "
                                "or take the conversation offline another way",
                                retryable=False)
        text = item.text
        self.check_text(text)
        if not self.can_send:
            raise DeliveryError(f"bluesky feed {self.name!r} holds no credentials "
                                "(handle, password_env)", retryable=False)
        refs = await self._reply_refs(item, target)
        session = await self._ensure_session()
        repo = session["did"]
        rkey = deterministic_rkey(item)
        if item.attempts > 1 or item.error:
            done = await self._existing(repo, rkey)
            if done is not None:
                return done
        record: dict[str, Any] = {
            "$type": POST_NSID,
            "text": text,
            "createdAt": _iso(datetime.now(UTC)),
            "reply": refs,
        }
        facets = await self._facets(text)
        if facets:
            record["facets"] = facets
        try:
            status, headers, body = await self._authed(
                "POST", "com.atproto.repo.createRecord",
                body={"repo": repo, "collection": POST_NSID, "rkey": rkey, "record": record})
        except _Unreachable as exc:
            raise DeliveryError(f"bluesky createRecord: outcome unknown ({exc}); will check "
                                "before trying again", retryable=True) from None
        if status == 200 and isinstance(body, dict) and body.get("uri"):
            return self._delivery(str(body["uri"]), repo, rkey)
        error, message = _error_of(body)
        maybe_exists = (status >= 500 or status == 409 or error in (
            "RecordAlreadyExists", "AlreadyExists", "InvalidSwap", "DuplicateCreate")
            or "already exist" in message.lower())
        if maybe_exists:
            done = await self._existing(repo, rkey)
            if done is not None:
                return done
        if status == 429:
            raise DeliveryError("bluesky rate limit reached", retryable=True,
                                retry_after=_retry_after(headers, 60.0))
        if status >= 500:
            raise DeliveryError(self._scrub(f"bluesky createRecord: HTTP {status} {error}"
                                            .rstrip()),
                                retryable=True, retry_after=_retry_after(headers))
        if status == 200:
            raise DeliveryError("bluesky createRecord answered without a uri", retryable=True)
        reason = f"bluesky refused the reply: {error or 'HTTP ' + str(status)}"
        if message:
            reason += f": {message}"
        raise DeliveryError(self._scrub(reason), retryable=False)

    async def aclose(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None
