"""Hostile input never crashes the parsers: it is reported and skipped, valid input is kept.

Property-based (hypothesis) over the Mention JSON validator (replay lines and webhook
bodies share it), the replay feed end to end, and config loading.
"""

from __future__ import annotations

import asyncio
import json
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.base import Cursor, Malformed
from feeds.mentions import InvalidMention, mention_from_json, mention_from_line
from feeds.replay import ReplayFeed
from store.config import ConfigError, parse_config
from store.records import Mention

HOSTILE = st.sampled_from([
    "\x1b[2J\x1b[H", "\x1b]52;c;ZXZpbA==\x07", "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\u202e\u2066", "\u200b\u200d", "[bold red]x[/]", "\x00", "\x9b31m", "👩‍👩‍👧‍👦", "日本語テキスト",
    "\r\n\t", "{{}}", "%s%n", "\ud7ff",
])
TEXT = st.one_of(st.text(max_size=300), HOSTILE, st.lists(HOSTILE, max_size=6).map("".join))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_are_rejected_cleanly(raw):
    try:
        m = mention_from_line(raw)
    except InvalidMention as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(m, Mention)


@settings(max_examples=400)
@given(JSONISH)
def test_wrong_shapes_and_types_are_rejected_cleanly(obj):
    try:
        mention_from_json(obj)
    except InvalidMention as exc:
        assert str(exc)


@settings(max_examples=300)
@given(text=TEXT, author=TEXT.filter(lambda a: a.strip()), ext=st.text(min_size=1, max_size=30)
       .filter(str.strip), followers=st.integers(min_value=-10, max_value=10**15))
def test_valid_mentions_keep_their_text_verbatim(text, author, ext, followers):
    obj = {"platform": "mastodon", "id": ext, "author": author, "text": text,
           "created_at": "2026-11-22T10:00:00Z", "followers": followers}
    try:
        line = json.dumps(obj)
    except (TypeError, ValueError):
        return
    try:
        m = mention_from_line(line)
    except InvalidMention as exc:
        assert "surrogate" in str(exc)  # only text that is not valid Unicode is refused
        return
    assert m.text == text and m.author == author
    assert m.followers >= 0


def test_deep_nesting_and_huge_text_are_refused_with_reasons():
    deep = "[" * 100_000 + "]" * 100_000
    try:
        mention_from_line(deep)
    except InvalidMention as exc:
        assert "not JSON" in str(exc) or "expected a JSON object" in str(exc)
    huge = json.dumps({"platform": "x", "id": "1", "author": "a", "text": "a" * 200_000,
                       "created_at": "2026-11-22T10:00:00Z"})
    try:
        mention_from_line(huge)
    except InvalidMention as exc:
        assert "too long" in str(exc)
    else:
        raise AssertionError("a 200k-character text must be refused")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.binary(max_size=80), st.just(b"\xff\xfe bad utf8"),
                                st.just(b'{"platform":"m","id":"x","author":"a","text":"t",'
                                        b'"created_at":"2026-11-22T10:00:00Z"}')), max_size=30))
def test_replay_reports_every_bad_line_by_number_and_keeps_going(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("r") / "f.jsonl"
    clean = [ln.replace(b"\n", b" ").replace(b"\r", b" ") for ln in lines]
    path.write_bytes(b"\n".join(clean) + b"\n")
    feed = ReplayFeed("replay", {"path": str(path)})

    async def collect():
        return [item async for item in feed.stream(None)]

    items = asyncio.run(collect())
    mentions = [i for i in items if isinstance(i, Mention)]
    bad = [i for i in items if isinstance(i, Malformed)]
    nonblank = [ln for ln in clean if ln.strip()]
    assert len(mentions) + len(bad) == len(nonblank)
    for report in bad:
        number = int(report.where.rsplit(":", 1)[1])
        assert 1 <= number <= len(clean)
    assert isinstance(items[-1], Cursor)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["desk", "sla", "heat", "feeds", "escalation", "replies",
                                        "keys", "wallboard", "qa", "x"]), JSONISH, max_size=6))
def test_config_of_any_shape_loads_or_gives_one_clear_error(data):
    try:
        parse_config(data)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_config_text_never_crashes_the_loader(text):
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    try:
        parse_config(data)
    except ConfigError:
        pass
