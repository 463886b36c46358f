"""Many agents, one desk: real processes sharing one store, on each backend.

Every test spawns ``python -m tests.helpers_proc`` workers, waits until each has opened
the store, then releases them together. Latency figures are printed (run with -s), never
asserted: this box's timing is not the product's contract.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

from tests.conftest import mention
from tests.helpers_proc import p95

REPO = Path(__file__).resolve().parent.parent


class Worker:
    """One helper process, started at once and released by ``go``."""

    def __init__(self, command: str, url: str, *args: object):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.args = [command, url, *(json.dumps(a) for a in args)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers_proc", *self.args], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ready(self) -> None:
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"{self.args[0]} did not start: {line!r} {err}")

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 60) -> tuple[dict, str]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, f"{self.args[0]} failed ({self.proc.returncode}): {err}"
        return json.loads(out.strip().splitlines()[-1]), err


def start_together(workers: list[Worker]) -> None:
    for w in workers:
        w.ready()
    for w in workers:
        w.go()


async def test_racing_claims_have_exactly_one_winner_per_case(store, db_url):
    await store.ingest([mention(str(i), author=f"c{i}@x") for i in range(1, 21)])
    cases = list(range(1, 21))
    workers = []
    for i in range(6):
        order = cases[:]
        random.Random(i).shuffle(order)
        workers.append(Worker("claim", db_url, f"agent{i}", order))
    start_together(workers)
    results = [w.result()[0] for w in workers]
    for case_id in cases:
        outcomes = {f"agent{i}": r[str(case_id)] for i, r in enumerate(results)}
        winners = [a for a, o in outcomes.items() if o == "won"]
        assert len(winners) == 1, (case_id, outcomes)
        losers = [o for o in outcomes.values() if o != "won"]
        assert losers == [{"conflict": winners[0]}] * 5
        detail = await store.detail(case_id)
        assert detail.case.assignee == winners[0]
        assert [e.agent for e in detail.events if e.kind == "claim"] == winners


async def test_ingest_and_agents_at_once_never_see_a_locked_store(store, db_url, backend):
    # SQLite would swallow 2000 mentions in 0.1 s: pace it so it overlaps the agents' work.
    batch, pause = (50, 0.05) if backend == "sqlite" else (100, 0.0)
    ingest = Worker("ingest", db_url, "mp", 2000, batch, None, pause)
    agents = [Worker("agent", db_url, f"agent{i}", 2.5, i) for i in range(3)]
    start_together([ingest, *agents])
    ingested, ingest_err = ingest.result()
    outcomes = [a.result() for a in agents]
    for _, err in [(ingested, ingest_err), *outcomes]:
        assert "locked" not in err.lower() and "Traceback" not in err, err
    assert ingested["new"] == 2000
    claims = sum(o["claims"] for o, _ in outcomes)
    assert claims > 0
    cases = await store.cases()
    assert sum(c.mention_count for c in cases) == 2000
    claim_events = 0
    for case in cases:
        if case.assignee is None:
            continue
        events = [e for e in (await store.detail(case.id)).events if e.kind == "claim"]
        assert [e.agent for e in events] == [case.assignee]  # claimed once, by its holder
        claim_events += 1
    assert claim_events == claims
    print(f"\n[{store.backend}] 2000 mentions in {ingested['seconds']:.2f} s "
          f"({ingested['per_second']:.0f}/s while writing) as 3 agents made {claims} claims "
          f"({sum(o['conflicts'] for o, _ in outcomes)} lost races)")


async def test_a_write_in_one_process_is_seen_live_in_another(store, db_url, backend):
    await store.ingest([mention("1")])
    n = 50
    # SQLite has no notification: the follower polls; PostgreSQL wakes it by NOTIFY.
    poll = 0.05 if backend == "sqlite" else 1.0
    follower = Worker("follow", db_url, n, poll, 20)
    writer = Worker("write", db_url, 1, n, 0.02)
    start_together([follower, writer])
    written, _ = writer.result()
    followed, _ = follower.result()
    base = followed["base"]
    seen = {int(k): v for k, v in followed["seen"].items()}
    assert sorted(seen) == list(range(base + 1, base + n + 1))  # every change, in order
    latencies = [(seen[base + 1 + k] - done) * 1000 for k, done in enumerate(written["done"])]
    print(f"\n[{backend}] propagation over {n} writes: median "
          f"{statistics.median(latencies):.1f} ms, p95 {p95(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms (poll {poll * 1000:.0f} ms)")

