"""Scatter of any param or metric against any metric, one dot per run, hover and click-to-select."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from desktop_app.registry import Run
from desktop_app.reports.comparison import metric_keys, param_keys
from desktop_app.reports.fields import Field, field_values
from desktop_app.reports.numeric import format_number
from desktop_app.ui.compare.common import (
    ChartBase,
    LabelAxis,
    controls_row,
    panel_layout,
    qcolour,
    style_axis,
)
from desktop_app.ui.metric_chart import pg

CLICK_TOLERANCE_PX = 10
JITTER = 0.12
SYMBOL_CACHE_LIMIT = 200


def field_items(runs: Sequence[Run], *, params: bool = True) -> list[tuple[str, str]]:
    """(text, field id) for a chooser: metrics first, then params marked as such."""
    items = [(key, Field("metric", key).id) for key in metric_keys(runs)]
    if params:
        items += [(f"{key}  (param)", Field("param", key).id) for key in param_keys(runs)]
    return items


def fill_combo(combo: QComboBox, items: list[tuple[str, str]], preferred: str | None) -> None:
    """Refill a chooser, keeping its choice when still offered (else ``preferred``)."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    for wanted in (current, preferred):
        index = combo.findData(wanted) if wanted else -1
        if index >= 0:
            combo.setCurrentIndex(index)
            break
    combo.blockSignals(False)


class ScatterChart(ChartBase):
    """Dots in run colours; the selected runs ringed; categories spread slightly to be seen."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked that run's dot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Scatter", parent, min_height=320)
        self.x_axis = LabelAxis("bottom", chars=14)
        style_axis(self, self.x_axis)
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen(255, 255, 255, 200, width=0.8))
        self.selected_dots = pg.ScatterPlotItem(
            size=14, pen=pg.mkPen("#1f2328", width=2), brush=None
        )
        self.selected_dots.setZValue(5)
        self.plot_item.addItem(self.scatter)
        self.plot_item.addItem(self.selected_dots)
        self.run_ids: list[str] = []
        self.labels: list[str] = []
        self.xs = np.empty(0)
        self.ys = np.empty(0)
        self.x_categories: tuple[str, ...] | None = None
        self._x_name = "x"
        self._y_name = "y"
        self.plot_widget.scene().sigMouseClicked.connect(self._on_clicked)

    def set_points(
        self,
        run_ids: Sequence[str],
        x: np.ndarray,
        y: np.ndarray,
        colours: Sequence[str],
        labels: Sequence[str],
        *,
        x_name: str,
        y_name: str,
        x_categories: tuple[str, ...] | None = None,
    ) -> None:
        """Show one dot per run that has both values."""
        keep = np.isfinite(x) & np.isfinite(y)
        self.run_ids = [r for r, k in zip(run_ids, keep, strict=True) if k]
        self.labels = [t for t, k in zip(labels, keep, strict=True) if k]
        self.xs, self.ys = np.asarray(x, dtype=float)[keep], np.asarray(y, dtype=float)[keep]
        self.x_categories = x_categories
        self._x_name, self._y_name = x_name, y_name
        shown_x = self.xs
        if x_categories is not None and self.xs.size:
            # Spread a category's dots a little (deterministically) so they do not hide each other.
            offsets = (np.arange(self.xs.size) * 0.618034) % 1.0 - 0.5
            shown_x = self.xs + offsets * 2 * JITTER
        self._shown_x = shown_x
        brushes = [pg.mkBrush(qcolour(c, 220)) for c, k in zip(colours, keep, strict=True) if k]
        # pyqtgraph renders one cached symbol per distinct colour: with hundreds of runs (each
        # its own colour) drawing the dots directly is cheaper than building that atlas.
        self.scatter.setData(
            x=shown_x,
            y=self.ys,
            brush=brushes,
            data=self.run_ids,
            useCache=len(self.run_ids) <= SYMBOL_CACHE_LIMIT,
        )
        self._set_x_axis(x_categories)
        self.plot_item.setLabel("bottom", x_name)
        self.plot_item.setLabel("left", y_name)
        self.set_title(f"{y_name} against {x_name}")
        self.view_box.enableAutoRange()
        if x_categories is not None:
            self.view_box.setXRange(-0.5, len(x_categories) - 0.5, padding=0.02)

    def _set_x_axis(self, categories: tuple[str, ...] | None) -> None:
        if categories is not None:
            if self.plot_item.getAxis("bottom") is not self.x_axis:
                self.plot_item.setAxisItems({"bottom": self.x_axis})
            self.x_axis.set_labels(list(categories))
        elif self.plot_item.getAxis("bottom") is self.x_axis:
            axis = pg.AxisItem("bottom")
            style_axis(self, axis)
            self.plot_item.setAxisItems({"bottom": axis})

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Ring the selected runs' dots."""
        chosen = set(run_ids)
        index = [i for i, r in enumerate(self.run_ids) if r in chosen]
        if not index:
            self.selected_dots.setData(x=[], y=[])
            return
        self.selected_dots.setData(x=self._shown_x[index], y=self.ys[index])

    def nearest(self, pos: QPointF) -> tuple[int, float] | None:
        """(index, pixel distance) of the dot nearest to a view position."""
        if not self.run_ids:
            return None
        px, py = self.view_box.viewPixelSize()
        dx = (self._shown_x - pos.x()) / (px or 1.0)
        dy = (self.ys - pos.y()) / (py or 1.0)
        distance = np.hypot(dx, dy)
        index = int(np.argmin(distance))
        return index, float(distance[index])

    def _describe(self, index: int) -> str:
        x = self.xs[index]
        x_text = self.x_categories[int(x)] if self.x_categories is not None else format_number(x, 6)
        y_text = format_number(self.ys[index], 6)
        return f"{self.labels[index]} · {self._x_name} {x_text} · {self._y_name} {y_text}"

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        found = self.nearest(self.view_box.mapSceneToView(scene_pos))
        if found is None or found[1] > 30:
            self._hide_hover()
            return
        self.value_label.setText(self._describe(found[0]))
        self._marker.hide()

    def _on_clicked(self, event: object) -> None:
        scene_pos = event.scenePos()  # type: ignore[attr-defined]
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            return
        found = self.nearest(self.view_box.mapSceneToView(scene_pos))
        if found is not None and found[1] <= CLICK_TOLERANCE_PX:
            self.sig_run_clicked.emit(self.run_ids[found[0]])

    def widget_position(self, run_id: str) -> QPoint:
        """Where a run's dot is drawn in the plot widget (for tests)."""
        i = self.run_ids.index(run_id)
        scene = self.view_box.mapViewToScene(QPointF(float(self._shown_x[i]), float(self.ys[i])))
        return self.plot_widget.mapFromScene(scene)


