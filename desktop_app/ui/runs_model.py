"""The runs table: a Qt item model over ``Registry.search_runs``, paged in worker threads.

Filtering and sorting never happen here: the filter text and the clicked header become the
filter language's query and ``order by``, and SQLite does the work. Rows arrive 200 at a time
through ``canFetchMore``/``fetchMore``, so a registry of 100,000 runs opens as fast as one of ten.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.registry.entities import METRIC_AGGREGATES
from desktop_app.registry.query import Ref, format_ref
from desktop_app.ui.formatting import (
    format_duration,
    format_full_time,
    format_number,
    format_time,
)
from desktop_app.ui.workers import Task, start_task

PAGE_SIZE = 200
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_VALUE_ROLE = Qt.ItemDataRole.UserRole + 2

ColumnKind = Literal["status", "name", "experiment", "start", "duration", "param", "metric"]
_ModelIndex = QModelIndex | QPersistentModelIndex

# Mid-tone colours that stay readable on light and dark backgrounds alike.
STATUS_COLORS: dict[RunStatus, str] = {
    RunStatus.FINISHED: "#2e9e5b",
    RunStatus.RUNNING: "#2f80d1",
    RunStatus.FAILED: "#d9473f",
    RunStatus.KILLED: "#c9820a",
}
_FIXED_HEADERS: dict[str, str] = {
    "status": "Status",
    "name": "Name",
    "experiment": "Experiment",
    "start": "Started",
    "duration": "Duration",
}
_FIXED_SORT: dict[str, str] = {
    "status": "status",
    "name": "name",
    "experiment": "experiment",
    "start": "start_time",
    "duration": "duration",
}
_DATA_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        RUN_ID_ROLE,
        SORT_VALUE_ROLE,
    }
)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


@dataclass(frozen=True)
class Column:
    """One table column: a fixed run field, a param, or a metric aggregate."""

    kind: ColumnKind
    key: str = ""
    aggregate: str = "last"

    @property
    def id(self) -> str:
        """A stable name for remembering widths: ``status``, ``params.lr``, ``metrics.loss.min``."""
        if self.kind == "param":
            return f"params.{self.key}"
        if self.kind == "metric":
            return f"metrics.{self.key}.{self.aggregate}"
        return self.kind

    @property
    def title(self) -> str:
        """The header text: ``f1`` for a last value, ``loss (min)`` for an aggregate."""
        if self.kind == "param":
            return self.key
        if self.kind == "metric":
            return self.key if self.aggregate == "last" else f"{self.key} ({self.aggregate})"
        return _FIXED_HEADERS[self.kind]

    @property
    def sort_term(self) -> str:
        """This column as a filter-language field for ``order by``."""
        if self.kind == "param":
            return format_ref(Ref("param", self.key))
        if self.kind == "metric":
            return format_ref(Ref("metric", self.key, self.aggregate))
        return _FIXED_SORT[self.kind]

    @property
    def numeric(self) -> bool:
        """Whether values are numbers to right-align (metrics; durations read fine left-aligned)."""
        return self.kind == "metric"


FIXED_COLUMNS: tuple[Column, ...] = tuple(Column(kind) for kind in _FIXED_HEADERS)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunsSpec:
    """Everything a page of the table depends on."""

    query: str = ""
    experiments: tuple[int, ...] | None = None
    trash: bool = False
    order_by: str | None = None
    params: tuple[str, ...] = ()
    metrics: tuple[tuple[str, str], ...] = ()
    columns: tuple[Column, ...] = field(default=FIXED_COLUMNS)

    @staticmethod
    def columns_for(
        params: Sequence[str], metrics: Sequence[tuple[str, str]]
    ) -> tuple[Column, ...]:
        """The fixed columns followed by the chosen params and metric aggregates."""
        return (
            *FIXED_COLUMNS,
            *(Column("param", key) for key in params),
            *(Column("metric", key, agg) for key, agg in metrics),
        )


def fetch_runs(registry: Registry, spec: RunsSpec, offset: int, limit: int) -> list[Run]:
    """One page of runs in the spec's order, with only the chosen params and metrics."""
    experiments = None if spec.experiments is None else list(spec.experiments)
    ids = registry.search_runs(
        spec.query,
        experiments=experiments,
        trash=spec.trash,
        order_by=spec.order_by,
        limit=limit,
        offset=offset,
    )
    metric_keys = sorted({key for key, _ in spec.metrics})
    # A run purged between the two reads is simply left out; the next refresh settles it.
    return registry.get_runs(
        ids,
        with_params=list(spec.params) or False,
        with_tags=False,
        with_metrics=metric_keys or False,
        skip_missing=True,
    )


