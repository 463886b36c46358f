"""`heatdesk report`: the root-cause and performance report as HTML or Markdown.

The HTML page is self-contained: inline CSS and SVG charts, nothing fetched from the
network, every piece of customer-derived text HTML-escaped. Written to be read by an
executive in two minutes: the headline numbers first, then what people complain about,
then how fast the desk answered, then the detail.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from store import open_store
from store.rules.report import Report, build_report


def _fmt_min(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 90:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _clean(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def headline(r: Report) -> list[tuple[str, str, str]]:
    """(label, value, note) for the summary tiles."""
    promised = r.promises_kept + r.promises_broken
    return [
        ("Mentions", f"{r.mentions}", f"in {r.cases} cases, {r.open_cases} still open"),
        ("Median first response", _fmt_min(r.frt_median_min), f"90th percentile {_fmt_min(r.frt_p90_min)}"),
        ("Service level", _pct(r.service_level), "first answers within target"),
        ("SLA breaches", f"{r.breached}", "cases past their response target"),
        ("Escalations", f"{sum(r.escalations.values())}",
         f"{r.escalations.get(1, 0)} to supervisors, {r.escalations.get(2, 0)} to executives"),
        ("Promises kept", f"{r.promises_kept}/{promised}" if promised else "—",
         f"{r.promises_broken} broken, {r.promises_open} still running"),
    ]


def _bar_svg(points: list[tuple[datetime, float]], color: str, height: int = 120,
             signed: bool = False) -> str:
    if not points:
        return "<p class=muted>No data in this period.</p>"
    width = 640
    n = len(points)
    bw = width / n
    top = max((abs(v) for _, v in points), default=1) or 1
    mid = height / 2 if signed else height - 16
    bars = []
    for i, (when, value) in enumerate(points):
        h = (abs(value) / top) * (mid - 4)
        y = mid - h if value >= 0 else mid
        fill = color if (not signed or value < 0) else "#4c9a6a"
        label = f"{when:%d %b %H:%M}: {value:.2f}" if signed else f"{when:%d %b %H:%M}: {value:.0f}"
        bars.append(f'<rect x="{i * bw + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                    f'height="{max(h, 0.5):.1f}" fill="{fill}"><title>{escape(label)}</title></rect>')
    first, last = points[0][0], points[-1][0]
    axis = (f'<text x="0" y="{height - 2}" class="axis">{first:%d %b %H:%M}</text>'
            f'<text x="{width}" y="{height - 2}" class="axis" text-anchor="end">{last:%d %b %H:%M}</text>')
    base = f'<line x1="0" x2="{width}" y1="{mid}" y2="{mid}" stroke="#999" stroke-width="0.5"/>'
    return (f'<svg viewBox="0 0 {width} {height}" role="img" width="100%" '
            f'preserveAspectRatio="none">{base}{"".join(bars)}{axis}</svg>')


def _hbar_table(rows: list[tuple[str, int]], color: str) -> str:
    if not rows:
        return "<p class=muted>Nothing stood out.</p>"
    top = max(c for _, c in rows) or 1
    out = ["<table class=bars>"]
    for label, count in rows:
        out.append(f"<tr><td>{escape(_clean(label))}</td><td class=n>{count}</td><td class=bar>"
                   f'<span style="width:{count / top * 100:.0f}%;background:{color}"></span></td></tr>')
    out.append("</table>")
    return "".join(out)


CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232b;background:#f5f6f8}
main{max-width:980px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.muted{color:#66707c}.tiles{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:18px}
.tile{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 14px}
.tile .v{font-size:28px;font-weight:650}.tile .l{font-size:13px;color:#66707c;text-transform:uppercase;letter-spacing:.04em}
.tile .note{font-size:13px;color:#66707c}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:24px}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:5px 8px;border-bottom:1px solid #eceef1;text-align:left;font-size:14px}
th{font-weight:600;color:#44505c}.n{text-align:right;font-variant-numeric:tabular-nums;width:3em}
.bars td.bar{width:45%}.bars span{display:block;height:10px;border-radius:3px}
svg .axis{font-size:11px;fill:#66707c}.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 14px}
.takeaways li{margin:4px 0}
"""


def takeaways(r: Report) -> list[str]:
    """Three or four sentences an executive reads first."""
    out = []
    if r.top_terms:
        terms = ", ".join(f"“{t}”" for t, _ in r.top_terms[:3])
        out.append(f"Complaints cluster around {terms}.")
    if r.top_tags:
        n = r.top_tags[0][1]
        out.append(f"Most-tagged root cause: “{r.top_tags[0][0]}” ({n} case{'s' * (n != 1)}).")
    if r.service_level is not None:
        out.append(f"{_pct(r.service_level)} of customers got a first answer within target; "
                   f"median first response {_fmt_min(r.frt_median_min)}.")
    if r.breached:
        out.append(f"{r.breached} cases breached their response target.")
    broken = r.promises_broken
    if broken:
        out.append(f"{broken} promised callback times were missed.")
    worst = max(r.per_platform, key=lambda p: p["avg_heat"], default=None)
    if worst and len(r.per_platform) > 1:
        out.append(f"Hottest channel: {worst['platform']} (average heat {worst['avg_heat']:.0f}).")
    return out or ["A quiet period: nothing needs attention."]


