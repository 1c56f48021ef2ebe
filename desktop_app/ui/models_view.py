"""The Models window: registered models; a model's versions side by side with alias chips,
their lineage, the alias moves and the card history; actions to set and remove aliases,
archive, compare, export and serve versions.

Registry and Git calls run in background tasks; the data come from
:mod:`desktop_app.reports.model_versions`, so this module only shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import AppError
from desktop_app.registry import Registry
from desktop_app.registry.models import ModelVersion
from desktop_app.reports.model_versions import (
    ARCHIVED,
    READY,
    AliasMove,
    VersionLineage,
    VersionsTable,
    alias_history,
    export_folder,
    load_versions_table,
    version_lineage,
)
from desktop_app.ui.formatting import format_full_time
from desktop_app.ui.models_lineage import LineagePanel
from desktop_app.ui.models_table import SORT_ROLE, AliasChipDelegate, VersionsTableModel
from desktop_app.ui.run_detail import Banner
from desktop_app.ui.workers import Task, start_task

Confirm = Callable[[str, str], bool]
"""``confirm(title, question) -> yes?``"""
AskAlias = Callable[[VersionsTable, int], str | None]
"""``ask_alias(table, version) -> alias or None``"""
Choose = Callable[[str, list[str]], str | None]
"""``choose(question, options) -> option or None``"""
AskFolder = Callable[[str], str]
"""``ask_folder(title) -> folder, or "" when cancelled``"""


@dataclass(frozen=True)
class ModelPage:
    """Everything the page shows of one model."""

    name: str
    table: VersionsTable
    history: list[Any]
    alias_moves: list[AliasMove]
    # ``models_fingerprint`` when read: a later different one means the page is stale.
    fingerprint: tuple[object, ...] = ()


def load_model_page(registry: Registry, name: str) -> ModelPage:
    """A model's versions, card history and alias moves (run off the GUI thread)."""
    from desktop_app.versioning.model_history import model_history

    fingerprint = models_fingerprint(registry, name)
    return ModelPage(
        name,
        load_versions_table(registry, name),
        model_history(registry, name),
        alias_history(registry, name),
        fingerprint,
    )


def export_version(registry: Registry, version: ModelVersion, chosen: str) -> Path:
    """Write a version as an MLflow Model directory in (or as) the chosen folder."""
    from desktop_app.serving.mlflow_export import export_mlflow_model

    destination = export_folder(chosen, version.model_name, version.version)
    try:
        return export_mlflow_model(registry, version, destination)
    except OSError as exc:  # a full disk or a read-only folder is the user's to fix, not a bug
        raise AppError(f"Could not write {destination}: {exc.strerror or exc}") from exc


def set_statuses(registry: Registry, name: str, versions: list[int], status: str) -> None:
    """Archive or restore several versions."""
    for number in versions:
        registry.set_model_version_status(name, number, status)


def models_fingerprint(registry: Registry, name: str | None) -> tuple[object, ...]:
    """What changes when a model, version, alias or status changes (a few cheap queries)."""
    models = tuple(
        (m.name, m.latest_version, tuple(sorted(m.aliases.items())))
        for m in registry.list_registered_models()
    )
    last = registry.list_model_audit(name, limit=1) if name else []
    return models, last[0]["at"] if last else None


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))


def _version_text(number: int | None, none: str) -> str:
    return none if number is None else f"v{number}"


def _change_text(move: AliasMove) -> str:
    if move.to_version is None:
        return f"removed from v{move.from_version}" if move.from_version else "removed"
    if move.from_version is None:
        return f"assigned to v{move.to_version}"
    return f"moved from v{move.from_version} to v{move.to_version}"


