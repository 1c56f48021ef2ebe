"""The axes of the metric curves charts: step, clock and duration ticks, grid lines behind the data.

pyqtgraph draws grid lines as translucent ticks across the plot, above the curves. Qt's raster
engine blends a translucent line one pixel at a time, so a dozen of them cost more per frame than
all the curves; these axes fill them as opaque one-pixel rectangles (the same colour, mixed with
the background beforehand) and sit behind the plot, so the grid passes under the curves instead
of across them. They also paint straight from their cached tick layout instead of recording and
replaying a QPicture.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPicture
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from desktop_app.reports.numeric import format_seconds
from desktop_app.ui.metric_chart import pg

# Below the ViewBox (z -100 in a PlotItem), which has no background of its own.
BEHIND_PLOT_Z = -150


def _mixed(colour: QColor, background: QColor) -> QColor:
    """A translucent colour as it looks over ``background``, made opaque."""
    alpha = colour.alphaF()
    return QColor.fromRgbF(
        colour.redF() * alpha + background.redF() * (1 - alpha),
        colour.greenF() * alpha + background.greenF() * (1 - alpha),
        colour.blueF() * alpha + background.blueF() * (1 - alpha),
    )


class GridBehindMixin:
    """Opaque grid lines drawn behind the plot, painted without a QPicture (see the module)."""

    grid_background = QColor("white")
    """The plot's background colour, which translucent tick colours are mixed with."""

    _draw_specs: Any = None

    def generateDrawSpecs(self, p: QPainter) -> Any:
        """The axis line, ticks and grid lines as opaque one-pixel rectangles, and the labels."""
        specs = super().generateDrawSpecs(p)  # type: ignore[misc]
        if specs is None:
            return None
        axis_spec, tick_specs, text_specs = specs
        lines = []
        for pen, start, end in [axis_spec, *tick_specs]:
            colour = pen.color()
            if colour.alpha() < 255:
                colour = _mixed(colour, self.grid_background)
            lines.append((colour, _line_rect(start, end)))
        return lines, text_specs

    def drawPicture(self, p: QPainter, lines: Any, text_specs: Any) -> None:
        """pyqtgraph's drawing, with rectangles filled where it strokes lines (a dozen lines
        across the plot cost a millisecond; filled rectangles next to nothing)."""
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        for colour, rect in lines:
            p.fillRect(rect, colour)
        p.setPen(self.textPen())  # type: ignore[attr-defined]
        p.setClipRect(self.boundingRect().toAlignedRect())  # type: ignore[attr-defined]
        for rect, flags, text in text_specs:
            p.drawText(rect, int(flags), text)

    def paint(self, p: QPainter, opt: QStyleOptionGraphicsItem, widget: QWidget | None) -> None:
        """Draw the ticks, grid and labels (laid out again only when pyqtgraph asks)."""
        p.save()
        font = self.style["tickFont"]  # type: ignore[attr-defined]
        if font:
            p.setFont(font)
        # pyqtgraph clears ``picture`` whenever the ticks must be laid out again.
        if self.picture is None:  # type: ignore[has-type]
            self._draw_specs = self.generateDrawSpecs(p)
            self.picture = QPicture()
        if self._draw_specs is not None:
            self.drawPicture(p, *self._draw_specs)
        p.restore()


def _line_rect(start: QPointF, end: QPointF) -> QRectF:
    """The one-pixel-wide rectangle an axis-parallel line from ``start`` to ``end`` covers."""
    left, right = sorted((start.x(), end.x()))
    top, bottom = sorted((start.y(), end.y()))
    if right - left >= bottom - top:
        return QRectF(left, math.floor(top), right - left, 1)
    return QRectF(math.floor(left), top, 1, bottom - top)


class ValueAxis(GridBehindMixin, pg.AxisItem):
    """The left axis of a curves chart."""


class StepAxis(GridBehindMixin, pg.AxisItem):
    """A bottom axis for steps: whole numbers only (no tick at step 1.5)."""

    def tickValues(
        self, minVal: float, maxVal: float, size: float
    ) -> list[tuple[float, list[float]]]:
        """pyqtgraph's ticks without the fractional ones (on a log axis, pyqtgraph's own)."""
        levels = super().tickValues(minVal, maxVal, size)
        if self.logMode:
            # Ticks are then powers of ten, and the minor ones carry no spacing.
            return levels
        kept = [
            (spacing, [v for v in values if float(v).is_integer()]) for spacing, values in levels
        ]
        return [(spacing, values) for spacing, values in kept if spacing >= 1 and values] or [
            (1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)][:12])
        ]


class RelativeTimeAxis(GridBehindMixin, pg.AxisItem):
    """A bottom axis whose ticks read as durations (``90s``, ``12m``, ``1h05m``)."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Ticks as durations."""
        return [format_seconds(v * scale) for v in values]


class WallTimeAxis(GridBehindMixin, pg.DateAxisItem):
    """A bottom axis of dates and clock times."""
