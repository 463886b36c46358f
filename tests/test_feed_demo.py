"""The demo feed: deterministic, resumable, a realistic mix, valid Mention JSON.

No wall-clock assertions: pacing is checked by recording the delays the feed asks its
sleep hook for (on a fake clock), never by measuring how long anything took.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import feeds.demo as demo_mod
from feeds.base import ConfigError, Cursor, DeliveryError, adapter_class
from feeds.demo import DemoFeed, DemoScript, demo_mentions
from feeds.mentions import mention_from_json, mention_to_json
from store.records import Mention, OutboxItem

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
FIELDS = ("platform", "external_id", "author", "author_name", "followers", "text", "url",
          "in_reply_to", "lang")
THREATS = re.compile(r"chargeback|lawyer|regulator|journalist|press|never again|court|"
                     r"ombudsman|disput|cancel|Anwalt|abogado|avocat|consumo|Nie wieder|"
                     r"Nunca más|Plus jamais|scam|manager|escalate", re.IGNORECASE)


def content(m: Mention) -> tuple:
    return tuple(getattr(m, f) for f in FIELDS)


async def collect(feed: DemoFeed, cursor: str | None = None, limit: int | None = None):
    """Mentions and cursor values from one ``stream`` call (stopping after ``limit``)."""
    mentions, cursors = [], []
    async for item in feed.stream(cursor):
        if isinstance(item, Cursor):
            cursors.append(item.value)
        else:
            mentions.append(item)
            if limit is not None and len(mentions) >= limit:
                break
    return mentions, cursors


@pytest.fixture(scope="module")
def sample() -> list[Mention]:
    return demo_mentions(4000, seed=7, start=T0)


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_same_sequence():
    a = demo_mentions(600, seed=3, start=T0)
    b = demo_mentions(600, seed=3, start=T0 + timedelta(days=1))
    assert [content(m) for m in a] == [content(m) for m in b]
    assert [m.created_at - a[0].created_at for m in a] == [m.created_at - b[0].created_at
                                                           for m in b]
    other = demo_mentions(600, seed=4, start=T0)
    assert sum(x.text == y.text for x, y in zip(a, other, strict=True)) < 60


def test_external_ids_are_seed_and_sequence():
    ms = demo_mentions(300, seed=11, start=T0)
    assert [m.external_id for m in ms] == [f"demo-11-{n}" for n in range(1, 301)]
    assert all(m.source == "demo" for m in ms)


def test_any_post_is_reachable_without_the_ones_before():
    script = DemoScript(7, 180)
    seq = demo_mentions(1200, seed=7, start=T0, spacing_s=0.5)
    for n in (1200, 5, 777, 256, 257, 1):  # out of order, across block boundaries
        assert content(script.mention(n, T0)) == content(seq[n - 1])
    later = demo_mentions(10, seed=7, start=T0, spacing_s=0.5, first=1191)
    assert [content(m) for m in later] == [content(m) for m in seq[1190:]]


async def test_feed_emits_the_same_posts_as_demo_mentions():
    feed = DemoFeed("demo", {"rate": 0, "seed": 7, "count": 400})
    streamed, _ = await collect(feed)
    planned = demo_mentions(400, seed=7, start=T0, spacing_s=0.5)  # rate 0 plans at 2/s
    assert [content(m) for m in streamed] == [content(m) for m in planned]
    assert all(m.source == "demo" for m in streamed)


# -- the mix -------------------------------------------------------------------------------


def test_platforms_and_handles_look_real(sample):
    by = Counter(m.platform for m in sample)
    assert set(by) == {"mastodon", "bluesky", "reddit", "rss", "webhook"}
    assert by["mastodon"] > by["rss"] and by["bluesky"] > by["webhook"]
    for m in sample:
        if m.platform == "mastodon":
            assert re.fullmatch(r"[a-z0-9_]+@[a-z.]+\.example", m.author), m.author
            assert m.url.startswith("https://") and "/@" in m.url
        elif m.platform == "bluesky":
            assert m.author.startswith("did:plc:") or m.author.endswith(".bsky.social")
            assert m.url.startswith("https://bsky.app/profile/")
        elif m.platform == "reddit":
            assert "/r/acmeoutfitters/" in m.url
        elif m.platform == "webhook":
            assert re.fullmatch(r"webform:cust_\d{5}", m.author) and m.author_name
        elif m.platform == "rss":
            assert m.url.startswith("https://blog.")
    assert any(m.text.startswith("@acme@mastodon.example ") for m in sample)
    assert any(m.text.startswith("@acme.example.com ") for m in sample)


def test_category_shares_are_roughly_right(sample):
    texts = [m.text.lower() for m in sample if m.raw["demo"]["burst"] is None]
    n = len(texts)
    praise = sum(bool(re.search(r"thank|love|worth every|impressed|recommend|brilliant|"
                                r"customer for life|chef's kiss", t)) for t in texts)
    questions = sum(t.rstrip(" !.🙏").endswith("?") or "?" in t for t in texts)
    stakes = sum(bool(re.search(r"charged twice|refund|lawyer|chargeback|hacked|data leak|"
                                r"regulator|press|recall|cancell", t)) for t in texts)
    assert 0.15 * n < praise < 0.5 * n
    assert 0.2 * n < questions < 0.6 * n
    assert 0.08 * n < stakes < 0.4 * n
    kinds = Counter(m.raw["demo"]["kind"] for m in sample)
    for kind in ("praise", "question", "complaint", "serious", "followup", "spam", "chat",
                 "emoji", "hostile"):
        assert kinds[kind] > 0, kind


def test_furious_threads_reply_to_their_own_previous_post(sample):
    by_id = {m.external_id: m for m in sample}
    replies = [m for m in sample if m.in_reply_to]
    assert len(replies) > 40
    chains: dict[str, list[Mention]] = {}
    for m in replies:
        parent = by_id[m.in_reply_to]  # always an earlier post in the same sequence
        assert int(parent.external_id.rsplit("-", 1)[1]) < int(m.external_id.rsplit("-", 1)[1])
        assert (parent.platform, parent.author) == (m.platform, m.author)
        root = parent
        while root.in_reply_to:
            root = by_id[root.in_reply_to]
        chains.setdefault(root.external_id, [root]).append(m)
    sizes = Counter(len(c) for c in chains.values())
    assert set(sizes) <= {2, 3, 4} and len(sizes) >= 2
    # they escalate: most threads end in a threat or a "never again"
    ending_in_threat = sum(bool(THREATS.search(c[-1].text)) for c in chains.values())
    assert ending_in_threat > 0.6 * len(chains)


def test_regulars_write_again_later(sample):
    fresh = [m for m in sample if not m.in_reply_to and m.followers < 50_000]
    counts = Counter((m.platform, m.author) for m in fresh)
    regulars = [who for who, c in counts.items() if c >= 4]
    assert len(regulars) >= 10
    who = regulars[0]
    positions = [i for i, m in enumerate(sample) if (m.platform, m.author) == who]
    assert positions[-1] - positions[0] > 500  # spread over the day, not one burst


def test_big_accounts_and_follower_long_tail(sample):
    followers = sorted(m.followers for m in sample)
    big = [m for m in sample if m.followers >= 50_000]
    assert big and all(m.followers <= 500_000 for m in big)
    assert len(big) < 0.05 * len(sample)
    assert followers[len(followers) // 2] < 200  # most people are small
    assert any(f > 2_000 for f in followers if f < 50_000)  # with a long tail
    assert any(m.raw["demo"]["kind"] in ("complaint", "serious") for m in big)
    assert sum(m.raw["demo"]["kind"] in ("praise", "neutral") for m in big) > len(big) / 3


def test_languages_emoji_and_hostile_text(sample):
    langs = Counter(m.lang for m in sample)
    assert langs["en"] > 0.85 * len(sample)
    assert langs["de"] and langs["es"] and langs["fr"]
    assert any("ä" in m.text or "ü" in m.text for m in sample if m.lang == "de")
    emoji_only = [m for m in sample if not re.search(r"\w", m.text)]
    assert emoji_only and all(m.lang is None for m in emoji_only)
    # about one post in 120 is hostile (ten kinds), so look at a day's worth
    texts = "\n".join(m.text for m in demo_mentions(10_000, seed=7, start=T0))
    for hostile in ("[bold red]", "\x1b[31m", "\x1b]52;", "\u202e"):
        assert hostile in texts, repr(hostile)


def test_phrasing_varies():
    ms = demo_mentions(10_000, seed=7, start=T0)
    assert len({m.text for m in ms}) > 0.6 * len(ms)
    assert len({(m.platform, m.author) for m in ms}) > 0.5 * len(ms)
    # product names fit what is said about them
    assert not any(re.search(r"(chalk bag|headlamp|bottle|gaiters)\S* (survived|did its job)",
                             m.text) for m in ms)
    assert not re.search(r"(boots|lows|runners|trousers|poles|gaiters) (is|was) ",
                         "\n".join(m.text for m in ms))


def test_bursts_are_many_people_on_one_theme_in_a_few_seconds(sample):
    runs, current = [], []
    for m in sample:
        if current and m.raw["demo"]["burst"] and \
                m.raw["demo"]["burst"] == current[-1].raw["demo"]["burst"] and \
                m.created_at - current[-1].created_at < timedelta(seconds=1):
            current.append(m)
        else:
            if len(current) >= 10:
                runs.append(current)
            current = [m] if m.raw["demo"]["burst"] else []
    assert len(runs) >= 20  # one every ~90 posts at 1 s spacing
    for run in runs:
        assert len({(m.platform, m.author) for m in run}) >= 0.8 * len(run)
        assert sum(m.followers >= 50_000 for m in run) <= 1
        assert run[-1].created_at - run[0].created_at < timedelta(seconds=6)
    themes = Counter(run[0].raw["demo"]["burst"] for run in runs)
    assert len(themes) >= 3
    # a double-charge wave reads like one
    charged = [r for r in runs if r[0].raw["demo"]["burst"] == "charged_twice"]
    if charged:
        pattern = re.compile(r"charge|twice|x2|doppelt|duplicado|three", re.IGNORECASE)
        words = sum(bool(pattern.search(m.text)) for m in charged[0])
        assert words > len(charged[0]) / 2


def test_bursts_can_be_turned_off():
    ms = demo_mentions(1000, seed=7, start=T0, burst_every=0)
    assert not any(m.raw["demo"]["burst"] for m in ms)
    gaps = {(b.created_at - a.created_at) for a, b in itertools.pairwise(ms)}
    assert gaps == {timedelta(seconds=1)}


# -- every mention is valid Mention JSON -----------------------------------------------------


def test_every_mention_round_trips_through_mention_json(sample):
    for m in sample:
        back = mention_from_json(mention_to_json(m))
        assert content(back) == content(m)
        assert back.created_at == m.created_at


async def test_streamed_mentions_round_trip_and_are_live():
    before = datetime.now(UTC)
    ms, _ = await collect(DemoFeed("demo", {"rate": 0, "count": 500}))
    after = datetime.now(UTC)
    for m in ms:
        back = mention_from_json(mention_to_json(m))
        assert content(back) == content(m)
        assert before <= m.created_at <= after
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(ms))


def test_demo_mentions_timestamps():
    ms = demo_mentions(50, start=T0, spacing_s=2.0, burst_every=0)
    assert ms[0].created_at == T0 and ms[-1].created_at == T0 + timedelta(seconds=98)
    recent = demo_mentions(50)
    assert abs(recent[-1].created_at - datetime.now(UTC)) < timedelta(minutes=5)
    naive = demo_mentions(3, start=T0.replace(tzinfo=None))
    assert naive[0].created_at == T0


# -- cursors, resume, count ----------------------------------------------------------------


async def test_cursor_every_twenty_and_at_the_end():
    ms, cursors = await collect(DemoFeed("demo", {"rate": 0, "count": 95}))
    assert len(ms) == 95
    assert cursors == ["20", "40", "60", "80", "95"]


async def test_resume_from_cursor_continues_without_repeats():
    full, _ = await collect(DemoFeed("demo", {"rate": 0, "count": 200}))
    # a first run persisted cursor 60 and then crashed part-way through the next twenty
    first = DemoFeed("demo", {"rate": 0, "count": 200})
    seen, persisted = [], None
    async for item in first.stream(None):
        if isinstance(item, Cursor):
            persisted = item.value
        else:
            seen.append(item)
        if len(seen) == 73:
            break
    assert persisted == "60"
    stored = seen[:60]  # only what came before the persisted cursor is in the store
    again, cursors = await collect(DemoFeed("demo", {"rate": 0, "count": 200}), persisted)
    assert again[0].external_id == "demo-7-61"
    ids = [m.external_id for m in stored + again]
    assert len(ids) == len(set(ids)) == 200
    assert [content(m) for m in stored + again] == [content(m) for m in full]
    assert cursors[-1] == "200"


async def test_count_ends_the_stream_and_makes_it_finite():
    assert DemoFeed("demo", {"count": 10}).finite
    assert not DemoFeed("demo", {}).finite
    ms, cursors = await collect(DemoFeed("demo", {"rate": 0, "count": 10}))
    assert len(ms) == 10 and cursors == ["10"]
    ms, cursors = await collect(DemoFeed("demo", {"rate": 0, "count": 0}))
    assert ms == [] and cursors == ["0"]
    # count bounds the sequence number: a restart at or past it ends at once
    ms, cursors = await collect(DemoFeed("demo", {"rate": 0, "count": 50}), "50")
    assert ms == [] and cursors == ["50"]
    ms, _ = await collect(DemoFeed("demo", {"rate": 0, "count": 50}), "45")
    assert [m.external_id for m in ms] == [f"demo-7-{n}" for n in range(46, 51)]


async def test_without_count_it_goes_on():
    ms, cursors = await collect(DemoFeed("demo", {"rate": 0}), limit=2500)
    assert len(ms) == 2500 and cursors[-1] == "2480"


async def test_a_garbage_cursor_starts_from_the_beginning():
    ms, _ = await collect(DemoFeed("demo", {"rate": 0, "count": 3}), "not-a-number")
    assert [m.external_id for m in ms] == ["demo-7-1", "demo-7-2", "demo-7-3"]


# -- pacing (recorded, never timed) ----------------------------------------------------------


class SleepRecorder:
    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, delay, *args, **kwargs):
        self.delays.append(delay)


async def test_rate_zero_never_waits(monkeypatch):
    recorder = SleepRecorder()
    monkeypatch.setattr(demo_mod, "_sleep", recorder)
    ms, _ = await collect(DemoFeed("demo", {"rate": 0, "count": 5000}))
    assert len(ms) == 5000
    assert recorder.delays and all(d == 0 for d in recorder.delays)  # yields, never waits


async def test_rate_paces_and_bursts_come_faster(monkeypatch):
    recorder = SleepRecorder()
    clock = [1000.0]  # a fake clock: sleeping moves it forward, nothing really waits

    async def sleep(delay, *args, **kwargs):
        await recorder(delay)
        clock[0] += delay

    monkeypatch.setattr(demo_mod, "_sleep", sleep)
    monkeypatch.setattr(demo_mod, "_monotonic", lambda: clock[0])
    ms, _ = await collect(DemoFeed("demo", {"rate": 4, "count": 800, "burst_every": 30}))
    assert len(ms) == 800
    waits = [d for d in recorder.delays if d > 0]
    assert len(waits) == 799
    script = DemoScript(7, 120)
    burst = [d for n, d in zip(range(2, 801), waits) if script.burst_at(n - 1)]
    normal = [d for n, d in zip(range(2, 801), waits) if not script.burst_at(n - 1)]
    assert burst and normal
    assert 0.15 < sum(normal) / len(normal) < 0.4  # about 1/rate
    assert sum(burst) / len(burst) < sum(normal) / len(normal) / 3


# -- options and the adapter contract --------------------------------------------------------


def test_options_and_registration():
    assert adapter_class("demo") is DemoFeed
    feed = DemoFeed("demo", {"rate": "0.5", "seed": 3, "count": "100", "burst_every": 0})
    assert (feed.rate, feed.seed, feed.count, feed.burst_every) == (0.5, 3, 100, 0.0)
    assert DemoFeed.kind == "demo" and DemoFeed.platform == "demo"
    for bad in ({"rate": -1}, {"rate": "fast"}, {"seed": "x"}, {"count": -5},
                {"burst_every": -1}, {"rate": float("nan")}, {"rate": True}):
        with pytest.raises(ConfigError):
            DemoFeed("demo", bad)


async def test_demo_feed_cannot_send():
    feed = DemoFeed("demo", {})
    assert not feed.can_send
    item = OutboxItem(id=1, case_id=1, event_id=1, kind="reply", platform="mastodon",
                      text="hi", idempotency_key="k", not_before=T0)
    with pytest.raises(DeliveryError) as err:
        await feed.send(item, None)
    assert not err.value.retryable


# -- through the real pipeline into a real store ---------------------------------------------


async def test_ingest_into_the_store_and_resume(store):
    from feeds.pipeline import IngestPipeline
    from feeds.supervisor import FeedSupervisor

    pipeline = IngestPipeline(store, scorer=lambda texts: [0.0] * len(texts))
    runner = asyncio.create_task(pipeline.run())
    try:
        await FeedSupervisor(DemoFeed("demo", {"rate": 0, "count": 300}), store,
                             pipeline).run()
        assert await store.cursor("demo") == "300"
        assert pipeline.stats.new == 300
        # a restart with a larger count picks up after 300, with no duplicates
        await FeedSupervisor(DemoFeed("demo", {"rate": 0, "count": 420}), store,
                             pipeline).run()
        await pipeline.flush()
        assert await store.cursor("demo") == "420"
        assert pipeline.stats.new == 420 and pipeline.stats.duplicates == 0
        # a thread's replies land in the case of the post they answer
        planned = demo_mentions(420, seed=7, start=T0, spacing_s=0.5)
        reply = next(m for m in planned if m.in_reply_to)
        stored_reply = await store.mention(reply.platform, reply.external_id)
        stored_parent = await store.mention(reply.platform, reply.in_reply_to)
        assert stored_reply.case_id == stored_parent.case_id
        assert stored_reply.source == "demo"
    finally:
        await pipeline.close()
        await runner
