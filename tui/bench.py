"""`heatdesk bench`: the performance suite (BENCHMARKS.md has the method and the figures).

Every measurement runs on temporary stores and files, never on the user's store. The
heavy parts run in fresh child processes (``python -m tui.bench JOB …``), so one part's
heap, garbage-collector state or memory peak never colours another's:

- ``ingest``: Mention JSON lines in a temp replay file → the real pipeline (ReplayFeed,
  FeedSupervisor, IngestPipeline with its scoring process, IngestRuntime) → a temp SQLite
  store, against raw VADER (``polarity_scores``) on the same texts in the same process;
- ``model``: ``tui.queue_model.bench_model`` at 10k / 100k / 1M cases;
- ``desk``: the real desk (``DeskApp``, no ingest of its own) on a store of 100k open
  cases, headless: first paint and RSS, then frame cost and key-to-frame latency while
  this process streams mentions into the same store (the desk applies the deltas);
- ``datatable``: Textual's stock ``DataTable`` refilled with the same rows, next to a
  ``QueueView`` refill;
- ``follow``: a desk-like follower for change propagation (SQLite, and PostgreSQL when a
  server answers: a temporary database is created and dropped).

``--quick`` shrinks every size so the suite runs in CI (the JSON's ``sizes`` says what
ran); ``--json`` prints one JSON object on stdout and nothing else. Progress goes to
stderr, only on a terminal and without ``--quiet``. ``--config`` is honoured when given;
otherwise the defaults are used so figures compare across machines. ``--db`` may name the
PostgreSQL server for the propagation test (else ``$HEATDESK_BENCH_PG``, else the test
server's default URL); the bench never writes to a store it was pointed at.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
DEMO_START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
DEMO_SPACING = 0.5  # seconds between demo mentions: the demo feed's default 2/s
_PLATFORMS = ("mastodon", "bluesky", "reddit", "rss", "webhook")

FULL = {"ingest": 30_000, "ingest_runs": 2, "models": (10_000, 100_000, 1_000_000),
        "desk_cases": 100_000, "desk_seconds": 12.0, "stream_per_s": 200,
        "datatable_rows": 100_000, "sync_samples": 60}
QUICK = {"ingest": 4_000, "ingest_runs": 1, "models": (10_000, 100_000),
         "desk_cases": 10_000, "desk_seconds": 3.0, "stream_per_s": 200,
         "datatable_rows": 5_000, "sync_samples": 15}

TARGETS = {  # name -> (key in the result, "min" or "max", value); BENCHMARKS.md explains
    "ingest_vs_vader": ("ingest_vs_vader", "min", 0.8),
    "first_paint_ms": ("first_paint_ms", "max", 1000.0),
    "queue_frame_ms_p95": ("queue_frame_ms_p95", "max", 16.0),
    "keypress_ms_p95": ("keypress_ms_p95", "max", 16.0),
    "filter_ms": ("filter_ms", "max", 200.0),
    "rss_mb": ("rss_mb", "max", 300.0),
    "sync_latency_ms_p95": ("sync_latency_ms_p95", "max", 500.0),
    "sync_latency_pg_ms_p95": ("sync_latency_pg_ms_p95", "max", 200.0),
}


# -- small helpers ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100, nearest rank) of the finite values, or None."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return None
    rank = max(1, math.ceil(q / 100 * len(finite)))
    return finite[rank - 1]


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def rss_mb() -> tuple[float, float]:
    """(current VmRSS, peak VmHWM) of this process in MiB; getrusage where /proc is absent."""
    try:
        fields = dict(line.split(":", 1) for line in
                      Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
        return peak_mb, peak_mb


def _involuntary_switches() -> int:
    """How often the OS took the CPU away from this process (others wanted it)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import textual

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu_count": os.cpu_count(), "cpus_usable": usable, "load_avg": load,
            "python": platform.python_version(), "implementation": sys.implementation.name,
            "platform": platform.platform(), "machine": platform.machine(),
            "textual": getattr(textual, "__version__", None)}


