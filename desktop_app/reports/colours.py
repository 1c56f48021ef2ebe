"""Run colours and the metric colour scale, the same in the window and in reports."""

from __future__ import annotations

import colorsys
import math

# Okabe–Ito (colour-blind safe) first, then Tableau-like tones; past these, evenly spread hues.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#7F3C8D",
    "#3B7A57",
    "#B8860B",
    "#8C564B",
    "#E377C2",
    "#17BECF",
    "#BCBD22",
    "#1F3A93",
    "#A0522D",
    "#2CA02C",
)
MISSING_COLOUR = "#9AA0A6"
# Viridis at eight stops: perceptually even and readable by colour-blind viewers.
_SCALE = (
    (0.267, 0.005, 0.329),
    (0.275, 0.194, 0.497),
    (0.213, 0.359, 0.552),
    (0.153, 0.498, 0.558),
    (0.122, 0.633, 0.530),
    (0.288, 0.761, 0.432),
    (0.626, 0.855, 0.223),
    (0.993, 0.906, 0.144),
)
_GOLDEN = 0.618033988749895


def run_colour(index: int) -> str:
    """The colour of the ``index``-th compared run (a ``#rrggbb`` string)."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (0.11 + (index - len(PALETTE)) * _GOLDEN) % 1.0
    lightness = (0.38, 0.5, 0.3)[index % 3]
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.7)
    return _hex(red, green, blue)


def run_colours(run_ids: list[str]) -> dict[str, str]:
    """A colour per run, given in compare order; the same order always gives the same colours."""
    return {run_id: run_colour(index) for index, run_id in enumerate(run_ids)}


def scale_colour(t: float) -> str:
    """The colour at ``t`` in [0, 1] on the metric scale (grey for NaN)."""
    if t is None or math.isnan(t):
        return MISSING_COLOUR
    t = min(max(t, 0.0), 1.0) * (len(_SCALE) - 1)
    low = min(int(t), len(_SCALE) - 2)
    frac = t - low
    a, b = _SCALE[low], _SCALE[low + 1]
    return _hex(*(x + (y - x) * frac for x, y in zip(a, b, strict=True)))


def _hex(red: float, green: float, blue: float) -> str:
    return "#{:02X}{:02X}{:02X}".format(
        *(round(min(max(c, 0.0), 1.0) * 255) for c in (red, green, blue))
    )
