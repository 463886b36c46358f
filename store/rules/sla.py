"""SLA clock: first- and next-response targets per priority, and breach as a fact.

``waiting_since`` is set when the customer writes and cleared only by a human reply
(Chatwoot's convention). The first response target applies until the case has had a
first response; after that the next-response target applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlaTargets:
    """Minutes per priority for first and next responses."""

    first_response: Mapping[str, float] = field(
        default_factory=lambda: {"hot": 15.0, "normal": 60.0}
    )
    next_response: Mapping[str, float] = field(
        default_factory=lambda: {"hot": 30.0, "normal": 120.0}
    )

    def minutes(self, priority: str, first: bool) -> float:
        """The target in minutes for this priority (falls back to ``normal``)."""
        table = self.first_response if first else self.next_response
        return float(table.get(priority, table.get("normal", 60.0)))


@dataclass(frozen=True)
class SlaState:
    """Where one case stands against its target right now."""

    due_at: datetime | None
    remaining_s: float | None
    breached: bool
    used: float  # share of the target used up (0 when nobody waits)


def sla_state(
    waiting_since: datetime | None,
    had_first_response: bool,
    priority: str,
    now: datetime,
    targets: SlaTargets,
) -> SlaState:
    """The SLA clock for a case; nobody waiting means no clock and no breach."""
    if waiting_since is None:
        return SlaState(None, None, False, 0.0)
    minutes = targets.minutes(priority, first=not had_first_response)
    due = waiting_since + timedelta(minutes=minutes)
    remaining = (due - now).total_seconds()
    used = max(0.0, (now - waiting_since).total_seconds() / (minutes * 60.0))
    return SlaState(due, remaining, remaining < 0, used)
