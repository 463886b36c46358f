"""Heat 0–100: an explainable sum of parts the agent can read in the timeline.

Parts: negativity, urgency (stakes words), reach, repeat contact, thread velocity — all
fixed once the case's mentions are known ("static") — plus SLA pressure, which grows
with time. Reach, velocity and SLA pressure amplify a problem; they never make praise hot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime


@dataclass(frozen=True)
class HeatWeights:
    """Maximum points each part can contribute (config ``[heat.weights]``)."""

    negativity: float = 40.0
    urgency: float = 15.0
    reach: float = 15.0
    sla: float = 20.0
    repeat: float = 10.0
    velocity: float = 5.0

    @classmethod
    def from_config(cls, table: Mapping[str, float] | None) -> HeatWeights:
        """Weights with any overrides from config applied."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in (table or {}).items() if k in names})


@dataclass(frozen=True, slots=True)
class MentionSignal:
    """What heat needs to know about one customer mention."""

    text: str
    sentiment: float
    followers: int
    created_at: datetime


HOT_THRESHOLD = 50.0

_URGENT = re.compile(
    r"\b(cancel\w*|refund\w*|lawyer|solicitor|scam|fraud|chargeback|never again|"
    r"injur\w*|unsafe|hacked|leak\w*|regulator|ombudsman)\b",
    re.IGNORECASE,
)


def problem_level(parts: Mapping[str, float], weights: HeatWeights) -> float:
    """How much of a problem the case is, 0..1, from negativity and urgency."""
    top = weights.negativity + weights.urgency
    return 0.0 if top <= 0 else min(1.0, (parts.get("negativity", 0) + parts.get("urgency", 0)) / top)


def static_parts(
    mentions: Sequence[MentionSignal], prior_cases: int, weights: HeatWeights
) -> dict[str, float]:
    """Every part but SLA pressure, for a case's customer mentions (oldest first)."""
    if not mentions:
        return {"negativity": 0.0, "urgency": 0.0, "reach": 0.0, "repeat": 0.0, "velocity": 0.0}
    latest = mentions[-1]
    neg = max(0.0, -latest.sentiment)
    urgency = min(1.0, len(_URGENT.findall(latest.text)) / 2)
    parts = {
        "negativity": round(weights.negativity * neg, 1),
        "urgency": round(weights.urgency * urgency, 1),
    }
    level = problem_level(parts, weights)
    reach = min(1.0, math.log10(1 + max(0, latest.followers)) / 5)
    parts["reach"] = round(weights.reach * reach * level, 1)
    parts["repeat"] = round(weights.repeat * min(1.0, prior_cases / 2) * level, 1)
    parts["velocity"] = round(weights.velocity * min(1.0, (len(mentions) - 1) / 3) * level, 1)
    return parts


def priority(parts: Mapping[str, float]) -> str:
    """``hot`` when the static heat alone passes the threshold, else ``normal``."""
    return "hot" if sum(parts.values()) >= HOT_THRESHOLD else "normal"


def sla_part(parts: Mapping[str, float], used: float, weights: HeatWeights) -> float:
    """SLA pressure: share of the target used (maxed past breach), scaled by the problem."""
    level = max(0.25, problem_level(parts, weights))
    return round(weights.sla * min(1.0, used) * level, 1)


def total(parts: Mapping[str, float]) -> float:
    """Heat 0–100 from its parts."""
    return round(max(0.0, min(100.0, sum(parts.values()))), 1)
