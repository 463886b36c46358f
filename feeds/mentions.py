"""Mention JSON (CONTRACTS.md) to `Mention`: the one validator replay and webhook share.

Required: platform, id, author, text, created_at (ISO 8601). Unknown keys are ignored but
kept with the raw payload. Text is kept verbatim (controls, NUL, bidi, markup brackets);
only text that is not valid Unicode (lone surrogates) or absurdly large is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from store.records import Mention

MAX_TEXT_CHARS = 100_000
MAX_FIELD_CHARS = 2_000
_REQUIRED = ("platform", "id", "author", "text", "created_at")


class InvalidMention(ValueError):
    """The payload is not a valid Mention; the message says why in one line."""


def parse_time(value: Any) -> datetime:
    """An ISO 8601 timestamp as aware UTC (naive times are taken as UTC)."""
    if not isinstance(value, str) or not value:
        raise InvalidMention("created_at must be an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMention(f"created_at is not ISO 8601: {value[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _text_field(obj: dict, key: str, limit: int, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidMention(f"missing required field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidMention(f"{key} must be a string, not {type(value).__name__}")
    value = str(value)
    if required and key != "text" and not value.strip():
        raise InvalidMention(f"{key} must not be empty")
    if len(value) > limit:
        raise InvalidMention(f"{key} is too long ({len(value)} characters, limit {limit})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMention(f"{key} is not valid Unicode (lone surrogate)") from None
    return value


def mention_from_json(obj: Any, *, source: str | None = None) -> Mention:
    """Validate one decoded Mention JSON object; raise InvalidMention with the reason."""
    if not isinstance(obj, dict):
        raise InvalidMention(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in _REQUIRED if k not in obj or obj[k] is None]
    if missing:
        raise InvalidMention("missing required field(s): " + ", ".join(missing))
    platform = _text_field(obj, "platform", 40, True).strip().lower()
    external_id = _text_field(obj, "id", MAX_FIELD_CHARS, True)
    author = _text_field(obj, "author", MAX_FIELD_CHARS, True)
    text = _text_field(obj, "text", MAX_TEXT_CHARS, True)
    created_at = parse_time(obj["created_at"])
    followers = obj.get("followers", 0)
    if followers is None:
        followers = 0
    if isinstance(followers, bool) or not isinstance(followers, (int, float)):
        raise InvalidMention("followers must be a number")
    followers = max(0, min(int(followers), 10**12))
    in_reply_to = _text_field(obj, "in_reply_to", MAX_FIELD_CHARS, False)
    return Mention(
        platform=platform,
        external_id=external_id,
        author=author,
        text=text,
        created_at=created_at,
        author_name=_text_field(obj, "author_name", MAX_FIELD_CHARS, False),
        followers=followers,
        url=_text_field(obj, "url", MAX_FIELD_CHARS, False),
        in_reply_to=in_reply_to or None,
        lang=_text_field(obj, "lang", 40, False),
        raw=obj,
        deleted=bool(obj.get("deleted", False)),
        source=source,
    )


def mention_from_line(line: str | bytes, *, source: str | None = None) -> Mention:
    """Parse one JSON line into a Mention; raise InvalidMention with the reason."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidMention(f"not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidMention(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InvalidMention("not JSON: nested too deeply") from None
    return mention_from_json(obj, source=source)


def mention_to_json(m: Mention) -> dict[str, Any]:
    """The Mention JSON for ``m`` (as in the export), without the raw payload."""
    return {
        "platform": m.platform,
        "id": m.external_id,
        "author": m.author,
        "author_name": m.author_name,
        "followers": m.followers,
        "text": m.text,
        "created_at": m.created_at.isoformat().replace("+00:00", "Z"),
        "url": m.url,
        "in_reply_to": m.in_reply_to,
        "lang": m.lang,
        "sentiment": m.sentiment,
        "deleted": m.deleted,
        "edited": m.edited,
    }
