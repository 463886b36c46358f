"""Small HTTP helpers the network adapters share (aiohttp).

* `make_session` — a `ClientSession` whose every call has a timeout (connect, read, total),
  a User-Agent, and no cookie jar (an API client has no business keeping cookies).
* `stream_timeout` — the timeout for a long-lived stream: no total limit, but an *idle*
  read limit, so a connection that goes silent (not even a heartbeat) ends.
* `retry_after` / `parse_retry_value` — how long the server asked us to wait, from
  ``Retry-After`` (delta seconds or an HTTP date) or ``X-RateLimit-Reset`` / ``RateLimit-Reset``
  (ISO 8601 as Mastodon sends it, epoch seconds or milliseconds, or delta seconds).
* `parse_link_header` — RFC 8288 ``Link`` header → ``{rel: url}``.
* `html_to_text` — post HTML (Mastodon ``content``) → plain text: entities decoded,
  ``<br>`` a newline, paragraphs separated by a blank line, every tag dropped.
* `scrub` — a message with secret values replaced, for anything that may be logged.

Backoff with jitter is not here: the one copy is `feeds.supervisor.backoff_delay`.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import aiohttp

USER_AGENT = "heatdesk/0.1 (+https://github.com/heatdesk; social response desk)"

#: Every REST call: 10 s to connect, 30 s without a byte, 60 s in all.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10, sock_connect=10, sock_read=30)

#: A waited-for value is never taken to be longer than this (a broken header must not
#: park a feed for a week).
MAX_WAIT_SECONDS = 24 * 3600.0


def make_session(
    *,
    timeout: aiohttp.ClientTimeout | None = None,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.ClientSession:
    """A client session with timeouts on every call (create it inside a running loop)."""
    base = {"User-Agent": USER_AGENT}
    base.update(headers or {})
    return aiohttp.ClientSession(
        timeout=timeout or DEFAULT_TIMEOUT,
        headers=base,
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )


def stream_timeout(idle: float, connect: float = 10.0) -> aiohttp.ClientTimeout:
    """For long-lived streams: no total limit, ``connect`` to connect, ``idle`` between reads."""
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect,
                                 sock_read=idle)


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body read to its end, but at most ``limit + 1`` bytes (longer than ``limit``
    means too big). ``resp.content.read(n)`` alone is not enough: it returns what has
    arrived so far, which for a body sent in several network reads is only its start."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await resp.content.read(min(1 << 16, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


# -- waiting times ------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse_retry_value(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from one header value, or None when it cannot be read.

    Accepts delta seconds (``"120"``), epoch seconds (``"1795000000"``) or milliseconds,
    ISO 8601 (``"2026-08-01T13:55:00.940463Z"``, Mastodon's ``X-RateLimit-Reset``) and
    HTTP dates (``"Wed, 21 Oct 2026 07:28:00 GMT"``). A time in the past gives 0.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > 100:
        return None
    now = time.time() if now is None else now
    if _NUMBER.match(text):
        number = float(text)
        if number >= 1e12:  # epoch milliseconds
            wait = number / 1000.0 - now
        elif number >= 1e9:  # epoch seconds (after 2001): nobody asks to wait 30 years
            wait = number - now
        else:
            wait = number
        return _clamp(wait)
    when: datetime | None = None
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return _clamp(when.timestamp() - now)
    except (OverflowError, OSError, ValueError):
        return None


def _clamp(wait: float) -> float | None:
    if math.isnan(wait):
        return None
    return max(0.0, min(wait, MAX_WAIT_SECONDS))


#: The headers `retry_after` reads, in this order: ``Retry-After`` first, then the reset time.
RETRY_HEADERS = ("Retry-After", "X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset")


def retry_after(headers: Mapping[str, str], now: float | None = None, *,
                names: Iterable[str] = RETRY_HEADERS) -> float | None:
    """Seconds the server asked us to wait: the first of ``names`` that `parse_retry_value`
    can read (by default ``Retry-After`` first, then the reset time), else None."""
    for key in names:
        value = headers.get(key)
        if value is not None:
            wait = parse_retry_value(value, now)
            if wait is not None:
                return wait
    return None


# -- Link headers ---------------------------------------------------------------------------

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')
_PARAM = re.compile(r';\s*([A-Za-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]*))')


def parse_link_header(value: str | None) -> dict[str, str]:
    """``Link: <u1>; rel="next", <u2>; rel="prev"`` → ``{"next": u1, "prev": u2}``."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK.finditer(value):
        url, params = match.group(1).strip(), match.group(2) or ""
        for pm in _PARAM.finditer(params):
            if pm.group(1).lower() == "rel":
                for rel in (pm.group(2) if pm.group(2) is not None else pm.group(3)).split():
                    links.setdefault(rel.lower(), url)
    return links


def query_param(url: str, name: str) -> str | None:
    """The first value of query parameter ``name`` in ``url``, or None."""
    try:
        values = parse_qs(urlsplit(url).query).get(name)
    except ValueError:
        return None
    return values[0] if values else None


# -- HTML to text ---------------------------------------------------------------------------

_BLOCK = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4",
                    "h5", "h6", "tr", "table", "section", "article", "header", "footer"})
_SKIP = frozenset({"script", "style", "template", "head", "title"})


_PARA = object()  # a paragraph boundary: at most one blank line
_LINE = object()  # a list item boundary: start on a new line


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append(_LINE)
        elif tag in _BLOCK:
            self.parts.append(_PARA)

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag.lower() == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "li":
            self.parts.append(_LINE)
        elif tag in _BLOCK:
            self.parts.append(_PARA)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    def text(self) -> str:
        out: list[str] = []
        trailing = 0  # newlines at the end of ``out``
        for part in self.parts:
            if part is _PARA or part is _LINE:
                want = 2 if part is _PARA else 1
                if out and trailing < want:
                    out.append("\n" * (want - trailing))
                    trailing = want
            elif part:
                out.append(part)
                stripped = part.rstrip("\n")
                trailing = trailing + len(part) if not stripped else len(part) - len(stripped)
        return "".join(out)


_TAG = re.compile(r"<[^>]*>")


def html_to_text(content: str) -> str:
    """Plain text of post HTML: entities decoded, ``<br>`` → newline, ``<p>`` → paragraphs.

    Mastodon hides parts of long links in ``<span class="invisible">``; their text is kept,
    so a link reads in full. Never raises: on HTML the parser cannot take, tags are
    stripped by pattern and entities decoded.
    """
    if not content:
        return ""
    if "<" not in content and "&" not in content:
        return content.strip()
    try:
        parser = _TextParser()
        parser.feed(content)
        parser.close()
        text = parser.text()
    except Exception:  # noqa: BLE001 - malformed markup from the network must not crash
        text = html.unescape(_TAG.sub("", content.replace("<br", "\n<br")))
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


# -- secrets ---------------------------------------------------------------------------------

def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret value (4+ characters) replaced by ``[redacted]``, also in
    the forms a server may echo it back in: URL-encoded (a form body) or JSON-escaped."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in (secret, quote_plus(secret), quote(secret, safe=""),
                         json.dumps(secret)[1:-1]):
                text = text.replace(form, "[redacted]")
    return text


def short(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters, for error messages from servers."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
