"""Fake feed server on 127.0.0.1: RSS 2.0 / Atom with ETag, Last-Modified and 304s.

``FakeFeedServer.url`` serves ``self.body`` with a strong ``ETag`` (a hash of the body)
and a ``Last-Modified``; a request whose ``If-None-Match`` matches (or, without one, whose
``If-Modified-Since`` is not older) gets ``304 Not Modified`` with no body. Every request's
headers are recorded. Faults: ``faults`` is a queue of (status, headers) answers served
before the feed (e.g. 503 with Retry-After, 429, 500); ``etag=False`` / ``last_modified=False``
turn the validators off; set ``body`` to anything (a broken document) at any time.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from html import escape

from aiohttp import web


def rss(items: list[dict], *, title: str = "Comments on Acme Blog",
        link: str = "https://blog.example.com/", language: str | None = "en-us") -> bytes:
    """An RSS 2.0 document like WordPress's comment feed (items newest first)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           ('<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/">'),
           "<channel>", f"<title>{escape(title)}</title>", f"<link>{escape(link)}</link>"]
    if language:
        out.append(f"<language>{language}</language>")
    for item in items:
        out.append("<item>")
        if "title" in item:
            out.append(f"<title>{escape(item['title'])}</title>")
        if "link" in item:
            out.append(f"<link>{escape(item['link'])}</link>")
        if "author" in item:
            out.append(f"<dc:creator><![CDATA[{item['author']}]]></dc:creator>")
        if "date" in item:
            out.append(f"<pubDate>{format_datetime(item['date'], usegmt=True)}</pubDate>")
        if "guid" in item:
            perma = "true" if item["guid"].startswith("http") else "false"
            out.append(f'<guid isPermaLink="{perma}">{escape(item["guid"])}</guid>')
        if "description" in item:
            out.append(f"<description><![CDATA[{item['description']}]]></description>")
        if "content" in item:
            out.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        out.append("</item>")
    out += ["</channel>", "</rss>"]
    return "\n".join(out).encode("utf-8")


def atom(entries: list[dict], *, title: str = "Acme forum") -> bytes:
    """An Atom 1.0 document (entries newest first)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">',
           f"<title>{escape(title)}</title>", "<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>",
           "<updated>2026-11-22T10:00:00Z</updated>"]
    for e in entries:
        out.append("<entry>")
        out.append(f"<title type=\"html\">{escape(e.get('title', ''))}</title>")
        out.append(f"<id>{escape(e['id'])}</id>")
        if "link" in e:
            out.append(f'<link href="{escape(e["link"])}"/>')
        if "updated" in e:
            out.append(f"<updated>{e['updated'].isoformat().replace('+00:00', 'Z')}</updated>")
        if "author" in e:
            out.append(f"<author><name>{escape(e['author'])}</name></author>")
        if "summary" in e:
            out.append(f'<summary type="html">{escape(e["summary"])}</summary>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")


class FakeFeedServer:
    """Serves one feed at ``/feed`` with conditional-GET support and faults."""

    def __init__(self, body: bytes = b"", content_type: str = "application/rss+xml"):
        self.body = body
        self.content_type = content_type
        self.etag = True
        self.last_modified = True
        self.modified_at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def set_body(self, body: bytes, modified_at: datetime | None = None) -> None:
        self.body = body
        self.modified_at = modified_at or datetime.now(UTC).replace(microsecond=0)

    @property
    def current_etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/feed", self._feed)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/feed"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _answer(self, status: int, **kw) -> web.Response:
        self.statuses.append(status)
        return web.Response(status=status, **kw)

    async def _feed(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.faults:
            status, headers = self.faults.pop(0)
            return self._answer(status, headers=headers, text="unavailable")
        headers = {}
        if self.etag:
            headers["ETag"] = self.current_etag
        if self.last_modified:
            headers["Last-Modified"] = format_datetime(self.modified_at, usegmt=True)
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if self.etag and inm is not None:
            if inm == self.current_etag:
                return self._answer(304, headers=headers)
        elif self.last_modified and ims is not None:
            try:
                if parsedate_to_datetime(ims) >= self.modified_at:
                    return self._answer(304, headers=headers)
            except (TypeError, ValueError):
                pass
        return self._answer(200, body=self.body, headers=headers,
                            content_type=self.content_type, charset="utf-8")
