"""A final metric across runs as sorted horizontal bars, best first, in run colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from desktop_app.registry import Run
from desktop_app.reports.comparison import metric_keys
from desktop_app.reports.diff import metric_direction, rows_to_csv
from desktop_app.reports.numeric import format_number
from desktop_app.ui.compare.common import (
    ChartBase,
    LabelAxis,
    controls_row,
    panel_layout,
    qcolour,
    style_axis,
)
from desktop_app.ui.compare.scatter_view import fill_combo
from desktop_app.ui.metric_chart import pg

AGGREGATES = {"last": "Last value", "min": "Minimum", "max": "Maximum"}
ORDERS = {
    "best": "Best first",
    "desc": "Largest first",
    "asc": "Smallest first",
    "runs": "Run order",
}
BAR_HEIGHT = 0.72


class BarChart(ChartBase):
    """Horizontal bars, one per run, labelled with run names on the left."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked that run's bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Bars", parent, min_height=320)
        self.y_axis = LabelAxis("left", chars=26)
        style_axis(self, self.y_axis)
        self.plot_item.setAxisItems({"left": self.y_axis})
        self.y_axis.setWidth(170)
        self.view_box.invertY(True)
        self.view_box.setMouseEnabled(x=True, y=True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=BAR_HEIGHT, width=[])
        self.plot_item.addItem(self.bars)
        self.outline = pg.BarGraphItem(
            x0=[], y=[], height=BAR_HEIGHT, width=[], brush=None, pen=pg.mkPen("#1f2328", width=2)
        )
        self.outline.setZValue(5)
        self.plot_item.addItem(self.outline)
        self.run_ids: list[str] = []
        self.labels: list[str] = []
        self.values = np.empty(0)
        self.metric_key = ""
        self.plot_widget.scene().sigMouseClicked.connect(self._on_clicked)

    def set_bars(
        self,
        run_ids: Sequence[str],
        values: np.ndarray,
        colours: Sequence[str],
        labels: Sequence[str],
        metric: str,
    ) -> None:
        """Bars in the order given (index 0 at the top)."""
        self.run_ids, self.labels, self.metric_key = list(run_ids), list(labels), metric
        self.values = np.asarray(values, dtype=float)
        shown = np.where(np.isfinite(self.values), self.values, 0.0)
        y = np.arange(len(self.run_ids), dtype=float)
        self.bars.setOpts(
            x0=np.minimum(shown, 0.0),
            y=y,
            width=np.abs(shown),
            height=BAR_HEIGHT,
            brushes=[pg.mkBrush(qcolour(c, 230)) for c in colours],
            pens=[pg.mkPen(None)] * len(y),
        )
        self.y_axis.set_labels(self.labels)
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(t[:26]) for t in self.labels), default=40)
        self.y_axis.setWidth(min(max(widest + 16, 60), 220))
        self.plot_item.setLabel("bottom", metric)
        self.view_box.enableAutoRange()
        self.view_box.setYRange(-0.6, max(len(y), 1) - 0.4, padding=0)

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Outline the selected runs' bars."""
        chosen = set(run_ids)
        index = [i for i, r in enumerate(self.run_ids) if r in chosen]
        shown = (
            np.where(np.isfinite(self.values), self.values, 0.0)[index] if index else np.empty(0)
        )
        self.outline.setOpts(
            x0=np.minimum(shown, 0.0),
            y=np.asarray(index, dtype=float),
            width=np.abs(shown),
            height=BAR_HEIGHT,
        )

    def bar_data(self) -> tuple[list[str], np.ndarray]:
        """(run ids, values) of the bars from top to bottom, as drawn."""
        return list(self.run_ids), self.values.copy()

    def index_at(self, pos: QPointF) -> int | None:
        """The bar row under a view position."""
        row = round(pos.y())
        return (
            row if 0 <= row < len(self.run_ids) and abs(pos.y() - row) <= BAR_HEIGHT / 2 else None
        )

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        row = self.index_at(self.view_box.mapSceneToView(scene_pos))
        if row is None:
            self._hide_hover()
            return
        self.value_label.setText(
            f"{self.labels[row]} · {self.metric_key} {format_number(self.values[row], 6)}"
        )

    def _on_clicked(self, event: object) -> None:
        scene_pos = event.scenePos()  # type: ignore[attr-defined]
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            return
        row = self.index_at(self.view_box.mapSceneToView(scene_pos))
        if row is not None:
            self.sig_run_clicked.emit(self.run_ids[row])


