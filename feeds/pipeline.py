"""The ingest pipeline: bounded queue → validate → dedupe → sentiment in batches → one write.

Feeds put items on a bounded queue (a fast feed waits: backpressure instead of memory).
The writer takes up to ``batch_size`` items or whatever arrived within ``max_delay``,
scores the batch's texts with the customer-service sentiment off the event loop, and
writes mentions, deletes and feed cursors in ONE transaction. A cursor is therefore
never persisted ahead of the mentions before it: after a crash a feed resumes from the
last committed cursor, and the store's (platform, external id) uniqueness drops the
repeats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from feeds.base import Cursor, Deleted, FeedItem, Malformed
from store.api import Store
from store.records import Mention
from store.rules.sentiment import remember, score_and_scan, score_many

log = logging.getLogger("heatdesk.ingest")
PROCESS_MIN_BATCH = 200  # smaller batches are scored in a thread: no process hop needed


@dataclass
class PipelineStats:
    """Running totals, for progress lines and the closing summary."""

    new: int = 0
    duplicates: int = 0
    deleted: int = 0
    malformed: int = 0
    batches: int = 0
    malformed_reports: list[str] = field(default_factory=list)


class IngestPipeline:
    """Batches feed items into the store; ``put`` applies backpressure."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        max_delay: float = 0.1,
        queue_size: int = 5000,
        scorer: Callable[[list[str]], list[float]] = score_many,
        on_malformed: Callable[[str, Malformed], None] | None = None,
        on_batch: Callable[[set[int]], None] | None = None,
        use_process: bool = True,
    ):
        self.store = store
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.queue: asyncio.Queue[tuple[str, FeedItem] | None] = asyncio.Queue(queue_size)
        self.scorer = scorer
        self.on_malformed = on_malformed
        self.on_batch = on_batch
        self.stats = PipelineStats()
        self.use_process = use_process
        self.accepted = 0  # mentions handed in so far (before dedupe)
        self._pool = None
        self._pool_ready = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def put(self, feed: str, item: FeedItem) -> None:
        """Hand an item to the pipeline (waits while the queue is full)."""
        if isinstance(item, Malformed):
            self._report(feed, item)
            return
        if isinstance(item, Mention):
            self.accepted += 1
        self._idle.clear()
        await self.queue.put((feed, item))

    def _report(self, feed: str, item: Malformed) -> None:
        self.stats.malformed += 1
        line = f"{feed}: {item.where}: {item.reason}"
        if len(self.stats.malformed_reports) < 1000:
            self.stats.malformed_reports.append(line)
        if self.on_malformed:
            self.on_malformed(feed, item)
        else:
            log.warning("skipped malformed input: %s", line)

    async def flush(self) -> None:
        """Wait until everything put so far is committed."""
        while not (self.queue.empty() and self._idle.is_set()):
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Drain the queue, commit the last batch and stop ``run``."""
        await self.queue.put(None)

    def _executor(self, size: int):
        """Where to score a batch: a scoring process for big batches, a thread otherwise.

        The process runs VADER on the second core while this process writes the previous
        batch, which is how ingest keeps pace with raw VADER.
        """
        # Only the desk's own scorer goes to the process (a custom one may not pickle).
        if size < PROCESS_MIN_BATCH or not self.use_process or self.scorer is not score_many:
            return None
        if self._pool is None:
            import multiprocessing
            import os
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: this process has threads (the store's connection thread).
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm_up, initargs=(os.getpid(),))
            # Starting the process and loading VADER there takes a quarter of a second;
            # until it is ready, batches are scored in a thread rather than waiting.
            self._pool_ready = self._pool.submit(_warm_up)
        if not self._pool_ready.done():
            return None
        return self._pool

    async def run(self) -> None:
        """Consume the queue until ``close``; one transaction per batch.

        Two stages: while batch N is written, batch N+1 is being scored.
        """
        loop = asyncio.get_running_loop()
        scored: asyncio.Queue = asyncio.Queue(2)
        writer = asyncio.create_task(self._writer(scored))
        try:
            done = False
            while not done:
                first = await self.queue.get()
                if first is None:
                    break
                self._idle.clear()
                batch = [first]
                deadline = loop.time() + self.max_delay
                while len(batch) < self.batch_size:
                    try:
                        item = self.queue.get_nowait()
                    except asyncio.QueueEmpty:
                        remaining = deadline - loop.time()
                        if remaining <= 0:
                            break
                        try:
                            item = await asyncio.wait_for(self.queue.get(), remaining)
                        except TimeoutError:
                            break
                    if item is None:
                        done = True
                        break
                    batch.append(item)
                self._in_flight += 1
                await scored.put((batch, self._score(batch)))
            await scored.put(None)
            await writer
        finally:
            if not writer.done():
                writer.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            self._idle.set()

    def _score(self, batch: list[tuple[str, FeedItem]]) -> asyncio.Future | None:
        unscored = [item for _, item in batch if isinstance(item, Mention) and item.sentiment is None]
        if not unscored:
            return None
        texts = [m.text for m in unscored]
        loop = asyncio.get_running_loop()
        executor = self._executor(len(texts))
        if executor is not None:  # the scoring process: bring its lexicon scans back too
            return loop.run_in_executor(executor, score_and_scan, texts)
        return loop.run_in_executor(None, self.scorer, texts)

    async def _writer(self, scored: asyncio.Queue) -> None:
        while True:
            entry = await scored.get()
            if entry is None:
                return
            batch, future = entry
            try:
                if future is not None:
                    scores = await future
                    unscored = [item for _, item in batch
                                if isinstance(item, Mention) and item.sentiment is None]
                    for m, value in zip(unscored, scores, strict=True):
                        if isinstance(value, tuple):  # (score, scan) from the process
                            value, scan = value
                            remember(m.text, scan)
                        m.sentiment = value
                await self._write(batch)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0 and self.queue.empty():
                    self._idle.set()

    async def _write(self, batch: list[tuple[str, FeedItem]]) -> None:
        mentions: list[Mention] = []
        deletes: list[tuple[str, str]] = []
        cursors: dict[str, str] = {}
        for feed, item in batch:
            if isinstance(item, Mention):
                if item.source is None:
                    item.source = feed
                mentions.append(item)
            elif isinstance(item, Deleted):
                deletes.append((item.platform, item.external_id))
            elif isinstance(item, Cursor):
                cursors[feed] = item.value
        for m in mentions:
            _make_storable(m)
        delay = 0.5
        while True:
            try:
                result = await self.store.ingest(mentions, deletes, cursors)
                break
            except Exception as exc:  # noqa: BLE001
                problem = exc
            if await self._store_works():
                # The store takes writes: something in this batch does not go in. One bad
                # mention must not stop the feed or lose the rest.
                log.warning("batch of %d could not be stored (%s); storing one by one",
                            len(mentions), problem)
                try:
                    result = await self._write_one_by_one(mentions, deletes, cursors)
                    break
                except _StoreDown as down:
                    problem = down.__cause__ or down
            # The store is not taking writes at all (locked for long, disk full, the
            # database restarting): keep the batch, and with it the backpressure, and try
            # again. Its cursors are not written either, so even if this process is stopped
            # meanwhile nothing it read is lost: a restart reads it again.
            log.warning("the store is not taking writes (%s); trying the batch of %d again "
                        "in %.1f s", problem, len(mentions), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        self.stats.new += result.new
        self.stats.duplicates += result.duplicates
        self.stats.deleted += result.deleted
        self.stats.batches += 1
        if self.on_batch and result.case_ids:
            self.on_batch(result.case_ids)


    async def _store_works(self) -> bool:
        """True when the store takes a write at all (an empty batch)."""
        try:
            await self.store.ingest([])
        except Exception:  # noqa: BLE001 - any failure means: not now
            return False
        return True

    async def _write_one_by_one(self, mentions, deletes, cursors):
        """Each mention on its own; one that cannot be stored is reported and skipped.
        Raises `_StoreDown` when the store itself stops taking writes meanwhile (then the
        batch is tried again whole: what went in already comes back as duplicates)."""
        from store.core import IngestResult

        total = IngestResult()
        for m in mentions:
            try:
                r = await self.store.ingest([m])
            except Exception as exc:
                if not await self._store_works():
                    raise _StoreDown() from exc
                self._report(m.source or "feed", Malformed(
                    f"{m.platform}:{m.external_id[:60]}", f"could not be stored: {exc}"))
                continue
            total.new += r.new
            total.duplicates += r.duplicates
            total.case_ids |= r.case_ids
        try:
            r = await self.store.ingest([], deletes, cursors)
        except Exception as exc:
            raise _StoreDown() from exc
        total.deleted += r.deleted
        return total


class _StoreDown(Exception):
    """The store stopped taking writes while a batch was stored one by one."""


_STR_FIELDS = ("platform", "external_id", "author", "author_name", "text", "url", "in_reply_to",
               "lang", "source")


def _storable(value: str) -> str:
    """``value`` with lone surrogates (not valid Unicode; no database takes them) as U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _make_storable(m: Mention) -> None:
    # Adapters decode JSON from the network, where "\ud800" is legal; everything else in
    # a mention is kept verbatim.
    # One encode for all the fields (this runs per mention on the ingest path); only when
    # a lone surrogate turns up is each field looked at and repaired.
    try:
        "".join([m.platform, m.external_id, m.author, m.author_name or "", m.text,
                 m.url or "", m.in_reply_to or "", m.lang or "", m.source or ""]).encode()
    except (UnicodeEncodeError, TypeError):
        for name in _STR_FIELDS:
            value = getattr(m, name)
            if isinstance(value, str):
                setattr(m, name, _storable(value))
    # The raw payload is made storable where the store encodes it (store.core.raw_json),
    # once: encoding it here as well cost as much as the check.


def _warm_up(parent: int | None = None) -> None:
    """Load VADER's lexicon once in the scoring process; as the pool's initializer (given
    the pid that started it) also end the process when that one is gone: a kill -9 of
    ``heatdesk ingest`` left it running for ever, since nothing else tells a pool worker
    that its parent died."""
    from store.rules.sentiment import analyzer

    if parent is not None:
        _watch_parent(parent)
    analyzer()


_watching = False  # this scoring process already watches its parent


def _watch_parent(parent: int, every: float = 0.5) -> None:
    global _watching
    if _watching:
        return
    import os
    import threading
    import time

    _watching = True

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)  # reparented: our parent died without shutting the pool down

    threading.Thread(target=watch, name="heatdesk-parent-watch", daemon=True).start()
