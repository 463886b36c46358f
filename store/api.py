"""`Store`: the one async API feeds, screens and commands use, whatever the backend.

Every method runs one function over one transaction on the backend's own thread, so a
call costs one hop off the event loop however many statements it runs. Backends
(store/sqlite.py, store/postgres.py) only supply that runner.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from store.config import Config
from store.core import (
    CASE_COLUMNS,
    EVENT_COLUMNS,
    MENTION_COLUMNS,
    OUTBOX_COLUMNS,
    IngestResult,
    Ops,
    Tx,
    case_from_row,
    effective_heat,
    event_from_row,
    iso,
    mention_from_row,
    outbox_from_row,
    ts,
)
from store.records import Case, Event, Mention, OutboxItem, utcnow
from store.rules.sla import sla_state

T = TypeVar("T")
CASE_PAGE = 2000  # rows per page when reading many cases
Runner = Callable[[Callable[[Tx], T], bool], Awaitable[T]]


@dataclass
class CaseDetail:
    """A case with everything the timeline pane shows."""

    case: Case
    mentions: list[Mention]
    events: list[Event]
    earlier_cases: list[Case]
    qa: list[dict[str, Any]]
    outbox: list[OutboxItem]


@dataclass
class Changes:
    """What changed since a cursor position."""

    seq: int
    case_ids: set[int] = field(default_factory=set)
    presence: bool = False


class Store:
    """The desk's durable memory: records, rules, events, outbox, change cursor."""

    backend = "abstract"

    def __init__(self, run: Runner, config: Config):
        self._run = run
        self.config = config
        self.ops = Ops(config)

    async def _write(self, fn: Callable[[Tx], T]) -> T:
        return await self._run(fn, True)

    async def _read(self, fn: Callable[[Tx], T]) -> T:
        return await self._run(fn, False)

    async def close(self) -> None:
        """Close the connection."""

    async def wait_for_change(self, timeout: float) -> None:
        """Sleep until something may have changed (LISTEN/NOTIFY) or ``timeout`` passes."""
        import asyncio

        await asyncio.sleep(timeout)

    # -- ingest ------------------------------------------------------------------------------

    async def ingest(
        self,
        mentions: Sequence[Mention],
        deletes: Iterable[tuple[str, str]] = (),
        cursors: dict[str, str] | None = None,
    ) -> IngestResult:
        """One batch in one transaction: new mentions, deletes, and feed cursors."""
        deletes = list(deletes)

        def fn(tx: Tx) -> IngestResult:
            now = utcnow().timestamp()
            result = self.ops.ingest(tx, mentions, now)
            for platform, external_id in deletes:
                if self.ops.mark_deleted(tx, platform, external_id, now):
                    result.deleted += 1
            for feed, value in (cursors or {}).items():
                self.ops.set_cursor(tx, feed, value, now)
            return result

        result = await self._write(fn)
        self.ops.keep_recent(result.recent)  # committed: the next batch may trust it
        return result

    async def cursor(self, feed: str) -> str | None:
        """A feed's persisted resume cursor."""
        row = await self._read(
            lambda tx: tx.fetchone("SELECT value FROM cursors WHERE feed = ?", (feed,))
        )
        return row[0] if row else None

    # -- reading -----------------------------------------------------------------------------

    async def open_cases(self) -> list[Case]:
        """Every case not resolved or closed."""
        return await self.cases(open_only=True)

    async def cases(
        self, *, open_only: bool = False, status: str | None = None, since: datetime | None = None,
        ids: Iterable[int] | None = None, order: str = "id", limit: int | None = None,
        after_id: int | None = None,
    ) -> list[Case]:
        """Cases by filter (all of them by default), in id order.

        ``order="heat"`` puts the hottest stored heat first (``heat_static``, highest first,
        then id): with ``open_only`` and a ``limit`` it reads a desk's first screen without
        reading every case (an index keeps the open cases in that order). ``limit`` stops
        after that many cases; ``after_id`` (id order only) starts after that case, so many
        cases can be read in several short calls, other calls taking turns between them.
        """
        if order not in ("id", "heat"):
            raise ValueError(f"unknown order {order!r}; 'id' or 'heat'")
        if after_id is not None and order != "id":
            raise ValueError("after_id pages in id order only")
        if limit is not None and limit <= 0:
            return []
        where, params = [], []
        if open_only:  # the same words as the index cases_open_heat's condition (schema v2)
            where.append("status NOT IN ('resolved', 'closed')")
        if status:
            where.append("status = ?")
            params.append(status)
        if since is not None:
            where.append("last_activity >= ?")
            params.append(ts(since))
        id_list = list(ids) if ids is not None else None
        if id_list is not None:
            if not id_list:
                return []
            where.append(f"id IN ({', '.join('?' * len(id_list))})")
            params.extend(id_list)
        if order == "heat":
            sql = f"SELECT {CASE_COLUMNS} FROM cases"
            if where:
                sql += f" WHERE {' AND '.join(where)}"
            sql += " ORDER BY heat_static DESC, id"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            return await self._read(lambda tx: list(map(case_from_row, tx.fetchall(sql, params))))
        # Pages by id, each turned into Cases in the store's thread: one fetchall of 100k
        # rows held every raw row and every Case at once (and the process kept that memory,
        # ~65 MB), and building the Cases on the event loop froze the screen for a second.
        where.append("id > ?")
        sql = f"SELECT {CASE_COLUMNS} FROM cases WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        start = -1 if after_id is None else after_id

        def fn(tx: Tx) -> list[Case]:
            out: list[Case] = []
            after = start
            while True:
                page = CASE_PAGE if limit is None else min(CASE_PAGE, limit - len(out))
                rows = tx.fetchall(sql, (*params, after, page))
                out += map(case_from_row, rows)
                if len(rows) < page or (limit is not None and len(out) >= limit):
                    return out
                after = rows[-1][0]

        return await self._read(fn)

    async def case(self, case_id: int) -> Case:
        """One case (CaseNotFound if there is none)."""
        return await self._read(lambda tx: self.ops.load_case(tx, case_id))

    async def detail(self, case_id: int) -> CaseDetail:
        """A case with its mentions, timeline, the customer's earlier cases, QA and outbox."""

        def fn(tx: Tx) -> CaseDetail:
            case = self.ops.load_case(tx, case_id)
            mentions = [mention_from_row(r) for r in tx.fetchall(
                f"SELECT {MENTION_COLUMNS} FROM mentions WHERE case_id = ? ORDER BY created_at, id",
                (case_id,))]
            events = [event_from_row(r) for r in tx.fetchall(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE case_id = ? ORDER BY id", (case_id,))]
            earlier = [case_from_row(r) for r in tx.fetchall(
                f"SELECT {CASE_COLUMNS} FROM cases WHERE customer_id = ? AND id != ? ORDER BY id",
                (case.customer_id, case_id))]
            qa = [{"agent": a, "score": s, "note": n, "at": iso(at)} for a, s, n, at in tx.fetchall(
                "SELECT agent, score, note, at FROM qa WHERE case_id = ? ORDER BY id", (case_id,))]
            outbox = [outbox_from_row(r) for r in tx.fetchall(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_id = ? ORDER BY id", (case_id,))]
            return CaseDetail(case, mentions, events, earlier, qa, outbox)

        return await self._read(fn)

    async def mention(self, platform: str, external_id: str) -> Mention | None:
        """One stored mention by its platform id."""
        row = await self._read(lambda tx: tx.fetchone(
            f"SELECT {MENTION_COLUMNS} FROM mentions WHERE platform = ? AND external_id = ?",
            (platform, external_id)))
        return mention_from_row(row) if row else None

    async def change_seq(self) -> int:
        """The newest position of the change cursor."""
        row = await self._read(lambda tx: tx.fetchone("SELECT MAX(seq) FROM changes"))
        return row[0] or 0

    async def changes_since(self, seq: int, limit: int = 50_000) -> Changes:
        """Which cases changed after ``seq`` (and whether presence did)."""
        rows = await self._read(lambda tx: tx.fetchall(
            "SELECT seq, case_id, kind FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit)))
        out = Changes(seq)
        for s, case_id, kind in rows:
            out.seq = s
            if kind == "presence":
                out.presence = True
            if case_id is not None:
                out.case_ids.add(case_id)
        return out

    async def mention_stats(self, since: datetime) -> list[tuple[datetime, float]]:
        """(created_at, sentiment) of customer mentions since a time, for trends."""
        from store.core import dt

        rows = await self._read(lambda tx: tx.fetchall(
            "SELECT created_at, sentiment FROM mentions WHERE created_at >= ? AND from_brand = 0",
            (ts(since),)))
        return [(dt(c), s or 0.0) for c, s in rows]

    async def mention_stats_after(
        self, after_id: int, since: datetime
    ) -> list[tuple[int, datetime, float]]:
        """(id, created_at, sentiment) of customer mentions stored after mention ``after_id``
        and created since a time, oldest id first: lets a wallboard follow new mentions by
        id (an index range) instead of rescanning the window.
        """
        from store.core import dt

        rows = await self._read(lambda tx: tx.fetchall(
            "SELECT id, created_at, sentiment FROM mentions WHERE id > ? AND created_at >= ? "
            "AND from_brand = 0 ORDER BY id", (after_id, ts(since))))
        return [(i, dt(c), s or 0.0) for i, c, s in rows]

    async def events_after(
        self, after_id: int, since: datetime, kinds: Iterable[str] | None = None
    ) -> list[Event]:
        """Events after event ``after_id`` that happened since a time (optionally of some
        kinds only), oldest first: the timelines the next-response time is measured on.
        """
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? AND at >= ?"
        params: list[Any] = [after_id, ts(since)]
        kind_list = sorted(set(kinds)) if kinds is not None else None
        if kind_list is not None:
            if not kind_list:
                return []
            sql += f" AND kind IN ({', '.join('?' * len(kind_list))})"
            params.extend(kind_list)
        rows = await self._read(lambda tx: tx.fetchall(sql + " ORDER BY id", params))
        return [event_from_row(r) for r in rows]

    def heat(self, case: Case, now: datetime | None = None) -> tuple[float, dict[str, float]]:
        """A case's heat right now and its parts (pure; no I/O)."""
        return effective_heat(case, now or utcnow(), self.config)

    # -- agent actions -----------------------------------------------------------------------

    async def claim(self, case_id: int, agent: str, take_over: bool = False) -> Case:
        """Claim a case (ClaimConflict when another agent holds it, unless taking over)."""
        return await self._write(lambda tx: self.ops.claim(tx, case_id, agent, _now(), take_over))

    async def release(self, case_id: int, agent: str) -> None:
        """Release an agent's claim."""
        await self._write(lambda tx: self.ops.release(tx, case_id, agent, _now()))

    async def reply(self, case_id: int, agent: str, text: str, *, private: bool = False,
                    kind: str | None = None, promised_by: datetime | None = None) -> int:
        """Queue a public reply (or DM); returns the outbox id."""
        return await self._write(lambda tx: self.ops.reply(
            tx, case_id, agent, text, _now(), private=private, kind=kind,
            promised_by=ts(promised_by)))

    async def take_offline(self, case_id: int, agent: str, channel: str, note: str = "") -> None:
        """Record a move to phone or email."""
        await self._write(lambda tx: self.ops.take_offline(tx, case_id, agent, channel, note,
                                                           _now()))

    async def note(self, case_id: int, agent: str, text: str) -> None:
        """Add an internal note."""
        await self._write(lambda tx: self.ops.note(tx, case_id, agent, text, _now()))

    async def escalate(self, case_id: int, agent: str, tier: int, note: str = "",
                       phone: bool = False) -> None:
        """Escalate to a tier, optionally asking for a phone call-back."""
        await self._write(lambda tx: self.ops.escalate(tx, case_id, agent, tier, note, phone,
                                                       _now()))

    async def resolve(self, case_id: int, agent: str, note: str = "") -> None:
        """Resolve a case."""
        await self._write(lambda tx: self.ops.resolve(tx, case_id, agent, _now(), note))

    async def close_case(self, case_id: int, agent: str, followup: str | None) -> None:
        """Close the loop with a follow-up request."""
        await self._write(lambda tx: self.ops.close(tx, case_id, agent, followup, _now()))

    async def reopen(self, case_id: int, agent: str) -> None:
        """Reopen a resolved case."""
        await self._write(lambda tx: self.ops.reopen(tx, case_id, agent, _now()))

    async def wait_on_customer(self, case_id: int, agent: str) -> None:
        """Mark a case as waiting on the customer."""
        await self._write(lambda tx: self.ops.wait(tx, case_id, agent, _now()))

    async def snooze(self, case_id: int, agent: str, until: datetime) -> None:
        """Snooze a case until a time."""
        await self._write(lambda tx: self.ops.snooze(tx, case_id, agent, ts(until), _now()))

    async def wake_snoozed(self) -> list[int]:
        """Wake cases whose snooze has run out."""
        return await self._write(lambda tx: self.ops.wake_snoozed(tx, _now()))

    async def tag(self, case_id: int, agent: str, tag: str, remove: bool = False) -> None:
        """Tag (or untag) a case."""
        await self._write(lambda tx: self.ops.tag(tx, case_id, agent, tag, _now(), remove))

    async def undo(self, case_id: int, agent: str) -> OutboxItem:
        """Unsend the agent's newest reply still in its undo window."""
        return await self._write(lambda tx: self.ops.undo(tx, case_id, agent, _now()))

    async def score(self, case_id: int, agent: str, score: int, note: str | None = None) -> None:
        """Record a QA score."""
        await self._write(lambda tx: self.ops.score(tx, case_id, agent, score, note, _now()))

    # -- outbox ------------------------------------------------------------------------------

    async def due_outbox(self, limit: int = 50, lease_seconds: float = 60.0) -> list[OutboxItem]:
        """Lease outbox items that are due for delivery."""
        return await self._write(lambda tx: self.ops.due_outbox(tx, _now(), limit, lease_seconds))

    async def delivered(self, outbox_id: int, remote_id: str | None, remote_url: str | None) -> None:
        """Record a successful delivery."""
        await self._write(lambda tx: self.ops.delivered(tx, outbox_id, remote_id, remote_url,
                                                        _now()))

    async def announced(self, outbox_id: int, target: str) -> list[str]:
        """Record that an escalation target took the announcement (see Ops.announced)."""
        return await self._write(lambda tx: self.ops.announced(tx, outbox_id, target, _now()))

    async def delivery_failed(self, outbox_id: int, reason: str,
                              retry_at: datetime | None = None) -> None:
        """Record a failed attempt (to retry at ``retry_at``, or for good)."""
        await self._write(lambda tx: self.ops.delivery_failed(tx, outbox_id, reason,
                                                              ts(retry_at), _now()))

    async def pending_outbox(self) -> int:
        """How many outbox items are not yet delivered, failed or cancelled."""
        row = await self._read(lambda tx: tx.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')"))
        return row[0]

    async def outbox(self, state: str | None = None) -> list[OutboxItem]:
        """Outbox rows, optionally by state."""
        sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox"
        params: tuple = ()
        if state:
            sql += " WHERE state = ?"
            params = (state,)
        rows = await self._read(lambda tx: tx.fetchall(sql + " ORDER BY id", params))
        return [outbox_from_row(r) for r in rows]

    # -- presence, leases, feed health -------------------------------------------------------

    async def set_presence(self, case_id: int, agent: str, state: str | None,
                           ttl: float = 30.0) -> None:
        """Say an agent is viewing/typing in a case, for ``ttl`` seconds."""
        now = _now()
        await self._write(lambda tx: self.ops.presence(tx, case_id, agent, state, now + ttl, now))

    async def presence(self) -> dict[int, list[tuple[str, str]]]:
        """Live presence: case id → [(agent, state)], expired entries left out."""
        rows = await self._read(lambda tx: tx.fetchall(
            "SELECT case_id, agent, state FROM presence WHERE expires_at > ? ORDER BY agent",
            (_now(),)))
        out: dict[int, list[tuple[str, str]]] = {}
        for case_id, agent, state in rows:
            out.setdefault(case_id, []).append((agent, state))
        return out

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a named lease (one ingest worker per feed)."""
        return await self._write(lambda tx: self.ops.lease(tx, name, holder, ttl, _now()))

    async def set_feed_health(self, feed: str, health: dict[str, Any]) -> None:
        """Publish a feed's health (connected, last event, last error)."""
        now = _now()

        def fn(tx: Tx) -> None:
            data = json.dumps(health, default=str)
            if tx.execute("UPDATE feed_health SET data = ?, updated_at = ? WHERE feed = ?",
                          (data, now, feed)) == 0:
                tx.execute("INSERT INTO feed_health (feed, data, updated_at) VALUES (?, ?, ?)",
                           (feed, data, now))

        await self._write(fn)

    async def feed_health(self) -> dict[str, dict[str, Any]]:
        """Every feed's last published health."""
        rows = await self._read(lambda tx: tx.fetchall(
            "SELECT feed, data, updated_at FROM feed_health ORDER BY feed"))
        return {f: {**json.loads(d), "updated_at": iso(u)} for f, d, u in rows}

    # -- export ------------------------------------------------------------------------------

    async def export(self, status: str | None = None, since: datetime | None = None,
                     ) -> list[dict[str, Any]]:
        """Cases as export dicts (CONTRACTS.md), with mentions and events."""
        cases = await self.cases(status=status, since=since)
        out = []
        now = utcnow()
        for case in cases:
            d = await self.detail(case.id)
            out.append(export_case(d, self, now))
        return out

    async def integrity_check(self) -> str:
        """The backend's own integrity check ("ok" when all is well)."""
        return "ok"


def _now() -> float:
    return utcnow().timestamp()


def _mention_json(m: Mention) -> dict[str, Any]:
    return {
        "platform": m.platform, "id": m.external_id, "author": m.author,
        "author_name": m.author_name, "followers": m.followers, "text": m.text,
        "created_at": iso(ts(m.created_at)), "url": m.url, "in_reply_to": m.in_reply_to,
        "lang": m.lang, "sentiment": m.sentiment, "deleted": m.deleted, "edited": m.edited,
        "from_brand": m.from_brand,
    }


def export_case(d: CaseDetail, store: Store, now: datetime) -> dict[str, Any]:
    """One case as CONTRACTS.md's export object."""
    c = d.case
    heat, parts = store.heat(c, now)
    state = sla_state(c.waiting_since, c.first_response_at is not None, c.priority, now,
                      store.config.sla)
    outbox_by_event = {o.event_id: o for o in d.outbox}
    events = []
    for e in d.events:
        ev: dict[str, Any] = {"at": iso(ts(e.at)), "kind": e.kind, "agent": e.agent,
                              "body": e.body}
        if e.data:
            ev["data"] = e.data
        item = outbox_by_event.get(e.id)
        if item is not None:
            ev["delivery"] = item.state
            ev["remote_url"] = item.remote_url
            ev["remote_id"] = item.remote_id
            if item.error:
                ev["error"] = item.error
        events.append(ev)
    return {
        "case_id": str(c.id), "status": c.status.value, "platform": c.platform,
        "customer": c.customer, "assignee": c.assignee, "escalation_tier": c.escalation_tier,
        "phone_callback": c.phone_callback, "heat": heat, "heat_parts": parts,
        "priority": c.priority, "opened_at": iso(ts(c.opened_at)),
        "first_response_at": iso(ts(c.first_response_at)),
        "resolved_at": iso(ts(c.resolved_at)), "closed_at": iso(ts(c.closed_at)),
        "waiting_since": iso(ts(c.waiting_since)),
        "sla_due_at": iso(ts(state.due_at)), "sla_breached": state.breached,
        "tags": c.tags, "suggestion": c.suggestion, "repeat_contact": c.prior_cases > 0,
        "prior_cases": c.prior_cases, "linked_case_id": (str(c.linked_case_id)
                                                         if c.linked_case_id else None),
        "promised_by": iso(ts(c.promised_by)), "qa": d.qa,
        "mentions": [_mention_json(m) for m in d.mentions],
        "events": events,
    }
