"""The run detail panel: overview, params, metrics with charts, tags and note, artifacts.

Every registry call runs in the panel's ``workers.TaskGroup``; results come back as signals and
are applied in place, so a refresh keeps the user's tab, scroll position, sort order and unsaved
edits. Run it on its own with ``python -m desktop_app.ui.run_detail`` for a preview.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QResizeEvent,
    QShortcut,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import NotFoundError
from desktop_app.registry import Artifact, MetricSeries, MetricSummary, Registry, Run, RunStatus
from desktop_app.ui.code_view import CodePanel
from desktop_app.ui.formatting import format_duration, human_size
from desktop_app.ui.formatting import format_full_time as format_time
from desktop_app.ui.metric_chart import MetricChart, format_value
from desktop_app.ui.run_detail_data import (
    RunSnapshot,
    export_artifact,
    load_snapshot,
    read_series,
)
from desktop_app.ui.workers import Outcome, TaskGroup

EMPTY_TEXT = "Select a run to see its details"
STATUS_COLOURS = {
    RunStatus.QUEUED: "#6e7781",
    RunStatus.RUNNING: "#0969da",
    RunStatus.FINISHED: "#1a7f37",
    RunStatus.FAILED: "#cf222e",
    RunStatus.KILLED: "#9a6700",
}
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
STYLE_ROLE = Qt.ItemDataRole.UserRole + 3
TWO_COLUMN_MIN_WIDTH = 440


# ---- formatting ------------------------------------------------------------------------------


def reason_summary(reason: str) -> str:
    """The most telling line of a failure reason: the last line of a traceback, else the first."""
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def _muted(widget: QWidget) -> None:
    palette = widget.palette()
    colour = palette.color(QPalette.ColorRole.WindowText)
    colour.setAlpha(150)
    palette.setColor(QPalette.ColorRole.WindowText, colour)
    widget.setPalette(palette)


def _monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _scaled_font(widget: QWidget, factor: float, *, bold: bool = False) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(bold)
    return font


# ---- small widgets ---------------------------------------------------------------------------


class Banner(QFrame):
    """A dismissable message strip for expected errors and notices, cleared by the next success."""

    STYLES: ClassVar[dict[str, tuple[str, str, str]]] = {
        "error": ("#fdecea", "#f1aeb5", "#842029"),
        "info": ("#e7f1fb", "#a9c9ee", "#0b3d6e"),
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.level = "error"
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 4, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str, level: str = "error", detail: str = "") -> None:
        """Show a message ("error" or "info"); ``detail`` goes to the tooltip."""
        self.level = level
        background, border, text = self.STYLES[level]
        self.setStyleSheet(
            f"#Banner {{ background: {background}; border: 1px solid {border}; "
            f"border-radius: 4px; }} #Banner QLabel {{ color: {text}; }}"
        )
        self.label.setText(message)
        self.label.setToolTip(detail)
        self.show()

    def clear(self) -> None:
        """Hide the banner."""
        self.label.clear()
        self.hide()

    def message(self) -> str:
        """The text shown, or "" when hidden."""
        return "" if self.isHidden() else self.label.text()


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" instead of growing the layout."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        """Set the text to show (elided to fit) and to put in the tooltip."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The text before eliding."""
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Re-elide to the new width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.width(), 20)
        super().setText(
            self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        )


class ValueField(QLineEdit):
    """Read-only, frameless text that looks like a label but can be selected and scrolled."""

    def __init__(self, parent: QWidget | None = None, *, mono: bool = False) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFrame(False)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Base, QColor(0, 0, 0, 0))
        self.setPalette(palette)
        self.setTextMargins(0, 0, 0, 0)
        if mono:
            self.setFont(_monospace())

    def set_value(self, text: str) -> None:
        """Show ``text`` from its start, with the whole of it in the tooltip when long."""
        if text != self.text():
            self.setText(text)
            self.setCursorPosition(0)
        self.setToolTip(text if len(text) > 40 else "")


def add_shortcut(
    keys: QKeySequence | QKeySequence.StandardKey,
    parent: QWidget,
    slot: Callable[[], None],
    context: Qt.ShortcutContext,
) -> QShortcut:
    """A keyboard shortcut on ``parent`` that calls ``slot``."""
    shortcut = QShortcut(QKeySequence(keys), parent)
    shortcut.setContext(context)
    shortcut.activated.connect(slot)
    return shortcut


def status_pill(label: QLabel, status: RunStatus) -> None:
    """Style a label as a coloured status badge."""
    if label.text() == str(status):
        return
    label.setText(str(status))
    label.setStyleSheet(
        f"QLabel {{ background: {STATUS_COLOURS[status]}; color: white; border-radius: 8px; "
        "padding: 1px 8px; font-weight: 600; }"
    )
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)


# ---- table models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, how it sorts, and a little styling."""

    text: str
    sort: Any = None
    tooltip: str = ""
    bold: bool = False
    mono: bool = False
    right: bool = False


def _as_cell(value: Cell | str) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


def sync_rows(
    model: QStandardItemModel,
    rows: Mapping[str, Sequence[Cell | str]],
    *,
    editable_columns: Sequence[int] = (),
) -> None:
    """Make ``model`` hold exactly ``rows`` (keyed by their id), changing only what differs.

    Rows are updated in place rather than rebuilt, so views keep their selection, scroll
    position and sort order across refreshes.
    """
    present = {model.item(r, 0).data(KEY_ROLE): r for r in range(model.rowCount())}
    for row in sorted((r for key, r in present.items() if key not in rows), reverse=True):
        model.removeRow(row)
    present = {model.item(r, 0).data(KEY_ROLE): r for r in range(model.rowCount())}
    for key, cells in rows.items():
        row = present.get(key)
        if row is None:
            items = [QStandardItem() for _ in cells]
            for column, item in enumerate(items):
                item.setEditable(column in editable_columns)
                _fill_item(item, _as_cell(cells[column]))
            items[0].setData(key, KEY_ROLE)
            model.appendRow(items)
        else:
            for column, cell in enumerate(cells):
                _fill_item(model.item(row, column), _as_cell(cell))


