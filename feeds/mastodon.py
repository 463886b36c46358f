"""Mastodon: mentions over the streaming API (SSE), catch-up over REST, replies as statuses.

Options (``[[feeds]]`` with ``kind = "mastodon"``)
    ``base_url`` (required), ``token_env`` (the *name* of the env var holding the access
    token), ``streams`` (default ``["user"]``): ``"user"``, ``"user:notification"`` (the
    same, notifications only: less traffic), ``"hashtag:acme"``, ``"hashtag:acme:local"``.
    Optional: ``streaming_url`` (else discovered from ``GET /api/v2/instance``
    ``configuration.urls.streaming``, else ``base_url``), ``idle_timeout`` (90 s),
    ``connect_timeout`` (10 s), ``request_timeout`` (30 s), ``page_limit`` (40, max 80),
    ``backfill`` (40: how many recent mentions a first start with no cursor takes; 0 = none).

Ingest
    Every ``stream(cursor)`` call is one connection's worth: it opens every configured SSE
    stream (``Authorization: Bearer``, ``Accept: text/event-stream``), *then* catches up over
    REST, and only then yields live events. Opening the streams before the catch-up closes
    the window in which a mention posted between "catch-up done" and "stream subscribed"
    would be lost; the live events that arrive meanwhile wait in the socket and a bounded
    queue. Catch-up is ``GET /api/v1/notifications?types[]=mention&min_id=<cursor>``:
    with ``min_id`` Mastodon returns the page *immediately newer* than the cursor, newest
    first inside the page, and its ``Link`` header's ``rel="prev"`` URL (``min_id`` = the
    newest id on the page) is the next newer page. ``rel="next"`` (``max_id``) points *older*,
    back across the cursor, so catch-up never follows it. Pages are requested until one
    comes back empty; each page is yielded oldest first, followed by a `Cursor` (its newest
    notification id), so a long catch-up that breaks resumes where it got to. Only the
    ``min_id`` of the Link URL is used, on our own ``base_url``: the token is never sent to a
    host named in a header. With no cursor (first start) the newest ``backfill`` mentions
    are taken and the cursor set.

    Live: ``notification`` events of type ``mention`` become a `Mention` of their status;
    every notification id (mention or not) advances the cursor, yielded after the mention.
    Other notification types and the user stream's ``update``/``status.update`` (home
    timeline) are ignored. On hashtag streams ``update`` and ``status.update`` (edited) are
    mentions; reblogs are skipped. ``delete`` (any stream) becomes `Deleted`; the store
    ignores deletes of posts it never saw. A frame that cannot be parsed is `Malformed`.
    The cursor is the newest notification id (``"109..."``) while no hashtag stream has a
    position; once one has, it is a JSON object holding both, ``{"notification": "109...",
    "tags": {"hashtag:acme": "110..."}}``, so a restarted desk catches each hashtag up via
    ``GET /api/v1/timelines/tag/:tag?min_id=…`` from the newest status it stored. A plain
    id from an older store still reads as the notification cursor.

    Duplicates are possible by design (a streamed mention that the catch-up also returns,
    a server that repeats an event): the store is unique on (platform, status id).

    Failures raise `StreamError` for the supervisor: HTTP errors (429 and 503 with
    ``retry_after`` from ``Retry-After`` or ``X-RateLimit-Reset``), connect timeouts, and
    an idle stream (no byte, not even a heartbeat, for ``idle_timeout`` s). A stream that
    the server closes cleanly ends ``stream`` normally; the supervisor reconnects.

Replies (``send``)
    ``POST /api/v1/statuses`` (JSON) with ``status`` = ``@acct`` + text (unless the text
    already starts with that mention), ``in_reply_to_id`` = the customer's latest status,
    ``visibility`` public (reply, followup, ack) or direct (dm), and the outbox item's
    ``Idempotency-Key`` — identical on every retry, so a retry after a lost response returns
    the status already created instead of posting twice (Mastodon keeps keys for an hour).
    2xx → `Delivery` (id, url); 429 → retryable with ``retry_after``; 5xx, 408, timeouts and
    network errors → retryable; other 4xx → not retryable, with the server's ``error``.

Secrets: the token is only ever put in the ``Authorization`` header. It is scrubbed from
every error message, never logged, and not part of the adapter's ``repr``.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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
from feeds.http import (
    html_to_text,
    make_session,
    parse_link_header,
    query_param,
    read_body,
    retry_after,
    scrub,
    short,
    stream_timeout,
)
from feeds.mentions import InvalidMention, mention_from_json
from store.records import Mention, OutboxItem

log = logging.getLogger("heatdesk.feeds.mastodon")

PLATFORM = "mastodon"
PUBLIC_KINDS = frozenset({"reply", "followup", "ack"})
DIRECT_KINDS = frozenset({"dm"})
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_LINE_CHARS = 4 * 1024 * 1024
LIVE_QUEUE = 1000
_REDIRECTS = (301, 302, 303, 307, 308)


# -- ids ------------------------------------------------------------------------------------

def id_key(value: str) -> tuple[int, int, str]:
    """Sort key for Mastodon ids: numeric strings by value, anything else after, by text."""
    if value.isascii() and value.isdigit():
        stripped = value.lstrip("0") or "0"
        return (0, len(stripped), stripped)
    return (1, 0, value)


def id_newer(a: str | None, b: str | None) -> bool:
    """True when id ``a`` is newer than ``b`` (None is older than anything)."""
    if a is None:
        return False
    if b is None:
        return True
    return id_key(a) > id_key(b)


def _clean_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    if not text or len(text) > 100 or any(c.isspace() for c in text):
        return None
    return text


# -- server-sent events -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event (``event`` is ``"message"`` when none was named)."""

    event: str
    data: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class SSEError:
    """Something the parser had to drop (an absurdly long line or event)."""

    reason: str


