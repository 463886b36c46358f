"""heatdesk's own Textual themes: dark, light, high contrast, and the wallboard's.

Every theme keeps Textual's standard variables, so any widget looks right in it; the
warning/error/success colours are what the wallboard's ok/warn/alarm levels use
(``levels.tcss``). For 16-colour terminals use Textual's ``ansi-dark``/``ansi-light``.
"""

from __future__ import annotations

from textual.theme import Theme

HEATDESK_DARK = Theme(
    name="heatdesk-dark",
    primary="#4c9be8",
    secondary="#7a8fa6",
    accent="#f0a03c",
    warning="#f0b429",
    error="#ef5350",
    success="#4caf7d",
    foreground="#dde3ea",
    background="#12161c",
    surface="#1a2029",
    panel="#232b36",
    dark=True,
)

HEATDESK_LIGHT = Theme(
    name="heatdesk-light",
    primary="#1f6fbf",
    secondary="#5a6b80",
    accent="#b35c00",
    warning="#9a6700",
    error="#c62828",
    success="#2e7d32",
    foreground="#1d2733",
    background="#f7f8fa",
    surface="#ffffff",
    panel="#e3e8ee",
    dark=False,
)

# Pure black and white with saturated signals, thick cues and no faded text: for low
# vision and glare. Yellow marks focus, as in the common OS high-contrast schemes.
HEATDESK_HIGH_CONTRAST = Theme(
    name="heatdesk-high-contrast",
    primary="#00e5ff",
    secondary="#ffffff",
    accent="#ffff00",
    warning="#ffff00",
    error="#ff4d4d",
    success="#00ff7f",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#1c1c1c",
    dark=True,
    luminosity_spread=0.3,
    text_alpha=1.0,
    variables={
        "border": "#ffffff",
        "border-blurred": "#bdbdbd",
        "block-cursor-background": "#ffff00",
        "block-cursor-foreground": "#000000",
        "block-cursor-text-style": "bold",
        "block-cursor-blurred-background": "#4d4d4d",
        "block-cursor-blurred-foreground": "#ffffff",
        "footer-key-foreground": "#ffff00",
        "input-cursor-background": "#ffff00",
        "input-cursor-foreground": "#000000",
        "input-selection-background": "#00e5ff 60%",
        "link-color": "#00e5ff",
        "scrollbar": "#bdbdbd",
    },
)

# Read from across a room on a TV: black ground, white figures, signal colours at full
# strength, no muted text.
HEATDESK_WALLBOARD = Theme(
    name="heatdesk-wallboard",
    primary="#2f9bff",
    secondary="#9aa5b1",
    accent="#ffd60a",
    warning="#ffb000",
    error="#ff3b30",
    success="#30d158",
    foreground="#ffffff",
    background="#000000",
    surface="#0a0a0a",
    panel="#161616",
    dark=True,
    luminosity_spread=0.2,
    text_alpha=1.0,
    variables={"border": "#4d4d4d", "border-blurred": "#333333"},
)

THEMES: dict[str, Theme] = {
    t.name: t for t in (HEATDESK_DARK, HEATDESK_LIGHT, HEATDESK_HIGH_CONTRAST, HEATDESK_WALLBOARD)
}
DEFAULT_THEME = HEATDESK_DARK.name
WALLBOARD_THEME = HEATDESK_WALLBOARD.name
