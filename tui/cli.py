"""`heatdesk`: the command line, and the composition root that wires a process together.

Exit codes: 0 ok; 1 a user error (one line on stderr, never a traceback); 2 bad usage;
3 another agent holds the claim; 4 a draft check objected (``--force`` sends anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import io
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from store import open_store
from store.api import Store, export_case
from store.config import EXAMPLE, Config, ConfigError, default_config_path, load_config
from store.core import iso, ts
from store.records import ClaimConflict, StoreError, utcnow

EXIT_USER, EXIT_USAGE, EXIT_CLAIMED, EXIT_DRAFT = 1, 2, 3, 4

DEFAULT_REPLIES = {
    "ack": "Hi {customer}, sorry about this — we're on it and will come back to you by "
           "{promised_time}.",
    "followup": "Hi {customer}, we hope that's sorted now. Would you share how it went? "
                "Thanks for bearing with us.",
    "dm": "Hi {customer}, sorry for the trouble. Could you send us a DM with your order "
          "number so we can sort this out privately?",
    "phone": "Hi {customer}, this deserves a proper conversation. Could you DM us a number "
             "and a good time to call?",
}


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_USER):
        super().__init__(message)
        self.code = code


def saved_replies(config: Config) -> dict[str, str]:
    """Built-in saved replies overlaid with the config's ``[replies]``."""
    return {**DEFAULT_REPLIES, **config.saved_replies}


def fill(template: str, **values: str) -> str:
    """Fill {name} slots; unknown slots stay as they are (no format-string surprises)."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 --since argument."""
    if value is None:
        return None
    from feeds.mentions import InvalidMention, parse_time

    try:
        return parse_time(value)
    except InvalidMention:
        raise UserError(f"--since must be an ISO 8601 time, not {value!r}") from None


def parse_case_id(value: str) -> int:
    """A case id as typed (``12`` or ``#12``)."""
    text = value.lstrip("#")
    if not text.isdigit():
        raise UserError(f"not a case id: {value!r}")
    return int(text)


# -- argument parser -----------------------------------------------------------------------


def _common(suppress: bool) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    # Subcommands repeat the global options with SUPPRESS defaults, so
    # `heatdesk --db X case list` and `heatdesk case list --db X` both work.
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=default, help="SQLite path or postgresql:// URL")
    common.add_argument("--config", default=default, help="config file (default: "
                        "$HEATDESK_CONFIG or the user config dir's heatdesk.toml)")
    common.add_argument("--quiet", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="no progress output")
    agent = argparse.ArgumentParser(add_help=False)
    agent.add_argument("--agent", default=default, help="agent name (default: login name)")
    return common, agent


