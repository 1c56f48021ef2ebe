"""Pieces every compare chart shares: a titled plot with an export menu, colours, axis styling."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import AppError
from desktop_app.ui.metric_chart import MetricChart, pg

EXPORT_ERROR = "EXPORT_FAILED"
CHART_MIN_HEIGHT = 230


def qcolour(hex_colour: str, alpha: int = 255) -> QColor:
    """A QColor from ``#rrggbb`` with an alpha."""
    colour = QColor(hex_colour)
    colour.setAlpha(alpha)
    return colour


def swatch(hex_colour: str, size: int = 11) -> QPixmap:
    """A small square of a run's colour, for legends and table headers."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(hex_colour))
    return pixmap


def style_axis(chart: MetricChart, axis: pg.AxisItem) -> None:
    """Give an axis the muted pens and small font of the chart's other axes."""
    foreground = chart.palette().color(QPalette.ColorRole.Text)
    axis.setPen(pg.mkPen(QColor(foreground.red(), foreground.green(), foreground.blue(), 110)))
    axis.setTextPen(pg.mkPen(foreground))
    small = QFont(chart.font())
    small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
    axis.setStyle(tickFont=small, tickTextOffset=3, maxTickLevel=1)
    # "×0.001" beside an axis title confuses more than it helps: ticks carry their own digits.
    axis.enableAutoSIPrefix(False)


def exact(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """Draw every point of an item already on a plot: no downsampling, no clipping to the view.

    For NaN-separated polylines and curves whose x is not sorted (precision-recall), where
    pyqtgraph's peak downsampling and clip-to-view would drop or join the wrong points.
    """
    item.setDownsampling(ds=1, auto=False)
    item.setClipToView(False)
    return item


def png_bytes(image: QImage) -> bytes:
    """An image encoded as PNG."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    return bytes(buffer.data().data())


def write_text(path: str | Path, text: str) -> Path:
    """Write a text export (CSV) as UTF-8; an OSError becomes an AppError for the banner."""
    target = Path(path)
    try:
        target.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise AppError(
            f"Could not write {target}: {exc.strerror or exc}", code=EXPORT_ERROR
        ) from exc
    return target


def ask_save_path(parent: QWidget, caption: str, name: str, filters: str) -> str:
    """Ask where to save a file; empty when the user cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(Path.home() / name), filters)
    return path


def _file_stem(title: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in title.strip())
    return keep.strip("-") or "chart"


