"""heatdesk's look: Textual themes, heat palettes and the level styles.

Data and tiny helpers only (ARCHITECTURE.md): which themes exist, which palette draws
heat under which theme, and where user themes come from.

- ``register_all(app, config_dir)`` registers heatdesk's themes, a ``textual-ansi``
  alias for Textual's ``ansi-dark`` when this Textual has no such theme, and the user's
  themes from ``<config dir>/themes/*.toml`` (format: ``themes.user``). It returns one
  line per user theme file that could not be loaded, for the app to show.
- ``palette_for(theme, no_color)`` picks the heat palette; ``no_color_requested()``
  reads ``NO_COLOR`` (set and non-empty).
- ``LEVELS_TCSS`` styles ``.level-ok`` / ``.level-warn`` / ``.level-alarm``; add it to
  an app's ``CSS_PATH``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import App
from textual.theme import BUILTIN_THEMES

from themes.desk_themes import (
    DEFAULT_THEME,
    HEATDESK_DARK,
    HEATDESK_HIGH_CONTRAST,
    HEATDESK_LIGHT,
    HEATDESK_WALLBOARD,
    THEMES,
    WALLBOARD_THEME,
)
from themes.palettes import (
    ANSI16,
    ANSI_THEMES,
    CLASSIC_DARK,
    CLASSIC_LIGHT,
    COLORBLIND_DARK,
    COLORBLIND_LIGHT,
    GLYPHS,
    PALETTE_NAMES,
    HeatPalette,
    no_color_requested,
    palette,
    palette_for,
)
from themes.user import ThemeFileError, UserThemes, load_user_themes, theme_from_table

LEVELS_TCSS = Path(__file__).with_name("levels.tcss")

__all__ = [
    "ANSI16",
    "ANSI_THEMES",
    "CLASSIC_DARK",
    "CLASSIC_LIGHT",
    "COLORBLIND_DARK",
    "COLORBLIND_LIGHT",
    "DEFAULT_THEME",
    "GLYPHS",
    "HEATDESK_DARK",
    "HEATDESK_HIGH_CONTRAST",
    "HEATDESK_LIGHT",
    "HEATDESK_WALLBOARD",
    "LEVELS_TCSS",
    "PALETTE_NAMES",
    "THEMES",
    "WALLBOARD_THEME",
    "HeatPalette",
    "ThemeFileError",
    "UserThemes",
    "load_user_themes",
    "no_color_requested",
    "palette",
    "palette_for",
    "register_all",
    "theme_from_table",
]


def register_all(app: App, config_dir: Path | None = None) -> list[str]:
    """Register heatdesk's themes and the user's on ``app``; returns user-theme errors."""
    for theme in THEMES.values():
        app.register_theme(theme)
    if "textual-ansi" not in app.available_themes and "ansi-dark" in BUILTIN_THEMES:
        # Older Textual shipped ``textual-ansi``; keep configs that name it working.
        app.register_theme(replace(BUILTIN_THEMES["ansi-dark"], name="textual-ansi"))
    if config_dir is None:
        return []
    user = load_user_themes(config_dir)
    for theme in user:
        app.register_theme(theme)
    return list(user.errors)
