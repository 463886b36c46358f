"""Themes, heat palettes and user theme files (themes/)."""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import pytest
from rich.color import Color as RichColor
from rich.color import ColorType
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import Static

import themes

HEATS = [h / 2 for h in range(201)]  # 0, 0.5, … 100


def _linear(hex_colour: str) -> tuple[float, float, float]:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b))


# Viénot, Brettel & Mollon (1999) dichromat simulation, in linear RGB.
PROTANOPIA = ((0.11238, 0.88762, 0.0), (0.11238, 0.88762, 0.0), (0.00401, -0.00401, 1.0))
DEUTERANOPIA = ((0.29275, 0.70725, 0.0), (0.29275, 0.70725, 0.0), (-0.02234, 0.02234, 1.0))
NORMAL = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def luminance(hex_colour: str, vision=NORMAL) -> float:
    rgb = _linear(hex_colour)
    r, g, b = (sum(row[j] * rgb[j] for j in range(3)) for row in vision)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def warmth(hex_colour: str) -> float:
    """Red against blue, in linear light: how far from cold towards hot a colour sits."""
    r, _, b = _linear(hex_colour)
    return r - b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def nondecreasing(values: list[float], tol: float = 0.0) -> bool:
    """Never goes down by more than ``tol``."""
    return all(y >= x - tol for x, y in itertools.pairwise(values))


# Colours are rounded to 8 bits a channel: near full brightness one step is ~0.009 in
# linear light, so a measured ramp may wobble by that much and still be monotonic.
QUANTUM = 0.01


# -- palettes ---------------------------------------------------------------------------


@pytest.mark.parametrize("pal", [themes.CLASSIC_DARK, themes.CLASSIC_LIGHT])
def test_classic_gets_monotonically_hotter(pal):
    warm = [warmth(pal.color(h)) for h in HEATS]
    assert nondecreasing(warm, QUANTUM)
    assert warm[-1] - warm[0] > 0.9  # blue at calm, red at hot: a long way apart
    assert pal.color(0) == pal.stops[0] and pal.color(100) == pal.stops[-1]
    assert len({pal.color(h) for h in HEATS}) > 50  # interpolated, not stepped


@pytest.mark.parametrize("vision", [NORMAL, PROTANOPIA, DEUTERANOPIA])
def test_colorblind_palette_stays_ordered_for_dichromats(vision):
    dark = [luminance(themes.COLORBLIND_DARK.color(h), vision) for h in HEATS]
    light = [luminance(themes.COLORBLIND_LIGHT.color(h), vision) for h in HEATS]
    # lighter as it heats on a dark background, darker as it heats on a light one
    assert nondecreasing(dark, QUANTUM) and dark[-1] - dark[0] > 0.5
    assert nondecreasing([-v for v in light], QUANTUM) and light[0] - light[-1] > 0.2


def test_colorblind_palette_is_chosen_by_name():
    assert themes.palette("colorblind") is themes.COLORBLIND_DARK
    assert themes.palette("colorblind", dark=False) is themes.COLORBLIND_LIGHT
    assert "colorblind" in themes.PALETTE_NAMES
    with pytest.raises(ValueError, match="unknown heat palette 'rainbow'"):
        themes.palette("rainbow")


def test_ansi16_uses_only_the_16_ansi_colours_stepped():
    pal = themes.ANSI16
    colours = [pal.color(h) for h in HEATS]
    for c in set(colours):
        parsed = RichColor.parse(c)
        assert parsed.type is ColorType.STANDARD and parsed.number < 16, c
    assert set(colours) == set(pal.stops)
    steps = [pal.stops.index(c) for c in colours]
    assert nondecreasing(steps) and steps[0] == 0 and steps[-1] == len(pal.stops) - 1


