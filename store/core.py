"""The desk's domain logic over one transaction, shared by every backend.

Each function here runs inside a single write transaction (``Tx``) that a backend opens,
so a batch of mentions, an agent's action with its event and outbox row, or a delivery
result is all-or-nothing. SQL is a portable subset with ``?`` placeholders; backends
translate. Time is epoch seconds.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from store.config import Config
from store.records import (
    Case,
    CaseNotFound,
    ClaimConflict,
    Event,
    Mention,
    OutboxItem,
    Status,
    StoreError,
)
from store.rules import heat as heat_rules
from store.rules import lifecycle
from store.rules.sla import sla_state

try:  # the playbook rules arrive with the playbook work; heat works without them
    from store.rules import playbook as playbook_rules
except ImportError:  # pragma: no cover
    playbook_rules = None  # type: ignore[assignment]

HEAT_WINDOW = 10  # customer mentions considered for a case's heat
RECENT_CASES = 20_000  # cases whose latest mentions an ingesting process keeps (Ops._recent)


class Tx(Protocol):
    """One open transaction on a backend."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows changed."""

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        """Run a query and return its first row."""

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a query and return all rows."""

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an ``INSERT ... RETURNING id`` and return the id."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""


def ts(when: datetime | None) -> float | None:
    """A datetime as epoch seconds."""
    return None if when is None else when.timestamp()


def dt(value: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def iso(value: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with a Z."""
    return None if value is None else dt(value).isoformat().replace("+00:00", "Z")


CASE_COLUMNS = (
    "id, platform, customer_id, customer, status, opened_at, updated_at, escalation_tier, "
    "phone_callback, assignee, waiting_since, first_response_at, last_response_at, "
    "resolved_at, closed_at, snoozed_until, promised_by, tags, heat_parts, heat_static, "
    "priority, sentiment, followers, mention_count, last_text, last_mention_at, prior_cases, "
    "linked_case_id, suggestion, version"
)


_STATUS = {s.value: s for s in Status}
_SHARED: dict[str, str] = {}  # one copy of each platform, priority, agent, suggestion


def _shared(value: str | None) -> str | None:
    if value is None:
        return None
    same = _SHARED.get(value)
    if same is None:
        if len(_SHARED) >= 4096:  # platforms come from outside: never let this grow
            return value
        same = _SHARED[value] = value
    return same


def case_from_row(row: tuple) -> Case:
    """A Case from a row selected with CASE_COLUMNS.

    A desk builds 100k of these at start: repeated strings are shared, and so is the
    datetime of a case's opening with the clocks that usually start at the same moment.
    """
    (cid, platform, customer_id, customer, status, opened_at, updated_at, tier, phone,
     assignee, waiting, first_resp, last_resp, resolved, closed, snoozed, promised, tags,
     parts, heat_static, priority, sentiment, followers, count, last_text, last_at, prior,
     linked, suggestion, version) = row
    opened = dt(opened_at)
    return Case(
        id=cid, platform=_shared(platform), customer_id=customer_id, customer=customer,
        status=_STATUS.get(status) or Status(status), opened_at=opened,
        updated_at=opened if updated_at == opened_at else dt(updated_at),
        escalation_tier=tier, phone_callback=bool(phone), assignee=_shared(assignee),
        waiting_since=opened if waiting == opened_at else dt(waiting),
        first_response_at=dt(first_resp), last_response_at=dt(last_resp),
        resolved_at=dt(resolved), closed_at=dt(closed), snoozed_until=dt(snoozed),
        promised_by=dt(promised), tags=[] if tags == "[]" else json.loads(tags),
        heat_parts=json.loads(parts), heat_static=heat_static, priority=_shared(priority),
        sentiment=sentiment, followers=followers, mention_count=count, last_text=last_text,
        last_mention_at=opened if last_at == opened_at else dt(last_at), prior_cases=prior,
        linked_case_id=linked, suggestion=_shared(suggestion), version=version,
    )


EVENT_COLUMNS = "id, case_id, at, kind, agent, body, data, mention_id"


def event_from_row(row: tuple) -> Event:
    """An Event from a row selected with EVENT_COLUMNS."""
    eid, case_id, at, kind, agent, body, data, mention_id = row
    return Event(eid, case_id, dt(at), kind, agent, body, json.loads(data), mention_id)


MENTION_COLUMNS = (
    "id, platform, external_id, case_id, author, author_name, followers, text, created_at, "
    "url, in_reply_to, lang, raw, sentiment, deleted, edited, source, from_brand"
)


def mention_from_row(row: tuple) -> Mention:
    """A Mention from a row selected with MENTION_COLUMNS."""
    (mid, platform, ext, case_id, author, name, followers, text, created, url, reply, lang,
     raw, sentiment, deleted, edited, source, from_brand) = row
    return Mention(
        platform=platform, external_id=ext, author=author, text=text, created_at=dt(created),
        author_name=name, followers=followers, url=url, in_reply_to=reply, lang=lang,
        raw=json.loads(raw) if raw else {}, sentiment=sentiment, deleted=bool(deleted),
        edited=bool(edited), source=source, id=mid, case_id=case_id,
        from_brand=bool(from_brand),
    )


OUTBOX_COLUMNS = (
    "id, case_id, event_id, kind, platform, text, idempotency_key, not_before, state, "
    "attempts, in_reply_to, recipient, remote_id, remote_url, error, data"
)


def outbox_from_row(row: tuple) -> OutboxItem:
    """An OutboxItem from a row selected with OUTBOX_COLUMNS."""
    (oid, case_id, event_id, kind, platform, text, key, not_before, state, attempts,
     reply, recipient, remote_id, remote_url, error, data) = row
    return OutboxItem(
        id=oid, case_id=case_id, event_id=event_id, kind=kind, platform=platform, text=text,
        idempotency_key=key, not_before=dt(not_before), state=state, attempts=attempts,
        in_reply_to=reply, recipient=recipient, remote_id=remote_id, remote_url=remote_url,
        error=error, data=json.loads(data),
    )