def render_html(r: Report, brand: str) -> str:
    """The report as one self-contained HTML page."""
    period = (f"{r.since:%d %b %Y %H:%M} – " if r.since else "All time to ") + f"{r.until:%d %b %Y %H:%M} UTC"
    tiles = "".join(f'<div class=tile><div class=l>{escape(label)}</div><div class=v>{escape(v)}</div>'
                    f'<div class=note>{escape(note)}</div></div>' for label, v, note in headline(r))
    plat = "".join(
        f"<tr><td>{escape(p['platform'])}</td><td class=n>{p['cases']}</td>"
        f"<td class=n>{p['avg_heat']:.0f}</td><td class=n>{p['negative']}</td>"
        f"<td class=n>{p['breached']}</td><td class=n>{escape(_fmt_min(p['frt_median_min']))}</td></tr>"
        for p in r.per_platform)
    qa = "".join(f"<tr><td>{escape(_clean(a))}</td><td class=n>{s:.1f}</td><td class=n>{n}</td></tr>"
                 for a, s, n in r.qa_by_agent) or "<tr><td colspan=3 class=muted>No QA scores yet.</td></tr>"
    sugg = ", ".join(f"{k}: {v}" for k, v in sorted(r.suggestions.items())) or "none"
    bullets = "".join(f"<li>{escape(t)}</li>" for t in takeaways(r))
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>{escape(brand)} — social desk report</title><style>{CSS}</style></head>
<body><main>
<h1>{escape(brand)} — social desk report</h1><div class=muted>{escape(period)}</div>
<div class=tiles>{tiles}</div>
<h2>What to know</h2><ul class=takeaways>{bullets}</ul>
<h2>Volume and mood</h2>
<div class=card><div class=muted>Mentions per {_fmt_min(r.bucket.total_seconds() / 60)}</div>{_bar_svg([(t, float(c)) for t, c in r.volume], "#3b6fb6")}
<div class=muted>Average sentiment (below the line: unhappy)</div>{_bar_svg(r.sentiment, "#c2410c", 100, signed=True)}</div>
<h2>Root causes</h2>
<div class=grid2><div><h3>Frequent complaint terms</h3>{_hbar_table(r.top_terms, "#c2410c")}</div>
<div><h3>Tags</h3>{_hbar_table(r.top_tags, "#3b6fb6")}</div></div>
<h2>By platform</h2>
<table><tr><th>Platform</th><th class=n>Cases</th><th class=n>Avg heat</th><th class=n>Unhappy</th><th class=n>Breached</th><th class=n>Median FRT</th></tr>{plat}</table>
<h2>Quality</h2>
<div class=grid2><table><tr><th>Agent</th><th class=n>QA avg</th><th class=n>Scored</th></tr>{qa}</table>
<div class=card>Repeat contacts: <b>{r.repeat_contacts}</b><br>Playbook suggestions raised: {escape(sugg)}<br>
Escalations: tier 1 {r.escalations.get(1, 0)}, tier 2 {r.escalations.get(2, 0)}</div></div>
<p class=muted>Definitions: first response time runs from a case opening to the first human reply; service
level counts cases answered within their target against all that were answered or are past target.</p>
</main></body></html>
"""


def render_md(r: Report, brand: str) -> str:
    """The report as Markdown."""
    lines = [f"# {brand} — social desk report", ""]
    lines.append(f"_{r.since:%Y-%m-%d %H:%M} – {r.until:%Y-%m-%d %H:%M} UTC_" if r.since
                 else f"_All time to {r.until:%Y-%m-%d %H:%M} UTC_")
    lines += ["", "| | |", "|---|---|"]
    lines += [f"| {label} | **{v}** — {note} |" for label, v, note in headline(r)]
    lines += ["", "## What to know", ""] + [f"- {t}" for t in takeaways(r)]
    lines += ["", "## Root causes", "", "| complaint term | mentions |", "|---|---|"]
    lines += [f"| {_md(t)} | {c} |" for t, c in r.top_terms] or ["| — | |"]
    lines += ["", "| tag | cases |", "|---|---|"] + [f"| {_md(t)} | {c} |" for t, c in r.top_tags]
    lines += ["", "## By platform", "", "| platform | cases | avg heat | unhappy | breached | median FRT |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {p['platform']} | {p['cases']} | {p['avg_heat']:.0f} | {p['negative']} | "
              f"{p['breached']} | {_fmt_min(p['frt_median_min'])} |" for p in r.per_platform]
    lines += ["", "## Volume", "", "| from | mentions |", "|---|---|"]
    lines += [f"| {t:%Y-%m-%d %H:%M} | {c} |" for t, c in r.volume if c]
    lines += ["", "## QA by agent", "", "| agent | average | scored |", "|---|---|---|"]
    lines += [f"| {_md(a)} | {s:.1f} | {n} |" for a, s, n in r.qa_by_agent]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return _clean(text).replace("|", "\\|").replace("<", "&lt;")


async def run_report(args: argparse.Namespace) -> int:
    """The `heatdesk report` command."""
    from tui.cli import config_for, parse_since

    since = parse_since(args.since)
    config = config_for(args)
    store = await open_store(args.db, config)
    try:
        cases = await store.export(since=since)
    finally:
        await store.close()
    brand_words = {w for w in config.brand.lower().split()} | {
        part for h in config.handles for part in h.lower().replace("@", " ").replace(".", " ").split()}
    if cases:  # the brand's handle as customers write it, e.g. "@northwind"
        brand_words |= {config.brand.lower().split()[0]}
    report = build_report(cases, config.sla.first_response, datetime.now(UTC), since,
                          brand_words)
    text = render_html(report, config.brand) if args.format == "html" else render_md(report, config.brand)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        if not args.quiet:
            sys.stderr.write(f"wrote {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0
