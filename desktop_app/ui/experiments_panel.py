"""The experiments list: "All runs", each experiment with its run count, and the Trash.

Selecting entries chooses the scope of the runs table; deleted experiments are listed under the
Trash, where they can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtGui import QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Experiment, Registry
from desktop_app.ui.workers import Task, start_task

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
ALL = ("all", 0)
TRASH = ("trash", 0)


@dataclass(frozen=True)
class ExperimentsSnapshot:
    """What the panel shows: live and deleted experiments and the number of runs in the trash."""

    active: list[Experiment]
    deleted: list[Experiment]
    trash_count: int


def load_experiments(registry: Registry) -> ExperimentsSnapshot:
    """Read the panel's content (runs in a worker)."""
    return ExperimentsSnapshot(
        active=registry.list_experiments("active"),
        deleted=registry.list_experiments("deleted"),
        trash_count=registry.count_runs(trash=True),
    )


def _structure(snapshot: ExperimentsSnapshot) -> tuple[object, ...]:
    """What the tree's items depend on, counts aside."""
    return (
        tuple((e.id, e.name, e.description) for e in snapshot.active),
        tuple((e.id, e.name) for e in snapshot.deleted),
    )


class ExperimentsPanel(QWidget):
    """Experiments with run counts; multi-select; context menu to trash or restore them."""

    sig_scope_changed = Signal(object, bool)
    """The selection changed: ``(experiment ids or None for all, trash)``."""
    sig_delete_requested = Signal(list)
    """The user asked to move experiments to the trash: ``(experiment ids)``."""
    sig_restore_requested = Signal(list)
    """The user asked to restore experiments from the trash: ``(experiment ids)``."""
    sig_loaded = Signal()
    """The list was (re)read from the registry."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._snapshot = ExperimentsSnapshot([], [], 0)
        self._scope: tuple[tuple[int, ...] | None, bool] = (None, False)
        self._task: Task | None = None
        self._again = False
        self._loaded_once = False
        self._stopped = False

        self.tree = QTreeWidget()
        self.tree.setObjectName("experimentsTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Experiment", "Runs"])
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.tree.setAccessibleName("Experiments")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)

    # ---- public ------------------------------------------------------------------------------

    def scope(self) -> tuple[list[int] | None, bool]:
        """The selected scope: ``(experiment ids or None for all, trash)``."""
        ids, trash = self._scope
        return (None if ids is None else list(ids)), trash

    def experiments(self) -> list[Experiment]:
        """The live experiments as last loaded."""
        return list(self._snapshot.active)

    def deleted_experiments(self) -> list[Experiment]:
        """The experiments in the trash as last loaded."""
        return list(self._snapshot.deleted)

    def total_runs(self) -> int:
        """Live runs in all live experiments."""
        return sum(e.run_count for e in self._snapshot.active)

    def selected_active_ids(self) -> list[int]:
        """Ids of the selected live experiments."""
        return [key[1] for key in self._selected_keys() if key[0] == "exp"]

    def selected_deleted_ids(self) -> list[int]:
        """Ids of the selected experiments in the trash."""
        return [key[1] for key in self._selected_keys() if key[0] == "deleted"]

    def stop(self) -> None:
        """Read no more (before closing)."""
        self._stopped = True
        self._again = False

    def refresh(self) -> None:
        """Re-read experiments and counts in a worker."""
        if self._stopped:
            return
        if self._task is not None:
            self._again = True
            return
        self._task = start_task(
            load_experiments,
            self._registry,
            on_returned=self._on_loaded,
            on_finished=self._on_finished,
        )

    def select_all_runs(self) -> None:
        """Select the "All runs" entry."""
        self._select_keys([ALL])

    def select_trash(self) -> None:
        """Select the Trash entry."""
        self._select_keys([TRASH])

    def select_experiments(self, ids: list[int]) -> None:
        """Select live experiments by id."""
        self._select_keys([("exp", i) for i in ids])

    def is_loading(self) -> bool:
        """Whether a reload is under way."""
        return self._task is not None

    # ---- loading -----------------------------------------------------------------------------

    @Slot()
    def _on_finished(self) -> None:
        self._task = None
        if self._again:
            self._again = False
            self.refresh()

    def _on_loaded(self, snapshot: ExperimentsSnapshot) -> None:
        if self._loaded_once and snapshot == self._snapshot:
            self.sig_loaded.emit()
            return
        if self._loaded_once and _structure(snapshot) == _structure(self._snapshot):
            # Only counts changed (runs being logged): update them in place, keep the view still.
            self._snapshot = snapshot
            self._update_counts(snapshot)
            self.sig_loaded.emit()
            return
        selected = self._selected_keys() if self._loaded_once else [ALL]
        self._loaded_once = True
        self._snapshot = snapshot
        self.tree.blockSignals(True)
        try:
            self._rebuild(snapshot)
            self._restore_selection(selected)
        finally:
            self.tree.blockSignals(False)
        self._on_selection_changed()
        self.sig_loaded.emit()

    def _rebuild(self, snapshot: ExperimentsSnapshot) -> None:
        style = self.style()
        dim = QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)
        self.tree.clear()

        def add(
            parent: QTreeWidget | QTreeWidgetItem, key: tuple[str, int], text: str, count: int
        ) -> QTreeWidgetItem:
            item = QTreeWidgetItem(parent, [text, f"{count:,}"])
            item.setData(0, KEY_ROLE, key)
            item.setToolTip(0, text)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setForeground(1, dim)
            return item

        total = sum(e.run_count for e in snapshot.active)
        everything = add(self.tree, ALL, "All runs", total)
        bold = QFont(everything.font(0))
        bold.setBold(True)
        everything.setFont(0, bold)
        everything.setIcon(0, style.standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView))
        folder = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        for experiment in snapshot.active:
            item = add(self.tree, ("exp", experiment.id), experiment.name, experiment.run_count)
            item.setIcon(0, folder)
            if experiment.description:
                item.setToolTip(0, f"{experiment.name}\n{experiment.description}")
        trash = add(self.tree, TRASH, "Trash", snapshot.trash_count)
        trash.setIcon(0, style.standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        for experiment in snapshot.deleted:
            item = add(trash, ("deleted", experiment.id), experiment.name, experiment.run_count)
            item.setIcon(0, folder)
            item.setToolTip(0, f"{experiment.name} (in the trash; right-click to restore)")
        self.tree.setRootIsDecorated(bool(snapshot.deleted))
        trash.setExpanded(True)

    def _update_counts(self, snapshot: ExperimentsSnapshot) -> None:
        counts = {ALL: sum(e.run_count for e in snapshot.active), TRASH: snapshot.trash_count}
        counts.update({("exp", e.id): e.run_count for e in snapshot.active})
        counts.update({("deleted", e.id): e.run_count for e in snapshot.deleted})
        for item in self._items():
            key = tuple(item.data(0, KEY_ROLE))
            if key in counts:
                item.setText(1, f"{counts[key]:,}")  # type: ignore[index]

    def _items(self) -> list[QTreeWidgetItem]:
        items = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            items.append(top)
            items.extend(top.child(j) for j in range(top.childCount()))
        return items

    def _selected_keys(self) -> list[tuple[str, int]]:
        return [tuple(item.data(0, KEY_ROLE)) for item in self.tree.selectedItems()]  # type: ignore[misc]

    def _restore_selection(self, keys: list[tuple[str, int]]) -> None:
        wanted = {tuple(k) for k in keys}
        found = False
        current = None
        for item in self._items():
            if tuple(item.data(0, KEY_ROLE)) in wanted:
                item.setSelected(True)
                current = current or item
                found = True
        if not found:
            current = self.tree.topLevelItem(0)
            if current is not None:
                current.setSelected(True)
        if current is not None:
            self.tree.setCurrentItem(current, 0, self.tree.selectionModel().SelectionFlag.NoUpdate)

    def _select_keys(self, keys: list[tuple[str, int]]) -> None:
        self.tree.blockSignals(True)
        try:
            self.tree.clearSelection()
            self._restore_selection(keys)
        finally:
            self.tree.blockSignals(False)
        self._on_selection_changed()

    @Slot()
    def _on_selection_changed(self) -> None:
        keys = self._selected_keys()
        kinds = {k[0] for k in keys}
        scope: tuple[tuple[int, ...] | None, bool]
        if "trash" in kinds:
            scope = (None, True)
        elif "deleted" in kinds:
            scope = (tuple(sorted(k[1] for k in keys if k[0] == "deleted")), True)
        elif "all" in kinds or not keys:
            scope = (None, False)
        else:
            scope = (tuple(sorted(k[1] for k in keys if k[0] == "exp")), False)
        if scope != self._scope:
            self._scope = scope
            ids, trash = scope
            self.sig_scope_changed.emit(None if ids is None else list(ids), trash)

    # ---- context menu ------------------------------------------------------------------------

    @Slot(QPoint)
    def _context_menu(self, position: QPoint) -> None:
        item = self.tree.itemAt(position)
        if item is not None and not item.isSelected():
            self.tree.setCurrentItem(item)
        active = self.selected_active_ids()
        deleted = self.selected_deleted_ids()
        if not active and not deleted:
            return
        menu = QMenu(self)
        if active:
            label = (
                "Move Experiment to Trash"
                if len(active) == 1
                else (f"Move {len(active)} Experiments to Trash")
            )
            action = menu.addAction(label)
            action.triggered.connect(lambda: self.sig_delete_requested.emit(active))
        if deleted:
            label = (
                "Restore Experiment"
                if len(deleted) == 1
                else (f"Restore {len(deleted)} Experiments")
            )
            action = menu.addAction(label)
            action.triggered.connect(lambda: self.sig_restore_requested.emit(deleted))
        menu.exec(self.tree.viewport().mapToGlobal(position))
