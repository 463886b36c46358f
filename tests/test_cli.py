"""The command line through real subprocesses: exit codes, one-line errors, the flows."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, db: Path | None = None, env: dict | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tui.cli"]
    if db is not None:
        cmd += ["--db", str(db)]
    full_env = {**os.environ, "HEATDESK_CONFIG": "", "NO_COLOR": "1", **(env or {})}
    full_env.pop("HEATDESK_CONFIG")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=full_env, input=input, timeout=120)


def line(**kw) -> str:
    base = {"platform": "mastodon", "author": "alice@example.social", "text": "hi",
            "created_at": "2026-11-22T10:00:00Z"}
    base.update(kw)
    return json.dumps(base)


@pytest.fixture
def replay(tmp_path) -> Path:
    path = tmp_path / "mentions.jsonl"
    rows = [
        line(id="1", text="You charged me twice and nobody answers. Refund now or I file a "
             "chargeback.", followers=90000, author="angry@example.social"),
        "this is not json",
        line(id="2", author="q@example.social", text="Do you ship to Norway?"),
        json.dumps({"platform": "mastodon", "id": "3"}),
        line(id="4", author="t@example.social", text="Thanks, love the new jacket!"),
        line(id="5", author="angry@example.social", text="Still nothing!!", in_reply_to="1",
             created_at="2026-11-22T10:05:00Z"),
        line(id="6", text="\x1b]52;c;ZXZpbA==\x07 \x1b[2J [red]markup[/red] \u202e \x00",
             author="weird@example.social"),
        line(id="7", created_at="yesterday"),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_replay_ingest_reports_bad_lines_and_dedupes(tmp_path, replay):
    db = tmp_path / "desk.db"
    first = run("ingest", "--feed", f"replay:{replay}", db=db)
    assert first.returncode == 0, first.stderr
    assert "mentions.jsonl:2: not JSON" in first.stderr
    assert "mentions.jsonl:4: missing required field(s): author, text, created_at" in first.stderr
    assert "mentions.jsonl:8: created_at is not ISO 8601" in first.stderr
    assert "ingested 5 new" in first.stderr
    # A copy of the same file under another name: everything is a duplicate.
    copy = tmp_path / "again.jsonl"
    copy.write_bytes(replay.read_bytes())
    second = run("ingest", "--feed", f"replay:{copy}", "--quiet", db=db)
    assert second.returncode == 0 and second.stderr == ""
    exported = [json.loads(x) for x in run("export", db=db).stdout.splitlines()]
    ids = sorted(m["id"] for case in exported for m in case["mentions"])
    assert ids == ["1", "2", "4", "5", "6"]


def test_export_has_contract_fields_and_verbatim_text(tmp_path, replay):
    db = tmp_path / "desk.db"
    run("ingest", "--feed", f"replay:{replay}", "--quiet", db=db)
    rows = [json.loads(x) for x in run("export", db=db).stdout.splitlines()]
    angry = next(r for r in rows if r["customer"] == "angry@example.social")
    assert len(angry["mentions"]) == 2  # the reply joined its thread
    for key in ("heat_parts", "sentiment", "first_response_at", "events"):
        assert key in angry or key in angry["mentions"][0]
    weird = next(r for r in rows if r["customer"] == "weird@example.social")
    assert weird["mentions"][0]["text"] == "\x1b]52;c;ZXZpbA==\x07 \x1b[2J [red]markup[/red] \u202e \x00"
    table = list(csv.DictReader(io.StringIO(run("export", "--format", "csv", db=db).stdout)))
    assert len(table) == len(rows) and "heat" in table[0]


def test_case_list_ranks_and_is_terminal_safe(tmp_path, replay):
    db = tmp_path / "desk.db"
    run("ingest", "--feed", f"replay:{replay}", "--quiet", db=db)
    listing = run("case", "list", db=db).stdout.splitlines()
    assert "angry@example.social" in listing[0]
    assert "t@example.social" in listing[-1] or "t@example.social" not in listing[0]
    assert not any(ch in "".join(listing) for ch in "\x1b\x07\x00\u202e")
    as_json = [json.loads(x) for x in run("case", "list", "--json", db=db).stdout.splitlines()]
    assert as_json[0]["heat"] >= as_json[-1]["heat"]


def test_case_verbs_drive_the_lifecycle(tmp_path, replay):
    db = tmp_path / "desk.db"
    run("ingest", "--feed", f"replay:{replay}", "--quiet", db=db)
    case_id = json.loads(run("case", "list", "--json", db=db).stdout.splitlines()[0])["case_id"]
    assert run("case", "claim", case_id, "--agent", "ann", db=db).returncode == 0
    other = run("case", "claim", case_id, "--agent", "ben", db=db)
    assert other.returncode == 3 and "claimed by ann" in other.stderr
    assert "Traceback" not in other.stderr
    ok = run("case", "reply", case_id, "--agent", "ann", "--text", "So sorry — we're on it.",
             "--force", db=db)
    assert ok.returncode == 0, ok.stderr
    assert run("case", "note", case_id, "--agent", "ann", "--text", "VIP", db=db).returncode == 0
    assert run("case", "escalate", case_id, "--tier", "1", "--phone", "--agent", "ann",
               db=db).returncode == 0
    refused = run("case", "close", case_id, "--agent", "ann", db=db)
    assert refused.returncode == 1 and "resolve it first" in refused.stderr
    assert run("case", "resolve", case_id, "--agent", "ann", db=db).returncode == 0
    assert run("case", "close", case_id, "--agent", "ann", db=db).returncode == 0
    shown = json.loads(run("case", "show", case_id, "--json", db=db).stdout)
    assert shown["status"] == "closed" and shown["escalation_tier"] == 1
    kinds = [e["kind"] for e in shown["events"]]
    for kind in ("mention", "claim", "reply", "note", "escalate", "status"):
        assert kind in kinds
    assert {e["agent"] for e in shown["events"] if e["kind"] in ("reply", "note")} == {"ann"}
    text = run("case", "show", case_id, db=db).stdout
    assert "escalate" in text and "ann" in text


@pytest.mark.parametrize("args, message", [
    (("case", "show", "999"), "no case 999"),
    (("case", "show", "abc"), "not a case id"),
    (("ingest", "--feed", "replay:/nonexistent/file.jsonl"), "replay file not found"),
    (("ingest", "--feed", "nosuchfeed"), "unknown feed 'nosuchfeed'"),
    (("export", "--since", "last tuesday"), "--since must be an ISO 8601 time"),
])
def test_user_errors_are_one_clear_line(tmp_path, args, message):
    result = run(*args, db=tmp_path / "desk.db")
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_config_and_literal_secret_are_refused(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[desk\nbrand = ")
    result = run("--config", str(broken), "case", "list", db=tmp_path / "d.db")
    assert result.returncode == 1 and "not valid TOML" in result.stderr
    leaky = tmp_path / "leaky.toml"
    leaky.write_text('[[feeds]]\nname = "m"\nkind = "mastodon"\ntoken = "s3cr3t-value"\n')
    result = run("--config", str(leaky), "case", "list", db=tmp_path / "d.db")
    assert result.returncode == 1 and "token_env" in result.stderr
    assert "s3cr3t-value" not in result.stderr
    missing = run("--config", str(tmp_path / "nope.toml"), "case", "list", db=tmp_path / "d.db")
    assert missing.returncode == 1 and "config file not found" in missing.stderr


def test_init_writes_a_config_that_loads_and_doctor_checks_it(tmp_path):
    cfg = tmp_path / "conf" / "heatdesk.toml"
    assert run("--config", str(cfg), "init").returncode == 0
    assert run("--config", str(cfg), "init").returncode == 1  # never overwrites silently
    doctor = run("--config", str(cfg), "doctor", db=tmp_path / "d.db")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "integrity ok" in doctor.stdout


def test_demo_ingest_count_and_sandbox_delivery(tmp_path):
    db = tmp_path / "desk.db"
    result = run("ingest", "--feed", "demo:rate=0,seed=3", "--count", "40", db=db)
    assert result.returncode == 0, result.stderr
    case_id = json.loads(run("case", "list", "--json", db=db).stdout.splitlines()[0])["case_id"]
    run("case", "reply", case_id, "--text", "Hello, sorry about that.", "--force", db=db,
        env={"HEATDESK_CONFIG": ""})
    cfg = tmp_path / "c.toml"
    cfg.write_text("[desk]\nundo_seconds = 0\n")
    run("--config", str(cfg), "case", "note", case_id, "--text", "x", db=db)
    # The undo window (10 s by default) holds the reply; a later ingest delivers it.
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE outbox SET not_before = 0, next_attempt_at = 0")
    conn.commit()
    conn.close()
    run("ingest", "--feed", "demo:rate=0,seed=3,count=1", "--duration", "3", db=db)
    shown = json.loads(run("case", "show", case_id, "--json", db=db).stdout)
    reply = next(e for e in shown["events"] if e["kind"] == "reply")
    assert reply["delivery"] == "delivered" and reply["remote_url"].startswith("sandbox://")


def test_ack_promises_a_time_with_a_buffer_and_score_validates(tmp_path, replay):
    db = tmp_path / "desk.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[desk]\npromise_buffer_minutes = 45\n[replies]\n'
                   'ack = "Hi {customer}, we will be back by {promised_time}."\n')
    run("ingest", "--feed", f"replay:{replay}", "--quiet", db=db)
    case_id = json.loads(run("case", "list", "--json", db=db).stdout.splitlines()[0])["case_id"]
    acked = run("--config", str(cfg), "case", "ack", case_id, "--agent", "ann", db=db)
    assert acked.returncode == 0, acked.stderr
    shown = json.loads(run("case", "show", case_id, "--json", db=db).stdout)
    from datetime import datetime

    promised = datetime.fromisoformat(shown["promised_by"].replace("Z", "+00:00"))
    minutes_ahead = (promised - datetime.now(UTC)).total_seconds() / 60
    assert minutes_ahead >= 45  # the estimate plus at least the configured buffer
    reply = next(e for e in shown["events"] if e["kind"] == "reply")
    assert reply["body"].startswith("Hi @angry, we will be back by ")
    assert "promised by" in run("case", "show", case_id, db=db).stdout
    early = run("case", "score", case_id, "--score", "4", "--agent", "sup", db=db)
    assert early.returncode == 0  # answered cases can be scored
    bad = run("case", "score", case_id, "--score", "9", "--agent", "sup", db=db)
    assert bad.returncode == 1 and "1 to 5" in bad.stderr
    shown = json.loads(run("case", "show", case_id, "--json", db=db).stdout)
    assert shown["qa"][0]["score"] == 4 and shown["qa"][0]["agent"] == "sup"


def test_reply_draft_checks_exit_4_unless_forced(tmp_path, replay):
    db = tmp_path / "desk.db"
    run("ingest", "--feed", f"replay:{replay}", "--quiet", db=db)
    case_id = json.loads(run("case", "list", "--json", db=db).stdout.splitlines()[0])["case_id"]
    pii = run("case", "reply", case_id, "--agent", "ann", "--text",
              "Refunded to card 4111 1111 1111 1111, confirmation sent to jo@example.com", db=db)
    assert pii.returncode == 4 and "privately" in pii.stderr and "Traceback" not in pii.stderr
    tone = run("case", "reply", case_id, "--agent", "ann", "--text",
               "Actually, as I said, our policy clearly states this is your fault.", db=db)
    assert tone.returncode == 4
    private = run("case", "reply", case_id, "--agent", "ann", "--private", "--text",
                  "Could you confirm the card ending 1111 and your email jo@example.com?", db=db)
    assert private.returncode == 0, private.stderr  # personal data is fine in a DM
    forced = run("case", "reply", case_id, "--agent", "ann", "--force", "--text",
                 "Actually, as I said, our policy clearly states this is your fault.", db=db)
    assert forced.returncode == 0
    polite = run("case", "reply", case_id, "--agent", "ann", "--text",
                 "So sorry about this. We've refunded you today; it shows in 3-5 days.", db=db)
    assert polite.returncode == 0, polite.stderr
    shown = json.loads(run("case", "show", case_id, "--json", db=db).stdout)
    assert sum(e["kind"] == "reply" for e in shown["events"]) == 2  # refused drafts left no trace
