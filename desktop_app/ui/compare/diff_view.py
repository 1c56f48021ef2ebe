"""Params and final metrics side by side: a column per run, differences marked, best highlighted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QWidget,
)

from desktop_app.errors import AppError
from desktop_app.registry import Run
from desktop_app.reports.diff import DiffRow, DiffTable, build_diff
from desktop_app.ui.compare.common import (
    ask_save_path,
    controls_row,
    panel_layout,
    placeholder,
    swatch,
    write_text,
)

BEST_BACKGROUND = QColor("#dafbe1")
DIFF_BACKGROUND = QColor("#fff8c5")
FIXED_COLUMNS = ("Kind", "Key")
ModelIndex = QModelIndex | QPersistentModelIndex


class DiffTableModel(QAbstractTableModel):
    """Rows are params then metrics; columns are Kind, Key and one per run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = DiffTable((), ())
        self.labels: list[str] = []
        self._swatches: list[QPixmap] = []
        self.rows: list[DiffRow] = []
        self.only_differences = False
        self.filter_text = ""
        self._bold = QFont()
        self._bold.setBold(True)

    def set_table(self, table: DiffTable, labels: Sequence[str], colours: Sequence[str]) -> None:
        """Show a new diff table; the same rows and runs (a live refresh) update in place."""
        before = [(r.kind, r.key) for r in self.rows]
        same_runs = table.run_ids == self.table.run_ids and list(labels) == self.labels
        self.table = table
        if same_runs:
            rows = self.rows
            self._refilter()
            if [(r.kind, r.key) for r in self.rows] == before and self.rows:
                # Values changed only: keep the view's scroll position and selection.
                last = self.index(len(self.rows) - 1, self.columnCount() - 1)
                self.dataChanged.emit(self.index(0, 0), last)
                return
            self.rows = rows
        self.beginResetModel()
        self.labels = list(labels)
        self._swatches = [swatch(c) for c in colours]
        self._refilter()
        self.endResetModel()

    def set_only_differences(self, on: bool) -> None:
        """Hide rows whose value is the same in every run."""
        self.beginResetModel()
        self.only_differences = on
        self._refilter()
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        """Show only keys containing ``text`` (case-insensitive)."""
        self.beginResetModel()
        self.filter_text = text.strip().casefold()
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        rows = self.table.visible(self.only_differences)
        if self.filter_text:
            rows = [r for r in rows if self.filter_text in r.key.casefold()]
        self.rows = rows

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Visible rows."""
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Kind, key and a column per run."""
        return 0 if parent.isValid() else len(FIXED_COLUMNS) + len(self.labels)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell texts; the best metric values bold on green; differing keys on amber."""
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        run_index = column - len(FIXED_COLUMNS)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == 0:
                return row.kind
            if column == 1:
                return row.key
            text = row.texts[run_index]
            if role == Qt.ItemDataRole.ToolTipRole:
                number = row.numbers[run_index]
                best = " (best)" if run_index in row.best else ""
                return (
                    repr(number) if row.kind == "metric" and number is not None else text
                ) + best
            return text
        if role == Qt.ItemDataRole.BackgroundRole:
            if run_index >= 0 and run_index in row.best:
                return QBrush(BEST_BACKGROUND)
            if column == 1 and row.differs and len(self.labels) > 1:
                return QBrush(DIFF_BACKGROUND)
            return None
        if role == Qt.ItemDataRole.FontRole and run_index >= 0 and run_index in row.best:
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and run_index >= 0 and row.kind == "metric":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Kind, Key, then each run's label with its colour."""
        if orientation != Qt.Orientation.Horizontal:
            return None
        if section < len(FIXED_COLUMNS):
            return FIXED_COLUMNS[section] if role == Qt.ItemDataRole.DisplayRole else None
        index = section - len(FIXED_COLUMNS)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.labels[index]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._swatches[index]
        return None

    def to_csv(self) -> str:
        """The visible rows as CSV (kind, key, a column per run)."""
        return DiffTable(self.table.run_ids, tuple(self.rows)).to_csv(self.labels)


class DiffPanel(QWidget):
    """The diff table with its "only differences" switch, a key filter and CSV export."""

    sig_message = Signal(str, str)
    """Level and text of a message for the owner's banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = DiffTableModel(self)
        self.only_differences = QCheckBox("Only differences")
        self.only_differences.setToolTip("Hide params and metrics that are the same in every run")
        self.only_differences.toggled.connect(self.model.set_only_differences)
        self.only_differences.toggled.connect(self._update_count)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter keys…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(260)
        self.filter_edit.textChanged.connect(self.model.set_filter)
        self.filter_edit.textChanged.connect(self._update_count)
        self.count_label = QLabel()
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self._ask_csv)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(130)
        header.setMinimumSectionSize(60)
        self.empty_label = placeholder("These runs logged no params or metrics.")
        self.empty_label.hide()
        legend = QLabel(
            "<span style='background:#dafbe1'>&nbsp;best&nbsp;</span> value of each metric · "
            "<span style='background:#fff8c5'>&nbsp;key&nbsp;</span> differs between runs"
        )
        layout = panel_layout(self)
        layout.addLayout(
            controls_row(
                self.only_differences,
                self.filter_edit,
                None,
                legend,
                self.count_label,
                self.csv_button,
            )
        )
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_label, 1)

    def set_runs(
        self, runs: Sequence[Run], colours: Mapping[str, str], labels: Mapping[str, str]
    ) -> None:
        """Rebuild the table for these runs (keeps the switch and the filter)."""
        table = build_diff(runs)
        self.model.set_table(table, [labels[r.id] for r in runs], [colours[r.id] for r in runs])
        self.view.setColumnWidth(0, 64)
        self.view.setColumnWidth(1, 200)
        self.view.setVisible(bool(table.rows))
        self.empty_label.setVisible(not table.rows)
        self._update_count()

    def visible_keys(self) -> list[tuple[str, str]]:
        """The (kind, key) of each row shown."""
        return [(row.kind, row.key) for row in self.model.rows]

    def save_csv(self, path: str | Path) -> Path:
        """Write the rows shown as CSV."""
        return write_text(path, self.model.to_csv())

    def _ask_csv(self) -> None:
        path = ask_save_path(self, "Export table as CSV", "comparison.csv", "CSV file (*.csv)")
        if not path:
            return
        try:
            saved = self.save_csv(path)
        except AppError as exc:
            self.sig_message.emit("error", exc.message)
            return
        self.sig_message.emit("info", f"Saved {saved}")

    def _update_count(self) -> None:
        total = len(self.model.table.rows)
        shown = len(self.model.rows)
        differing = sum(r.differs for r in self.model.table.rows)
        self.count_label.setText(f"{shown} of {total} rows · {differing} differ")
