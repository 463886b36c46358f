"""A worker process for the multi-process tests and the scaling figures.

    python -m tests.helpers_proc COMMAND URL [ARGS as JSON]

Each command opens the store at URL, prints ``ready`` on stdout, waits for a line on
stdin (so the test can start every process at the same instant), does its work and
prints ONE JSON line with what happened. Anything unexpected goes to stderr with a
non-zero exit. ``bench`` runs without the handshake and prints figures for SCALING.md:

    python -m tests.helpers_proc bench postgresql://postgres@127.0.0.1/desk
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from store import open_store
from store.config import Config
from store.records import ClaimConflict, Mention, StoreError

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def synthetic(prefix: str, n: int, customers: int | None = None) -> list[Mention]:
    """``n`` mentions with sentiment preset (so no VADER time is measured)."""
    customers = customers or n
    texts = ["my order never arrived", "charged twice, refund me now", "love the new boots",
             "where is my parcel??", "store hours on sunday?"]
    return [
        Mention(platform="demo", external_id=f"{prefix}-{i}", author=f"{prefix}-c{i % customers}",
                text=texts[i % len(texts)], created_at=T0 + timedelta(seconds=i),
                followers=(i * 37) % 5000, sentiment=(-0.6, -0.8, 0.7, -0.3, 0.0)[i % 5])
        for i in range(n)
    ]


async def handshake() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def config() -> Config:
    return Config(undo_seconds=0)


async def cmd_claim(url: str, agent: str, cases: list[int]) -> dict:
    """Claim each case in turn: who won, who conflicted (and whom they saw holding it)."""
    store = await open_store(url, config())
    try:
        await handshake()
        out: dict[str, object] = {}
        for case_id in cases:
            try:
                await store.claim(case_id, agent)
                out[str(case_id)] = "won"
            except ClaimConflict as exc:
                out[str(case_id)] = {"conflict": exc.holder}
        return out
    finally:
        await store.close()


async def cmd_ingest(url: str, prefix: str, n: int, batch: int, customers: int | None = None,
                     pause: float = 0.0) -> dict:
    """Ingest ``n`` synthetic mentions in batches (``pause`` s apart); report the rate."""
    store = await open_store(url, config())
    try:
        await handshake()
        mentions = synthetic(prefix, n, customers)
        new = 0
        t0 = time.perf_counter()
        busy = 0.0
        for i in range(0, n, batch):
            t1 = time.perf_counter()
            new += (await store.ingest(mentions[i : i + batch])).new
            busy += time.perf_counter() - t1
            if pause:
                await asyncio.sleep(pause)
        seconds = time.perf_counter() - t0
        return {"new": new, "seconds": seconds, "per_second": n / busy}
    finally:
        await store.close()


async def cmd_agent(url: str, agent: str, seconds: float, seed: int) -> dict:
    """Work the queue like a busy agent: claim unassigned cases, reply, note, resolve."""
    rng = random.Random(seed)
    store = await open_store(url, config())
    try:
        await handshake()
        counts = {"claims": 0, "conflicts": 0, "replies": 0, "resolved": 0, "idle": 0}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            free = [c.id for c in await store.open_cases() if c.assignee is None]
            if not free:
                counts["idle"] += 1
                await asyncio.sleep(0.02)
                continue
            case_id = rng.choice(free)
            try:
                await store.claim(case_id, agent)
            except ClaimConflict:
                counts["conflicts"] += 1
                continue
            counts["claims"] += 1
            await store.reply(case_id, agent, f"{agent} on it")
            counts["replies"] += 1
            if rng.random() < 0.5:
                await store.resolve(case_id, agent)
                counts["resolved"] += 1
        return counts
    finally:
        await store.close()


async def cmd_write(url: str, case_id: int, n: int, interval: float) -> dict:
    """Write ``n`` notes, one every ``interval`` s; report when each was committed."""
    store = await open_store(url, config())
    try:
        await handshake()
        done = []
        for k in range(n):
            await store.note(case_id, "writer", f"note {k}")
            done.append(time.time())
            await asyncio.sleep(interval)
        return {"done": done}
    finally:
        await store.close()


async def cmd_follow(url: str, n: int, poll: float, limit: float) -> dict:
    """Follow the change cursor until ``n`` new changes arrived; when each was seen."""
    store = await open_store(url, config())
    try:
        seq = base = await store.change_seq()
        await store.wait_for_change(0)  # starts listening where the backend can
        await handshake()
        seen: dict[int, float] = {}
        deadline = time.monotonic() + limit
        while seq < base + n and time.monotonic() < deadline:
            await store.wait_for_change(poll)
            changes = await store.changes_since(seq)
            now = time.time()
            for s in range(seq + 1, changes.seq + 1):
                seen[s] = now
            seq = changes.seq
        return {"base": base, "seen": {str(k): v for k, v in seen.items()}}
    finally:
        await store.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def bench(url: str) -> dict:
    """Figures for SCALING.md on one backend: ingest rate, claims per second."""
    store = await open_store(url, config())
    try:
        mentions = synthetic(f"bench{os.getpid()}", 5000, customers=2500)
        t0 = time.perf_counter()
        for i in range(0, len(mentions), 500):
            await store.ingest(mentions[i : i + 500])
        ingest_s = time.perf_counter() - t0
        ids = [c.id for c in await store.open_cases() if c.assignee is None][:1000]
        t0 = time.perf_counter()
        for case_id in ids:
            await store.claim(case_id, "bench")
        claim_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(200):
            await store.changes_since(0, limit=50)
        read_s = time.perf_counter() - t0
        return {"backend": store.backend, "ingest_per_second": len(mentions) / ingest_s,
                "batch_500_seconds": ingest_s / (len(mentions) / 500),
                "claims_per_second": len(ids) / claim_s,
                "changes_since_ms": read_s / 200 * 1000}
    finally:
        await store.close()


COMMANDS = {"claim": cmd_claim, "ingest": cmd_ingest, "agent": cmd_agent, "write": cmd_write,
            "follow": cmd_follow}


def main(argv: list[str]) -> int:
    command, url, *rest = argv
    try:
        if command == "bench":
            result = asyncio.run(bench(url))
        else:
            result = asyncio.run(COMMANDS[command](url, *(json.loads(a) for a in rest)))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
