"""Draft check: what an agent's reply should not say, or should not say in public.

Two kinds of issue, each one human line with a hint:

- ``tone``: the draft reads strongly negative, or argues with or blames the customer
  ("as I said", "our policy clearly states", "your fault", "calm down"). Sentences that
  apologise or empathise ("so sorry you were charged twice") are left out of the
  negativity reading, because VADER scores an apology's subject, not its intent.
  "Actually" is objected to only where it corrects the customer (opening a sentence,
  "well, actually", "actually, ...", "actually you ..."), not in "we can actually
  refund that today".
- ``pii`` (public replies only): card numbers (13–19 digits, spaces or dashes between
  groups, Luhn-checked), email addresses (not fediverse handles like
  ``@ann@example.social``, not role addresses like ``help@…``), phone numbers
  (international ``+…``, UK ``07…``/``020…``, US ``(555) 123-4567``; freephone and
  other business numbers are fine), order or booking numbers ("order #12345",
  "order number AB-123456"). Prices, dates, times and short numbers are not personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.rules.sentiment import raw_vader


@dataclass(frozen=True)
class DraftIssue:
    """One objection to a draft reply."""

    kind: str  # "tone" | "pii"
    message: str


NEGATIVE = -0.5  # VADER compound at or under which the draft reads strongly negative

_EMPATHY = re.compile(
    r"\b(?:sorry|apolog\w*|unfortunately|regret\w*|we hate that|understand\w*|"
    r"frustrat\w*|that sounds|must have been|we're on it|not the experience)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_HOSTILE = re.compile(
    r"\b(?:ridiculous|pathetic|stupid|idiot\w*|nonsense|rubbish|absurd|liar|lying|"
    r"harass\w*|shut up|get over it|deal with it|whatever)\b",
    re.IGNORECASE,
)
# (pattern, how to say what's wrong); each names the phrase it found.
_ARGUE = re.compile(
    r"(?:^|[.!?]\s+|\bwell,?\s+)actually\b|\bactually,|\bactually,?\s+(?:you|your)\b|"
    r"\b(?:as|like)\s+(?:i|we)\s+(?:(?:have\s+|had\s+)?already\s+|previously\s+)?"
    r"(?:said|stated|explained|mentioned|told\s+you)\b|"
    r"\bas\s+(?:previously\s+|already\s+)?(?:stated|mentioned|explained)\b|"
    r"\b(?:i|we)(?:'ve|\s+have)?\s+already\s+(?:told|explained|said)\b|"
    r"\bper\s+my\s+last\b|\bclearly\s+states?\b|\bpolicy\s+is\s+(?:very\s+)?clear\b|"
    r"\bif\s+you\s+(?:had|'d)\s+read\b|\byou\s+(?:should|must)\s+have\b|\byou\s+should've\b|"
    r"\byou\s+(?:failed|neglected)\s+to\b|\byou\s+didn't\s+read\b|"
    r"\b(?:it's|it\s+is|that's|that\s+is)\s+(?:entirely\s+|completely\s+)?your\s+(?:own\s+)?"
    r"(?:fault|mistake|problem|responsibility)\b|"
    r"\byour\s+(?:own\s+)?(?:fault|mistake)\b|"
    r"\bcalm\s+down\b|\bno\s+need\s+to\s+(?:shout|be\s+rude)\b|\bwith\s+all\s+due\s+respect\b|"
    r"\bnot\s+our\s+(?:fault|problem)\b|\byou(?:'re|\s+are)\s+wrong\b|\bobviously\b",
    re.IGNORECASE,
)

_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")
_EMAIL = re.compile(r"(?<![@\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ROLE_EMAIL = re.compile(
    r"^(?:help|support|care|service|customerservice|customer\.?care|info|contact|hello|"
    r"team|press|privacy|returns|orders|noreply|no-reply)@", re.IGNORECASE)
_PHONE = re.compile(
    r"\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?\(?\d{1,5}\)?(?:[ .-]?\d{2,5}){1,4}(?!\d)"  # +44 7700 900123
    r"|(?<![\d/.,:])0\d{2,4}\)?[ -]?\d{3,4}[ -]?\d{3,4}(?!\d|[/.,:]\d)"          # 07700 900123
    r"|(?<![\d(])\(0\d{2,4}\)\s?\d{3,4}[ -]?\d{3,4}(?!\d)"                       # (020) 7946 0958
    r"|(?<![\d/.,:-])(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}(?!\d|[/.,:-]\d)"  # (555) 123-4567
)
_BUSINESS_PHONE = re.compile(
    r"^(?:\+44\s?|0)(?:800|808|300|330|333|34\d|37\d)|^\(?(?:\+?1[ .-]?)?\(?8(?:00|33|44|55|66|77|88)\)?")
_ORDER = re.compile(
    r"\b(?:order|booking|reservation|account)(?:\s+(?:no\.?|number|num|ref(?:erence)?|id))?"
    r"\s*[:#]?\s*#?\s*(?=[A-Z0-9-]*\d{4})[A-Z]{0,4}-?\d[\dA-Z-]{3,}\b|"
    r"\b(?:ref(?:erence)?|ref\.)\s*(?:no\.?|number)?\s*[:#]?\s*[A-Z]{1,4}-?\d{4,}\b",
    re.IGNORECASE,
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str) -> list[str]:
    found = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            found.append(m.group())
    return found


def _phones(text: str) -> list[str]:
    found = []
    for m in _PHONE.finditer(text):
        raw = m.group().strip()
        digits = re.sub(r"\D", "", raw)
        if 9 <= len(digits) <= 15 and not _BUSINESS_PHONE.match(raw):
            found.append(raw)
    return found


def personal_data(text: str) -> list[str]:
    """Which kinds of personal data the text shows: card number, email, phone, order number."""
    kinds = []
    cards = _cards(text)
    if cards:
        kinds.append("card number")
    if any(not _ROLE_EMAIL.match(m.group()) for m in _EMAIL.finditer(text)):
        kinds.append("email address")
    rest = text
    for card in cards:  # a card number is not also a phone number
        rest = rest.replace(card, " ")
    if _phones(rest):
        kinds.append("phone number")
    if _ORDER.search(text):
        kinds.append("order number")
    return kinds


def _tone_issues(text: str) -> list[DraftIssue]:
    issues = []
    phrases = []
    for m in _ARGUE.finditer(text):
        phrase = re.sub(r"^[.!?\s]+", "", m.group()).strip(" ,")
        if phrase.lower() not in (p.lower() for p in phrases):
            phrases.append(phrase)
    if phrases:
        quoted = ", ".join(f'"{p}"' for p in phrases[:3])
        issues.append(DraftIssue(
            "tone", f"argues with or blames the customer ({quoted}) — say what you will do instead"))
    plain = [s for s in _SENTENCES.split(text) if s.strip() and not _EMPATHY.search(s)]
    reading = raw_vader(" ".join(plain)) if plain else 0.0
    hostile = sorted({m.group().lower() for m in _HOSTILE.finditer(text)})
    if reading <= NEGATIVE or hostile:
        why = f'"{hostile[0]}"' if hostile else f"sentiment {reading:+.2f}"
        issues.append(DraftIssue(
            "tone", f"reads strongly negative ({why}) — acknowledge, apologise, then the next step"))
    return issues


def check_draft(text: str, public: bool) -> list[DraftIssue]:
    """Objections to a draft reply; personal data only matters when it is public."""
    issues = _tone_issues(text)
    if public:
        for kind in personal_data(text):
            issues.append(DraftIssue(
                "pii", f"personal data in a public reply ({kind}) — send it privately"))
    return issues
