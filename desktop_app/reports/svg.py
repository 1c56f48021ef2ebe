"""Charts drawn as inline SVG text: lines, bars, scatter, parallel coordinates. No assets, no JS.

Every chart is a complete ``<svg>`` element that parses as XML, so it can be embedded in an HTML
report or saved on its own. Long series are decimated (peaks kept) to keep files small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from desktop_app.reports.numeric import decimate, format_number, nice_ticks

FONT = "DejaVu Sans, Segoe UI, Helvetica, Arial, sans-serif"
TEXT = "#1f2328"
MUTED = "#59636e"
GRID = "#d8dee4"
AXIS = "#8c959f"
LEGEND_LIMIT = 12
MAX_SERIES_POINTS = 600


@dataclass(frozen=True)
class Series:
    """One line or group of points: a label, a colour and its x and y values."""

    label: str
    colour: str
    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray
    opacity: float = 1.0
    width: float = 1.6
    dash: str = ""


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Canvas:
    """An SVG document being written element by element."""

    def __init__(self, width: int, height: int, title: str = "") -> None:
        self.width = width
        self.height = height
        self.parts: list[str] = []
        if title:
            self.text(12, 20, title, size=13, weight="bold")

    def add(self, element: str) -> None:
        """Append raw, already escaped SVG markup."""
        self.parts.append(element)

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str,
        width: float = 1.0,
        dash: str = "",
    ) -> None:
        """A straight line."""
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
            f'stroke="{stroke}" stroke-width="{_n(width)}"{extra}/>'
        )

    def polyline(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        stroke: str,
        width: float,
        opacity: float = 1.0,
        dash: str = "",
    ) -> None:
        """A line through points, broken where a coordinate is not finite."""
        ok = np.isfinite(xs) & np.isfinite(ys)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        start = None
        for i in range(len(xs) + 1):
            if i < len(xs) and ok[i]:
                if start is None:
                    start = i
                continue
            if start is not None:
                points = " ".join(
                    f"{_n(x)},{_n(y)}" for x, y in zip(xs[start:i], ys[start:i], strict=True)
                )
                if i - start == 1:
                    self.circle(float(xs[start]), float(ys[start]), width + 0.8, stroke, opacity)
                else:
                    self.add(
                        f'<polyline points="{points}" fill="none" stroke="{stroke}" '
                        f'stroke-width="{_n(width)}" stroke-opacity="{opacity:.2f}" '
                        f'stroke-linejoin="round"{dashes}/>'
                    )
                start = None

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: str,
        *,
        stroke: str = "",
        opacity: float = 1.0,
        tip: str = "",
    ) -> None:
        """A rectangle, with a hover tooltip when ``tip`` is given."""
        border = f' stroke="{stroke}"' if stroke else ""
        body = f"<title>{escape(tip)}</title>" if tip else ""
        self.add(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" height="{_n(max(h, 0))}" '
            f'fill="{fill}" fill-opacity="{opacity:.2f}"{border}>{body}</rect>'
        )

    def circle(
        self, cx: float, cy: float, r: float, fill: str, opacity: float = 1.0, tip: str = ""
    ) -> None:
        """A dot, with a hover tooltip when ``tip`` is given."""
        body = f"<title>{escape(tip)}</title>" if tip else ""
        self.add(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="{fill}" '
            f'fill-opacity="{opacity:.2f}">{body}</circle>'
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: int = 11,
        anchor: str = "start",
        colour: str = TEXT,
        weight: str = "normal",
        rotate: int = 0,
        halo: bool = False,
    ) -> None:
        """A line of text (``anchor``: start, middle, end); ``halo`` keeps it readable on lines."""
        turn = f' transform="rotate({rotate} {_n(x)} {_n(y)})"' if rotate else ""
        bold = ' font-weight="bold"' if weight == "bold" else ""
        where = f'x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}"{bold}{turn}'
        if halo:
            # A white outline drawn first (not paint-order, which some SVG viewers ignore).
            self.add(
                f'<text {where} fill="#ffffff" stroke="#ffffff" stroke-width="3" '
                f'stroke-linejoin="round">{escape(text)}</text>'
            )
        self.add(f'<text {where} fill="{colour}">{escape(text)}</text>')

    def render(self, label: str = "") -> str:
        """The finished ``<svg>`` element."""
        aria = f" aria-label={quoteattr(label)}" if label else ""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img"{aria} '
            f'font-family="{FONT}">'
            f'<rect width="{self.width}" height="{self.height}" fill="#ffffff"/>'
            + "".join(self.parts)
            + "</svg>"
        )


@dataclass
class Frame:
    """The plot area of a chart and the data ranges it maps onto it."""

    left: float
    top: float
    width: float
    height: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float
    log_y: bool = False

    def sx(self, x: np.ndarray | float) -> np.ndarray:
        """Data x to pixels."""
        span = (self.x_high - self.x_low) or 1.0
        return self.left + (np.asarray(x, dtype=float) - self.x_low) / span * self.width

    def sy(self, y: np.ndarray | float) -> np.ndarray:
        """Data y to pixels (log10 first on a log axis)."""
        values = np.asarray(y, dtype=float)
        if self.log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log10(values), np.nan)
        span = (self.y_high - self.y_low) or 1.0
        return self.top + self.height - (values - self.y_low) / span * self.height


def _range(values: list[np.ndarray], log: bool = False) -> tuple[float, float]:
    finite = [v[np.isfinite(v) & ((v > 0) if log else True)] for v in values]
    joined = np.concatenate(finite) if finite else np.empty(0)
    if joined.size == 0:
        return (0.0, 1.0)
    low, high = float(joined.min()), float(joined.max())
    if log:
        low, high = math.log10(low), math.log10(high)
    if low == high:
        pad = abs(low) * 0.05 or 0.5
        return (low - pad, high + pad)
    pad = (high - low) * 0.04
    return (low - pad, high + pad)


def _axes(
    canvas: Canvas,
    frame: Frame,
    *,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str] = format_number,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    y_ticks: Sequence[tuple[float, str]] | None = None,
) -> None:
    bottom = frame.top + frame.height
    if y_ticks is None:
        if frame.log_y:
            decades = range(math.floor(frame.y_low), math.ceil(frame.y_high) + 1)
            y_ticks = [(10.0**d, format_number(10.0**d)) for d in decades]
        else:
            y_ticks = [(t, format_number(t)) for t in nice_ticks(frame.y_low, frame.y_high)]
    for value, label in y_ticks:
        y = float(frame.sy(value))
        if frame.top - 0.5 <= y <= bottom + 0.5:
            canvas.line(frame.left, y, frame.left + frame.width, y, GRID)
            canvas.text(frame.left - 6, y + 4, label, size=10, anchor="end", colour=MUTED)
    if x_ticks is None:
        x_ticks = [(t, x_format(t)) for t in nice_ticks(frame.x_low, frame.x_high, 6)]
    for value, label in x_ticks:
        x = float(frame.sx(value))
        if frame.left - 0.5 <= x <= frame.left + frame.width + 0.5:
            canvas.line(x, frame.top, x, bottom, GRID)
            canvas.text(x, bottom + 15, label, size=10, anchor="middle", colour=MUTED)
    canvas.line(frame.left, bottom, frame.left + frame.width, bottom, AXIS)
    canvas.line(frame.left, frame.top, frame.left, bottom, AXIS)
    if x_label:
        canvas.text(frame.left + frame.width / 2, bottom + 32, x_label, size=11, anchor="middle")
    if y_label:
        mid = frame.top + frame.height / 2
        canvas.text(14, mid, y_label, size=11, anchor="middle", rotate=-90)


def _legend(
    canvas: Canvas,
    series: Sequence[tuple[str, str] | tuple[str, str, str]],
    left: float,
    top: float,
) -> None:
    """Entries of (label, colour[, dash]) from ``top`` down; the rest summed up as "+ N more"."""
    unique = list(dict.fromkeys(series))
    shown = unique[:LEGEND_LIMIT]
    for i, entry in enumerate(shown):
        label, colour = entry[0], entry[1]
        dash = entry[2] if len(entry) > 2 else ""
        y = top + i * 17
        if dash:
            canvas.line(left, y - 6, left + 14, y - 6, colour, 2.0, dash=dash)
        else:
            canvas.rect(left, y - 8, 14, 4, colour)
        canvas.text(left + 20, y - 2, _clip(label, 26), size=10)
    if len(unique) > len(shown):
        canvas.text(
            left, top + len(shown) * 17, f"+ {len(unique) - len(shown)} more", size=10, colour=MUTED
        )


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str = "",
    y_label: str = "",
    log_y: bool = False,
    width: int = 720,
    height: int = 300,
    x_format: Callable[[float], str] = format_number,
    fixed_range: tuple[float, float, float, float] | None = None,
    diagonal: bool = False,
) -> str:
    """Lines of several series on one set of axes, with a legend on the right."""
    canvas = Canvas(width, height, title)
    legend = bool(series)
    frame = Frame(64, 34, width - 64 - (190 if legend else 20), height - 34 - 44, 0, 1, 0, 1, log_y)
    thinned = []
    for s in series:
        x, y = decimate(
            np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float), MAX_SERIES_POINTS
        )
        thinned.append((s, x, y))
    if fixed_range is not None:
        frame.x_low, frame.x_high, frame.y_low, frame.y_high = fixed_range
    else:
        frame.x_low, frame.x_high = _range([x for _, x, _ in thinned])
        frame.y_low, frame.y_high = _range([y for _, _, y in thinned], log_y)
    _axes(canvas, frame, x_label=x_label, y_label=y_label, x_format=x_format)
    if diagonal:
        canvas.line(
            float(frame.sx(0)), float(frame.sy(0)), float(frame.sx(1)), float(frame.sy(1)),
            AXIS, dash="4 3",
        )  # fmt: skip
    for s, x, y in thinned:
        canvas.polyline(frame.sx(x), frame.sy(y), s.colour, s.width, s.opacity, s.dash)
    if not series:
        canvas.text(width / 2, height / 2, "No data", anchor="middle", colour=MUTED)
    if legend:
        entries = [(s.label, s.colour, s.dash) for s in series if s.opacity >= 0.5]
        _legend(canvas, entries, frame.left + frame.width + 18, frame.top + 8)
    return canvas.render(title)


def scatter_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str = "",
    y_label: str = "",
    width: int = 720,
    height: int = 320,
    x_categories: Sequence[str] | None = None,
    diagonal: bool = False,
    zero_line: bool = False,
    legend: bool = True,
) -> str:
    """Dots of several groups; each dot's tooltip names its group and values."""
    canvas = Canvas(width, height, title)
    right = 190 if legend and series else 20
    frame = Frame(64, 34, width - 64 - right, height - 34 - 44, 0, 1, 0, 1)
    xs = [np.asarray(s.x, dtype=float) for s in series]
    ys = [np.asarray(s.y, dtype=float) for s in series]
    if diagonal:
        low, high = _range(xs + ys)
        frame.x_low = frame.y_low = low
        frame.x_high = frame.y_high = high
    else:
        frame.x_low, frame.x_high = _range(xs)
        frame.y_low, frame.y_high = _range(ys)
    x_ticks = None
    if x_categories is not None:
        frame.x_low, frame.x_high = -0.5, len(x_categories) - 0.5
        x_ticks = [(float(i), _clip(c, 14)) for i, c in enumerate(x_categories)]
    _axes(canvas, frame, x_label=x_label, y_label=y_label, x_ticks=x_ticks)
    if diagonal:
        canvas.line(
            float(frame.sx(frame.x_low)), float(frame.sy(frame.y_low)),
            float(frame.sx(frame.x_high)), float(frame.sy(frame.y_high)), AXIS, dash="4 3",
        )  # fmt: skip
    if zero_line and frame.y_low < 0 < frame.y_high:
        y0 = float(frame.sy(0))
        canvas.line(frame.left, y0, frame.left + frame.width, y0, AXIS, dash="4 3")
    radius = 3.5 if sum(len(x) for x in xs) < 400 else 2.2
    for s, x, y in zip(series, xs, ys, strict=True):
        px, py = frame.sx(x), frame.sy(y)
        for i in range(len(x)):
            if math.isfinite(px[i]) and math.isfinite(py[i]):
                shown_x = (
                    x_categories[int(x[i])] if x_categories is not None else format_number(x[i])
                )
                tip = (
                    f"{s.label}: {x_label or 'x'} {shown_x}, {y_label or 'y'} {format_number(y[i])}"
                )
                canvas.circle(float(px[i]), float(py[i]), radius, s.colour, s.opacity, tip)
    if legend and series:
        _legend(
            canvas,
            [(s.label, s.colour) for s in series],
            frame.left + frame.width + 18,
            frame.top + 8,
        )
    return canvas.render(title)


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float, str]],
    *,
    value_label: str = "",
    width: int = 720,
    best: str | None = None,
) -> str:
    """Horizontal bars, one per (label, value, colour) in the order given."""
    row = 20
    height = 34 + 30 + row * max(len(bars), 1) + 20
    canvas = Canvas(width, height, title)
    values = np.array([v for _, v, _ in bars], dtype=float)
    finite = values[np.isfinite(values)]
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    high = max(0.0, float(finite.max())) if finite.size else 1.0
    if high == low:
        high = low + 1.0
    frame = Frame(190, 40, width - 190 - 80, row * max(len(bars), 1), low, high, 0, 1)
    for tick in nice_ticks(low, high, 5):
        x = float(frame.sx(tick))
        canvas.line(x, frame.top - 4, x, frame.top + frame.height, GRID)
        canvas.text(x, frame.top - 8, format_number(tick), size=10, anchor="middle", colour=MUTED)
    zero = float(frame.sx(0.0))
    for i, (label, value, colour) in enumerate(bars):
        y = frame.top + i * row
        canvas.text(frame.left - 8, y + row * 0.68, _clip(label, 28), size=10, anchor="end")
        if not math.isfinite(value):
            canvas.text(zero + 4, y + row * 0.68, "NaN", size=10, colour=MUTED)
            continue
        x = float(frame.sx(value))
        canvas.rect(min(x, zero), y + 3, abs(x - zero), row - 6, colour, tip=f"{label}: {value!r}")
        mark = " ★" if best is not None and label == best else ""
        canvas.text(max(x, zero) + 4, y + row * 0.68, format_number(value) + mark, size=10)
    canvas.line(zero, frame.top, zero, frame.top + frame.height, AXIS)
    if value_label:
        canvas.text(frame.left + frame.width / 2, height - 6, value_label, size=11, anchor="middle")
    return canvas.render(title)


