"""The desk's metrics for the wallboard: pure functions over cases, events and mentions.

Every function takes the records and ``now`` and returns a number, so the wallboard, the
report and the tests all agree on what a metric means. Contact-centre conventions:

- A case is *open* while its status is new, acknowledged, offline, waiting or snoozed
  (``store.records.OPEN_STATUSES``); resolved and closed cases are done.
- The SLA clock is ``store.rules.sla``: ``waiting_since`` starts when the customer writes
  and stops only at a human response (a public reply, a DM, or taking it offline). A
  snoozed case's clock keeps running: snoozing hides a case, it does not pause the
  customer's wait.
- "Today" starts at ``day_start``; by default midnight of ``now``'s own timezone (UTC for
  the store's times). Pass local midnight to run the desk's day on local time.
- Durations are ``timedelta``; a metric with nothing to measure is ``None`` (shown as
  "—"), never 0, so an empty desk does not read as a perfect one.

``snapshot`` gathers every metric into one ``WallboardMetrics``; ``level`` grades one
value against the config table ``[wallboard.thresholds]``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from store.records import OPEN_STATUSES, Case, Event
from store.rules.sla import SlaTargets, sla_state

Level = Literal["ok", "warn", "alarm"]

#: Event kinds that are a human response to the customer (they stop the SLA clock).
RESPONSE_KINDS = frozenset({"reply", "dm", "offline"})

#: Metrics where a *lower* value is worse; ``level`` grades them downwards when the
#: threshold table does not make the direction plain (see ``level``).
LOWER_IS_WORSE = frozenset({"service_level_percent", "active_agents", "sentiment_now"})


def is_open(case: Case) -> bool:
    """True while the case still needs the desk (not resolved, not closed)."""
    return case.status in OPEN_STATUSES


def start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day in ``now``'s own timezone."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _median(durations: Iterable[timedelta]) -> timedelta | None:
    seconds = [d.total_seconds() for d in durations]
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


# -- the queue right now -------------------------------------------------------------------


def queue_depth(cases: Iterable[Case]) -> int:
    """Queue depth: how many cases are open (any open status, answered or not)."""
    return sum(1 for c in cases if is_open(c))


def awaiting_reply(cases: Iterable[Case]) -> int:
    """Awaiting reply: open cases whose customer is waiting on us (the SLA clock runs)."""
    return sum(1 for c in cases if is_open(c) and c.waiting_since is not None)


def oldest_waiting(cases: Iterable[Case], now: datetime) -> timedelta | None:
    """Oldest waiting: the longest current wait, ``now - waiting_since``, over open cases.

    ``None`` when nobody is waiting. A ``waiting_since`` in the future (clock skew between
    a platform and us) counts as zero.
    """
    starts = [c.waiting_since for c in cases if is_open(c) and c.waiting_since is not None]
    return max(timedelta(0), now - min(starts)) if starts else None


def sla_breaches(cases: Iterable[Case], now: datetime, targets: SlaTargets) -> int:
    """SLA breaches now: open cases whose response clock is past its target.

    The target is the first-response one until the case has had a first response, the
    next-response one after that, for the case's priority (``store.rules.sla``).
    """
    return sum(
        1
        for c in cases
        if is_open(c)
        and sla_state(
            c.waiting_since, c.first_response_at is not None, c.priority, now, targets
        ).breached
    )


def sla_at_risk(
    cases: Iterable[Case], now: datetime, targets: SlaTargets, share: float = 0.8
) -> int:
    """SLA at risk: open cases not yet breached that have used ``share`` of their target."""
    count = 0
    for c in cases:
        if not is_open(c):
            continue
        state = sla_state(
            c.waiting_since, c.first_response_at is not None, c.priority, now, targets
        )
        if not state.breached and state.used >= share:
            count += 1
    return count


def open_escalations(cases: Iterable[Case]) -> dict[int, int]:
    """Open escalations: open cases at tier 1 (supervisor) or 2 (executive), per tier.

    The total is ``sum(result.values())``; tiers with no case are left out.
    """
    tiers = Counter(c.escalation_tier for c in cases if is_open(c) and c.escalation_tier > 0)
    return dict(sorted(tiers.items()))


def cases_per_platform(cases: Iterable[Case]) -> dict[str, int]:
    """Cases per platform: open cases by the platform they came from, busiest first."""
    counts = Counter(c.platform for c in cases if is_open(c))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def agent_load(cases: Iterable[Case], present: Iterable[str] = ()) -> dict[str, int]:
    """What each agent holds: open cases per assignee, most first.

    Agents named in ``present`` (e.g. from the store's presence) appear with 0 when they
    hold nothing, so an idle agent is still seen as active.
    """
    counts = Counter({name: 0 for name in present})
    counts.update(c.assignee for c in cases if is_open(c) and c.assignee)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def promises_broken(cases: Iterable[Case], now: datetime) -> int:
    """Promises broken: open cases whose promised time (``promised_by``) has passed.

    A promise is what the acknowledgement told the customer ("we'll be back to you by
    14:30"). Once the case is resolved the promise is settled (kept or late); late
    resolutions belong to the report, not the live board.
    """
    return sum(1 for c in cases if is_open(c) and c.promised_by is not None and c.promised_by < now)


def top_tags(cases: Iterable[Case], day_start: datetime, limit: int = 5) -> list[tuple[str, int]]:
    """Top tags: the most used tags over open cases and cases opened today.

    Ties are broken alphabetically so the board does not flicker between equals.
    """
    counts: Counter[str] = Counter()
    for c in cases:
        if is_open(c) or c.opened_at >= day_start:
            counts.update(set(c.tags))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


# -- today's service -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceLevel:
    """Today's service level: first answers in target over all answers that were due."""

    in_target: int
    counted: int

    @property
    def percent(self) -> float | None:
        """In-target share as a percentage; ``None`` when nothing was due yet."""
        return 100.0 * self.in_target / self.counted if self.counted else None


def service_level(
    cases: Iterable[Case], now: datetime, targets: SlaTargets, day_start: datetime
) -> ServiceLevel:
    """Service level today: cases opened today answered within the first-response target,
    divided by the cases opened today that needed a first answer.

    How each case opened since ``day_start`` counts (target = first-response minutes for
    the case's priority, measured from ``opened_at``):

    - answered (``first_response_at`` set): counted; in target if answered by the target;
    - unanswered and still open: counted as missed once past the target; *not counted*
      while the target is still ahead (the usual convention: a case is neither met nor
      missed until it is answered or breaches);
    - resolved or closed without any response: not counted if that happened within the
      target (nothing to answer: spam, a duplicate, a "never mind"); counted as missed if
      the target had already passed, so quietly closing a breached case does not hide it.
    """
    in_target = counted = 0
    for c in cases:
        if c.opened_at < day_start or c.opened_at > now:
            continue
        due = c.opened_at + timedelta(minutes=targets.minutes(c.priority, first=True))
        if c.first_response_at is not None:
            counted += 1
            in_target += c.first_response_at <= due
        elif is_open(c):
            counted += now > due
        else:
            ended = c.resolved_at or c.closed_at or c.updated_at
            counted += ended > due
    return ServiceLevel(in_target, counted)


def median_first_response(cases: Iterable[Case], day_start: datetime) -> timedelta | None:
    """Median first response time (FRT) today: ``first_response_at - opened_at`` over the
    cases whose first response was given today (whenever they were opened).
    """
    return _median(
        max(timedelta(0), c.first_response_at - c.opened_at)
        for c in cases
        if c.first_response_at is not None and c.first_response_at >= day_start
    )


def next_response_times(
    cases: Iterable[Case],
    events: Iterable[Event],
    day_start: datetime,
    brand_handles: Collection[str] = (),
) -> list[timedelta]:
    """Every next response given today: from the customer's first unanswered message after
    an earlier response to the agent's next response.

    Customer messages are ``mention`` events whose author (``agent``) is not one of the
    brand's own handles; responses are ``reply``/``dm``/``offline`` events by an agent,
    except close-the-loop follow-ups and replies later taken back with undo. The first
    exchange of a case is its first response (FRT), not a next response; the case's
    ``first_response_at`` tells when that was, even if its events are not passed. Mention
    events carry the time the desk received the post.
    """
    by_case: dict[int, list[Event]] = {}
    for e in events:
        by_case.setdefault(e.case_id, []).append(e)
    undone = {e.data.get("event_id") for evs in by_case.values() for e in evs if e.kind == "undo"}
    brand = {h.lower() for h in brand_handles}
    out: list[timedelta] = []
    for case in cases:
        answered = False
        pending: datetime | None = None
        first = case.first_response_at
        for e in sorted(by_case.get(case.id, ()), key=lambda e: (e.at, e.id)):
            # The case's own first-response time covers a first reply older than ``events``.
            answered = answered or (first is not None and first < e.at)
            if e.kind == "mention" and (e.agent or "").lower() not in brand:
                pending = pending or e.at
            elif (
                e.kind in RESPONSE_KINDS
                and e.agent
                and e.id not in undone
                and e.data.get("outbox_kind") != "followup"
            ):
                if answered and pending is not None and e.at >= day_start:
                    out.append(max(timedelta(0), e.at - pending))
                answered, pending = True, None
    return out


def median_next_response(
    cases: Iterable[Case],
    events: Iterable[Event],
    day_start: datetime,
    brand_handles: Collection[str] = (),
) -> timedelta | None:
    """Median next response time (NRT) today, over ``next_response_times``."""
    return _median(next_response_times(cases, events, day_start, brand_handles))


# -- mention trends --------------------------------------------------------------------------


def _buckets(
    mentions: Iterable[tuple[datetime, float]],
    now: datetime,
    span: timedelta,
    width: timedelta,
) -> list[list[float]]:
    """Sentiments of mentions in equal buckets ending at ``now`` (oldest first)."""
    n = max(1, round(span / width))
    start = now - n * width
    out: list[list[float]] = [[] for _ in range(n)]
    for at, sentiment in mentions:
        if at < start:
            continue
        # A post stamped a little after ``now`` (clock skew) is the newest there is.
        i = min(n - 1, int((at - start) / width))
        out[i].append(sentiment)
    return out


def volume(
    mentions: Iterable[tuple[datetime, float]],
    now: datetime,
    minutes: float = 120,
    bucket_minutes: float = 5,
) -> list[int]:
    """Volume: customer mentions per ``bucket_minutes`` over the last ``minutes``.

    Buckets end at ``now``, oldest first: the last one is the most recent five minutes,
    ``[now - 5 min, now]``; each bucket includes its start and excludes its end.
    """
    buckets = _buckets(mentions, now, timedelta(minutes=minutes), timedelta(minutes=bucket_minutes))
    return [len(b) for b in buckets]


def sentiment_trend(
    mentions: Iterable[tuple[datetime, float]],
    now: datetime,
    hours: float = 6,
    bucket_minutes: float = 15,
) -> list[float]:
    """Sentiment trend: mean VADER compound (-1..1) of customer mentions per bucket over the
    last ``hours``, oldest first (buckets as in ``volume``). An empty bucket reads 0.0,
    neutral: silence is not bad news.
    """
    buckets = _buckets(mentions, now, timedelta(hours=hours), timedelta(minutes=bucket_minutes))
    return [statistics.fmean(b) if b else 0.0 for b in buckets]


# -- the snapshot ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WallboardMetrics:
    """Every wallboard metric at one moment (see each function for its definition)."""

    at: datetime
    day_start: datetime
    queue_depth: int
    awaiting_reply: int
    oldest_waiting: timedelta | None
    sla_breaches: int
    sla_at_risk: int
    service_level: ServiceLevel
    median_frt: timedelta | None
    median_nrt: timedelta | None
    escalations: dict[int, int]
    per_platform: dict[str, int]
    sentiment_trend: list[float]
    trend_bucket_minutes: float
    volume: list[int]
    volume_bucket_minutes: float
    top_tags: list[tuple[str, int]]
    agent_load: dict[str, int]
    promises_broken: int

    @property
    def open_escalations(self) -> int:
        """Open escalated cases, all tiers."""
        return sum(self.escalations.values())

    @property
    def active_agents(self) -> int:
        """Agents holding open cases (plus present agents passed to ``snapshot``)."""
        return len(self.agent_load)

    def values(self) -> dict[str, float | None]:
        """The gradeable numbers, under the names ``[wallboard.thresholds]`` uses."""

        def minutes(d: timedelta | None) -> float | None:
            return None if d is None else d.total_seconds() / 60.0

        return {
            "queue_depth": self.queue_depth,
            "awaiting_reply": self.awaiting_reply,
            "oldest_waiting_minutes": minutes(self.oldest_waiting),
            "sla_breaches": self.sla_breaches,
            "sla_at_risk": self.sla_at_risk,
            "service_level_percent": self.service_level.percent,
            "median_frt_minutes": minutes(self.median_frt),
            "median_nrt_minutes": minutes(self.median_nrt),
            "open_escalations": self.open_escalations,
            "promises_broken": self.promises_broken,
            "active_agents": self.active_agents,
            "volume_last_bucket": self.volume[-1] if self.volume else 0,
            "sentiment_now": self.sentiment_trend[-1] if self.sentiment_trend else None,
        }

    def levels(self, thresholds: Mapping[str, object]) -> dict[str, Level]:
        """``level`` for every value in ``values()``."""
        return {name: level(name, v, thresholds) for name, v in self.values().items()}


def snapshot(
    cases: Sequence[Case],
    mentions_times_sentiment: Iterable[tuple[datetime, float]],
    now: datetime,
    sla_targets: SlaTargets,
    *,
    events: Iterable[Event] = (),
    brand_handles: Collection[str] = (),
    agents_present: Iterable[str] = (),
    day_start: datetime | None = None,
    trend_hours: float = 6,
    trend_bucket_minutes: float = 15,
    volume_minutes: float = 120,
    volume_bucket_minutes: float = 5,
) -> WallboardMetrics:
    """All wallboard metrics at ``now``.

    ``cases``: open cases plus the cases touched today (the caller's query). Mentions are
    ``(created_at, sentiment)`` of customer posts (``Store.mention_stats``). ``events``
    are the events of those cases, needed only for the next response time (``None``
    without); include some from before ``day_start`` (e.g. the last 24 hours) so that an
    exchange that began yesterday and was answered today is measured.

    Linear in cases, mentions and events (about 0.4 s for 100k cases and 50k mentions):
    call it from a worker thread, not on the event loop.
    """
    day = start_of_day(now) if day_start is None else day_start
    mentions = list(mentions_times_sentiment)
    events = list(events)
    return WallboardMetrics(
        at=now,
        day_start=day,
        queue_depth=queue_depth(cases),
        awaiting_reply=awaiting_reply(cases),
        oldest_waiting=oldest_waiting(cases, now),
        sla_breaches=sla_breaches(cases, now, sla_targets),
        sla_at_risk=sla_at_risk(cases, now, sla_targets),
        service_level=service_level(cases, now, sla_targets, day),
        median_frt=median_first_response(cases, day),
        median_nrt=median_next_response(cases, events, day, brand_handles) if events else None,
        escalations=open_escalations(cases),
        per_platform=cases_per_platform(cases),
        sentiment_trend=sentiment_trend(mentions, now, trend_hours, trend_bucket_minutes),
        trend_bucket_minutes=trend_bucket_minutes,
        volume=volume(mentions, now, volume_minutes, volume_bucket_minutes),
        volume_bucket_minutes=volume_bucket_minutes,
        top_tags=top_tags(cases, day),
        agent_load=agent_load(cases, agents_present),
        promises_broken=promises_broken(cases, now),
    )


# -- thresholds ------------------------------------------------------------------------------


def _bound(spec: Mapping[str, object], key: str) -> float | None:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def level(metric_name: str, value: float | None, thresholds: Mapping[str, object]) -> Level:
    """Grade one value against ``[wallboard.thresholds]``: ``ok``, ``warn`` or ``alarm``.

    The table maps a metric name (``WallboardMetrics.values()``) to ``{warn=…, alarm=…}``,
    e.g. ``oldest_waiting_minutes = {warn = 15, alarm = 30}``. Bounds are inclusive (15
    minutes exactly is a warning). The direction comes from the table: ``alarm`` below
    ``warn`` means lower is worse (``service_level_percent = {warn = 80, alarm = 60}``);
    with one bound only, or equal bounds, ``LOWER_IS_WORSE`` decides; ``below = true|false``
    states it outright. A metric with no entry, no value or no valid bound is ``ok``.
    """
    spec = thresholds.get(metric_name)
    if value is None or not isinstance(spec, Mapping):
        return "ok"
    warn, alarm = _bound(spec, "warn"), _bound(spec, "alarm")
    below = spec.get("below")
    if not isinstance(below, bool):
        if warn is not None and alarm is not None and warn != alarm:
            below = alarm < warn
        else:
            below = metric_name in LOWER_IS_WORSE

    def past(bound: float | None) -> bool:
        return bound is not None and (value <= bound if below else value >= bound)

    if past(alarm):
        return "alarm"
    if past(warn):
        return "warn"
    return "ok"


def check_thresholds(thresholds: object) -> list[str]:
    """Problems with a ``[wallboard.thresholds]`` table, one clear line each (empty: fine)."""
    if not isinstance(thresholds, Mapping):
        return ["[wallboard.thresholds] must be a table of {warn = …, alarm = …}"]
    problems = []
    for name, spec in thresholds.items():
        where = f"wallboard.thresholds.{name}"
        if not isinstance(spec, Mapping):
            problems.append(f"{where} must be a table like {{warn = 15, alarm = 30}}")
            continue
        for key, value in spec.items():
            if key in ("warn", "alarm"):
                if _bound(spec, key) is None:
                    problems.append(f"{where}.{key} must be a number, not {value!r}")
            elif key == "below":
                if not isinstance(value, bool):
                    problems.append(f"{where}.below must be true or false, not {value!r}")
            else:
                problems.append(f"{where}: unknown key {key!r} (use warn, alarm, below)")
    return problems
