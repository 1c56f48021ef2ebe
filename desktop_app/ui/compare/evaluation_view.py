"""Evaluation overlays: ROC and precision-recall across runs, confusion matrices side by side,
predicted vs actual, residuals and permutation importances (from ``evaluation/*.json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QScrollArea, QWidget

from desktop_app.registry import Run
from desktop_app.reports.evaluation import NO_DATA_TEXT, RunEvaluation
from desktop_app.reports.numeric import format_number
from desktop_app.ui.compare.common import (
    ChartBase,
    LabelAxis,
    controls_row,
    elide,
    exact,
    panel_layout,
    placeholder,
    qcolour,
    style_axis,
)
from desktop_app.ui.metric_chart import pg

Line = tuple[str, str, str, Sequence[float], Sequence[float]]
HOVER_PX = 24
# One dash pattern per class, so a multi-class run's curves (all in its colour) stay apart.
DASHES = (
    Qt.PenStyle.SolidLine,
    Qt.PenStyle.DashLine,
    Qt.PenStyle.DotLine,
    Qt.PenStyle.DashDotLine,
    Qt.PenStyle.DashDotDotLine,
)
MATRIX_COLUMNS = 4
CHART_TITLES = {
    "roc": ("ROC curves", "false positive rate", "true positive rate"),
    "pr": ("Precision-recall curves", "recall", "precision"),
    "predicted": ("Predicted vs actual", "actual", "predicted"),
    "residuals": ("Residuals", "predicted", "actual − predicted"),
}
MATRIX_MIN_WIDTH = 250


class OverlayChart(ChartBase):
    """Lines or dots of several runs on shared axes, with hover naming the run."""

    def __init__(
        self, title: str, x_label: str, y_label: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(title, parent, min_height=300)
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)
        self._lines: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
        self.reference = pg.PlotDataItem(
            pen=pg.mkPen("#8c959f", width=1, style=Qt.PenStyle.DashLine)
        )
        self.reference.setZValue(-2)
        self.plot_item.addItem(self.reference, ignoreBounds=True)
        exact(self.reference)

    def set_lines(
        self, lines: Sequence[Line], *, dots: bool = False, styles: Sequence[int] = ()
    ) -> None:
        """Draw (key, label, colour, x, y) lines (or dots); old keys disappear.

        ``styles`` gives each line a dash pattern index (one per class of a multi-class run).
        """
        keys = {key for key, *_ in lines}
        for key in list(self._curves):
            if key not in keys:
                self.remove_series(key)
                self._lines.pop(key, None)
        for index, (key, label, colour, x, y) in enumerate(lines):
            xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            curve = self._curves.get(key)
            style = DASHES[styles[index] % len(DASHES)] if index < len(styles) else DASHES[0]
            if curve is not None and not dots:
                curve.setPen(pg.mkPen(qcolour(colour), width=1.8, style=style))
            if curve is None:
                if dots:
                    curve = pg.PlotDataItem(
                        pen=None,
                        symbol="o",
                        symbolSize=5,
                        symbolPen=None,
                        symbolBrush=pg.mkBrush(qcolour(colour, 150)),
                    )
                else:
                    curve = pg.PlotDataItem(pen=pg.mkPen(qcolour(colour), width=1.8, style=style))
                self.plot_item.addItem(curve)
                exact(curve)
                self._curves[key] = curve
            curve.setData(xs, ys)
            self._lines[key] = (label, xs, ys)

    def set_reference(self, x: Sequence[float], y: Sequence[float]) -> None:
        """A dashed guide line (the chance diagonal, y = x, zero)."""
        self.reference.setData(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self._lines or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        px, py = self.view_box.viewPixelSize()
        best: tuple[float, str, float, float] | None = None
        for label, xs, ys in self._lines.values():
            if xs.size == 0:
                continue
            distance = np.hypot((xs - pos.x()) / (px or 1), (ys - pos.y()) / (py or 1))
            i = int(np.nanargmin(distance)) if np.isfinite(distance).any() else 0
            if best is None or distance[i] < best[0]:
                best = (float(distance[i]), label, float(xs[i]), float(ys[i]))
        if best is None or best[0] > HOVER_PX:
            self._hide_hover()
            return
        _d, label, x, y = best
        self.value_label.setText(f"{label} · ({format_number(x, 4)}, {format_number(y, 4)})")


class ConfusionChart(ChartBase):
    """One run's confusion matrix as a heat map with the count (or share) in each cell."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent, min_height=250)
        self.plot_item.showGrid(x=False, y=False)
        self.left_axis = LabelAxis("left", chars=12)
        self.bottom_axis = LabelAxis("bottom", chars=10)
        for axis in (self.left_axis, self.bottom_axis):
            style_axis(self, axis)
        self.plot_item.setAxisItems({"left": self.left_axis, "bottom": self.bottom_axis})
        self.left_axis.setWidth(70)
        self.plot_item.setLabel("left", "true")
        self.plot_item.setLabel("bottom", "predicted")
        self.view_box.invertY(True)
        self.view_box.setAspectLocked(False)
        self.view_box.setMouseEnabled(x=False, y=False)
        self.heatmap = pg.ImageItem()
        self.heatmap.setColorMap(pg.ColorMap([0.0, 1.0], [(246, 248, 250), (9, 105, 218)]))
        self.plot_item.addItem(self.heatmap)
        self._texts: list[pg.TextItem] = []
        self.values = np.empty((0, 0))

    def set_matrix(
        self, labels: Sequence[str], counts: Sequence[Sequence[int]], normalised: bool
    ) -> None:
        """Show the matrix as counts or as each true class's shares."""
        matrix = np.asarray(counts, dtype=float)
        totals = matrix.sum(axis=1, keepdims=True)
        shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        self.values = shares if normalised else matrix
        # ImageItem indexes [x, y]: transpose so rows (true classes) run down the y axis.
        self.heatmap.setImage(shares.T, levels=(0.0, 1.0))
        self.heatmap.setRect(-0.5, -0.5, len(labels), len(labels))
        for text in self._texts:
            self.plot_item.removeItem(text)
        self._texts = []
        for i in range(len(labels)):
            for j in range(len(labels)):
                share = shares[i, j]
                shown = f"{share:.0%}" if normalised else f"{int(matrix[i, j])}"
                item = pg.TextItem(
                    shown, color="#ffffff" if share > 0.55 else "#1f2328", anchor=(0.5, 0.5)
                )
                item.setPos(j, i)
                self.plot_item.addItem(item)
                self._texts.append(item)
        self.left_axis.set_labels([str(x) for x in labels])
        self.bottom_axis.set_labels([str(x) for x in labels])
        size = len(labels)
        self.view_box.setRange(xRange=(-0.5, size - 0.5), yRange=(-0.5, size - 0.5), padding=0)

    def cell_texts(self) -> list[str]:
        """The texts in the cells, row by row."""
        return [item.textItem.toPlainText() for item in self._texts]