_EOL = re.compile(r"\r\n|\r|\n")


class SSEParser:
    """Incremental ``text/event-stream`` parser (the WHATWG rules, as Mastodon speaks it).

    Lines end in CRLF, LF or CR (also split across chunks); UTF-8 split across chunks is
    reassembled and invalid bytes become U+FFFD; a leading BOM is dropped. Lines starting
    with ``:`` are comments (Mastodon's ``:)`` greeting and ``:thump`` heartbeats, which come
    without a blank line after them) and are ignored wherever they appear. ``data`` lines
    accumulate, joined by ``\\n``; a blank line dispatches. An unfinished event at the end of
    the stream is discarded, as the spec says. Never raises.
    """

    def __init__(self, max_line: int = MAX_LINE_CHARS, max_event: int = MAX_LINE_CHARS):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._skip_lf = False
        self._discarding = False
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._too_big = False
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self.max_line = max_line
        self.max_event = max_event

    def feed(self, chunk: bytes | str) -> list[SSEEvent | SSEError]:
        """Parse a chunk; return the events (and errors) it completed."""
        text = chunk if isinstance(chunk, str) else self._decoder.decode(chunk)
        if not text:
            return []
        if not self._started:
            if not self._buf and text.startswith("\ufeff"):
                text = text[1:]
            self._started = bool(text) or self._started
        if self._skip_lf:
            self._skip_lf = False
            text = text.removeprefix("\n")
        out: list[SSEEvent | SSEError] = []
        if "\n" not in text and "\r" not in text:
            self._append_partial(text, out)
            return out
        pieces = _EOL.split(text)
        if text.endswith("\r"):
            self._skip_lf = True
        first = True
        for piece in pieces[:-1]:
            if first:
                first = False
                if self._discarding:
                    self._discarding = False
                    continue
                line = self._buf + piece
                self._buf = ""
                if len(line) > self.max_line:
                    out.append(SSEError(f"line longer than {self.max_line} characters dropped"))
                    continue
            else:
                line = piece
                if len(line) > self.max_line:
                    out.append(SSEError(f"line longer than {self.max_line} characters dropped"))
                    continue
            self._line(line, out)
        self._append_partial(pieces[-1], out)
        return out

    def _append_partial(self, text: str, out: list) -> None:
        if self._discarding:
            return
        self._buf += text
        if len(self._buf) > self.max_line:
            self._buf = ""
            self._discarding = True
            out.append(SSEError(f"line longer than {self.max_line} characters dropped"))

    def _line(self, line: str, out: list) -> None:
        if not line:
            self._dispatch(out)
            return
        if line.startswith(":"):
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._size += len(value) + 1
            if self._size > self.max_event:
                self._too_big = True
                self._data.clear()
            elif not self._too_big:
                self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\x00" not in value:
                self.last_id = value
        elif field == "retry":
            if value.isascii() and value.isdigit():
                self.retry_ms = int(value)

    def _dispatch(self, out: list) -> None:
        if self._too_big:
            out.append(SSEError(f"event larger than {self.max_event} characters dropped"))
        elif self._data:
            out.append(SSEEvent(self._event or "message", "\n".join(self._data), self.last_id))
        self._event = ""
        self._data = []
        self._size = 0
        self._too_big = False

    def close(self) -> list[SSEEvent | SSEError]:
        """End of stream: flush the decoder; an unfinished event is discarded."""
        tail = self._decoder.decode(b"", final=True)
        out = self.feed(tail) if tail else []
        self._buf = ""
        self._data = []
        return out


