"""Crash safety: kill -9 during ingest at random moments, many times; nothing lost or doubled.

Each round starts `heatdesk ingest` on the same replay file and SIGKILLs it after a random
delay; a final run finishes the file. The store must then hold every valid mention exactly
once (the unique key makes duplicates impossible, so we also check that no mention was
skipped by a cursor persisted ahead of its batch) and pass SQLite's integrity check.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("HEATDESK_KILLS", "8"))


def _replay(path: Path, n: int) -> set[str]:
    ids = set()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % 97 == 13:
                fh.write("{broken line\n")
                continue
            ext = f"k{i}"
            ids.add(ext)
            fh.write(json.dumps({
                "platform": "mastodon", "id": ext, "author": f"user{i % 50}@example.social",
                "text": f"mention {i}: my order {i} is late, refund please",
                "created_at": f"2026-11-22T{10 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "in_reply_to": f"k{i - 1}" if i % 10 == 5 else None,
            }) + "\n")
    return ids


def _ingest(db: Path, replay: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db), "ingest", "--feed",
         f"replay:{replay}", "--quiet", "--no-deliver"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def test_sigkill_during_ingest_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "desk.db"
    replay = tmp_path / "m.jsonl"
    expected = _replay(replay, 20000)
    rng = random.Random(int(os.environ.get("HEATDESK_KILL_SEED", "1")))
    killed = 0
    for _ in range(KILLS):
        proc = _ingest(db, replay)
        time.sleep(rng.uniform(0.3, 1.8))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(30)
    final = _ingest(db, replay)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT external_id FROM mentions").fetchall()
        stored = [r[0] for r in rows]
        assert len(stored) == len(set(stored))
        assert set(stored) == expected
        orphans = conn.execute("SELECT COUNT(*) FROM mentions WHERE case_id IS NULL").fetchone()[0]
        assert orphans == 0
        events = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'mention'").fetchone()[0]
        assert events == len(expected)  # one mention event each: no batch half-written
    finally:
        conn.close()
    assert killed >= 1, "every run finished before it could be killed; raise the file size"


def test_sigterm_drains_and_exits_cleanly(tmp_path):
    db = tmp_path / "desk.db"
    replay = tmp_path / "m.jsonl"
    _replay(replay, 3000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db), "ingest", "--feed",
         f"replay:{replay}:speed=50", "--no-deliver"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "ingested" in err
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0]
    cursor = conn.execute("SELECT value FROM cursors").fetchone()
    conn.close()
    reported = int(err.split("ingested ")[1].split(" new")[0])
    assert stored == reported  # everything acknowledged as read was committed
    assert cursor is not None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _scoring_process(pid: int) -> int | None:
    for child in _children(pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            return child
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_scoring_process_ends_when_ingest_is_killed(tmp_path):
    """kill -9 of ``heatdesk ingest`` must not leave its scoring process behind."""
    replay = tmp_path / "m.jsonl"
    _replay(replay, 60000)
    proc = _ingest(tmp_path / "desk.db", replay)
    deadline = time.monotonic() + 30
    worker = None
    while worker is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        worker = _scoring_process(proc.pid)
    assert worker is not None, "the ingest never started a scoring process"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), f"scoring process {worker} outlived its parent"
