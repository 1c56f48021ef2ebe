"""Dense metric curves drawn one pixel column at a time, all of a chart's runs in one image.

A noisy 100,000-point curve squeezed into 800 pixels is, in every pixel column, a vertical run of
pixels from the lowest to the highest value the line reaches there. Stroking it as a polyline
(what pyqtgraph does, even after peak downsampling) zig-zags over each run twice, one pixel per
step, and 20 such curves cost about 20 ms a frame. Here each run's columns come from
``reports.envelope`` (the reach of the full line, so no spike is lost) and are filled as one
polygon per run. The polygons are filled in a transposed image, where every column is a single
horizontal span (Qt's scanline filler does that at memory speed), then turned upright at once.

Translucent curves (dimmed ones, the faint raw curves behind smoothed ones) are filled opaque
in a layer of their own that is laid on with their opacity: blending each curve on its own
costs three times as much. Where two of them overlap, the upper one shows, as it would on top.

``CanvasCurve`` is a ``PlotDataItem`` in every other respect (data, log mapping, pen, legend
sample, point symbols); only its line is left to the chart's ``CurveCanvas``, which also tells
the view the curves' bounds.
"""

from __future__ import annotations

import math
from itertools import groupby

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPaintEngine, QPainter, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop_app.reports.envelope import CurveEnvelope, XIndex, span_rows
from desktop_app.ui.metric_chart import pg

# Painting to these goes through the transposed image; anything else (SVG, PDF, printers) gets
# vector paths, so an exported chart keeps its lines as shapes.
_IMAGE_ENGINES = {QPaintEngine.Type.Raster, QPaintEngine.Type.OpenGL2}
Spans = tuple[np.ndarray, np.ndarray]


class CanvasCurve(pg.PlotDataItem):
    """A run's curve whose line its ``CurveCanvas`` draws; points, pen and legend are pyqtgraph's.

    Give it data with ``setData`` as any ``PlotDataItem``, and add it to the plot with
    ``ignoreBounds=True`` (the canvas reports the bounds of all its curves at once).
    ``getData()`` returns the whole (log-mapped) series; ``spans()`` what is drawn in each
    pixel column of a view.
    """

    def __init__(self, canvas: CurveCanvas, **kwargs: object) -> None:
        self._canvas = canvas
        self._line_source: object = None
        self._line_stale = True
        self._envelope = CurveEnvelope(np.empty(0), np.empty(0))
        self._y_range: tuple[float, float] | None = None
        self._spans_key: tuple[float, float, int] | None = None
        self._spans: Spans = (np.empty(0), np.empty(0))
        self._span_range: tuple[float, float] | None = None
        super().__init__(**kwargs)
        # Clipping values to the view's height only costs time here: spans are clipped anyway.
        self.setDynamicRangeLimit(None)
        # pyqtgraph's own line item never draws (the canvas does): out of the scene, it is not
        # told about every move of the view either.
        self.curve.setParentItem(None)
        canvas.add(self)

    def setDownsampling(
        self, ds: int | None = None, auto: bool | None = None, method: str | None = None
    ) -> None:
        """Ignored: the canvas reduces to pixel columns itself, exactly (the plot sets this)."""

    def setClipToView(self, state: bool) -> None:
        """Ignored: the canvas only reads the points in view anyway (the plot sets this)."""

    def viewRangeChanged(
        self, vb: object = None, ranges: object = None, changed: object = None
    ) -> None:
        """Nothing to redo when the view moves: pyqtgraph's clipping and downsampling are off."""

    def updateItems(self, styleUpdate: bool = True) -> None:
        """Update the point symbols as pyqtgraph does; the line is the canvas's."""
        # pyqtgraph comes here whenever the data or its log mapping changed.
        self._line_stale = True
        super().updateItems(styleUpdate)
        self.curve.hide()
        self._canvas.update()

    def clear(self) -> None:
        """Drop the data (the one way to change it that does not go through ``updateItems``)."""
        self._line_stale = True
        super().clear()
        self._canvas.update()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        """Repaint the canvas when the curve is shown, hidden or restacked."""
        result = super().itemChange(change, value)
        if change in (
            QGraphicsItem.GraphicsItemChange.ItemVisibleHasChanged,
            QGraphicsItem.GraphicsItemChange.ItemZValueHasChanged,
        ):
            self._canvas.update()
        return result

    def line(self) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) the line runs through: log-mapped, points without a finite x left out."""
        if not self._line_stale:
            return self._envelope.x, self._envelope.y
        self._line_stale = False
        dataset = self._getDisplayDataset()
        if dataset is not self._line_source:
            self._line_source = dataset
            self._spans_key = None
            self._y_range = None
            x = y = np.empty(0)
            if dataset is not None and dataset.x is not None and len(dataset.x):
                x = np.asarray(dataset.x, dtype=float)
                y = np.asarray(dataset.y, dtype=float)
                if not dataset.xAllFinite:
                    keep = np.isfinite(x)
                    x, y = x[keep], y[keep]
            self._envelope = CurveEnvelope(self._canvas.x_index(x, self), y)
        return self._envelope.x, self._envelope.y

    @property
    def envelope(self) -> CurveEnvelope:
        """The line's points and their block extremes (as of the last ``line()``)."""
        return self._envelope

    def spans(self, left: float, right: float, columns: int) -> Spans:
        """Lowest and highest value the line reaches in each pixel column of [left, right]."""
        self.line()
        key = (left, right, columns)
        if key != self._spans_key:
            self._spans = self._envelope.spans(left, right, columns)
            self._spans_key = key
            self._span_range = None
        return self._spans

    def y_bounds(self, x_range: tuple[float, float] | None, columns: int) -> tuple[float, float]:
        """Lowest and highest value, over all x or inside ``x_range`` (NaN when there is none)."""
        _x, y = self.line()
        if x_range is None:
            if self._y_range is None:
                # fmin/fmax skip NaN (gaps; infinities were made gaps before plotting).
                self._y_range = (
                    (float(np.fmin.reduce(y)), float(np.fmax.reduce(y)))
                    if y.size
                    else (math.nan,) * 2
                )
            return self._y_range
        low, high = self.spans(x_range[0], x_range[1], columns)
        if self._span_range is None:
            finite = np.isfinite(low)
            self._span_range = (
                (float(low[finite].min()), float(high[finite].max()))
                if finite.any()
                else (math.nan, math.nan)
            )
        return self._span_range