def build_parser() -> argparse.ArgumentParser:
    top_common, top_agent = _common(False)
    common, agent = _common(True)
    p = argparse.ArgumentParser(prog="heatdesk", parents=[top_common, top_agent],
                                description="A terminal console for a live social-media "
                                "response desk.")
    _desk_args(p)
    sub = p.add_subparsers(dest="command")
    desk = sub.add_parser("desk", parents=[common, agent], help="the desk TUI (default)")
    _desk_args(desk)
    wb = sub.add_parser("wallboard", parents=[common], help="full-screen read-only wallboard")
    wb.add_argument("--theme")
    serve = sub.add_parser("serve", parents=[common, agent], help="the desk or wallboard in a "
                           "browser (textual-serve)")
    serve.add_argument("--wallboard", action="store_true")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--public", action="store_true",
                       help="allow binding to a non-loopback address (no authentication!)")
    serve.add_argument("--theme")
    serve.add_argument("--public-url", help="the URL browsers use when behind a proxy")
    ingest = sub.add_parser("ingest", parents=[common], help="run feeds headless and deliver "
                            "the outbox")
    ingest.add_argument("--feed", action="append", default=[], metavar="SPEC",
                        help="demo[:rate=N,seed=S], replay:PATH[:speed=X], or a configured "
                        "feed's name (repeatable)")
    ingest.add_argument("--count", type=int, help="stop after N new mentions")
    ingest.add_argument("--duration", type=float, help="stop after SECONDS")
    ingest.add_argument("--no-deliver", action="store_true", help="do not deliver the outbox")
    export = sub.add_parser("export", parents=[common], help="cases with mentions and events")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--status")
    export.add_argument("--since")
    report = sub.add_parser("report", parents=[common], help="root-cause and performance report")
    report.add_argument("--format", choices=("html", "md"), default="html")
    report.add_argument("--since")
    report.add_argument("--output", "-o", help="write to a file instead of stdout")
    bench = sub.add_parser("bench", parents=[common], help="the performance suite")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true")
    init = sub.add_parser("init", parents=[common], help="write a commented example config")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    sub.add_parser("doctor", parents=[common], help="check config, store and feeds")

    case = sub.add_parser("case", help="work one case from the command line")
    verbs = case.add_subparsers(dest="verb", required=True)
    cp = [common, agent]
    lst = verbs.add_parser("list", parents=cp, help="open cases, hottest first")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--limit", type=int, default=50)
    show = verbs.add_parser("show", parents=cp, help="one case with its timeline")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    for verb, helptext in (("claim", "claim a case"), ("release", "release your claim"),
                           ("resolve", "resolve"), ("undo", "unsend your last reply"),
                           ("reopen", "reopen a resolved case"),
                           ("wait", "mark as waiting on the customer")):
        v = verbs.add_parser(verb, parents=cp, help=helptext)
        v.add_argument("id")
        if verb == "claim":
            v.add_argument("--take-over", action="store_true",
                           help="take the case from the agent who holds it")
    reply = verbs.add_parser("reply", parents=cp, help="reply in public (or --private)")
    reply.add_argument("id")
    reply.add_argument("--text", required=True)
    reply.add_argument("--private", action="store_true", help="send as a DM")
    reply.add_argument("--force", action="store_true", help="send despite draft warnings")
    reply.add_argument("--take-over", action="store_true")
    ack = verbs.add_parser("ack", parents=cp, help="acknowledge with a promised time")
    ack.add_argument("id")
    ack.add_argument("--text", help="override the saved reply (use {promised_time})")
    offline = verbs.add_parser("offline", parents=cp, help="take offline by phone or email")
    offline.add_argument("id")
    offline.add_argument("--channel", choices=("phone", "email"), default="phone")
    offline.add_argument("--note", default="")
    note = verbs.add_parser("note", parents=cp, help="internal note")
    note.add_argument("id")
    note.add_argument("--text", required=True)
    esc = verbs.add_parser("escalate", parents=cp, help="escalate to a supervisor (1) or "
                           "executive (2)")
    esc.add_argument("id")
    esc.add_argument("--tier", type=int, required=True, choices=(0, 1, 2))
    esc.add_argument("--note", default="")
    esc.add_argument("--phone", action="store_true", help="ask for a phone call-back")
    close = verbs.add_parser("close", parents=cp, help="close the loop (sends the follow-up "
                             "request)")
    close.add_argument("id")
    close.add_argument("--no-followup", action="store_true")
    tag = verbs.add_parser("tag", parents=cp, help="tag a case")
    tag.add_argument("id")
    tag.add_argument("tag")
    tag.add_argument("--remove", action="store_true")
    snooze = verbs.add_parser("snooze", parents=cp, help="snooze for some minutes")
    snooze.add_argument("id")
    snooze.add_argument("--minutes", type=float, default=60)
    score = verbs.add_parser("score", parents=cp, help="QA score for a handled case")
    score.add_argument("id")
    score.add_argument("--score", type=int, required=True)
    score.add_argument("--note")
    return p