def _fill_item(item: QStandardItem, cell: Cell) -> None:
    sort = cell.sort if cell.sort is not None else cell.text.casefold()
    if item.text() != cell.text:
        item.setText(cell.text)
    if item.data(SORT_ROLE) != sort:
        item.setData(sort, SORT_ROLE)
    tooltip = cell.tooltip or (cell.text if len(cell.text) > 60 else "")
    if item.toolTip() != tooltip:
        item.setToolTip(tooltip)
    style = f"{int(cell.mono)}{int(cell.bold)}"
    if item.data(STYLE_ROLE) != style:
        font = _monospace() if cell.mono else QFont()
        font.setBold(cell.bold)
        item.setFont(font)
        item.setData(style, STYLE_ROLE)
    if cell.right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _sortable_number(value: float) -> float:
    return float("-inf") if value != value else value


def make_table(
    model: QStandardItemModel, *, filterable: bool = False
) -> tuple[QTableView, QSortFilterProxyModel]:
    """A compact, sortable table view over ``model`` through a proxy."""
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    if filterable:
        proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        proxy.setFilterKeyColumn(-1)
    view = QTableView()
    proxy.setParent(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)
    view.horizontalHeader().setDefaultAlignment(
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    )
    return view, proxy


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    _muted(label)
    return label


def _copy_rows(view: QTableView, columns: int) -> str:
    """The selected rows (or every visible row) as tab-separated text."""
    model = view.model()
    rows = sorted({index.row() for index in view.selectionModel().selectedRows()})
    if not rows:
        rows = list(range(model.rowCount()))
    lines = [
        "\t".join(str(model.index(row, column).data() or "") for column in range(columns))
        for row in rows
    ]
    return "\n".join(lines)


# ---- tabs ------------------------------------------------------------------------------------


