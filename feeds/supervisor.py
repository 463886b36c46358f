"""Runs each feed under supervision: reconnect with backoff and jitter, resume from cursor.

One failing feed never takes the others down. Health (connected, last event, last
error) is published to the store for the desk and ``heatdesk doctor``. Error text is
passed through ``redact`` so a secret never reaches the store or the logs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

from feeds.base import FeedAdapter, StreamError
from feeds.http import scrub
from feeds.pipeline import IngestPipeline
from store.api import Store
from store.records import Mention

log = logging.getLogger("heatdesk.feeds")
LEASE_TTL = 30.0


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter (AWS style), at least a tenth of the step."""
    step = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(step / 10, step)


# One scrubber for the whole of feeds/: it also catches URL-encoded and JSON-escaped echoes.
redact = scrub


class FeedSupervisor:
    """Keeps one adapter streaming into the pipeline until stopped or finished."""

    def __init__(self, adapter: FeedAdapter, store: Store, pipeline: IngestPipeline, *,
                 base_delay: float = 1.0, max_delay: float = 60.0, limit: int | None = None,
                 holder: str | None = None, lease_ttl: float = LEASE_TTL):
        self.adapter = adapter
        self.store = store
        self.pipeline = pipeline
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.limit = limit  # stop once the pipeline has taken this many mentions in all
        # With a holder, the feed is streamed only while this worker holds its lease in the
        # store, so several ingest workers can share feeds and take over a crashed one's.
        self.holder = holder
        self.lease_ttl = lease_ttl
        self.health: dict[str, Any] = {"kind": adapter.kind, "connected": False,
                                       "last_event": None, "last_error": None, "events": 0,
                                       "reconnects": 0, "finished": False}
        self._last_publish = 0.0
        self._last_event_at: float | None = None  # time.time() of the newest item

    def _secrets(self) -> list[str]:
        return [str(self.adapter.env.get(str(v), "")) for k, v in self.adapter.options.items()
                if k.endswith("_env") and v]

    async def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_publish > 2.0:
            self._last_publish = now
            if self._last_event_at is not None:  # formatted here, not once per item
                self.health["last_event"] = datetime.fromtimestamp(
                    self._last_event_at, UTC).isoformat()
            try:
                await self.store.set_feed_health(self.adapter.name, self.health)
            except Exception as exc:  # health is advisory; never stop a feed for it
                log.debug("could not publish health: %s", exc)

    async def run(self) -> None:
        """Own the feed's lease, then stream; lose the lease and the stream stops."""
        if self.holder is None:
            await self._run()
            return
        key = f"feed:{self.adapter.name}"
        try:
            await self._leased(key)
        finally:
            await self._release(key)

    async def _release(self, key: str) -> None:
        """Hand the lease back when this worker stops (SIGTERM, finished, cancelled), so a
        restarted or standby worker takes the feed at once instead of after the TTL. Only a
        lease this worker holds is touched (renewed with no time left); a crash (SIGKILL)
        skips this and the lease simply runs out."""
        try:
            await asyncio.wait_for(self.store.lease(key, self.holder, 0.0), 5.0)
        except Exception as exc:  # noqa: BLE001 - the store may be going away; the TTL ends it
            log.debug("feed %s: could not release the lease: %s", self.adapter.name, exc)

    async def _leased(self, key: str) -> None:
        while True:
            if not await self.store.lease(key, self.holder, self.lease_ttl):
                self.health.update(connected=False, last_error="another ingest worker owns "
                                   "this feed; standing by")
                await self._publish()
                await asyncio.sleep(self.lease_ttl / 3)
                continue
            stream = asyncio.create_task(self._run())
            try:
                while not stream.done():
                    await asyncio.wait({stream}, timeout=self.lease_ttl / 3)
                    if stream.done():
                        break
                    if not await self.store.lease(key, self.holder, self.lease_ttl):
                        log.warning("feed %s: lease lost to another worker", self.adapter.name)
                        stream.cancel()
                        await asyncio.gather(stream, return_exceptions=True)
                        await self.pipeline.flush()
                        break
                if stream.done() and not stream.cancelled():
                    stream.result()
                    return  # a finite feed finished
            finally:
                if not stream.done():
                    stream.cancel()
                    await asyncio.gather(stream, return_exceptions=True)

    async def _run(self) -> None:
        """Stream, and on every drop flush, back off and resume from the stored cursor."""
        name = self.adapter.name
        attempt = 0
        while True:
            await self.pipeline.flush()
            cursor = await self.store.cursor(name)
            started = time.monotonic()
            retry_after = None
            try:
                self.health["connected"] = True
                await self._publish(force=True)
                async for item in self.adapter.stream(cursor):
                    if self.limit is not None and self.pipeline.accepted >= self.limit:
                        if isinstance(item, Mention):
                            break
                    await self.pipeline.put(name, item)
                    self.health["events"] += 1
                    self._last_event_at = time.time()
                    if time.monotonic() - self._last_publish > 2.0:
                        await self._publish()
                if self.adapter.finite or (
                        self.limit is not None and self.pipeline.accepted >= self.limit):
                    self.health.update(connected=False, finished=True)
                    await self.pipeline.flush()
                    await self._publish(force=True)
                    return
                error = "stream ended"
            except asyncio.CancelledError:
                self.health["connected"] = False
                raise
            except StreamError as exc:
                error = exc.reason
                retry_after = exc.retry_after
            except Exception as exc:  # a broken adapter must not take the others down
                error = f"{type(exc).__name__}: {exc}"
            error = redact(error, self._secrets())
            self.health.update(connected=False, last_error=error)
            self.health["reconnects"] += 1
            if time.monotonic() - started > 30:
                attempt = 0  # it ran a good while: start backing off from scratch
            delay = backoff_delay(attempt, self.base_delay, self.max_delay)
            if retry_after is not None:
                delay = max(delay, min(retry_after, 3600.0))
            attempt += 1
            log.warning("feed %s: %s; reconnecting in %.1fs", name, error, delay)
            await self._publish(force=True)
            await asyncio.sleep(delay)
