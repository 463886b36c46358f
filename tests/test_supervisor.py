"""Supervision: reconnect with backoff, resume from the stored cursor, isolation, leases."""

from __future__ import annotations

import asyncio

from feeds.base import Cursor, FeedAdapter, Malformed, StreamError
from feeds.pipeline import IngestPipeline
from feeds.supervisor import FeedSupervisor, backoff_delay, redact
from tests.conftest import mention


class FlakyFeed(FeedAdapter):
    """Yields numbered mentions; drops the connection after every ``drop_every``."""

    kind = "flaky"
    platform = "mastodon"

    def __init__(self, name, total=30, drop_every=7, fail_with=None, env=None):
        super().__init__(name, {"token_env": "FLAKY_TOKEN"}, env or {"FLAKY_TOKEN": "sekrit-123"})
        self.total, self.drop_every, self.fail_with = total, drop_every, fail_with
        self.cursors_seen: list[str | None] = []

    @property
    def finite(self) -> bool:
        return True

    async def stream(self, cursor):
        self.cursors_seen.append(cursor)
        if self.fail_with:
            raise self.fail_with
        start = int(cursor or 0)
        for n in range(start + 1, self.total + 1):
            if n == 5:
                yield Malformed("frame 5", "not JSON")
            yield mention(f"{self.name}-{n}", author=f"u{n}@x", text=f"post {n}")
            yield Cursor(str(n))
            if n % self.drop_every == 0 and n != self.total and len(self.cursors_seen) < 10:
                raise StreamError("connection reset")


async def test_reconnects_resume_from_cursor_and_lose_nothing(store):
    pipeline = IngestPipeline(store, use_process=False, max_delay=0.01)
    runner = asyncio.create_task(pipeline.run())
    feed = FlakyFeed("flaky")
    sup = FeedSupervisor(feed, store, pipeline, base_delay=0.01, max_delay=0.02)
    await asyncio.wait_for(sup.run(), 10)
    await pipeline.close()
    await runner
    ids = []
    for c in await store.cases():
        ids += [int(m.external_id.split("-")[1]) for m in (await store.detail(c.id)).mentions]
    ids.sort()
    assert ids == list(range(1, 31))
    assert feed.cursors_seen[0] is None and feed.cursors_seen[1:] == ["7", "14", "21", "28"]
    assert pipeline.stats.malformed >= 1
    assert sup.health["reconnects"] == 4 and sup.health["finished"]
    assert "sekrit" not in str(sup.health)


async def test_one_broken_feed_does_not_stop_the_others(store):
    pipeline = IngestPipeline(store, use_process=False, max_delay=0.01)
    runner = asyncio.create_task(pipeline.run())
    broken = FlakyFeed("broken", fail_with=RuntimeError("token sekrit-123 rejected"))
    good = FlakyFeed("good", total=10, drop_every=100)
    bad_sup = FeedSupervisor(broken, store, pipeline, base_delay=0.01, max_delay=0.02)
    bad_task = asyncio.create_task(bad_sup.run())
    await asyncio.wait_for(FeedSupervisor(good, store, pipeline).run(), 10)
    await asyncio.sleep(0.1)
    assert not bad_task.done()  # still retrying
    bad_task.cancel()
    await pipeline.close()
    await runner
    assert len(await store.cases()) == 10
    assert "sekrit-123" not in bad_sup.health["last_error"]
    assert "[redacted]" in bad_sup.health["last_error"]
    health = await store.feed_health()
    assert "sekrit" not in str(health)


async def test_a_crashed_workers_feed_is_taken_over_through_its_lease(store):
    pipeline = IngestPipeline(store, use_process=False, max_delay=0.01)
    runner = asyncio.create_task(pipeline.run())

    class Endless(FlakyFeed):
        @property
        def finite(self):
            return False

        async def stream(self, cursor):
            self.cursors_seen.append(cursor)
            n = int(cursor or 0)
            while True:
                n += 1
                yield mention(f"e-{n}", author=f"e{n}@x")
                yield Cursor(str(n))
                await asyncio.sleep(0.01)

    first, second = Endless("shared"), Endless("shared")
    a = asyncio.create_task(FeedSupervisor(first, store, pipeline, holder="A",
                                           lease_ttl=0.6).run())
    await asyncio.sleep(0.3)
    b = asyncio.create_task(FeedSupervisor(second, store, pipeline, holder="B",
                                           lease_ttl=0.6).run())
    await asyncio.sleep(0.5)
    assert first.cursors_seen and not second.cursors_seen  # B stands by
    a.cancel()  # worker A "crashes": its lease is no longer renewed
    await asyncio.sleep(1.5)
    assert second.cursors_seen and second.cursors_seen[0] is not None  # B resumed A's cursor
    b.cancel()
    await asyncio.gather(a, b, return_exceptions=True)
    await pipeline.close()
    await runner


def test_backoff_grows_with_jitter_and_redaction():
    delays = [backoff_delay(n, 1, 60) for n in range(10)]
    assert all(0 < d <= 60 for d in delays)
    assert max(delays[6:]) > max(delays[:2])
    assert redact("bad token abcd1234 here", ["abcd1234"]) == "bad token [redacted] here"


async def test_unstorable_text_is_repaired_and_never_stops_the_pipeline(store):
    pipeline = IngestPipeline(store, use_process=False, max_delay=0.01)
    runner = asyncio.create_task(pipeline.run())
    broken = mention("s1", author="s@x", text="lone \ud800 surrogate")
    broken.raw = {"text": "\udfff"}
    await pipeline.put("f", broken)
    await pipeline.put("f", mention("s2", author="t@x", text="fine"))
    await pipeline.flush()
    await pipeline.close()
    await runner
    stored = await store.mention("mastodon", "s1")
    assert stored.text == "lone \ufffd surrogate"
    assert "udfff" in stored.raw["escaped"]
    assert await store.mention("mastodon", "s2") is not None
