"""Precision@K of the heat ranking on a labelled triage corpus.

    python scripts/triage_eval.py PATH [--half a|b] [--now case|file] [--quiet]

Uses only ``store.rules``: mentions are grouped into cases by their ``in_reply_to``
chains, each case's heat is ``static_parts`` (prior_cases = 0) plus ``sla_part`` for a
case nobody has answered, with ``now`` 30 minutes after the case's last mention (or,
with ``--now file``, 30 minutes after the file's last mention). A case's label is its
latest mention's label; K is the number of urgent cases. ``label`` and ``why`` are read
only to score the ranking, never to compute heat.

``--half a`` / ``--half b`` keeps every other case of each label (in order of first
appearance, so both halves hold about as many urgent cases), for checking that tuning on
one half carries over to the other. The labels pick the halves; they never touch heat.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.rules import heat, sentiment
from store.rules.sla import SlaTargets, sla_state

AFTER_LAST = timedelta(minutes=30)


@dataclass
class EvalCase:
    """One case of the corpus: its mentions (oldest first) and the heat it earned."""

    rows: list[dict] = field(default_factory=list)
    heat: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.rows[-1]["label"]

    @property
    def last(self) -> dict:
        return self.rows[-1]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def load_cases(path: str) -> list[EvalCase]:
    """Group the file's mentions into cases by following ``in_reply_to`` to the root."""
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    rows.sort(key=lambda r: parse_time(r["created_at"]))
    root: dict[str, str] = {}
    cases: dict[str, EvalCase] = {}
    for row in rows:
        parent = row.get("in_reply_to")
        key = root.get(parent, parent) if parent in root else row["id"]
        root[row["id"]] = key
        cases.setdefault(key, EvalCase()).rows.append(row)
    return list(cases.values())


def split_half(cases: list[EvalCase], half: str) -> list[EvalCase]:
    """Every other case of each label: half ``a`` takes the 1st, 3rd, … of each."""
    seen: dict[str, int] = {}
    kept = []
    for case in cases:
        i = seen.get(case.label, 0)
        seen[case.label] = i + 1
        if (i % 2 == 0) == (half == "a"):
            kept.append(case)
    return kept


def score_cases(cases: list[EvalCase], now_mode: str = "case") -> None:
    """Heat for every case, as the desk would compute it with no agent action."""
    weights = heat.HeatWeights()
    targets = SlaTargets()
    file_last = max(parse_time(c.last["created_at"]) for c in cases)
    for case in cases:
        signals = [
            heat.MentionSignal(r["text"], sentiment.score(r["text"]), int(r.get("followers") or 0),
                               parse_time(r["created_at"]))
            for r in case.rows
        ]
        parts = heat.static_parts(signals, 0, weights)
        now = (signals[-1].created_at if now_mode == "case" else file_last) + AFTER_LAST
        state = sla_state(signals[0].created_at, False, heat.priority(parts), now, targets)
        parts["sla"] = heat.sla_part(parts, state.used, weights)
        case.parts, case.heat = parts, heat.total(parts)


def precision_at_k(cases: list[EvalCase]) -> tuple[float, int, list[EvalCase]]:
    """(P@K, K, ranking): hottest first, ties in order of first appearance."""
    ranked = sorted(cases, key=lambda c: -c.heat)
    k = sum(c.label == "urgent" for c in cases)
    hits = sum(c.label == "urgent" for c in ranked[:k])
    return (hits / k if k else 0.0), k, ranked


def describe(case: EvalCase) -> str:
    last = case.last
    parts = " ".join(f"{k[:3]}={v:g}" for k, v in case.parts.items() if v)
    text = " ".join(last["text"].split())
    return (f"  {last['id']} {case.label:<6} heat={case.heat:5.1f} [{parts}] "
            f"f={last.get('followers', 0)} n={len(case.rows)} | {text[:150]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--half", choices=("a", "b"))
    ap.add_argument("--now", choices=("case", "file"), default="case")
    ap.add_argument("--quiet", action="store_true", help="print only the score")
    ap.add_argument("--ranking", action="store_true", help="print every case, hottest first")
    args = ap.parse_args(argv)
    try:
        cases = load_cases(args.path)
    except (OSError, ValueError, KeyError) as exc:
        print(f"triage_eval: cannot read {args.path}: {exc}", file=sys.stderr)
        return 2
    if args.half:
        cases = split_half(cases, args.half)
    score_cases(cases, args.now)
    p, k, ranked = precision_at_k(cases)
    hits = sum(c.label == "urgent" for c in ranked[:k])
    print(f"P@K = {p:.3f} ({hits} of K={k}; {len(cases)} cases)")
    if args.ranking:
        for i, case in enumerate(ranked, 1):
            print(f"{i:3d}" + describe(case)[1:])
    elif not args.quiet:
        print("false alarms (in the top K, not urgent):")
        for case in ranked[:k]:
            if case.label != "urgent":
                print(describe(case))
        print("missed (urgent, below the top K):")
        for case in ranked[k:]:
            if case.label == "urgent":
                print(describe(case))
    return 0


if __name__ == "__main__":
    sys.exit(main())