def _child_env() -> dict[str, str]:
    """The environment for a child job: this checkout first on the import path."""
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def run_job(job: str, *args: str, timeout: float = 900.0) -> dict:
    """Run ``python -m tui.bench JOB ARGS`` and return the JSON object it prints last."""
    proc = subprocess.run([sys.executable, "-m", "tui.bench", job, *args], check=False,
                          capture_output=True, text=True, timeout=timeout, env=_child_env())
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{job} failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


def _config(path: str | None):
    from store.config import Config, load_config

    return load_config(path) if path else Config()


# -- ingest: the real pipeline against raw VADER ---------------------------------------------


def write_replay(path: Path, n: int) -> list[str]:
    """``n`` demo mentions as a replay file of Mention JSON lines; returns their texts."""
    from feeds.demo import demo_mentions
    from feeds.mentions import mention_to_json

    mentions = demo_mentions(n, seed=7, start=DEMO_START, spacing_s=DEMO_SPACING)
    with path.open("w", encoding="utf-8") as fh:
        for m in mentions:
            obj = mention_to_json(m)
            for key in ("sentiment", "deleted", "edited"):
                obj.pop(key, None)
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return [m.text for m in mentions]


def vader_rate(texts: list[str], repeat: int = 1) -> float:
    """Texts per second through stock VADER's ``polarity_scores`` (best of ``repeat``)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    scores = analyzer.polarity_scores
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            scores(text)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


async def _ingest_once(replay: Path, db: Path, config_path: str | None) -> dict:
    from store import open_store
    from tui.runtime import IngestRuntime, build_adapters, parse_feed_spec

    config = _config(config_path)
    store = await open_store(str(db), config)
    try:
        adapters = build_adapters([parse_feed_spec(f"replay:{replay}", config)])
        runtime = IngestRuntime(store, config, adapters, deliver=False,
                                on_malformed=lambda feed, item: None)
        start, cpu = time.perf_counter(), time.process_time()
        await runtime.start()
        await runtime.feeds_finished()
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        await runtime.stop()
        stats = runtime.pipeline.stats
        cases = await store._read(lambda tx: tx.fetchone("SELECT COUNT(*) FROM cases")[0])
        return {"seconds": seconds, "new": stats.new, "duplicates": stats.duplicates,
                "malformed": stats.malformed, "batches": stats.batches, "cases": cases,
                "per_s": stats.new / seconds if seconds > 0 else 0.0,
                "main_cpu_us": cpu / max(1, stats.new) * 1e6}
    finally:
        await store.close()


def job_ingest(n: int, runs: int, config_path: str | None) -> dict:
    """Child: raw VADER and end-to-end ingest on the same demo texts, in one process."""
    from store.rules.sentiment import score_many

    with tempfile.TemporaryDirectory(prefix="heatdesk-bench-") as tmp:
        replay = Path(tmp) / "mentions.jsonl"
        texts = write_replay(replay, n)
        vader = vader_rate(texts, repeat=runs)
        start, cpu = time.perf_counter(), time.process_time()
        score_many(texts)
        score_s, score_cpu = time.perf_counter() - start, time.process_time() - cpu
        results = []
        for k in range(runs):
            results.append(asyncio.run(_ingest_once(replay, Path(tmp) / f"store{k}.db",
                                                    config_path)))
            gc.collect()
    best = max(results, key=lambda r: r["per_s"])
    lengths = [len(t) for t in texts]
    return {"n": n, "vader_per_s": vader, "score_per_s": n / score_s,
            "score_cpu_us": score_cpu / n * 1e6,
            "ingest_per_s": best["per_s"], "runs": results,
            "text_chars_mean": statistics.fmean(lengths),
            "text_chars_median": statistics.median(lengths)}


# -- a store of N open cases for the desk ------------------------------------------------------


async def build_store(path: Path, n: int, config_path: str | None) -> dict:
    """``n`` open cases (one demo mention each, distinct customers) in a SQLite store."""
    from feeds.demo import demo_mentions
    from store import open_store
    from store.records import Mention
    from store.rules.sentiment import score_many

    pool = demo_mentions(2048, seed=11, start=DEMO_START, spacing_s=DEMO_SPACING)
    scores = score_many([m.text for m in pool])
    now = datetime.now(UTC)
    store = await open_store(str(path), _config(config_path))
    start = time.perf_counter()
    try:
        batch: list[Mention] = []
        for i in range(n):
            src = pool[i % len(pool)]
            batch.append(Mention(
                platform=_PLATFORMS[i % len(_PLATFORMS)], external_id=f"bench-{i}",
                author=f"customer{i}", author_name=src.author_name, text=src.text,
                followers=src.followers,
                created_at=now - timedelta(seconds=(n - i) * 3 % 7200), lang=src.lang,
                url=src.url, sentiment=scores[i % len(pool)], source="demo"))
            if len(batch) == 2000 or i == n - 1:
                await store.ingest(batch)
                batch = []
    finally:
        await store.close()
    return {"cases": n, "seconds": time.perf_counter() - start}


def stream_mentions(n_cases: int, seed: int = 3):
    """An endless stream of mentions for a store from ``build_store``: a third of them
    from customers who already have a case (their case moves), the rest new cases."""
    from feeds.demo import demo_mentions
    from store.records import Mention
    from store.rules.sentiment import score_many

    pool = demo_mentions(1024, seed=seed, start=DEMO_START, spacing_s=DEMO_SPACING)
    scores = score_many([m.text for m in pool])
    rng = random.Random(seed)
    k = 0
    while True:
        src = pool[k % len(pool)]
        i = rng.randrange(n_cases) if rng.random() < 0.33 else n_cases + k  # known or new
        k += 1
        yield Mention(platform=_PLATFORMS[i % len(_PLATFORMS)], external_id=f"stream-{seed}-{k}",
                      author=f"customer{i}",
                      author_name=src.author_name, text=src.text, followers=src.followers,
                      created_at=datetime.now(UTC), lang=src.lang,
                      sentiment=scores[k % len(pool)], source="demo")


# -- the desk at N open cases: first paint, RSS, frames and keys under a stream -----------------


def _frame_recorder(app) -> tuple[list[float], list[tuple[float, float]]]:
    """Record every frame of ``app``: when it was ready, and what its update work cost.

    A frame counts when the compositor's update is turned into the escape sequences a
    terminal would receive (headless apps skip that step, so it is done here). Its cost
    is the screen's update callback (layout, render, segments) that produced it.
    """
    from textual.screen import Screen

    frames: list[float] = []
    costs: list[tuple[float, float]] = []
    depth = [0]

    def timed(method):
        def wrapper(self, *args, **kwargs):
            if depth[0]:
                return method(self, *args, **kwargs)
            depth[0] += 1
            start, seen = time.perf_counter(), len(frames)
            try:
                return method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
                if len(frames) > seen:
                    end = time.perf_counter()
                    costs.append((end, (end - start) * 1000))
        return wrapper

    # A measuring harness in its own process: patched before any screen exists.
    Screen._on_timer_update = timed(Screen._on_timer_update)
    Screen._compositor_refresh = timed(Screen._compositor_refresh)
    shown = app._display

    def display(screen, renderable) -> None:
        if renderable is not None:
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            frames.append(time.perf_counter())
        shown(screen, renderable)

    app._display = display
    return frames, costs


KEYS = (["j"] * 6 + ["pagedown"] + ["j"] * 3 + ["k"] * 2 + ["pagedown", "pageup"] + ["j"] * 4
        + ["G"] + ["k"] * 3 + ["g"])  # every key moves the cursor, so each ends in a frame


def job_desk(db: str, cases: int, seconds: float, config_path: str | None) -> None:
    """Child: run the desk headless on ``db``; report first paint, RSS and keys with no
    stream, print ``ready``, then (after a line on stdin) press keys for ``seconds``
    while the parent streams mentions into the store.

    A key's latency runs from the moment it is sent, the way a terminal driver sends it,
    to the first frame finished after the queue acted on it (the cursor moved).
    """
    from tui import cli

    getattr(cli, "desk_environment", lambda: None)()  # as `heatdesk desk` runs: first
    from textual import events

    from tui.app import DeskApp
    from tui.desk import DeskScreen
    from tui.queue_view import QueueView

    moves: list[float] = []
    move_to = QueueView._move_to

    def recorded_move(self, index: int) -> None:
        move_to(self, index)
        moves.append(time.perf_counter())

    QueueView._move_to = recorded_move
    app = DeskApp(config=_config(config_path), db=db, agent="bench", live=True)
    frames, costs = _frame_recorder(app)
    pauses: list[float] = []
    gc_start = [0.0]

    def gc_watch(phase: str, info: dict) -> None:
        if info.get("generation") == 2:
            if phase == "start":
                gc_start[0] = time.perf_counter()
            else:
                pauses.append((time.perf_counter() - gc_start[0]) * 1000)

    def first_frame_after(moment: float) -> float | None:
        i = bisect_left(frames, moment)  # frames are appended in time order
        return frames[i] if i < len(frames) else None

    async def press_keys(duration: float, seed: int) -> dict[str, Any]:
        """Press keys for ``duration`` seconds, 20-80 ms apart; latencies and frames."""
        rng = random.Random(seed)
        latencies: list[float] = []
        to_action: list[float] = []
        missed = 0
        start, cpu = time.perf_counter(), time.process_time()
        switches, first_cost = _involuntary_switches(), len(costs)
        gc.callbacks.append(gc_watch)
        try:
            i = 0
            while time.perf_counter() - start < duration:
                key = KEYS[i % len(KEYS)]
                i += 1
                moved = len(moves)
                sent = time.perf_counter()
                app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
                frame = None
                while frame is None and time.perf_counter() - sent < 2.0:
                    await asyncio.sleep(0.0002)
                    if len(moves) > moved:
                        frame = first_frame_after(moves[moved])
                if frame is None:
                    missed += 1
                else:
                    latencies.append((frame - sent) * 1000)
                    to_action.append((moves[moved] - sent) * 1000)
                await asyncio.sleep(rng.uniform(0.02, 0.08))
        finally:
            gc.callbacks.remove(gc_watch)
        wall = time.perf_counter() - start
        window = [ms for _, ms in costs[first_cost:]]
        return {"seconds": wall, "keys": len(latencies), "keys_without_frame": missed,
                "keypress_ms_p50": percentile(latencies, 50),
                "keypress_ms_p95": percentile(latencies, 95),
                "keypress_ms_max": max(latencies, default=None),
                "key_to_action_ms_p95": percentile(to_action, 95),
                "frames": len(window), "frame_ms_p50": percentile(window, 50),
                "frame_ms_p95": percentile(window, 95), "frame_ms_max": max(window, default=None),
                "cpu_share": (time.process_time() - cpu) / wall,
                "involuntary_switches": _involuntary_switches() - switches}

    result: dict[str, Any] = {"host": "desk", "cases": cases,
                              "textual_fps": os.environ.get("TEXTUAL_FPS", "60")}

    async def main() -> None:
        begin = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while not isinstance(app.screen, DeskScreen):
                await asyncio.sleep(0.002)
            desk = app.screen
            await asyncio.wait_for(desk.loaded.wait(), 300)
            loaded = time.perf_counter()
            seen = len(frames)
            while len(frames) == seen and time.perf_counter() - loaded < 10:
                await asyncio.sleep(0.001)
            result["first_frame_ms"] = (frames[0] - begin) * 1000 if frames else None
            result["loaded_ms"] = (loaded - begin) * 1000
            result["first_paint_ms"] = ((frames[seen] - begin) * 1000 if len(frames) > seen
                                        else None)
            result["first_paint_rows"] = desk.model.total
            # The first screen is the hottest cases; the rest load behind it. RSS and keys
            # are measured with every case in.
            await asyncio.wait_for(desk.fully_loaded.wait(), 300)
            result["full_load_ms"] = (time.perf_counter() - begin) * 1000
            result["rows_shown"] = desk.model.total
            await pilot.pause(0.3)
            result["rss_mb"], result["rss_peak_mb"] = rss_mb()
            desk.queue.focus()
            await pilot.pause(0.2)
            result["idle"] = await press_keys(min(3.0, seconds), seed=4)
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            generation = desk.model.generation
            pauses.clear()  # count the stream's collections only
            profile = os.environ.get("HEATDESK_BENCH_PROFILE")  # a cProfile dump, for digging
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            streamed = await press_keys(seconds, seed=5)
            if profile:
                profiler.disable()
                profiler.dump_stats(profile)
            result.update(streamed)
            result.update({"gc_full_pauses": len(pauses),
                           "gc_full_pause_ms_max": max(pauses, default=None),
                           "model_updates": desk.model.generation - generation,
                           "rows_at_end": desk.model.total})

    asyncio.run(main())
    print(json.dumps(result), flush=True)


async def _feed(db: Path, n_cases: int, per_s: int, stop: asyncio.Event,
                config_path: str | None) -> dict:
    """Stream mentions into the store in 100 ms batches, as the pipeline flushes them."""
    from store import open_store

    store = await open_store(str(db), _config(config_path))
    source = stream_mentions(n_cases)
    sent = batches = 0
    try:
        start = time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - start) * per_s) - sent
            if due > 0:
                await store.ingest([next(source) for _ in range(due)])
                sent += due
                batches += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass
    finally:
        await store.close()
    return {"mentions": sent, "batches": batches}


async def desk_section(tmp: Path, sizes: dict, config_path: str | None,
                       say: Callable[[str], None]) -> dict:
    """Build the store, run the desk child, stream into the store while it presses keys."""
    db = tmp / "desk.db"
    n = sizes["desk_cases"]
    say(f"desk: building a store of {n:,} open cases")
    built = await build_store(db, n, config_path)
    say("desk: first paint, then keys while mentions stream in")
    args = [sys.executable, "-m", "tui.bench", "_desk", str(db), str(n),
            str(sizes["desk_seconds"])]
    if config_path:
        args += ["--config", config_path]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_child_env())
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 300)
        if line.strip() != b"ready":
            err = (await proc.stderr.read()).decode(errors="replace").strip().splitlines()
            raise RuntimeError("the desk did not start: " + (err[-1] if err else line.decode()))
        stop = asyncio.Event()
        feeder = asyncio.create_task(_feed(db, n, sizes["stream_per_s"], stop, config_path))
        await asyncio.sleep(0.5)  # the stream runs before the first key
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        out, err = await asyncio.wait_for(proc.communicate(), sizes["desk_seconds"] + 120)
        stop.set()
        fed = await feeder
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = err.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"the desk failed: {tail[-1] if tail else 'no output'}")
        result = json.loads(lines[-1])
        result["stream"] = {**fed, "per_s": sizes["stream_per_s"]}
        result["store_build_s"] = built["seconds"]
        return result
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# -- Textual's DataTable against the QueueView --------------------------------------------------


def job_datatable(n: int) -> dict:
    """Child: refill a stock DataTable and a QueueView with the same ``n`` rows."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from tui.queue_model import QueueModel, synthetic_cases
    from tui.queue_view import QueueView

    model = QueueModel()
    cases = synthetic_cases(n, model.now)
    model.upsert(cases)
    rows = [(f"{model.heat(c.id):.0f}", f"{(model.remaining(c.id) or 0) / 60:.0f}m", c.platform,
             c.customer, c.status.value, c.assignee or "", c.last_text)
            for c in (model.row_at(i) for i in range(len(model)))]

    class Host(App):
        CSS = "DataTable, QueueView { height: 1fr; }"

        def compose(self) -> ComposeResult:
            yield DataTable(id="table")
            yield QueueView(model, id="queue")

    app = Host()
    frames, _ = _frame_recorder(app)
    out: dict[str, Any] = {"rows": n}

    async def next_frame(since: int, limit: float = 120.0) -> float:
        start = time.perf_counter()
        while len(frames) == since:
            if time.perf_counter() - start > limit:
                return math.nan
            await asyncio.sleep(0.0005)
        return frames[since]

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(DataTable)
            table.add_columns("heat", "sla", "platform", "customer", "status", "agent", "message")
            await pilot.pause()
            for label, fill in (("fill", False), ("refill", True)):
                if fill:
                    table.clear()
                seen = len(frames)
                start = time.perf_counter()
                table.add_rows(rows)
                added = time.perf_counter()
                end = await next_frame(seen)
                out[f"datatable_{label}_ms"] = (end - start) * 1000
                out[f"datatable_{label}_add_rows_ms"] = (added - start) * 1000
            await pilot.pause()
            key = next(iter(table.rows))
            seen = len(frames)
            start = time.perf_counter()
            table.update_cell(key, table.ordered_columns[0].key, "99")
            out["datatable_update_cell_ms"] = (await next_frame(seen) - start) * 1000
            await pilot.pause()
            seen = len(frames)
            start = time.perf_counter()
            model.clear()
            model.upsert(cases)
            out["queue_refill_ms"] = (await next_frame(seen) - start) * 1000
            await pilot.pause()
            case = cases[0]
            case.heat_static = 99.0
            seen = len(frames)
            start = time.perf_counter()
            model.upsert([case])
            out["queue_update_one_ms"] = (await next_frame(seen) - start) * 1000

    asyncio.run(main())
    return out