class BarPanel(QWidget):
    """Metric, aggregate and order choosers above the bar chart."""

    sig_run_clicked = Signal(str)
    """Run id: the user clicked a bar."""
    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self.colours: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumContentsLength(18)
        self.aggregate_combo = QComboBox()
        for key, text in AGGREGATES.items():
            self.aggregate_combo.addItem(text, key)
        self.order_combo = QComboBox()
        for key, text in ORDERS.items():
            self.order_combo.addItem(text, key)
        for combo in (self.metric_combo, self.aggregate_combo, self.order_combo):
            combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.chart = BarChart()
        self.chart.sig_run_clicked.connect(self.sig_run_clicked)
        self.chart.sig_message.connect(self.sig_message)
        self.note = QLabel()
        layout = panel_layout(self)
        layout.addLayout(
            controls_row(
                QLabel("Metric"),
                self.metric_combo,
                self.aggregate_combo,
                self.order_combo,
                None,
                self.note,
            )
        )
        layout.addWidget(self.chart, 1)
        self._selected: list[str] = []

    def set_runs(
        self,
        runs: Sequence[Run],
        colours: Mapping[str, str],
        labels: Mapping[str, str],
        metric: str | None = None,
    ) -> None:
        """The runs to compare; ``metric`` picks the metric shown."""
        self.runs, self.colours, self.labels = list(runs), dict(colours), dict(labels)
        keys = metric_keys(self.runs)
        fill_combo(self.metric_combo, [(k, k) for k in keys], metric or (keys[0] if keys else None))
        if metric:
            self.metric_combo.setCurrentIndex(max(self.metric_combo.findData(metric), 0))
        self.redraw()

    def set_metric(self, metric: str) -> None:
        """Show this metric."""
        self.metric_combo.setCurrentIndex(self.metric_combo.findData(metric))

    def sorted_values(self) -> tuple[list[str], np.ndarray]:
        """(run ids, values) in the chosen order; runs without the metric are left out."""
        key = self.metric_combo.currentData()
        aggregate = self.aggregate_combo.currentData()
        runs = [r for r in self.runs if key in r.metrics]
        values = np.array([getattr(r.metrics[key], aggregate) for r in runs], dtype=float)
        order = self.order_combo.currentData()
        if order == "best":
            order = "asc" if metric_direction(key or "") == "min" else "desc"
        if order in ("asc", "desc") and len(values):
            filled = np.where(np.isfinite(values), values, np.inf if order == "asc" else -np.inf)
            index = np.argsort(filled if order == "asc" else -filled, kind="stable")
        else:
            index = np.arange(len(values))
        return [runs[i].id for i in index], values[index]

    def redraw(self) -> None:
        """Draw the chosen metric."""
        key = self.metric_combo.currentData()
        if not key:
            self.chart.set_bars([], np.empty(0), [], [], "")
            self.note.setText("No metrics to show")
            return
        run_ids, values = self.sorted_values()
        self.chart.set_bars(
            run_ids,
            values,
            [self.colours[r] for r in run_ids],
            [self.labels[r] for r in run_ids],
            key,
        )
        direction = metric_direction(key)
        self.chart.set_title(
            f"{key} ({self.aggregate_combo.currentText().lower()})"
            + {"min": " · lower is better", "max": " · higher is better"}.get(direction or "", "")
        )
        self.chart.set_selected(self._selected)
        missing = len(self.runs) - len(run_ids)
        self.note.setText(
            f"{missing} run{'s' if missing != 1 else ''} without {key}" if missing else ""
        )

    def set_selected(self, run_ids: Sequence[str]) -> None:
        """Outline the selected runs' bars."""
        self._selected = list(run_ids)
        self.chart.set_selected(run_ids)

    def to_csv(self) -> str:
        """The bars shown as CSV (run, id, value)."""
        run_ids, values = self.chart.bar_data()
        return rows_to_csv(
            ["run", "id", self.chart.metric_key],
            [[self.labels[r], r, repr(float(v))] for r, v in zip(run_ids, values, strict=True)],
        )
