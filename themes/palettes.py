"""Heat palettes: a colour and a glyph for every heat from calm (0) to hot (100).

Colour is never the only signal: every palette also gives a glyph (▁▂▃▄▅▆▇█, taller is
hotter), and the desk always shows the number, so heat reads in monochrome, under
``NO_COLOR``, and for people who cannot tell the colours apart.

- ``classic``: blue → yellow → red, interpolated (a dark and a light-background variant).
- ``colorblind``: a ramp whose lightness changes monotonically (viridis-like on dark
  backgrounds, blue → orange → brown on light ones), so it stays ordered for protanopia
  and deuteranopia, where red and green look alike.
- ``ansi16``: stepped, using only the 16 ANSI colour names, for 16-colour terminals and
  Textual's ANSI themes (the terminal's own palette decides the exact shades).

Colours are returned as strings Rich and Textual both parse (``#rrggbb`` or an ANSI name
such as ``bright_red``), or ``None`` for a palette without colour.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from rich.style import Style
from rich.text import Text
from textual.theme import BUILTIN_THEMES, Theme

from themes.desk_themes import THEMES

GLYPHS = "▁▂▃▄▅▆▇█"
PALETTE_NAMES = ("classic", "colorblind", "ansi16")
#: Textual's themes that draw with the terminal's 16 ANSI colours.
ANSI_THEMES = frozenset({"ansi-dark", "ansi-light", "textual-ansi"})


def _clamp(heat: float) -> float:
    """Heat as a 0..1 share of the scale (NaN reads as calm)."""
    if math.isnan(heat):
        return 0.0
    return min(1.0, max(0.0, heat / 100.0))


def _to_linear(channel: int) -> float:
    c = channel / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _to_srgb(value: float) -> int:
    c = value * 12.92 if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055
    return round(min(1.0, max(0.0, c)) * 255)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


@dataclass(frozen=True)
class HeatPalette:
    """Colours from calm to hot (interpolated, or stepped for ANSI) plus glyphs.

    ``stops`` run calm → hot. Interpolation is in linear light, so lightness changes
    evenly between stops. An empty ``stops`` is a palette without colour (NO_COLOR).
    """

    name: str
    stops: tuple[str, ...]
    stepped: bool = False
    dark: bool = True
    glyphs: str = GLYPHS

    @property
    def colored(self) -> bool:
        """False for the no-colour palette (glyph and number only)."""
        return bool(self.stops)

    def color(self, heat: float) -> str | None:
        """The colour for ``heat`` (0–100, clamped); ``None`` without colour."""
        if not self.stops:
            return None
        t = _clamp(heat)
        n = len(self.stops)
        if self.stepped or n == 1:
            return self.stops[min(n - 1, int(t * n))]
        pos = t * (n - 1)
        i = min(n - 2, int(pos))
        frac = pos - i
        a, b = _rgb(self.stops[i]), _rgb(self.stops[i + 1])
        mixed = (
            _to_srgb(_to_linear(x) + (_to_linear(y) - _to_linear(x)) * frac)
            for x, y in zip(a, b, strict=True)
        )
        return "#{:02x}{:02x}{:02x}".format(*mixed)

    def glyph(self, heat: float) -> str:
        """A bar glyph for ``heat``: taller is hotter, readable without colour."""
        n = len(self.glyphs)
        return self.glyphs[min(n - 1, int(_clamp(heat) * n))]

    def label(self, heat: float) -> str:
        """Glyph and whole number, e.g. ``"▆  71"``, always five cells wide."""
        value = 0 if math.isnan(heat) else round(min(100.0, max(0.0, heat)))
        return f"{self.glyph(heat)} {value:>3}"

    def text(self, heat: float, bold_from: float = 75.0) -> Text:
        """``label`` as Rich Text in the heat's colour; bold from ``bold_from`` up, so the
        hottest cases also stand out in monochrome."""
        colour = self.color(heat)
        style = Style(color=colour, bold=heat >= bold_from)
        return Text(self.label(heat), style=style, end="")

    def without_color(self) -> HeatPalette:
        """The same glyphs with no colour (for NO_COLOR)."""
        return replace(self, stops=())


CLASSIC_DARK = HeatPalette("classic", ("#4575b4", "#fee090", "#f03b20"))
CLASSIC_LIGHT = HeatPalette("classic", ("#2166ac", "#8a6d00", "#c0151d"), dark=False)
# Viridis from 0.35 up: the darkest end would vanish on a dark background.
COLORBLIND_DARK = HeatPalette("colorblind", ("#31688e", "#1f9e89", "#6ece58", "#fde725"))
# On a light background the hot end is the darkest, so it stands out the most.
COLORBLIND_LIGHT = HeatPalette(
    "colorblind", ("#5b9bd5", "#b8661a", "#9a3d0a", "#7a2605"), dark=False
)
ANSI16 = HeatPalette("ansi16", ("blue", "cyan", "yellow", "red", "bright_red"), stepped=True)

_PALETTES: dict[str, tuple[HeatPalette, HeatPalette]] = {
    "classic": (CLASSIC_DARK, CLASSIC_LIGHT),
    "colorblind": (COLORBLIND_DARK, COLORBLIND_LIGHT),
    "ansi16": (ANSI16, replace(ANSI16, dark=False)),
}


def palette(name: str, dark: bool = True) -> HeatPalette:
    """A palette by name (``PALETTE_NAMES``) for a dark or light background."""
    try:
        dark_variant, light_variant = _PALETTES[name]
    except KeyError:
        raise ValueError(
            f"unknown heat palette {name!r}; choose one of {', '.join(PALETTE_NAMES)}"
        ) from None
    return dark_variant if dark else light_variant


def no_color_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``NO_COLOR`` is set and not empty (https://no-color.org)."""
    env = os.environ if environ is None else environ
    return bool(env.get("NO_COLOR"))


def palette_for(
    theme: str | Theme,
    no_color: bool,
    preferred: str | None = None,
    known: Mapping[str, Theme] | None = None,
) -> HeatPalette:
    """The heat palette to draw with under ``theme``.

    ANSI themes always get ``ansi16`` (16 colours cannot be interpolated); otherwise
    ``preferred`` (a name in ``PALETTE_NAMES``) or ``classic``, in the variant for the
    theme's background. ``theme`` is a Theme or a name looked up in ``known`` (default:
    heatdesk's and Textual's built-in themes; unknown names count as dark). With
    ``no_color`` the palette keeps its glyphs and gives no colour.
    """
    if isinstance(theme, str):
        found = {**BUILTIN_THEMES, **THEMES, **(known or {})}.get(theme)
        name, dark, ansi = theme, found.dark if found else True, found.ansi if found else False
    else:
        name, dark, ansi = theme.name, theme.dark, theme.ansi
    if ansi or name in ANSI_THEMES:
        chosen = palette("ansi16", dark)
    else:
        chosen = palette(preferred or "classic", dark)
    return chosen.without_color() if no_color else chosen