# -- propagation: a change in one process seen by another ---------------------------------------


async def job_follow(url: str, count: int, wait: float) -> None:
    """Child: follow the change cursor as the desk does; print when each change was seen."""
    from store import open_store

    store = await open_store(url, _config(None))
    try:
        seq = await store.change_seq()
        await store.wait_for_change(0)  # starts listening where the backend can
        print("ready", flush=True)
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 60 + count
        while len(seen) < count and time.monotonic() < deadline:
            await store.wait_for_change(wait)
            changes = await store.changes_since(seq)
            if changes.seq == seq:
                continue
            if changes.case_ids:  # the desk fetches the changed cases before showing them
                await store.cases(ids=sorted(changes.case_ids))
            now = time.time()
            for s in range(seq + 1, changes.seq + 1):
                seen[str(s)] = now
            seq = changes.seq
        print(json.dumps({"seen": seen}), flush=True)
    finally:
        await store.close()


async def measure_sync(url: str, samples: int) -> dict:
    """Propagation from a writer (this process) to a desk-like follower (a child)."""
    from store import open_store
    from store.config import Config
    from store.records import Mention

    try:
        from tui.desk import FOLLOW_WAIT
    except ImportError:
        FOLLOW_WAIT = 0.25
    store = await open_store(url, Config())
    try:
        await store.ingest([Mention(platform="demo", external_id="sync-1", author="sync@bench",
                                    text="where is my parcel?", created_at=datetime.now(UTC),
                                    sentiment=-0.2)])
        case_id = (await store.open_cases())[0].id
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui.bench", "_follow", url, str(samples), str(FOLLOW_WAIT),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_child_env())
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line.strip() != b"ready":
                raise RuntimeError("the follower did not start")
            rng = random.Random(9)
            written: dict[str, float] = {}
            for k in range(samples):
                await asyncio.sleep(rng.uniform(0.05, 0.15))
                start = time.time()
                await store.note(case_id, "bench", f"note {k}")
                written[str(await store.change_seq())] = start
            out, err = await asyncio.wait_for(proc.communicate(), 90)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError("the follower printed nothing: "
                               + err.decode(errors="replace").strip()[-200:])
        seen = json.loads(lines[-1])["seen"]
        lat = [(seen[s] - t) * 1000 for s, t in written.items() if s in seen]
        return {"backend": store.backend, "samples": len(lat), "lost": len(written) - len(lat),
                "follow_wait_s": FOLLOW_WAIT, "ms_p50": _r(percentile(lat, 50)),
                "ms_p95": _r(percentile(lat, 95)), "ms_max": _r(max(lat, default=math.nan))}
    finally:
        await store.close()