class OverviewTab(QScrollArea):
    """Name, id, status (with the failure reason), times, lineage, host and code version."""

    sig_rename_requested = Signal(str)
    """New name: the user pressed Enter in the name field."""
    sig_open_run_requested = Signal(str)
    """Run id: the user clicked the parent run link."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.form = QFormLayout()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(12, 12, 12, 12)
        outer.addLayout(self.form)
        outer.addStretch(1)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setHorizontalSpacing(14)
        self.form.setVerticalSpacing(6)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setWidget(body)
        self._stored_name = ""

        self.name_edit = QLineEdit()
        self.name_edit.setFont(_scaled_font(self, 1.15, bold=True))
        self.name_edit.setToolTip("Type a new name and press Enter to rename the run.")
        self.name_edit.returnPressed.connect(self._on_rename)
        add_shortcut(
            QKeySequence(Qt.Key.Key_Escape),
            self.name_edit,
            self.revert_name,
            Qt.ShortcutContext.WidgetShortcut,
        )
        self.form.addRow(self._label("Name"), self.name_edit)

        self.id_field = ValueField(mono=True)
        self.copy_id_button = QToolButton()
        self.copy_id_button.setText("Copy")
        self.copy_id_button.setToolTip("Copy the run id")
        self.copy_id_button.clicked.connect(self._copy_id)
        id_row = QHBoxLayout()
        id_row.setSpacing(6)
        id_row.addWidget(self.id_field, 1)
        id_row.addWidget(self.copy_id_button)
        self.form.addRow(self._label("Run ID"), id_row)

        self.status_label = QLabel()
        self.reason_summary = QLabel()
        self.reason_summary.setWordWrap(True)
        self.reason_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        status_row = QHBoxLayout()
        status_row.setSpacing(8)
        status_row.addWidget(self.status_label, 0, Qt.AlignmentFlag.AlignTop)
        status_row.addWidget(self.reason_summary, 1)
        self.form.addRow(self._label("Status"), status_row)

        self.reason_toggle = QToolButton()
        self.reason_toggle.setCheckable(True)
        self.reason_toggle.setChecked(True)
        self.reason_toggle.setAutoRaise(True)
        self.reason_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reason_toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.reason_toggle.toggled.connect(self._on_reason_toggled)
        self.reason_text = QPlainTextEdit()
        self.reason_text.setReadOnly(True)
        self.reason_text.setFont(_monospace())
        self.reason_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.reason_text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.reason_box = QWidget()
        reason_layout = QVBoxLayout(self.reason_box)
        reason_layout.setContentsMargins(0, 0, 0, 4)
        reason_layout.setSpacing(2)
        reason_layout.addWidget(self.reason_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        reason_layout.addWidget(self.reason_text)
        self.form.addRow(self.reason_box)

        self.fields: dict[str, ValueField] = {}
        for key, label in (
            ("experiment", "Experiment"),
            ("lifecycle", "Lifecycle"),
            ("start", "Started"),
            ("end", "Ended"),
            ("duration", "Duration"),
        ):
            self._add_field(key, label)
        self.parent_label = QLabel()
        self.parent_label.setTextFormat(Qt.TextFormat.RichText)
        self.parent_label.linkActivated.connect(self.sig_open_run_requested)
        self.parent_label.setMinimumHeight(self.id_field.sizeHint().height())
        self.form.addRow(self._label("Parent run"), self.parent_label)
        self._add_field("source", "Source")
        self._add_field("host", "Host")
        self.code_heading = QLabel("Code")
        self.code_heading.setFont(_scaled_font(self, 1.0, bold=True))
        self.form.addRow(self.code_heading)
        for key, label in (
            ("commit", "Commit"),
            ("branch", "Branch"),
            ("dirty", "Uncommitted"),
            ("remote", "Remote"),
            ("snapshot", "Snapshot"),
            ("workspace", "Workspace"),
        ):
            self._add_field(f"git.{key}", label, mono=key in ("commit", "snapshot"))

    def _label(self, text: str) -> QLabel:
        label = QLabel(text)
        _muted(label)
        return label

    def _add_field(self, key: str, label: str, *, mono: bool = False) -> None:
        field = ValueField(mono=mono)
        self.fields[key] = field
        self.form.addRow(self._label(label), field)

    def _set_field(self, key: str, value: str | None) -> None:
        field = self.fields[key]
        self.form.setRowVisible(field, bool(value))
        field.set_value(value or "")

    def update_run(self, snapshot: RunSnapshot) -> None:
        """Show this run, keeping a name the user is still editing."""
        run = snapshot.run
        self._stored_name = run.name
        if not self.name_edit.isModified() and self.name_edit.text() != run.name:
            self.name_edit.setText(run.name)
            self.name_edit.setCursorPosition(0)
        self.id_field.set_value(run.id)
        status_pill(self.status_label, run.status)
        failed = run.status in (RunStatus.FAILED, RunStatus.KILLED)
        reason = run.status_reason.strip()
        self.reason_summary.setText(reason_summary(reason))
        self.reason_summary.setToolTip(reason if len(reason) < 2000 else "")
        multi_line = "\n" in reason
        self.form.setRowVisible(self.reason_box, failed and multi_line)
        if failed and multi_line:
            noun = "Traceback" if reason.startswith("Traceback") else "Full reason"
            self.reason_toggle.setText(noun)
            if self.reason_text.toPlainText() != reason:
                self.reason_text.setPlainText(reason)
            lines = min(reason.count("\n") + 1, 14)
            height = lines * self.reason_text.fontMetrics().lineSpacing() + 16
            self.reason_text.setFixedHeight(
                height + self.reason_text.horizontalScrollBar().sizeHint().height()
            )
        self._set_field("experiment", run.experiment_name)
        self._set_field("lifecycle", "In the trash" if run.lifecycle == "deleted" else "")
        self._set_field("start", format_time(run.start_time) if run.start_time else "")
        self._set_field("end", format_time(run.end_time) if run.end_time else "")
        if run.duration is not None:
            duration = format_duration(run.duration)
        elif run.status == RunStatus.RUNNING and run.start_time is not None:
            duration = f"{format_duration(time.time() - run.start_time)} so far"
        else:
            duration = ""
        self._set_field("duration", duration)
        if run.parent_id:
            name = snapshot.parent_name or run.parent_id
            self.parent_label.setText(
                f'<a href="{run.parent_id}">{_escape(name)}</a> '
                f"<span style='font-family:monospace'>({run.parent_id[:8]})</span>"
            )
        self.form.setRowVisible(self.parent_label, bool(run.parent_id))
        self._set_field("source", run.source)
        host = run.host or ""
        if run.pid:
            host = f"{host} · pid {run.pid}" if host else f"pid {run.pid}"
        self._set_field("host", host)
        git = run.git
        for key in ("commit", "branch", "remote", "snapshot", "workspace"):
            value = git.get(key)
            self._set_field(f"git.{key}", "" if value is None else str(value))
        dirty = git.get("dirty")
        self._set_field("git.dirty", "" if dirty is None else ("yes" if dirty else "no"))
        self.form.setRowVisible(self.code_heading, bool(git))

    def revert_name(self) -> None:
        """Put the stored name back in the name field."""
        self.name_edit.setText(self._stored_name)
        self.name_edit.setModified(False)

    def name_saved(self, name: str) -> None:
        """The rename to ``name`` was stored."""
        self._stored_name = name
        if self.name_edit.text().strip() == name:
            self.name_edit.setModified(False)

    def _on_rename(self) -> None:
        text = self.name_edit.text()
        if text.strip() != self._stored_name:
            self.sig_rename_requested.emit(text)
        else:
            self.name_edit.setModified(False)

    def _on_reason_toggled(self, expanded: bool) -> None:
        self.reason_text.setVisible(expanded)
        self.reason_toggle.setArrowType(
            Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        )

    def _copy_id(self) -> None:
        QGuiApplication.clipboard().setText(self.id_field.text())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ParamsTab(QWidget):
    """A sortable, filterable two-column table of the run's params."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["Param", "Value"])
        self.table, self.proxy = make_table(self.model, filterable=True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter params…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.filter_edit.textChanged.connect(self._update_count)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the selected params (or all shown) as tab-separated text")
        self.copy_button.clicked.connect(self.copy)
        add_shortcut(
            QKeySequence.StandardKey.Copy, self.table, self.copy, Qt.ShortcutContext.WidgetShortcut
        )
        self.count_label = QLabel()
        _muted(self.count_label)
        self.empty_label = _placeholder("No params were logged for this run.")

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.count_label)
        self._first = True

    def update_params(self, params: Mapping[str, str]) -> None:
        """Show these params, updating rows in place."""
        sync_rows(
            self.model,
            {
                key: [Cell(key), Cell(value, tooltip=value if len(value) > 40 else "")]
                for key, value in params.items()
            },
        )
        self.table.setVisible(bool(params))
        self.empty_label.setVisible(not params)
        if self._first and params:
            self._first = False
            width = self.table.sizeHintForColumn(0) + 24
            self.table.setColumnWidth(0, min(max(width, 120), 260))
        self._update_count()

    def rows(self) -> list[tuple[str, str]]:
        """The (key, value) pairs shown, in display order."""
        return [
            (self.proxy.index(r, 0).data(), self.proxy.index(r, 1).data())
            for r in range(self.proxy.rowCount())
        ]

    def copy(self) -> None:
        """Copy the selected rows, or all shown, as tab-separated text."""
        QGuiApplication.clipboard().setText(_copy_rows(self.table, 2))

    def _update_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        noun = "param" if total == 1 else "params"
        self.count_label.setText(
            f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        )