def _desk_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", help="demo feed even if feeds are configured")
    p.add_argument("--no-ingest", action="store_true",
                   help="attach to a store that another process feeds")
    p.add_argument("--theme", help="theme name")


# -- helpers -------------------------------------------------------------------------------


def agent_name(args: argparse.Namespace) -> str:
    """--agent, else the login name."""
    if getattr(args, "agent", None):
        return args.agent
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "agent")


def config_for(args: argparse.Namespace) -> Config:
    return load_config(args.config) if args.config else load_config()


async def with_store(args: argparse.Namespace, fn: Callable[[Store, Config], Awaitable[int]]) -> int:
    config = config_for(args)
    store = await open_store(args.db, config)
    try:
        return await fn(store, config)
    finally:
        await store.close()


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def progress_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def check_draft(text: str, public: bool) -> list[str]:
    """Draft-check messages for a reply (tone, personal data in public)."""
    try:
        from store.rules.drafts import check_draft as rule
    except ImportError:
        return []
    return [issue.message for issue in rule(text, public)]


async def promise_time(store: Store, config: Config) -> datetime:
    """When to promise an answer: an estimate from the queue load plus the buffer."""
    open_cases = await store.open_cases()
    agents = len({c.assignee for c in open_cases if c.assignee}) or 1
    try:
        from store.rules.playbook import promise_minutes

        minutes = promise_minutes(len(open_cases), agents, config.promise_buffer_minutes)
    except ImportError:
        minutes = 60 + config.promise_buffer_minutes
    when = utcnow() + timedelta(minutes=minutes)
    # Round up to the next quarter hour: promises read better as 14:45 than 14:37.
    when = when.replace(second=0, microsecond=0)
    return when + timedelta(minutes=(15 - when.minute % 15) % 15)


def customer_display(customer: str) -> str:
    """How to greet a customer: their handle without the instance."""
    return "@" + customer.lstrip("@").split("@")[0] if not customer.startswith("did:") else "there"


# -- commands ------------------------------------------------------------------------------


