"""Wiring a process that runs feeds: adapters, supervisors, the pipeline and the sender.

Part of the composition root (with tui/cli.py): the one place that knows both feeds/
and store/. Used by ``heatdesk ingest`` and by a desk that ingests in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feeds.base import ConfigError as FeedConfigError
from feeds.base import FeedAdapter, Malformed, adapter_class
from feeds.delivery import OutboxSender
from feeds.pipeline import IngestPipeline
from feeds.supervisor import FeedSupervisor
from store.api import Store
from store.config import Config, ConfigError

log = logging.getLogger("heatdesk")


def parse_feed_spec(spec: str, config: Config) -> dict[str, Any]:
    """A feed table from a command-line spec: demo[:k=v,..], replay:PATH[:speed=X], or a name."""
    if spec == "demo" or spec.startswith("demo:"):
        table: dict[str, Any] = {"name": "demo", "kind": "demo"}
        for pair in filter(None, spec[5:].split(",")):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ConfigError(f"feed spec {spec!r}: expected key=value, got {pair!r}")
            try:
                table[key.strip()] = float(value) if "." in value else int(value)
            except ValueError:
                raise ConfigError(f"feed spec {spec!r}: {key} must be a number") from None
        return table
    if spec.startswith("replay:"):
        rest = spec[len("replay:"):]
        table = {"kind": "replay"}
        path, sep, opts = rest.rpartition(":speed=")
        if sep:
            table["path"] = path
            try:
                table["speed"] = float(opts)
            except ValueError:
                raise ConfigError(f"feed spec {spec!r}: speed must be a number") from None
        else:
            table["path"] = rest
        if not table["path"]:
            raise ConfigError("replay feed spec needs a path: replay:PATH")
        # The name keys the resume cursor, so each file resumes on its own.
        table["name"] = "replay:" + str(Path(table["path"]).expanduser().resolve())
        return table
    found = config.feed(spec)
    if found is None:
        names = ", ".join(f["name"] for f in config.feeds) or "none configured"
        raise ConfigError(f"unknown feed {spec!r} (use demo, replay:PATH, or a configured "
                          f"feed name: {names})")
    return found


def build_adapters(tables: Sequence[dict[str, Any]]) -> list[FeedAdapter]:
    """Adapters for feed tables; configuration mistakes become one-line ConfigErrors."""
    adapters = []
    for table in tables:
        options = {k: v for k, v in table.items() if k not in ("name", "kind")}
        try:
            cls = adapter_class(str(table["kind"]))
            adapters.append(cls(str(table["name"]), options))
        except FeedConfigError as exc:
            raise ConfigError(str(exc)) from None
    return adapters


@dataclass
class IngestRuntime:
    """Feeds → pipeline → store, plus outbox delivery, as one set of tasks."""

    store: Store
    config: Config
    adapters: list[FeedAdapter]
    deliver: bool = True
    on_malformed: Callable[[str, Malformed], None] | None = None
    limit: int | None = None
    pipeline: IngestPipeline = field(init=False)
    supervisors: list[FeedSupervisor] = field(init=False, default_factory=list)
    sender: OutboxSender | None = field(init=False, default=None)
    _tasks: list[asyncio.Task] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.pipeline = IngestPipeline(self.store, on_malformed=self.on_malformed)
        import socket
        import uuid

        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # Live feeds are leased so several `heatdesk ingest` workers can share one store;
        # finite ones (replays) and the demo are this process's own.
        self.supervisors = [
            FeedSupervisor(a, self.store, self.pipeline, limit=self.limit,
                           holder=None if a.kind in ("demo", "replay") else holder)
            for a in self.adapters]
        sandbox = {a.name for a in self.adapters if a.kind in ("demo", "replay")}
        sandbox |= {f["name"] for f in self.config.feeds if f.get("kind") in ("demo", "replay")}
        if self.deliver:
            senders = list(self.adapters)
            configured = {a.name for a in senders}
            for table in self.config.feeds:  # accounts configured but not ingesting here
                if table["name"] not in configured and table.get("kind") not in ("demo", "replay",
                                                                               "webhook"):
                    with contextlib.suppress(Exception):
                        senders += build_adapters([table])
            self.sender = OutboxSender(self.store, senders, sandbox_feeds=sandbox,
                                       escalation_targets=self.config.escalation_targets,
                                       env=os.environ)

    async def start(self) -> None:
        """Start the pipeline, every feed and the sender."""
        self._tasks.append(asyncio.create_task(self.pipeline.run(), name="pipeline"))
        self._feed_tasks = [asyncio.create_task(s.run(), name=f"feed:{s.adapter.name}")
                            for s in self.supervisors]
        self._tasks += self._feed_tasks
        if self.sender is not None:
            self._tasks.append(asyncio.create_task(self.sender.run(), name="outbox"))

    async def feeds_finished(self) -> None:
        """Wait until every feed has ended by itself (replays at EOF)."""
        if self._feed_tasks:
            await asyncio.gather(*self._feed_tasks, return_exceptions=True)
        await self.pipeline.flush()

    async def stop(self) -> None:
        """Stop the feeds, drain and commit what was read, deliver what is due, stop."""
        for task in getattr(self, "_feed_tasks", []):
            task.cancel()
        await asyncio.gather(*getattr(self, "_feed_tasks", []), return_exceptions=True)
        await self.pipeline.flush()
        await self.pipeline.close()
        if self.sender is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sender.deliver_due(), 10)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Accounts configured but not ingesting here send too: close their sessions as well.
        closing = list(self.adapters)
        if self.sender is not None:
            closing += [a for a in self.sender.adapters if a not in closing]
        for adapter in closing:
            with contextlib.suppress(Exception):
                await adapter.aclose()