class ChartBase(MetricChart):
    """A titled plot (the run detail's chart, grown to fill its cell) with Copy / PNG / SVG export.

    Expected export failures go out as ``sig_message`` for the owner's banner.
    """

    sig_message = Signal(str, str)
    """Level ("error" or "info") and text of a message for the owner's banner."""

    def __init__(
        self, title: str, parent: QWidget | None = None, *, min_height: int = CHART_MIN_HEIGHT
    ) -> None:
        super().__init__(title, parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(min_height)
        self.plot_widget.setMinimumHeight(min_height - 40)
        for name in ("left", "bottom"):
            axis = self.plot_item.getAxis(name)
            axis.enableAutoSIPrefix(False)
            # Major and minor grid lines only: the faint third level costs a lot per frame.
            axis.setStyle(maxTickLevel=1)
        self.plot_item.getAxis("left").setWidth(52)
        self.plot_item.getAxis("bottom").setHeight(26)
        self.export_button = QToolButton()
        self.export_button.setText("⋯")
        self.export_button.setAutoRaise(True)
        self.export_button.setToolTip("Copy or save this chart")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Copy image", self.copy_image)
        menu.addAction("Save as PNG…", lambda: self._ask_and_save("png"))
        menu.addAction("Save as SVG…", lambda: self._ask_and_save("svg"))
        self.export_button.setMenu(menu)
        layout = self.layout()
        row = layout.itemAt(0) if layout is not None else None
        header = row.layout() if row is not None else None
        assert header is not None, "MetricChart's header row"
        header.addWidget(self.export_button)

    def sizeHint(self) -> QSize:
        """Room for a readable chart: two side by side in a wide window."""
        return QSize(460, 290)

    def minimumSizeHint(self) -> QSize:
        """Never squeeze a chart below a readable size."""
        return QSize(240, self.minimumHeight())

    def set_title(self, title: str) -> None:
        """Change the chart's title."""
        self.title = title
        self.title_label.setText(title)
        self.title_label.setToolTip(title)

    # ---- export ------------------------------------------------------------------------------

    def to_image(self) -> QImage:
        """The chart as a picture: its title above the plot, without the export button."""
        plot = self.plot_widget.grab().toImage()
        title_height = self.title_label.sizeHint().height() + 8
        image = QImage(
            plot.width(), plot.height() + title_height, QImage.Format.Format_ARGB32_Premultiplied
        )
        image.setDevicePixelRatio(plot.devicePixelRatio())
        image.fill(self.palette().color(QPalette.ColorRole.Base))
        painter = QPainter(image)
        painter.setFont(self.title_label.font())
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        ratio = plot.devicePixelRatio() or 1.0
        painter.drawText(8, 4, int(plot.width() / ratio) - 16, title_height - 4, 0, self.title)
        painter.drawImage(0, title_height, plot)
        painter.end()
        return image

    def png(self) -> bytes:
        """The chart as PNG bytes."""
        return png_bytes(self.to_image())

    def copy_image(self) -> None:
        """Put the chart's picture on the clipboard."""
        QGuiApplication.clipboard().setImage(self.to_image())
        self.sig_message.emit("info", f"Copied the chart {self.title!r} to the clipboard.")

    def save_png(self, path: str | Path) -> Path:
        """Save the chart as a PNG file."""
        target = Path(path)
        if not self.to_image().save(str(target), "PNG"):  # type: ignore[call-overload]
            raise AppError(f"Could not write the image {target}.", code=EXPORT_ERROR)
        return target

    def save_svg(self, path: str | Path) -> Path:
        """Save the chart as an SVG file: its title and the plot as vector shapes, as drawn."""
        from PySide6.QtSvg import QSvgGenerator

        target = Path(path)
        width, height = self.plot_widget.width(), self.plot_widget.height()
        title_height = self.title_label.sizeHint().height() + 8
        generator = QSvgGenerator()
        generator.setFileName(str(target))
        generator.setSize(QSize(width, height + title_height))
        generator.setViewBox(QRect(0, 0, width, height + title_height))
        generator.setTitle(self.title)
        generator.setDescription("A chart exported from ModelDesk")
        painter = QPainter()
        if not painter.begin(generator):
            raise AppError(f"Could not write {target}.", code=EXPORT_ERROR)
        try:
            painter.fillRect(
                0, 0, width, height + title_height, self.palette().color(QPalette.ColorRole.Base)
            )
            painter.setFont(self.title_label.font())
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
            painter.drawText(8, 4, width - 16, title_height - 4, 0, self.title)
            # pyqtgraph's own SVG exporter trips over the paths recent Qt versions write, so
            # render the scene through Qt's SVG generator instead.
            self.plot_widget.scene().render(
                painter, QRectF(0, title_height, width, height), self.plot_widget.sceneRect()
            )
        finally:
            painter.end()
        if not target.exists():
            raise AppError(f"Could not write {target}.", code=EXPORT_ERROR)
        return target

    def _ask_and_save(self, kind: str) -> None:
        filters = "PNG image (*.png)" if kind == "png" else "SVG image (*.svg)"
        path = ask_save_path(
            self, f"Save chart as {kind.upper()}", f"{_file_stem(self.title)}.{kind}", filters
        )
        if not path:
            return
        try:
            saved = self.save_png(path) if kind == "png" else self.save_svg(path)
        except AppError as exc:
            self.sig_message.emit("error", exc.message)
            return
        self.sig_message.emit("info", f"Saved {saved}")


def placeholder(text: str) -> QLabel:
    """A centred, muted message shown where a chart has nothing to draw."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    palette = label.palette()
    colour = palette.color(QPalette.ColorRole.WindowText)
    colour.setAlpha(150)
    palette.setColor(QPalette.ColorRole.WindowText, colour)
    label.setPalette(palette)
    return label


def controls_row(*widgets: QWidget | None) -> QHBoxLayout:
    """A row of controls above a chart; ``None`` is a stretch."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(8)
    for widget in widgets:
        if widget is None:
            row.addStretch(1)
        else:
            row.addWidget(widget)
    return row


def separator() -> QFrame:
    """A thin vertical line between groups of controls."""
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def panel_layout(widget: QWidget) -> QVBoxLayout:
    """The standard margins of a compare tab."""
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(8, 8, 8, 8)
    layout.setSpacing(6)
    return layout


def elide(text: str, limit: int) -> str:
    """Text cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LabelAxis(pg.AxisItem):
    """An axis whose integer positions carry text labels (runs, categories), thinned to fit."""

    def __init__(self, orientation: str, *, chars: int = 24, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.labels: list[str] = []
        self.chars = chars

    def set_labels(self, labels: list[str]) -> None:
        """The label at position 0, 1, 2…"""
        self.labels = list(labels)
        self.picture = None
        self.update()

    def tickValues(
        self, minVal: float, maxVal: float, size: float
    ) -> list[tuple[float, list[float]]]:
        """Every label that fits without overlapping (every n-th when crowded)."""
        if not self.labels:
            return []
        minVal, maxVal = sorted((minVal, maxVal))  # an inverted view gives them reversed
        vertical = self.orientation in ("left", "right")
        room = 15.0 if vertical else 7.0 * min(self.chars, max(len(t) for t in self.labels)) + 12
        span = max(maxVal - minVal, 1e-9)
        step = max(1, math.ceil(span / max(size / room, 1.0)))
        first = max(0, math.ceil(minVal))
        last = min(len(self.labels) - 1, math.floor(maxVal))
        start = first + (-first % step)
        return [(float(step), [float(v) for v in range(start, last + 1, step)])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """The labels at these positions, elided."""
        out = []
        for value in values:
            index = round(value)
            out.append(
                elide(self.labels[index], self.chars) if 0 <= index < len(self.labels) else ""
            )
        return out
