"""Metric curves: one chart per metric, a curve per run against step, wall time or relative time.

Each run's curve is built once per chart and fed new arrays (live updates, x mode, smoothing).
The chart's ``CurveCanvas`` draws every run's line one pixel column at a time, which keeps
20 runs × 100,000 points panning and zooming at screen rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSlider,
    QToolButton,
    QWidget,
)

from desktop_app.registry import MetricSeries, Run
from desktop_app.reports.numeric import X_MODES, ema, format_number, x_values
from desktop_app.ui.compare.common import (
    ChartBase,
    controls_row,
    panel_layout,
    placeholder,
    qcolour,
    separator,
    style_axis,
)
from desktop_app.ui.compare.curve_axes import (
    BEHIND_PLOT_Z,
    RelativeTimeAxis,
    StepAxis,
    ValueAxis,
    WallTimeAxis,
)
from desktop_app.ui.compare.curve_canvas import CanvasCurve, CurveCanvas
from desktop_app.ui.metric_chart import pg

LEGEND_LIMIT = 8
DEFAULT_CHARTS = 6
# Width-1 lines take Qt's fast path: a wider pen costs about 2.5 times as much to draw.
LINE_WIDTH = 1.0
SELECTED_WIDTH = 2.5
RAW_ALPHA = 55
DIM_ALPHA = 70
SMOOTHING_STEPS = 100
SMOOTHING_DELAY_MS = 60
TWO_COLUMN_MIN_WIDTH = 760
CLICK_TOLERANCE_PX = 12
# The horizontal grid of MetricChart (alpha 0.15); the bottom axes, swapped with the x mode,
# have never drawn vertical lines.
GRID_ALPHA = 38


class CurveChart(ChartBase):
    """One metric's curves for every compared run: smoothed in front, raw faint behind."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked (near) that run's curve."""

    def __init__(self, metric: str, parent: QWidget | None = None) -> None:
        super().__init__(metric, parent)
        self.metric_key = metric
        self._install_axis("left", ValueAxis(orientation="left"))
        self.plot_item.getAxis("left").setWidth(52)
        self.x_mode = ""
        self.set_x_mode("step")
        self.canvas = CurveCanvas()
        # Below the curves' own items, so point symbols and the hover marker stay on top.
        self.canvas.setZValue(-2)
        self.view_box.addItem(self.canvas)
        # The y range fits the data inside the x range shown (zoom in on x, y follows).
        self.view_box.setAutoVisible(y=True)
        self._raw: dict[str, pg.PlotDataItem] = {}
        self._points: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._labels: dict[str, str] = {}
        self._colours: dict[str, str] = {}
        self._smoothing = 0.0
        self._selected: set[str] = set()
        self._log = (False, False)
        self.legend_stale = False
        self.legend = pg.LegendItem(
            offset=(-8, 8), labelTextSize="8pt", verSpacing=-6, labelTextColor="#1f2328"
        )
        self.legend.setParentItem(self.plot_item.getViewBox())
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.legend.hide()
        self.plot_widget.scene().sigMouseClicked.connect(self._on_clicked)

    # ---- data --------------------------------------------------------------------------------

    @property
    def raw_curves(self) -> dict[str, pg.PlotDataItem]:
        """The faint raw curve of each run (shown only while smoothing is on)."""
        return dict(self._raw)

    def drawn(self, run_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the last paint drew of a run's curve: per pixel column, its x, low and high."""
        return self.canvas.drawn(self._curves[run_id])

    def run_ids(self) -> list[str]:
        """The runs with a curve on this chart."""
        return list(self._curves)

    def set_run(
        self,
        run_id: str,
        label: str,
        colour: str,
        steps: np.ndarray,
        x: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Give a run's curve new arrays (created on first use, reused afterwards)."""
        if np.isinf(values).any():
            values = np.where(np.isinf(values), np.nan, values)
        # Series come ordered by step; clock times almost always follow, but check (hover
        # and clip-to-view need x sorted).
        if self.x_mode != "step" and x.size > 1 and not bool(np.all(x[1:] >= x[:-1])):
            order = np.argsort(x, kind="stable")
            steps, x, values = steps[order], x[order], values[order]
        smooth = ema(values, self._smoothing) if self._smoothing > 0 else values
        self._points[run_id] = (np.asarray(steps), np.asarray(x, dtype=float), values, smooth)
        self._labels[run_id] = label
        self._colours[run_id] = colour
        curve = self._curves.get(run_id)
        if curve is None:
            curve = self._make_curve(colour, 255, LINE_WIDTH)
            self._curves[run_id] = curve
            self._apply_style(run_id)
            self.legend_stale = True
        few = x.size <= 40
        curve.setData(
            x,
            smooth,
            symbol="o" if few else None,
            symbolSize=5,
            symbolPen=None,
            symbolBrush=qcolour(colour),
        )
        if self._smoothing > 0:
            self._raw_curve(run_id).setData(x, values)

    def _raw_curve(self, run_id: str) -> pg.PlotDataItem:
        """The faint raw curve behind a smoothed one (made when smoothing is first turned on)."""
        raw = self._raw.get(run_id)
        if raw is None:
            raw = self._make_curve(self._colours[run_id], RAW_ALPHA, 1.0)
            raw.setZValue(-1)
            self._raw[run_id] = raw
        return raw

    def remove_run(self, run_id: str) -> None:
        """Take a run's curves off the chart."""
        for store in (self._curves, self._raw):
            curve = store.pop(run_id, None)
            if curve is not None:
                self.canvas.remove(curve)
                self.plot_item.removeItem(curve)
        self._points.pop(run_id, None)
        self.update_legend()

    def _make_curve(self, colour: str, alpha: int, width: float) -> CanvasCurve:
        curve = CanvasCurve(self.canvas, pen=pg.mkPen(qcolour(colour, alpha), width=width))
        # The canvas reports all its curves' bounds at once.
        self.plot_item.addItem(curve, ignoreBounds=True)
        curve.setLogMode(*self._log)
        return curve

    def set_smoothing(self, weight: float) -> None:
        """Smooth every curve with an EMA of this weight (0: raw), raw kept faint behind."""
        self._smoothing = weight
        for run_id, (steps, x, values, _old) in self._points.items():
            smooth = ema(values, weight) if weight > 0 else values
            self._points[run_id] = (steps, x, values, smooth)
            self._curves[run_id].setData(x, smooth)
            if weight > 0:
                raw = self._raw_curve(run_id)
                raw.setData(x, values)
                raw.setVisible(True)
            elif run_id in self._raw:
                self._raw[run_id].setVisible(False)

    def set_x_mode(self, mode: str) -> None:
        """Swap the bottom axis for the x mode (the owner then feeds new x arrays)."""
        if mode == self.x_mode:
            return
        self.x_mode = mode
        axis: pg.AxisItem
        if mode == "wall":
            axis = WallTimeAxis(orientation="bottom")
        elif mode == "relative":
            axis = RelativeTimeAxis(orientation="bottom")
        else:
            axis = StepAxis(orientation="bottom")
        self._install_axis("bottom", axis)
        axis.setHeight(26)
        self.view_box.enableAutoRange()

    def _install_axis(self, side: str, axis: pg.AxisItem) -> None:
        style_axis(self, axis)
        axis.grid_background = self.plot_widget.backgroundBrush().color()
        if side == "left":
            axis.setGrid(GRID_ALPHA)
        self.plot_item.setAxisItems({side: axis})
        # After setAxisItems, which puts axes in front: the grid passes under the curves.
        axis.setZValue(BEHIND_PLOT_Z)

    def set_log(self, log_x: bool, log_y: bool) -> None:
        """Log scales on either axis (log x is ignored for wall-clock time)."""
        self._log = (log_x and self.x_mode != "wall", log_y)
        self.plot_item.setLogMode(*self._log)
        for curve in (*self._curves.values(), *self._raw.values()):
            curve.setLogMode(*self._log)
        self.view_box.enableAutoRange()

    def set_selected(self, run_ids: Iterable[str]) -> None:
        """Draw the selected runs' curves thicker and on top, the others lighter."""
        self._selected = set(run_ids)
        for run_id in self._curves:
            self._apply_style(run_id)

    def _apply_style(self, run_id: str) -> None:
        colour = self._colours[run_id]
        selected = run_id in self._selected
        dimmed = bool(self._selected) and not selected
        curve = self._curves[run_id]
        width = SELECTED_WIDTH if selected else LINE_WIDTH
        curve.setPen(pg.mkPen(qcolour(colour, DIM_ALPHA if dimmed else 255), width=width))
        curve.setZValue(5 if selected else 0)

    def update_legend(self) -> None:
        """Rebuild the legend if runs came or went (once per batch of new curves)."""
        self.legend_stale = False
        self.legend.clear()
        if len(self._curves) > LEGEND_LIMIT or len(self._curves) < 2:
            self.legend.hide()
            return
        for run_id, curve in self._curves.items():
            self.legend.addItem(curve, self._labels.get(run_id, run_id))
        self.legend.show()

    def legend_entries(self) -> list[tuple[str, str]]:
        """(label, colour) of each legend row, in order (empty when the legend is hidden)."""
        if not self.legend.isVisible():
            return []
        return [
            (label.text, sample.item.opts["pen"].color().name().upper())
            for sample, label in self.legend.items
        ]

    # ---- hover and click ---------------------------------------------------------------------

    def nearest(self, x: float, y: float | None = None) -> tuple[str, int, float, float] | None:
        """(run id, step, value, pixel distance) of the point nearest to view position (x, y)."""
        log_x, log_y = self._log
        pixel = self.view_box.viewPixelSize()
        best: tuple[float, str, int, float] | None = None
        for run_id, (steps, xs, values, smooth) in self._points.items():
            if xs.size == 0 or not self._curves[run_id].isVisible():
                continue
            target = 10**x if log_x else x
            index = int(np.searchsorted(xs, target))
            candidates = [i for i in (index - 1, index) if 0 <= i < xs.size]
            i = min(candidates, key=lambda c: abs(float(xs[c]) - target))
            shown = float(smooth[i])
            px = float(xs[i])
            if log_x:
                px = math.log10(px) if px > 0 else float("nan")
            py = shown
            if log_y:
                py = math.log10(py) if py > 0 else float("nan")
            dx = (px - x) / pixel[0] if pixel[0] else 0.0
            dy = 0.0 if y is None or math.isnan(py) else (py - y) / (pixel[1] or 1.0)
            distance = math.hypot(dx, dy) if math.isfinite(dx) else float("inf")
            if best is None or distance < best[0]:
                best = (distance, run_id, int(steps[i]), float(values[i]))
        if best is None:
            return None
        return best[1], best[2], best[3], best[0]

    def point_near(self, x: float, y: float | None = None) -> tuple[str, int, float] | None:
        """The (run id, step, raw value) nearest to a view position."""
        found = self.nearest(x, y)
        return None if found is None else found[:3]

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        point = self.view_box.mapSceneToView(scene_pos)
        found = self.nearest(point.x(), point.y())
        if found is None:
            self._hide_hover()
            return
        run_id, step, value, _distance = found
        self.value_label.setText(
            f"{self._labels.get(run_id, run_id)} · step {step} · {format_number(value, 6)}"
        )
        steps, xs, _values, smooth = self._points[run_id]
        index = int(np.searchsorted(steps, step))
        index = min(index, xs.size - 1)
        shown = float(smooth[index])
        if math.isfinite(shown):
            mx, my = float(xs[index]), shown
            if self._log[0]:
                mx = math.log10(mx) if mx > 0 else float("nan")
            if self._log[1]:
                my = math.log10(my) if my > 0 else float("nan")
            self._marker.setData([mx], [my], brush=pg.mkBrush(qcolour(self._colours[run_id])))
            self._marker.show()
        else:
            self._marker.hide()

    def _on_clicked(self, event: object) -> None:
        scene_pos = event.scenePos()  # type: ignore[attr-defined]
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            return
        point = self.view_box.mapSceneToView(scene_pos)
        found = self.nearest(point.x(), point.y())
        if found is not None and found[3] <= CLICK_TOLERANCE_PX:
            self.sig_run_clicked.emit(found[0])

    def view_position(self, run_id: str, index: int) -> QPoint:
        """Where a run's ``index``-th (shown) point sits in the plot widget (for tests)."""
        _steps, xs, _values, smooth = self._points[run_id]
        scene = self.view_box.mapViewToScene(QPointF(float(xs[index]), float(smooth[index])))
        return self.plot_widget.mapFromScene(scene)


class CurvesPanel(QWidget):
    """Controls (metrics, x axis, log scales, smoothing) above a grid of curve charts."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked a run's curve."""
    sig_metrics_changed = Signal(list)
    """The metrics to chart changed: ``[keys]`` (the owner loads what is missing)."""
    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None, *, compact: bool = False) -> None:
        super().__init__(parent)
        self.compact = compact
        self.charts: dict[str, CurveChart] = {}
        self.runs: list[Run] = []
        self.colours: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.series: dict[tuple[str, str], MetricSeries] = {}
        self.metrics: list[str] = []
        self.available: list[str] = []
        self._selected: list[str] = []
        self._smooth_timer = QTimer(self)
        self._smooth_timer.setObjectName("smoothingTimer")
        self._smooth_timer.setSingleShot(True)
        self._smooth_timer.setInterval(SMOOTHING_DELAY_MS)
        self._smooth_timer.timeout.connect(self._apply_smoothing)

        self.metrics_button = QToolButton()
        self.metrics_button.setText("Metrics")
        self.metrics_button.setToolTip("Choose the metrics to chart")
        self.metrics_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.metrics_menu = QMenu(self.metrics_button)
        self.metrics_button.setMenu(self.metrics_menu)
        self.x_combo = QComboBox()
        for mode, text in X_MODES.items():
            self.x_combo.addItem(text, mode)
        self.x_combo.setToolTip("What the curves are drawn against")
        self.x_combo.currentIndexChanged.connect(lambda _i: self.set_x_mode(self.x_mode))
        self.log_x = QCheckBox("Log x")
        self.log_y = QCheckBox("Log y")
        self.log_x.toggled.connect(self._apply_log)
        self.log_y.toggled.connect(self._apply_log)
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, SMOOTHING_STEPS - 1)
        self.smoothing_slider.setFixedWidth(120 if compact else 160)
        self.smoothing_slider.setToolTip("Exponential moving average; the raw curve stays faint")
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_moved)
        self.smoothing_value = QLabel("0.00")
        self.smoothing_value.setMinimumWidth(
            self.smoothing_value.fontMetrics().horizontalAdvance("0.00") + 4
        )
        x_label = QLabel("X")
        smoothing_label = QLabel("Smoothing")
        self.status_label = QLabel()
        if compact:
            # The run detail pane is narrow: two short rows instead of one long one.
            rows = [
                controls_row(
                    self.metrics_button, x_label, self.x_combo, self.log_x, self.log_y, None
                ),
                controls_row(
                    smoothing_label,
                    self.smoothing_slider,
                    self.smoothing_value,
                    None,
                    self.status_label,
                ),
            ]
        else:
            rows = [
                controls_row(
                    self.metrics_button,
                    separator(),
                    x_label,
                    self.x_combo,
                    self.log_x,
                    self.log_y,
                    separator(),
                    smoothing_label,
                    self.smoothing_slider,
                    self.smoothing_value,
                    None,
                    self.status_label,
                )
            ]

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.scroll_area.setWidget(body)
        self.empty_label = placeholder("None of these runs logged a metric at more than one step.")
        self.empty_label.hide()
        self._columns = 0

        layout = panel_layout(self)
        if compact:
            layout.setContentsMargins(0, 6, 0, 0)
        for row in rows:
            layout.addLayout(row)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.empty_label, 1)

    # ---- state -------------------------------------------------------------------------------

    @property
    def x_mode(self) -> str:
        """step, wall or relative."""
        return str(self.x_combo.currentData())

    @property
    def smoothing(self) -> float:
        """The EMA weight in [0, 0.99]."""
        return self.smoothing_slider.value() / SMOOTHING_STEPS

    def set_runs(
        self,
        runs: Sequence[Run],
        colours: Mapping[str, str],
        labels: Mapping[str, str],
        available: Sequence[str],
        metrics: Sequence[str] | None = None,
    ) -> None:
        """The compared runs and the metrics they can chart (``metrics``: which are shown)."""
        self.runs = list(runs)
        self.colours = dict(colours)
        self.labels = dict(labels)
        self.available = list(available)
        if metrics is None:
            keep = [m for m in self.metrics if m in self.available]
            metrics = keep or self._default_metrics()
        current = {r.id for r in self.runs}
        for chart in self.charts.values():
            for run_id in chart.run_ids():
                if run_id not in current:
                    chart.remove_run(run_id)
        self._rebuild_menu(metrics)
        self._set_metrics(list(metrics), announce=False)

    def _default_metrics(self) -> list[str]:
        """The metrics with the longest histories (at most six), in name order."""
        longest = {
            key: max((r.metrics[key].count for r in self.runs if key in r.metrics), default=0)
            for key in self.available
        }
        chosen = sorted(self.available, key=lambda k: (-longest[k], k.casefold()))[:DEFAULT_CHARTS]
        return [k for k in self.available if k in chosen]

    def set_metrics(self, metrics: Sequence[str]) -> None:
        """Chart exactly these metrics, in this order."""
        self._rebuild_menu(metrics)
        self._set_metrics(list(metrics), announce=True)

    def _rebuild_menu(self, checked: Sequence[str]) -> None:
        self.metrics_menu.clear()
        for key in self.available:
            action = self.metrics_menu.addAction(key)
            action.setCheckable(True)
            action.setChecked(key in checked)
            action.toggled.connect(self._on_metric_toggled)
        self.metrics_button.setEnabled(bool(self.available))

    def _on_metric_toggled(self, _checked: bool) -> None:
        chosen = [a.text() for a in self.metrics_menu.actions() if a.isChecked()]
        self._set_metrics(chosen, announce=True)

    def _set_metrics(self, metrics: list[str], *, announce: bool) -> None:
        changed = metrics != self.metrics or set(self.charts) != set(metrics)
        self.metrics = metrics
        for key in list(self.charts):
            if key not in metrics:
                self.charts.pop(key).deleteLater()
        for key in metrics:
            if key not in self.charts:
                chart = CurveChart(key)
                chart.sig_run_clicked.connect(self.sig_run_clicked)
                chart.sig_message.connect(self.sig_message)
                chart.set_x_mode(self.x_mode)
                chart.set_log(self.log_x.isChecked(), self.log_y.isChecked())
                chart.set_smoothing(self.smoothing)
                chart.set_selected(self._selected)
                self.charts[key] = chart
                for run in self.runs:
                    self._feed(chart, run)
        self._flush_legends()
        if changed:
            self._relayout(force=True)
        has = bool(self.available)
        self.scroll_area.setVisible(has)
        self.empty_label.setVisible(not has)
        self.metrics_button.setText(f"Metrics ({len(metrics)} of {len(self.available)})")
        if announce:
            self.sig_metrics_changed.emit(list(metrics))

    def wanted_pairs(self) -> list[tuple[str, str]]:
        """The (run, metric) pairs the charts show that hold data."""
        return [(r.id, k) for r in self.runs for k in self.metrics if k in r.metrics]

    def apply_series(self, series: Mapping[tuple[str, str], MetricSeries]) -> None:
        """Store new series and feed each to its chart's curve (in place)."""
        self.series.update(series)
        runs = {run.id: run for run in self.runs}
        for (run_id, key), data in series.items():
            chart = self.charts.get(key)
            run = runs.get(run_id)
            if chart is not None and run is not None:
                self._feed_series(chart, run, data)
        self._flush_legends()

    def _flush_legends(self) -> None:
        for chart in self.charts.values():
            if chart.legend_stale:
                chart.update_legend()

    def loaded_counts(self) -> dict[tuple[str, str], int]:
        """How many points of each (run, metric) are drawn."""
        return {pair: len(s) for pair, s in self.series.items()}

    def _feed(self, chart: CurveChart, run: Run) -> None:
        data = self.series.get((run.id, chart.metric_key))
        if data is not None:
            self._feed_series(chart, run, data)

    def _feed_series(self, chart: CurveChart, run: Run, data: MetricSeries) -> None:
        x = x_values(data.steps, data.timestamps, self.x_mode, run.start_time)
        chart.set_run(
            run.id,
            self.labels.get(run.id, run.name),
            self.colours.get(run.id, "#0072B2"),
            data.steps,
            x,
            np.asarray(data.values, dtype=float),
        )

    # ---- controls ----------------------------------------------------------------------------

    def set_x_mode(self, mode: str) -> None:
        """Draw against step, wall time or relative time."""
        index = self.x_combo.findData(mode)
        if index >= 0 and index != self.x_combo.currentIndex():
            self.x_combo.setCurrentIndex(index)
            return
        self.log_x.setEnabled(mode != "wall")
        for chart in self.charts.values():
            chart.set_x_mode(mode)
            chart.set_log(self.log_x.isChecked(), self.log_y.isChecked())
            for run in self.runs:
                self._feed(chart, run)

    def set_smoothing(self, weight: float) -> None:
        """Set the EMA weight (0–0.99) and apply it now."""
        self.smoothing_slider.setValue(round(weight * SMOOTHING_STEPS))
        self._smooth_timer.stop()
        self._apply_smoothing()

    def _on_smoothing_moved(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / SMOOTHING_STEPS:.2f}")
        # Dragging the slider fires many times a second: recompute once it settles.
        self._smooth_timer.start()

    def _apply_smoothing(self) -> None:
        for chart in self.charts.values():
            chart.set_smoothing(self.smoothing)

    def _apply_log(self) -> None:
        for chart in self.charts.values():
            chart.set_log(self.log_x.isChecked(), self.log_y.isChecked())

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Emphasise the selected runs on every chart."""
        self._selected = list(run_ids)
        for chart in self.charts.values():
            chart.set_selected(run_ids)

    def set_status(self, text: str) -> None:
        """A short note at the right of the controls ("Loading 3 of 20 runs…")."""
        self.status_label.setText(text)

    def stop(self) -> None:
        """Stop the panel's timers."""
        self._smooth_timer.stop()

    # ---- layout ------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Switch between one and two columns of charts with the width."""
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self, *, force: bool = False) -> None:
        columns = 2 if self.width() >= TWO_COLUMN_MIN_WIDTH and len(self.charts) > 1 else 1
        if columns == self._columns and not force:
            return
        self._columns = columns
        while self.grid.count():
            self.grid.takeAt(0)
        ordered = [self.charts[k] for k in self.metrics if k in self.charts]
        for index, chart in enumerate(ordered):
            self.grid.addWidget(chart, index // columns, index % columns)
        for column in range(2):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)
        rows = -(-len(ordered) // columns) if ordered else 0
        # Few charts share the view's height; many scroll, each at a readable height.
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 1 if row < rows else 0)
