"""The compared runs as a table that doubles as the legend: colour, name, experiment, status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from desktop_app.registry import Run
from desktop_app.reports.diff import rows_to_csv
from desktop_app.ui.compare.common import swatch

COLUMNS = ("Run", "Experiment", "Status")
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 11
ModelIndex = QModelIndex | QPersistentModelIndex


class RunsLegendModel(QAbstractTableModel):
    """One row per compared run, in compare order, with its colour swatch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self.labels: dict[str, str] = {}
        self.colours: dict[str, str] = {}
        self._swatches: dict[str, QPixmap] = {}

    def set_runs(
        self, runs: Sequence[Run], colours: Mapping[str, str], labels: Mapping[str, str]
    ) -> None:
        """Show these runs; a refresh of the same runs updates the rows in place."""
        same = [r.id for r in runs] == [r.id for r in self.runs]
        self.labels = dict(labels)
        self.colours = dict(colours)
        self._swatches = {run_id: swatch(colour) for run_id, colour in self.colours.items()}
        if same and self.runs:
            self.runs = list(runs)
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.runs) - 1, len(COLUMNS) - 1)
            )
            return
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """One row per run."""
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Run, experiment, status."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Texts, the colour swatch, the run id and tooltips."""
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return self.labels.get(run.id, run.name)
            return run.experiment_name if column == 1 else str(run.status)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._swatches.get(run.id)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return f"{run.name}\n{run.id}"
        if role == RUN_ID_ROLE:
            return run.id
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def row_of(self, run_id: str) -> int:
        """The row of a run, or -1."""
        for row, run in enumerate(self.runs):
            if run.id == run_id:
                return row
        return -1

    def to_csv(self) -> str:
        """The runs as CSV: label, name, id, experiment, status, colour."""
        return rows_to_csv(
            ["label", "name", "id", "experiment", "status", "colour"],
            [
                [
                    self.labels.get(r.id, r.name),
                    r.name,
                    r.id,
                    r.experiment_name,
                    str(r.status),
                    self.colours.get(r.id, ""),
                ]
                for r in self.runs
            ],
        )


class RunsLegendView(QTableView):
    """The legend table: selecting rows selects runs in every chart."""

    sig_selection_changed = Signal(list)
    """The selected run ids, in compare order."""
    sig_run_activated = Signal(str)
    """Run id: the user double-clicked a run (open it in the main window)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend_model = RunsLegendModel(self)
        self.setModel(self.legend_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(1, 96)
        self.setAccessibleName("Compared runs")
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self.doubleClicked.connect(self._on_double_clicked)
        self._quiet = False

    def selected_run_ids(self) -> list[str]:
        """The selected runs in compare order."""
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self.legend_model.runs[r].id for r in rows]

    def select_runs(self, run_ids: Sequence[str]) -> None:
        """Select exactly these runs (and scroll to the first)."""
        model = self.legend_model
        selection = QItemSelection()
        rows = sorted(r for r in (model.row_of(i) for i in run_ids) if r >= 0)
        for row in rows:
            selection.select(model.index(row, 0), model.index(row, len(COLUMNS) - 1))
        self._quiet = True
        try:
            self.selectionModel().select(
                selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        finally:
            self._quiet = False
        if rows:
            self.scrollTo(model.index(rows[0], 0))
        self.sig_selection_changed.emit(self.selected_run_ids())

    def _on_selection(self, *_: object) -> None:
        if not self._quiet:
            self.sig_selection_changed.emit(self.selected_run_ids())

    def _on_double_clicked(self, index: QModelIndex) -> None:
        run_id = index.data(RUN_ID_ROLE)
        if run_id:
            self.sig_run_activated.emit(run_id)