@pytest.mark.parametrize("pal", [themes.CLASSIC_DARK, themes.COLORBLIND_LIGHT, themes.ANSI16])
def test_glyphs_rise_with_heat_and_out_of_range_heat_is_clamped(pal):
    glyphs = [themes.GLYPHS.index(pal.glyph(h)) for h in HEATS]
    assert nondecreasing(glyphs)
    assert pal.glyph(0) == "▁" and pal.glyph(100) == "█"
    assert pal.color(-20) == pal.color(0) and pal.color(250) == pal.color(100)
    assert pal.color(math.nan) == pal.color(0)
    assert pal.label(71.4) == "▆  71" and pal.label(100) == "█ 100" and pal.label(-3) == "▁   0"


def test_no_color_palette_gives_glyph_and_number_only():
    pal = themes.palette_for("heatdesk-dark", no_color=True)
    assert not pal.colored
    for h in HEATS:
        assert pal.color(h) is None
        text = pal.text(h)
        assert text.style.color is None and all(s.style.color is None for s in text.spans)
        assert str(round(h)) in text.plain and text.plain[0] in themes.GLYPHS
    assert pal.glyph(90) == "█" and pal.text(90).style.bold  # hot still stands out


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"NO_COLOR": "1"}, True),
        ({"NO_COLOR": "yes"}, True),
        ({"NO_COLOR": ""}, False),
        ({}, False),
    ],
)
def test_no_color_env(environ, expected):
    assert themes.no_color_requested(environ) is expected


def test_no_color_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert themes.no_color_requested()
    monkeypatch.delenv("NO_COLOR")
    assert not themes.no_color_requested()


def test_palette_for_follows_the_theme():
    assert themes.palette_for("heatdesk-dark", False) is themes.CLASSIC_DARK
    assert themes.palette_for("heatdesk-light", False) is themes.CLASSIC_LIGHT
    assert themes.palette_for("textual-light", False, "colorblind") is themes.COLORBLIND_LIGHT
    assert themes.palette_for("heatdesk-wallboard", False, "colorblind") is themes.COLORBLIND_DARK
    # 16-colour themes get the stepped ANSI palette, whatever was preferred
    for name in ("ansi-dark", "ansi-light", "textual-ansi"):
        assert themes.palette_for(name, False, "colorblind").name == "ansi16"
    custom = Theme(name="mine", primary="#336699", dark=False, ansi=True)
    assert themes.palette_for(custom, False).name == "ansi16"
    light = Theme(name="paper", primary="#336699", dark=False)
    assert themes.palette_for("paper", False, known={"paper": light}) is themes.CLASSIC_LIGHT
    assert themes.palette_for("never-heard-of-it", False) is themes.CLASSIC_DARK


# -- themes -------------------------------------------------------------------------------


def test_heatdesk_themes_read_well():
    names = set(themes.THEMES)
    assert names == {
        "heatdesk-dark",
        "heatdesk-light",
        "heatdesk-high-contrast",
        "heatdesk-wallboard",
    }
    for theme in themes.THEMES.values():
        assert contrast(theme.foreground, theme.background) >= 7, theme.name  # WCAG AAA
    for name in ("heatdesk-high-contrast", "heatdesk-wallboard"):
        theme = themes.THEMES[name]
        assert contrast(theme.foreground, theme.background) == pytest.approx(21)
        for signal in (theme.error, theme.warning, theme.success):
            assert contrast(signal, theme.background) >= 5, (name, signal)


class LevelsApp(App):
    CSS_PATH: ClassVar = [themes.LEVELS_TCSS]

    def __init__(self, config_dir=None):
        super().__init__()
        self.config_dir = config_dir
        self.theme_errors: list[str] = []

    def compose(self) -> ComposeResult:
        for level in ("ok", "warn", "alarm"):
            yield Static(level, classes=f"level-{level}", id=level)

    def on_mount(self) -> None:
        self.theme_errors = themes.register_all(self, self.config_dir)


@pytest.mark.parametrize(
    "name", [*themes.THEMES, "ansi-dark", "ansi-light", "textual-ansi", "textual-dark"]
)
async def test_each_theme_registers_and_styles_the_levels(name):
    app = LevelsApp()
    async with app.run_test() as pilot:
        app.theme = name
        await pilot.pause()
        assert app.current_theme.name == name
        alarm = app.query_one("#alarm").styles
        assert alarm.text_style.bold and alarm.text_style.reverse
        assert app.query_one("#warn").styles.text_style.bold
        variables = app.get_css_variables()
        assert alarm.color == Color.parse(variables["text-error"])
        assert app.query_one("#ok").styles.color == Color.parse(variables["text-success"])


