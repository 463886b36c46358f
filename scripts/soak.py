"""Opt-in soak: kill -9 and fuzz heatdesk for a while, and add up what survived.

    python scripts/soak.py --minutes 30              # kills + fuzz, half an hour
    python scripts/soak.py --minutes 10 --only kills # just the kill suites
    python scripts/soak.py --rounds 1 --kills 40     # one heavier round of each

Each round runs, in fresh processes and with a new seed:

- the delivery kill suite (tests/test_kill_delivery.py): ``--kills`` SIGKILLs of
  ``heatdesk ingest`` while it posts replies to a fake Mastodon that also fails POSTs;
  every reply must exist on the platform exactly once;
- the ingest kill suite (tests/test_kill_ingest.py): ``--kills`` SIGKILLs during a replay;
  every mention stored exactly once;
- the fuzz suites (tests/test_fuzz_render.py, tests/test_fuzz_inputs.py,
  tests/test_safe_text.py) with ``--examples`` hypothesis examples per property and
  hypothesis' own fresh random seed.

It stops at the first failure (printing the seed and the command to replay it) or when
the time is up, and prints the totals: kills survived, replies checked, posts seen by
the fake, hypothesis examples tried. Exit status 0 only if every round passed.
Not part of the normal test run; the suites themselves stay fast by default.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILL_LINE = re.compile(r"\[kill-delivery\] kills=(\d+) rounds=(\d+) replies=(\d+) posts=(\d+)"
                       r".*?posted but not yet recorded=(\d+)")
PASSING = re.compile(r"(\d+) passing, (\d+) failing")


def pytest(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args]
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return 124, f"timed out after {timeout:.0f}s\n{exc.stdout or ''}{exc.stderr or ''}"
    return done.returncode, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long to keep going")
    p.add_argument("--rounds", type=int, help="stop after this many rounds instead")
    p.add_argument("--kills", type=int, default=30, help="SIGKILLs per kill suite per round")
    p.add_argument("--examples", type=int, default=2000,
                   help="hypothesis examples per property per round")
    p.add_argument("--only", choices=("kills", "fuzz"), help="run one half only")
    p.add_argument("--seed", type=int, help="first seed (default: random)")
    args = p.parse_args(argv)

    seed = args.seed if args.seed is not None else random.randrange(1, 10**6)
    deadline = time.monotonic() + args.minutes * 60
    totals = {"rounds": 0, "delivery kills": 0, "replies checked": 0, "posts seen": 0,
              "kills mid-send": 0, "ingest kill rounds": 0, "fuzz examples": 0}
    started = time.monotonic()
    while (args.rounds is None and time.monotonic() < deadline) or (
            args.rounds is not None and totals["rounds"] < args.rounds):
        env = {**os.environ, "HEATDESK_KILLS": str(args.kills),
               "HEATDESK_KILL_SEED": str(seed), "HEATDESK_FUZZ_EXAMPLES": str(args.examples)}
        env.pop("HEATDESK_CONFIG", None)
        runs: list[tuple[str, list[str]]] = []
        if args.only != "fuzz":
            runs += [("delivery kills", ["tests/test_kill_delivery.py", "-k", "sigkill"]),
                     ("ingest kills", ["tests/test_kill_ingest.py", "-k", "sigkill"])]
        if args.only != "kills":
            runs += [("fuzz", ["--hypothesis-show-statistics", "--hypothesis-seed", str(seed),
                               "tests/test_fuzz_render.py", "tests/test_fuzz_inputs.py",
                               "tests/test_safe_text.py"])]
        for name, run_args in runs:
            code, out = pytest(run_args, env, timeout=max(600.0, args.kills * 30.0))
            if code != 0:
                print(out[-8000:])
                print(f"\nFAILED: {name} in round {totals['rounds'] + 1}, seed {seed}. Replay:\n"
                      f"  HEATDESK_KILLS={args.kills} HEATDESK_KILL_SEED={seed} "
                      f"HEATDESK_FUZZ_EXAMPLES={args.examples} {sys.executable} -m pytest "
                      + " ".join(run_args))
                report(totals, started)
                return 1
            if name == "delivery kills":
                for kills, _, replies, posts, mid in KILL_LINE.findall(out):
                    totals["delivery kills"] += int(kills)
                    totals["replies checked"] += int(replies)
                    totals["posts seen"] += int(posts)
                    totals["kills mid-send"] += int(mid)
            elif name == "ingest kills":
                totals["ingest kill rounds"] += args.kills
            else:
                totals["fuzz examples"] += sum(int(a) for a, _ in PASSING.findall(out))
        totals["rounds"] += 1
        print(f"round {totals['rounds']} ok (seed {seed}) after "
              f"{(time.monotonic() - started) / 60:.1f} min", flush=True)
        seed += 1
    report(totals, started)
    return 0


def report(totals: dict[str, int], started: float) -> None:
    minutes = (time.monotonic() - started) / 60
    print(f"\nsoak: {minutes:.1f} min · " + " · ".join(f"{k} {v}" for k, v in totals.items()))


if __name__ == "__main__":
    sys.exit(main())
