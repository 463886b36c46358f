"""Escalation announcements to Slack-compatible incoming webhooks (``POST {"text": …}``).

`announce` posts one message. Slack answers ``200 ok`` on success and a plain-text error
code otherwise (``400 invalid_payload``, ``400 no_text``, ``403 action_prohibited``,
``404 channel_not_found`` / ``no_service``, ``410 channel_is_archived``, ``500
rollup_error``); compatible servers (Mattermost, Rocket.Chat, Discord's ``/slack``) answer
``ok``, nothing, or JSON. Outcomes as `DeliveryError`: 429 → retryable with ``retry_after``
from ``Retry-After``; 5xx, 408, timeouts and network errors → retryable; any other 4xx or a
2xx whose body is an error code → not retryable, with that code as the reason.

The webhook URL is a secret (the path is the credential): it never appears in an error.

Text sent to Slack is ``mrkdwn``: ``&``, ``<`` and ``>`` must be escaped as ``&amp;``,
``&lt;``, ``&gt;``, otherwise customer text could make links (``<https://evil|bank>``) or
pings (``<!channel>``, ``<@U123>``). `announce` escapes by default; `escalation_text`
builds an already escaped one-line summary (pass it with ``escape=False``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import aiohttp

from feeds.base import DeliveryError
from feeds.http import retry_after, scrub, short

MAX_TEXT = 40_000  # Slack truncates message text beyond this
TIERS = {0: "agent", 1: "supervisor", 2: "executive"}
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]{1,80}$")
_INVISIBLE = {"\u200e", "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff"}


def escape_slack(text: str) -> str:
    """``&``, ``<``, ``>`` escaped the way Slack's mrkdwn requires (nothing else)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: Any, limit: int | None = None) -> str:
    """``text`` as one clean line: controls, line breaks and bidi overrides become spaces,
    runs of whitespace collapse, and it is cut to ``limit`` characters with ``…``."""
    if text is None:
        return ""
    out = []
    for ch in str(text):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch in _INVISIBLE or (cat == "Cf" and (
                "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069")):
            out.append(" ")
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    line = " ".join("".join(out).split())
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


def escalation_text(
    case_id: int | str,
    tier: int,
    *,
    customer: str | None = None,
    platform: str | None = None,
    summary: str | None = None,
    heat: float | None = None,
    agent: str | None = None,
    note: str | None = None,
    phone: bool = False,
    url: str | None = None,
    brand: str | None = None,
    limit: int = 160,
) -> str:
    """A plain one-line escalation announcement, already escaped for Slack.

    Every piece of it may be hostile (customer text, names, the note, the URL); each is
    made one line, cut to a sensible length and escaped, so it can neither break the line
    nor inject Slack markup (links, ``<!channel>``, user pings).
    """
    role = TIERS.get(int(tier), f"tier {tier}")
    parts = []
    head = f"[{one_line(brand, 60)}] " if brand else ""
    head += f"Case {one_line(case_id, 40)} escalated to tier {int(tier)} ({role})"
    if agent:
        head += f" by {one_line(agent, 60)}"
    parts.append(head)
    who = " ".join(p for p in (one_line(platform, 20), one_line(customer, 80)) if p)
    if who:
        parts.append(who)
    if heat is not None:
        parts.append(f"heat {float(heat):.0f}")
    if summary:
        parts.append(f"“{one_line(summary, limit)}”")
    if note:
        parts.append(f"note: {one_line(note, limit)}")
    if phone:
        parts.append("phone call-back requested")
    if url:
        parts.append(one_line(url, 300))
    return escape_slack(" · ".join(parts))


def _reason(status: int, body: str) -> str:
    text = body.strip()
    if _ERROR_CODE.match(text):
        return f"slack webhook: HTTP {status} {text}"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        code = data.get("error") or data.get("message") or data.get("text")
        if isinstance(code, str):
            return f"slack webhook: HTTP {status} {short(code, 120)}"
    return f"slack webhook: HTTP {status}" + (f" {short(text, 120)}" if text and "<" not in text
                                              else "")


async def announce(url: str, text: str, session: aiohttp.ClientSession, *,
                   escape: bool = True, timeout: float | None = 15.0) -> None:
    """Post ``text`` to the incoming webhook at ``url``; raise `DeliveryError` on failure.

    ``escape`` (default) escapes ``&``, ``<``, ``>`` first; pass ``escape=False`` for text
    from `escalation_text`, which is escaped already.
    """
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise DeliveryError("slack webhook: the URL is not an http(s) URL", retryable=False)
    if not text or not text.strip():
        raise DeliveryError("slack webhook: no_text (the message is empty)", retryable=False)
    body_text = escape_slack(text) if escape else text
    if len(body_text) > MAX_TEXT:
        body_text = body_text[: MAX_TEXT - 1] + "…"
    # the URL, and any long path segment of it (Slack's token part), never reach a message
    secrets = [url] + [seg for seg in url.split("?", 1)[0].split("/")[3:] if len(seg) >= 12]
    kwargs: dict[str, Any] = {}
    if timeout is not None:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
    try:
        async with session.post(url, json={"text": body_text}, allow_redirects=False,
                                **kwargs) as resp:
            raw = await resp.content.read(4096)
            status, headers = resp.status, resp.headers
    except TimeoutError:
        raise DeliveryError("slack webhook: timed out", retryable=True) from None
    except aiohttp.InvalidURL:
        raise DeliveryError("slack webhook: the URL is not valid", retryable=False) from None
    except aiohttp.ClientError as exc:
        reason = "cannot connect" if isinstance(exc, aiohttp.ClientConnectorError) else \
            type(exc).__name__
        raise DeliveryError(scrub(f"slack webhook: network error ({reason})", secrets),
                            retryable=True) from None
    body = raw.decode("utf-8", "replace")
    stripped = body.strip()
    if 200 <= status < 300:
        if stripped in ("", "ok"):
            return
        if _ERROR_CODE.match(stripped):
            raise DeliveryError(_reason(status, body), retryable=False)
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            return  # some compatible servers answer with a page or a message: it was taken
        if isinstance(data, dict) and (data.get("ok") is False or data.get("success") is False):
            raise DeliveryError(scrub(_reason(status, body), secrets), retryable=False)
        return
    reason = scrub(_reason(status, body), secrets)
    if status == 429:
        raise DeliveryError(reason, retryable=True, retry_after=retry_after(headers))
    if status >= 500 or status == 408:
        raise DeliveryError(reason, retryable=True, retry_after=retry_after(headers))
    raise DeliveryError(reason, retryable=False)