class CurveCanvas(pg.GraphicsObject):
    """Draws the lines of its ``CanvasCurve`` items, stacked by their z value, in one image."""

    def __init__(self) -> None:
        super().__init__()
        self._curves: list[CanvasCurve] = []
        self._x_range: tuple[float, ...] = ()
        self._fills_key: tuple[object, ...] = ()
        self._fills_spans: list[Spans] = []
        self._fills: list[QPolygonF] = []
        self._painted: tuple[float, float, int] = (0.0, 0.0, 0)
        # The last image drawn and what it was drawn from: a repaint of an unchanged view (a
        # hover label, the crosshair, a grab) lays it on again instead of filling every curve.
        self._image_key: tuple[object, ...] = ()
        self._image_fills: list[QPolygonF] | None = None
        self._image: QImage | None = None
        self.columns = 0
        """How many pixel columns the last paint drew (the plot's width in device pixels)."""

    def add(self, curve: CanvasCurve) -> None:
        """Draw this curve's line too."""
        self._curves.append(curve)
        self.update()

    def remove(self, curve: CanvasCurve) -> None:
        """Stop drawing a curve's line."""
        if curve in self._curves:
            self._curves.remove(curve)
            self.informViewBoundsChanged()
            self.update()

    def x_index(self, x: np.ndarray, asking: CanvasCurve) -> XIndex:
        """An index of ``x``: another curve's when its x is the same (runs logged at the same
        steps, a raw curve and its smoothed one), so a view is laid out once for all of them."""
        for curve in self._curves:
            index = curve.envelope.index
            if curve is not asking and index.same_x(x):
                return index
        return XIndex(x)

    def drawn(self, curve: CanvasCurve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the last paint drew of a curve: each pixel column's centre x, low and high value."""
        left, right, columns = self._painted
        if columns == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        low, high = curve.spans(left, right, columns)
        centres = left + (np.arange(columns) + 0.5) * ((right - left) / columns)
        return centres, low, high

    def stacked(self) -> list[CanvasCurve]:
        """The curves with a visible line, bottom first (by z value, then as they were added)."""
        order = {id(c): i for i, c in enumerate(self._curves)}
        shown = [c for c in self._curves if c.isVisible() and _has_line(c)]
        return sorted(shown, key=lambda c: (c.zValue(), order[id(c)]))

    # ---- bounds ------------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        """The whole view: the lines may be anywhere in it."""
        view = _view_box(self)
        return QRectF() if view is None else view.viewRect()

    def dataBounds(
        self, ax: int, frac: float = 1.0, orthoRange: tuple[float, float] | None = None
    ) -> tuple[float | None, float | None]:
        """The curves' range on an axis; for y, within the x range ``orthoRange`` if given."""
        lows: list[float] = []
        highs: list[float] = []
        view = _view_box(self)
        # The columns the canvas draws, so the paint reuses the spans computed here.
        columns = self.columns or max(int(view.width()) if view is not None else 0, 1)
        for curve in self._curves:
            if not curve.isVisible():
                continue
            if ax == 0:
                x, _y = curve.line()
                low, high = (float(x[0]), float(x[-1])) if x.size else (math.nan, math.nan)
            else:
                low, high = curve.y_bounds(orthoRange, columns)
            if not math.isnan(low):
                lows.append(low)
                highs.append(high)
        return (min(lows), max(highs)) if lows else (None, None)

    def pixelPadding(self) -> int:
        """Room auto-range leaves beyond the data: the largest point symbol's, as pyqtgraph's."""
        return max((c.pixelPadding() for c in self._curves if c.isVisible()), default=0)

    def viewRangeChanged(self) -> None:
        """Follow the view; with y on auto-range, have y re-fit the curves in the new x range."""
        self.prepareGeometryChange()
        view = _view_box(self)
        if view is not None:
            x_range = tuple(view.viewRange()[0])
            # The curves' y bounds depend on the x range shown, but pyqtgraph only re-fits y
            # after an x change when told that bounds moved.
            if x_range != self._x_range and view.autoRangeEnabled()[1]:
                view.queueUpdateAutoRange()
            self._x_range = x_range
        self.update()

    # ---- painting ----------------------------------------------------------------------------

    def paint(
        self, p: QPainter, opt: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        """Fill each curve's pixel columns (or draw vector envelopes on SVG and PDF)."""
        view = _view_box(self)
        if view is None or not self._curves:
            return
        rect = view.viewRect()
        transform = p.transform()
        box = transform.mapRect(rect)
        if box.isEmpty() or rect.width() <= 0 or rect.height() <= 0:
            return
        upright = transform.m11() > 0 and transform.m22() < 0 and transform.m12() == 0
        engine = p.paintEngine()
        if not upright or engine is None or engine.type() not in _IMAGE_ENGINES:
            self._paint_vectors(p, rect, max(int(box.width()), 1))
            return
        ratio = p.device().devicePixelRatioF() or 1.0
        left, top = round(box.left() * ratio), round(box.top() * ratio)
        columns = round(box.right() * ratio) - left
        rows = round(box.bottom() * ratio) - top
        if columns <= 0 or rows <= 0:
            return
        self.columns = columns
        self._painted = (rect.left(), rect.right(), columns)
        curves = self.stacked()
        fills = self._fill_polygons(curves, rect, columns, rows)
        key = (rows, columns, ratio, *((id(c), _colour_key(c)) for c in curves))
        if fills is not self._image_fills or key != self._image_key or self._image is None:
            self._image = self._render(curves, fills, rows, columns, ratio)
            self._image_key, self._image_fills = key, fills
        p.save()
        p.resetTransform()
        p.drawImage(QPointF(left / ratio, top / ratio), self._image)
        p.restore()

    def _render(
        self,
        curves: list[CanvasCurve],
        fills: list[QPolygonF],
        rows: int,
        columns: int,
        ratio: float,
    ) -> QImage:
        """All curves' fills in one upright image of ``columns`` × ``rows`` device pixels."""
        # Transposed: image row j is plot column (columns - 1 - j), image x is the plot's row,
        # so one quarter turn puts it upright.
        image = QImage(rows, columns, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setPen(Qt.PenStyle.NoPen)
        layer: QImage | None = None
        pairs = zip(curves, fills, strict=True)
        for alpha, group in groupby(pairs, key=lambda pair: pair[0].opts["pen"].color().alpha()):
            if alpha == 255:
                _fill(painter, group)
                continue
            if layer is None:
                layer = QImage(rows, columns, QImage.Format.Format_ARGB32_Premultiplied)
            layer.fill(Qt.GlobalColor.transparent)
            layer_painter = QPainter(layer)
            layer_painter.setPen(Qt.PenStyle.NoPen)
            _fill(layer_painter, group)
            layer_painter.end()
            painter.setOpacity(alpha / 255)
            painter.drawImage(0, 0, layer)
            painter.setOpacity(1.0)
        painter.end()
        upright_image = image.transformed(QTransform().rotate(90))
        upright_image.setDevicePixelRatio(ratio)
        return upright_image

    def _fill_polygons(
        self, curves: list[CanvasCurve], rect: QRectF, columns: int, rows: int
    ) -> list[QPolygonF]:
        """Each curve's staircase polygon in the transposed image (kept while nothing moves)."""
        spans = [c.spans(rect.left(), rect.right(), columns) for c in curves]
        extras = [_extra_pixels(c.opts["pen"]) for c in curves]
        key = (rect.left(), rect.right(), rect.top(), rect.bottom(), columns, rows, *extras)
        same = len(spans) == len(self._fills_spans) and all(
            a is b for a, b in zip(spans, self._fills_spans, strict=True)
        )
        if key == self._fills_key and same:
            return self._fills
        fills: list[QPolygonF] = [QPolygonF()] * len(curves)
        # All curves of one pen width at once: a few numpy calls instead of a few per curve.
        for extra in set(extras):
            chosen = [i for i, e in enumerate(extras) if e == extra]
            if not columns or not chosen:
                continue
            low = np.stack([spans[i][0] for i in chosen])
            high = np.stack([spans[i][1] for i in chosen])
            first, stop = span_rows(low, high, rect.top(), rect.bottom(), rows, extra)
            for i, polygon in zip(chosen, _staircases(first[:, ::-1], stop[:, ::-1]), strict=True):
                fills[i] = polygon
        self._fills_key, self._fills_spans, self._fills = key, spans, fills
        return fills

    def _paint_vectors(self, p: QPainter, rect: QRectF, columns: int) -> None:
        """Each curve's envelope as a vector zig-zag, one low/high pair per column."""
        centres = rect.left() + (np.arange(columns) + 0.5) * (rect.width() / columns)
        x = np.repeat(centres, 2)
        for curve in self.stacked():
            low, high = curve.spans(rect.left(), rect.right(), columns)
            y = np.column_stack([low, high]).reshape(-1)
            finite = np.isfinite(y)
            # Join a column's low to its high, and to the next column, only where both exist.
            connect = np.append(finite[:-1] & finite[1:], False)
            path = pg.functions.arrayToQPath(x, np.nan_to_num(y), connect=connect)
            p.setPen(curve.opts["pen"])
            p.drawPath(path)


def _has_line(curve: CanvasCurve) -> bool:
    pen = curve.opts["pen"]
    return pen is not None and pen.style() != Qt.PenStyle.NoPen


def _extra_pixels(pen: QPen) -> int:
    """How many device pixels a pen reaches beyond a one-pixel line on each side.

    pyqtgraph's pens are cosmetic: their width is in device pixels, as Qt strokes them, so a
    width-1 line stays one pixel thin on a high-density screen too.
    """
    return max(0, math.ceil((max(pen.widthF(), 1.0) - 1.0) / 2))


def _colour_key(curve: CanvasCurve) -> tuple[int, int]:
    """What of a curve's pen its fill depends on: colour (with alpha) and width."""
    pen = curve.opts["pen"]
    return pen.color().rgba(), _extra_pixels(pen)


def _fill(painter: QPainter, group: object) -> None:
    """Fill each (curve, polygon) pair in its pen's colour, opaque."""
    for curve, polygon in group:  # type: ignore[attr-defined]
        colour = QColor(curve.opts["pen"].color())
        colour.setAlpha(255)
        painter.setBrush(colour)
        painter.drawPolygon(polygon)


def _view_box(item: pg.GraphicsItem) -> pg.ViewBox | None:
    """The ViewBox an item is in (``getViewBox`` gives the GraphicsView before it is in one)."""
    view = item.getViewBox()
    return view if isinstance(view, pg.ViewBox) else None


def _staircases(first: np.ndarray, stop: np.ndarray) -> list[QPolygonF]:
    """Per row of ``first``: a polygon covering [first[j], stop[j]) along x on each line j."""
    count, n = first.shape
    if n == 0:
        return [QPolygonF() for _ in range(count)]
    lines = (np.arange(2 * n) + 1) // 2
    y = np.concatenate([lines, lines[::-1]]).astype(float)
    x = np.concatenate([np.repeat(first, 2, axis=1), np.repeat(stop, 2, axis=1)[:, ::-1]], axis=1)
    return [pg.functions.arrayToQPolygonF(row, y) for row in x]