def count_runs(registry: Registry, spec: RunsSpec) -> int:
    """How many runs match the spec's filter and scope."""
    experiments = None if spec.experiments is None else list(spec.experiments)
    return registry.count_runs(spec.query, experiments=experiments, trash=spec.trash)


def _refresh_rows(
    registry: Registry, spec: RunsSpec, loaded: int, known_count: int | None
) -> tuple[int, list[Run], bool]:
    count = count_runs(registry, spec)
    grown = max(0, count - (known_count if known_count is not None else count))
    limit = max(PAGE_SIZE, loaded) + grown
    runs = fetch_runs(registry, spec, 0, limit)
    return count, runs, len(runs) < limit


class RunsTableModel(QAbstractTableModel):
    """Runs matching a query in a scope, in SQL order, loaded page by page in worker threads."""

    sig_loaded = Signal()
    """A new query, scope, order or column set has its first page in the table."""
    sig_page_loaded = Signal(int)
    """``fetchMore`` appended rows: ``(number of new rows)``."""
    sig_count_changed = Signal(int)
    """How many runs match the filter in the scope: ``(count)``."""
    sig_refreshing = Signal()
    """A refresh is about to change rows (views note their scroll anchor)."""
    sig_refreshed = Signal()
    """A refresh changed rows (views restore their scroll anchor)."""
    sig_failed = Signal(object)
    """Loading failed with an expected error: ``(AppError)``."""
    sig_busy_changed = Signal(bool)
    """Whether a load is under way: ``(busy)``."""

    def __init__(self, registry: Registry, parent: Any = None, *, autoload: bool = True) -> None:
        super().__init__(parent)
        self._registry = registry
        self._spec = RunsSpec()
        self._shown = RunsSpec()
        self._runs: list[Run] = []
        self._row_of: dict[str, int] = {}
        self._texts: dict[str, list[str]] = {}
        self._count: int | None = None
        self._generation = 0
        self._exhausted = True
        self._load_task: Task | None = None
        self._count_task: Task | None = None
        self._page_task: Task | None = None
        self._refresh_task: Task | None = None
        self._refresh_again = False
        self._sort: tuple[str, Qt.SortOrder] | None = None
        self._stopped = False
        if autoload:
            self.reload()

    # ---- what is shown -----------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """The registry the rows come from."""
        return self._registry

    @property
    def spec(self) -> RunsSpec:
        """What the model was last asked to show (rows may still be loading)."""
        return self._spec

    def columns(self) -> tuple[Column, ...]:
        """The columns of the rows on display."""
        return self._shown.columns

    def column_index(self, column_id: str) -> int:
        """The index of a column by its id, or -1."""
        for index, column in enumerate(self._shown.columns):
            if column.id == column_id:
                return index
        return -1

    def count(self) -> int | None:
        """How many runs match (None until counted)."""
        return self._count

    def is_loading(self) -> bool:
        """Whether any fetch for the current spec is under way."""
        return any(
            t is not None
            for t in (self._load_task, self._count_task, self._page_task, self._refresh_task)
        )

    def rows_pending(self) -> bool:
        """Whether the first page of a new query, scope, order or column set is on its way."""
        return self._load_task is not None

    def run_id_at(self, row: int) -> str | None:
        """The id of the run in ``row``, or None outside the loaded rows."""
        return self._runs[row].id if 0 <= row < len(self._runs) else None

    def run_at(self, row: int) -> Run | None:
        """The run (with the shown params and metrics only) in ``row``."""
        return self._runs[row] if 0 <= row < len(self._runs) else None

    def row_of(self, run_id: str) -> int | None:
        """The row showing ``run_id``, or None when it is not loaded."""
        return self._row_of.get(run_id)

    def loaded_ids(self) -> list[str]:
        """Ids of the loaded rows in order."""
        return [run.id for run in self._runs]

    def sort_state(self) -> tuple[int, Qt.SortOrder]:
        """The column the rows are sorted by (-1 for the default order) and the direction."""
        if self._sort is None:
            return -1, Qt.SortOrder.DescendingOrder
        return self.column_index(self._sort[0]), self._sort[1]

    # ---- what to show ------------------------------------------------------------------------

    def set_query(self, text: str) -> None:
        """Filter with a filter-language query; its own ``order by`` replaces a header sort."""
        text = text.strip()
        if text == self._spec.query:
            return
        from desktop_app.registry.query import parse_query

        spec = replace(self._spec, query=text)
        try:
            if parse_query(text).order:
                self._sort = None
                spec = replace(spec, order_by=None)
        except Exception:  # the load reports the syntax error through sig_failed
            pass
        self._set_spec(spec)

    def set_scope(
        self,
        experiment_ids: Sequence[int] | None,
        trash: bool,
        *,
        columns: tuple[Sequence[str], Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        """Show the runs of some experiments (None: all), live or in the trash.

        ``columns`` optionally changes the param and metric columns in the same reload.
        """
        experiments = None if experiment_ids is None else tuple(sorted(experiment_ids))
        spec = replace(self._spec, experiments=experiments, trash=trash)
        if columns is not None:
            spec = self._with_columns(spec, *columns)
        self._set_spec(spec)

    def set_columns(self, params: Sequence[str], metrics: Sequence[tuple[str, str]]) -> None:
        """Choose the param columns and the metric columns ``(key, "last"|"min"|"max")``."""
        self._set_spec(self._with_columns(self._spec, params, metrics))

    def _with_columns(
        self, spec: RunsSpec, params: Sequence[str], metrics: Sequence[tuple[str, str]]
    ) -> RunsSpec:
        metrics = [(k, a) for k, a in metrics if a in METRIC_AGGREGATES]
        columns = RunsSpec.columns_for(params, metrics)
        spec = replace(spec, params=tuple(params), metrics=tuple(metrics), columns=columns)
        if self._sort is not None and all(c.id != self._sort[0] for c in columns):
            self._sort = None
            spec = replace(spec, order_by=None)
        return spec

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in SQL by a column (-1: the default order, newest first)."""
        columns = self._shown.columns
        if 0 <= column < len(columns):
            target = columns[column]
            self._sort = (target.id, order)
            direction = "desc" if order == Qt.SortOrder.DescendingOrder else "asc"
            order_by: str | None = f"{target.sort_term} {direction}"
        else:
            self._sort = None
            order_by = None
        if order_by != self._spec.order_by:
            self._set_spec(replace(self._spec, order_by=order_by))

    def _set_spec(self, spec: RunsSpec) -> None:
        if spec == self._spec and self._generation > 0:
            return
        self._spec = spec
        self.reload()

    # ---- loading -----------------------------------------------------------------------------

    def _start(self, slot: str, fn: Any, *args: Any, on_returned: Any) -> None:
        """Run ``fn`` in a worker as the task in ``slot``; stale results are dropped."""
        generation = self._generation
        box: list[Task] = []

        def finished() -> None:
            if getattr(self, slot) is box[0]:
                setattr(self, slot, None)
            self._after_task()

        task = start_task(
            fn,
            self._registry,
            *args,
            on_returned=lambda result: on_returned(generation, result),
            on_errored=lambda exc: self._on_failed(generation, exc),
            on_finished=finished,
        )
        box.append(task)
        setattr(self, slot, task)
        self.sig_busy_changed.emit(True)

    def _after_task(self) -> None:
        if self._refresh_again and self._load_task is None and self._page_task is None:
            self._refresh_again = False
            self.refresh()
        if not self.is_loading():
            self.sig_busy_changed.emit(False)

    def stop(self) -> None:
        """Start no more fetches and drop results still on their way (before closing)."""
        self._stopped = True
        self._generation += 1
        for task in (self._load_task, self._count_task, self._page_task, self._refresh_task):
            if task is not None:
                task.cancel()
        self._load_task = self._count_task = self._page_task = self._refresh_task = None

    def reload(self) -> None:
        """Fetch the first page and the count again (the rows stay until the new ones arrive)."""
        if self._stopped:
            return
        self._generation += 1
        for task in (self._load_task, self._count_task, self._page_task, self._refresh_task):
            if task is not None:
                task.cancel()
        self._load_task = self._count_task = self._page_task = self._refresh_task = None
        self._refresh_again = False
        spec = self._spec
        self._start(
            "_load_task",
            fetch_runs,
            spec,
            0,
            PAGE_SIZE,
            on_returned=lambda gen, runs: self._on_first_page(gen, spec, runs),
        )
        self._start("_count_task", count_runs, spec, on_returned=self._on_count)

    def refresh(self) -> None:
        """Re-read the loaded rows after the registry changed, keeping selection and scroll.

        Rows are matched by run id: new runs are inserted, vanished ones removed, moved ones
        re-laid out, so views keep their selection and current row.
        """
        if self._load_task is not None or self._stopped:
            return  # the load under way reads fresh data anyway
        if self._refresh_task is not None or self._page_task is not None:
            self._refresh_again = True
            return
        self._start(
            "_refresh_task",
            _refresh_rows,
            self._shown,
            len(self._runs),
            self._count,
            on_returned=self._on_refreshed,
        )

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        from desktop_app.errors import AppError

        if isinstance(exc, AppError):
            self.sig_failed.emit(exc)
        else:
            from desktop_app.ui.errors_hook import report_exception

            report_exception(exc)

    def _on_first_page(self, generation: int, spec: RunsSpec, runs: list[Run]) -> None:
        if generation != self._generation:
            return
        self._load_task = None
        self.beginResetModel()
        self._shown = spec
        self._runs = list(runs)
        self._reindex()
        self._exhausted = len(runs) < PAGE_SIZE or (
            self._count_task is None and self._count is not None and len(runs) >= self._count
        )
        self.endResetModel()
        self.sig_loaded.emit()

    def _on_count(self, generation: int, count: int) -> None:
        if generation != self._generation:
            return
        self._count = count
        if len(self._runs) >= count and self._load_task is None:
            self._exhausted = True
        self.sig_count_changed.emit(count)

    def canFetchMore(self, parent: _ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self._exhausted:
            return False
        return self._load_task is None and self._page_task is None and self._refresh_task is None

    def fetchMore(self, parent: _ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if self._stopped or not self.canFetchMore(parent):
            return
        self._start(
            "_page_task",
            fetch_runs,
            self._shown,
            len(self._runs),
            PAGE_SIZE,
            on_returned=self._on_more,
        )

    def _on_more(self, generation: int, runs: list[Run]) -> None:
        if generation != self._generation:
            return
        self._page_task = None
        self._exhausted = len(runs) < PAGE_SIZE
        # New runs may have shifted the offsets since the last page: skip rows already shown.
        fresh = [run for run in runs if run.id not in self._row_of]
        if fresh:
            first = len(self._runs)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._runs.extend(fresh)
            self._reindex(first)
            self.endInsertRows()
        if self._count is not None and len(self._runs) >= self._count:
            self._exhausted = True
        self.sig_page_loaded.emit(len(fresh))

    def _on_refreshed(self, generation: int, result: tuple[int, list[Run], bool]) -> None:
        if generation != self._generation:
            return
        count, runs, exhausted = result
        self._refresh_task = None
        if self._count != count:
            self._count = count
            self.sig_count_changed.emit(count)
        self._exhausted = exhausted
        self.sig_refreshing.emit()
        self._apply_rows(runs)
        self.sig_refreshed.emit()

    def _apply_rows(self, runs: list[Run]) -> None:
        """Turn the loaded rows into ``runs`` with row-level signals, matching rows by id."""
        new_ids = [run.id for run in runs]
        new_set = set(new_ids)
        doomed = [row for row, run in enumerate(self._runs) if run.id not in new_set]
        for first, last in reversed(_blocks(doomed)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._runs[first : last + 1]
            self.endRemoveRows()
        kept = [run.id for run in self._runs]
        kept_set = set(kept)
        target = [rid for rid in new_ids if rid in kept_set]
        if kept != target:
            # PySide6's signal takes no arguments here (the hint overload is not exposed).
            self.layoutAboutToBeChanged.emit()
            by_id = {run.id: run for run in self._runs}
            position = {rid: row for row, rid in enumerate(target)}
            before = self.persistentIndexList()
            self._runs = [by_id[rid] for rid in target]
            after = [self.index(position[kept[i.row()]], i.column()) for i in before]
            self.changePersistentIndexList(before, after)
            self.layoutChanged.emit()
        added = [row for row, rid in enumerate(new_ids) if rid not in kept_set]
        by_new_id = {run.id: run for run in runs}
        for first, last in _blocks(added):
            self.beginInsertRows(QModelIndex(), first, last)
            self._runs[first:first] = [by_new_id[rid] for rid in new_ids[first : last + 1]]
            self.endInsertRows()
        self._runs = list(runs)
        self._reindex()
        if self._runs:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._runs) - 1, self.columnCount() - 1)
            )

    def _reindex(self, start: int = 0) -> None:
        if start == 0:
            self._row_of = {}
            self._texts = {}
        for row in range(start, len(self._runs)):
            self._row_of[self._runs[row].id] = row

    # ---- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown.columns)

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        columns = self._shown.columns
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(columns):
            if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
                return str(section + 1)
            return None
        column = columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{column.sort_term}  (click to sort)"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        return None

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Views ask for many roles per cell on every paint: answer the unused ones first.
        if role not in _DATA_ROLES:
            return None
        row, col = index.row(), index.column()
        columns = self._shown.columns
        if not (0 <= row < len(self._runs) and 0 <= col < len(columns)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display_text(row, col)
        column = columns[col]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        run = self._runs[row]
        if role == Qt.ItemDataRole.ForegroundRole:
            return _status_color(run.status) if column.kind == "status" else None
        if role == RUN_ID_ROLE:
            return run.id
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        return self._sort_value(run, column)

    def display_text(self, row: int, col: int) -> str:
        """The text shown in a cell (formatted once per run and column set)."""
        run = self._runs[row]
        texts = self._texts.get(run.id)
        if texts is None:
            texts = [self._display(run, column) for column in self._shown.columns]
            self._texts[run.id] = texts
        if run.status == RunStatus.RUNNING and self._shown.columns[col].kind == "duration":
            return self._display(run, self._shown.columns[col])  # still growing
        return texts[col]

    def _display(self, run: Run, column: Column) -> str:
        kind = column.kind
        if kind == "status":
            return f"● {run.status.value.capitalize()}"
        if kind == "name":
            return run.name
        if kind == "experiment":
            return run.experiment_name
        if kind == "start":
            return format_time(run.start_time)
        if kind == "duration":
            if run.status == RunStatus.RUNNING and run.start_time is not None:
                return format_duration(time.time() - run.start_time)
            return format_duration(run.duration)
        if kind == "param":
            return run.params.get(column.key, "")
        summary = run.metrics.get(column.key)
        return "" if summary is None else format_number(getattr(summary, column.aggregate))

    def _sort_value(self, run: Run, column: Column) -> Any:
        if column.kind == "metric":
            summary = run.metrics.get(column.key)
            return None if summary is None else getattr(summary, column.aggregate)
        if column.kind == "start":
            return run.start_time
        if column.kind == "duration":
            return run.duration
        return self._display(run, column)

    def _tooltip(self, run: Run, column: Column) -> str | None:
        if column.kind == "status":
            reason = run.status_reason.strip().splitlines()[0] if run.status_reason.strip() else ""
            return f"{run.status.value}: {reason}" if reason else run.status.value
        if column.kind == "name":
            return f"{run.name}\nid {run.id}"
        if column.kind == "metric":
            summary = run.metrics.get(column.key)
            if summary is None:
                return f"No {column.key} logged"
            step = {"last": summary.last_step, "min": summary.min_step, "max": summary.max_step}
            value = getattr(summary, column.aggregate)
            return f"{column.key} {column.aggregate} = {value!r} at step {step[column.aggregate]}"
        if column.kind == "start":
            return format_full_time(run.start_time) or None
        text = self._display(run, column)
        return text or None


def _blocks(rows: list[int]) -> list[tuple[int, int]]:
    """Contiguous ``(first, last)`` runs of sorted row numbers."""
    blocks: list[tuple[int, int]] = []
    for row in rows:
        if blocks and blocks[-1][1] == row - 1:
            blocks[-1] = (blocks[-1][0], row)
        else:
            blocks.append((row, row))
    return blocks


def _status_color(status: RunStatus) -> QColor:
    name = STATUS_COLORS.get(status)
    if name is not None:
        return QColor(name)
    return QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)


# ---- column chooser ----------------------------------------------------------------------------


class ColumnChooserDialog(QDialog):
    """Check the param keys and the metric keys × last/min/max to show as columns."""

    def __init__(
        self,
        param_keys: Sequence[str],
        metric_keys: Sequence[str],
        chosen_params: Sequence[str],
        chosen_metrics: Sequence[tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Columns")
        self.resize(560, 480)
        self._search = QLineEdit()
        self._search.setPlaceholderText("Find a param or metric…")
        self._search.setClearButtonEnabled(True)
        self._search.textChanged.connect(self._apply_search)

        self.params_list = QListWidget()
        self.params_list.setUniformItemSizes(True)
        for key in sorted(set(param_keys) | set(chosen_params)):
            item = QListWidgetItem(key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = key in chosen_params
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.params_list.addItem(item)

        self.metrics_tree = QTreeWidget()
        self.metrics_tree.setColumnCount(1 + len(METRIC_AGGREGATES))
        self.metrics_tree.setHeaderLabels(["Metric", *METRIC_AGGREGATES])
        self.metrics_tree.setRootIsDecorated(False)
        self.metrics_tree.setUniformRowHeights(True)
        chosen = set(chosen_metrics)
        for key in sorted(set(metric_keys) | {k for k, _ in chosen_metrics}):
            item = QTreeWidgetItem([key, "", "", ""])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            for col, aggregate in enumerate(METRIC_AGGREGATES, start=1):
                state = (
                    Qt.CheckState.Checked if (key, aggregate) in chosen else Qt.CheckState.Unchecked
                )
                item.setCheckState(col, state)
            self.metrics_tree.addTopLevelItem(item)
        header = self.metrics_tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 1 + len(METRIC_AGGREGATES)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

        clear = QPushButton("Show none")
        clear.clicked.connect(self._clear)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.addButton(clear, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Params</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Metrics</b>"), 0, 1)
        grid.addWidget(self.params_list, 1, 0)
        grid.addWidget(self.metrics_tree, 1, 1)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        top = QHBoxLayout()
        top.addWidget(self._search)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid, 1)
        layout.addWidget(buttons)

    def chosen(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The checked params and ``(metric, aggregate)`` pairs, in list order."""
        params = [
            self.params_list.item(i).text()
            for i in range(self.params_list.count())
            if self.params_list.item(i).checkState() == Qt.CheckState.Checked
        ]
        metrics: list[tuple[str, str]] = []
        for i in range(self.metrics_tree.topLevelItemCount()):
            item = self.metrics_tree.topLevelItem(i)
            for col, aggregate in enumerate(METRIC_AGGREGATES, start=1):
                if item.checkState(col) == Qt.CheckState.Checked:
                    metrics.append((item.text(0), aggregate))
        return params, metrics

    def _apply_search(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.params_list.count()):
            item = self.params_list.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())
        for i in range(self.metrics_tree.topLevelItemCount()):
            item = self.metrics_tree.topLevelItem(i)
            item.setHidden(bool(needle) and needle not in item.text(0).lower())

    def _clear(self) -> None:
        for i in range(self.params_list.count()):
            self.params_list.item(i).setCheckState(Qt.CheckState.Unchecked)
        for i in range(self.metrics_tree.topLevelItemCount()):
            item = self.metrics_tree.topLevelItem(i)
            for col in range(1, 1 + len(METRIC_AGGREGATES)):
                item.setCheckState(col, Qt.CheckState.Unchecked)
