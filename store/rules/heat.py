"""Heat 0–100: an explainable sum of parts the agent can read in the timeline.

Static parts, fixed once the case's customer mentions are known:

- negativity — the customer-service sentiment of the latest mention (stakes already
  pull it towards -1, praise slang does not), times ``weights.negativity``;
- urgency — how surely the latest mention carries a concrete stake (money lost or
  charged wrongly, safety, legal or regulator threats, leaving or going public, failed
  contacts, privacy, a hacked account: ``sentiment.stakes``); a mild problem or a
  question earns a small floor so they rank over chit-chat;
- reach — followers on a log scale (from 100, full at 50k), times how surely the post
  is a complaint at all; a complaint from a big account (about 50k up) is also a stake;
- repeat — earlier cases of the same customer, times the problem level;
- velocity — several mentions in one thread, times the problem level.

SLA pressure (``sla_part``) grows with time, also scaled by the problem level, the same
arithmetic the queue model uses. Reach, velocity, repeat and age amplify a problem;
they never make praise hot. The latest mention carries the case: earlier mentions count
at ``CARRY`` while the thread stays upset, and not at all once it reads calm.

Heat reads the stored sentiment and rescans the text's lexicon (cached); it never runs
VADER. ``scripts/triage_eval.py`` measures the ranking on a labelled corpus.
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
    created_at: datetime | None = None  # for callers that order signals; no rule reads it


HOT_THRESHOLD = 50.0

# An earlier mention's problem still counts at this share while the thread stays upset
# (in full while the latest mention carries a stake of its own: the customer is
# escalating); a latest mention that reads calm (CALM or warmer: praise, thanks, "all
# sorted now") lets the case cool.
CARRY = 0.5
CALM = 0.3
# Urgency floors for posts without a stake: a mild problem, then a question to answer.
PROBLEM_FLOOR = 0.2
QUESTION_FLOOR = 0.1
# Followers: amplification starts at 100 and is full at 50k. A complaint from an
# account of about 30k up (fully at 60k) is a stake of its own, as in the rubric.
_REACH_FLOOR, _REACH_FULL = 2.0, math.log10(50_000)
_BIG_FROM, _BIG_SPAN = 4.5, 0.3
_BIG_STAKE = 0.7


def problem_level(parts: Mapping[str, float], weights: HeatWeights) -> float:
    """How much of a problem the case is, 0..1, from negativity and urgency."""
    top = weights.negativity + weights.urgency
    return 0.0 if top <= 0 else min(1.0, (parts.get("negativity", 0) + parts.get("urgency", 0)) / top)


def reach_factor(followers: int) -> float:
    """0..1 on a log scale: nothing up to 100 followers, full at 50k."""
    if followers <= 100:
        return 0.0
    return min(1.0, (math.log10(followers) - _REACH_FLOOR) / (_REACH_FULL - _REACH_FLOOR))


def big_account(followers: int) -> float:
    """0..1: how surely the author is a big account (from about 30k, fully at 60k)."""
    if followers <= 0:
        return 0.0
    return max(0.0, min(1.0, (math.log10(followers) - _BIG_FROM) / _BIG_SPAN))


@dataclass(frozen=True, slots=True)
class Problem:
    """What one mention says about the case, each 0..1."""

    negativity: float  # the customer-service sentiment, negative side
    stakes: float      # money, safety, legal, going public, failed contacts, privacy, hacked
    floor: float       # PROBLEM_FLOOR, QUESTION_FLOOR or 0: the least urgency it deserves
    complaint: float   # how surely it is a complaint at all (0: praise, a neutral question)


def read_mention(m: MentionSignal) -> Problem:
    """The problem in one mention, from its stored sentiment and its text (no VADER)."""
    stakes, _ = sentiment.stakes(m.text, m.sentiment)
    neg = max(0.0, -m.sentiment)
    floor = problem = 0.0
    if m.sentiment < CALM:
        lex = sentiment.lexical(m.text)
        if "problem" in lex.sure or "distress" in lex.sure:
            floor = problem = PROBLEM_FLOOR
        elif lex.question:
            floor = QUESTION_FLOOR
    complaint = min(1.0, max(stakes / 0.3, problem * 5.0, max(0.0, neg - 0.25) / 0.35))
    return Problem(neg, stakes, floor, complaint)


def static_parts(
    mentions: Sequence[MentionSignal], prior_cases: int, weights: HeatWeights
) -> dict[str, float]:
    """Every part but SLA pressure, for a case's customer mentions (oldest first).

    The latest mention carries the case: its negativity (the customer-service
    sentiment) and its stakes (urgency). Earlier mentions count at CARRY while the
    thread stays upset, not once the latest reads calm. Reach, repeat contact and thread
    velocity only scale the problem found, so praise stays cool whoever posts it; a
    complaint from a big account is a stake in itself and reads as a serious one.
    """
    if not mentions:
        return {"negativity": 0.0, "urgency": 0.0, "reach": 0.0, "repeat": 0.0, "velocity": 0.0}
    latest = mentions[-1]
    now = read_mention(latest)
    neg, stakes, complaint = now.negativity, now.stakes, now.complaint
    if len(mentions) > 1 and latest.sentiment < CALM:
        # A customer who still has something at stake is escalating, not moving on: what
        # they said before stands in full. Otherwise it fades to CARRY.
        carry = 1.0 if stakes > 0 else CARRY
        for earlier in mentions[:-1]:
            before = read_mention(earlier)
            neg = max(neg, carry * before.negativity)
            stakes = max(stakes, carry * before.stakes)
            complaint = max(complaint, carry * before.complaint)
    followers = max(0, latest.followers)
    big = big_account(followers) * complaint
    if big:
        stakes = 1.0 - (1.0 - stakes) * (1.0 - _BIG_STAKE * big)
        neg += (1.0 - neg) * 0.5 * big
    parts = {
        "negativity": round(weights.negativity * neg, 1),
        "urgency": round(weights.urgency * max(stakes, now.floor), 1),
    }
    level = problem_level(parts, weights)
    parts["reach"] = round(weights.reach * reach_factor(followers) * complaint, 1)
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
