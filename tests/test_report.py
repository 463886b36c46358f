"""The report's figures on hand-worked examples, and both renderings."""

from __future__ import annotations

from datetime import UTC, datetime

from store.rules.report import build_report, complaint_terms
from tui.report import render_html, render_md

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def case(cid, opened, first=None, status="new", priority="normal", **kw):
    base = {"case_id": str(cid), "status": status, "platform": kw.pop("platform", "mastodon"),
            "priority": priority, "opened_at": opened, "first_response_at": first,
            "resolved_at": kw.pop("resolved_at", None), "heat": kw.pop("heat", 10.0),
            "sla_breached": kw.pop("sla_breached", False), "tags": kw.pop("tags", []),
            "escalation_tier": kw.pop("tier", 0), "promised_by": kw.pop("promised_by", None),
            "qa": kw.pop("qa", []), "suggestion": kw.pop("suggestion", None),
            "repeat_contact": kw.pop("repeat", False),
            "mentions": kw.pop("mentions", [{"created_at": opened, "sentiment": -0.5,
                                             "text": "parcel never arrived, refund please"}])}
    assert not kw
    return base


def test_frt_service_level_promises_and_escalations_by_hand():
    cases = [
        case(1, "2026-11-22T10:00:00Z", "2026-11-22T10:30:00Z"),               # 30 min, in target
        case(2, "2026-11-22T10:00:00Z", "2026-11-22T11:30:00Z"),               # 90 min, late
        case(3, "2026-11-22T10:00:00Z", "2026-11-22T10:10:00Z", priority="hot",
             tier=2, promised_by="2026-11-22T11:00:00Z", status="resolved",
             resolved_at="2026-11-22T10:50:00Z"),                               # 10 min, kept
        case(4, "2026-11-22T09:00:00Z", sla_breached=True, tier=1,
             promised_by="2026-11-22T11:00:00Z"),                               # unanswered, broken
        case(5, "2026-11-22T11:50:00Z"),                                        # not yet due
    ]
    r = build_report(cases, {"hot": 15, "normal": 60}, NOW)
    assert r.frt_median_min == 30
    assert r.service_level == 2 / 4  # 1 and 3 in target; 2 late; 4 past target; 5 not counted
    assert (r.promises_kept, r.promises_broken) == (1, 1)
    assert r.escalations == {1: 1, 2: 1}
    assert r.breached == 1 and r.open_cases == 4


def test_complaint_terms_prefer_phrases_and_skip_the_brand():
    texts = ["Acme parcel never arrived", "my parcel never arrived, Acme!", "parcel never arrived",
             "refund missing", "refund missing again"]
    terms = dict(complaint_terms(texts, ignore={"acme"}))
    assert "acme" not in terms
    assert terms.get("never arrived") == 3 and terms.get("refund missing") == 2


def test_renderings_escape_customer_text():
    hostile = "<script>alert(1)</script> refund refund"
    cases = [case(1, "2026-11-22T10:00:00Z", tags=["<b>x</b>"],
                  mentions=[{"created_at": "2026-11-22T10:00:00Z", "sentiment": -0.9,
                             "text": hostile}]),
             case(2, "2026-11-22T10:05:00Z", mentions=[{"created_at": "2026-11-22T10:05:00Z",
                                                         "sentiment": -0.9, "text": hostile}],
                  qa=[{"agent": "sup", "score": 4, "note": None, "at": None}])]
    r = build_report(cases, {"normal": 60}, NOW)
    html = render_html(r, "Acme")
    assert "<script>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "http" not in html.split("<body>")[1]  # nothing fetched from the network
    assert "<svg" in html
    md = render_md(r, "Acme")
    assert "# Acme" in md and "| sup | 4.0 | 1 |" in md
