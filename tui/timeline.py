"""The side pane: one case's whole story, oldest first, with heat, SLA and suggestion.

Shows the case header (customer, platform, status, holder, tier, tags), the SLA clock,
heat broken into its parts, the playbook's suggestion, who else is on the case right
now, the customer's earlier cases, then every mention, reply, DM, note, escalation,
status change and delivery result with who and when. Every piece of untrusted text
(mention text, author names, notes, delivery errors) goes through ``safe_text``: it is
built into ``rich.text.Text`` directly and never parsed as markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from store.api import CaseDetail
from store.config import Config
from store.records import Event, Mention, OutboxItem
from store.rules.sla import sla_state
from tui.safe_text import clean, clean_multiline, safe_text

SUGGESTIONS = {
    "dm": "take it to DM (o) — personal details or an order to look up",
    "phone": "offer a phone call (o) — this needs a conversation",
    "escalate": "escalate (e) — stakes are high: legal, safety, press or a big account",
}

HEAT_PARTS = ("negativity", "urgency", "reach", "sla", "repeat", "velocity")


def ago(then: datetime | None, now: datetime) -> str:
    """A short age like ``4m``, ``2h05``, ``3d`` (``-`` when unknown)."""
    if then is None:
        return "-"
    s = int((now - then).total_seconds())
    future = s < 0
    s = abs(s)
    if s < 60:
        out = f"{s}s"
    elif s < 3600:
        out = f"{s // 60}m"
    elif s < 86400:
        out = f"{s // 3600}h{(s % 3600) // 60:02d}"
    else:
        out = f"{s // 86400}d"
    return f"in {out}" if future else out


def clock_text(seconds: float | None) -> str:
    """Remaining SLA time as ``12:34`` / ``-3:10`` (minutes:seconds, hours when long)."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    if s >= 3600:
        return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{sign}{s // 60}:{s % 60:02d}"


def _when(at: datetime, now: datetime) -> str:
    local = at.astimezone(now.tzinfo) if now.tzinfo else at
    if (now - at).total_seconds() < 20 * 3600:
        return local.strftime("%H:%M")
    return local.strftime("%d %b %H:%M")


class Timeline(VerticalScroll, can_focus=True):
    """The case pane: the timeline of the case the agent opened."""

    DEFAULT_CSS = """
    Timeline { padding: 0 1; }
    Timeline > Static { width: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Scroll", show=False),
        Binding("k", "scroll_up", "Scroll", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "End", show=False),
        # Shown so the footer says how to get back while the pane has focus.
        Binding("tab", "screen.switch_pane", "Queue"),
    ]

    def __init__(self, config: Config, **kw) -> None:
        super().__init__(**kw)
        self.config = config
        self.case_id: int | None = None
        self._body = Static(Text("No case open. Press enter on a case in the queue.",
                                 style="dim"), markup=False)

    def compose(self):
        yield self._body

    def clear(self) -> None:
        """Show nothing (no case open)."""
        self.case_id = None
        self._body.update(Text("No case open. Press enter on a case in the queue.",
                               style="dim"))

    def show(self, detail: CaseDetail, heat: float, parts: dict[str, float], now: datetime,
             presence: list[tuple[str, str]] | None = None, me: str | None = None,
             keep_scroll: bool = False) -> None:
        """Render a case's detail (keeps the scroll position when it is the same case)."""
        same = self.case_id == detail.case.id
        self.case_id = detail.case.id
        self._body.update(render_detail(detail, heat, parts, now, self.config,
                                        presence or [], me))
        if not (same and keep_scroll):
            self.scroll_home(animate=False)


def render_detail(detail: CaseDetail, heat: float, parts: dict[str, float], now: datetime,
                  config: Config, presence: list[tuple[str, str]], me: str | None) -> Group:
    """The whole pane as one renderable."""
    c = detail.case
    out: list[RenderableType] = []
    head = Text()
    head.append(f"#{c.id} ", style="bold")
    head.append_text(safe_text(c.customer, "bold"))
    head.append(f"  {clean(c.platform)} · {c.status.value}")
    if c.escalation_tier:
        head.append(f" · tier\u00a0{c.escalation_tier}", style="bold red")
    if c.phone_callback:
        head.append(" · call\u00a0back", style="bold")
    out.append(head)
    who = Text()
    who.append("held by ", style="dim")
    who.append_text(safe_text(c.assignee, "bold") if c.assignee else Text("nobody", "dim"))
    others = [(a, s) for a, s in presence if a != me]
    if others:
        who.append("   ")
        who.append_text(safe_text(", ".join(f"{a} {s}" for a, s in others), "italic"))
    if c.tags:
        who.append("   tags ", style="dim")
        who.append_text(safe_text(" ".join("#" + t for t in c.tags)))
    out.append(who)

    state = sla_state(c.waiting_since, c.first_response_at is not None, c.priority, now,
                      config.sla)
    sla = Text()
    sla.append("SLA ", style="dim")
    if state.due_at is None:
        sla.append("nobody waiting", style="dim")
    elif state.breached:
        sla.append(f"BREACHED {clock_text(state.remaining_s)}", style="bold reverse red")
        sla.append(f"  waiting {ago(c.waiting_since, now)} · {clean(c.priority)}", style="dim")
    else:
        style = "bold yellow" if state.used >= 0.75 else "bold"
        sla.append(f"{clock_text(state.remaining_s)} left", style=style)
        sla.append(f"  waiting {ago(c.waiting_since, now)} · {clean(c.priority)}", style="dim")
    if c.promised_by is not None:
        sla.append("  promised by ", style="dim")
        sla.append(_when(c.promised_by, now))
    out.append(sla)

    heat_line = Text()
    heat_line.append("heat ", style="dim")
    heat_line.append(f"{heat:.0f}", style="bold")
    shown = [(k, parts.get(k, 0.0)) for k in HEAT_PARTS if parts.get(k)]
    shown += [(k, v) for k, v in parts.items() if k not in HEAT_PARTS and v]
    if shown:
        # Non-breaking spaces inside each part, so a wrap never splits "sla" from its value.
        heat_line.append(" = ")
        heat_line.append(" + ".join(f"{k}\u00a0{v:.1f}" for k, v in shown))
    out.append(heat_line)

    if c.suggestion:
        tip = Text()
        tip.append("suggest ", style="dim")
        tip.append(SUGGESTIONS.get(c.suggestion, c.suggestion), style="bold")
        out.append(tip)
    if detail.earlier_cases:
        earlier = Text()
        earlier.append(f"earlier cases ({len(detail.earlier_cases)}) ", style="dim")
        earlier.append(", ".join(f"#{e.id} {e.status.value} {e.opened_at.strftime('%d %b')}"
                                 + (f" [{' '.join(clean(t) for t in e.tags)}]" if e.tags else "")
                                 for e in detail.earlier_cases[-5:]))
        out.append(earlier)
    if detail.qa:
        qa = Text()
        qa.append("QA ", style="dim")
        qa.append_text(safe_text("; ".join(f"{q['score']}/5 by {q['agent']}"
                                           + (f": {q['note']}" if q.get("note") else "")
                                           for q in detail.qa)))
        out.append(qa)
    out.append(Text("─" * 24, style="dim"))
    out.extend(timeline_entries(detail, now))
    return Group(*out)


_KIND_STYLE = {
    "mention": "bold",
    "reply": "bold green",
    "dm": "bold green",
    "note": "bold yellow",
    "escalate": "bold red",
    "status": "bold cyan",
    "claim": "cyan",
    "release": "cyan",
    "tag": "magenta",
    "undo": "bold magenta",
    "offline": "bold cyan",
    "delivery_failed": "bold red",
    "qa": "blue",
}

_DELIVERY = {
    "pending": ("queued", "yellow"),
    "sending": ("sending", "yellow"),
    "delivered": ("delivered", "green"),
    "failed": ("FAILED", "bold red"),
    "cancelled": ("unsent", "magenta"),
}


def timeline_entries(detail: CaseDetail, now: datetime) -> list[RenderableType]:
    """Every event, oldest first: a header line (when, what, who) and its body."""
    mentions: dict[int | None, Mention] = {m.id: m for m in detail.mentions}
    outbox: dict[int, OutboxItem] = {o.event_id: o for o in detail.outbox}
    seen_mentions: set[int | None] = set()
    out: list[RenderableType] = []
    for e in detail.events:
        out.extend(_entry(e, mentions, outbox, seen_mentions, now))
    # Mentions with no event of their own (older stores) still belong on the timeline.
    for m in detail.mentions:
        if m.id not in seen_mentions:
            out.extend(_mention_entry(m, now))
    return out


def _entry(e: Event, mentions: dict, outbox: dict, seen: set, now: datetime,
           ) -> list[RenderableType]:
    if e.kind == "mention" and e.mention_id in mentions:
        seen.add(e.mention_id)
        return _mention_entry(mentions[e.mention_id], now)
    head = Text()
    head.append(_when(e.at, now), style="dim")
    head.append(" ")
    label = {"dm": "DM", "escalate": "escalation", "delivery_failed": "delivery failed",
             "qa": "QA"}.get(e.kind, e.kind)
    if e.kind == "reply" and e.data.get("outbox_kind") == "followup":
        label = "follow-up"
    head.append(label, style=_KIND_STYLE.get(e.kind, "bold"))
    body = e.body or ""
    if e.kind in ("status", "claim", "release", "tag") and body and "\n" not in body \
            and len(body) <= 40:
        head.append(" ")
        head.append_text(safe_text(body))
        body = ""
    if e.agent:
        head.append(" by ", style="dim")
        head.append_text(safe_text(e.agent))
    item = outbox.get(e.id)
    if item is not None:
        word, style = _DELIVERY.get(item.state, (item.state, ""))
        head.append("  ")
        head.append(f"[{word}]", style=style)
    lines: list[RenderableType] = [head]
    if e.kind == "offline" and e.data.get("channel"):
        body = f"by {e.data['channel']}" + (f": {body}" if body else "")
    if body:
        lines.append(_indent(body))
    if item is not None and item.state == "failed" and item.error:
        lines.append(_indent("reason: " + item.error, "red"))
    if item is not None and item.state == "delivered" and item.remote_url:
        lines.append(_indent(item.remote_url, "dim"))
    return lines


def _mention_entry(m: Mention, now: datetime) -> list[RenderableType]:
    head = Text()
    head.append(_when(m.created_at, now), style="dim")
    head.append(" ")
    if m.from_brand:
        head.append("brand post", style="bold green")
    else:
        head.append_text(safe_text(m.author_name or m.author, "bold"))
        if m.author_name and clean(m.author_name) != clean(m.author):
            head.append(" ")
            head.append_text(safe_text(m.author, "dim"))
    if m.followers >= 1000:
        head.append(f"  {m.followers // 1000}k followers", style="dim")
    if m.sentiment is not None and m.sentiment <= -0.3:
        head.append(f"  {m.sentiment:+.2f}", style="red")
    if m.deleted:
        head.append("  [deleted]", style="bold magenta")
    if m.edited:
        head.append("  [edited]", style="dim")
    if m.lang and m.lang != "en":
        head.append(f"  {clean(m.lang)}", style="dim")
    return [head, _indent(m.text)]


def _indent(text: str, style: str = "") -> RenderableType:
    # Built as Text directly: the body is untrusted and never parsed as markup.
    return Padding(Text(clean_multiline(text), style=style), (0, 0, 0, 2))
