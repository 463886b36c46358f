"""The root-cause and performance report's figures, from exported cases (pure functions).

Input is the export's case dicts (CONTRACTS.md), so the report reads exactly what any
outside tool would. Definitions follow contact-centre conventions: first response time
(FRT) from the case opening to the first human reply; service level = cases first
answered within their target ÷ cases that needed an answer and were answered or breached.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_NOISE = re.compile(r"https?://\S+|\S*@\S+|\S+\.(?:com|org|net|social|example|app)\S*", re.IGNORECASE)
_WORD = re.compile(r"[a-zà-ÿ][a-zà-ÿ'’-]{2,}", re.IGNORECASE)
STOPWORDS = frozenset("""
the and for you your yours with that this have has had was were are our ours not but
they them their from what when where which who why how all any can could would should
will just about been being into than then there here its it's i'm i've dont don't
didn't isn't wasn't can't won't still also very really much more most some such only
even ever again over after before because while out off get got getting one two three
time day days week weeks today yesterday now new via per she her his him hers did does
doing done let lets let's please thanks thank hello hi hey yes yeah okay want need
know think going make made like love great good bad way back order orders customer
someone anyone something nothing everyone says said say told tell asked four five six
monday tuesday wednesday thursday friday saturday sunday month months year years hour
hours minutes every same other another first last next since until them those these
i'd i'll you're we're they're it’s i’m don’t can’t won’t didn’t
""".split())


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Report:
    """Everything the report shows."""

    since: datetime | None
    until: datetime
    cases: int = 0
    mentions: int = 0
    open_cases: int = 0
    volume: list[tuple[datetime, int]] = field(default_factory=list)
    sentiment: list[tuple[datetime, float]] = field(default_factory=list)
    top_tags: list[tuple[str, int]] = field(default_factory=list)
    top_terms: list[tuple[str, int]] = field(default_factory=list)
    frt_median_min: float | None = None
    frt_p90_min: float | None = None
    service_level: float | None = None
    breached: int = 0
    escalations: dict[int, int] = field(default_factory=dict)
    promises_kept: int = 0
    promises_broken: int = 0
    promises_open: int = 0
    qa_by_agent: list[tuple[str, float, int]] = field(default_factory=list)
    per_platform: list[dict[str, Any]] = field(default_factory=list)
    suggestions: dict[str, int] = field(default_factory=dict)
    repeat_contacts: int = 0
    bucket: timedelta = timedelta(hours=1)


def bucket_size(span: timedelta) -> timedelta:
    """A readable bucket for a chart over ``span`` (about 12–48 bars)."""
    for size in (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
                 timedelta(hours=6), timedelta(days=1)):
        if span / size <= 48:
            return size
    return timedelta(days=7)


def complaint_terms(texts: Iterable[str], limit: int = 12,
                    ignore: Iterable[str] = ()) -> list[tuple[str, int]]:
    """Frequent words and word pairs in complaints (a first cut at root causes).

    ``ignore`` holds words that say nothing here, such as the brand's own name.
    """
    skip = STOPWORDS | {w.lower() for w in ignore}
    counts: Counter[str] = Counter()
    for text in texts:
        words = [w.lower().strip("'’-") for w in _WORD.findall(_NOISE.sub(" ", text))]
        words = [w for w in words if w not in skip and not w.startswith("@")]
        seen = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
        counts.update(seen)
    # A pair that is as frequent as its words says more than either word alone.
    ranked = [(t, c) for t, c in counts.most_common(limit * 4) if c >= 2]
    out: list[tuple[str, int]] = []
    for term, count in ranked:
        if " " not in term and any(term in p.split() and pc >= count * 0.8
                                   for p, pc in ranked if " " in p):
            continue
        out.append((term, count))
        if len(out) == limit:
            break
    return out


def build_report(
    cases: list[Mapping[str, Any]],
    sla_minutes: Mapping[str, float],
    now: datetime | None = None,
    since: datetime | None = None,
    brand_words: Iterable[str] = (),
) -> Report:
    """The report's figures from export dicts. ``sla_minutes``: first-response target by priority."""
    now = now or datetime.now(UTC)
    report = Report(since=since, until=now, cases=len(cases))
    stamps: list[tuple[datetime, float]] = []
    complaints: list[str] = []
    frts: list[float] = []
    answered_in_time = needing = 0
    tags: Counter[str] = Counter()
    qa: dict[str, list[int]] = defaultdict(list)
    platforms: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"cases": 0, "heat": 0.0, "breached": 0, "negative": 0, "frt": []})
    for case in cases:
        status = case["status"]
        if status not in ("resolved", "closed"):
            report.open_cases += 1
        p = platforms[case["platform"]]
        p["cases"] += 1
        p["heat"] += float(case.get("heat") or 0)
        for m in case.get("mentions", []):
            if m.get("from_brand"):
                continue
            when = _time(m["created_at"])
            sentiment = float(m.get("sentiment") or 0)
            stamps.append((when, sentiment))
            report.mentions += 1
            if sentiment <= -0.3:
                complaints.append(m["text"])
        if case.get("mentions") and float(case["mentions"][-1].get("sentiment") or 0) <= -0.3:
            p["negative"] += 1
        tags.update(case.get("tags", []))
        opened = _time(case.get("opened_at"))
        first = _time(case.get("first_response_at"))
        target = float(sla_minutes.get(case.get("priority", "normal"),
                                       sla_minutes.get("normal", 60)))
        if first and opened:
            minutes = max(0.0, (first - opened).total_seconds() / 60)
            frts.append(minutes)
            p["frt"].append(minutes)
            needing += 1
            answered_in_time += minutes <= target
        elif opened and status not in ("resolved", "closed") and (now - opened) > timedelta(
                minutes=target):
            needing += 1  # unanswered past its target counts against the level
        if case.get("sla_breached"):
            report.breached += 1
            p["breached"] += 1
        tier = int(case.get("escalation_tier") or 0)
        if tier:
            report.escalations[tier] = report.escalations.get(tier, 0) + 1
        promised = _time(case.get("promised_by"))
        if promised:
            resolved = _time(case.get("resolved_at"))
            if resolved:
                if resolved <= promised:
                    report.promises_kept += 1
                else:
                    report.promises_broken += 1
            elif now > promised:
                report.promises_broken += 1
            else:
                report.promises_open += 1
        for score in case.get("qa", []):
            qa[score["agent"]].append(int(score["score"]))
        if case.get("suggestion"):
            report.suggestions[case["suggestion"]] = report.suggestions.get(case["suggestion"], 0) + 1
        report.repeat_contacts += bool(case.get("repeat_contact"))
    if stamps:
        start = since or min(t for t, _ in stamps)
        end = now if since else max(t for t, _ in stamps)
        size = bucket_size(max(end - start, timedelta(minutes=5)))
        report.bucket = size
        counts: Counter[datetime] = Counter()
        sums: dict[datetime, float] = defaultdict(float)
        for when, sentiment in stamps:
            if when < start:
                continue
            key = start + size * int((when - start) / size)
            counts[key] += 1
            sums[key] += sentiment
        keys = []
        k = start
        while k <= end and len(keys) < 400:
            keys.append(k)
            k += size
        report.volume = [(k, counts.get(k, 0)) for k in keys]
        report.sentiment = [(k, sums[k] / counts[k]) for k in keys if counts.get(k)]
    if frts:
        report.frt_median_min = statistics.median(frts)
        report.frt_p90_min = statistics.quantiles(frts, n=10)[-1] if len(frts) >= 2 else frts[0]
    if needing:
        report.service_level = answered_in_time / needing
    report.top_tags = tags.most_common(10)
    report.top_terms = complaint_terms(complaints, ignore=brand_words)
    report.qa_by_agent = sorted(((a, statistics.mean(s), len(s)) for a, s in qa.items()),
                                key=lambda x: -x[1])
    report.per_platform = [
        {"platform": name, "cases": v["cases"], "avg_heat": v["heat"] / v["cases"],
         "breached": v["breached"], "negative": v["negative"],
         "frt_median_min": statistics.median(v["frt"]) if v["frt"] else None}
        for name, v in sorted(platforms.items(), key=lambda kv: -kv[1]["cases"])
    ]
    return report
