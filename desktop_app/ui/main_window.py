"""The main window: experiments on the left, the filterable runs table in the centre, details right.

The window holds no logic of its own: it turns user actions into registry calls run in workers,
and turns registry changes (noticed by the watcher) into model refreshes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import AppError, QuerySyntaxError
from desktop_app.registry import PurgeReport, Registry, open_registry
from desktop_app.ui import errors_hook, settings, workers
from desktop_app.ui.experiments_panel import ExperimentsPanel
from desktop_app.ui.filter_bar import ERROR_STYLE, FilterBar
from desktop_app.ui.formatting import human_size
from desktop_app.ui.runs_model import ColumnChooserDialog, RunsTableModel
from desktop_app.ui.serving_actions import ServingActions
from desktop_app.ui.training_actions import TrainingActions
from desktop_app.ui.watcher import RegistryWatcher
from desktop_app.ui.workers import Task, TaskControl, start_task
from desktop_app.ui.workspace_actions import WorkspaceActions

ENV_NO_DEMO = "MODELDESK_NO_DEMO"
UNDO_SECONDS = 15
DEFAULT_PARAM_COLUMNS = 4
DEFAULT_METRIC_COLUMNS = 4
KEYS_REFRESH_MS = 2000
RESUME_JOBS_DELAY_MS = 1500
_MIN_WIDTH, _MAX_WIDTH = 56, 320
_FIXED_WIDTHS = {"status": 96, "start": 104, "duration": 84}


def detail_panel_class() -> type[QWidget] | None:
    """The run detail panel class, or None while that module does not exist.

    Imported on demand (the window does it in a worker): it brings pyqtgraph, which the first
    paint does not need.
    """
    try:
        from desktop_app.ui.run_detail import RunDetailPanel
    except ModuleNotFoundError as exc:
        if exc.name != "desktop_app.ui.run_detail":
            raise
        return None
    return RunDetailPanel


def confirm(parent: QWidget | None, title: str, text: str, action: str) -> bool:
    """Ask a yes/no question; True when the user chose ``action`` (tests replace this)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    accept = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(accept)
    box.exec()
    return box.clickedButton() is accept


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def load_keys(registry: Registry, experiments: list[int] | None) -> dict[str, list[str]]:
    """Metric, param and tag names used in a scope (runs in a worker)."""
    return {kind: registry.list_keys(kind, experiments) for kind in ("metrics", "params", "tags")}


def _delete_experiments(registry: Registry, ids: list[int]) -> list[int]:
    for experiment_id in ids:
        registry.delete_experiment(experiment_id)
    return ids


def _restore_experiments(registry: Registry, ids: list[int]) -> list[int]:
    for experiment_id in ids:
        registry.restore_experiment(experiment_id)
    return ids


def run_demo(registry: Registry, control: TaskControl) -> int:
    """Fill an empty registry with the demo runs (imports scikit-learn, so it runs in a worker)."""
    from desktop_app.training.demo import create_demo

    result = create_demo(registry, progress=control.progress, should_stop=control.should_stop)
    return int(result or 0)


