"""Parallel coordinates over chosen params and one metric, coloured by it, with axis brushing.

Drag along an axis to brush a range; runs whose line leaves any brush turn grey, and the owner
selects the runs that remain. Lines are drawn as a handful of items (one per colour band, NaN
between runs), so 1,000 runs draw as fast as 10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsRectItem,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QWidget,
)

from desktop_app.registry import Run
from desktop_app.reports.colours import MISSING_COLOUR, scale_colour
from desktop_app.reports.comparison import metric_keys, param_keys
from desktop_app.reports.fields import Field
from desktop_app.reports.numeric import format_number
from desktop_app.reports.parallel import ParallelData, brushed_runs, build_parallel, default_fields
from desktop_app.ui.compare.common import (
    ChartBase,
    controls_row,
    elide,
    exact,
    panel_layout,
    qcolour,
)
from desktop_app.ui.metric_chart import pg

BANDS = 12
AXIS_GRAB = 0.22
MAX_TICKS = 12
SELECTED_LIMIT = 5
THICK_LIMIT = 100


class BrushCatcher(pg.GraphicsObject):
    """A transparent layer over the plot turning vertical drags near an axis into brushes."""

    def __init__(self, chart: ParallelChart) -> None:
        super().__init__()
        self.chart = chart
        self._axis: int | None = None

    def boundingRect(self) -> QRectF:
        """The whole plot area."""
        count = max(len(self.chart.axes_fields), 1)
        return QRectF(-0.5, -0.2, count + 0.5, 1.5)

    def paint(self, painter: QPainter, *args: object) -> None:
        """Nothing to draw: the brushes are their own items."""

    def mouseDragEvent(self, ev: object) -> None:
        """Brush the axis where the drag began."""
        if ev.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            ev.ignore()  # type: ignore[attr-defined]
            return
        if ev.isStart():  # type: ignore[attr-defined]
            self._axis = self.chart.axis_at(ev.buttonDownPos().x())  # type: ignore[attr-defined]
        if self._axis is None:
            ev.ignore()  # type: ignore[attr-defined]
            return
        ev.accept()  # type: ignore[attr-defined]
        low = ev.buttonDownPos().y()  # type: ignore[attr-defined]
        high = ev.pos().y()  # type: ignore[attr-defined]
        finished = ev.isFinish()  # type: ignore[attr-defined]
        self.chart.brush_axis(self._axis, low, high, announce=finished)
        if finished:
            self._axis = None

    def mouseClickEvent(self, ev: object) -> None:
        """A click on a brushed axis clears its brush."""
        axis = self.chart.axis_at(ev.pos().x())  # type: ignore[attr-defined]
        if axis is not None and self.chart.axes_fields[axis].id in self.chart.brushes:
            ev.accept()  # type: ignore[attr-defined]
            self.chart.clear_brush(axis)
        else:
            ev.ignore()  # type: ignore[attr-defined]


class ParallelChart(ChartBase):
    """The parallel coordinates plot."""

    sig_brushed = Signal(list)
    """The run ids inside every brush, after the user changed a brush (all runs when none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Parallel coordinates", parent, min_height=340)
        self.plot_item.hideAxis("left")
        self.plot_item.hideAxis("bottom")
        self.plot_item.showGrid(x=False, y=False)
        self.view_box.setMouseEnabled(x=False, y=False)
        self.view_box.disableAutoRange()
        self.data: ParallelData | None = None
        self.axes_fields: list[Field] = []
        self.labels: dict[str, str] = {}
        self.brushes: dict[str, tuple[float, float]] = {}
        self._selected: list[str] = []
        self._texts: list[pg.TextItem] = []
        self._brush_items: dict[str, QGraphicsRectItem] = {}
        self.axis_lines = pg.PlotDataItem(pen=pg.mkPen("#57606a", width=1.4), connect="finite")
        self.axis_lines.setZValue(3)
        self.grey = pg.PlotDataItem(
            pen=pg.mkPen(qcolour(MISSING_COLOUR, 60), width=1), connect="finite"
        )
        self.grey.setZValue(0)
        self.bands = [
            pg.PlotDataItem(
                pen=pg.mkPen(qcolour(scale_colour(i / (BANDS - 1)), 210), width=1),
                connect="finite",
            )
            for i in range(BANDS)
        ]
        self.missing = pg.PlotDataItem(
            pen=pg.mkPen(qcolour(MISSING_COLOUR, 200), width=1), connect="finite"
        )
        # A dark halo under the coloured line of each selected run (its colour stays readable).
        self.selected_lines = pg.PlotDataItem(
            pen=pg.mkPen(31, 35, 40, 150, width=5), connect="finite"
        )
        self.selected_lines.setZValue(0.5)
        for item in (self.axis_lines, self.grey, *self.bands, self.missing, self.selected_lines):
            self.plot_item.addItem(item)
            exact(item)
        for band in self.bands:
            band.setZValue(1)
        self.catcher = BrushCatcher(self)
        self.catcher.setZValue(10)
        self.plot_item.addItem(self.catcher)

    # ---- data --------------------------------------------------------------------------------

    def set_data(self, data: ParallelData, labels: Mapping[str, str]) -> None:
        """Draw these axes and lines (brushes on axes still shown are kept)."""
        self.data = data
        self.labels = dict(labels)
        # Few runs read better in thicker lines; hundreds draw fastest at width 1 (Qt's fast path).
        width = 1.8 if len(data.run_ids) <= THICK_LIMIT else 1.0
        for i, band in enumerate(self.bands):
            band.setPen(pg.mkPen(qcolour(scale_colour(i / (BANDS - 1)), 210), width=width))
        self.missing.setPen(pg.mkPen(qcolour(MISSING_COLOUR, 200), width=width))
        self.axes_fields = [axis.field for axis in data.axes]
        self.brushes = {
            k: v for k, v in self.brushes.items() if k in {f.id for f in self.axes_fields}
        }
        self.catcher.prepareGeometryChange()
        self._draw_axes()
        self._draw_lines()
        count = len(data.axes)
        self.view_box.setRange(
            xRange=(-0.4, max(count - 1, 0) + 0.55), yRange=(-0.07, 1.13), padding=0
        )

    def _draw_axes(self) -> None:
        assert self.data is not None
        for text in self._texts:
            self.plot_item.removeItem(text)
        self._texts = []
        xs: list[float] = []
        ys: list[float] = []
        for i, axis in enumerate(self.data.axes):
            xs += [i, i, np.nan]
            ys += [0.0, 1.0, np.nan]
            name = pg.TextItem(elide(axis.field.key, 22), color="#1f2328", anchor=(0.5, 1.0))
            font = name.textItem.font()
            font.setBold(True)
            name.setFont(font)
            name.setPos(i, 1.03)
            self._add_text(name)
            ticks = axis.ticks()
            if len(ticks) > MAX_TICKS:
                ticks = ticks[:: -(-len(ticks) // MAX_TICKS)]
            for position, label in ticks:
                tick = pg.TextItem(
                    elide(label, 16),
                    color="#59636e",
                    anchor=(0.0, 0.5),
                    fill=pg.mkBrush(255, 255, 255, 170),
                )
                tick.setPos(i + 0.02, position)
                self._add_text(tick)
                xs += [i - 0.015, i + 0.015, np.nan]
                ys += [position, position, np.nan]
        self.axis_lines.setData(np.array(xs, dtype=float), np.array(ys, dtype=float))

    def _add_text(self, item: pg.TextItem) -> None:
        item.setZValue(6)
        self.plot_item.addItem(item, ignoreBounds=True)
        self._texts.append(item)

    def _polylines(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x and y of many runs' lines in one array, NaN between runs."""
        assert self.data is not None
        matrix = self.data.matrix()[rows]
        count = matrix.shape[1]
        if matrix.shape[0] == 0 or count == 0:
            return np.empty(0), np.empty(0)
        x = np.tile(np.append(np.arange(count, dtype=float), np.nan), matrix.shape[0])
        y = np.hstack([matrix, np.full((matrix.shape[0], 1), np.nan)]).ravel()
        return x, y

    def _draw_lines(self) -> None:
        assert self.data is not None
        run_ids = self.data.run_ids
        inside = set(self.brushed_run_ids())
        keep = np.array([r in inside for r in run_ids], dtype=bool)
        colour = self.data.colour_values()
        band = np.where(
            np.isfinite(colour), np.round(np.nan_to_num(colour) * (BANDS - 1)), -1
        ).astype(int)
        self.grey.setData(*self._polylines(np.flatnonzero(~keep)))
        for i, item in enumerate(self.bands):
            item.setData(*self._polylines(np.flatnonzero(keep & (band == i))))
        self.missing.setData(*self._polylines(np.flatnonzero(keep & (band < 0))))
        chosen = set(self._selected) if 0 < len(self._selected) <= SELECTED_LIMIT else set()
        if self.brushes and chosen == inside:
            chosen = set()  # the selection came from the brushes: the colours already say it
        rows = np.array([r in chosen for r in run_ids], dtype=bool)
        self.selected_lines.setData(*self._polylines(np.flatnonzero(rows)))
        self._draw_brushes()

    def line_count(self, item: pg.PlotDataItem) -> int:
        """How many run lines an item draws (NaN-separated)."""
        x, _y = item.getData()
        return 0 if x is None else int(np.isnan(x).sum())

    def coloured_run_count(self) -> int:
        """How many runs are drawn in colour (inside every brush)."""
        return sum(self.line_count(item) for item in (*self.bands, self.missing))

    # ---- brushing ----------------------------------------------------------------------------

    def axis_at(self, x: float) -> int | None:
        """The axis within grabbing distance of view x, if any."""
        if not self.axes_fields:
            return None
        index = round(x)
        if 0 <= index < len(self.axes_fields) and abs(x - index) <= AXIS_GRAB:
            return index
        return None

    def brush_axis(self, axis: int, low: float, high: float, *, announce: bool = True) -> None:
        """Brush positions [low, high] (0 bottom, 1 top) of one axis."""
        low, high = sorted((min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)))
        self.brushes[self.axes_fields[axis].id] = (low, high)
        self._draw_lines()
        if announce:
            self.sig_brushed.emit(self.brushed_run_ids())

    def brush_values(self, field_id: str, low: float, high: float) -> None:
        """Brush an axis between two of its raw values (category indices on text axes)."""
        assert self.data is not None
        index = [f.id for f in self.axes_fields].index(field_id)
        axis = self.data.axes[index]
        self.brush_axis(index, axis.position_of(low), axis.position_of(high))

    def clear_brush(self, axis: int) -> None:
        """Remove one axis's brush."""
        self.brushes.pop(self.axes_fields[axis].id, None)
        self._draw_lines()
        self.sig_brushed.emit(self.brushed_run_ids())

    def clear_brushes(self) -> None:
        """Remove every brush."""
        if not self.brushes:
            return
        self.brushes.clear()
        self._draw_lines()
        self.sig_brushed.emit(self.brushed_run_ids())

    def brushed_run_ids(self) -> list[str]:
        """The runs inside every brush (all runs when nothing is brushed)."""
        if self.data is None:
            return []
        return brushed_runs(self.data, self.brushes)

    def _draw_brushes(self) -> None:
        for field_id in list(self._brush_items):
            if field_id not in self.brushes:
                self.plot_item.removeItem(self._brush_items.pop(field_id))
        ids = [f.id for f in self.axes_fields]
        for field_id, (low, high) in self.brushes.items():
            item = self._brush_items.get(field_id)
            if item is None:
                item = QGraphicsRectItem()
                item.setBrush(pg.mkBrush(9, 105, 218, 50))
                item.setPen(pg.mkPen("#0969da", width=1.5, cosmetic=True))
                item.setZValue(7)
                self.plot_item.addItem(item, ignoreBounds=True)
                self._brush_items[field_id] = item
            index = ids.index(field_id)
            item.setRect(QRectF(index - 0.06, low, 0.12, high - low))

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Outline a few individually selected runs."""
        self._selected = list(run_ids)
        if self.data is not None:
            self._draw_lines()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.data is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        axis = self.axis_at(pos.x())
        if axis is None:
            self._hide_hover()
            return
        data_axis = self.data.axes[axis]
        value = data_axis.value_at(min(max(pos.y(), 0.0), 1.0))
        if data_axis.values.categorical:
            categories = data_axis.values.categories or ()
            text = categories[min(max(round(value), 0), len(categories) - 1)] if categories else ""
        else:
            text = format_number(value, 4)
        self.value_label.setText(f"{data_axis.field.key} ≈ {text} · drag along the axis to brush")


class ParallelPanel(QWidget):
    """Axis and colour choosers, the chart, and how many runs the brushes keep."""

    sig_brushed = Signal(list)
    """The run ids inside every brush after the user brushed."""
    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self.labels: dict[str, str] = {}
        self.chosen: list[str] = []
        self.axes_button = QToolButton()
        self.axes_button.setText("Params")
        self.axes_button.setToolTip("Choose the params shown as axes")
        self.axes_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.axes_menu = QMenu(self.axes_button)
        self.axes_button.setMenu(self.axes_menu)
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumContentsLength(16)
        self.metric_combo.setToolTip("The metric on the last axis, which colours the lines")
        self.metric_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.scale_label = QLabel()
        self.scale_label.setFixedSize(90, 12)
        stops = ", ".join(f"stop:{i / 4:.2f} {scale_colour(i / 4)}" for i in range(5))
        self.scale_label.setStyleSheet(
            f"background: qlineargradient(x1:0, y1:0, x2:1, y2:0, {stops}); border-radius: 2px;"
        )
        self.low_label = QLabel()
        self.high_label = QLabel()
        self.clear_button = QPushButton("Clear brushes")
        self.clear_button.setEnabled(False)
        self.count_label = QLabel()
        self.chart = ParallelChart()
        self.chart.sig_brushed.connect(self._on_brushed)
        self.chart.sig_message.connect(self.sig_message)
        self.clear_button.clicked.connect(self.chart.clear_brushes)
        layout = panel_layout(self)
        layout.addLayout(
            controls_row(
                self.axes_button,
                QLabel("Metric"),
                self.metric_combo,
                self.low_label,
                self.scale_label,
                self.high_label,
                None,
                self.count_label,
                self.clear_button,
            )
        )
        layout.addWidget(self.chart, 1)

    def set_runs(
        self, runs: Sequence[Run], labels: Mapping[str, str], metric: str | None = None
    ) -> None:
        """The runs to draw; ``metric`` picks the colouring metric."""
        from desktop_app.ui.compare.scatter_view import fill_combo

        first = not self.runs
        self.runs, self.labels = list(runs), dict(labels)
        keys = metric_keys(self.runs)
        fill_combo(self.metric_combo, [(k, k) for k in keys], metric or (keys[0] if keys else None))
        if metric:
            self.metric_combo.setCurrentIndex(max(self.metric_combo.findData(metric), 0))
        available = param_keys(self.runs)
        if first or not self.chosen:
            self.chosen = [f.key for f in default_fields(self.runs, None)]
        self.chosen = [k for k in self.chosen if k in available]
        self.axes_menu.clear()
        for key in available:
            action = self.axes_menu.addAction(key)
            action.setCheckable(True)
            action.setChecked(key in self.chosen)
            action.toggled.connect(self._on_axes_toggled)
        self.redraw()

    def set_params(self, keys: Sequence[str]) -> None:
        """Show exactly these params as axes."""
        self.chosen = list(keys)
        for action in self.axes_menu.actions():
            action.blockSignals(True)
            action.setChecked(action.text() in self.chosen)
            action.blockSignals(False)
        self.redraw()

    def _on_axes_toggled(self, _checked: bool) -> None:
        order = [a.text() for a in self.axes_menu.actions() if a.isChecked()]
        self.chosen = order
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the axes and lines from the runs."""
        metric = self.metric_combo.currentData()
        fields = [Field("param", k) for k in self.chosen]
        colour_by = Field("metric", metric) if metric else None
        if colour_by is not None:
            fields.append(colour_by)
        data = build_parallel(self.runs, fields, colour_by)
        self.chart.set_data(data, self.labels)
        self.axes_button.setText(f"Params ({len(self.chosen)})")
        axis = data.colour_axis
        finite = axis is not None and np.isfinite(axis.low)
        self.low_label.setText(format_number(axis.low) if finite and axis else "")
        self.high_label.setText(format_number(axis.high) if finite and axis else "")
        self.chart.set_title(
            f"{len(self.chosen)} params and {metric}" if metric else f"{len(self.chosen)} params"
        )
        self._update_count()

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Outline a few individually selected runs."""
        self.chart.set_selected(run_ids)

    def _on_brushed(self, run_ids: list[str]) -> None:
        self._update_count()
        self.sig_brushed.emit(run_ids)

    def _update_count(self) -> None:
        total = len(self.runs)
        inside = len(self.chart.brushed_run_ids())
        brushed = bool(self.chart.brushes)
        self.clear_button.setEnabled(brushed)
        if brushed:
            self.count_label.setText(f"{inside} of {total} runs inside the brushes")
        else:
            self.count_label.setText("Drag along an axis to filter runs")
