"""Heat 0–100: an explainable sum of parts the agent can read in the timeline.

Parts: negativity, urgency (stakes words), reach, repeat contact, thread velocity — all
fixed once the case's mentions are known ("static") — plus SLA pressure, which grows
with time. Reach, velocity and SLA pressure amplify a problem; they never make praise hot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from store.rules import sentiment


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

# An earlier mention's problem still counts at this share while the thread stays upset;
# a latest mention that is calm (resolved, or reads positive) lets the case cool.
CARRY = 0.5
CALM = 0.3
# Followers: amplification starts at 100 and is full at 50k; an account past about
# 30k that complains is a stake of its own (the rubric's "more than 50k followers").
_REACH_FLOOR, _REACH_FULL = 2.0, math.log10(50_000)
_BIG_FROM, _BIG_SPAN = 4.5, 0.3
_BIG_STAKE = 0.7


def problem_level(parts: Mapping[str, float], weights: HeatWeights) -> float:
    """How much of a problem the case is, 0..1, from negativity and urgency."""
    top = weights.negativity + weights.urgency
    return 0.0 if top <= 0 else min(1.0, (parts.get("negativity", 0) + parts.get("urgency", 0)) / top)


def reach_factor(followers: int) -> float:
    """0..1 on a log scale: nothing under 100 followers, full at 50k."""
    if followers <= 100:
        return 0.0
    return min(1.0, (math.log10(followers) - _REACH_FLOOR) / (_REACH_FULL - _REACH_FLOOR))


def _big_account(followers: int) -> float:
    """0..1: how surely the author is a big account (about 30k up, fully at 60k)."""
    if followers <= 0:
        return 0.0
    return max(0.0, min(1.0, (math.log10(followers) - _BIG_FROM) / _BIG_SPAN))


# Urgency floors for posts without a stake: a mild problem, a question to answer.
PROBLEM_FLOOR = 0.2
QUESTION_FLOOR = 0.1


def _mention_problem(m: MentionSignal) -> tuple[float, float, float]:
    """(negativity, stakes, floor) of one mention, each 0..1.

    The floor ranks a mild problem over a question over chit-chat; a calm post
    (praise, thanks) gets none.
    """
    strength, _ = sentiment.stakes(m.text, m.sentiment)
    floor = 0.0
    if m.sentiment < CALM:
        lex = sentiment.lexical(m.text)
        if "problem" in lex.sure:
            floor = PROBLEM_FLOOR
        elif lex.question:
            floor = QUESTION_FLOOR
    return max(0.0, -m.sentiment), strength, floor


def static_parts(
    mentions: Sequence[MentionSignal], prior_cases: int, weights: HeatWeights
) -> dict[str, float]:
    """Every part but SLA pressure, for a case's customer mentions (oldest first).

    The latest mention carries the case: its negativity (the customer-service
    sentiment) and its stakes (urgency). Earlier mentions count at half while the
    thread stays upset, not once the latest reads calm. Reach, repeat contact and thread
    velocity only scale the problem found, so praise stays cool whoever posts it; a
    complaint from a big account is a stake in itself.
    """
    if not mentions:
        return {"negativity": 0.0, "urgency": 0.0, "reach": 0.0, "repeat": 0.0, "velocity": 0.0}
    latest = mentions[-1]
    neg, stake, floor = _mention_problem(latest)
    calm = latest.sentiment >= CALM
    if len(mentions) > 1 and not calm:
        for earlier in mentions[:-1]:
            e_neg, e_stake, _ = _mention_problem(earlier)
            neg, stake = max(neg, CARRY * e_neg), max(stake, CARRY * e_stake)
    followers = max(0, latest.followers)
    # 0 for praise and neutral questions, 1 for a plain complaint
    complaint = min(1.0, max(neg, stake, floor if floor == PROBLEM_FLOOR else 0.0) / 0.3)
    big = _big_account(followers) * complaint
    if big:
        stake = 1.0 - (1.0 - stake) * (1.0 - _BIG_STAKE * big)
    parts = {
        "negativity": round(weights.negativity * neg, 1),
        "urgency": round(weights.urgency * max(stake, floor), 1),
    }
    level = problem_level(parts, weights)
    parts["reach"] = round(weights.reach * reach_factor(followers) * complaint * max(level, 0.5), 1)
    parts["repeat"] = round(weights.repeat * min(1.0, prior_cases / 2) * level, 1)
    parts["velocity"] = round(weights.velocity * min(1.0, (len(mentions) - 1) / 2) * level, 1)
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
