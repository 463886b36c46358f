"""The desk's playbook: what to do next with a case, and what time to promise.

:func:`suggestion` reads the case's customer mentions (oldest first) the way heat does,
from the stored sentiment and the text's stakes (no VADER), and answers one of:

- ``escalate`` — a threat or a specialist's matter: legal action, a lawyer, a chargeback
  or card dispute, a regulator, fraud or scam claims and hacked accounts, going to the
  press; also injuries, fire and other safety incidents and personal-data leaks, and
  any problem from a big account (about 50k followers and up);
- ``phone`` — emotions run high: the latest mention is strongly negative and the
  customer has written several times (three mentions, or two with failed contacts, or
  earlier cases);
- ``dm`` — a problem that needs private details to fix (an order, account, payment,
  refund or delivery), or any strongly negative mention;
- ``None`` — praise, thanks, chit-chat and questions with nothing at stake, and a thread
  whose latest mention has calmed down.

:func:`promise_minutes` estimates when the desk can come back to a new case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from store.rules import sentiment
from store.rules.heat import CALM, MentionSignal, big_account

STRONGLY_NEGATIVE = -0.6
# Stakes that go to a supervisor or a specialist team whoever asks.
_ESCALATE_KINDS = frozenset({"legal", "press", "hacked", "safety", "privacy"})
_ESCALATE_AT = 0.5  # stake strength from which those kinds escalate
# Things only the customer's private details can sort out.
_PRIVATE_MATTER = re.compile(
    r"\b(?:order|account|refund|payment|charge[ds]?|card|parcel|package|deliver\w*|"
    r"tracking|return\w*|exchange|booking|invoice|receipt|login|password|address|"
    r"bestellung|pedido|commande|ordine|konto|cuenta|compte)\b",
    re.IGNORECASE,
)


def suggestion(mentions: Sequence[MentionSignal], prior_cases: int) -> str | None:
    """``escalate``, ``phone``, ``dm`` or None for a case's customer mentions."""
    if not mentions:
        return None
    latest = mentions[-1]
    if latest.sentiment >= CALM:
        return None  # praise, thanks, or "all sorted now": nothing to do
    strength, kinds = sentiment.stakes(latest.text, latest.sentiment)
    for earlier in mentions[:-1]:  # a threat made earlier in the thread still stands
        e_strength, e_kinds = sentiment.stakes(earlier.text, earlier.sentiment)
        if e_kinds & _ESCALATE_KINDS and e_strength >= _ESCALATE_AT:
            strength, kinds = max(strength, e_strength), kinds | e_kinds
    lex = sentiment.lexical(latest.text)
    problem = bool(kinds) or "problem" in lex.sure or latest.sentiment <= -0.3
    if kinds & _ESCALATE_KINDS and strength >= _ESCALATE_AT:
        return "escalate"
    if problem and big_account(max(m.followers for m in mentions)) >= 0.5:
        return "escalate"
    upset = latest.sentiment <= STRONGLY_NEGATIVE
    several = len(mentions) >= 3 or prior_cases >= 2 or (
        len(mentions) >= 2 and "contacts" in kinds)
    if upset and several:
        return "phone"
    if upset or (problem and (kinds or _PRIVATE_MATTER.search(latest.text))):
        return "dm"
    return None


HANDLE_MINUTES = 8.0   # average handling time of one social case, first touch to fix
MIN_PROMISE = 15.0     # never promise sooner than this, however empty the queue


def promise_minutes(open_cases: int, agents: int, buffer_minutes: float) -> float:
    """Minutes to promise a customer: the queue's estimated wait plus the buffer.

    ``(open_cases / agents + 1) × HANDLE_MINUTES``: the cases already open are shared
    among the agents working them, each taking about HANDLE_MINUTES, and then this case
    is handled too (Little's law with the queue as the work in progress). At least
    MIN_PROMISE, rounded up to a whole minute, then ``buffer_minutes`` on top.
    """
    queue = max(0, open_cases) / max(1, agents)
    estimate = max(MIN_PROMISE, (queue + 1.0) * HANDLE_MINUTES)
    return float(math.ceil(estimate)) + max(0.0, buffer_minutes)