def parse_sse(data: bytes | str) -> list[SSEEvent | SSEError]:
    """All events of a complete SSE body (for fixtures and tests)."""
    parser = SSEParser()
    return parser.feed(data) + parser.close()


# -- statuses and notifications ------------------------------------------------------------------

def _attachment_lines(status: Mapping[str, Any]) -> list[str]:
    media = status.get("media_attachments")
    if not isinstance(media, list):
        return []
    lines = []
    for att in media[:20]:
        if not isinstance(att, dict):
            continue
        kind = att.get("type") if isinstance(att.get("type"), str) else "attachment"
        desc = att.get("description")
        lines.append(f"[{kind}: {short(desc, 300)}]" if isinstance(desc, str) and desc.strip()
                     else f"[{kind}]")
    return lines


def status_to_mention(status: Any, *, source: str | None = None, edited: bool = False) -> Mention:
    """A Mastodon Status entity as a `Mention`; raises `InvalidMention` with the reason.

    author = ``account.acct`` (``user`` for local accounts, ``user@domain`` for remote),
    author_name = ``display_name``, followers = ``followers_count``, text = ``content`` as
    plain text (a content warning first, as ``CW: …``; attachments as ``[image: alt]``
    lines), url = ``url`` (else ``uri``), in_reply_to = ``in_reply_to_id``, lang =
    ``language``, raw = the status JSON as received. ``edited`` for ``status.update`` events
    and statuses that carry ``edited_at``.
    """
    if not isinstance(status, dict):
        raise InvalidMention(f"status must be a JSON object, not {type(status).__name__}")
    account = status.get("account")
    if not isinstance(account, dict):
        raise InvalidMention("status has no account object")
    status_id = _clean_id(status.get("id"))
    if status_id is None:
        raise InvalidMention("status has no usable id")
    content = status.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise InvalidMention("status content must be a string")
    text = html_to_text(content)
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"CW: {spoiler.strip()}\n\n{text}" if text else f"CW: {spoiler.strip()}"
    extra = _attachment_lines(status)
    if extra:
        text = (text + "\n\n" if text else "") + "\n".join(extra)
    followers = account.get("followers_count")
    if isinstance(followers, bool) or not isinstance(followers, (int, float)) or (
            isinstance(followers, float) and not math.isfinite(followers)):
        followers = 0
    display = account.get("display_name")
    url = status.get("url") if isinstance(status.get("url"), str) else None
    if not url and isinstance(status.get("uri"), str):
        url = status["uri"]
    lang = status.get("language")
    obj = {
        "platform": PLATFORM,
        "id": status_id,
        "author": account.get("acct"),
        "author_name": display if isinstance(display, str) and display.strip() else None,
        "followers": max(0, min(int(followers), 10**12)),
        "text": text,
        "created_at": status.get("created_at"),
        "url": url,
        "in_reply_to": _clean_id(status.get("in_reply_to_id")),
        "lang": lang if isinstance(lang, str) and lang else None,
    }
    if not isinstance(obj["author"], str):
        raise InvalidMention("status account has no acct")
    mention = mention_from_json(obj, source=source)
    mention.raw = status
    mention.edited = bool(edited or status.get("edited_at"))
    return mention


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One configured stream: its name in the config, kind, path and query."""

    name: str
    kind: str  # user | hashtag
    path: str
    params: tuple[tuple[str, str], ...] = ()
    tag: str | None = None


def parse_stream_spec(spec: Any) -> StreamSpec:
    """``"user"``, ``"user:notification"``, ``"hashtag:acme"``, ``"hashtag:acme:local"``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"mastodon stream must be a string like 'user' or 'hashtag:acme', "
                          f"not {spec!r}")
    parts = spec.strip().split(":")
    head = parts[0].lower()
    if head == "user" and len(parts) == 1:
        return StreamSpec("user", "user", "/api/v1/streaming/user")
    if head == "user" and len(parts) == 2 and parts[1].lower() == "notification":
        return StreamSpec("user:notification", "user", "/api/v1/streaming/user/notification")
    if head == "hashtag" and len(parts) in (2, 3):
        tag = parts[1].strip().lstrip("#")
        if not tag or len(tag) > 200 or any(c.isspace() or c in "/?&#" for c in tag):
            raise ConfigError(f"mastodon stream {spec!r}: not a hashtag")
        if len(parts) == 3:
            if parts[2].lower() != "local":
                raise ConfigError(f"mastodon stream {spec!r}: only ':local' may follow the tag")
            return StreamSpec(f"hashtag:{tag}:local", "hashtag", "/api/v1/streaming/hashtag/local",
                              (("tag", tag),), tag)
        return StreamSpec(f"hashtag:{tag}", "hashtag", "/api/v1/streaming/hashtag",
                          (("tag", tag),), tag)
    raise ConfigError(f"mastodon stream {spec!r} is not one of user, user:notification, "
                      "hashtag:TAG, hashtag:TAG:local")