async def cmd_case(args: argparse.Namespace) -> int:
    agent = agent_name(args)

    async def run(store: Store, config: Config) -> int:
        verb = args.verb
        if verb == "list":
            now = utcnow()
            ranked = sorted(((store.heat(c, now)[0], c) for c in await store.open_cases()),
                            key=lambda hc: (-hc[0], hc[1].id))
            for heat, c in ranked[: args.limit]:
                if args.json:
                    out(json.dumps({"case_id": str(c.id), "heat": heat, "status": c.status.value,
                                    "platform": c.platform, "customer": c.customer,
                                    "assignee": c.assignee, "escalation_tier": c.escalation_tier,
                                    "suggestion": c.suggestion, "text": c.last_text},
                                   ensure_ascii=False))
                else:
                    out(f"{c.id:>6}  {heat:5.1f}  {c.status.value:<12} {_plain(c.platform):<9} "
                        f"{_plain(c.customer)[:24]:<24} {_plain(c.last_text)[:60]}")
            return 0
        case_id = parse_case_id(args.id)
        if verb == "show":
            detail = await store.detail(case_id)
            if args.json:
                out(json.dumps(export_case(detail, store, utcnow()), ensure_ascii=False))
                return 0
            print_case(detail, store)
            return 0
        if verb == "claim":
            await store.claim(case_id, agent, take_over=args.take_over)
            out(f"case {case_id} claimed by {agent}")
        elif verb == "release":
            await store.release(case_id, agent)
            out(f"case {case_id} released")
        elif verb == "reply":
            problems = check_draft(args.text, public=not args.private)
            if problems and not args.force:
                raise UserError("draft check: " + "; ".join(problems) + " (use --force to send "
                                "anyway)", EXIT_DRAFT)
            if args.take_over:
                await store.claim(case_id, agent, take_over=True)
            await store.reply(case_id, agent, args.text, private=args.private)
            out(f"{'DM' if args.private else 'reply'} queued for case {case_id}; sending in "
                f"{config.undo_seconds:.0f}s (heatdesk case undo {case_id} to take it back)")
        elif verb == "ack":
            case = await store.case(case_id)
            when = await promise_time(store, config)
            template = args.text or saved_replies(config)["ack"]
            text = fill(template, customer=customer_display(case.customer),
                        promised_time=when.strftime("%H:%M UTC"), agent=agent,
                        brand=config.brand)
            await store.reply(case_id, agent, text, kind="reply", promised_by=when)
            out(f"acknowledged case {case_id}; promised by {iso(ts(when))}")
        elif verb == "offline":
            await store.take_offline(case_id, agent, args.channel, args.note)
            out(f"case {case_id} taken offline by {args.channel}")
        elif verb == "note":
            await store.note(case_id, agent, args.text)
            out(f"note added to case {case_id}")
        elif verb == "escalate":
            await store.escalate(case_id, agent, args.tier, args.note, args.phone)
            out(f"case {case_id} escalated to tier {args.tier}")
        elif verb == "resolve":
            await store.resolve(case_id, agent)
            out(f"case {case_id} resolved")
        elif verb == "reopen":
            await store.reopen(case_id, agent)
            out(f"case {case_id} reopened")
        elif verb == "wait":
            await store.wait_on_customer(case_id, agent)
            out(f"case {case_id} waiting on the customer")
        elif verb == "close":
            case = await store.case(case_id)
            followup = None
            if not args.no_followup:
                followup = fill(saved_replies(config)["followup"],
                                customer=customer_display(case.customer), agent=agent,
                                brand=config.brand)
            await store.close_case(case_id, agent, followup)
            out(f"case {case_id} closed" + ("; follow-up request queued" if followup else ""))
        elif verb == "tag":
            await store.tag(case_id, agent, args.tag, remove=args.remove)
            out(f"case {case_id} {'untagged' if args.remove else 'tagged'} {args.tag}")
        elif verb == "snooze":
            await store.snooze(case_id, agent, utcnow() + timedelta(minutes=args.minutes))
            out(f"case {case_id} snoozed for {args.minutes:g} minutes")
        elif verb == "undo":
            item = await store.undo(case_id, agent)
            out(f"unsent: {_plain(item.text)[:60]}")
        elif verb == "score":
            await store.score(case_id, agent, args.score, args.note)
            out(f"case {case_id} scored {args.score}/5")
        return 0

    return await with_store(args, run)


def _plain(text: str) -> str:
    """Text safe to print on a terminal: controls and escape sequences removed."""
    try:
        from tui.safe_text import clean

        return clean(text)
    except ImportError:
        return "".join(ch if ch.isprintable() else " " for ch in text)


def print_case(detail, store: Store) -> None:
    c = detail.case
    heat, parts = store.heat(c)
    out(f"case {c.id} · {_plain(c.platform)} · {_plain(c.customer)} · {c.status.value}"
        + (f" · tier {c.escalation_tier}" if c.escalation_tier else "")
        + (f" · held by {c.assignee}" if c.assignee else ""))
    out(f"heat {heat:.1f}  " + "  ".join(f"{k} {v:g}" for k, v in parts.items() if v))
    if c.suggestion:
        out(f"suggestion: {c.suggestion}")
    if c.promised_by is not None:
        state = ("kept" if c.resolved_at and c.resolved_at <= c.promised_by else
                 "broken" if (c.resolved_at or utcnow()) > c.promised_by else "running")
        out(f"promised by {iso(ts(c.promised_by))} ({state})")
    if detail.earlier_cases:
        out("earlier cases: " + ", ".join(f"{e.id} ({e.status.value})"
                                          for e in detail.earlier_cases))
    mentions = {m.id: m for m in detail.mentions}
    outbox = {o.event_id: o for o in detail.outbox}
    for e in detail.events:
        when = e.at.strftime("%Y-%m-%d %H:%M")
        who = _plain(e.agent or "")
        if e.kind == "mention" and e.mention_id in mentions:
            m = mentions[e.mention_id]
            body = _plain(m.text) + (" [deleted]" if m.deleted else "")
            out(f"  {when}  {who}: {body}")
            continue
        line = f"  {when}  {e.kind:<9} {who}: {_plain(e.body)}"
        item = outbox.get(e.id)
        if item is not None:
            line += f"  [{item.state}" + (f": {_plain(item.error)}" if item.error else "") + "]"
        out(line)


