"""The versions table of the Models page: an item model over a ``VersionsTable`` and the
delegate that draws aliases as coloured chips."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop_app.registry.models import ModelVersion
from desktop_app.reports.model_versions import ARCHIVED, VersionsTable
from desktop_app.ui.formatting import format_number, format_time

Index = QModelIndex | QPersistentModelIndex

BEST_BACKGROUND = QColor("#dafbe1")
ARCHIVED_FOREGROUND = QColor("#9aa0a6")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The value a column sorts by (numbers for versions and metrics)."""
ALIASES_ROLE = Qt.ItemDataRole.UserRole + 2
"""The aliases of the row's version, as a list (the chip delegate draws them)."""
VERSION_ROLE = Qt.ItemDataRole.UserRole + 3
"""The row's version number."""

_FIXED_HEAD = ("Version", "Aliases", "Status")
_FIXED_TAIL = ("Source run", "Registered", "Description")


class VersionsTableModel(QAbstractTableModel):
    """One row per version: number, alias chips, status, one column per metric, source run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._table = VersionsTable((), ())
        self._rows: list[ModelVersion] = []
        self._show_archived = False

    # ---- content ---------------------------------------------------------------------------

    def set_table(self, table: VersionsTable, show_archived: bool | None = None) -> None:
        """Show a model's versions (and whether archived ones are listed)."""
        self.beginResetModel()
        self._table = table
        if show_archived is not None:
            self._show_archived = show_archived
        self._rows = table.visible(self._show_archived)
        self.endResetModel()

    def set_show_archived(self, show: bool) -> None:
        """List archived versions (greyed) too, or hide them."""
        self.set_table(self._table, show)

    @property
    def table(self) -> VersionsTable:
        """The versions and metric keys shown."""
        return self._table

    def metric_keys(self) -> tuple[str, ...]:
        """The metric columns, in order."""
        return self._table.metric_keys

    def headers(self) -> list[str]:
        """Every column title, in order."""
        return [*_FIXED_HEAD, *self._table.metric_keys, *_FIXED_TAIL]

    def version_at(self, row: int) -> ModelVersion:
        """The version shown in a row."""
        return self._rows[row]

    def row_of(self, version: int) -> int | None:
        """The row showing a version number, or None when it is hidden or unknown."""
        return next((i for i, v in enumerate(self._rows) if v.version == version), None)

    # ---- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers())

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            headers = self.headers()
            return headers[section] if 0 <= section < len(headers) else None
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            keys = self._table.metric_keys
            metric = section - len(_FIXED_HEAD)
            if 0 <= metric < len(keys):
                return f"{keys[metric]} when the version was registered (best shaded green)"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        version = self._rows[index.row()]
        column = index.column()
        keys = self._table.metric_keys
        offset = column - len(_FIXED_HEAD)
        metric = keys[offset] if 0 <= offset < len(keys) else None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(version, column, metric)
        if role == SORT_ROLE:
            return self._sort_value(version, column, metric)
        if role == ALIASES_ROLE:
            return list(version.aliases)
        if role == VERSION_ROLE:
            return version.version
        if role == Qt.ItemDataRole.ForegroundRole and version.status == ARCHIVED:
            return QBrush(ARCHIVED_FOREGROUND)
        if metric is not None and version.version in self._table.best.get(metric, ()):
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(BEST_BACKGROUND)
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
        if role == Qt.ItemDataRole.FontRole and version.status == ARCHIVED:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(version, column, metric)
        if role == Qt.ItemDataRole.TextAlignmentRole and (metric is not None or column == 0):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, version: ModelVersion, column: int, metric: str | None) -> str:
        if metric is not None:
            value = version.metrics.get(metric)
            return "" if value is None else format_number(float(value))
        tail = column - len(_FIXED_HEAD) - len(self._table.metric_keys)
        texts = {
            0: f"v{version.version}",
            1: ", ".join(version.aliases),
            2: version.status,
        }
        if column in texts:
            return texts[column]
        if tail == 0:
            run_id = version.run_id or ""
            return self._table.run_names.get(run_id) or run_id[:12] or "—"
        if tail == 1:
            return format_time(version.created_at)
        return version.description.splitlines()[0] if version.description else ""

    def _sort_value(self, version: ModelVersion, column: int, metric: str | None) -> Any:
        if metric is not None:
            value = version.metrics.get(metric)
            return float("-inf") if value is None else float(value)
        if column == 0:
            return version.version
        if column - len(_FIXED_HEAD) - len(self._table.metric_keys) == 1:
            return version.created_at
        return self._text(version, column, metric)

    def _tooltip(self, version: ModelVersion, column: int, metric: str | None) -> str | None:
        if column == 1 and version.aliases:
            return "Right-click to serve or remove an alias"
        if column == len(_FIXED_HEAD) + len(self._table.metric_keys) and version.run_id:
            if version.run_id in self._table.run_names:
                return f"Run {version.run_id}"
            return f"Run {version.run_id} (no longer in the registry)"
        if metric is not None and version.version in self._table.best.get(metric, ()):
            return f"Best {metric} among the versions not archived"
        return None


class AliasChipDelegate(QStyledItemDelegate):
    """Draws a version's aliases as rounded coloured chips (champion gold, challenger blue)."""

    COLOURS: ClassVar[dict[str, tuple[str, str]]] = {
        "champion": ("#fff3c4", "#7a5900"),
        "challenger": ("#dbe9ff", "#0b3d91"),
    }
    OTHER = ("#e9ecef", "#343a40")
    PADDING = 6
    GAP = 4

    @classmethod
    def colours(cls, alias: str) -> tuple[str, str]:
        """The (background, text) colours of an alias chip."""
        return cls.COLOURS.get(alias, cls.OTHER)

    def _font(self, option: QStyleOptionViewItem) -> QFont:
        font = QFont(option.font)
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        return font

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        aliases = index.data(ALIASES_ROLE) or []
        # The cell background and selection come from the style; the chips go on top.
        self.initStyleOption(option, index)
        option.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        if not aliases:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = self._font(option)
        metrics = QFontMetrics(font)
        painter.setFont(font)
        rect: QRect = option.rect
        height = min(rect.height() - 4, metrics.height() + 4)
        x = rect.left() + self.GAP
        y = rect.top() + (rect.height() - height) // 2
        for alias in aliases:
            width = metrics.horizontalAdvance(alias) + 2 * self.PADDING
            if x + width > rect.right():
                break
            background, text = self.colours(alias)
            chip = QRect(x, y, width, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(background))
            painter.drawRoundedRect(chip, height / 2, height / 2)
            painter.setPen(QColor(text))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, alias)
            x += width + self.GAP
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        aliases = index.data(ALIASES_ROLE) or []
        base = super().sizeHint(option, index)
        metrics = QFontMetrics(self._font(option))
        width = sum(metrics.horizontalAdvance(a) + 2 * self.PADDING + self.GAP for a in aliases)
        return QSize(max(base.width(), width + self.GAP, 60), max(base.height(), 22))