def parse_event(kind: str, event: str, data: str, *, where: str = "mastodon",
                source: str | None = None) -> tuple[list[FeedItem], str | None]:
    """One streamed event → (feed items, notification id to advance the cursor to or None).

    ``kind`` is the stream kind (``user`` or ``hashtag``). Never raises: anything that
    cannot be parsed comes back as one `Malformed`.
    """
    try:
        return _parse_event(kind, event, data, where, source)
    except InvalidMention as exc:
        return [Malformed(f"{where} {event}", str(exc))], None
    except Exception as exc:  # noqa: BLE001 - hostile input must never stop the feed
        return [Malformed(f"{where} {event}", f"{type(exc).__name__}: {short(str(exc), 120)}")], None


def _loads(data: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise InvalidMention(f"not JSON: {msg}") from None


def parse_notification(note: Any, *, where: str = "mastodon",
                       source: str | None = None) -> tuple[list[FeedItem], str | None]:
    """A decoded Notification entity → (items, its id); raises `InvalidMention` if unusable."""
    if not isinstance(note, dict):
        raise InvalidMention("notification must be a JSON object")
    note_id = _clean_id(note.get("id"))
    if note.get("type") != "mention":
        if note_id is None:
            raise InvalidMention("notification without a usable id")
        return [], note_id
    if note.get("status") is None:
        return [Malformed(f"{where} notification {note_id or '?'}",
                          "mention notification without a status")], note_id
    try:
        mention = status_to_mention(note.get("status"), source=source)
    except InvalidMention as exc:
        return [Malformed(f"{where} notification {note_id or '?'}", str(exc))], note_id
    return [mention], note_id


def _parse_event(kind, event, data, where, source):
    if event == "delete":
        raw = data.strip()
        if raw.startswith('"'):
            raw = _loads(raw)
        status_id = _clean_id(raw)
        if status_id is None:
            raise InvalidMention("delete without a usable status id")
        return [Deleted(PLATFORM, status_id)], None
    if kind == "user":
        if event != "notification":
            return [], None  # update / status.update (home timeline), filters_changed, …
        return parse_notification(_loads(data), where=where, source=source)
    if event in ("update", "status.update"):
        status = _loads(data)
        if isinstance(status, dict) and status.get("reblog"):
            return [], None  # a boost is not a new mention
        return [status_to_mention(status, source=source, edited=event == "status.update")], None
    return [], None


# -- the adapter ------------------------------------------------------------------------------------

def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float,
            name: str) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"mastodon feed {name!r}: {key} must be a number, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"mastodon feed {name!r}: {key} must be between {low:g} and {high:g}")
    return float(value)