async def cmd_export(args: argparse.Namespace) -> int:
    since = parse_since(args.since)

    async def run(store: Store, config: Config) -> int:
        rows = await store.export(status=args.status, since=since)
        if args.format == "jsonl":
            for row in rows:
                out(json.dumps(row, ensure_ascii=False))
            return 0
        fields = ["case_id", "status", "platform", "customer", "assignee", "escalation_tier",
                  "heat", "opened_at", "first_response_at", "resolved_at", "sla_breached",
                  "tags", "suggestion", "repeat_contact", "prior_cases", "promised_by",
                  "mention_count", "last_text", "heat_parts", "qa"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = dict(row)
            flat["tags"] = ";".join(row["tags"])
            flat["heat_parts"] = json.dumps(row["heat_parts"])
            flat["qa"] = json.dumps(row["qa"])
            flat["mention_count"] = len(row["mentions"])
            flat["last_text"] = row["mentions"][-1]["text"] if row["mentions"] else ""
            writer.writerow(flat)
        sys.stdout.write(buf.getvalue())
        return 0

    return await with_store(args, run)


async def cmd_ingest(args: argparse.Namespace) -> int:
    from tui.runtime import IngestRuntime, build_adapters, parse_feed_spec

    config = config_for(args)
    specs = args.feed
    tables = [parse_feed_spec(s, config) for s in specs] if specs else (
        config.feeds or [parse_feed_spec("demo", config)])
    adapters = build_adapters(tables)
    show = progress_enabled(args)

    def malformed(feed, item) -> None:
        if not args.quiet:
            sys.stderr.write(f"skipped {item.where}: {item.reason}\n")

    store = await open_store(args.db, config)
    runtime = IngestRuntime(store, config, adapters, deliver=not args.no_deliver,
                            on_malformed=malformed, limit=args.count)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    await runtime.start()
    finished = asyncio.create_task(runtime.feeds_finished())
    stats = runtime.pipeline.stats
    try:
        while not stop.is_set():
            if finished.done():
                break
            if args.count is not None and stats.new >= args.count:
                break
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            if show:
                sys.stderr.write(f"\r{stats.new} new · {stats.duplicates} duplicate · "
                                 f"{stats.malformed} skipped")
            await asyncio.sleep(0.1)
    finally:
        finished.cancel()
        await runtime.stop()
        await store.close()
    elapsed = time.monotonic() - started
    if show:
        sys.stderr.write("\n")
    if not args.quiet:
        rate = stats.new / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(f"ingested {stats.new} new, {stats.duplicates} duplicate, "
                         f"{stats.deleted} deleted, {stats.malformed} skipped in {elapsed:.1f}s "
                         f"({rate:.0f}/s)\n")
    return 0


async def cmd_doctor(args: argparse.Namespace) -> int:
    problems = 0
    path = Path(args.config) if args.config else default_config_path()
    try:
        config = config_for(args)
        out(f"config   ok   {path if path.exists() else '(none; defaults)'}")
    except ConfigError as exc:
        out(f"config   FAIL {exc}")
        return EXIT_USER
    try:
        store = await open_store(args.db, config)
    except StoreError as exc:
        out(f"store    FAIL {exc}")
        return EXIT_USER
    try:
        check = await store.integrity_check()
        where = getattr(store, "path", None) or "(postgresql)"
        out(f"store    {'ok  ' if check == 'ok' else 'FAIL'} {store.backend} {where} "
            f"integrity {check}")
        problems += check != "ok"
        pending = await store.pending_outbox()
        failed = len(await store.outbox("failed"))
        out(f"outbox   {'ok  ' if not failed else 'WARN'} {pending} pending, {failed} failed")
        health = await store.feed_health()
    finally:
        await store.close()
    from tui.runtime import build_adapters

    for table in config.feeds:
        name = table["name"]
        try:
            adapter = build_adapters([table])[0]
        except ConfigError as exc:
            out(f"feed     FAIL {name}: {exc}")
            problems += 1
            continue
        missing = [f"{k}={v}" for k, v in table.items() if k.endswith("_env")
                   and not os.environ.get(str(v))]
        state = health.get(name, {})
        status = "FAIL" if missing else "ok  "
        line = f"feed     {status} {name} ({adapter.kind})"
        if missing:
            line += " — environment variable not set: " + ", ".join(missing)
            problems += 1
        if state:
            line += (f" · connected {state.get('connected')} · last event "
                     f"{state.get('last_event')} · last error {state.get('last_error')}")
        out(line)
    if not config.feeds:
        out("feeds    ok   none configured: the desk runs the demo feed (heatdesk init writes "
            "an example config)")
    for target in config.escalation_targets:  # an unset URL fails every escalation later
        var = target.get("url_env")
        where = f"tier {target.get('tier', 1)} ({target.get('kind', 'slack')})"
        if var and os.environ.get(str(var)):
            out(f"escalate ok   {where} via ${var}")
        else:
            out(f"escalate FAIL {where} — environment variable not set: url_env={var}")
            problems += 1
    return EXIT_USER if problems else 0


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else default_config_path()
    if path.exists() and not args.force:
        raise UserError(f"{path} already exists (use --force to overwrite)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(EXAMPLE, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    out(f"wrote {path}")
    return 0


DESK_FPS = "240"


def desk_environment() -> None:
    """Process settings for the desk's screen; call before Textual is imported.

    Textual draws at most 60 frames a second, on a fixed 1/60 s grid, so a key pressed
    just after a frame that showed new mentions waits for the next slot: with mentions
    streaming in, key-to-screen p95 was ~28 ms at 100k cases, 9-12 ms with a ceiling of
    240 (heatdesk bench). Frames are drawn only when something changed and cost the desk
    1-2 ms, so the higher ceiling costs little. A TEXTUAL_FPS set by the user wins.
    """
    os.environ.setdefault("TEXTUAL_FPS", DESK_FPS)


def cmd_desk(args: argparse.Namespace, wallboard: bool = False) -> int:
    config = config_for(args)
    desk_environment()
    from tui.app import run_desk

    return run_desk(args, config, wallboard=wallboard)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``heatdesk`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "desk"
    try:
        if command in ("desk", None):
            return cmd_desk(args)
        if command == "wallboard":
            return cmd_desk(args, wallboard=True)
        if command == "serve":
            from tui.serve import run_serve

            return run_serve(args)
        if command == "init":
            return cmd_init(args)
        if command == "bench":
            from tui.bench import run_bench

            return run_bench(args)
        if command == "report":
            from tui.report import run_report

            return asyncio.run(run_report(args))
        handler = {"case": cmd_case, "export": cmd_export, "ingest": cmd_ingest,
                   "doctor": cmd_doctor}[command]
        return asyncio.run(handler(args))
    except ClaimConflict as exc:
        sys.stderr.write(f"heatdesk: {exc} (use --take-over to take it)\n")
        return EXIT_CLAIMED
    except UserError as exc:
        sys.stderr.write(f"heatdesk: {exc}\n")
        return exc.code
    except (StoreError, ConfigError) as exc:
        sys.stderr.write(f"heatdesk: {exc}\n")
        return EXIT_USER
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