class ScatterPanel(QWidget):
    """X and Y choosers above a scatter chart."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked a dot."""
    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self.colours: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        for combo in (self.x_combo, self.y_combo):
            combo.setMinimumContentsLength(18)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.chart = ScatterChart()
        self.chart.sig_run_clicked.connect(self.sig_run_clicked)
        self.chart.sig_message.connect(self.sig_message)
        self.count_label = QLabel()
        layout = panel_layout(self)
        layout.addLayout(
            controls_row(
                QLabel("X"), self.x_combo, QLabel("Y"), self.y_combo, None, self.count_label
            )
        )
        layout.addWidget(self.chart, 1)
        self._selected: list[str] = []

    def set_runs(
        self,
        runs: Sequence[Run],
        colours: Mapping[str, str],
        labels: Mapping[str, str],
        *,
        x: str | None = None,
        y: str | None = None,
    ) -> None:
        """The runs to plot; ``x``/``y`` are field ids (``param:lr``, ``metric:f1``) to choose."""
        self.runs = list(runs)
        self.colours = dict(colours)
        self.labels = dict(labels)
        x_items = field_items(self.runs)
        y_items = field_items(self.runs, params=False)
        default_x = x or self._default_x(x_items)
        default_y = y or (y_items[0][1] if y_items else None)
        fill_combo(self.x_combo, x_items, default_x)
        fill_combo(self.y_combo, y_items, default_y)
        if x:
            self.x_combo.setCurrentIndex(max(self.x_combo.findData(x), 0))
        if y:
            self.y_combo.setCurrentIndex(max(self.y_combo.findData(y), 0))
        self.redraw()

    def _default_x(self, items: list[tuple[str, str]]) -> str | None:
        """A param that varies, numeric first; else the first field."""
        from desktop_app.reports.parallel import default_fields

        varying = [f for f in default_fields(self.runs, None) if f.kind == "param"]
        numeric = [f for f in varying if not field_values(self.runs, f).categorical]
        for field in numeric + varying:
            return field.id
        return items[0][1] if items else None

    def set_axes(self, x: str, y: str) -> None:
        """Choose the fields (ids) on each axis."""
        self.x_combo.setCurrentIndex(self.x_combo.findData(x))
        self.y_combo.setCurrentIndex(self.y_combo.findData(y))

    def redraw(self) -> None:
        """Draw the chosen fields."""
        x_id, y_id = self.x_combo.currentData(), self.y_combo.currentData()
        if not x_id or not y_id or not self.runs:
            self.chart.set_points([], np.empty(0), np.empty(0), [], [], x_name="", y_name="")
            self.count_label.setText("No metrics to plot")
            return
        x_field, y_field = Field.parse(x_id), Field.parse(y_id)
        xv, yv = field_values(self.runs, x_field), field_values(self.runs, y_field)
        self.chart.set_points(
            [r.id for r in self.runs],
            xv.numbers,
            yv.numbers,
            [self.colours[r.id] for r in self.runs],
            [self.labels[r.id] for r in self.runs],
            x_name=x_field.key,
            y_name=y_field.key,
            x_categories=xv.categories,
        )
        self.chart.set_selected(self._selected)
        shown = len(self.chart.run_ids)
        missing = len(self.runs) - shown
        text = f"{shown} run{'s' if shown != 1 else ''}"
        self.count_label.setText(text + (f" · {missing} without both values" if missing else ""))

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Ring the selected runs."""
        self._selected = list(run_ids)
        self.chart.set_selected(run_ids)