def _http_url(value: Any, name: str, key: str) -> URL:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"mastodon feed {name!r} needs {key} (e.g. https://mastodon.example)")
    try:
        url = URL(value.strip().rstrip("/"))
    except (ValueError, TypeError):
        raise ConfigError(f"mastodon feed {name!r}: {key} is not a URL: {value!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"mastodon feed {name!r}: {key} must be an http(s) URL: {value!r}")
    return url.with_query(None).with_fragment(None)


def _error_text(body: bytes) -> str:
    """The server's ``error`` (and details) from an error body, in one short line."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text = data["error"]
        if isinstance(data.get("error_description"), str):
            text += f": {data['error_description']}"
        return short(text, 300)
    raw = body[:400].decode("utf-8", "replace")
    if "<" in raw:
        raw = html_to_text(raw)
    return short(raw, 200) if raw.strip() else ""


def _starts_with_mention(text: str, acct: str) -> bool:
    head = f"@{acct}".lower()
    body = text.lstrip()
    if not body.lower().startswith(head):
        return False
    rest = body[len(head):]
    return not rest or not (rest[0].isalnum() or rest[0] in "_@")


class MastodonFeed(FeedAdapter):
    """Mentions from a Mastodon account's streams; replies and DMs as statuses."""

    kind = "mastodon"
    platform = PLATFORM

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        super().__init__(name, options, env)
        opts = self.options
        self.base_url = _http_url(opts.get("base_url"), name, "base_url")
        streaming = opts.get("streaming_url")
        self.streaming_url = _http_url(
            str(streaming).replace("wss://", "https://", 1).replace("ws://", "http://", 1),
            name, "streaming_url") if streaming else None
        streams = opts.get("streams", ["user"])
        if isinstance(streams, str):
            streams = [streams]
        if not isinstance(streams, (list, tuple)) or not streams:
            raise ConfigError(f"mastodon feed {name!r}: streams must be a non-empty list")
        self.streams = [parse_stream_spec(s) for s in streams]
        self.idle_timeout = _number(opts, "idle_timeout", 90, 0.01, 3600, name)
        self.connect_timeout = _number(opts, "connect_timeout", 10, 0.01, 300, name)
        self.request_timeout = _number(opts, "request_timeout", 30, 0.01, 600, name)
        self.page_limit = int(_number(opts, "page_limit", 40, 1, 80, name))
        self.backfill = int(_number(opts, "backfill", 40, 0, 80, name))
        self._session: aiohttp.ClientSession | None = None
        self._discovered: URL | None = None
        self._tag_since: dict[str, str] = {}
        self._cursor: str | None = None

    def __repr__(self) -> str:
        return (f"MastodonFeed(name={self.name!r}, base_url={str(self.base_url)!r}, "
                f"streams={[s.name for s in self.streams]!r})")

    # -- the resume cursor -----------------------------------------------------------------------

    def _resume(self, cursor: str | None) -> None:
        """Take positions from a stored cursor: a notification id, or the JSON object
        ``_mark`` writes once a hashtag stream has a position too."""
        note, tags = cursor, {}
        if cursor is not None and cursor.lstrip().startswith("{"):
            try:
                data = json.loads(cursor)
                note = _clean_id(data.get("notification")) if data.get("notification") else None
                tags = {str(k): v for k, v in (data.get("tags") or {}).items()
                        if _clean_id(v) is not None}
            except (ValueError, AttributeError, TypeError, RecursionError):
                log.warning("mastodon %s: stored cursor is not readable (%s); starting over",
                            self.name, short(cursor, 80))
                note, tags = None, {}
        self._cursor = note
        wanted = {s.name for s in self.streams if s.kind == "hashtag"}
        for name, since in tags.items():
            if name in wanted and id_newer(str(since), self._tag_since.get(name)):
                self._tag_since[name] = str(since)

    def _mark(self) -> Cursor | None:
        """A cursor for everything yielded so far (None while there is no position)."""
        tags = {s.name: self._tag_since[s.name] for s in self.streams
                if s.kind == "hashtag" and s.name in self._tag_since}
        if not tags:
            return Cursor(self._cursor) if self._cursor is not None else None
        return Cursor(json.dumps({"notification": self._cursor, "tags": tags},
                                 sort_keys=True, separators=(",", ":")))

    # -- plumbing ------------------------------------------------------------------------------

    def _token(self) -> str | None:
        return self.secret("token_env")

    def _token_hint(self) -> str:
        return f" (the access token was rejected; check ${self.options.get('token_env')})"

    def _scrub(self, text: str) -> str:
        return scrub(text, [self._token()])

    @property
    def can_send(self) -> bool:
        return bool(self._token())

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = make_session(timeout=aiohttp.ClientTimeout(
                total=self.request_timeout, connect=self.connect_timeout,
                sock_connect=self.connect_timeout, sock_read=self.request_timeout))
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def _api(self, path: str) -> URL:
        return self.base_url.with_path(self.base_url.path.rstrip("/") + path)

    async def _get_json(self, url: URL, params: list[tuple[str, str]], token: str,
                        what: str) -> tuple[Any, Mapping[str, str]]:
        """GET ``url`` → (decoded JSON, headers); every failure is a `StreamError`."""
        try:
            async with self._http().get(url, params=params, headers=self._auth(token),
                                        allow_redirects=False) as resp:
                body = await read_body(resp, MAX_BODY_BYTES)
                status, headers = resp.status, resp.headers
        except TimeoutError:
            raise StreamError(f"{what}: timed out") from None
        except aiohttp.ClientError as exc:
            raise StreamError(self._scrub(f"{what}: {type(exc).__name__}: {short(str(exc))}")) from None
        if status == 429:
            raise StreamError(f"{what}: rate limited (HTTP 429)", retry_after=retry_after(headers))
        if status >= 300:
            hint = self._token_hint() if status == 401 else ""
            detail = _error_text(body)
            raise StreamError(self._scrub(f"{what}: HTTP {status}{hint}"
                                          + (f": {detail}" if detail else "")),
                              retry_after=retry_after(headers) if status >= 500 else None)
        if len(body) > MAX_BODY_BYTES:
            raise StreamError(f"{what}: response larger than {MAX_BODY_BYTES} bytes")
        try:
            return json.loads(body.decode("utf-8", "replace")), headers
        except (ValueError, RecursionError):
            raise StreamError(f"{what}: the response is not JSON") from None

    # -- catch-up ------------------------------------------------------------------------------

    async def _pages(self, url: URL, params: list[tuple[str, str]], min_id: str, token: str,
                     what: str) -> AsyncIterator[list]:
        """Pages newer than ``min_id``, oldest page first, following ``rel="prev"``."""
        while True:
            data, headers = await self._get_json(url, params + [("min_id", min_id)], token, what)
            if not isinstance(data, list):
                raise StreamError(f"{what}: expected a JSON array")
            if not data:
                return
            yield data
            ids = [i for i in (_clean_id(x.get("id")) for x in data if isinstance(x, dict)) if i]
            newest = max(ids, key=id_key) if ids else None
            prev = parse_link_header(headers.get("Link")).get("prev")
            linked = _clean_id(query_param(prev, "min_id")) if prev else None
            step = linked if id_newer(linked, min_id) else newest
            if not id_newer(step, min_id):
                return  # no progress possible: stop rather than loop
            min_id = step

    def _notification_items(self, data: list, where: str) -> list[tuple[str | None, list[FeedItem]]]:
        """Decoded notifications → [(id, items)] sorted oldest first."""
        rows = []
        for entry in data:
            if not isinstance(entry, dict):
                rows.append((None, [Malformed(where, "notification is not a JSON object")]))
                continue
            try:
                items, note_id = parse_notification(entry, where=where, source=self.name)
            except InvalidMention as exc:
                items, note_id = [Malformed(where, str(exc))], None
            except Exception as exc:  # noqa: BLE001 - hostile input must never stop the feed
                items, note_id = [Malformed(where, f"{type(exc).__name__}: {short(str(exc))}")], None
            rows.append((note_id, items))
        rows.sort(key=lambda r: id_key(r[0]) if r[0] else (-1, 0, ""))
        return rows

    async def _catch_up(self, cursor: str | None, token: str) -> AsyncIterator[FeedItem]:
        url = self._api("/api/v1/notifications")
        where = f"mastodon:{self.name} GET /api/v1/notifications"
        what = f"mastodon {self.name}: catch-up"
        base = [("types[]", "mention")]
        if cursor is None:
            limit = max(self.backfill, 1)
            data, _ = await self._get_json(url, base + [("limit", str(limit))], token, what)
            if not isinstance(data, list):
                raise StreamError(f"{what}: expected a JSON array")
            rows = self._notification_items(data, where)
            newest = None
            for note_id, items in rows:
                if self.backfill:
                    for item in items:
                        yield item
                if id_newer(note_id, newest):
                    newest = note_id
            if newest is not None:
                self._cursor = newest
                yield self._mark()
            return
        self._cursor = cursor
        params = base + [("limit", str(self.page_limit))]
        async for page in self._pages(url, params, cursor, token, what):
            newest = self._cursor
            for note_id, items in self._notification_items(page, where):
                for item in items:
                    yield item
                if id_newer(note_id, newest):
                    newest = note_id
            if id_newer(newest, self._cursor):
                self._cursor = newest
                yield self._mark()

    async def _catch_up_tag(self, spec: StreamSpec, token: str) -> AsyncIterator[FeedItem]:
        since = self._tag_since.get(spec.name)
        if since is None:
            return
        url = self._api(f"/api/v1/timelines/tag/{quote(spec.tag or '', safe='')}")
        params = [("limit", str(self.page_limit))]
        if spec.name.endswith(":local"):
            params.append(("local", "true"))
        where = f"mastodon:{self.name} GET /api/v1/timelines/tag/{spec.tag}"
        async for page in self._pages(url, params, since, token, f"mastodon {self.name}: "
                                      f"catch-up #{spec.tag}"):
            rows = []
            for status in page:
                items, _ = self._status_items(status, where)
                sid = _clean_id(status.get("id")) if isinstance(status, dict) else None
                rows.append((sid, items))
            rows.sort(key=lambda r: id_key(r[0]) if r[0] else (-1, 0, ""))
            moved = False
            for sid, items in rows:
                for item in items:
                    yield item
                if id_newer(sid, self._tag_since.get(spec.name)):
                    self._tag_since[spec.name] = sid
                    moved = True
            if moved:
                yield self._mark()

    def _status_items(self, status: Any, where: str) -> tuple[list[FeedItem], None]:
        if isinstance(status, dict) and status.get("reblog"):
            return [], None
        try:
            return [status_to_mention(status, source=self.name)], None
        except InvalidMention as exc:
            return [Malformed(where, str(exc))], None

    # -- streaming -------------------------------------------------------------------------------

    async def _streaming_base(self, token: str) -> URL:
        if self.streaming_url is not None:
            return self.streaming_url
        if self._discovered is not None:
            return self._discovered
        try:
            data, _ = await self._get_json(self._api("/api/v2/instance"), [], token,
                                           "instance discovery")
            found = data["configuration"]["urls"]["streaming"]
            found = str(found).replace("wss://", "https://", 1).replace("ws://", "http://", 1)
            url = URL(found.rstrip("/"))
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("not an http(s) URL")
            if self.base_url.scheme == "https" and url.scheme != "https":
                raise ValueError("refusing to downgrade the streaming connection to http")
            self._discovered = url.with_path(url.path.rstrip("/"))
            return self._discovered
        except (StreamError, KeyError, TypeError, ValueError) as exc:
            log.debug("mastodon %s: streaming URL not discovered (%s); using base_url",
                      self.name, self._scrub(str(exc)))
            return self.base_url

    async def _open(self, base: URL, spec: StreamSpec, token: str) -> aiohttp.ClientResponse:
        url = base.with_path(base.path.rstrip("/") + spec.path)
        if spec.params:
            url = url.with_query(dict(spec.params))
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream",
                   "Cache-Control": "no-cache"}
        what = f"mastodon {self.name}: {spec.name} stream"
        timeout = stream_timeout(self.idle_timeout, self.connect_timeout)
        for _hop in range(4):
            try:
                resp = await self._http().get(url, headers=headers, timeout=timeout,
                                              allow_redirects=False)
            except TimeoutError:
                raise StreamError(f"{what}: could not connect (timed out)") from None
            except aiohttp.ClientError as exc:
                raise StreamError(self._scrub(f"{what}: {type(exc).__name__}: {short(str(exc))}")) from None
            if resp.status in _REDIRECTS and resp.headers.get("Location"):
                target = url.join(URL(resp.headers["Location"]))
                resp.close()
                if target.scheme not in ("http", "https") or (
                        url.scheme == "https" and target.scheme != "https"):
                    raise StreamError(f"{what}: refusing redirect to {target.scheme}://{target.host}")
                url = target
                continue
            if resp.status != 200:
                try:
                    body = await asyncio.wait_for(resp.content.read(4096), self.connect_timeout)
                except (TimeoutError, aiohttp.ClientError):
                    body = b""
                status, headers_in = resp.status, resp.headers
                resp.close()
                if status == 429:
                    raise StreamError(f"{what}: rate limited (HTTP 429)",
                                      retry_after=retry_after(headers_in))
                hint = self._token_hint() if status == 401 else ""
                detail = _error_text(body)
                raise StreamError(self._scrub(f"{what}: HTTP {status}{hint}"
                                              + (f": {detail}" if detail else "")),
                                  retry_after=retry_after(headers_in) if status >= 500 else None)
            ctype = resp.headers.get("Content-Type", "")
            if ctype and "text/event-stream" not in ctype.lower():
                resp.close()
                raise StreamError(f"{what}: the server did not answer with an event stream "
                                  f"(Content-Type {short(ctype, 60)}); check base_url / "
                                  "streaming_url")
            return resp
        raise StreamError(f"{what}: too many redirects")

    async def _read(self, spec: StreamSpec, resp: aiohttp.ClientResponse,
                    queue: asyncio.Queue) -> None:
        parser = SSEParser()
        where = f"mastodon:{self.name} {spec.name}"
        try:
            try:
                async for chunk in resp.content.iter_any():
                    for ev in parser.feed(chunk):
                        await queue.put(self._frame(spec, ev, where))
                for ev in parser.close():
                    await queue.put(self._frame(spec, ev, where))
                await queue.put(("end", spec.name, None))
            except TimeoutError:
                await queue.put(("error", StreamError(
                    f"mastodon {self.name}: {spec.name} stream idle for "
                    f"{self.idle_timeout:g} s (not even a heartbeat); reconnecting"), None))
            except aiohttp.ClientError as exc:
                await queue.put(("error", StreamError(self._scrub(
                    f"mastodon {self.name}: {spec.name} stream broke: {type(exc).__name__}: "
                    f"{short(str(exc))}")), None))
        finally:
            resp.close()

    def _frame(self, spec: StreamSpec, ev: SSEEvent | SSEError, where: str):
        if isinstance(ev, SSEError):
            return ("items", [Malformed(where, ev.reason)], None, spec)
        items, note_id = parse_event(spec.kind, ev.event, ev.data, where=where, source=self.name)
        return ("items", items, note_id, spec)

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        token = self._token()
        if not token:
            raise ConfigError(f"mastodon feed {self.name!r} has no access token: set the env "
                              f"var named by token_env ({self.options.get('token_env')!r})")
        self._resume(cursor)
        cursor = self._cursor
        queue: asyncio.Queue = asyncio.Queue(maxsize=LIVE_QUEUE)
        readers: list[asyncio.Task] = []
        opened: list[aiohttp.ClientResponse] = []
        try:
            base = await self._streaming_base(token)
            for spec in self.streams:
                opened.append(await self._open(base, spec, token))
            for spec, resp in zip(self.streams, opened):
                readers.append(asyncio.create_task(self._read(spec, resp, queue),
                                                   name=f"mastodon:{self.name}:{spec.name}"))
            if any(s.kind == "user" for s in self.streams):
                async for item in self._catch_up(cursor, token):
                    yield item
            for spec in self.streams:
                if spec.kind == "hashtag":
                    async for item in self._catch_up_tag(spec, token):
                        yield item
            while True:
                kind, payload, note_id, *rest = await queue.get()
                if kind == "error":
                    raise payload
                if kind == "end":
                    log.info("mastodon %s: %s stream closed by the server", self.name, payload)
                    return
                spec = rest[0]
                moved = False
                for item in payload:
                    if spec.kind == "hashtag" and isinstance(item, Mention):
                        if id_newer(item.external_id, self._tag_since.get(spec.name)):
                            self._tag_since[spec.name] = item.external_id
                            moved = True
                    yield item
                if note_id is not None and id_newer(note_id, self._cursor):
                    self._cursor = note_id
                    moved = True
                if moved:
                    yield self._mark()
        finally:
            for task in readers:
                task.cancel()
            if readers:
                await asyncio.gather(*readers, return_exceptions=True)
            for resp in opened:
                resp.close()

    # -- replies ---------------------------------------------------------------------------------

    async def send(self, item: OutboxItem, target: Mention | None) -> Delivery:
        token = self._token()
        if not token:
            raise DeliveryError(f"mastodon feed {self.name!r} has no access token (set the env "
                                f"var named by token_env)", retryable=False)
        if item.kind in DIRECT_KINDS:
            visibility = "direct"
        elif item.kind in PUBLIC_KINDS:
            visibility = "public"
        else:
            raise DeliveryError(f"mastodon cannot deliver an outbox item of kind {item.kind!r}",
                                retryable=False)
        acct = (target.author if target is not None else None) or item.recipient
        acct = acct.strip().lstrip("@") if acct else None
        text = item.text
        if acct and not _starts_with_mention(text, acct):
            text = f"@{acct} {text}"
        if visibility == "direct" and not acct:
            raise DeliveryError("a direct message needs a recipient", retryable=False)
        if not text.strip():
            raise DeliveryError("the message is empty", retryable=False)
        payload: dict[str, Any] = {"status": text, "visibility": visibility}
        in_reply_to = item.in_reply_to or (target.external_id if target is not None else None)
        if in_reply_to:
            payload["in_reply_to_id"] = in_reply_to
        headers = self._auth(token)
        headers["Idempotency-Key"] = item.idempotency_key
        try:
            async with self._http().post(self._api("/api/v1/statuses"), json=payload,
                                         headers=headers, allow_redirects=False) as resp:
                body = await read_body(resp, MAX_BODY_BYTES)
                status, resp_headers = resp.status, resp.headers
        except TimeoutError:
            raise DeliveryError("mastodon: timed out (the status may exist; the retry reuses "
                                "the idempotency key)", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(self._scrub(f"mastodon: network error: {type(exc).__name__}: "
                                            f"{short(str(exc))}"), retryable=True) from None
        if 200 <= status < 300:
            try:
                data = json.loads(body.decode("utf-8", "replace"))
                remote_id = _clean_id(data["id"])
                if remote_id is None:
                    raise ValueError("no id")
            except (ValueError, KeyError, TypeError, RecursionError):
                raise DeliveryError(f"mastodon: HTTP {status} but the response is not a status; "
                                    "will retry with the same idempotency key",
                                    retryable=True) from None
            url = data.get("url") if isinstance(data.get("url"), str) else None
            if not url and isinstance(data.get("uri"), str):
                url = data["uri"]
            return Delivery(remote_id, url)
        detail = _error_text(body)
        reason = f"mastodon: HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429:
            raise DeliveryError(self._scrub("mastodon: rate limited (HTTP 429)"
                                            + (f": {detail}" if detail else "")),
                                retryable=True, retry_after=retry_after(resp_headers))
        if status >= 500 or status == 408:
            raise DeliveryError(self._scrub(reason), retryable=True,
                                retry_after=retry_after(resp_headers))
        if status == 401:
            reason += f" (the access token was rejected; check ${self.options.get('token_env')})"
        elif status == 404 and in_reply_to:
            reason += " (the status being answered may have been deleted)"
        elif status in _REDIRECTS:
            reason += f" (redirected; check base_url {self.base_url})"
        raise DeliveryError(self._scrub(reason), retryable=False)
