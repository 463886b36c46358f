"""Outbox delivery: every due item goes out once, through the right account, or says why not.

Routing (CONTRACTS.md): the first configured feed whose platform is the case's platform
and that holds credentials. Where there is none, cases that came in through a demo or
replay feed are delivered to the sandbox (marked delivered, nothing leaves the machine);
any other case fails with that reason, shown on the timeline. Retries back off with
jitter and reuse the item's idempotency key, so a retry never posts twice. Escalations
are announced to the configured targets for their tier (every target whose ``tier`` is at
or below the escalation's); when one target fails, the retry skips the targets that
already took it: each one that does is noted on the outbox row at once, so a sender that
crashed, or another process, skips it too. (A target that took it in the instant before a
crash, unnoted, hears it again: incoming webhooks have no idempotency key.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.base import Delivery, DeliveryError, FeedAdapter
from feeds.supervisor import backoff_delay, redact
from store.api import Store
from store.records import Mention, OutboxItem

log = logging.getLogger("heatdesk.delivery")
MAX_ATTEMPTS = 8
# Each item is leased on its own, just before it is sent, for LEASE_SECONDS; one send is
# cut off after SEND_TIMEOUT (outcome unknown: retried later with the same key), so a
# lease never runs out while its sender is still at work.
LEASE_SECONDS = 120.0
SEND_TIMEOUT = 90.0
SANDBOX_KINDS = ("demo", "replay")


class OutboxSender:
    """Delivers due outbox items for one process that runs feeds."""

    def __init__(
        self,
        store: Store,
        adapters: Sequence[FeedAdapter],
        *,
        sandbox_feeds: set[str] | None = None,
        escalation_targets: Sequence[Mapping[str, Any]] = (),
        env: Mapping[str, str] | None = None,
        interval: float = 0.5,
    ):
        self.store = store
        self.adapters = list(adapters)
        self.sandbox_feeds = set(sandbox_feeds or ()) | set(SANDBOX_KINDS)
        self.demo_feeds = {a.name for a in self.adapters if a.kind == "demo"} | {"demo"}
        self.escalation_targets = list(escalation_targets)
        import os

        self.env = os.environ if env is None else env
        self.interval = interval
        self.sent = 0
        self.failed = 0

    def account_for(self, platform: str) -> FeedAdapter | None:
        """The feed that answers cases on ``platform``, if one holds credentials."""
        return next((a for a in self.adapters if a.platform == platform and a.can_send), None)

    def _secrets(self) -> list[str]:
        values = []
        for adapter in self.adapters:
            values += [str(adapter.env.get(str(v), "")) for k, v in adapter.options.items()
                       if k.endswith("_env") and v]
        values += [str(self.env.get(str(t.get("url_env", "")), "")) for t in self.escalation_targets]
        return values

    async def run(self) -> None:
        """Deliver due items until cancelled."""
        while True:
            try:
                count = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox delivery: %s", redact(str(exc), self._secrets()))
                count = 0
            if count == 0:
                await asyncio.sleep(self.interval)

    async def deliver_due(self, limit: int = 50) -> int:
        """Deliver up to ``limit`` due items, leasing each just before it is sent; returns
        how many were attempted.

        One lease per item, not one for a batch: behind a slow platform (every send
        waiting out its timeout) the items queued in a batch would outlive their lease and
        a second sender (another ingest worker) would post them as well; and a crash would
        charge an attempt to every item of the batch, so a crash loop could use up the
        attempts of replies that were never tried, failing them for good on the next
        transient error.
        """
        done = 0
        while done < limit:
            items = await self.store.due_outbox(limit=1, lease_seconds=LEASE_SECONDS)
            if not items:
                break
            await self.deliver(items[0])
            done += 1
        return done

    async def deliver(self, item: OutboxItem) -> None:
        """Attempt one item and record the outcome (delivered, retry later, or failed)."""
        try:
            try:
                delivery = await asyncio.wait_for(self._send(item), SEND_TIMEOUT)
            except TimeoutError:
                raise DeliveryError(f"no answer within {SEND_TIMEOUT:g} s (it may have gone "
                                    "out; the retry uses the same idempotency key)",
                                    retryable=True) from None
        except DeliveryError as exc:
            reason = redact(exc.reason, self._secrets())
            if exc.retryable and item.attempts < MAX_ATTEMPTS:
                delay = backoff_delay(item.attempts, 2.0, 300.0)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, 3600.0))
                retry_at = datetime.now(UTC) + timedelta(seconds=delay)
                await self.store.delivery_failed(item.id, reason, retry_at)
            else:
                self.failed += 1
                await self.store.delivery_failed(item.id, reason, None)
            return
        except Exception as exc:  # an adapter bug: fail visibly, never silently
            self.failed += 1
            reason = redact(f"{type(exc).__name__}: {exc}", self._secrets())
            await self.store.delivery_failed(item.id, reason, None)
            return
        self.sent += 1
        await self.store.delivered(item.id, delivery.remote_id, delivery.remote_url)

    async def _target(self, item: OutboxItem) -> Mention | None:
        if item.in_reply_to is None or item.platform == "escalation":
            return None
        return await self.store.mention(item.platform, item.in_reply_to)

    async def _send(self, item: OutboxItem) -> Delivery:
        target = await self._target(item)
        if item.kind == "escalation":
            return await self._announce(item)
        source = (target.source or "") if target is not None else ""
        sandboxed = source in self.sandbox_feeds or source.split(":")[0] in SANDBOX_KINDS
        # Demo customers are fictional: never answer them through a real account.
        if sandboxed and (source == "demo" or source in self.demo_feeds):
            return Delivery(f"sandbox-{item.id}", f"sandbox://{item.platform}/{item.id}")
        adapter = self.account_for(item.platform)
        if adapter is not None:
            return await adapter.send(item, target)
        if sandboxed:
            return Delivery(f"sandbox-{item.id}", f"sandbox://{item.platform}/{item.id}")
        raise DeliveryError(
            f"no {item.platform} account is configured to send from (add a {item.platform} "
            "feed with credentials)",
            retryable=False,
        )

    async def _announce(self, item: OutboxItem) -> Delivery:
        tier = int(item.data.get("tier", 1))
        targets = [t for t in self.escalation_targets if int(t.get("tier", 1)) <= tier]
        if not targets:
            case_sources = await self._case_sources(item.case_id)
            if case_sources and all(s in self.sandbox_feeds or s.split(":")[0] in SANDBOX_KINDS
                                    for s in case_sources):
                return Delivery(f"sandbox-{item.id}", "sandbox://escalation")
            raise DeliveryError(
                f"no escalation target for tier {tier} is configured ([[escalation.targets]])",
                retryable=False,
            )
        import aiohttp

        from feeds.slack import announce

        # Targets are known by their URL's env var name (the URL itself is a secret), so a
        # reordered config still skips the right ones.
        done = {str(t) for t in item.data.get("announced", [])}
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for target in targets:
                name = str(target.get("url_env", ""))
                if name in done:
                    continue
                url = self.env.get(name)
                if not url:
                    raise DeliveryError(
                        f"escalation target's {target.get('url_env')} is not set", retryable=False
                    )
                await announce(url, item.text, session)
                done.update(await self.store.announced(item.id, name))
        return Delivery(None, None)

    async def _case_sources(self, case_id: int) -> list[str]:
        detail = await self.store.detail(case_id)
        return [m.source or "" for m in detail.mentions]