# -- user themes ---------------------------------------------------------------------------

VALID = """
name = "harbour-night"
primary = "#4f8cc9"
accent = "ansi_yellow"
background = "rgb(10, 20, 30)"
dark = true
text_alpha = 0.9

[variables]
"block-cursor-text-style" = "bold reverse"
"input-selection-background" = "#4f8cc9 35%"
"""


def write(config_dir, name: str, text: str) -> None:
    folder = config_dir / "themes"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_user_themes_load_valid_files(tmp_path):
    write(tmp_path, "a-night.toml", VALID)
    write(tmp_path, "paper.toml", 'primary = "#224466"\ndark = false\n')  # name from file
    write(tmp_path, "notes.txt", "not a theme")
    loaded = themes.load_user_themes(tmp_path)
    assert loaded.errors == []
    assert [t.name for t in loaded] == ["harbour-night", "paper"]
    night = loaded[0]
    assert night.primary == "#4f8cc9" and night.dark and night.text_alpha == 0.9
    assert night.variables["input-selection-background"] == "#4f8cc9 35%"
    assert loaded[1].dark is False


def test_user_themes_missing_folder_is_no_themes(tmp_path):
    loaded = themes.load_user_themes(tmp_path / "nowhere")
    assert list(loaded) == [] and loaded.errors == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('primary = "#4f8cc9"\nname = ', "not valid TOML"),
        ('name = "x"\nsecondary = "#ffffff"\n', "'primary' is required"),
        ('primary = "blu"\n', "primary = 'blu' is not a colour"),
        ('primary = "#4f8cc9"\nprimay = "#fff"\n', "unknown key 'primay'"),
        ('primary = "#4f8cc9"\ndark = "yes"\n', "dark must be true or false"),
        ('primary = "#4f8cc9"\ntext_alpha = 3\n', "text_alpha must be a number from 0 to 1"),
        ('primary = "#4f8cc9"\nname = "has spaces"\n', "name 'has spaces'"),
        ('primary = "#4f8cc9"\nvariables = "border"\n', "[variables] must be a table"),
        ('primary = "#4f8cc9"\n[variables]\nborder = "wobbly"\n', "variables.border"),
        ('primary = "#4f8cc9"\n[variables]\nborder = 3\n', "variables.border"),
    ],
)
def test_invalid_user_theme_gives_one_clear_line(tmp_path, text, message):
    write(tmp_path, "good.toml", 'primary = "#336699"\n')
    write(tmp_path, "bad.toml", text)
    loaded = themes.load_user_themes(tmp_path)
    assert [t.name for t in loaded] == ["good"]  # the good one still loads
    assert len(loaded.errors) == 1
    error = loaded.errors[0]
    assert error.startswith("themes/bad.toml: ") and message in error
    assert "\n" not in error


def test_duplicate_user_theme_names_keep_the_first(tmp_path):
    write(tmp_path, "a.toml", 'name = "same"\nprimary = "#111111"\n')
    write(tmp_path, "b.toml", 'name = "same"\nprimary = "#222222"\n')
    loaded = themes.load_user_themes(tmp_path)
    assert [t.primary for t in loaded] == ["#111111"]
    assert loaded.errors == ["themes/b.toml: theme name 'same' is already used by themes/a.toml"]


async def test_register_all_adds_user_themes_and_reports_bad_files(tmp_path):
    write(tmp_path, "night.toml", VALID)
    write(tmp_path, "broken.toml", "primary = ")
    app = LevelsApp(tmp_path)
    async with app.run_test() as pilot:
        assert len(app.theme_errors) == 1 and "broken.toml" in app.theme_errors[0]
        app.theme = "harbour-night"
        await pilot.pause()
        assert app.current_theme.primary == "#4f8cc9"
        assert themes.palette_for(app.current_theme, False) is themes.CLASSIC_DARK
