"""Themes users own: one TOML file per theme in ``<config dir>/themes/*.toml``.

The format (every key but ``primary`` is optional)::

    # ~/.config/heatdesk/themes/harbour-night.toml
    name = "harbour-night"      # default: the file name without .toml
    dark = true                 # a dark or a light theme (default true)
    primary = "#4f8cc9"         # required
    secondary = "#7a8fa6"
    accent = "#f0a03c"
    warning = "#f0b429"         # the wallboard's "warn" colour
    error = "#ef5350"           # the wallboard's "alarm" colour
    success = "#4caf7d"         # the wallboard's "ok" colour
    foreground = "#dde3ea"
    background = "#12161c"
    surface = "#1a2029"
    panel = "#232b36"
    boost = "#ffffff"
    luminosity_spread = 0.15    # 0..1
    text_alpha = 0.95           # 0..1
    ansi = false                # true: draw with the terminal's 16 ANSI colours

    [variables]                 # optional: any Textual theme variable
    "block-cursor-background" = "#4f8cc9"
    "block-cursor-text-style" = "bold"
    "input-selection-background" = "#4f8cc9 35%"

Colours are anything Textual parses: ``#rgb``, ``#rrggbb``, ``rgb(…)``, ``hsl(…)``, a
colour name, or ``ansi_red``-style names; variables may also add an alpha percentage
(``"#4f8cc9 35%"``) or be a text style (``"bold"``, ``"reverse"``, ``"none"``). A file
that is not valid is skipped with one clear line saying which file and what is wrong;
the other themes still load. A user theme may reuse a built-in name to replace it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
NUMBER_KEYS = ("luminosity_spread", "text_alpha")
BOOL_KEYS = ("dark", "ansi")
KNOWN_KEYS = frozenset({"name", "variables", *COLOUR_KEYS, *NUMBER_KEYS, *BOOL_KEYS})
TEXT_STYLES = frozenset(
    {"none", "bold", "dim", "italic", "underline", "underline2", "reverse", "strike", "blink"}
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ALPHA = re.compile(r"(.+?)\s+(\d{1,3}(?:\.\d+)?)%")


class UserThemes(list[Theme]):
    """The themes that loaded, plus ``errors``: one line per file that did not."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []


class ThemeFileError(ValueError):
    """One theme file is not valid (the message says what to fix)."""


def _is_colour(value: str) -> bool:
    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def _valid_variable(value: str) -> bool:
    words = value.split()
    if words and all(w in TEXT_STYLES for w in words):
        return True
    alpha = _ALPHA.fullmatch(value.strip())
    if alpha:
        return _is_colour(alpha.group(1)) and float(alpha.group(2)) <= 100
    return _is_colour(value)


def theme_from_table(table: dict[str, Any], default_name: str) -> Theme:
    """A Theme from one decoded theme file; ThemeFileError says what is wrong."""
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ThemeFileError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(KNOWN_KEYS))})")
    name = table.get("name", default_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ThemeFileError(
            f"name {name!r} must be 1–64 letters, digits, '-', '_' or '.', starting with a "
            "letter or digit"
        )
    if "primary" not in table:
        raise ThemeFileError("'primary' is required (e.g. primary = \"#4f8cc9\")")
    kwargs: dict[str, Any] = {}
    for key in COLOUR_KEYS:
        if key in table:
            value = table[key]
            if not isinstance(value, str) or not _is_colour(value):
                raise ThemeFileError(
                    f'{key} = {value!r} is not a colour (use "#rrggbb", rgb(…), a colour '
                    "name or ansi_*)"
                )
            kwargs[key] = value
    for key in NUMBER_KEYS:
        if key in table:
            value = table[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0 <= value <= 1)
            ):
                raise ThemeFileError(f"{key} must be a number from 0 to 1, not {value!r}")
            kwargs[key] = float(value)
    for key in BOOL_KEYS:
        if key in table:
            if not isinstance(table[key], bool):
                raise ThemeFileError(f"{key} must be true or false, not {table[key]!r}")
            kwargs[key] = table[key]
    variables = table.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError('[variables] must be a table of "name" = "value"')
    for var, value in variables.items():
        if not isinstance(value, str) or not _valid_variable(value):
            raise ThemeFileError(
                f"variables.{var} = {value!r} is not a colour, a colour with an alpha "
                "percentage, or a text style"
            )
    theme = Theme(name=name, variables=dict(variables), **kwargs)
    try:
        theme.to_color_system().generate()
    except (ColorParseError, ValueError, TypeError, KeyError) as exc:  # Textual's own check
        raise ThemeFileError(f"Textual cannot build this theme: {exc}") from None
    return theme


def load_user_themes(config_dir: Path) -> UserThemes:
    """Every valid theme in ``config_dir/themes/*.toml`` (sorted by file name).

    Invalid files are skipped and described in the result's ``errors``; a missing folder
    is simply no themes.
    """
    found = UserThemes()
    folder = Path(config_dir) / "themes"
    if not folder.is_dir():
        return found
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        where = f"{folder.name}/{path.name}"
        try:
            with path.open("rb") as fh:
                table = tomllib.load(fh)
            theme = theme_from_table(table, path.stem)
        except tomllib.TOMLDecodeError as exc:
            found.errors.append(f"{where}: not valid TOML ({exc})")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            found.errors.append(f"{where}: cannot be read ({exc})")
            continue
        except ThemeFileError as exc:
            found.errors.append(f"{where}: {exc}")
            continue
        if theme.name in seen:
            found.errors.append(
                f"{where}: theme name {theme.name!r} is already used by {seen[theme.name]}"
            )
            continue
        seen[theme.name] = where
        found.append(theme)
    return found