async def sync_section(tmp: Path, samples: int, pg_server: str) -> dict:
    out: dict[str, Any] = {"sqlite": await measure_sync(str(tmp / "sync.db"), samples)}
    out["postgresql"] = await _sync_pg(pg_server, samples)
    return out


async def _sync_pg(server: str, samples: int) -> dict:
    """The PostgreSQL figure in a temporary database (created here, dropped after)."""
    try:
        import asyncpg
    except ImportError:
        return {"skipped": "asyncpg is not installed"}
    from urllib.parse import urlsplit, urlunsplit

    name = "heatdesk_bench_" + uuid.uuid4().hex[:10]
    try:
        admin = await asyncpg.connect(server, timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to measure
        return {"skipped": f"no PostgreSQL at {_redact(server)} ({type(exc).__name__})"}
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        await admin.close()
        return {"skipped": f"cannot create a database ({type(exc).__name__}: {exc})"}
    parts = urlsplit(server)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    try:
        return await measure_sync(url, samples)
    finally:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or 5432}{parts.path}"


# -- the suite ---------------------------------------------------------------------------------


def run_bench(args: argparse.Namespace) -> int:
    """``heatdesk bench``: run the suite, print a table (or one JSON object with --json)."""
    quick = bool(getattr(args, "quick", False))
    sizes = dict(QUICK if quick else FULL)
    from tui.cli import progress_enabled

    show = progress_enabled(args)  # on a terminal, without --quiet; stderr only
    config_path = getattr(args, "config", None)
    db = getattr(args, "db", None) or ""
    pg_server = (db if db.startswith(("postgresql://", "postgres://"))
                 else os.environ.get("HEATDESK_BENCH_PG", PG_DEFAULT))
    began = time.perf_counter()

    def say(message: str) -> None:
        if show:
            sys.stderr.write(f"[{time.perf_counter() - began:6.1f}s] {message}\n")
            sys.stderr.flush()

    result: dict[str, Any] = {"quick": quick, "machine": machine(), "errors": []}
    cfg = ["--config", config_path] if config_path else []

    def section(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one failing part must not hide the rest
            result["errors"].append(f"{name}: {exc}")
            say(f"{name}: FAILED {exc}")

    def ingest() -> None:
        say(f"ingest: {sizes['ingest']:,} demo mentions, replay → pipeline → SQLite vs raw VADER")
        r = run_job("_ingest", str(sizes["ingest"]), str(sizes["ingest_runs"]), *cfg)
        result["ingest"] = r
        result["ingest_per_s"] = _r(r["ingest_per_s"], 1)
        result["vader_per_s"] = _r(r["vader_per_s"], 1)
        result["ingest_vs_vader"] = _r(r["ingest_per_s"] / r["vader_per_s"], 3)

    def models() -> None:
        out: dict[str, Any] = {}
        for n in (10_000, 100_000, 1_000_000):
            if n not in sizes["models"]:
                out[str(n)] = None
                continue
            say(f"queue model: {n:,} cases")
            out[str(n)] = run_job("_model", str(n))
        result["queue_model"] = out
        at = out.get("100000") or out.get("10000")
        result["filter_ms"] = _r(max(at[k] for k in ("filter_first_key_ms", "filter_narrow_ms",
                                                     "filter_narrow_more_ms", "filter_clear_ms")))
        result["filter_cases"] = at["n"]

    def desk() -> None:
        with tempfile.TemporaryDirectory(prefix="heatdesk-bench-") as tmp:
            r = asyncio.run(desk_section(Path(tmp), sizes, config_path, say))
        result["desk"] = r
        result["first_paint_ms"] = _r(r["first_paint_ms"])
        result["rss_mb"] = _r(r["rss_mb"], 1)
        result["queue_frame_ms_p95"] = _r(r["frame_ms_p95"])
        result["keypress_ms_p95"] = _r(r["keypress_ms_p95"])
        result["keypress_idle_ms_p95"] = _r(r["idle"]["keypress_ms_p95"])

    def datatable() -> None:
        say(f"DataTable vs QueueView: {sizes['datatable_rows']:,} rows")
        r = run_job("_datatable", str(sizes["datatable_rows"]))
        result["datatable"] = r
        result["datatable_refill_ms"] = _r(r["datatable_refill_ms"])
        result["datatable_rows"] = r["rows"]

    def sync() -> None:
        say("propagation: SQLite, then PostgreSQL if reachable")
        with tempfile.TemporaryDirectory(prefix="heatdesk-bench-") as tmp:
            r = asyncio.run(sync_section(Path(tmp), sizes["sync_samples"], pg_server))
        result["sync"] = r
        result["sync_latency_ms_p95"] = r["sqlite"]["ms_p95"]
        result["sync_latency_pg_ms_p95"] = r["postgresql"].get("ms_p95")

    for key in ("ingest_per_s", "vader_per_s", "ingest_vs_vader", "queue_model",
                "queue_frame_ms_p95", "keypress_ms_p95", "first_paint_ms", "rss_mb",
                "sync_latency_ms_p95", "sync_latency_pg_ms_p95", "keypress_idle_ms_p95",
                "datatable_refill_ms",
                "datatable_rows", "filter_ms"):
        result[key] = None
    section("ingest", ingest)
    section("queue_model", models)
    section("desk", desk)
    section("datatable", datatable)
    section("sync", sync)
    result["sizes"] = {"ingest_mentions": sizes["ingest"],
                       "queue_model_cases": list(sizes["models"]),
                       "queue_model_skipped": [n for n in (10_000, 100_000, 1_000_000)
                                               if n not in sizes["models"]],
                       "desk_cases": sizes["desk_cases"], "datatable_rows": sizes["datatable_rows"],
                       "stream_mentions_per_s": sizes["stream_per_s"],
                       "sync_samples": sizes["sync_samples"]}
    result["targets"] = check_targets(result)
    try:
        result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(report(result))
    return 0


def check_targets(result: dict) -> dict[str, dict]:
    """Each target with its value, whether it is met (None: not measured) and the size it
    was measured at (the targets are set for 100k open cases; --quick measures less)."""
    sizes = result.get("sizes", {})
    at = {"ingest_vs_vader": f"{sizes.get('ingest_mentions')} demo mentions",
          "filter_ms": f"{result.get('filter_cases')} cases",
          "sync_latency_ms_p95": f"{sizes.get('sync_samples')} changes",
          "sync_latency_pg_ms_p95": f"{sizes.get('sync_samples')} changes"}
    out = {}
    for name, (key, kind, limit) in TARGETS.items():
        value = result.get(key)
        met = None if value is None else (value >= limit if kind == "min" else value <= limit)
        out[name] = {"value": value, kind: limit, "met": met,
                     "measured_at": at.get(name, f"{sizes.get('desk_cases')} open cases")}
    return out


def report(result: dict) -> str:
    """A plain-text summary for a terminal."""
    m = result["machine"]
    title = "heatdesk bench" + (" --quick" if result["quick"] else "")
    lines = [f"{title} · {m['cpu_count']} CPUs · Python {m['python']} · {m['platform']}", ""]
    for name, t in result["targets"].items():
        kind = "min" if "min" in t else "max"
        mark = {True: "ok  ", False: "MISS", None: "n/a "}[t["met"]]
        limit = ("≥ " if kind == "min" else "≤ ") + str(t[kind])
        lines.append(f"  {mark} {name:<24} {t['value']!s:>9}  target {limit:<8} "
                     f"({t['measured_at']})")
    lines.append("")
    lines.append(f"  ingest {result.get('ingest_per_s')}/s, raw VADER "
                 f"{result.get('vader_per_s')}/s on the same texts")
    lines.append(f"  keys with no stream p95 {result.get('keypress_idle_ms_p95')} ms; "
                 f"DataTable refill {result.get('datatable_refill_ms')} ms "
                 f"({result.get('datatable_rows')} rows)")
    for n, r in (result.get("queue_model") or {}).items():
        if r:
            lines.append(f"  model {int(n):>9,} cases: load {r['load_ms']} ms, upsert one "
                         f"{r['upsert_one_us']} µs, rerank 5 s {r['rerank_5s_ms']} ms, "
                         f"filter {r['filter_first_key_ms']} ms")
    lines.extend(f"  error: {err}" for err in result["errors"])
    lines.append(f"  ({result['elapsed_s']} s; --json for everything)")
    return "\n".join(lines) + "\n"


# -- child-process entry points ------------------------------------------------------------------


def _child(argv: list[str]) -> int:
    job, *rest = argv
    config_path = None
    if "--config" in rest:
        i = rest.index("--config")
        config_path = rest[i + 1]
        del rest[i:i + 2]
    if job == "_ingest":
        print(json.dumps(job_ingest(int(rest[0]), int(rest[1]), config_path)))
    elif job == "_model":
        from tui.queue_model import bench_model

        print(json.dumps(bench_model(int(rest[0]))))
    elif job == "_desk":
        job_desk(rest[0], int(rest[1]), float(rest[2]), config_path)
    elif job == "_datatable":
        print(json.dumps(job_datatable(int(rest[0]))))
    elif job == "_follow":
        asyncio.run(job_follow(rest[0], int(rest[1]), float(rest[2])))
    else:
        sys.stderr.write(f"unknown bench job {job!r}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