def grouped_bar_chart(
    title: str,
    categories: Sequence[str],
    groups: Sequence[Series],
    *,
    value_label: str = "",
    width: int = 720,
) -> str:
    """Horizontal bars per category, one bar per group (``Series.y`` aligned to categories)."""
    bar = 7 if len(groups) > 3 else 10
    block = bar * max(len(groups), 1) + 8
    height = 34 + 30 + block * max(len(categories), 1) + 20
    canvas = Canvas(width, height, title)
    all_values = [np.asarray(g.y, dtype=float) for g in groups]
    joined = np.concatenate(all_values) if all_values else np.empty(0)
    finite = joined[np.isfinite(joined)]
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    high = max(0.0, float(finite.max())) if finite.size else 1.0
    if high == low:
        high = low + 1.0
    frame = Frame(170, 40, width - 170 - 190, block * max(len(categories), 1), low, high, 0, 1)
    for tick in nice_ticks(low, high, 5):
        x = float(frame.sx(tick))
        canvas.line(x, frame.top - 4, x, frame.top + frame.height, GRID)
        canvas.text(x, frame.top - 8, format_number(tick), size=10, anchor="middle", colour=MUTED)
    zero = float(frame.sx(0.0))
    for c, category in enumerate(categories):
        top = frame.top + c * block + 4
        canvas.text(frame.left - 8, top + block / 2, _clip(category, 24), size=10, anchor="end")
        for g, (group, values) in enumerate(zip(groups, all_values, strict=True)):
            value = float(values[c]) if c < len(values) else math.nan
            if not math.isfinite(value):
                continue
            x = float(frame.sx(value))
            tip = f"{group.label}, {category}: {format_number(value)}"
            canvas.rect(min(x, zero), top + g * bar, abs(x - zero), bar - 1, group.colour, tip=tip)
    canvas.line(zero, frame.top, zero, frame.top + frame.height, AXIS)
    if value_label:
        canvas.text(frame.left + frame.width / 2, height - 6, value_label, size=11, anchor="middle")
    _legend(
        canvas, [(g.label, g.colour) for g in groups], frame.left + frame.width + 18, frame.top + 8
    )
    return canvas.render(title)