@dataclass
class IngestResult:
    """What one ingest batch did."""

    new: int = 0
    duplicates: int = 0
    deleted: int = 0
    case_ids: set[int] = field(default_factory=set)
    # the grown and opened cases' recent mentions, for Ops.keep_recent once committed
    recent: dict[int, tuple] = field(default_factory=dict, repr=False, compare=False)


def raw_json(raw: dict[str, Any]) -> str:
    """A platform payload as stored: JSON, verbatim where it can be. Lone surrogates (legal
    in JSON from the network, not storable) or values JSON cannot take leave it escaped
    under ``escaped``, so the payload is still there for an audit."""
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
        if not text.isascii():
            text.encode("utf-8")
        return text
    except (UnicodeEncodeError, TypeError, ValueError):
        return json.dumps({"escaped": json.dumps(raw, default=str)})


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """``items`` in slices small enough for one statement's parameters."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _CaseState:
    """What grouping needs to know of a case, kept current while a batch is applied."""

    __slots__ = ("customer_id", "status", "ever_ack", "waiting", "last_activity")

    def __init__(self, customer_id: int, status: str, ever_ack: int, waiting: float | None,
                 last_activity: float):
        self.customer_id = customer_id
        self.status = status
        self.ever_ack = ever_ack
        self.waiting = waiting
        self.last_activity = last_activity


class _Batch:
    """One ingest batch's view of customers, cases and threads: read up front in a few
    queries, then kept current in memory as the batch opens and updates cases, so each
    mention decides its case exactly as if it were ingested on its own, in order."""

    def __init__(self, ops: Ops, tx: Tx, mentions: list[Mention], now: float):
        self.ops, self.tx, self.now = ops, tx, now
        self.window = ops.config.case_window_hours * 3600
        self.parents: dict[tuple[str, str], int | None] = {}  # (platform, id) → case id
        self.outbox_parents: dict[tuple[str, str], int] = {}
        self.customers: dict[tuple[str, str], list] = {}  # → [id, followers, name, new]
        self.latest: dict[int, tuple[float, int]] = {}     # customer → (last_activity, case)
        self.count: dict[int, int] = {}                    # customer → cases so far
        self.cases: dict[int, _CaseState] = {}
        self.prior: dict[int, int] = {}                    # case → prior_cases
        self._load_parents(mentions)
        self._load_customers([m for m in mentions if not ops.is_brand(m)])

    # -- up front ----------------------------------------------------------------------

    def _load_parents(self, mentions: list[Mention]) -> None:
        wanted: dict[str, set[str]] = {}
        for m in mentions:
            if m.in_reply_to:
                wanted.setdefault(m.platform, set()).add(m.in_reply_to)
        tx = self.tx
        for platform, ids in wanted.items():
            for chunk in _chunks(sorted(ids)):
                marks = ", ".join("?" * len(chunk))
                for external_id, case_id in tx.fetchall(
                        "SELECT external_id, case_id FROM mentions WHERE platform = ? AND "
                        f"external_id IN ({marks})", (platform, *chunk)):
                    self.parents[(platform, external_id)] = case_id
                for remote_id, case_id in tx.fetchall(
                        "SELECT remote_id, case_id FROM outbox WHERE platform = ? AND "
                        f"remote_id IN ({marks}) ORDER BY id DESC", (platform, *chunk)):
                    self.outbox_parents[(platform, remote_id)] = case_id

    def _load_customers(self, mentions: list[Mention]) -> None:
        tx = self.tx
        handles: dict[str, set[str]] = {}
        for m in mentions:
            handles.setdefault(m.platform, set()).add(m.author)
        for platform, names in handles.items():
            for chunk in _chunks(sorted(names)):
                for handle, cid, followers, name in tx.fetchall(
                        "SELECT handle, id, followers, name FROM customers WHERE platform = ? "
                        f"AND handle IN ({', '.join('?' * len(chunk))})", (platform, *chunk)):
                    self.customers[(platform, handle)] = [cid, followers, name, False]
        known = [c[0] for c in self.customers.values()]
        for chunk in _chunks(known):
            for cid, case_id, status, ever_ack, waiting, last, prior in tx.fetchall(
                    "SELECT customer_id, id, status, ever_acknowledged, waiting_since, "
                    f"last_activity, prior_cases FROM cases WHERE customer_id IN "
                    f"({', '.join('?' * len(chunk))})", chunk):
                self.cases[case_id] = _CaseState(cid, status, ever_ack, waiting, last)
                self.prior[case_id] = prior
                self.count[cid] = self.count.get(cid, 0) + 1
                if (last, case_id) > self.latest.get(cid, (-1e300, 0)):
                    self.latest[cid] = (last, case_id)
        # New customers go in together, each with the first of their mentions' details
        # (later mentions in the batch update them as they would one at a time).
        new: dict[tuple[str, str], Mention] = {}
        for m in mentions:
            key = (m.platform, m.author)
            if key not in self.customers and key not in new:
                new[key] = m
        if not new:
            return
        before = tx.fetchone("SELECT COALESCE(MAX(id), 0) FROM customers")[0]
        tx.executemany(
            "INSERT INTO customers (platform, handle, name, followers, first_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            [(m.platform, m.author, m.author_name, m.followers, self.now) for m in new.values()])
        for cid, platform, handle in tx.fetchall(
                "SELECT id, platform, handle FROM customers WHERE id > ? AND first_seen = ?",
                (before, self.now)):
            m = new.get((platform, handle))
            if m is not None:
                self.customers[(platform, handle)] = [cid, m.followers, m.author_name, True]

    # -- per mention ---------------------------------------------------------------------

    def state(self, case_id: int) -> _CaseState:
        found = self.cases.get(case_id)
        if found is None:
            cid, status, ever_ack, waiting, last, prior = self.tx.fetchone(
                "SELECT customer_id, status, ever_acknowledged, waiting_since, last_activity, "
                "prior_cases FROM cases WHERE id = ?", (case_id,))
            found = self.cases[case_id] = _CaseState(cid, status, ever_ack, waiting, last)
            self.prior[case_id] = prior
        return found

    def thread_case(self, m: Mention) -> int | None:
        if not m.in_reply_to:
            return None
        key = (m.platform, m.in_reply_to)
        case_id = self.parents.get(key)
        if case_id is not None:
            return case_id
        return self.outbox_parents.get(key)

    def customer(self, m: Mention) -> tuple[int, bool]:
        """The customer's id, and whether this mention brought them to the desk."""
        entry = self.customers[(m.platform, m.author)]
        cid, followers, name, new = entry
        if new:
            entry[3] = False  # only their first mention is from a new customer
            return cid, True
        if followers != m.followers or (m.author_name and m.author_name != name):
            self.tx.execute(
                "UPDATE customers SET followers = ?, name = COALESCE(?, name) WHERE id = ?",
                (m.followers, m.author_name, cid))
            entry[1] = m.followers
            entry[2] = m.author_name or name
        return cid, False

    def group(self, m: Mention) -> tuple[int | None, bool]:
        """The case ``m`` belongs to (its thread's, the customer's recent open one, or a new
        one), and whether this mention opened it."""
        thread = self.thread_case(m)
        if m.from_brand:
            return thread, False  # our own post: part of the thread, no case of its own
        created = ts(m.created_at)
        customer_id, new_customer = self.customer(m)
        linked = target = None
        if thread is not None:
            if self.state(thread).status == Status.CLOSED:
                linked = thread
            else:
                target = thread
        if target is None and linked is None and not new_customer:
            latest = self.latest.get(customer_id)
            if latest is not None:
                last = self.state(latest[1])
                if last.last_activity >= created - self.window:
                    if last.status == Status.CLOSED:
                        linked = latest[1]
                    elif last.status != Status.RESOLVED:
                        target = latest[1]
        if target is None:
            return self.open_case(m, customer_id, new_customer, linked, created), True
        self.customer_wrote(target, m, created)
        return target, False

    def _moved(self, case_id: int, state: _CaseState) -> None:
        key = (state.last_activity, case_id)
        if key > self.latest.get(state.customer_id, (-1e300, 0)):
            self.latest[state.customer_id] = key

    def open_case(self, m: Mention, customer_id: int, new_customer: bool, linked: int | None,
                  created: float) -> int:
        ops, tx, now = self.ops, self.tx, self.now
        prior = 0 if new_customer else self.count.get(customer_id, 0)
        signal = heat_rules.MentionSignal(m.text, m.sentiment or 0.0, m.followers, m.created_at)
        parts_json, heat, priority, sentiment, suggestion = ops._heat_columns([signal], prior)
        case_id = tx.insert(
            "INSERT INTO cases (platform, customer_id, customer, status, opened_at, updated_at, "
            "last_activity, waiting_since, followers, last_text, last_mention_at, prior_cases, "
            "linked_case_id, mention_count, heat_parts, heat_static, priority, sentiment, "
            "suggestion) VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (m.platform, customer_id, m.author, created, now, created, created, m.followers,
             m.text[:500], created, prior, linked, parts_json, heat, priority, sentiment,
             suggestion),
        )
        state = self.cases[case_id] = _CaseState(customer_id, "new", 0, created, created)
        self.prior[case_id] = prior
        self.count[customer_id] = self.count.get(customer_id, 0) + 1
        self._moved(case_id, state)
        if linked is not None:
            ops.event(tx, case_id, "link", None, now, f"follows closed case {linked}",
                      {"linked_case_id": linked})
            ops.event(tx, linked, "link", None, now, f"customer wrote again: case {case_id}",
                      {"next_case_id": case_id})
            ops.touch(tx, linked, "link", now)
        return case_id

    def customer_wrote(self, case_id: int, m: Mention, created: float) -> None:
        tx, now = self.tx, self.now
        state = self.state(case_id)
        status, waiting = state.status, state.waiting
        new_status = lifecycle.customer_wrote(Status(status), bool(state.ever_ack))
        if new_status != status:
            self.ops.event(tx, case_id, "status", None, now, f"{status} → {new_status.value}",
                           {"from": status, "to": new_status.value, "why": "customer wrote"})
        tx.execute(
            "UPDATE cases SET status = ?, waiting_since = ?, updated_at = ?, "
            "last_activity = GREATEST(last_activity, ?), followers = GREATEST(followers, ?), "
            "last_text = CASE WHEN ? >= COALESCE(last_mention_at, 0) THEN ? ELSE last_text END, "
            "last_mention_at = GREATEST(COALESCE(last_mention_at, 0), ?), "
            "mention_count = mention_count + 1, snoozed_until = NULL, "
            "resolved_at = CASE WHEN ? = 'resolved' THEN NULL ELSE resolved_at END WHERE id = ?",
            (new_status.value, waiting if waiting is not None else created, now, created,
             m.followers, created, m.text[:500], created, status, case_id),
        )
        state.status = new_status.value
        state.waiting = waiting if waiting is not None else created
        state.last_activity = max(state.last_activity, created)
        self._moved(case_id, state)


