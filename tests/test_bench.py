"""`heatdesk bench --quick --json` through a real subprocess: one JSON object, every key.

No timing is asserted: the figures depend on the machine (BENCHMARKS.md has them). What is
checked is the contract other tools read: the keys, their types, and that nothing but
the JSON object reaches stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

NUMBER = (int, float)
NUMBER_OR_NONE = (int, float, type(None))


@pytest.fixture(scope="module")
def quick() -> dict:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("HEATDESK_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "bench", "--quick", "--json"],
                          check=False, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must be one JSON object, got {len(lines)} lines"
    result = json.loads(lines[0])
    assert isinstance(result, dict)
    return result


def test_no_part_failed(quick):
    assert quick["errors"] == []
    assert quick["quick"] is True


def test_ingest_against_raw_vader(quick):
    for key in ("ingest_per_s", "vader_per_s", "ingest_vs_vader"):
        assert isinstance(quick[key], NUMBER) and quick[key] > 0, key
    ingest = quick["ingest"]
    assert ingest["n"] == quick["sizes"]["ingest_mentions"]
    assert all(run["new"] == ingest["n"] for run in ingest["runs"])  # every mention stored
    assert isinstance(ingest["text_chars_mean"], NUMBER)


def test_queue_model_sizes(quick):
    model = quick["queue_model"]
    assert set(model) == {"10000", "100000", "1000000"}
    assert model["1000000"] is None and 1_000_000 in quick["sizes"]["queue_model_skipped"]
    for n in ("10000", "100000"):
        figures = model[n]
        assert figures["n"] == int(n)
        for key in ("load_ms", "upsert_one_us", "upsert_batch100_ms", "rerank_5s_ms",
                    "rerank_60s_ms", "filter_first_key_ms", "sort_change_ms"):
            assert isinstance(figures[key], NUMBER), (n, key)
    assert isinstance(quick["filter_ms"], NUMBER)


def test_desk_figures(quick):
    for key in ("queue_frame_ms_p95", "keypress_ms_p95", "keypress_idle_ms_p95",
                "first_paint_ms", "rss_mb"):
        assert isinstance(quick[key], NUMBER), key
    desk = quick["desk"]
    assert desk["rows_shown"] == quick["sizes"]["desk_cases"]
    assert desk["keys"] > 0 and desk["frames"] > 0
    assert desk["stream"]["mentions"] > 0  # mentions really streamed in meanwhile


def test_datatable_comparison(quick):
    assert isinstance(quick["datatable_refill_ms"], NUMBER)
    assert quick["datatable_rows"] == quick["sizes"]["datatable_rows"] < 100_000  # --quick
    assert isinstance(quick["datatable"]["queue_refill_ms"], NUMBER)


def test_propagation(quick):
    assert isinstance(quick["sync_latency_ms_p95"], NUMBER)
    assert quick["sync"]["sqlite"]["lost"] == 0
    assert isinstance(quick["sync_latency_pg_ms_p95"], NUMBER_OR_NONE)
    pg = quick["sync"]["postgresql"]
    assert ("skipped" in pg) == (quick["sync_latency_pg_ms_p95"] is None)


def test_machine_and_targets(quick):
    machine = quick["machine"]
    assert isinstance(machine["cpu_count"], int)
    assert isinstance(machine["python"], str) and isinstance(machine["platform"], str)
    for name, target in quick["targets"].items():
        assert target["met"] in (True, False, None), name
        assert isinstance(target["value"], NUMBER_OR_NONE), name
        assert isinstance(target["measured_at"], str), name
