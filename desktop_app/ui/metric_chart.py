"""A small chart of one metric: step on x, value on y, one curve per series, updated in place."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
# pyqtgraph is imported after PySide6 and the variable above, so it binds to PySide6.
import pyqtgraph as pg

# Colour-blind-safe (Okabe–Ito) colours, one per series in order.
SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
CHART_MIN_HEIGHT = 160
CHART_HEIGHT = 190


def format_value(value: float, digits: int = 6) -> str:
    """A metric value in at most ``digits`` significant digits (NaN and infinities spelled out)."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}g}"


SYMBOL_LIMIT = 40


class MetricChart(QFrame):
    """A titled pyqtgraph plot of one metric whose curves are built once and fed new arrays."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._summary_text = ""
        self.setObjectName("MetricChart")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(CHART_MIN_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.title_label = QLabel(title)
        bold = QFont(self.title_label.font())
        bold.setBold(True)
        self.title_label.setFont(bold)
        self.title_label.setToolTip(title)
        self.title_label.setMinimumWidth(40)
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.value_label = QLabel()
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted = self.value_label.palette()
        muted.setColor(QPalette.ColorRole.WindowText, self._muted_colour())
        self.value_label.setPalette(muted)

        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        self.plot_widget = pg.PlotWidget(background=background)
        self.plot_widget.setMinimumHeight(CHART_MIN_HEIGHT - 40)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(x=True, y=True, alpha=0.15)
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setClipToView(True)
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        axis_pen = pg.mkPen(QColor(foreground.red(), foreground.green(), foreground.blue(), 110))
        for name in ("left", "bottom"):
            axis = self.plot_item.getAxis(name)
            axis.setPen(axis_pen)
            axis.setTextPen(pg.mkPen(foreground))
            axis.setStyle(tickFont=small, tickTextOffset=3)
        self.plot_item.getAxis("left").setWidth(44)
        self.plot_item.getAxis("bottom").setHeight(22)
        self.view_box = self.plot_item.getViewBox()

        self._marker = pg.ScatterPlotItem(size=7, pen=pg.mkPen(background, width=1.5))
        self._marker.setZValue(10)
        self._marker.hide()
        self.plot_item.addItem(self._marker, ignoreBounds=True)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot_widget.installEventFilter(self)

        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        header.setSpacing(6)
        header.addWidget(self.title_label, 1)
        header.addWidget(self.value_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.plot_widget, 1)

    def sizeHint(self) -> QSize:
        """A compact chart: wide enough for two side by side, tall enough to read."""
        return QSize(320, CHART_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        """Never squeeze a chart below a readable size."""
        return QSize(160, CHART_MIN_HEIGHT)

    # ---- data --------------------------------------------------------------------------------

    @property
    def curves(self) -> dict[str, pg.PlotDataItem]:
        """The curve of each series by name (the same objects for the chart's whole life)."""
        return dict(self._curves)

    def curve(self, name: str) -> pg.PlotDataItem | None:
        """The curve of one series, if it was ever given data."""
        return self._curves.get(name)

    def set_series(self, name: str, steps: np.ndarray, values: np.ndarray) -> pg.PlotDataItem:
        """Give a series new arrays; its curve is created on first use and reused afterwards."""
        curve = self._curves.get(name)
        if curve is None:
            colour = SERIES_COLOURS[len(self._curves) % len(SERIES_COLOURS)]
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=1), name=name, connect="finite")
            # addItem applies the plot's downsampling settings; set the curve's own after it.
            self.plot_item.addItem(curve)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self._curves[name] = curve
        if np.isinf(values).any():
            # Infinite values would blow up the auto-range; draw them as gaps instead.
            values = np.where(np.isinf(values), np.nan, values)
        self._keep_range_sane(curve, steps)
        # Few points are hard to see as a thin line: mark each one.
        few = len(steps) <= SYMBOL_LIMIT
        curve.setData(
            steps,
            values,
            symbol="o" if few else None,
            symbolSize=5,
            symbolPen=None,
            symbolBrush=curve.opts["pen"].color(),
        )
        return curve

    def remove_series(self, name: str) -> None:
        """Take a series' curve off the chart."""
        curve = self._curves.pop(name, None)
        if curve is not None:
            self.plot_item.removeItem(curve)

    def clear_data(self) -> None:
        """Empty every curve (keeping the curve objects) and go back to automatic ranges."""
        for curve in self._curves.values():
            curve.setData([], [])
        self._marker.hide()
        self.view_box.enableAutoRange()

    def set_summary_text(self, text: str) -> None:
        """The text shown at the top right when the mouse is not over the plot."""
        self._summary_text = text
        if not self._marker.isVisible():
            self.value_label.setText(text)

    def _keep_range_sane(self, curve: pg.PlotDataItem, steps: np.ndarray) -> None:
        # With auto-downsampling, data much narrower than the current view downsamples to
        # nothing, leaving no bounds to auto-range on; so reset the x range when data shrinks.
        if not self.view_box.autoRangeEnabled()[0] or steps.size == 0:
            return
        old = curve.getOriginalDataset()[0]
        if old is None or len(old) == 0:
            return
        if float(steps[-1] - steps[0]) < float(old[-1] - old[0]):
            self.view_box.setXRange(float(steps[0]), float(steps[-1]), padding=0)
            self.view_box.enableAutoRange(x=True)

    # ---- hover -------------------------------------------------------------------------------

    def point_near(self, x: float, y: float | None = None) -> tuple[str, int, float] | None:
        """The (series, step, value) of the point nearest to ``x`` (and then ``y``), if any."""
        best: tuple[float, str, int, float] | None = None
        for name, curve in self._curves.items():
            steps, values = curve.getOriginalDataset()
            if steps is None or len(steps) == 0:
                continue
            index = int(np.searchsorted(steps, x))
            candidates = [i for i in (index - 1, index) if 0 <= i < len(steps)]
            i = min(candidates, key=lambda c: abs(float(steps[c]) - x))
            value = float(values[i])
            distance = 0.0 if y is None or np.isnan(value) else abs(value - y)
            if best is None or distance < best[0]:
                best = (distance, name, int(steps[i]), value)
        return None if best is None else best[1:]

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        point = self.view_box.mapSceneToView(scene_pos)
        found = self.point_near(point.x(), point.y())
        if found is None:
            self._hide_hover()
            return
        name, step, value = found
        self.value_label.setText(f"step {step}: {format_value(value)}")
        if np.isfinite(value):
            colour = self._curves[name].opts["pen"].color()
            self._marker.setData([step], [value], brush=pg.mkBrush(colour))
            self._marker.show()
        else:
            self._marker.hide()

    def _hide_hover(self) -> None:
        self._marker.hide()
        self.value_label.setText(self._summary_text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Hide the hover read-out when the mouse leaves the plot."""
        if watched is self.plot_widget and event.type() == QEvent.Type.Leave:
            self._hide_hover()
        return super().eventFilter(watched, event)

    def _muted_colour(self) -> QColor:
        colour = self.palette().color(QPalette.ColorRole.WindowText)
        colour.setAlpha(150)
        return colour