def parallel_chart(
    title: str,
    axes: Sequence[tuple[str, Sequence[tuple[float, str]]]],
    lines: Sequence[tuple[str, str, np.ndarray]],
    *,
    width: int = 900,
    height: int = 360,
    colour_note: str = "",
) -> str:
    """Parallel coordinates: ``axes`` are (name, ticks at [0, 1] positions); ``lines`` are
    (label, colour, positions per axis)."""
    canvas = Canvas(width, height, title)
    count = max(len(axes), 1)
    left, right, top, bottom = 80.0, 100.0, 58.0, 40.0
    span = width - left - right
    plot_height = height - top - bottom
    gap = span / (count - 1) if count > 1 else span
    name_chars = max(8, int(gap / 7.5))

    def ax(i: int) -> float:
        return left + (gap * i if count > 1 else span / 2)

    def ay(t: np.ndarray | float) -> np.ndarray:
        return top + (1.0 - np.asarray(t, dtype=float)) * plot_height

    xs = np.array([ax(i) for i in range(len(axes))], dtype=float)
    opacity = 0.85 if len(lines) <= 50 else max(0.15, 20 / len(lines))
    for label, colour, positions in lines:
        canvas.add(f"<g><title>{escape(label)}</title>")
        canvas.polyline(xs, ay(positions), colour, 1.4, opacity)
        canvas.add("</g>")
    for i, (name, ticks) in enumerate(axes):
        x = ax(i)
        canvas.line(x, top, x, top + plot_height, TEXT, 1.2)
        canvas.text(x, top - 12, _clip(name, name_chars), size=11, anchor="middle", weight="bold")
        shown = ticks if len(ticks) <= 12 else ticks[:: math.ceil(len(ticks) / 12)]
        for position, text in shown:
            y = float(ay(position))
            canvas.line(x - 3, y, x + 3, y, TEXT)
            canvas.text(x + 6, y + 3.5, _clip(text, 16), size=9, colour=MUTED, halo=True)
    if colour_note:
        canvas.text(width - 10, height - 10, colour_note, size=10, anchor="end", colour=MUTED)
    return canvas.render(title)