class MainWindow(QMainWindow):
    """Experiments, the filterable runs table and the run detail of one registry."""

    sig_closed = Signal()
    """The window closed and stopped its timers and workers."""

    _open_windows: ClassVar[set[MainWindow]] = set()

    def __init__(
        self,
        registry: Registry,
        parent: QWidget | None = None,
        *,
        owns_registry: bool = False,
        watch: bool = True,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self._owns_registry = owns_registry
        self._closed = False
        self._keys: dict[str, list[str]] = {"metrics": [], "params": [], "tags": []}
        self._keys_task: Task | None = None
        self._keys_again = False
        self._auto_columns = False
        self._widths: dict[str, int] = settings.load_json("table/widths", {}) or {}
        self._applying_widths = False
        self._shown_column_ids: tuple[str, ...] = ()
        self._scroll_anchor: str | None = None
        self._undo: Callable[[], None] | None = None
        self._demo_task: Task | None = None
        self._load_error = False
        self._scope: tuple[tuple[int, ...] | None, bool] = (None, False)

        self.setWindowTitle(f"ModelDesk — {registry.root}")
        self.resize(1360, 820)

        self.runs_model = RunsTableModel(registry, self, autoload=False)
        self.experiments_panel = ExperimentsPanel(registry)
        self.filter_bar = FilterBar()
        self.runs_view = QTableView()
        self.detail_panel: QWidget = self._make_detail_placeholder()
        self._detail_installed = False
        self._detail_importing = False
        self._pending_detail: str | None = None
        self.watcher = RegistryWatcher(registry, self)
        self._keys_timer = QTimer(self)
        self._keys_timer.setObjectName("keysRefreshTimer")
        self._keys_timer.setSingleShot(True)
        self._keys_timer.setInterval(KEYS_REFRESH_MS)
        self._keys_timer.timeout.connect(self._load_keys)
        self._undo_timer = QTimer(self)
        self._undo_timer.setObjectName("undoTimer")
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(self._hide_undo)

        self._build_table()
        self._build_layout()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self._restore_window_state()

        self._on_scope_changed(None, False)
        self.experiments_panel.refresh()
        if watch:
            self.watcher.start()
        MainWindow._open_windows.add(self)

    # ---- construction ------------------------------------------------------------------------

    def _make_detail_placeholder(self) -> QWidget:
        placeholder = QLabel("Select a run to see its details.")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setWordWrap(True)
        placeholder.setEnabled(False)
        return placeholder

    def ensure_detail_panel(self) -> QWidget:
        """Put the real run detail panel in place of the placeholder (once; after first paint)."""
        if self._detail_installed or self._closed:
            return self.detail_panel
        self._detail_installed = True
        panel_class = detail_panel_class()
        if panel_class is None:
            return self.detail_panel
        panel = panel_class(self.registry)  # type: ignore[call-arg]
        panel.setMinimumWidth(240)
        placeholder = self.detail_panel
        sizes = self.splitter.sizes()
        self.splitter.replaceWidget(2, panel)
        self.splitter.setSizes(sizes)
        placeholder.deleteLater()
        self.detail_panel = panel
        edited = getattr(panel, "sig_run_edited", None)
        if edited is not None:
            edited.connect(self._on_run_edited)
        follow = getattr(panel, "sig_open_run_requested", None)
        if follow is not None:
            follow.connect(self.select_run)
        register = getattr(panel, "sig_register_requested", None)
        if register is not None:
            register.connect(lambda run_id: self.workspace_actions.register_selected())
        if self._pending_detail is not None:
            self._show_detail(self._pending_detail)
        return panel

    def _build_table(self) -> None:
        view = self.runs_view
        view.setObjectName("runsTable")
        view.setModel(self.runs_model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setCornerButtonEnabled(False)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.setAccessibleName("Runs")
        vertical = view.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(view.fontMetrics().height() + 10)
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicatorClearable(True)
        header.setMinimumSectionSize(_MIN_WIDTH)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        view.setSortingEnabled(True)

        self.empty_label = QLabel(view.viewport())
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)
        self.empty_label.hide()
        view.viewport().installEventFilter(self)

    def _build_layout(self) -> None:
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(6)
        centre_layout.addWidget(self.filter_bar)
        centre_layout.addWidget(self.runs_view, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.experiments_panel)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.detail_panel)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([180, 720, 480])
        self.experiments_panel.setMinimumWidth(140)
        self.detail_panel.setMinimumWidth(320)

        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.splitter)
        self.setCentralWidget(body)

    def _action(
        self,
        text: str,
        slot: Callable[[], Any],
        shortcuts: list[QKeySequence] | None = None,
        icon: QStyle.StandardPixmap | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts(shortcuts)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        key = QKeySequence
        self.action_open = self._action(
            "&Open Registry Folder…", self.open_registry_folder, [key(key.StandardKey.Open)],
            sp.SP_DirOpenIcon, "Open another registry folder",
        )  # fmt: skip
        self.action_quit = self._action("&Quit", self._quit, [key(key.StandardKey.Quit)])
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.action_copy_id = self._action(
            "&Copy Run ID", self.copy_run_ids, [key("Ctrl+Shift+C")],
            tip="Copy the ids of the selected runs",
        )  # fmt: skip
        self.action_delete = self._action(
            "Move to &Trash", self.delete_selected, [key(key.StandardKey.Delete)],
            sp.SP_TrashIcon, "Move the selected runs to the trash (Delete)",
        )  # fmt: skip
        self.action_restore = self._action(
            "&Restore", self.restore_selected, [key("Ctrl+Shift+R")],
            sp.SP_DialogResetButton, "Restore the selected runs from the trash (Ctrl+Shift+R)",
        )  # fmt: skip
        self.action_select_all = self._action(
            "Select &All", self.runs_view.selectAll, [key(key.StandardKey.SelectAll)]
        )
        self.action_focus_filter = self._action(
            "&Filter…", self.filter_bar.focus_filter, [key("Ctrl+F"), key("Ctrl+L")],
            tip="Type a filter query (Ctrl+F)",
        )  # fmt: skip
        self.action_columns = self._action(
            "&Columns…", self.choose_columns, None, sp.SP_FileDialogListView,
            "Choose the param and metric columns",
        )  # fmt: skip
        self.action_refresh = self._action(
            "&Refresh", self.refresh, [key(key.StandardKey.Refresh), key("Ctrl+R")],
            sp.SP_BrowserReload, "Read the registry again (F5)",
        )  # fmt: skip
        self.action_empty_trash = self._action(
            "&Empty Trash…", self.empty_trash, None, sp.SP_TrashIcon,
            "Erase the runs and experiments in the trash for good",
        )  # fmt: skip
        self.action_about = self._action("&About ModelDesk", self.show_about)
        self.action_preferences = self._action(
            "Pre&ferences…",
            self.show_preferences,
            [QKeySequence(QKeySequence.StandardKey.Preferences), QKeySequence("Ctrl+,")],
            tip="Parallel training jobs, the warm worker, the Dask cluster for sweeps",
        )
        self.action_preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.action_open)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self.action_copy_id)
        edit_menu.addSeparator()
        edit_menu.addAction(self.action_delete)
        edit_menu.addAction(self.action_restore)
        edit_menu.addAction(self.action_empty_trash)
        edit_menu.addSeparator()
        edit_menu.addAction(self.action_select_all)
        edit_menu.addAction(self.action_focus_filter)
        edit_menu.addSeparator()
        edit_menu.addAction(self.action_preferences)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.action_columns)
        view_menu.addAction(self.action_refresh)
        run_menu = menu.addMenu("&Run")
        self.workspace_actions = WorkspaceActions(self, self.registry, self.selected_run_ids)
        self.workspace_actions.install(file_menu, run_menu)
        self.training_actions = TrainingActions(
            self, self.registry, lambda: self.workspace_actions.workspace, self.selected_run_ids
        )
        self.training_actions.install(run_menu)
        self.training_actions.sig_run_ended.connect(lambda _run_id: self.on_registry_changed())
        self.serving_actions = ServingActions(self, self.registry)
        self.serving_actions.install(run_menu)
        self.workspace_actions.sig_serve_requested.connect(self.serving_actions.open_serve_dialog)
        self.workspace_actions.sig_show_run.connect(self.select_run)
        # After the first paint: jobs and servers an earlier session left are taken up again.
        self._resume_timer = QTimer(self)
        self._resume_timer.setObjectName("resumeLeftJobsTimer")
        self._resume_timer.setSingleShot(True)
        self._resume_timer.setInterval(RESUME_JOBS_DELAY_MS)
        self._resume_timer.timeout.connect(self._resume_left_jobs)
        self._resume_timer.start()
        self.workspace_actions.sig_message.connect(lambda text: self.show_status(text, 8000))
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.action_about)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        # The model's life, left to right: train, compare, register, serve.
        sp = QStyle.StandardPixmap
        for action, text, pixmap in (
            (self.training_actions.action_new_job, "New Job", sp.SP_FileIcon),
            (self.workspace_actions.action_compare_runs, "Compare", sp.SP_FileDialogDetailedView),
            (self.workspace_actions.action_models, "Models", sp.SP_DriveHDIcon),
            (self.serving_actions.action_servers, "Servers", sp.SP_ComputerIcon),
        ):
            action.setIcon(self.style().standardIcon(pixmap))
            action.setIconText(text)  # the toolbar's short label; menus keep the full name
            action.setToolTip(action.statusTip())
            toolbar.addAction(action)
            if action is self.training_actions.action_new_job:
                toolbar.addSeparator()
        toolbar.addSeparator()
        toolbar.addAction(self.action_refresh)
        toolbar.addAction(self.action_columns)
        toolbar.addSeparator()
        toolbar.addAction(self.action_delete)
        toolbar.addAction(self.action_restore)
        view_menu.addSeparator()
        view_menu.addAction(toolbar.toggleViewAction())

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.error_label = QLabel()
        self.error_label.setObjectName("statusError")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()
        bar.addWidget(self.error_label, 1)

        self.demo_box = QWidget()
        demo_layout = QHBoxLayout(self.demo_box)
        demo_layout.setContentsMargins(0, 0, 0, 0)
        self.demo_label = QLabel("Creating demo runs…")
        self.demo_progress = QProgressBar()
        self.demo_progress.setMaximumWidth(140)
        self.demo_progress.setMaximumHeight(14)
        self.demo_progress.setTextVisible(False)
        self.demo_cancel = QToolButton()
        self.demo_cancel.setText("Cancel")
        self.demo_cancel.clicked.connect(self.cancel_demo)
        demo_layout.addWidget(self.demo_label)
        demo_layout.addWidget(self.demo_progress)
        demo_layout.addWidget(self.demo_cancel)
        self.demo_box.hide()
        bar.addPermanentWidget(self.demo_box)

        self.undo_button = QToolButton()
        self.undo_button.setText("Undo")
        self.undo_button.setAutoRaise(True)
        self.undo_button.setToolTip("Restore what was just moved to the trash")
        self.undo_button.clicked.connect(self.undo)
        self.undo_button.hide()
        bar.addPermanentWidget(self.undo_button)

        self.count_label = QLabel()
        self.count_label.setObjectName("runCount")
        bar.addPermanentWidget(self.count_label)
        self.path_label = QLabel()
        self.path_label.setObjectName("registryPath")
        self.path_label.setEnabled(False)
        self.path_label.setMaximumWidth(360)
        path = str(self.registry.root)
        self.path_label.setToolTip(path)
        elided = self.path_label.fontMetrics().elidedText(path, Qt.TextElideMode.ElideMiddle, 340)
        self.path_label.setText(elided)
        bar.addPermanentWidget(self.path_label)

    def _connect(self) -> None:
        model = self.runs_model
        model.sig_loaded.connect(self._on_model_loaded)
        model.sig_count_changed.connect(lambda _n: self._update_count())
        model.sig_failed.connect(self._on_model_failed)
        model.sig_refreshing.connect(self._note_scroll_anchor)
        model.sig_refreshed.connect(self._restore_scroll_anchor)
        model.sig_busy_changed.connect(lambda _busy: self._update_empty_state())
        model.rowsInserted.connect(lambda *_: self._update_empty_state())
        model.rowsRemoved.connect(lambda *_: self._update_empty_state())
        selection = self.runs_view.selectionModel()
        selection.currentRowChanged.connect(self._on_current_row_changed)
        selection.selectionChanged.connect(lambda *_: self._update_actions())
        self.runs_view.customContextMenuRequested.connect(self._table_context_menu)
        self.runs_view.horizontalHeader().sectionResized.connect(self._on_section_resized)
        self.filter_bar.sig_query_applied.connect(self._on_query_applied)
        self.experiments_panel.sig_scope_changed.connect(self._on_scope_changed)
        self.experiments_panel.sig_delete_requested.connect(self.delete_experiments)
        self.experiments_panel.sig_restore_requested.connect(self.restore_experiments)
        self.watcher.sig_changed.connect(self.on_registry_changed)
        errors_hook.notifier().sig_app_error.connect(self.show_error)

    # ---- state -------------------------------------------------------------------------------

    def _restore_window_state(self) -> None:
        geometry = settings.load_bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.load_bytes("window/state")
        if state is not None:
            self.restoreState(state)
        splitter = settings.load_bytes("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def _save_window_state(self) -> None:
        settings.save_bytes("window/geometry", self.saveGeometry())
        settings.save_bytes("window/state", self.saveState())
        settings.save_bytes("window/splitter", self.splitter.saveState())
        settings.save_json("table/widths", self._widths)

    def selected_run_ids(self) -> list[str]:
        """Ids of the selected runs, top to bottom."""
        rows = sorted(index.row() for index in self.runs_view.selectionModel().selectedRows())
        ids = [self.runs_model.run_id_at(row) for row in rows]
        return [run_id for run_id in ids if run_id is not None]

    def current_run_id(self) -> str | None:
        """The id of the run with the keyboard focus in the table."""
        index = self.runs_view.currentIndex()
        return self.runs_model.run_id_at(index.row()) if index.isValid() else None

    def is_busy(self) -> bool:
        """Whether rows, counts, experiments or keys are still being read."""
        return (
            self.runs_model.is_loading()
            or self.experiments_panel.is_loading()
            or self._keys_task is not None
        )

    def in_trash(self) -> bool:
        """Whether the trash is the selected scope."""
        return self._scope[1]

    # ---- scope, query, columns ---------------------------------------------------------------

    @Slot(object, bool)
    def _on_scope_changed(self, experiment_ids: list[int] | None, trash: bool) -> None:
        self._scope = (None if experiment_ids is None else tuple(experiment_ids), trash)
        saved = settings.load_columns(settings.scope_key(experiment_ids, trash))
        self._auto_columns = saved is None
        if saved is not None:
            self.runs_model.set_scope(experiment_ids, trash, columns=saved)
        # Without saved columns the scope is applied with default columns once its keys are
        # known (a few milliseconds), so the table loads once, not twice.
        self._update_actions()
        self._load_keys()

    @Slot(str)
    def _on_query_applied(self, query: str) -> None:
        self.clear_error()
        self.runs_model.set_query(query)

    @Slot()
    def _load_keys(self) -> None:
        """Re-read metric/param/tag names for completion and default columns."""
        if self._keys_task is not None:
            self._keys_again = True
            return
        scope = self._scope
        experiments = None if scope[0] is None else list(scope[0])
        self._keys_task = start_task(
            load_keys,
            self.registry,
            experiments,
            on_returned=lambda keys: self._on_keys(scope, keys),
            on_errored=lambda _exc: self._on_keys(scope, None),
            on_finished=self._on_keys_finished,
        )

    def _on_keys_finished(self) -> None:
        self._keys_task = None
        if self._keys_again and not self._closed:
            self._keys_again = False
            self._load_keys()

    def _on_keys(
        self, scope: tuple[tuple[int, ...] | None, bool], keys: dict[str, list[str]] | None
    ) -> None:
        if self._closed or scope != self._scope:
            return
        if keys is not None:
            self._keys = keys
            self.filter_bar.set_keys(keys["metrics"], keys["params"], keys["tags"])
        if self._auto_columns:
            params = self._keys["params"][:DEFAULT_PARAM_COLUMNS] if keys else []
            metrics = [(k, "last") for k in self._keys["metrics"][:DEFAULT_METRIC_COLUMNS]]
            ids = None if scope[0] is None else list(scope[0])
            self.runs_model.set_scope(ids, scope[1], columns=(params, metrics if keys else []))

    def choose_columns(self) -> None:
        """Open the column chooser for the current scope."""
        spec = self.runs_model.spec
        dialog = ColumnChooserDialog(
            self._keys["params"], self._keys["metrics"], spec.params, spec.metrics, self
        )
        if dialog.exec() != ColumnChooserDialog.DialogCode.Accepted:
            return
        params, metrics = dialog.chosen()
        ids, trash = self._scope
        settings.save_columns(
            settings.scope_key(None if ids is None else list(ids), trash), params, metrics
        )
        self._auto_columns = False
        self.runs_model.set_columns(params, metrics)

    # ---- model events ------------------------------------------------------------------------

    @Slot()
    def _on_model_loaded(self) -> None:
        if not self._detail_installed and not self._detail_importing:
            # The panel's imports (pyqtgraph) take a second: do them in a worker once
            # the first rows are in, then build the panel here.
            self._detail_importing = True
            start_task(detail_panel_class, on_returned=lambda _cls: self.ensure_detail_panel())
        self._apply_column_widths()
        header = self.runs_view.horizontalHeader()
        column, order = self.runs_model.sort_state()
        header.blockSignals(True)
        header.setSortIndicator(column, order)
        header.blockSignals(False)
        header.viewport().update()
        wanted = self._shown_run_id()
        row = self.runs_model.row_of(wanted) if wanted else None
        if row is not None:
            self._select_row(row)
        else:
            self._show_detail(None)
        if self._load_error:
            self._load_error = False
            self.clear_error()
        self._update_count()
        self._update_actions()
        self._update_empty_state()

    def _shown_run_id(self) -> str | None:
        if not self._detail_installed:
            return self._pending_detail
        run_id = getattr(self.detail_panel, "run_id", None)
        return run_id if isinstance(run_id, str) else None

    def _apply_column_widths(self) -> None:
        """Remembered widths, else fixed ones, else the header and the first rows' text.

        Measured here with font metrics: asking the view to fit columns to their contents
        queries every role of every loaded cell and takes most of a second.
        """
        columns = self.runs_model.columns()
        ids = tuple(c.id for c in columns)
        if ids == self._shown_column_ids:
            return
        self._shown_column_ids = ids
        view = self.runs_view
        text_metrics = view.fontMetrics()
        header_metrics = view.horizontalHeader().fontMetrics()
        sample = range(min(self.runs_model.rowCount(), 50))
        self._applying_widths = True
        try:
            for index, column in enumerate(columns):
                width = self._widths.get(column.id) or _FIXED_WIDTHS.get(column.id)
                if width is None:
                    texts = [self.runs_model.display_text(row, index) for row in sample]
                    content = max((text_metrics.horizontalAdvance(t) for t in texts), default=0)
                    title = header_metrics.horizontalAdvance(column.title) + 24  # sort arrow
                    width = max(content + 20, title, 120 if column.id == "name" else 0)
                view.setColumnWidth(index, max(_MIN_WIDTH, min(_MAX_WIDTH, int(width))))
        finally:
            self._applying_widths = False

    @Slot(int, int, int)
    def _on_section_resized(self, index: int, _old: int, new: int) -> None:
        if self._applying_widths:
            return
        columns = self.runs_model.columns()
        if 0 <= index < len(columns) and new > 0:
            self._widths[columns[index].id] = new

    @Slot(object)
    def _on_model_failed(self, exc: AppError) -> None:
        if isinstance(exc, QuerySyntaxError):
            self.filter_bar.show_error(str(exc), exc.column)
        else:
            self._load_error = True
            self.show_error(exc)

    def _note_scroll_anchor(self) -> None:
        top = self.runs_view.rowAt(0)
        self._scroll_anchor = self.runs_model.run_id_at(top) if top > 0 else None

    def _restore_scroll_anchor(self) -> None:
        if self._scroll_anchor is not None:
            row = self.runs_model.row_of(self._scroll_anchor)
            if row is not None:
                self.runs_view.scrollTo(
                    self.runs_model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop
                )
        self._scroll_anchor = None
        self._update_count()

    def _update_count(self) -> None:
        count = self.runs_model.count()
        selected = len(self.runs_view.selectionModel().selectedRows())
        if count is None:
            text = "Counting…"
        else:
            text = _plural(count, "run") + (" in the trash" if self.in_trash() else "")
        if selected > 1:
            text += f"  ·  {selected:,} selected"
        self.count_label.setText(text)

    def _update_empty_state(self) -> None:
        model = self.runs_model
        if model.rowCount() > 0 or model.rows_pending():
            self.empty_label.hide()
            return
        if model.spec.query:
            text = "No runs match the filter."
        elif model.spec.trash:
            text = "The trash is empty."
        elif self._demo_task is not None:
            text = "Creating demo runs…"
        else:
            text = (
                "No runs yet.\n\nLog one from a script:\n"
                'with tracking.start_run(experiment="my-experiment") as run:\n'
                '    run.log_metric("loss", 0.1)'
            )
        self.empty_label.setText(text)
        self.empty_label.resize(self.runs_view.viewport().size())
        self.empty_label.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.runs_view.viewport() and event.type() == QEvent.Type.Resize:
            self.empty_label.resize(self.runs_view.viewport().size())
        return super().eventFilter(watched, event)

    def _update_actions(self) -> None:
        has_selection = self.runs_view.selectionModel().hasSelection()
        trash = self.in_trash()
        self.action_delete.setEnabled(not trash)
        self.action_restore.setEnabled(trash and has_selection)
        self.action_copy_id.setEnabled(has_selection)
        self._update_count()

    # ---- selection and detail ----------------------------------------------------------------

    def _on_current_row_changed(self, current: Any, _previous: Any) -> None:
        run_id = self.runs_model.run_id_at(current.row()) if current.isValid() else None
        if run_id is not None:
            self._show_detail(run_id)

    def _show_detail(self, run_id: str | None) -> None:
        self._pending_detail = run_id
        show = getattr(self.detail_panel, "show_run", None)
        if show is not None:
            show(run_id)

    def _select_row(self, row: int) -> None:
        index = self.runs_model.index(row, 0)
        selection = self.runs_view.selectionModel()
        selection.setCurrentIndex(
            index,
            selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows,
        )
        self.runs_view.scrollTo(index)

    @Slot(str)
    def select_run(self, run_id: str) -> None:
        """Select a run in the table when it is loaded, else just show its details."""
        row = self.runs_model.row_of(run_id)
        if row is not None:
            self._select_row(row)
        else:
            self._show_detail(run_id)

    @Slot(str)
    def _on_run_edited(self, _run_id: str) -> None:
        self.runs_model.refresh()
        self.experiments_panel.refresh()

    # ---- live updates ------------------------------------------------------------------------

    @Slot()
    def on_registry_changed(self) -> None:
        """Another connection committed: refresh rows, counts, keys and the detail pane."""
        if self._closed:
            return
        self.runs_model.refresh()
        self.experiments_panel.refresh()
        refresh_detail = getattr(self.detail_panel, "refresh", None)
        if callable(refresh_detail):
            refresh_detail()
        models = self.workspace_actions.models_window
        if models is not None:
            models.on_registry_changed()  # type: ignore[attr-defined]
        if not self._keys_timer.isActive():
            self._keys_timer.start()

    def refresh(self) -> None:
        """Read everything again (View ▸ Refresh)."""
        self.runs_model.reload()
        self.experiments_panel.refresh()
        self._load_keys()
        refresh_detail = getattr(self.detail_panel, "refresh", None)
        if callable(refresh_detail):
            refresh_detail()

    # ---- commands ----------------------------------------------------------------------------

    def copy_run_ids(self) -> None:
        """Put the selected runs' ids on the clipboard, one a line."""
        ids = self.selected_run_ids() or [i for i in [self.current_run_id()] if i]
        if not ids:
            return
        QGuiApplication.clipboard().setText("\n".join(ids))
        self.show_status(
            f"Copied {ids[0]}" if len(ids) == 1 else f"Copied {len(ids)} run ids", 4000
        )

    def delete_selected(self) -> None:
        """Move the selected runs (or experiments, from the experiments list) to the trash."""
        if self.experiments_panel.tree.hasFocus():
            ids = self.experiments_panel.selected_active_ids()
            if ids:
                self.delete_experiments(ids)
            return
        if self.in_trash():
            return
        ids = self.selected_run_ids()
        if not ids:
            return
        if len(ids) == 1:
            text = "Move 1 run to the trash? You can restore it from the Trash."
        else:
            text = f"Move {len(ids):,} runs to the trash? You can restore them from the Trash."
        if not confirm(self, "Move to Trash", text, "Move to Trash"):
            return
        start_task(
            self.registry.delete_runs,
            ids,
            on_returned=lambda count: self._after_delete(ids, count),
            on_errored=self.show_error_or_raise,
        )

    def _after_delete(self, ids: list[str], count: int) -> None:
        self.clear_error()
        self._offer_undo(
            f"Moved {_plural(count, 'run')} to the trash.",
            lambda: start_task(
                self.registry.restore_runs,
                ids,
                on_returned=lambda n: self._after_restore(n, undo=True),
                on_errored=self.show_error_or_raise,
            ),
        )
        self.on_registry_changed()

    def empty_trash(self) -> None:
        """Erase everything in the trash for good, after asking, and say how much was freed."""
        from desktop_app.versioning.run_code import purge_runs

        def ask(counts: tuple[int, int]) -> None:
            runs, experiments = counts
            if not runs and not experiments:
                self.show_status("The trash is empty.", 4000)
                return
            what = _plural(runs, "run")
            if experiments:
                what += f" and {_plural(experiments, 'experiment')}"
            text = (
                f"Erase {what} in the trash for good? Their metrics, artifacts no other run "
                "uses, and code snapshots are deleted. This cannot be undone."
            )
            if not confirm(self, "Empty Trash", text, "Empty Trash"):
                return
            start_task(
                purge_runs,
                self.registry,
                on_returned=self._after_purge,
                on_errored=self.show_error_or_raise,
            )

        start_task(
            lambda: (
                self.registry.count_runs(trash=True),
                len(self.registry.list_experiments("deleted")),
            ),
            on_returned=ask,
            on_errored=self.show_error_or_raise,
        )

    def _after_purge(self, report: PurgeReport) -> None:
        self._hide_undo()
        freed = human_size(report.bytes_freed)
        self.show_status(
            f"Erased {_plural(report.runs, 'run')}; removed "
            f"{_plural(report.artifacts_removed, 'artifact file')}, freed {freed}.",
            10_000,
        )
        self.on_registry_changed()

    def restore_selected(self) -> None:
        """Bring the selected runs back from the trash."""
        if self.experiments_panel.tree.hasFocus() and self.experiments_panel.selected_deleted_ids():
            self.restore_experiments(self.experiments_panel.selected_deleted_ids())
            return
        if not self.in_trash():
            return
        ids = self.selected_run_ids()
        if not ids:
            return
        deleted_experiments = {e.id for e in self.experiments_panel.deleted_experiments()}
        held = [
            run
            for run in (self.runs_model.run_at(self.runs_model.row_of(i) or -1) for i in ids)
            if run is not None and run.experiment_id in deleted_experiments
        ]
        start_task(
            self.registry.restore_runs,
            ids,
            on_returned=lambda n: self._after_restore(n, held_by_experiment=len(held)),
            on_errored=self.show_error_or_raise,
        )

    def _after_restore(
        self, count: int, *, undo: bool = False, held_by_experiment: int = 0
    ) -> None:
        self.clear_error()
        self._hide_undo()
        message = f"Restored {_plural(count, 'run')}."
        if held_by_experiment:
            message += " Runs of an experiment in the trash come back when it is restored."
        self.show_status(message, 6000)
        self.on_registry_changed()

    def delete_experiments(self, ids: list[int]) -> None:
        """Move experiments (with their runs) to the trash, after asking."""
        names = {e.id: e for e in self.experiments_panel.experiments()}
        chosen = [names[i] for i in ids if i in names]
        if not chosen:
            return
        runs = sum(e.run_count for e in chosen)
        if len(chosen) == 1:
            what = f"experiment “{chosen[0].name}” and its {_plural(runs, 'run')}"
            restore = "You can restore it from the Trash."
        else:
            what = f"{len(chosen)} experiments and their {_plural(runs, 'run')}"
            restore = "You can restore them from the Trash."
        if not confirm(
            self, "Move to Trash", f"Move {what} to the trash? {restore}", "Move to Trash"
        ):
            return
        experiment_ids = [e.id for e in chosen]
        start_task(
            _delete_experiments,
            self.registry,
            experiment_ids,
            on_returned=lambda done: self._after_experiments_deleted(done),
            on_errored=self.show_error_or_raise,
        )

    def _after_experiments_deleted(self, ids: list[int]) -> None:
        self.clear_error()
        word = "experiment" if len(ids) == 1 else "experiments"
        self._offer_undo(
            f"Moved {len(ids)} {word} to the trash.",
            lambda: self.restore_experiments(ids),
        )
        self.on_registry_changed()

    def restore_experiments(self, ids: list[int]) -> None:
        """Bring experiments back from the trash."""
        start_task(
            _restore_experiments,
            self.registry,
            list(ids),
            on_returned=lambda done: self._after_experiments_restored(done),
            on_errored=self.show_error_or_raise,
        )

    def _after_experiments_restored(self, ids: list[int]) -> None:
        self.clear_error()
        self._hide_undo()
        word = "experiment" if len(ids) == 1 else "experiments"
        self.show_status(f"Restored {len(ids)} {word}.", 6000)
        self.on_registry_changed()

    def _offer_undo(self, message: str, undo: Callable[[], Any]) -> None:
        self._undo = undo
        self.show_status(message, UNDO_SECONDS * 1000)
        self.undo_button.show()
        self._undo_timer.start(UNDO_SECONDS * 1000)

    def undo(self) -> None:
        """Undo the last move to the trash."""
        undo, self._undo = self._undo, None
        self._hide_undo()
        if undo is not None:
            undo()

    def _hide_undo(self) -> None:
        self._undo_timer.stop()
        self.undo_button.hide()

    def open_registry_folder(self) -> None:
        """Open another registry folder in a new window (this one closes)."""
        folder = QFileDialog.getExistingDirectory(
            self, "Open Registry Folder", str(self.registry.root.parent)
        )
        if folder:
            self.open_registry_path(folder)

    def open_registry_path(self, folder: str) -> MainWindow | None:
        """Open the registry at ``folder`` in a new window and close this one."""
        try:
            registry = open_registry(folder)
        except AppError as exc:
            self.show_error(exc)
            return None
        window = MainWindow(registry, owns_registry=True)
        window.show()
        self.close()
        return window

    def show_preferences(self) -> QDialog:
        """Open Edit > Preferences; saved choices apply to the training queue at once."""
        from desktop_app.ui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self)
        dialog.accepted.connect(self.training_actions.apply_preferences)
        dialog.setModal(True)
        dialog.show()
        self.preferences_dialog = dialog
        return dialog

    def show_about(self) -> None:
        """Help > About: versions, the registry location, and Copy Diagnostics."""
        from desktop_app.ui.about import AboutDialog

        self.about_dialog = AboutDialog(self.registry.root, self)
        self.about_dialog.open()

    def quit_without_asking(self) -> None:
        """On the next close, leave running jobs running and stop servers, without a question."""
        from desktop_app.ui.serving_actions import STOP
        from desktop_app.ui.training_actions import LEAVE

        self.training_actions._ask_on_quit = lambda _window: LEAVE
        self.serving_actions._ask_on_quit = lambda _window, _count: STOP

    def _quit(self) -> None:
        self.close()
        app = QGuiApplication.instance()
        if app is not None and not MainWindow._open_windows:
            app.quit()

    # ---- errors ------------------------------------------------------------------------------

    @Slot(object)
    def show_error(self, exc: BaseException) -> None:
        """Show an expected error in the status bar until the next good action."""
        message = exc.message if isinstance(exc, AppError) else str(exc)
        self.error_label.setText(message)
        detail = getattr(exc, "detail", "")
        self.error_label.setToolTip(detail or message)
        self.error_label.show()

    def show_error_or_raise(self, exc: BaseException) -> None:
        """Expected errors go to the status bar, the rest to the error dialog."""
        if isinstance(exc, AppError):
            self.show_error(exc)
        else:
            errors_hook.report_exception(exc)

    def clear_error(self) -> None:
        """Hide the status-bar error."""
        self.error_label.clear()
        self.error_label.hide()

    # ---- context menu ------------------------------------------------------------------------

    @Slot(QPoint)
    def _table_context_menu(self, position: QPoint) -> None:
        index = self.runs_view.indexAt(position)
        if index.isValid() and not self.runs_view.selectionModel().isRowSelected(index.row()):
            self._select_row(index.row())
        menu = QMenu(self)
        menu.addAction(self.action_copy_id)
        menu.addAction(self.workspace_actions.action_compare_runs)
        menu.addAction(self.workspace_actions.action_compare)
        menu.addAction(self.workspace_actions.action_register)
        menu.addAction(self.training_actions.action_rerun)
        menu.addSeparator()
        menu.addAction(self.action_restore if self.in_trash() else self.action_delete)
        menu.addSeparator()
        menu.addAction(self.action_columns)
        menu.exec(self.runs_view.viewport().mapToGlobal(position))

    # ---- demo --------------------------------------------------------------------------------

    def maybe_start_demo(self) -> bool:
        """On first start (no experiments at all) fill the registry with demo runs."""
        if os.environ.get(ENV_NO_DEMO) == "1":
            return False
        if self.registry.list_experiments(lifecycle=None):
            return False
        self.start_demo()
        return True

    def start_demo(self) -> None:
        """Create the demo runs in a worker; they appear in the table as they land."""
        if self._demo_task is not None:
            return
        self.demo_label.setText("Creating demo runs…")
        self.demo_progress.setRange(0, 0)
        self.demo_cancel.setEnabled(True)
        self.demo_box.show()
        self._demo_task = start_task(
            run_demo,
            self.registry,
            with_control=True,
            on_progressed=self._on_demo_progress,
            on_returned=self._on_demo_done,
            on_errored=self._on_demo_failed,
            on_finished=self._on_demo_finished,
        )
        self._update_empty_state()

    def cancel_demo(self) -> None:
        """Stop creating demo runs after the current one."""
        if self._demo_task is not None:
            self._demo_task.cancel()
            self.demo_label.setText("Stopping after the current run…")
            self.demo_cancel.setEnabled(False)

    def demo_running(self) -> bool:
        """Whether demo runs are being created."""
        return self._demo_task is not None

    def _on_demo_progress(self, done: int, total: int, message: str) -> None:
        self.demo_progress.setRange(0, max(total, 1))
        self.demo_progress.setValue(done)
        if self.demo_cancel.isEnabled():
            self.demo_label.setText(f"Demo {min(done + 1, total)}/{total}: {message}")

    def _on_demo_done(self, count: int) -> None:
        self.show_status(f"Demo ready: {_plural(count, 'run')}.", 8000)

    def _on_demo_failed(self, exc: BaseException) -> None:
        if isinstance(exc, ImportError | AppError):
            self.show_error(AppError(f"The demo runs could not be created: {exc}"))
        else:
            errors_hook.report_exception(exc)

    def _on_demo_finished(self) -> None:
        cancelled = self._demo_task is not None and self._demo_task.cancelled
        self._demo_task = None
        self.demo_box.hide()
        if cancelled:
            self.show_status("Demo stopped.", 5000)
        self.on_registry_changed()
        self._update_empty_state()

    # ---- closing -----------------------------------------------------------------------------

    def _resume_left_jobs(self) -> None:
        if self._closed:
            return
        try:
            self.training_actions.resume_left_jobs()
        except AppError as exc:  # a registry that went read-only, say: tell, don't crash
            self.show_status(f"Waiting jobs were not resumed: {exc.message}", 8000)
        self.serving_actions.resume_left_servers()

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """Show a status-bar message, unless the window has shut down."""
        # A background task's result can arrive after close; its message would restart the
        # status bar's timer on a window that is gone.
        if not self._closed:
            self.statusBar().showMessage(text, timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed and not self.training_actions.confirm_quit():
            event.ignore()
            return
        if not self._closed and not self.serving_actions.confirm_quit():
            event.ignore()
            return
        if not self._closed:
            self._closed = True
            self._save_window_state()
            self.shutdown()
            self.sig_closed.emit()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and wait for this window's background work (called on close)."""
        self.watcher.stop()
        self.training_actions.shutdown()
        self.serving_actions.shutdown()
        self.runs_model.stop()
        self.experiments_panel.stop()
        self.filter_bar.stop()
        self._keys_timer.stop()
        self._undo_timer.stop()
        self._resume_timer.stop()
        self.statusBar().clearMessage()  # stops the status bar's message timer
        if self._demo_task is not None:
            self._demo_task.cancel()
        detail_shutdown = getattr(self.detail_panel, "shutdown", None)
        if callable(detail_shutdown):
            detail_shutdown()
        workers.wait_for_tasks(cancel=False)
        MainWindow._open_windows.discard(self)
        if self._owns_registry:
            self.registry.close()


def fill_sample_runs(registry: Registry, count: int = 30) -> None:
    """Log a few finished runs with params and stepwise metrics (for previews and screenshots)."""
    import random
    import time

    from desktop_app.registry import RunStatus

    rng = random.Random(7)
    experiments = ("iris-forest", "digits-sgd", "wine-svm")
    for index in range(count):
        experiment = experiments[index % len(experiments)]
        run = registry.create_run(
            experiment,
            params={
                "model": rng.choice(["rf", "svm", "sgd"]),
                "lr": rng.choice([0.1, 0.01, 0.001]),
                "max_depth": rng.choice([3, 5, 10]),
            },
        )
        now = time.time()
        points = [("loss", 1 / (s + 1) + rng.random() / 10, s, now) for s in range(20)]
        points += [("accuracy", 0.7 + 0.3 * rng.random(), 19, now), ("f1", rng.random(), 19, now)]
        registry.log_batch(run.id, metrics=points)
        status = rng.choice([RunStatus.FINISHED] * 5 + [RunStatus.FAILED])
        registry.set_run_status(run.id, status, end_time=now + rng.random() * 600)


def preview() -> int:
    """Open the window on a temporary registry of sample runs: ``python -m ...main_window``."""
    import sys
    import tempfile

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as folder:
        registry = Registry(folder)
        fill_sample_runs(registry)
        window = MainWindow(registry)
        window.show()
        code = app.exec()
        workers.wait_for_tasks()
        registry.close()
    return int(code)


if __name__ == "__main__":
    raise SystemExit(preview())
