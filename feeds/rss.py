"""RSS / Atom: comments (or any entries) from a polled feed URL.

Polling
    Every ``interval_seconds`` (default 300) the feed is fetched with aiohttp using a
    conditional GET: the ``ETag`` and ``Last-Modified`` of the last good answer go back as
    ``If-None-Match`` / ``If-Modified-Since``, and ``304 Not Modified`` means nothing new.
    feedparser only parses the bytes (wrapped in a BytesIO, so a body can never be taken
    for a URL or a file name); it never touches the network. 429/503 honour
    ``Retry-After`` or a rate-limit reset header (`feeds.http.retry_after`); other HTTP
    errors and network failures raise `StreamError` for the supervisor. Bodies over
    `MAX_BYTES` are refused.

Entries → Mention
    external_id = the entry's ``id`` (guid) or else its link; an id that is neither a URL
    nor a URN/tag URI (e.g. ``"42"``) is prefixed with the feed URL (``<url>#42``) so two
    feeds can never collide. author = the entry's author, else the feed's title;
    text = title + the summary (or content) turned from HTML into plain text with entities
    decoded; created_at = published, else updated, else now; url = link; lang = the feed's
    language. raw keeps the entry's plain fields (JSON-safe). New entries are yielded oldest
    first (feeds list newest first).

Cursor
    JSON ``{"etag", "modified", "seen"}`` with the last `SEEN_LIMIT` entry ids (long ids are
    stored as a SHA-1 digest), yielded after every poll that changed something. Entries
    already seen are skipped, so a feed that ignores conditional GET still yields each entry
    once; the store dedupes the rest.

A feed that does not parse and has no entries (feedparser's ``bozo`` with nothing usable)
is reported once as `Malformed` per distinct body, and its validators are not kept, so the
next poll fetches it in full again. RSS comments have no reply API: ``can_send`` is False.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import aiohttp
import feedparser

from feeds.base import ConfigError, Cursor, FeedAdapter, FeedItem, Malformed, StreamError
from feeds.http import retry_after
from store.records import Mention

log = logging.getLogger("heatdesk.feeds.rss")

PLATFORM = "rss"
SEEN_LIMIT = 500
MAX_BYTES = 10 * 1024 * 1024
MAX_TEXT = 20_000
DEFAULT_INTERVAL = 300.0
USER_AGENT = "heatdesk-feed/0.1 (+https://github.com/heatdesk; RSS reader)"


# -- HTML to text ------------------------------------------------------------------------

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "blockquote", "pre", "tr", "table", "h1", "h2",
          "h3", "h4", "h5", "h6", "hr", "section", "article", "header", "footer", "dd", "dt"}
_SKIP = {"script", "style", "head", "title", "noscript", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, blocks as lines.

    Not `feeds.http.html_to_text` on purpose: feed HTML (blog comments, WordPress) is
    compacted — runs of spaces and ``&nbsp;`` become one space, every block edge is a line
    break, never more than one blank line — where Mastodon's keeps the post's own spacing
    (``&nbsp;`` stays, list items on consecutive lines).
    """
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; never let a hostile fragment stop the feed
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# -- entries -----------------------------------------------------------------------------