class Ops:
    """The desk's rules applied to the store, one transaction at a time."""

    def __init__(self, config: Config):
        self.config = config
        self._brand_handles = {h.lower().lstrip("@") for h in config.handles}
        # case id → (its version, its HEAT_WINDOW latest customer mentions as
        # (created_at, mention id, signal), oldest first): what the last committed ingest
        # in this process left, so a case that grows again is rescored without rereading
        # its mentions. Trusted only while the case's version is unchanged: every write
        # that adds a mention to a case, or changes it at all, bumps the version.
        self._recent: dict[int, tuple[int, tuple]] = {}  # oldest first

    def keep_recent(self, recent: dict[int, tuple]) -> None:
        """Remember what a committed ingest read and wrote (never call it before commit:
        a rolled-back batch's mentions are not in the store)."""
        cache = self._recent
        for case_id, entry in recent.items():
            cache.pop(case_id, None)  # to the young end
            cache[case_id] = entry
        if len(cache) > RECENT_CASES:  # the oldest half goes
            for case_id in list(itertools.islice(cache, len(cache) - RECENT_CASES // 2)):
                del cache[case_id]

    # -- change cursor -------------------------------------------------------------------

    def touch(self, tx: Tx, case_id: int | None, kind: str, now: float) -> None:
        """Record that ``case_id`` changed, for other processes following the cursor."""
        tx.execute("INSERT INTO changes (case_id, kind, at) VALUES (?, ?, ?)", (case_id, kind, now))
        if case_id is not None:
            tx.execute("UPDATE cases SET version = version + 1 WHERE id = ?", (case_id,))

    def event(
        self, tx: Tx, case_id: int, kind: str, agent: str | None, now: float, body: str = "",
        data: dict | None = None, mention_id: int | None = None,
    ) -> int:
        """Append an event to a case's timeline."""
        return tx.insert(
            "INSERT INTO events (case_id, at, kind, agent, body, data, mention_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (case_id, now, kind, agent, body, json.dumps(data or {}), mention_id),
        )

    # -- ingest ----------------------------------------------------------------------------

    def is_brand(self, m: Mention) -> bool:
        """True when the brand itself wrote ``m``."""
        return m.author.lower().lstrip("@") in self._brand_handles

    def ingest(self, tx: Tx, mentions: Iterable[Mention], now: float) -> IngestResult:
        """Store new mentions (duplicates are no-ops), group them into cases, rescore.

        Hot path, batch-shaped: one query per platform finds the duplicates, one the
        batch's customers, one their cases, one the thread parents; new customers and
        the mentions themselves go in with ``executemany``; the cases that grew are
        rescored with one read. What stays per mention is the grouping decision (in
        memory, over what the batch has done so far) and the statements that must return
        an id or change one case: opening a case, a customer writing into one.
        """
        result = IngestResult()
        fresh: list[Mention] = []
        mentions = list(mentions)
        seen = self._known(tx, mentions)
        for m in mentions:
            key = (m.platform, m.external_id)
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            fresh.append(m)
        if not fresh:
            return result
        batch = _Batch(self, tx, fresh, now)
        opened: list[bool] = []
        for m in fresh:
            m.from_brand = self.is_brand(m)
            case_id, born = batch.group(m)
            m.case_id = case_id
            batch.parents[(m.platform, m.external_id)] = case_id  # a reply later in the batch
            opened.append(born)
        ids = self._insert_mentions(tx, fresh, now)
        born_ids: set[int] = set()
        grown: set[int] = set()
        events: list[tuple] = []
        written: dict[int, list[tuple]] = {}  # case → this batch's customer mentions
        for m, born in zip(fresh, opened):
            mention_id = ids.get((m.platform, m.external_id))
            if mention_id is None:  # a writer racing us on PostgreSQL stored it first
                result.duplicates += 1
                m.case_id = None
                continue
            result.new += 1
            m.id = mention_id
            if m.case_id is None:
                continue
            events.append((m.case_id, now, "mention", m.author, "", "{}", mention_id))
            (born_ids if born else grown).add(m.case_id)
            if not m.from_brand:
                written.setdefault(m.case_id, []).append((ts(m.created_at), mention_id, m))
        tx.executemany(
            "INSERT INTO events (case_id, at, kind, agent, body, data, mention_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        # cases born here have their heat; the ones that grew are rescored
        result.recent = self._rescore_many(tx, sorted(grown), batch.prior, written)
        for case_id in born_ids - grown:  # a new case: version 0, its one mention
            rows = [(c, i, heat_rules.MentionSignal(m.text, m.sentiment or 0.0, m.followers))
                    for c, i, m in written[case_id]]
            result.recent[case_id] = (0, tuple(rows[-HEAT_WINDOW:]))
        result.case_ids = born_ids | grown
        tx.executemany("INSERT INTO changes (case_id, kind, at) VALUES (?, 'mention', ?)",
                       [(c, now) for c in sorted(result.case_ids)])
        return result

    def _insert_mentions(self, tx: Tx, mentions: list[Mention], now: float
                         ) -> dict[tuple[str, str], int]:
        """Insert the batch's mentions in one ``executemany``; their ids by (platform, id).

        Ids come back by reading what was inserted above the highest id before: ids only
        grow, so nothing of ours sits below it.
        """
        before = tx.fetchone("SELECT COALESCE(MAX(id), 0) FROM mentions")[0]
        tx.executemany(
            "INSERT INTO mentions (platform, external_id, case_id, author, author_name, "
            "followers, text, created_at, url, in_reply_to, lang, raw, sentiment, deleted, "
            "edited, source, from_brand, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, external_id) DO NOTHING",
            [(m.platform, m.external_id, m.case_id, m.author, m.author_name, m.followers,
              m.text, ts(m.created_at), m.url, m.in_reply_to, m.lang,
              raw_json(m.raw), m.sentiment,
              int(m.deleted), int(m.edited), m.source, int(m.from_brand), now)
             for m in mentions])
        return {(platform, external_id): mention_id for mention_id, platform, external_id in
                tx.fetchall("SELECT id, platform, external_id FROM mentions WHERE id > ? "
                            "AND ingested_at = ?", (before, now))}

    def _known(self, tx: Tx, mentions: list[Mention]) -> set[tuple[str, str]]:
        """Which of these (platform, external id) pairs the store already holds."""
        by_platform: dict[str, list[str]] = {}
        for m in mentions:
            by_platform.setdefault(m.platform, []).append(m.external_id)
        known: set[tuple[str, str]] = set()
        for platform, ids in by_platform.items():
            for chunk in _chunks(ids):
                rows = tx.fetchall(
                    "SELECT external_id FROM mentions WHERE platform = ? AND external_id IN "
                    f"({', '.join('?' * len(chunk))})", (platform, *chunk))
                known.update((platform, r[0]) for r in rows)
        return known

    def _rescore_many(self, tx: Tx, case_ids: list[int], prior: dict[int, int],
                      written: dict[int, list[tuple]] | None = None) -> dict[int, tuple]:
        """Recompute the static heat parts, priority, sentiment and suggestion of many
        cases: one read of their latest mentions, one update.

        A case whose version is the one this process left it at is rescored from what it
        kept (``keep_recent``) plus ``written``, this batch's mentions of it; the others
        read their HEAT_WINDOW latest mentions in one query. Returns what to keep once
        the transaction commits.
        """
        if not case_ids:
            return {}
        written = written or {}
        versions: dict[int, int] = {}
        for chunk in _chunks(case_ids):
            for case_id, version, prior_cases in tx.fetchall(
                    f"SELECT id, version, prior_cases FROM cases WHERE id IN "
                    f"({', '.join('?' * len(chunk))})", chunk):
                versions[case_id] = version
                prior.setdefault(case_id, prior_cases)
        by_case: dict[int, list[tuple]] = {}
        unknown: list[int] = []
        for case_id in case_ids:
            kept = self._recent.get(case_id)
            if kept is not None and kept[0] == versions.get(case_id):
                rows = list(kept[1])
                rows.extend((c, i, heat_rules.MentionSignal(m.text, m.sentiment or 0.0,
                                                            m.followers))
                            for c, i, m in written.get(case_id, ()))
                rows.sort(key=lambda r: (r[0], r[1]))
                by_case[case_id] = rows[-HEAT_WINDOW:]
            else:
                by_case[case_id] = []
                unknown.append(case_id)
        for chunk in _chunks(unknown):
            rows = tx.fetchall(
                "SELECT case_id, id, text, sentiment, followers, created_at FROM ("
                "SELECT case_id, id, text, sentiment, followers, created_at, ROW_NUMBER() OVER ("
                "PARTITION BY case_id ORDER BY created_at DESC, id DESC) AS n FROM mentions "
                f"WHERE case_id IN ({', '.join('?' * len(chunk))}) AND from_brand = 0) AS recent "
                "WHERE n <= ? ORDER BY case_id, n DESC", (*chunk, HEAT_WINDOW))
            for case_id, mention_id, text, sentiment, followers, created in rows:
                by_case[case_id].append((created, mention_id, heat_rules.MentionSignal(
                    text, sentiment or 0.0, followers)))
        tx.executemany(
            "UPDATE cases SET heat_parts = ?, heat_static = ?, priority = ?, sentiment = ?, "
            "suggestion = ?, version = version + 1 WHERE id = ?",
            [(*self._heat_columns([r[2] for r in rows], prior.get(case_id, 0)), case_id)
             for case_id, rows in by_case.items()])
        return {case_id: (versions[case_id] + 1, tuple(rows))
                for case_id, rows in by_case.items() if case_id in versions}

    def _heat_columns(self, signals: list[heat_rules.MentionSignal], prior: int) -> tuple:
        """(heat_parts, heat_static, priority, sentiment, suggestion) for a case's customer
        mentions, oldest first."""
        parts = heat_rules.static_parts(signals, prior, self.config.weights)
        suggestion = None
        if playbook_rules is not None and signals:
            suggestion = playbook_rules.suggestion(signals, prior)
        return (json.dumps(parts), heat_rules.total(parts), heat_rules.priority(parts),
                signals[-1].sentiment if signals else 0.0, suggestion)

    def mark_deleted(self, tx: Tx, platform: str, external_id: str, now: float) -> bool:
        """The platform deleted a post: flag it (the text is kept) and note it on the case."""
        row = tx.fetchone(
            "SELECT id, case_id, deleted FROM mentions WHERE platform = ? AND external_id = ?",
            (platform, external_id),
        )
        if row is None or row[2]:
            return False
        tx.execute("UPDATE mentions SET deleted = 1 WHERE id = ?", (row[0],))
        if row[1] is not None:
            self.event(tx, row[1], "deleted", None, now, "the customer deleted a post",
                       {}, row[0])
            self.touch(tx, row[1], "deleted", now)
        return True

    def set_cursor(self, tx: Tx, feed: str, value: str, now: float) -> None:
        """Persist a feed's resume cursor."""
        if tx.execute("UPDATE cursors SET value = ?, updated_at = ? WHERE feed = ?",
                      (value, now, feed)) == 0:
            tx.execute("INSERT INTO cursors (feed, value, updated_at) VALUES (?, ?, ?)",
                       (feed, value, now))

    # -- agent actions ---------------------------------------------------------------------

    def load_case(self, tx: Tx, case_id: int) -> Case:
        """The case, or CaseNotFound."""
        row = tx.fetchone(f"SELECT {CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,))
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        return case_from_row(row)

    def claim(self, tx: Tx, case_id: int, agent: str, now: float, take_over: bool = False) -> Case:
        """Claim by compare-and-set: fails with ClaimConflict when another agent holds it."""
        case = self.load_case(tx, case_id)
        if case.assignee == agent:
            return case
        if take_over and case.assignee:
            changed = tx.execute(
                "UPDATE cases SET assignee = ?, updated_at = ? WHERE id = ? AND assignee = ?",
                (agent, now, case_id, case.assignee),
            )
        else:
            changed = tx.execute(
                "UPDATE cases SET assignee = ?, updated_at = ? WHERE id = ? AND assignee IS NULL",
                (agent, now, case_id),
            )
        if changed == 0:
            holder = tx.fetchone("SELECT assignee FROM cases WHERE id = ?", (case_id,))[0]
            raise ClaimConflict(case_id, holder or "someone")
        data = {"from": case.assignee} if case.assignee else {}
        body = f"taken over from {case.assignee}" if case.assignee else ""
        self.event(tx, case_id, "claim", agent, now, body, data)
        self.touch(tx, case_id, "claim", now)
        case.assignee = agent
        return case

    def release(self, tx: Tx, case_id: int, agent: str, now: float) -> None:
        """Release a claim the agent holds."""
        case = self.load_case(tx, case_id)
        if case.assignee is None:
            raise StoreError(f"case {case_id} is not claimed")
        if case.assignee != agent:
            raise ClaimConflict(case_id, case.assignee)
        tx.execute("UPDATE cases SET assignee = NULL, updated_at = ? WHERE id = ?", (now, case_id))
        self.event(tx, case_id, "release", agent, now)
        self.touch(tx, case_id, "release", now)

    def _ensure_claim(self, tx: Tx, case: Case, agent: str, now: float) -> None:
        """Acting on a case claims it; acting on another agent's case needs a take-over."""
        if case.assignee is None:
            self.claim(tx, case.id, agent, now)
        elif case.assignee != agent:
            raise ClaimConflict(case.id, case.assignee)

    def set_status(
        self, tx: Tx, case: Case, target: Status, agent: str | None, now: float, note: str = "",
        extra: dict | None = None,
    ) -> None:
        """Move a case through the lifecycle (forbidden moves raise TransitionError)."""
        lifecycle.check_transition(case.status, target)
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [target.value, now]
        if target in (Status.ACKNOWLEDGED, Status.OFFLINE):
            sets.append("ever_acknowledged = 1")
        if target is Status.RESOLVED:
            sets += ["resolved_at = ?", "waiting_since = NULL"]
            params.append(now)
        if target is Status.CLOSED:
            sets += ["closed_at = ?", "waiting_since = NULL"]
            params.append(now)
        if target is not Status.SNOOZED:
            sets.append("snoozed_until = NULL")
        if case.status is Status.RESOLVED and target is not Status.CLOSED:
            sets.append("resolved_at = NULL")
        params.append(case.id)
        tx.execute(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", params)
        body = f"{case.status.value} → {target.value}" + (f": {note}" if note else "")
        self.event(tx, case.id, "status", agent, now, body,
                   {"from": case.status.value, "to": target.value, **(extra or {})})
        case.status = target

    def _latest_customer_mention(self, tx: Tx, case_id: int) -> tuple | None:
        return tx.fetchone(
            "SELECT external_id, author FROM mentions WHERE case_id = ? AND from_brand = 0 "
            "ORDER BY deleted, created_at DESC, id DESC LIMIT 1",
            (case_id,),
        )

    def queue_outbox(
        self, tx: Tx, case: Case, event_id: int, kind: str, text: str, agent: str, now: float,
        data: dict | None = None, delay: float | None = None,
    ) -> int:
        """Write an outbox row in the same transaction as its event."""
        latest = self._latest_customer_mention(tx, case.id)
        not_before = now + (self.config.undo_seconds if delay is None else delay)
        platform = "escalation" if kind == "escalation" else case.platform
        return tx.insert(
            "INSERT INTO outbox (case_id, event_id, kind, platform, text, idempotency_key, "
            "not_before, next_attempt_at, agent, in_reply_to, recipient, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (case.id, event_id, kind, platform, text, f"hd-{case.id}-{event_id}-{uuid.uuid4().hex[:12]}",
             not_before, not_before, agent, latest[0] if latest else None,
             latest[1] if latest else case.customer, json.dumps(data or {}), now),
        )

    def reply(
        self, tx: Tx, case_id: int, agent: str, text: str, now: float, *, private: bool = False,
        kind: str | None = None, promised_by: float | None = None,
    ) -> int:
        """A public reply (or a private DM) queued to the outbox; returns the outbox id."""
        if not text.strip():
            raise StoreError("the reply is empty")
        case = self.load_case(tx, case_id)
        if case.status is Status.CLOSED:
            raise StoreError(f"case {case_id} is closed; the customer's next post opens a new case")
        self._ensure_claim(tx, case, agent, now)
        kind = kind or ("dm" if private else "reply")
        event_kind = "dm" if kind == "dm" else "reply"
        data = {"outbox_kind": kind}
        if promised_by is not None:
            data["promised_by"] = iso(promised_by)
        event_id = self.event(tx, case_id, event_kind, agent, now, text, data)
        outbox_id = self.queue_outbox(tx, case, event_id, kind, text, agent, now)
        tx.execute(
            "UPDATE cases SET waiting_since = NULL, last_response_at = ?, "
            "first_response_at = COALESCE(first_response_at, ?), updated_at = ?, "
            "last_activity = GREATEST(last_activity, ?) WHERE id = ?",
            (now, now, now, now, case_id),
        )
        if promised_by is not None:
            tx.execute("UPDATE cases SET promised_by = ? WHERE id = ?", (promised_by, case_id))
        target = Status.OFFLINE if kind == "dm" else Status.ACKNOWLEDGED
        if case.status in (Status.NEW, Status.WAITING, Status.SNOOZED) or (
            target is Status.OFFLINE and case.status is Status.ACKNOWLEDGED
        ):
            self.set_status(tx, case, target, agent, now)
        self.touch(tx, case_id, event_kind, now)
        return outbox_id

    def take_offline(self, tx: Tx, case_id: int, agent: str, channel: str, note: str,
                     now: float) -> None:
        """Move the conversation to phone or email (recorded; nothing is posted)."""
        if channel not in ("phone", "email"):
            raise StoreError("channel must be phone or email (use a DM reply for dm)")
        case = self.load_case(tx, case_id)
        self._ensure_claim(tx, case, agent, now)
        if case.status is not Status.OFFLINE:
            self.set_status(tx, case, Status.OFFLINE, agent, now, f"by {channel}",
                            {"channel": channel})
        self.event(tx, case_id, "offline", agent, now, note, {"channel": channel})
        tx.execute("UPDATE cases SET waiting_since = NULL, last_response_at = ?, "
                   "first_response_at = COALESCE(first_response_at, ?) WHERE id = ?",
                   (now, now, case_id))
        self.touch(tx, case_id, "offline", now)

    def note(self, tx: Tx, case_id: int, agent: str, text: str, now: float) -> None:
        """An internal note on the timeline (never sent)."""
        if not text.strip():
            raise StoreError("the note is empty")
        self.load_case(tx, case_id)
        self.event(tx, case_id, "note", agent, now, text)
        self.touch(tx, case_id, "note", now)

    def escalate(self, tx: Tx, case_id: int, agent: str, tier: int, note: str, phone: bool,
                 now: float) -> None:
        """Raise a case to tier 1 (supervisor) or 2 (executive) and announce it."""
        if tier not in (0, 1, 2):
            raise StoreError("tier must be 0 (agent), 1 (supervisor) or 2 (executive)")
        case = self.load_case(tx, case_id)
        if case.status is Status.CLOSED:
            raise StoreError(f"case {case_id} is closed")
        tx.execute(
            "UPDATE cases SET escalation_tier = ?, phone_callback = ?, updated_at = ? WHERE id = ?",
            (tier, int(phone or case.phone_callback), now, case_id),
        )
        body = f"tier {case.escalation_tier} → {tier}" + (" · phone call-back" if phone else "")
        if note:
            body += f": {note}"
        event_id = self.event(tx, case_id, "escalate", agent, now, body,
                              {"tier": tier, "phone": phone, "note": note})
        if tier > 0:
            text = f"[{self.config.brand}] case {case_id} escalated to tier {tier} by {agent}"
            if phone:
                text += " (phone call-back requested)"
            if note:
                text += f": {note}"
            self.queue_outbox(tx, case, event_id, "escalation", text, agent, now,
                              {"tier": tier}, delay=0.0)
        self.touch(tx, case_id, "escalate", now)

    def resolve(self, tx: Tx, case_id: int, agent: str, now: float, note: str = "") -> None:
        """Resolve a case (the SLA clock stops)."""
        case = self.load_case(tx, case_id)
        self.set_status(tx, case, Status.RESOLVED, agent, now, note)
        if case.promised_by is not None:
            kept = now <= ts(case.promised_by)
            tx.execute("UPDATE cases SET promise_kept = ? WHERE id = ?", (int(kept), case_id))
        self.touch(tx, case_id, "status", now)

    def close(self, tx: Tx, case_id: int, agent: str, followup: str | None, now: float) -> None:
        """Close the loop: queue the follow-up request and close the case."""
        case = self.load_case(tx, case_id)
        lifecycle.check_transition(case.status, Status.CLOSED)
        if followup:
            event_id = self.event(tx, case_id, "reply", agent, now, followup,
                                  {"outbox_kind": "followup"})
            self.queue_outbox(tx, case, event_id, "followup", followup, agent, now)
        self.set_status(tx, case, Status.CLOSED, agent, now)
        self.touch(tx, case_id, "status", now)

    def reopen(self, tx: Tx, case_id: int, agent: str, now: float) -> None:
        """Reopen a resolved case."""
        case = self.load_case(tx, case_id)
        self.set_status(tx, case, Status.ACKNOWLEDGED, agent, now, "reopened")
        self.touch(tx, case_id, "status", now)

    def wait(self, tx: Tx, case_id: int, agent: str, now: float) -> None:
        """Mark a case as waiting on the customer."""
        case = self.load_case(tx, case_id)
        self.set_status(tx, case, Status.WAITING, agent, now)
        self.touch(tx, case_id, "status", now)

    def snooze(self, tx: Tx, case_id: int, agent: str, until: float, now: float) -> None:
        """Snooze a case until a time; the customer writing wakes it early."""
        case = self.load_case(tx, case_id)
        self.set_status(tx, case, Status.SNOOZED, agent, now, f"until {iso(until)}",
                        {"until": iso(until)})
        tx.execute("UPDATE cases SET snoozed_until = ? WHERE id = ?", (until, case_id))
        self.touch(tx, case_id, "status", now)

    def wake_snoozed(self, tx: Tx, now: float) -> list[int]:
        """Wake cases whose snooze ran out."""
        woken = []
        for (case_id,) in tx.fetchall(
            "SELECT id FROM cases WHERE status = 'snoozed' AND snoozed_until <= ?", (now,)
        ):
            case = self.load_case(tx, case_id)
            target = Status.ACKNOWLEDGED if tx.fetchone(
                "SELECT ever_acknowledged FROM cases WHERE id = ?", (case_id,))[0] else Status.NEW
            self.set_status(tx, case, target, None, now, "snooze ended")
            self.touch(tx, case_id, "status", now)
            woken.append(case_id)
        return woken

    def tag(self, tx: Tx, case_id: int, agent: str, tag: str, now: float,
            remove: bool = False) -> None:
        """Add (or remove) a tag; both are events."""
        tag = tag.strip().lower()
        if not tag:
            raise StoreError("the tag is empty")
        case = self.load_case(tx, case_id)
        tags = list(case.tags)
        if remove:
            if tag not in tags:
                raise StoreError(f"case {case_id} has no tag {tag!r}")
            tags.remove(tag)
        elif tag in tags:
            return
        else:
            tags.append(tag)
        tx.execute("UPDATE cases SET tags = ?, updated_at = ? WHERE id = ?",
                   (json.dumps(tags), now, case_id))
        self.event(tx, case_id, "tag", agent, now, ("-" if remove else "+") + tag,
                   {"tag": tag, "removed": remove})
        self.touch(tx, case_id, "tag", now)

    def undo(self, tx: Tx, case_id: int, agent: str, now: float) -> OutboxItem:
        """Unsend the agent's newest reply still inside its undo window."""
        row = tx.fetchone(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_id = ? AND agent = ? AND "
            "state = 'pending' AND not_before > ? AND kind != 'escalation' "
            "ORDER BY id DESC LIMIT 1",
            (case_id, agent, now),
        )
        if row is None:
            raise StoreError("nothing to undo: no reply of yours is still inside its undo window")
        item = outbox_from_row(row)
        if tx.execute("UPDATE outbox SET state = 'cancelled', updated_at = ? "
                      "WHERE id = ? AND state = 'pending'", (now, item.id)) == 0:
            raise StoreError("too late to undo: the reply is already on its way")
        self.event(tx, case_id, "undo", agent, now, f"unsent: {item.text}",
                   {"outbox_id": item.id, "event_id": item.event_id})
        self.touch(tx, case_id, "undo", now)
        item.state = "cancelled"
        return item

    def score(self, tx: Tx, case_id: int, agent: str, score: int, note: str | None,
              now: float) -> None:
        """A supervisor's QA score (1–5) for a handled case."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise StoreError(f"score must be a whole number from 1 to 5, not {score!r}")
        case = self.load_case(tx, case_id)
        if case.first_response_at is None and case.status not in (Status.RESOLVED, Status.CLOSED):
            raise StoreError(f"case {case_id} has not been handled yet; nothing to score")
        tx.execute("INSERT INTO qa (case_id, agent, score, note, at) VALUES (?, ?, ?, ?, ?)",
                   (case_id, agent, score, note, now))
        self.event(tx, case_id, "qa", agent, now, f"QA {score}/5" + (f": {note}" if note else ""),
                   {"score": score, "note": note})
        self.touch(tx, case_id, "qa", now)

    # -- outbox delivery -------------------------------------------------------------------

    def due_outbox(self, tx: Tx, now: float, limit: int, lease_seconds: float) -> list[OutboxItem]:
        """Lease due items for delivery (also items whose earlier lease ran out: a crash)."""
        rows = tx.fetchall(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ((state = 'pending' AND "
            "next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?)) "
            "ORDER BY next_attempt_at, id LIMIT ?",
            (now, now, limit),
        )
        items = []
        for row in rows:
            item = outbox_from_row(row)
            if tx.execute(
                "UPDATE outbox SET state = 'sending', lease_until = ?, attempts = attempts + 1, "
                "updated_at = ? WHERE id = ? AND state = ?",
                (now + lease_seconds, now, item.id, item.state),
            ):
                item.state = "sending"
                item.attempts += 1
                items.append(item)
        return items

    def delivered(self, tx: Tx, outbox_id: int, remote_id: str | None, remote_url: str | None,
                  now: float) -> None:
        """Record a delivery on the outbox row and the timeline."""
        row = tx.fetchone("SELECT case_id, kind, state FROM outbox WHERE id = ?", (outbox_id,))
        if row is None or row[2] == "delivered":
            return
        tx.execute(
            "UPDATE outbox SET state = 'delivered', remote_id = ?, remote_url = ?, error = NULL, "
            "lease_until = NULL, updated_at = ? WHERE id = ?",
            (remote_id, remote_url, now, outbox_id),
        )
        self.event(tx, row[0], "delivered", None, now, remote_url or remote_id or "",
                   {"outbox_id": outbox_id, "kind": row[1], "remote_id": remote_id,
                    "remote_url": remote_url})
        self.touch(tx, row[0], "delivered", now)

    def announced(self, tx: Tx, outbox_id: int, target: str, now: float) -> list[str]:
        """Note on an escalation's outbox row that ``target`` has taken it, so a sender
        after a crash or in another process does not announce it there again. Returns
        every target noted so far."""
        row = tx.fetchone("SELECT data FROM outbox WHERE id = ?", (outbox_id,))
        if row is None:
            return []
        data = json.loads(row[0] or "{}")
        done = [str(t) for t in data.get("announced", [])]
        if target not in done:
            done.append(target)
            data["announced"] = done
            tx.execute("UPDATE outbox SET data = ?, updated_at = ? WHERE id = ?",
                       (json.dumps(data), now, outbox_id))
        return done

    def delivery_failed(self, tx: Tx, outbox_id: int, reason: str, retry_at: float | None,
                        now: float) -> None:
        """A failed attempt: retry later, or give up and say why on the timeline."""
        row = tx.fetchone("SELECT case_id, kind, state FROM outbox WHERE id = ?", (outbox_id,))
        if row is None or row[2] in ("delivered", "cancelled"):
            return
        if retry_at is not None:
            tx.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?, error = ?, "
                "lease_until = NULL, updated_at = ? WHERE id = ?",
                (retry_at, reason, now, outbox_id),
            )
            return
        tx.execute(
            "UPDATE outbox SET state = 'failed', error = ?, lease_until = NULL, updated_at = ? "
            "WHERE id = ?",
            (reason, now, outbox_id),
        )
        self.event(tx, row[0], "delivery_failed", None, now, reason,
                   {"outbox_id": outbox_id, "kind": row[1]})
        self.touch(tx, row[0], "delivery_failed", now)

    # -- presence, leases, health ----------------------------------------------------------

    def presence(self, tx: Tx, case_id: int, agent: str, state: str | None, until: float,
                 now: float) -> None:
        """Say an agent is viewing or typing in a case (None clears it)."""
        tx.execute("DELETE FROM presence WHERE case_id = ? AND agent = ?", (case_id, agent))
        if state:
            tx.execute("INSERT INTO presence (case_id, agent, state, expires_at) VALUES (?, ?, ?, ?)",
                       (case_id, agent, state, until))
        tx.execute("INSERT INTO changes (case_id, kind, at) VALUES (?, 'presence', ?)",
                   (case_id, now))

    def lease(self, tx: Tx, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take or renew a named lease; False when someone else holds it."""
        if tx.execute("UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND "
                      "(holder = ? OR expires_at < ?)", (holder, now + ttl, name, holder, now)):
            return True
        row = tx.fetchone("SELECT holder FROM leases WHERE name = ?", (name,))
        if row is not None:
            return False
        tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (name) DO NOTHING", (name, holder, now + ttl))
        row = tx.fetchone("SELECT holder FROM leases WHERE name = ?", (name,))
        return row is not None and row[0] == holder


def effective_heat(case: Case, now: datetime, config: Config) -> tuple[float, dict[str, float]]:
    """Heat right now: the static parts plus SLA pressure from the case's clock."""
    state = sla_state(case.waiting_since, case.first_response_at is not None, case.priority,
                      now, config.sla)
    parts = dict(case.heat_parts)
    parts["sla"] = heat_rules.sla_part(parts, state.used, config.weights)
    return heat_rules.total(parts), parts