class ChartScroll(QScrollArea):
    """A scroll area of metric charts in a grid: two columns when wide enough, else one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(0, 4, 0, 4)
        self.grid.setSpacing(8)
        self.setWidget(body)
        self.columns = 2
        self._charts: list[MetricChart] = []

    def set_charts(self, charts: list[MetricChart]) -> None:
        """Lay out these charts in order."""
        self._charts = list(charts)
        self._relayout()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Switch between one and two columns with the width."""
        super().resizeEvent(event)
        columns = 2 if self.viewport().width() >= TWO_COLUMN_MIN_WIDTH else 1
        if columns != self.columns:
            self.columns = columns
            self._relayout()

    def _relayout(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 0)
        for index, chart in enumerate(self._charts):
            self.grid.addWidget(chart, index // self.columns, index % self.columns)
        for column in range(2):
            self.grid.setColumnStretch(column, 1 if column < self.columns else 0)
        rows = -(-len(self._charts) // self.columns)
        self.grid.setRowStretch(rows, 1)
        # Resize the body now rather than on the next layout pass, so charts never overlap.
        self.grid.activate()
        body = self.widget()
        height = max(self.viewport().height(), body.minimumSizeHint().height())
        body.resize(self.viewport().width(), height)


class MetricsTab(QWidget):
    """A table of each metric's last/min/max/count above a grid of charts, one per metric."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, 5, self)
        self.model.setHorizontalHeaderLabels(
            ["Metric", "Last", "Min (step)", "Max (step)", "Count"]
        )
        self.table, self.proxy = make_table(self.model)
        header = self.table.horizontalHeader()
        # Every column as wide as its text (metric names are never elided); the table
        # scrolls sideways when the pane is narrow.
        for column in range(5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.clicked.connect(self._on_table_clicked)
        self.chart_scroll = ChartScroll()
        self.charts: dict[str, MetricChart] = {}
        self.loaded_counts: dict[str, int] = {}
        self.empty_label = _placeholder("No metrics were logged for this run.")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.chart_scroll)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.empty_label, 1)
        self._sized_for = -1

    def reset(self) -> None:
        """Forget the previous run's series (chart widgets are kept for reuse)."""
        self.loaded_counts.clear()
        for chart in self.charts.values():
            chart.clear_data()

    def update_summaries(self, summaries: Mapping[str, MetricSummary]) -> list[str]:
        """Show these summaries; return the metrics whose series must be (re)read."""
        rows = {}
        for key, s in summaries.items():
            rows[key] = [
                Cell(key, tooltip=key),
                self._number(s.last, None),
                self._number(s.min, s.min_step),
                self._number(s.max, s.max_step),
                Cell(str(s.count), s.count, right=True),
            ]
        sync_rows(self.model, rows)
        self.splitter.setVisible(bool(summaries))
        self.empty_label.setVisible(not summaries)
        # A single value is fully said by the table; only series get a chart.
        charted = {key: s for key, s in summaries.items() if s.count >= 2}
        self._sync_charts(charted)
        self.chart_scroll.setVisible(bool(charted))
        if len(summaries) != self._sized_for:
            self._sized_for = len(summaries)
            self._size_table(len(summaries))
        return [key for key, s in charted.items() if self.loaded_counts.get(key) != s.count]

    def apply_series(self, series: MetricSeries) -> None:
        """Feed one metric's full history to its chart's curve."""
        chart = self.charts.get(series.key)
        if chart is None:
            return
        chart.set_series(series.key, series.steps, series.values)
        self.loaded_counts[series.key] = len(series)

    def _sync_charts(self, summaries: Mapping[str, MetricSummary]) -> None:
        changed = False
        for key in list(self.charts):
            if key not in summaries:
                self.charts.pop(key).deleteLater()
                self.loaded_counts.pop(key, None)
                changed = True
        for key in summaries:
            if key not in self.charts:
                self.charts[key] = MetricChart(key)
                changed = True
        for key, s in summaries.items():
            self.charts[key].set_summary_text(f"last {format_value(s.last)}")
        if changed:
            self.chart_scroll.set_charts(
                [self.charts[k] for k in sorted(self.charts, key=str.casefold)]
            )

    def _size_table(self, rows: int) -> None:
        row_height = self.table.verticalHeader().defaultSectionSize()
        wanted = (
            self.table.horizontalHeader().sizeHint().height()
            + row_height * min(max(rows, 1), 5)
            + 4
        )
        total = max(self.splitter.height(), 400)
        self.splitter.setSizes([wanted, total - wanted])

    @staticmethod
    def _number(value: float, step: int | None) -> Cell:
        short = format_value(value, digits=4)
        full = repr(value)
        if step is not None:
            short, full = f"{short} @ {step}", f"{full} at step {step}"
        return Cell(short, _sortable_number(value), tooltip=full, right=True)

    def _on_table_clicked(self, index: QModelIndex) -> None:
        key = self.proxy.index(index.row(), 0).data()
        chart = self.charts.get(key)
        if chart is not None:
            self.chart_scroll.ensureWidgetVisible(chart, 0, 8)


class TagsNoteTab(QWidget):
    """An editable tag table (add, edit value, remove) and the run's free-text note."""

    sig_tag_set_requested = Signal(str, str)
    """Key, value: the user added a tag or changed a tag's value."""
    sig_tag_delete_requested = Signal(str)
    """Key: the user removed a tag."""
    sig_note_save_requested = Signal(str)
    """Text: the user saved the note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._syncing = False
        self._stored_tags: dict[str, str] = {}
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["Tag", "Value"])
        self.model.itemChanged.connect(self._on_item_changed)
        self.table, self.proxy = make_table(self.model)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setToolTip("Double-click a value to change it.")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 150)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        add_shortcut(
            QKeySequence.StandardKey.Delete,
            self.table,
            self.remove_selected,
            Qt.ShortcutContext.WidgetShortcut,
        )

        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("New tag")
        self.value_edit = QLineEdit()
        self.value_edit.setPlaceholderText("Value")
        self.key_edit.returnPressed.connect(self.value_edit.setFocus)
        self.value_edit.returnPressed.connect(self.add_tag)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_tag)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected tags (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)

        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Notes about this run: what you tried, what you saw…")
        self.note_edit.modificationChanged.connect(self._update_buttons)
        self.save_button = QPushButton("Save note")
        self.save_button.setToolTip("Save the note (Ctrl+S)")
        self.save_button.clicked.connect(self.save_note)
        self.note_state = QLabel()
        _muted(self.note_state)
        add_shortcut(
            QKeySequence.StandardKey.Save,
            self,
            self.save_note,
            Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

        tags_title = QLabel("Tags")
        tags_title.setFont(_scaled_font(self, 1.0, bold=True))
        note_title = QLabel("Note")
        note_title.setFont(_scaled_font(self, 1.0, bold=True))
        tags_head = QHBoxLayout()
        tags_head.addWidget(tags_title)
        tags_head.addStretch(1)
        tags_head.addWidget(self.remove_button)
        add_row = QHBoxLayout()
        add_row.setSpacing(6)
        add_row.addWidget(self.key_edit, 2)
        add_row.addWidget(self.value_edit, 3)
        add_row.addWidget(self.add_button)
        note_head = QHBoxLayout()
        note_head.addWidget(note_title)
        note_head.addStretch(1)
        note_head.addWidget(self.note_state)
        note_head.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(tags_head)
        layout.addWidget(self.table, 3)
        layout.addLayout(add_row)
        layout.addSpacing(8)
        layout.addLayout(note_head)
        layout.addWidget(self.note_edit, 2)
        self._stored_note = ""
        self._update_buttons()

    def update_run(self, run: Run) -> None:
        """Show the run's tags and note, leaving unsaved edits alone."""
        self._stored_tags = dict(run.tags)
        if self.table.state() != QAbstractItemView.State.EditingState:
            self._syncing = True
            try:
                sync_rows(
                    self.model,
                    {key: [Cell(key), Cell(value)] for key, value in run.tags.items()},
                    editable_columns=(1,),
                )
            finally:
                self._syncing = False
        self._stored_note = run.note
        if not self.note_edit.document().isModified() and self.note_edit.toPlainText() != run.note:
            self.note_edit.setPlainText(run.note)
            self.note_edit.document().setModified(False)
        self._update_buttons()

    def tags(self) -> dict[str, str]:
        """The tags shown."""
        return {
            self.model.item(r, 0).text(): self.model.item(r, 1).text()
            for r in range(self.model.rowCount())
        }

    def add_tag(self) -> None:
        """Ask to store the tag typed in the key and value fields."""
        key = self.key_edit.text()
        if key.strip() or self.value_edit.text():
            self.sig_tag_set_requested.emit(key, self.value_edit.text())

    def tag_saved(self, key: str, value: str) -> None:
        """The tag was stored: clear the add fields if they still hold it."""
        if self.key_edit.text() == key and self.value_edit.text() == value:
            self.key_edit.clear()
            self.value_edit.clear()
            self.key_edit.setFocus()

    def remove_selected(self) -> None:
        """Ask to remove the selected tags."""
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        for row in sorted(rows):
            self.sig_tag_delete_requested.emit(self.proxy.index(row, 0).data())

    def save_note(self) -> None:
        """Ask to store the note."""
        self.sig_note_save_requested.emit(self.note_edit.toPlainText())
        self.note_state.setText("Saving…")

    def note_saved(self, text: str) -> None:
        """The note ``text`` was stored."""
        self._stored_note = text
        if self.note_edit.toPlainText() == text:
            self.note_edit.document().setModified(False)
        self._update_buttons()

    def note_failed(self) -> None:
        """Saving the note failed; the text stays as typed."""
        self._update_buttons()

    def _on_item_changed(self, item: QStandardItem) -> None:
        if self._syncing or item.column() != 1:
            return
        key = self.model.item(item.row(), 0).text()
        if self._stored_tags.get(key) != item.text():
            self.sig_tag_set_requested.emit(key, item.text())

    def _update_buttons(self, *_: object) -> None:
        modified = self.note_edit.document().isModified()
        self.save_button.setEnabled(modified)
        self.note_state.setText("Unsaved changes" if modified else "")
        self.remove_button.setEnabled(self.table.selectionModel().hasSelection())


class ArtifactsTab(QWidget):
    """The run's artifacts with Open, Reveal and Save as…; model files stand out."""

    sig_open_requested = Signal(object)
    """Artifact: open it in the system's application for its type."""
    sig_reveal_requested = Signal(object)
    """Artifact: show the folder holding a copy of it."""
    sig_save_requested = Signal(object)
    """Artifact: save a copy of it where the user chooses."""
    sig_register_requested = Signal()
    """Register the run's model (the tab shows it has one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.artifacts: dict[str, Artifact] = {}
        self.model = QStandardItemModel(0, 4, self)
        self.model.setHorizontalHeaderLabels(["Path", "Kind", "Size", "SHA-256"])
        self.table, self.proxy = make_table(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open a copy in the application for its type")
        self.open_button.clicked.connect(self.open_selected)
        self.reveal_button = QPushButton("Reveal")
        self.reveal_button.setToolTip("Show the folder holding the file")
        self.reveal_button.clicked.connect(self._reveal)
        self.save_button = QPushButton("Save as…")
        self.save_button.clicked.connect(self._save)
        self.register_button = QPushButton("Register Model…")
        self.register_button.setToolTip("Make the run's model a new version of a named model")
        self.register_button.clicked.connect(self.sig_register_requested)
        self.summary_label = QLabel()
        _muted(self.summary_label)
        self.empty_label = _placeholder("No artifacts were logged for this run.")

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.summary_label, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.register_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def update_artifacts(self, artifacts: Sequence[Artifact]) -> None:
        """Show these artifacts, updating rows in place."""
        self.artifacts = {a.path: a for a in artifacts}
        rows = {}
        for a in artifacts:
            model = a.kind == "model"
            rows[a.path] = [
                Cell(a.path, bold=model, tooltip=a.path),
                Cell("◆ model" if model else a.kind, a.kind, bold=model),
                Cell(human_size(a.size), a.size, tooltip=f"{a.size:,} bytes", right=True),
                Cell(a.sha256[:12], a.sha256, tooltip=a.sha256, mono=True),
            ]
        sync_rows(self.model, rows)
        self.table.setVisible(bool(artifacts))
        self.empty_label.setVisible(not artifacts)
        total = sum(a.size for a in artifacts)
        models = sum(a.kind == "model" for a in artifacts)
        text = f"{len(artifacts)} file{'s' if len(artifacts) != 1 else ''} · {human_size(total)}"
        if models:
            text += f" · {models} model{'s' if models != 1 else ''}"
        self.summary_label.setText(text if artifacts else "")
        self.register_button.setVisible(models > 0)
        self._update_buttons()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The (path, kind, size, sha) texts shown, in display order."""
        return [
            tuple(self.proxy.index(r, c).data() for c in range(4))  # type: ignore[misc]
            for r in range(self.proxy.rowCount())
        ]

    def select(self, path: str) -> None:
        """Select the artifact with this path."""
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data() == path:
                self.table.selectRow(row)
                return

    def selected(self) -> Artifact | None:
        """The selected artifact, if any."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.artifacts.get(self.proxy.index(rows[0].row(), 0).data())

    def open_selected(self) -> None:
        """Ask to open the selected artifact."""
        artifact = self.selected()
        if artifact is not None:
            self.sig_open_requested.emit(artifact)

    def _reveal(self) -> None:
        artifact = self.selected()
        if artifact is not None:
            self.sig_reveal_requested.emit(artifact)

    def _save(self) -> None:
        artifact = self.selected()
        if artifact is not None:
            self.sig_save_requested.emit(artifact)

    def _update_buttons(self, *_: object) -> None:
        has = self.selected() is not None
        for button in (self.open_button, self.reveal_button, self.save_button):
            button.setEnabled(has)


# ---- the panel -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    what: str
    run_id: str
    generation: int = 0
    payload: Any = None


class RunDetailPanel(QWidget):
    """Everything about one run, kept current while it runs and editable where it makes sense."""

    sig_run_edited = Signal(str)
    """Run id: a tag, the note or the name of that run was saved."""
    sig_loaded = Signal(str)
    """Run id: its data and every changed metric series are on screen (after show_run/refresh)."""
    sig_open_run_requested = Signal(str)
    """Run id: the user followed the link to another run (the parent)."""
    sig_register_requested = Signal(str)
    """Register the shown run's model: (run id)."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self._run_id: str | None = None
        self._snapshot: RunSnapshot | None = None
        self._generation = 0
        self._loading = False
        self._reload_pending = False
        self._export_root: Path | None = None
        self._exported: dict[str, Path] = {}
        self._workers = TaskGroup(self)

        self.banner = Banner()
        self.empty_label = _placeholder(EMPTY_TEXT)
        self.empty_label.setFont(_scaled_font(self, 1.1))

        self.header_name = ElidedLabel()
        self.header_name.setFont(_scaled_font(self, 1.25, bold=True))
        self.header_status = QLabel()
        self.header_experiment = ElidedLabel()
        _muted(self.header_experiment)
        header = QWidget()
        header_layout = QGridLayout(header)
        header_layout.setContentsMargins(10, 8, 10, 4)
        header_layout.setHorizontalSpacing(8)
        header_layout.setVerticalSpacing(0)
        header_layout.addWidget(self.header_name, 0, 0)
        header_layout.addWidget(self.header_status, 0, 1, Qt.AlignmentFlag.AlignVCenter)
        header_layout.addWidget(self.header_experiment, 1, 0, 1, 2)
        header_layout.setColumnStretch(0, 1)

        self.overview_tab = OverviewTab()
        self.params_tab = ParamsTab()
        self.metrics_tab = MetricsTab()
        self.tags_tab = TagsNoteTab()
        self.artifacts_tab = ArtifactsTab()
        self.code_tab = CodePanel()
        from desktop_app.ui.compare import RunChartsWidget

        self.charts_tab = RunChartsWidget(registry)
        self._code_shown_for: tuple[str, object] | None = None
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.overview_tab, "Overview")
        self.tabs.addTab(self.params_tab, "Params")
        self.tabs.addTab(self.metrics_tab, "Metrics")
        self.tabs.addTab(self.tags_tab, "Tags && note")
        self.tabs.addTab(self.artifacts_tab, "Artifacts")
        self.tabs.insertTab(3, self.charts_tab, "Charts")
        self.tabs.addTab(self.code_tab, "Code")

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addWidget(header)
        content_layout.addWidget(self.tabs, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(6, 6, 6, 0)
        banner_row.addWidget(self.banner)
        layout.addLayout(banner_row)
        layout.addWidget(self.stack, 1)

        self.overview_tab.sig_rename_requested.connect(self._rename)
        self.overview_tab.sig_open_run_requested.connect(self.sig_open_run_requested)
        self.tags_tab.sig_tag_set_requested.connect(self._set_tag)
        self.tags_tab.sig_tag_delete_requested.connect(self._delete_tag)
        self.tags_tab.sig_note_save_requested.connect(self._save_note)
        self.artifacts_tab.sig_open_requested.connect(self._open_artifact)
        self.artifacts_tab.sig_reveal_requested.connect(self._reveal_artifact)
        self.artifacts_tab.sig_save_requested.connect(self._save_artifact)
        self.artifacts_tab.sig_register_requested.connect(
            lambda: self._run_id and self.sig_register_requested.emit(self._run_id)
        )
        self._update_tab_titles()

    # ---- public API ----------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        """The id of the run shown (or being loaded), or None."""
        return self._run_id

    @property
    def run(self) -> Run | None:
        """The run as last shown, or None."""
        return None if self._snapshot is None else self._snapshot.run

    def show_run(self, run_id: str | None) -> None:
        """Show a run (None: the empty state); its data arrives shortly, then sig_loaded."""
        if run_id is not None and run_id == self._run_id:
            self.refresh()
            return
        self._generation += 1
        self._workers.abandon(lambda token: token.what in ("snapshot", "series"))
        self._loading = False
        self._reload_pending = False
        self._run_id = run_id
        self._snapshot = None
        self.banner.clear()
        if run_id is None:
            self._show_empty(EMPTY_TEXT)
            return
        self._load()

    def refresh(self) -> None:
        """Re-read the current run in place (call when the registry changed)."""
        if self._run_id is not None:
            self._load()

    def shutdown(self, msecs: int = 10_000) -> bool:
        """Abandon pending work, wait for the panel's threads and delete exported copies."""
        self.charts_tab.shutdown()
        done = self._workers.wait(msecs)
        if self._export_root is not None:
            shutil.rmtree(self._export_root, ignore_errors=True)
            self._export_root = None
            self._exported.clear()
        return done

    # ---- loading -----------------------------------------------------------------------------

    def _load(self) -> None:
        if self._loading:
            self._reload_pending = True
            return
        assert self._run_id is not None
        self._loading = True
        token = _Token("snapshot", self._run_id, self._generation)
        self._workers.call(
            token, load_snapshot, self.registry, self._run_id, on_done=self._on_snapshot
        )

    def _on_snapshot(self, outcome: Outcome) -> None:
        token: _Token = outcome.token
        if token.generation != self._generation:
            return
        if not outcome.ok:
            self._loading = False
            self._reload_pending = False
            if isinstance(outcome.error, NotFoundError):
                self._run_id = None
                self._snapshot = None
                self._show_empty(f"Run {token.run_id} no longer exists. Select another run.")
            else:
                self._report(outcome)
            return
        snapshot: RunSnapshot = outcome.value
        first = self._snapshot is None
        if first:
            self.metrics_tab.reset()
        self._snapshot = snapshot
        self._apply(snapshot)
        if first:
            self.stack.setCurrentIndex(1)
        stale = self.metrics_tab.update_summaries(snapshot.run.metrics)
        if stale:
            series_token = _Token("series", token.run_id, token.generation)
            self._workers.iterate(
                series_token,
                read_series,
                self.registry,
                token.run_id,
                stale,
                on_item=self._on_series,
                on_done=self._on_series_done,
            )
        else:
            self._finish_load(token.run_id)

    def _apply(self, snapshot: RunSnapshot) -> None:
        run = snapshot.run
        self.header_name.set_full_text(run.name)
        status_pill(self.header_status, run.status)
        self.header_experiment.set_full_text(f"{run.experiment_name}  ·  {run.id}")
        self.overview_tab.update_run(snapshot)
        self.params_tab.update_params(run.params)
        self.tags_tab.update_run(run)
        self.artifacts_tab.update_artifacts(snapshot.artifacts)
        if self.charts_tab.property("run_id") != run.id:
            self.charts_tab.setProperty("run_id", run.id)
            self.charts_tab.show_run(run.id)
        else:
            self.charts_tab.refresh()
        # Git work only when the run's code record changed, not on every live refresh.
        code_key = (run.id, run.git.get("snapshot") or run.git.get("info"))
        if code_key != self._code_shown_for:
            self._code_shown_for = code_key
            self.code_tab.show_run(run)
        self._update_tab_titles()

    def _on_series(self, token: _Token, series: MetricSeries) -> None:
        if token.generation == self._generation:
            self.metrics_tab.apply_series(series)

    def _on_series_done(self, outcome: Outcome) -> None:
        token: _Token = outcome.token
        if token.generation != self._generation:
            return
        if not outcome.ok:
            self._report(outcome)
        self._finish_load(token.run_id)

    def _finish_load(self, run_id: str) -> None:
        self._loading = False
        self.sig_loaded.emit(run_id)
        if self._reload_pending:
            self._reload_pending = False
            self._load()

    def _show_empty(self, text: str) -> None:
        self._code_shown_for = None
        self.code_tab.show_run(None)
        self.charts_tab.setProperty("run_id", None)
        self.charts_tab.show_run(None)
        self.empty_label.setText(text)
        self.stack.setCurrentIndex(0)
        self.metrics_tab.reset()

    def _update_tab_titles(self) -> None:
        run = self.run
        counts = {
            self.tabs.indexOf(self.params_tab): ("Params", len(run.params) if run else 0),
            self.tabs.indexOf(self.metrics_tab): ("Metrics", len(run.metrics) if run else 0),
            self.tabs.indexOf(self.artifacts_tab): (
                "Artifacts",
                len(self.artifacts_tab.artifacts),
            ),
        }
        for index, (title, count) in counts.items():
            self.tabs.setTabText(index, f"{title} ({count})" if count else title)
        if self.tabs.tabBar().sizeHint().width() > self.width():
            # Too narrow for the counts: plain titles fit without scroll arrows.
            for index, (title, _count) in counts.items():
                self.tabs.setTabText(index, title)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Fit the tab titles to the new width."""
        super().resizeEvent(event)
        self._update_tab_titles()

    # ---- edits -------------------------------------------------------------------------------

    def _edit(self, what: str, payload: Any, fn: Callable[..., Any], *args: Any) -> None:
        if self._run_id is None:
            return
        token = _Token(what, self._run_id, self._generation, payload)
        self._workers.call(token, fn, self._run_id, *args, on_done=self._on_edit_done)

    def _rename(self, name: str) -> None:
        self._edit("rename", name.strip(), self.registry.rename_run, name)

    def _set_tag(self, key: str, value: str) -> None:
        self._edit("tag", (key, value), self.registry.set_tags, {key: value})

    def _delete_tag(self, key: str) -> None:
        self._edit("untag", key, self.registry.delete_tag, key)

    def _save_note(self, text: str) -> None:
        self._edit("note", text, self.registry.set_note, text)

    def _on_edit_done(self, outcome: Outcome) -> None:
        token: _Token = outcome.token
        current = token.run_id == self._run_id
        if not outcome.ok:
            if current and token.what == "note":
                self.tags_tab.note_failed()
            self._report(outcome)
            return
        self.banner.clear()
        if current:
            if token.what == "rename":
                self.overview_tab.name_saved(token.payload)
            elif token.what == "tag":
                self.tags_tab.tag_saved(*token.payload)
            elif token.what == "note":
                self.tags_tab.note_saved(token.payload)
        self.sig_run_edited.emit(token.run_id)
        if current:
            self.refresh()

    # ---- artifacts ---------------------------------------------------------------------------

    def _export_path(self, artifact: Artifact) -> Path:
        if self._export_root is None:
            self._export_root = Path(tempfile.mkdtemp(prefix="modeldesk-artifacts-"))
        name = PurePosixPath(artifact.path).name or "artifact"
        return self._export_root / artifact.sha256[:16] / name

    def _open_artifact(self, artifact: Artifact) -> None:
        token = _Token("open", artifact.run_id, payload=artifact)
        self._workers.call(
            token,
            export_artifact,
            self.registry,
            artifact,
            self._export_path(artifact),
            on_done=self._on_exported,
        )

    def _reveal_artifact(self, artifact: Artifact) -> None:
        exported = self._exported.get(artifact.sha256)
        if exported is not None and exported.exists():
            self._open_url(exported.parent)
            return
        try:
            stored = self.registry.artifact_file(artifact)
        except NotFoundError as exc:
            self.banner.show_message(exc.message)
            return
        self._open_url(stored.parent)

    def _save_artifact(self, artifact: Artifact) -> None:
        default = str(Path.home() / PurePosixPath(artifact.path).name)
        target, _ = QFileDialog.getSaveFileName(self, "Save artifact as", default)
        if not target:
            return
        token = _Token("save", artifact.run_id, payload=artifact)
        self._workers.call(
            token, export_artifact, self.registry, artifact, Path(target), on_done=self._on_exported
        )

    def _on_exported(self, outcome: Outcome) -> None:
        token: _Token = outcome.token
        if not outcome.ok:
            self._report(outcome)
            return
        self.banner.clear()
        path: Path = outcome.value
        artifact: Artifact = token.payload
        if token.what == "open":
            self._exported[artifact.sha256] = path
            self._open_url(path)
        else:
            self.banner.show_message(f"Saved {artifact.path} to {path}", "info")

    def _open_url(self, path: Path) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.banner.show_message(
                f"No application could open {path.name}. It is at {path}", "info"
            )

    # ---- errors ------------------------------------------------------------------------------

    def _report(self, outcome: Outcome) -> None:
        error = outcome.error
        assert error is not None
        if outcome.expected:
            self.banner.show_message(str(error), "error", getattr(error, "detail", ""))
            return
        self.banner.show_message(f"Something went wrong: {error}", "error")
        sys.excepthook(type(error), error, error.__traceback__)


# ---- preview ---------------------------------------------------------------------------------


def _preview() -> None:  # pragma: no cover - manual preview
    """Open the panel on a temporary registry with a few sample runs."""
    import math

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    folder = tempfile.mkdtemp(prefix="modeldesk-preview-")
    registry = Registry(folder)
    run = registry.create_run(
        "Preview",
        name="gradient-boosting",
        source="train.py",
        params={"learning_rate": 0.1, "max_depth": 6, "n_estimators": 300},
        tags={"team": "vision"},
    )
    now = time.time()
    points = [
        (key, fn(step), step, now + step)
        for step in range(500)
        for key, fn in (
            ("loss", lambda s: 1 / (1 + s / 40)),
            ("accuracy", lambda s: 1 - math.exp(-s / 90)),
        )
    ]
    registry.log_batch(run.id, metrics=points)
    registry.log_artifact_bytes(run.id, b"model bytes" * 1000, "model/model.skops", kind="model")
    registry.set_run_status(run.id, RunStatus.FINISHED)
    panel = RunDetailPanel(registry)
    panel.resize(560, 640)
    panel.show_run(run.id)
    panel.show()
    app.exec()
    panel.shutdown()
    registry.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    _preview()
