"""The untrusted-text boundary: make hostile text safe to draw on a terminal.

Every mention, author name and URL reaches the screen through this module. ``clean``
removes what a terminal would obey rather than show: C0/C1 controls, whole escape
sequences (CSI, OSC incl. OSC 52 clipboard writes and OSC 8 fake links, DCS/SOS/PM/APC,
two-character escapes, and their 8-bit C1 forms), bidi overrides and isolates, invisible
fillers, lone surrogates and NUL. The store keeps the original text; this runs at render.

Decisions worth knowing:
- A zero-width joiner survives only between two emoji (so 👩‍👩‍👧 stays one glyph); anywhere
  else it hides words from the filter and makes Rich's cell count disagree with the
  terminal's, so it goes. Emoji tag sequences survive only inside a flag (🏴 + tags).
- ``clean`` is single-line: each run of line breaks or tabs becomes one space.
  ``clean_multiline`` keeps ``\\n`` (``\\r\\n``, ``\\r`` and other breaks become ``\\n``).
- Nothing here parses markup: ``safe_text`` builds a ``rich.text.Text`` directly.
- Fast: already-printable strings (the common case) return unchanged after one C-level
  ``str.isprintable`` check; everything else is a handful of precompiled regexes.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text

__all__ = ["ELLIPSIS", "clean", "clean_multiline", "fit", "safe_text"]

ELLIPSIS = "…"

# Escape sequences, removed whole. Order matters: string-type sequences and CSI must be
# tried before the generic "ESC + final byte" form, which would otherwise eat only 2 chars.
_ESCAPE_SEQUENCE = re.compile(
    # OSC / DCS / SOS / PM / APC (7-bit ESC ] P X ^ _ or 8-bit C1), up to BEL or ST.
    # Unterminated: up to the next ESC (which starts a new sequence) or the end.
    "(?:\x1b[\\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x9c|\x1b\\\\)?"
    # CSI (ESC [ or 8-bit 0x9b): parameters, intermediates, final byte.
    "|(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]?"
    # Everything else introduced by ESC: nF/Fp/Fe/Fs escapes (ESC c, ESC 7, ESC ( B ...).
    "|\x1b[ -/]*[0-~]?"
)

_C1_INTRODUCERS = re.compile("[\x90\x98\x9b\x9d\x9e\x9f]")
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_TABS = re.compile("\t")

# Single characters that never reach the screen.
_DROP = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f"  # C0 controls (tab/newline/CR are handled above)
    "\x7f-\x9f"  # DEL and C1 controls
    "\u00ad"  # soft hyphen: terminals disagree on its width
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, overrides, isolates
    "\u206a-\u206f"  # deprecated format controls (symmetric swapping, shaping)
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers: blank "invisible names"
    "\u17b4\u17b5\u180e"  # invisible Khmer vowels, Mongolian vowel separator
    "\u200b\u2060-\u2064\ufeff"  # zero-width space, word joiner, invisible operators, BOM
    "\ufff9-\ufffb"  # interlinear annotation controls
    "\ud800-\udfff"  # lone surrogates
    "]"
)

# The few removed characters that str.isprintable() accepts (letters and marks that draw
# nothing); the fast path must look for these.
_BLANK_LETTERS = re.compile("[\u115f\u1160\u17b4\u17b5\u3164\uffa0]")

# Tag characters: kept only as a flag's tag sequence (🏴 + tags + cancel tag), the one
# legitimate use; elsewhere they smuggle invisible ASCII.
_TAGS = re.compile("(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)|[\U000e0000-\U000e007f]")

_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328"
    "\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff"
)
_ZWJ = re.compile(f"([{_EMOJI}][\ufe0f\u20e3]*)\u200d(?=[{_EMOJI}])|\u200d")


def _keep_group(match: re.Match[str]) -> str:
    return match.group(1) or ""


def _keep_emoji_join(match: re.Match[str]) -> str:
    emoji = match.group(1)
    return emoji + "\u200d" if emoji else ""


def _strip_escapes(s: str) -> str:
    if "\x1b" in s or _C1_INTRODUCERS.search(s) is not None:
        return _ESCAPE_SEQUENCE.sub("", s)
    return s


def _strip_chars(s: str) -> str:
    s = _DROP.sub("", s)
    if "\U000e0000" <= max(s, default="\x00"):
        s = _TAGS.sub(_keep_group, s)
    if "\u200d" in s:
        s = _ZWJ.sub(_keep_emoji_join, s)
    return s


def _plain(s: str) -> bool:
    """True when ``s`` needs no cleaning: printable, and no printable-but-blank filler."""
    return s.isprintable() and (s.isascii() or _BLANK_LETTERS.search(s) is None)


def clean(s: str) -> str:
    """``s`` safe for one terminal line: no controls, escapes, bidi tricks or breaks."""
    if _plain(s):
        return s
    return _strip_chars(_BREAKS.sub(" ", _strip_escapes(s)))


def clean_multiline(s: str) -> str:
    """Like ``clean`` but keeps line breaks (as ``\\n``), for the timeline and drafts."""
    if _plain(s):
        return s
    s = _TABS.sub(" ", _LINE_BREAKS.sub("\n", _strip_escapes(s)))
    return _strip_chars(s)


def safe_text(
    s: str, style: str | Style = "", *, multiline: bool = False, end: str = ""
) -> Text:
    """A ``rich.text.Text`` of cleaned ``s``; markup in ``s`` is shown, never obeyed."""
    return Text(clean_multiline(s) if multiline else clean(s), style=style, end=end)


def fit(s: str, width: int, *, ellipsis: bool = True) -> str:
    """Cleaned ``s`` cropped or padded to exactly ``width`` terminal cells.

    Emoji and CJK count as two cells; a wide character that would straddle the edge is
    replaced by a space. With ``ellipsis``, cropped text ends in "…".
    """
    if width <= 0:
        return ""
    s = clean(s)
    if s.isascii():
        size = len(s)
        if size <= width:
            return s + " " * (width - size)
        if ellipsis and width > 1:
            return s[: width - 1] + ELLIPSIS
        return s[:width]
    size = cell_len(s)
    if size <= width:
        return s + " " * (width - size)
    if ellipsis and width > 1:
        return set_cell_size(s, width - 1) + ELLIPSIS
    return set_cell_size(s, width)