class ModelsWindow(QWidget):
    """Registered models on the left; versions, lineage and history of the chosen one."""

    sig_loaded = Signal(str)
    """The versions and history of a model are shown: (model name)."""
    sig_lineage_loaded = Signal(str, int)
    """The lineage panel shows a version: (model name, version number)."""
    sig_message = Signal(str)
    """A result for the status line, success or failure: (text)."""
    sig_serve_requested = Signal(str, str)
    """The user asked to serve: (model name, ref): ref is ``"3"`` or ``"@champion"``."""
    sig_show_run = Signal(str)
    """The user asked to see a version's source run in the main window: (run id)."""
    sig_exported = Signal(str)
    """A version was exported as an MLflow Model directory: (folder path)."""

    def __init__(
        self,
        registry: Registry,
        parent: QWidget | None = None,
        *,
        confirm: Confirm | None = None,
        ask_alias: AskAlias | None = None,
        choose: Choose | None = None,
        ask_folder: AskFolder | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("ModelDesk — Models")
        self.resize(1180, 720)
        self.registry = registry
        self._confirm = confirm or self._confirm_dialog
        self._ask_alias = ask_alias or self._alias_dialog
        self._choose = choose or self._choose_dialog
        self._ask_folder = ask_folder or self._folder_dialog
        self.page: ModelPage | None = None
        self.compare_window: QWidget | None = None
        self._lineage_task: Task | None = None
        self._probe: Task | None = None
        self._fingerprint: tuple[object, ...] | None = None
        self._build()
        self._connect()
        self._update_actions()
        self.reload()

    # ---- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.model_list = QListWidget()
        self.model_list.setMinimumWidth(160)
        self.empty_label = QLabel(
            "No registered models yet. Right-click a run that logged a model "
            "(run.log_model) and choose Register Model…"
        )
        self.empty_label.setWordWrap(True)
        self.banner = Banner()
        self.versions_model = VersionsTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.versions_model)
        self.proxy.setSortRole(SORT_ROLE)
        self.versions_view = QTableView()
        self.versions_view.setModel(self.proxy)
        self.versions_view.setSortingEnabled(True)
        self.versions_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.versions_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.versions_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.versions_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.versions_view.setAlternatingRowColors(True)
        self.versions_view.setWordWrap(False)
        self.versions_view.verticalHeader().hide()
        self.versions_view.verticalHeader().setDefaultSectionSize(26)
        self.versions_view.setItemDelegateForColumn(1, AliasChipDelegate(self.versions_view))
        header = self.versions_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.lineage = LineagePanel()
        self.lineage.setMinimumHeight(160)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.action_set_alias = self._action("Set &Alias…", "Point an alias at the version")
        self.action_remove_alias = self._action("&Remove Alias", "Remove an alias of the version")
        self.action_archive = self._action("Arc&hive", "Hide the versions from the list")
        self.action_restore = self._action("Res&tore", "Bring archived versions back")
        self.action_compare = self._action(
            "&Compare", "Compare the source runs of two or more versions"
        )
        self.action_export = self._action(
            "&Export…", "Write the version as an MLflow Model directory"
        )
        self.action_serve = self._action("&Serve…", "Serve the version on a local endpoint")
        self.action_refresh = self._action("Refresh", "Read the registry again")
        self.action_refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        for action in (
            self.action_set_alias,
            self.action_remove_alias,
            None,
            self.action_archive,
            self.action_restore,
            None,
            self.action_compare,
            self.action_export,
        ):
            if action is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(action)
        self.serve_menu = QMenu(self)
        self.serve_button = QToolButton()
        self.serve_button.setDefaultAction(self.action_serve)
        self.serve_button.setMenu(self.serve_menu)
        self.serve_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.toolbar.addWidget(self.serve_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.show_archived = QCheckBox("Show archived")
        self.toolbar.addWidget(self.show_archived)
        self.toolbar.addAction(self.action_refresh)

        versions_split = QSplitter(Qt.Orientation.Vertical)
        versions_split.addWidget(self.versions_view)
        versions_split.addWidget(self.lineage)
        versions_split.setStretchFactor(0, 1)
        versions_split.setStretchFactor(1, 1)
        versions_split.setSizes([260, 360])
        versions_page = QWidget()
        versions_layout = QVBoxLayout(versions_page)
        versions_layout.setContentsMargins(0, 0, 0, 0)
        versions_layout.addWidget(self.toolbar)
        versions_layout.addWidget(versions_split, 1)

        self.alias_table = _table(["When", "Alias", "From", "To", "Change"])
        self.history = _table(["When", "Author", "Commit", "Change"])
        self.history_note = QLabel()
        self.history_note.setWordWrap(True)
        history_page = QWidget()
        history_layout = QVBoxLayout(history_page)
        history_layout.addWidget(self.history_note)
        history_layout.addWidget(self.history, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(versions_page, "Versions")
        self.tabs.addTab(self.alias_table, "Alias History")
        self.tabs.addTab(history_page, "Card History")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.model_list)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([190, 990])
        self.status_line = QLabel()
        self.status_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary_label = QLabel()
        self.summary_label.setStyleSheet("color: #5f6368;")
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_line, 1)
        status_row.addWidget(self.summary_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addLayout(status_row)

    def _action(self, text: str, tip: str) -> QAction:
        action = QAction(text, self)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        return action

    def _connect(self) -> None:
        self.model_list.currentTextChanged.connect(self.show_model)
        self.versions_view.selectionModel().selectionChanged.connect(self._on_selection)
        self.versions_view.customContextMenuRequested.connect(self._context_menu)
        self.show_archived.toggled.connect(self.set_show_archived)
        self.lineage.sig_show_run.connect(self.sig_show_run)
        self.action_set_alias.triggered.connect(lambda _c=False: self.set_alias_on_selected())
        self.action_remove_alias.triggered.connect(lambda _c=False: self.remove_alias_of_selected())
        self.action_archive.triggered.connect(lambda _c=False: self.set_selected_status(ARCHIVED))
        self.action_restore.triggered.connect(lambda _c=False: self.set_selected_status(READY))
        self.action_compare.triggered.connect(lambda _c=False: self.compare_selected())
        self.action_export.triggered.connect(lambda _c=False: self.export_selected())
        self.action_serve.triggered.connect(lambda _c=False: self.serve_selected())
        self.action_refresh.triggered.connect(lambda _c=False: self.reload())
        self.serve_menu.aboutToShow.connect(self._fill_serve_menu)

    # ---- loading -----------------------------------------------------------------------------

    @property
    def model_name(self) -> str | None:
        """The model shown, or None."""
        return self.page.name if self.page else None

    def reload(self) -> None:
        """Read the list of models again (and the shown model)."""
        start_task(
            self.registry.list_registered_models,
            on_returned=self._models_loaded,
            on_errored=self._on_error,
        )

    def on_registry_changed(self) -> None:
        """Another connection committed: reload if a model, alias or status changed."""
        if self._probe is not None or not self.isVisible():
            return  # a hidden window reloads when shown; one probe at a time is enough

        def probed(fingerprint: tuple[object, ...]) -> None:
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self.reload()

        def finished() -> None:
            self._probe = None

        self._probe = start_task(
            models_fingerprint,
            self.registry,
            self.model_name,
            on_returned=probed,
            on_errored=lambda _exc: None,  # the next change probes again
            on_finished=finished,
        )

    def _models_loaded(self, models: list[Any]) -> None:
        current = self.model_list.currentItem().text() if self.model_list.currentItem() else None
        names = [m.name for m in models]
        self.empty_label.setVisible(not models)
        if names == [self.model_list.item(i).text() for i in range(self.model_list.count())]:
            if current:
                self.show_model(current)
            return
        # Rebuilt quietly, then one explicit load: a second one would drop the selection.
        self.model_list.blockSignals(True)
        self.model_list.clear()
        self.model_list.addItems(names)
        if names:
            self.model_list.setCurrentRow(names.index(current) if current in names else 0)
        self.model_list.blockSignals(False)
        if names:
            self.show_model(self.model_list.currentItem().text())

    def show_model(self, name: str, *, select: list[int] | None = None) -> None:
        """Show the versions, alias moves and card history of one model."""
        if not name:
            return
        keep = (
            select
            if select is not None
            else ([v.version for v in self.selected_versions()] if name == self.model_name else [])
        )
        start_task(
            load_model_page,
            self.registry,
            name,
            on_returned=lambda page: self._page_loaded(page, keep),
            on_errored=self._on_error,
        )

    def _page_loaded(self, page: ModelPage, select: list[int]) -> None:
        current = self.model_list.currentItem()
        if current is not None and current.text() != page.name:
            return  # another model was chosen while this one loaded
        self.page = page
        self._fingerprint = page.fingerprint
        self.versions_model.set_table(page.table)
        self.versions_view.resizeColumnsToContents()
        self.select_versions(select)
        _fill(
            self.alias_table,
            [
                [
                    format_full_time(m.at),
                    m.alias,
                    _version_text(m.from_version, "—"),
                    _version_text(m.to_version, "removed"),
                    _change_text(m),
                ]
                for m in page.alias_moves
            ],
        )
        _fill(
            self.history,
            [
                [format_full_time(c.timestamp), c.author, c.commit[:10], c.subject]
                for c in page.history
            ],
        )
        self.history_note.setText(
            f"git log of models/{page.name}/MODEL_CARD.md in the workspace"
            if page.history
            else "No model card commits: the versions' runs were not logged from a Git "
            "workspace, or model cards are switched off there."
        )
        self._update_summary()
        self._update_actions()
        self.sig_loaded.emit(page.name)

    def _update_summary(self) -> None:
        if self.page is None:
            return
        versions = self.page.table.versions
        archived = sum(v.status == ARCHIVED for v in versions)
        text = f"{len(versions)} version{'s' if len(versions) != 1 else ''}"
        if archived:
            text += f", {archived} archived" + (
                "" if self.show_archived.isChecked() else " (hidden)"
            )
        self.summary_label.setText(text)

    # ---- selection ---------------------------------------------------------------------------

    def selected_versions(self) -> list[ModelVersion]:
        """The versions selected in the table, newest first."""
        rows = {
            self.proxy.mapToSource(index).row()
            for index in self.versions_view.selectionModel().selectedRows()
        }
        chosen = [self.versions_model.version_at(r) for r in rows]
        return sorted(chosen, key=lambda v: v.version, reverse=True)

    def select_versions(self, numbers: list[int]) -> None:
        """Select versions by number (hidden ones are skipped)."""
        selection = self.versions_view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        first = True
        for number in numbers:
            row = self.versions_model.row_of(number)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.versions_model.index(row, 0))
            if first:
                selection.setCurrentIndex(index, flags)
                first = False
            else:
                selection.select(index, flags)
        if first:
            self._on_selection()

    def set_show_archived(self, show: bool) -> None:
        """List archived versions (greyed) or hide them."""
        keep = [v.version for v in self.selected_versions()]
        if self.show_archived.isChecked() != show:
            self.show_archived.setChecked(show)  # comes back here through toggled
            return
        self.versions_model.set_show_archived(show)
        self.select_versions(keep)
        self._update_summary()

    def _on_selection(self, *_args: object) -> None:
        self._update_actions()
        versions = self.selected_versions()
        if len(versions) != 1 or self.page is None:
            self._lineage_task = None
            self.lineage.show_placeholder(
                "Select one version to see its lineage."
                if versions or self.versions_model.rowCount()
                else "No versions to show."
            )
            return
        name, number = self.page.name, versions[0].version

        def shown(lineage: VersionLineage) -> None:
            if task is not self._lineage_task:
                return  # the selection moved on while this lineage loaded
            self.lineage.show_lineage(lineage)
            self.sig_lineage_loaded.emit(name, number)

        task = start_task(
            version_lineage,
            self.registry,
            name,
            number,
            on_returned=shown,
            on_errored=self._on_error,
        )
        self._lineage_task = task

    def _update_actions(self) -> None:
        versions = self.selected_versions()
        one = len(versions) == 1
        self.action_set_alias.setEnabled(one)
        self.action_remove_alias.setEnabled(one and bool(versions[0].aliases))
        self.action_archive.setEnabled(any(v.status != ARCHIVED for v in versions))
        self.action_restore.setEnabled(any(v.status == ARCHIVED for v in versions))
        runs = {v.run_id for v in versions if v.run_id}
        self.action_compare.setEnabled(len(runs) >= 2)
        self.action_export.setEnabled(one)
        self.action_serve.setEnabled(one)
        self.serve_button.setEnabled(one)

    # ---- context menu ------------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.build_context_menu()
        if menu.actions():
            menu.exec(self.versions_view.viewport().mapToGlobal(pos))

    def build_context_menu(self) -> QMenu:
        """The menu of the selected versions (built fresh for every right-click)."""
        menu = QMenu(self)
        versions = self.selected_versions()
        if not versions:
            return menu
        menu.addAction(self.action_set_alias)
        if len(versions) == 1:
            for alias in versions[0].aliases:
                action = menu.addAction(f"Remove Alias “{alias}”")
                action.triggered.connect(lambda _c=False, a=alias: self.remove_alias(a))
        menu.addSeparator()
        menu.addAction(self.action_archive)
        menu.addAction(self.action_restore)
        menu.addSeparator()
        menu.addAction(self.action_compare)
        menu.addAction(self.action_export)
        if len(versions) == 1:
            menu.addSeparator()
            self._add_serve_actions(menu, versions[0])
            if versions[0].run_id:
                run_id = versions[0].run_id
                action = menu.addAction("Show Source Run")
                action.triggered.connect(lambda _c=False: self.sig_show_run.emit(run_id))
        return menu

    def _add_serve_actions(self, menu: QMenu, version: ModelVersion) -> None:
        action = menu.addAction(f"Serve v{version.version}…")
        action.triggered.connect(lambda _c=False: self.serve(str(version.version)))
        for alias in version.aliases:
            action = menu.addAction(f"Serve @{alias}… (follows the alias)")
            action.triggered.connect(lambda _c=False, a=alias: self.serve(f"@{a}"))

    def _fill_serve_menu(self) -> None:
        self.serve_menu.clear()
        versions = self.selected_versions()
        if len(versions) == 1:
            self._add_serve_actions(self.serve_menu, versions[0])

    # ---- actions -----------------------------------------------------------------------------

    def set_alias_on_selected(self) -> None:
        """Ask for an alias and point it at the selected version."""
        versions = self.selected_versions()
        if len(versions) != 1 or self.page is None:
            self._say("Select one version to set an alias on.")
            return
        alias = self._ask_alias(self.page.table, versions[0].version)
        if alias:
            self.set_alias(alias, versions[0].version)

    def set_alias(self, alias: str, version: int) -> Task | None:
        """Point ``alias`` at ``version``; moving it from another version is confirmed first."""
        from desktop_app.versioning.model_history import set_alias

        if self.page is None:
            return None
        name = self.page.name
        owner = self.page.table.alias_owner(alias)
        if owner == version:
            self._say(f"v{version} already holds “{alias}”.")
            return None
        if owner is not None and not self._confirm(
            "Move alias?",
            f"“{alias}” is on {name} v{owner}. Move it to v{version}?\n\n"
            f"Anything that follows “{alias}” (a server, a deployment) will use v{version}.",
        ):
            self._say(f"“{alias}” stays on v{owner}.")
            return None

        def done(card: Any) -> None:
            moved = f" (moved from v{owner})" if owner is not None else ""
            text = f"“{alias}” → {name} v{version}{moved}."
            if card.commit:
                text += f" Model card committed ({card.commit[:10]})."
            self._succeeded(text)
            self.show_model(name, select=[version])

        return start_task(
            set_alias,
            self.registry,
            name,
            alias,
            version,
            on_returned=done,
            on_errored=self._on_error,
        )

    def remove_alias_of_selected(self) -> None:
        """Remove an alias of the selected version (asking which, when it has several)."""
        versions = self.selected_versions()
        if len(versions) != 1 or not versions[0].aliases:
            self._say("Select a version that has an alias.")
            return
        aliases = list(versions[0].aliases)
        alias = aliases[0] if len(aliases) == 1 else self._choose("Remove which alias?", aliases)
        if alias:
            self.remove_alias(alias)

    def remove_alias(self, alias: str) -> Task | None:
        """Remove an alias from the model."""
        if self.page is None:
            return None
        name = self.page.name
        owner = self.page.table.alias_owner(alias)

        def done(_result: object) -> None:
            self._succeeded(f"Removed “{alias}” from {name} v{owner}.")
            self.show_model(name)

        from desktop_app.versioning.model_history import remove_alias

        return start_task(
            remove_alias,
            self.registry,
            name,
            alias,
            on_returned=done,
            on_errored=self._on_error,
        )

    def set_selected_status(self, status: str) -> Task | None:
        """Archive (``archived``) or restore (``ready``) the selected versions."""
        if self.page is None:
            return None
        name = self.page.name
        chosen = [v for v in self.selected_versions() if v.status != status]
        numbers = [v.version for v in chosen]
        if not numbers:
            return None
        held = [f"v{v.version} holds “{'”, “'.join(v.aliases)}”" for v in chosen if v.aliases]
        if (
            status == ARCHIVED
            and held
            and not self._confirm(
                "Archive a version with an alias?",
                "; ".join(held) + ". The alias stays on it, so anything that follows the alias "
                "(a server, a deployment) keeps using an archived version. Archive anyway?",
            )
        ):
            return None
        labels = ", ".join(f"v{n}" for n in sorted(numbers))
        verb = "Archived" if status == ARCHIVED else "Restored"

        def done(_result: object) -> None:
            self._succeeded(f"{verb} {name} {labels}.")
            self.show_model(name)

        return start_task(
            set_statuses,
            self.registry,
            name,
            numbers,
            status,
            on_returned=done,
            on_errored=self._on_error,
        )

    def compare_selected(self) -> QWidget | None:
        """Open the Compare window on the source runs of the selected versions."""
        from desktop_app.ui.compare import open_compare

        run_ids = list(dict.fromkeys(v.run_id for v in self.selected_versions() if v.run_id))
        if len(run_ids) < 2:
            self._say("Select two or more versions from different runs to compare.")
            return None
        self.compare_window = open_compare(self.registry, run_ids, self)
        return self.compare_window

    def export_selected(self) -> Task | None:
        """Ask for a folder and export the selected version there as an MLflow Model."""
        versions = self.selected_versions()
        if len(versions) != 1:
            self._say("Select one version to export.")
            return None
        folder = self._ask_folder(f"Export {versions[0].model_name} v{versions[0].version}")
        return self.export(versions[0], folder) if folder else None

    def export(self, version: ModelVersion, folder: str) -> Task:
        """Export a version as an MLflow Model directory in (or as) ``folder``, in a task."""
        label = f"{version.model_name} v{version.version}"
        self.status_line.setText(f"Exporting {label}…")

        def done(path: Path) -> None:
            self._succeeded(f"Exported {label} as an MLflow Model to {path}")
            self.sig_exported.emit(str(path))

        return start_task(
            export_version,
            self.registry,
            version,
            folder,
            on_returned=done,
            on_errored=lambda exc: self._on_error(exc, f"Export of {label} failed"),
        )

    def serve_selected(self) -> None:
        """Ask to serve the selected version (by number)."""
        versions = self.selected_versions()
        if len(versions) == 1:
            self.serve(str(versions[0].version))

    def serve(self, ref: str) -> None:
        """Ask to serve the shown model at ``ref`` (a version number, or ``@alias``)."""
        if self.page is not None:
            self.sig_serve_requested.emit(self.page.name, ref)
            self._say(f"Serve {self.page.name} {'v' + ref if ref.isdigit() else ref} requested.")

    # ---- messages ----------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.status_line.setText(text)
        self.sig_message.emit(text)

    def _succeeded(self, text: str) -> None:
        self.banner.clear()
        self._say(text)

    def _on_error(self, exc: BaseException, context: str = "") -> None:
        if not isinstance(exc, AppError):
            from desktop_app.ui.errors_hook import report_exception

            report_exception(exc)
            return
        message = f"{context}: {exc.message}" if context else exc.message
        self.banner.show_message(message, "error", exc.detail)
        self._say(message)

    # ---- default dialogs ---------------------------------------------------------------------

    def _confirm_dialog(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

    def _alias_dialog(self, table: VersionsTable, version: int) -> str | None:
        from desktop_app.ui.models_dialogs import ask_alias

        return ask_alias(table, version, self)

    def _choose_dialog(self, question: str, options: list[str]) -> str | None:
        choice, accepted = QInputDialog.getItem(self, "Remove alias", question, options, 0, False)
        return choice if accepted else None

    def _folder_dialog(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self, title)


def preview() -> None:
    """Open the window on a temporary registry with three versions of an iris classifier."""
    import tempfile

    from PySide6.QtWidgets import QApplication
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from desktop_app import tracking
    from desktop_app.versioning.model_history import register_model_version, set_alias

    app = QApplication([])
    folder = tempfile.TemporaryDirectory(prefix="modeldesk-models-")
    registry = Registry(Path(folder.name) / "registry")
    X, y = load_iris(return_X_y=True, as_frame=True)
    for c in (0.01, 1.0, 100.0):
        model = LogisticRegression(C=c, max_iter=300).fit(X, y)
        with tracking.start_run("iris", f"C={c}", {"C": c}, registry=registry) as run:
            run.log_dataset(X, name="iris")
            run.log_metric("accuracy", float(model.score(X, y)))
            run.log_model(model)
        register_model_version(registry, "iris", run.id, description=f"C = {c}")
    set_alias(registry, "iris", "champion", 2)
    window = ModelsWindow(registry)
    window.sig_serve_requested.connect(lambda name, ref: print("serve", name, ref))
    window.show()
    app.exec()
    registry.close()
    folder.cleanup()


if __name__ == "__main__":
    preview()