def _when(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _s(value: Any, limit: int = 2000) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value[:limit] or None
    return None


def entry_id(entry: Mapping[str, Any], feed_url: str) -> str | None:
    """The entry's id (or link), made globally unique when it is a bare local id."""
    ident = _s(entry.get("id"), 1000) or _s(entry.get("link"), 1000)
    if ident is None:
        title, summary = _s(entry.get("title")) or "", _s(entry.get("summary"), 5000) or ""
        if not (title or summary):
            return None
        ident = "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    if "://" in ident or ident.lower().startswith(("urn:", "tag:")):
        return ident
    return f"{feed_url}#{ident}"


def entry_mention(entry: Mapping[str, Any], feed: Mapping[str, Any], feed_url: str,
                  *, now: datetime | None = None, source: str | None = None) -> Mention | None:
    """One feedparser entry as a Mention (None when it has no identity at all)."""
    ident = entry_id(entry, feed_url)
    if ident is None:
        return None
    detail = entry.get("author_detail")
    author = (_s(entry.get("author"), 300)
              or (_s(detail.get("name"), 300) if isinstance(detail, Mapping) else None)
              or _s(feed.get("title"), 300) or feed_url)
    title = html_to_text(_s(entry.get("title"), 5000) or "")
    body_html = None
    content = entry.get("content")
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        body_html = _s(content[0].get("value"), MAX_TEXT * 4)
    summary = _s(entry.get("summary"), MAX_TEXT * 4)
    body = html_to_text(summary or body_html or "")
    if title and body.startswith(title):
        text = body
    else:
        text = "\n\n".join(part for part in (title, body) if part)
    # dict.get: feedparser's own .get("updated*") falls back to published with a warning
    created = (_when(entry.get("published_parsed")) or _when(dict.get(entry, "updated_parsed"))
               or now or datetime.now(UTC))
    lang = _s(feed.get("language"), 40)
    raw = {
        "feed": feed_url,
        "feed_title": _s(feed.get("title"), 500),
        "id": _s(entry.get("id"), 1000),
        "link": _s(entry.get("link"), 2000),
        "title": _s(entry.get("title"), 5000),
        "author": _s(entry.get("author"), 300),
        "published": _s(entry.get("published"), 100),
        "updated": _s(dict.get(entry, "updated"), 100),
        "summary": summary,
    }
    return Mention(
        platform=PLATFORM,
        external_id=ident,
        author=author,
        author_name=author,
        text=text[:MAX_TEXT],
        created_at=created,
        url=_s(entry.get("link"), 2000),
        lang=lang,
        raw={k: v for k, v in raw.items() if v is not None},
        source=source,
    )


def parse_feed(body: bytes, feed_url: str, headers: Mapping[str, str] | None = None,
               *, source: str | None = None) -> tuple[list[Mention], str | None]:
    """(mentions newest-last, problem) for a feed body; problem is set when unusable."""
    response_headers = {"content-location": feed_url}
    for key in ("content-type", "content-language"):
        if headers and headers.get(key):
            response_headers[key] = headers[key]
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not stop us
        return [], f"feed could not be parsed: {type(exc).__name__}: {exc}"
    entries = parsed.get("entries") or []
    if not entries:
        exc = parsed.get("bozo_exception")
        # An empty feed served with a sloppy Content-Type (text/html) or charset is still a
        # feed; a parse error, or a document that is no feed at all, is reported.
        benign = isinstance(exc, (feedparser.NonXMLContentType,
                                  feedparser.CharacterEncodingOverride))
        if parsed.get("bozo") and not (benign and parsed.get("version")):
            return [], f"not a feed: {type(exc).__name__}: {exc}"[:300]
        if not parsed.get("version"):
            # feedparser reads an HTML page (a maintenance or login page served with 200)
            # without complaint; with no feed version it is not a feed, and is reported.
            return [], "not an RSS or Atom feed"
        return [], None
    now = datetime.now(UTC)
    out = []
    for entry in reversed(entries):
        m = entry_mention(entry, parsed.get("feed") or {}, feed_url, now=now, source=source)
        if m is not None:
            out.append(m)
    return out, None


# -- cursor ------------------------------------------------------------------------------


def _seen_key(external_id: str) -> str:
    if len(external_id) <= 200:
        return external_id
    return "sha1:" + hashlib.sha1(external_id.encode()).hexdigest()


def load_cursor(value: str | None) -> tuple[str | None, str | None, list[str]]:
    """(etag, modified, seen) from a cursor string; anything unreadable starts fresh."""
    if not value:
        return None, None, []
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None, None, []
    if not isinstance(data, dict):
        return None, None, []
    etag = data.get("etag") if isinstance(data.get("etag"), str) else None
    modified = data.get("modified") if isinstance(data.get("modified"), str) else None
    seen = [s for s in data.get("seen") or [] if isinstance(s, str)] \
        if isinstance(data.get("seen"), list) else []
    return etag, modified, seen[-SEEN_LIMIT:]


def dump_cursor(etag: str | None, modified: str | None, seen: list[str]) -> str:
    return json.dumps({"etag": etag, "modified": modified, "seen": seen[-SEEN_LIMIT:]},
                      separators=(",", ":"), ensure_ascii=False)


# -- the adapter -------------------------------------------------------------------------


class RssFeed(FeedAdapter):
    """Entries of an RSS or Atom feed, polled with conditional GET."""

    kind = "rss"
    platform = PLATFORM

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        super().__init__(name, options, env)
        url = self.options.get("url")
        if not url or not str(url).startswith(("http://", "https://")):
            raise ConfigError(f"rss feed {name!r} needs an http(s) url")
        self.url = str(url)
        try:
            self.interval = float(self.options.get("interval_seconds", DEFAULT_INTERVAL))
        except (TypeError, ValueError):
            raise ConfigError(f"rss feed {name!r}: interval_seconds must be a number") from None
        if self.interval < 0:
            raise ConfigError(f"rss feed {name!r}: interval_seconds must be 0 or more")
        self.timeout = float(self.options.get("timeout_seconds", 30))
        self.user_agent = str(self.options.get("user_agent") or USER_AGENT)
        self._http: aiohttp.ClientSession | None = None
        self._bad_body: str | None = None
        self.polls = 0

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": self.user_agent,
                         "Accept": "application/rss+xml, application/atom+xml, "
                                   "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"},
            )
        return self._http

    async def fetch(self, etag: str | None, modified: str | None
                    ) -> tuple[int, Mapping[str, str], bytes]:
        """One conditional GET: (status, headers, body). Raise StreamError on failure."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        try:
            async with self._client().get(self.url, headers=headers) as resp:
                if resp.status == 304:
                    return 304, resp.headers, b""
                if resp.status in (429, 503):
                    raise StreamError(f"{self.url}: HTTP {resp.status}",
                                      retry_after=retry_after(resp.headers))
                if resp.status >= 400:
                    raise StreamError(f"{self.url}: HTTP {resp.status}",
                                      retry_after=3600.0 if resp.status == 410 else None)
                size = resp.content_length
                if size is not None and size > MAX_BYTES:
                    raise StreamError(f"{self.url}: feed is {size} bytes (limit {MAX_BYTES})")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise StreamError(f"{self.url}: feed larger than {MAX_BYTES} bytes")
                return resp.status, resp.headers, bytes(body)
        except StreamError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise StreamError(f"{self.url}: {type(exc).__name__}: {exc}".rstrip(": ")) from None

    async def poll(self, etag: str | None, modified: str | None, seen: list[str]
                   ) -> tuple[list[FeedItem], str | None, str | None, list[str], bool]:
        """One poll: (items, etag, modified, seen, changed)."""
        self.polls += 1
        status, headers, body = await self.fetch(etag, modified)
        if status == 304:
            return [], etag, modified, seen, False
        mentions, problem = parse_feed(body, self.url, headers, source=self.name)
        if problem:
            digest = hashlib.sha1(body).hexdigest()
            items: list[FeedItem] = []
            if digest != self._bad_body:
                self._bad_body = digest
                items.append(Malformed(self.url, problem))
            # forget the validators so the next poll fetches the whole (hopefully fixed) feed
            return items, None, None, seen, etag is not None or modified is not None
        self._bad_body = None
        known = set(seen)
        fresh: list[FeedItem] = []
        for m in mentions:
            key = _seen_key(m.external_id)
            if key in known:
                continue
            known.add(key)
            seen = seen + [key]
            fresh.append(m)
        new_etag = headers.get("ETag") or None
        new_modified = headers.get("Last-Modified") or None
        changed = bool(fresh) or new_etag != etag or new_modified != modified
        return fresh, new_etag, new_modified, seen[-SEEN_LIMIT:], changed

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        etag, modified, seen = load_cursor(cursor)
        while True:
            items, etag, modified, seen, changed = await self.poll(etag, modified, seen)
            for item in items:
                yield item
            if changed:
                yield Cursor(dump_cursor(etag, modified, seen))
            await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None
