"""The wallboard metrics against hand-worked examples (store/rules/metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.records import Case, Event, Status
from store.rules import metrics as m
from store.rules.sla import SlaTargets

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
TARGETS = SlaTargets(
    first_response={"hot": 15, "normal": 60}, next_response={"hot": 30, "normal": 120}
)


def mins(n: float) -> timedelta:
    return timedelta(minutes=n)


def ago(n: float) -> datetime:
    return NOW - mins(n)


def case(id: int, *, status: Status = Status.NEW, opened: float = 30, **kw) -> Case:
    """A case opened ``opened`` minutes before NOW."""
    kw.setdefault("platform", "mastodon")
    kw.setdefault("customer", f"customer{id}")
    return Case(
        id=id, customer_id=id, status=status, opened_at=ago(opened), updated_at=ago(opened), **kw
    )


# -- the queue right now ---------------------------------------------------------------


def test_queue_depth_counts_open_statuses_only():
    cases = [
        case(1),
        case(2, status=Status.ACKNOWLEDGED),
        case(3, status=Status.SNOOZED),
        case(4, status=Status.WAITING),
        case(5, status=Status.OFFLINE),
        case(6, status=Status.RESOLVED),
        case(7, status=Status.CLOSED),
    ]
    assert m.queue_depth(cases) == 5
    assert m.queue_depth([]) == 0


def test_oldest_waiting_is_the_longest_open_wait():
    cases = [
        case(1, waiting_since=ago(12)),
        case(2, waiting_since=ago(47), status=Status.SNOOZED),  # snoozing does not pause
        case(3, waiting_since=ago(90), status=Status.RESOLVED),  # done: not waiting
        case(4, waiting_since=None, status=Status.ACKNOWLEDGED),
    ]
    assert m.oldest_waiting(cases, NOW) == mins(47)
    assert m.awaiting_reply(cases) == 2
    assert m.oldest_waiting([case(4)], NOW) is None
    # clock skew: a wait that starts in the future is zero, not negative
    assert m.oldest_waiting([case(5, waiting_since=NOW + mins(1))], NOW) == timedelta(0)


def test_sla_breaches_use_first_then_next_response_targets():
    cases = [
        case(1, waiting_since=ago(61)),  # normal first: 60 → breached
        case(2, waiting_since=ago(59)),  # 59 of 60 → not yet
        case(3, waiting_since=ago(16), priority="hot"),  # hot first: 15 → breached
        case(4, waiting_since=ago(61), first_response_at=ago(100)),  # next: 120 → fine
        case(5, waiting_since=ago(121), first_response_at=ago(200)),  # next → breached
        case(6, waiting_since=ago(500), status=Status.RESOLVED),  # done: no breach
        case(7),  # nobody waiting
    ]
    assert m.sla_breaches(cases, NOW, TARGETS) == 3
    # 59/60 used is past the 80 % risk mark; 61/120 is not
    assert m.sla_at_risk(cases, NOW, TARGETS) == 1


def test_promises_broken_only_open_and_past_due():
    cases = [
        case(1, promised_by=ago(1)),  # broken
        case(2, promised_by=NOW + mins(10)),  # still in time
        case(3, promised_by=ago(30), status=Status.RESOLVED),  # settled
        case(4, promised_by=ago(5), status=Status.WAITING),  # broken
        case(5),  # no promise
    ]
    assert m.promises_broken(cases, NOW) == 2


def test_escalations_platforms_agents_and_tags():
    cases = [
        case(1, escalation_tier=1, assignee="ana", tags=["refund", "late"]),
        case(2, escalation_tier=2, assignee="ana", platform="bluesky", tags=["refund"]),
        case(3, escalation_tier=1, status=Status.CLOSED, tags=["refund"], opened=24 * 60),
        case(4, assignee="bo", platform="bluesky", tags=["late", "late"]),
        case(5, platform="rss", tags=["billing"]),
        case(6, status=Status.RESOLVED, assignee="cy", tags=["billing"], opened=60),
    ]
    assert m.open_escalations(cases) == {1: 1, 2: 1}
    assert m.cases_per_platform(cases) == {"bluesky": 2, "mastodon": 1, "rss": 1}
    assert m.agent_load(cases) == {"ana": 2, "bo": 1}
    assert m.agent_load(cases, present=["dee", "bo"]) == {"ana": 2, "bo": 1, "dee": 0}
    # case 3 was opened yesterday and is closed: its tags no longer count; case 6 was
    # opened today, so its tag counts although it is resolved. A tag counts once per case.
    assert m.top_tags(cases, DAY) == [("billing", 2), ("late", 2), ("refund", 2)]
    assert m.top_tags(cases, DAY, limit=1) == [("billing", 2)]


# -- today's service ----------------------------------------------------------------------


def test_service_level_hand_worked():
    # normal first-response target: 60 minutes
    cases = [
        case(1, opened=200, first_response_at=ago(170)),  # answered in 30 → in target
        case(2, opened=200, first_response_at=ago(100)),  # answered in 100 → missed
        case(3, opened=300, first_response_at=ago(240)),  # answered in exactly 60 → in
        case(4, opened=90, waiting_since=ago(90)),  # unanswered, 90 > 60 → missed
        case(5, opened=20, waiting_since=ago(20)),  # unanswered, not yet due → out
        case(6, opened=100, status=Status.RESOLVED, resolved_at=ago(95)),  # no answer
        # needed (resolved inside the target) → out
        case(
            7, opened=200, status=Status.CLOSED, resolved_at=ago(100), closed_at=ago(90)
        ),  # quietly resolved after breach
        case(8, opened=13 * 60, first_response_at=ago(11 * 60)),  # opened yesterday → out
        case(9, opened=100, priority="hot", first_response_at=ago(80)),  # hot: 20 > 15
    ]
    sl = m.service_level(cases, NOW, TARGETS, DAY)
    assert (sl.in_target, sl.counted) == (2, 6)
    assert sl.percent == pytest.approx(100 * 2 / 6)


def test_service_level_with_nothing_due_is_none_not_100():
    sl = m.service_level([case(1, opened=5, waiting_since=ago(5))], NOW, TARGETS, DAY)
    assert sl.counted == 0 and sl.percent is None


def test_median_first_response_today():
    cases = [
        case(1, opened=100, first_response_at=ago(90)),  # 10
        case(2, opened=100, first_response_at=ago(70)),  # 30
        case(3, opened=100, first_response_at=ago(50)),  # 50
        case(4, opened=100, first_response_at=ago(30)),  # 70
        case(5, opened=13 * 60, first_response_at=ago(12.5 * 60)),  # answered yesterday
        case(6, opened=30),  # not answered
    ]
    assert m.median_first_response(cases, DAY) == mins(40)  # (30 + 50) / 2
    assert m.median_first_response(cases[:3], DAY) == mins(30)
    assert m.median_first_response([case(6)], DAY) is None


def _ev(id: int, case_id: int, minutes_ago: float, kind: str, agent: str | None, **data):
    return Event(id=id, case_id=case_id, at=ago(minutes_ago), kind=kind, agent=agent, data=data)


def test_next_response_times_hand_worked():
    c1, c2 = case(1, opened=300, customer="alice"), case(2, opened=300, customer="bob")
    events = [
        # case 1: first exchange is FRT, then two next responses (20 and 45 minutes)
        _ev(1, 1, 300, "mention", "alice"),
        _ev(2, 1, 290, "reply", "ana"),
        _ev(3, 1, 200, "mention", "alice"),
        _ev(4, 1, 190, "mention", "alice"),  # second message while still unanswered
        _ev(5, 1, 180, "reply", "ana"),  # NRT 20 (from the first unanswered)
        _ev(6, 1, 175, "mention", "acme"),  # our own post echoed back: not a customer
        _ev(7, 1, 100, "mention", "alice"),
        _ev(8, 1, 90, "reply", "ana"),  # taken back with undo: not a response
        _ev(9, 1, 89, "undo", "ana", event_id=8),
        _ev(10, 1, 55, "dm", "ana"),  # NRT 45
        _ev(11, 1, 50, "reply", "ana", outbox_kind="followup"),  # close-the-loop
        # case 2: answered once, customer wrote again, then taken offline by phone
        _ev(20, 2, 300, "mention", "bob"),
        _ev(21, 2, 250, "offline", "bo"),
        _ev(22, 2, 100, "mention", "bob"),
        _ev(23, 2, 40, "offline", "bo"),  # NRT 60
    ]
    got = m.next_response_times([c1, c2], events, DAY, brand_handles=["ACME"])
    assert sorted(got) == [mins(20), mins(45), mins(60)]
    assert m.median_next_response([c1, c2], events, DAY, ["acme"]) == mins(45)
    # only responses given today count
    assert m.median_next_response([c1, c2], events, NOW - mins(50), ["acme"]) == mins(60)
    assert m.median_next_response([c1, c2], [], DAY) is None


def test_next_response_when_the_first_reply_is_older_than_the_events_given():
    # first answered yesterday; only today's events are passed
    c = case(1, opened=20 * 60, customer="alice", first_response_at=ago(19 * 60))
    events = [_ev(1, 1, 100, "mention", "alice"), _ev(2, 1, 70, "reply", "ana")]
    assert m.next_response_times([c], events, DAY) == [mins(30)]
    # without first_response_at the same reply is the case's first response
    fresh = case(2, opened=100, customer="bob")
    events = [_ev(3, 2, 100, "mention", "bob"), _ev(4, 2, 70, "reply", "ana")]
    assert m.next_response_times([fresh], events, DAY) == []


# -- mention trends --------------------------------------------------------------------------


def test_volume_buckets_end_at_now():
    mentions = [
        (ago(0), 0.0),  # now: last bucket
        (ago(4.9), 0.0),  # last bucket
        (ago(5), 0.0),  # exactly 5 min ago: starts the last bucket
        (ago(5.1), 0.0),  # previous bucket
        (ago(14), 0.0),  # third from the end
        (ago(15), 0.0),  # start of the window: first bucket
        (ago(15.1), 0.0),  # outside the window
        (NOW + mins(1), 0.0),  # a little in the future (skew): newest bucket
    ]
    assert m.volume(mentions, NOW, minutes=15, bucket_minutes=5) == [2, 1, 4]
    assert m.volume([], NOW, minutes=60) == [0] * 12


def test_sentiment_trend_means_per_bucket_empty_is_neutral():
    mentions = [(ago(50), -0.8), (ago(40), -0.4), (ago(10), 0.5), (ago(1), -0.1)]
    trend = m.sentiment_trend(mentions, NOW, hours=1, bucket_minutes=30)
    assert trend == pytest.approx([-0.6, 0.2])
    assert m.sentiment_trend([], NOW, hours=2, bucket_minutes=60) == [0.0, 0.0]


# -- snapshot and thresholds -------------------------------------------------------------------


def test_snapshot_gathers_everything():
    cases = [
        case(
            1,
            opened=40,
            waiting_since=ago(40),
            assignee="ana",
            tags=["refund"],
            escalation_tier=1,
            promised_by=ago(5),
        ),
        case(2, opened=200, first_response_at=ago(180), status=Status.ACKNOWLEDGED, assignee="bo"),
        case(3, opened=100, waiting_since=ago(100), priority="hot"),
    ]
    mentions = [(ago(2), -0.5), (ago(3), -0.7)]
    snap = m.snapshot(
        cases, mentions, NOW, TARGETS, events=[_ev(1, 2, 200, "mention", "customer2")]
    )
    assert snap.queue_depth == 3
    assert snap.oldest_waiting == mins(100)
    assert snap.sla_breaches == 1
    assert (snap.service_level.in_target, snap.service_level.counted) == (1, 2)
    assert snap.median_frt == mins(20)
    assert snap.median_nrt is None
    assert snap.open_escalations == 1
    assert snap.promises_broken == 1
    assert snap.active_agents == 2
    assert snap.volume[-1] == 2 and len(snap.volume) == 24
    assert snap.sentiment_trend[-1] == pytest.approx(-0.6)
    values = snap.values()
    assert values["oldest_waiting_minutes"] == pytest.approx(100)
    assert values["service_level_percent"] == pytest.approx(50)
    assert values["median_nrt_minutes"] is None
    levels = snap.levels(
        {
            "oldest_waiting_minutes": {"warn": 15, "alarm": 30},
            "service_level_percent": {"warn": 80, "alarm": 60},
            "sla_breaches": {"warn": 2},
        }
    )
    assert levels["oldest_waiting_minutes"] == "alarm"
    assert levels["service_level_percent"] == "alarm"
    assert levels["sla_breaches"] == "ok"
    assert levels["median_nrt_minutes"] == "ok"


def test_snapshot_of_an_empty_desk_reads_as_nothing_not_perfect():
    snap = m.snapshot([], [], NOW, TARGETS)
    assert snap.queue_depth == 0
    assert snap.oldest_waiting is None
    assert snap.service_level.percent is None
    assert snap.median_frt is None and snap.median_nrt is None
    assert snap.day_start == DAY


@pytest.mark.parametrize(
    ("name", "value", "spec", "expected"),
    [
        ("oldest_waiting_minutes", 14.9, {"warn": 15, "alarm": 30}, "ok"),
        ("oldest_waiting_minutes", 15, {"warn": 15, "alarm": 30}, "warn"),
        ("oldest_waiting_minutes", 30, {"warn": 15, "alarm": 30}, "alarm"),
        ("service_level_percent", 85, {"warn": 80, "alarm": 60}, "ok"),
        ("service_level_percent", 80, {"warn": 80, "alarm": 60}, "warn"),
        ("service_level_percent", 59, {"warn": 80, "alarm": 60}, "alarm"),
        ("service_level_percent", 70, {"alarm": 75}, "alarm"),  # one bound: name decides
        ("queue_depth", 70, {"alarm": 75}, "ok"),
        ("queue_depth", 3, {"warn": 5, "alarm": 5, "below": True}, "alarm"),
        ("queue_depth", 3, {"warn": "lots"}, "ok"),  # invalid bound ignored
        ("queue_depth", None, {"warn": 1}, "ok"),  # no value
        ("unknown_metric", 99, {"warn": 1}, "ok"),  # no entry
    ],
)
def test_level(name, value, spec, expected):
    table = {} if name == "unknown_metric" else {name: spec}
    assert m.level(name, value, table) == expected


def test_check_thresholds_explains_each_problem():
    assert m.check_thresholds({"queue_depth": {"warn": 10, "alarm": 20}}) == []
    problems = m.check_thresholds(
        {
            "queue_depth": 10,
            "oldest_waiting_minutes": {"warn": "15", "alarm": 30, "colour": "red"},
            "service_level_percent": {"below": "yes"},
        }
    )
    assert len(problems) == 4
    assert any("queue_depth must be a table" in p for p in problems)
    assert any("oldest_waiting_minutes.warn must be a number" in p for p in problems)
    assert any("unknown key 'colour'" in p for p in problems)
    assert m.check_thresholds([1, 2]) != []
