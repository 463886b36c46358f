"""The desk's records: what a mention, customer, case, event and outbox item are.

Plain dataclasses with no I/O, shared by every backend, feed and screen.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Status(StrEnum):
    """Where a case is in the desk's lifecycle."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    OFFLINE = "offline"
    WAITING = "waiting"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = frozenset(
    {Status.NEW, Status.ACKNOWLEDGED, Status.OFFLINE, Status.WAITING, Status.SNOOZED}
)

PLATFORMS = ("mastodon", "bluesky", "rss", "reddit", "webhook", "demo", "replay")


@dataclass(slots=True)
class Mention:
    """One post from a platform, normalised. Unique on (platform, external_id)."""

    platform: str
    external_id: str
    author: str
    text: str
    created_at: datetime
    author_name: str | None = None
    followers: int = 0
    url: str | None = None
    in_reply_to: str | None = None
    lang: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    sentiment: float | None = None
    deleted: bool = False
    edited: bool = False
    # Who the mention came through (feed name); replies go out per CONTRACTS.md routing.
    source: str | None = None
    # Set by the store once persisted.
    id: int | None = None
    case_id: int | None = None
    # True when the author is the brand itself (one of desk.handles).
    from_brand: bool = False


@dataclass(slots=True)
class Customer:
    """Someone who writes to the brand; one per (platform, handle)."""

    id: int
    platform: str
    handle: str
    name: str | None = None
    followers: int = 0


@dataclass(slots=True)
class Case:
    """The unit of work: a customer's conversation, grouped from mentions."""

    id: int
    platform: str
    customer_id: int
    customer: str
    status: Status
    opened_at: datetime
    updated_at: datetime
    escalation_tier: int = 0
    phone_callback: bool = False
    assignee: str | None = None
    waiting_since: datetime | None = None
    first_response_at: datetime | None = None
    last_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    snoozed_until: datetime | None = None
    promised_by: datetime | None = None
    tags: list[str] = field(default_factory=list)
    heat_parts: dict[str, float] = field(default_factory=dict)
    heat_static: float = 0.0
    priority: str = "normal"
    sentiment: float = 0.0
    followers: int = 0
    mention_count: int = 0
    last_text: str = ""
    last_mention_at: datetime | None = None
    prior_cases: int = 0
    linked_case_id: int | None = None
    suggestion: str | None = None
    version: int = 0
    seq: int = 0


@dataclass(slots=True)
class Event:
    """An append-only record of something that happened to a case."""

    id: int
    case_id: int
    at: datetime
    kind: str
    agent: str | None
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    mention_id: int | None = None


@dataclass(slots=True)
class OutboxItem:
    """Something that must leave the building: a reply, DM or escalation ping."""

    id: int
    case_id: int
    event_id: int
    kind: str  # reply | dm | followup | escalation
    platform: str
    text: str
    idempotency_key: str
    not_before: datetime
    state: str = "pending"  # pending | sending | delivered | failed | cancelled
    attempts: int = 0
    in_reply_to: str | None = None
    recipient: str | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class StoreError(Exception):
    """A problem a user can cause (unknown case, bad transition); one clear line."""


class CaseNotFound(StoreError):
    """No case with that id."""


class ClaimConflict(StoreError):
    """Another agent holds the claim."""

    def __init__(self, case_id: int, holder: str):
        super().__init__(f"case {case_id} is claimed by {holder}")
        self.case_id = case_id
        self.holder = holder


class TransitionError(StoreError):
    """A lifecycle transition the rules forbid."""


class SchemaTooNew(StoreError):
    """The store was written by a newer heatdesk."""
