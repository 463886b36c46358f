"""The untrusted-text boundary: nothing a terminal would obey survives, widths are cells."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from tui.safe_text import clean, clean_multiline, fit, safe_text

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 👩‍👩‍👧
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


def unsafe(ch: str) -> bool:
    """A character a terminal might obey, or that hides or reorders text."""
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cs") or ch in BIDI or ch in "\u200b\u2060\ufeff\u00ad"


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text", "plain text"),
    ("\x1b[31mred\x1b[0m and \x1b[1;4mbold\x1b[m", "red and bold"),
    ("\x1b[2J\x1b[Hwiped", "wiped"),  # clear screen, cursor home
    ("copy \x1b]52;c;cm0gLXJmIH4=\x07me", "copy me"),  # OSC 52 clipboard write, BEL
    ("copy \x1b]52;c;cm0gLXJmIH4=\x1b\\me", "copy me"),  # ... ST-terminated
    ("\x1b]8;;https://evil.example\x1b\\acme.com\x1b]8;;\x1b\\", "acme.com"),  # OSC 8 link
    ("title\x1b]0;pwned\x07!", "title!"),
    ("\x1bP+q544e\x1b\\dcs", "dcs"),  # DCS (XTGETTCAP)
    ("\x1b_apc payload\x1b\\ok", "ok"),
    ("\x1b^pm\x1b\\ok", "ok"),
    ("\x1bXsos\x1b\\ok", "ok"),
    ("reset\x1bc!", "reset!"),  # RIS, a two-character escape
    ("charset\x1b(0q", "charsetq"),  # nF escape: ESC ( 0 selects line drawing
    ("8bit \x9b31mCSI\x9b0m", "8bit CSI"),
    ("8bit \x9d52;c;eA==\x9cOSC", "8bit OSC"),
    ("8bit \x9d0;t\x07x", "8bit x"),
    ("unterminated \x1b]52;c;AAAA", "unterminated "),
    ("nul\x00byte\x07bell\x08back\x7fdel", "nulbytebellbackdel"),
    ("line\nbreak\r\nand\ttab", "line break and tab"),
    ("cr\roverwrite", "cr overwrite"),
    ("\u202eevil\u202c.exe", "evil.exe"),  # right-to-left override
    ("\u2066iso\u2069late \u200ftext\u200e \u061cmark", "isolate text mark"),
    ("ref\u200bund\u2060\ufeff", "refund"),  # zero-width space, word joiner, BOM
    ("lone \ud800 surrogate", "lone  surrogate"),
    ("soft\u00adhyphen", "softhyphen"),
    ("\u3164\u115fhidden", "hidden"),  # Hangul fillers: blank "invisible names"
    ("tag\U000e0041\U000e0042smuggling", "tagsmuggling"),
])
def test_clean_removes_what_a_terminal_would_obey(raw, shown):
    assert clean(raw) == shown


def test_emoji_joins_survive_and_stray_joiners_go():
    assert clean(FAMILY) == FAMILY
    assert clean(RAINBOW_FLAG) == RAINBOW_FLAG
    assert clean(ENGLAND) == ENGLAND
    assert cell_len(clean(f"{FAMILY}!")) == 3
    assert clean("a\u200db") == "ab"
    assert clean("\u200d\U0001f469") == "\U0001f469"
    assert clean("\U0001f469\u200d") == "\U0001f469"
    assert clean("\U0001f469\u200d\u200d\U0001f467") == "\U0001f469\U0001f467"


def test_printable_text_is_returned_unchanged():
    for text in ("hello", "注文が届きません", "Ünïcödé ✓", "مرحبا", "emoji 😡🔥", "a" * 10_000):
        assert clean(text) is text


def test_clean_multiline_keeps_lines_only():
    raw = "one\r\ntwo\rthree\u2028four\x1b[31m\tred\x1b]52;c;eA==\x07\nfive"
    assert clean_multiline(raw) == "one\ntwo\nthree\nfour red\nfive"


def test_safe_text_never_parses_markup():
    text = safe_text("[bold red]not bold[/] [link=https://evil]x[/link] :smile:\x1b[5m", "italic")
    assert text.plain == "[bold red]not bold[/] [link=https://evil]x[/link] :smile:"
    assert not text.spans and str(text.style) == "italic"
    console = Console(force_terminal=True, color_system="truecolor", width=120)
    with console.capture() as capture:
        console.print(text)
    out = capture.get()
    assert "[bold red]" in out and "\x1b]8" not in out and "😄" not in out
    assert safe_text("a\nb", multiline=True).plain == "a\nb"


@pytest.mark.parametrize(("raw", "width", "expected"), [
    ("hello", 8, "hello   "),
    ("hello world", 8, "hello w…"),
    ("日本語テキスト", 7, "日本語…"),  # 3 wide characters + ellipsis = 7 cells
    ("日本語テキスト", 6, "日本 …"),  # a wide character never straddles the edge
    ("😡😡😡", 4, "😡 …"),
    ("", 3, "   "),
    ("abc", 0, ""),
    ("abc", 1, "a"),
])
def test_fit_measures_terminal_cells(raw, width, expected):
    assert fit(raw, width) == expected
    assert cell_len(fit(raw, width)) == width


def test_fit_without_ellipsis_and_hostile_input():
    assert fit("abcdef", 3, ellipsis=False) == "abc"
    assert fit("\x1b[31mred\x1b[0m", 5) == "red  "
    assert fit(FAMILY + " family", 5) == FAMILY + " f…"


printable_and_hostile = st.lists(
    st.one_of(
        st.characters(),  # anything, surrogates and controls included
        st.sampled_from(["\x1b", "\x9b", "\x9d", "\x07", "\x1b\\", "\x1b]52;c;", "\x1b[",
                         "[", "]", ";", "\u200d", "\u202e", "\U0001f469", "\ufe0f", "日",
                         "\u0301", "\U000e0041", "\U0001f3f4", "\U000e007f", "\u3164"]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(printable_and_hostile)
def test_clean_output_is_always_safe(raw):
    out = clean(raw)
    assert not any(unsafe(ch) for ch in out)
    assert "\n" not in out and "\t" not in out
    assert clean(out) == out  # idempotent
    for i, ch in enumerate(out):  # a joiner survives only between two emoji
        if ch == "\u200d":
            assert 0 < i < len(out) - 1
    multi = clean_multiline(raw)
    assert not any(unsafe(ch) for ch in multi if ch != "\n")


@settings(max_examples=400, deadline=None)
@given(printable_and_hostile, st.integers(min_value=0, max_value=40))
def test_fit_is_always_exactly_the_width(raw, width):
    out = fit(raw, width)
    assert cell_len(out) == width
    assert not any(unsafe(ch) for ch in out)