class GroupedBarChart(ChartBase):
    """Horizontal bars per feature, one bar per run (permutation importances)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Permutation importances", parent, min_height=300)
        self.left_axis = LabelAxis("left", chars=22)
        style_axis(self, self.left_axis)
        self.plot_item.setAxisItems({"left": self.left_axis})
        self.left_axis.setWidth(140)
        self.view_box.invertY(True)
        self.items: dict[str, pg.BarGraphItem] = {}
        self.features: list[str] = []

    def set_groups(
        self, features: Sequence[str], groups: Sequence[tuple[str, str, np.ndarray, np.ndarray]]
    ) -> None:
        """``groups`` are (run id, colour, mean, std) aligned with ``features``."""
        for item in self.items.values():
            self.plot_item.removeItem(item)
        self.items = {}
        self.features = list(features)
        count = max(len(groups), 1)
        height = 0.8 / count
        for g, (run_id, colour, mean, _std) in enumerate(groups):
            y = np.arange(len(features), dtype=float) - 0.4 + height * (g + 0.5)
            values = np.where(np.isfinite(mean), mean, 0.0)
            item = pg.BarGraphItem(
                x0=np.minimum(values, 0.0),
                y=y,
                width=np.abs(values),
                height=height * 0.9,
                brush=pg.mkBrush(qcolour(colour, 230)),
                pen=pg.mkPen(None),
            )
            self.plot_item.addItem(item)
            self.items[run_id] = item
        self.left_axis.set_labels(self.features)
        self.view_box.enableAutoRange()


class EvaluationPanel(QWidget):
    """Every evaluation overlay the compared runs have data for, or a note that none has."""

    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None, *, compact: bool = False) -> None:
        super().__init__(parent)
        self.compact = compact
        self.runs: list[Run] = []
        self.colours: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.evaluations: dict[str, RunEvaluation] = {}
        self.matrix_mode = QComboBox()
        self.matrix_mode.addItem("Counts", False)
        self.matrix_mode.addItem("Normalised by true class", True)
        self.matrix_mode.setToolTip("What the confusion matrices show")
        self.matrix_mode.currentIndexChanged.connect(lambda _i: self._draw_matrices())
        self.note = QLabel()
        # Charts are made when first needed: most comparisons show only some of them.
        self._charts: dict[str, ChartBase] = {}
        self.matrices: dict[str, ConfusionChart] = {}
        self.matrix_box = QWidget()
        self.matrix_grid = QGridLayout(self.matrix_box)
        self.matrix_grid.setContentsMargins(0, 0, 0, 0)
        self.matrix_grid.setSpacing(8)
        self.matrix_title = QLabel("<b>Confusion matrices</b>")

        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setWidget(body)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._matrix_columns = 0
        self.empty_label = placeholder(NO_DATA_TEXT)
        layout = panel_layout(self)
        if compact:
            layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(
            controls_row(self.note, None, QLabel("Confusion matrices:"), self.matrix_mode)
        )
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.empty_label, 1)
        self.scroll_area.hide()

    def _chart(self, name: str) -> ChartBase:
        chart = self._charts.get(name)
        if chart is None:
            if name == "importances":
                chart = GroupedBarChart()
            else:
                chart = OverlayChart(*CHART_TITLES[name])
                if name == "roc":
                    chart.set_reference([0, 1], [0, 1])
            chart.sig_message.connect(self.sig_message)
            self._charts[name] = chart
        return chart

    @property
    def roc(self) -> OverlayChart:
        """ROC curves of every classifier run (one per class beyond two classes)."""
        return self._chart("roc")  # type: ignore[return-value]

    @property
    def pr(self) -> OverlayChart:
        """Precision-recall curves."""
        return self._chart("pr")  # type: ignore[return-value]

    @property
    def predicted(self) -> OverlayChart:
        """Predicted against actual values of every regressor run."""
        return self._chart("predicted")  # type: ignore[return-value]

    @property
    def residuals(self) -> OverlayChart:
        """Residuals against predicted values."""
        return self._chart("residuals")  # type: ignore[return-value]

    @property
    def importances(self) -> GroupedBarChart:
        """Permutation importances, a bar per run for each feature."""
        return self._chart("importances")  # type: ignore[return-value]

    @property
    def has_data(self) -> bool:
        """Whether any compared run has evaluation data."""
        return any(not e.empty for e in self.evaluations.values())

    def set_data(
        self,
        runs: Sequence[Run],
        colours: Mapping[str, str],
        labels: Mapping[str, str],
        evaluations: Mapping[str, RunEvaluation],
    ) -> None:
        """Draw the overlays for these runs."""
        self.runs, self.colours, self.labels = list(runs), dict(colours), dict(labels)
        self.evaluations = {r.id: evaluations[r.id] for r in runs if r.id in evaluations}
        present = [
            r for r in self.runs if r.id in self.evaluations and not self.evaluations[r.id].empty
        ]
        self.scroll_area.setVisible(bool(present))
        self.empty_label.setVisible(not present)
        problems = [p for e in self.evaluations.values() for p in e.problems]
        if problems:
            self.sig_message.emit(
                "error", f"Some evaluation files could not be read: {problems[0]}"
            )
        missing = len(self.runs) - len(present)
        self.note.setText(
            f"{missing} of {len(self.runs)} runs have no evaluation data"
            if present and missing
            else ""
        )
        self._draw(present)

    def _lines(self, present: Sequence[Run], kind: str) -> tuple[list[Line], list[int]]:
        lines: list[Line] = []
        styles: list[int] = []
        for run in present:
            curves = getattr(self.evaluations[run.id], kind)
            for class_index, curve in enumerate(curves):
                styles.append(class_index)
                label = self.labels[run.id] + (f" · {curve.label}" if len(curves) > 1 else "")
                if curve.area is not None:
                    label += f" (area {curve.area:.3f})"
                lines.append(
                    (f"{run.id}|{curve.label}", label, self.colours[run.id], curve.x, curve.y)
                )
        return lines, styles

    def _draw(self, present: Sequence[Run]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
        charts: list[tuple[QWidget, int]] = []
        (roc, roc_styles), (pr, pr_styles) = self._lines(present, "roc"), self._lines(present, "pr")
        if roc or "roc" in self._charts:
            self.roc.set_lines(roc, styles=roc_styles)
        if pr or "pr" in self._charts:
            self.pr.set_lines(pr, styles=pr_styles)
        if roc:
            charts.append((self.roc, 1))
        if pr:
            charts.append((self.pr, 1))
        self._draw_matrices()
        if self.matrices:
            charts.append((self.matrix_title, 2))
            charts.append((self.matrix_box, 2))
        regressors = [r for r in present if self.evaluations[r.id].predictions is not None]
        points, residuals = [], []
        low, high = np.inf, -np.inf
        for run in regressors:
            p = self.evaluations[run.id].predictions
            assert p is not None
            points.append(
                (run.id, self.labels[run.id], self.colours[run.id], p.actual, p.predicted)
            )
            residuals.append(
                (run.id, self.labels[run.id], self.colours[run.id], p.predicted, p.residuals)
            )
            values = np.asarray(p.actual + p.predicted, dtype=float)
            if np.isfinite(values).any():
                low, high = min(low, float(np.nanmin(values))), max(high, float(np.nanmax(values)))
        if regressors or "predicted" in self._charts:
            self.predicted.set_lines(points, dots=True)
            self.residuals.set_lines(residuals, dots=True)
        if regressors:
            self.predicted.set_reference([low, high], [low, high])
            self.residuals.set_reference([low, high], [0, 0])
            charts += [(self.predicted, 1), (self.residuals, 1)]
        ranked = [
            r for r in present if (imp := self.evaluations[r.id].importances) and imp.features
        ]
        if ranked:
            features: list[str] = []
            for run in ranked:
                features += self.evaluations[run.id].importances.features  # type: ignore[union-attr]
            features = list(dict.fromkeys(features))[:25]
            groups = []
            for run in ranked:
                imp = self.evaluations[run.id].importances
                assert imp is not None
                by = dict(zip(imp.features, zip(imp.mean, imp.std, strict=True), strict=True))
                mean = np.array([by.get(f, (np.nan, np.nan))[0] for f in features], dtype=float)
                std = np.array([by.get(f, (np.nan, np.nan))[1] for f in features], dtype=float)
                groups.append((run.id, self.colours[run.id], mean, std))
            self.importances.set_groups(features, groups)
            metrics = {self.evaluations[r.id].importances.metric for r in ranked}  # type: ignore[union-attr]
            metric = metrics.pop() if len(metrics) == 1 else ""
            self.importances.plot_item.setLabel(
                "bottom", f"drop in {metric}" if metric else "drop in each run's main metric"
            )
            self.importances.setMinimumHeight(max(300, 60 + len(features) * (14 + 6 * len(groups))))
            charts.append((self.importances, 2))
        columns = 1 if self.compact else 2
        row = column = 0
        for widget, span in charts:
            span = min(span, columns)
            if column + span > columns:
                row, column = row + 1, 0
            self.grid.addWidget(widget, row, column, 1, span)
            widget.show()
            column += span
            if column >= columns:
                row, column = row + 1, 0
        self.grid.setRowStretch(row + 1, 1)

    def _draw_matrices(self) -> None:
        normalised = bool(self.matrix_mode.currentData())
        present = [
            r
            for r in self.runs
            if r.id in self.evaluations and self.evaluations[r.id].confusion is not None
        ]
        wanted = {r.id for r in present}
        for run_id in list(self.matrices):
            if run_id not in wanted:
                self.matrices.pop(run_id).deleteLater()
        while self.matrix_grid.count():
            self.matrix_grid.takeAt(0)
        columns = self._fit_matrix_columns()
        self._matrix_columns = columns
        for index, run in enumerate(present):
            chart = self.matrices.get(run.id)
            if chart is None:
                chart = ConfusionChart(elide(self.labels[run.id], 30))
                chart.sig_message.connect(self.sig_message)
                self.matrices[run.id] = chart
            chart.title_label.setStyleSheet(f"color: {self.colours[run.id]};")
            matrix = self.evaluations[run.id].confusion
            assert matrix is not None
            chart.set_matrix(matrix.labels, matrix.counts, normalised)
            self.matrix_grid.addWidget(chart, index // columns, index % columns)
        self.matrix_mode.setEnabled(bool(present))

    def _fit_matrix_columns(self) -> int:
        width = (
            self.scroll_area.viewport().width() if self.scroll_area.isVisible() else self.width()
        )
        return max(1, min(MATRIX_COLUMNS, width // MATRIX_MIN_WIDTH))

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Fit as many confusion matrices in a row as the width allows."""
        super().resizeEvent(event)
        if self.matrices and self._fit_matrix_columns() != self._matrix_columns:
            self._draw_matrices()

    def set_normalised(self, on: bool) -> None:
        """Show confusion matrices as shares of each true class (else as counts)."""
        self.matrix_mode.setCurrentIndex(1 if on else 0)

    def charts(self) -> list[ChartBase]:
        """Every chart with data, for export."""
        made = self._charts
        shown: list[ChartBase] = [made[n] for n in ("roc", "pr") if n in made and made[n].curves]
        shown += list(self.matrices.values())
        shown += [made[n] for n in ("predicted", "residuals") if n in made and made[n].curves]
        if "importances" in made and self.importances.items:
            shown.append(self.importances)
        return shown
