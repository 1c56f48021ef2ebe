"""The Models window: registered models, their versions and aliases, and the History tab
(the Git log of each model's card). Registry and Git reads run in background tasks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QListWidget,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Registry
from desktop_app.ui.formatting import format_full_time, format_number
from desktop_app.ui.workers import start_task


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
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


def load_model(registry: Registry, name: str) -> tuple[list[Any], list[Any]]:
    """A model's versions and its card history (plain function, run off the GUI thread)."""
    from desktop_app.versioning.model_history import model_history

    return registry.list_model_versions(name), model_history(registry, name)


class ModelsWindow(QWidget):
    """Registered models on the left; versions and card history of the chosen one."""

    sig_loaded = Signal(str)
    """The versions and history of a model are shown: (model name)."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("ModelDesk — Models")
        self.resize(980, 560)
        self.registry = registry
        self.model_list = QListWidget()
        self.model_list.setMinimumWidth(180)
        self.empty_label = QLabel(
            "No registered models yet. Right-click a run that logged a model "
            "(run.log_model) and choose Register Model…"
        )
        self.empty_label.setWordWrap(True)
        self.versions = _table(
            ["Version", "Aliases", "Status", "Source run", "Registered", "Metrics"]
        )
        self.history = _table(["When", "Author", "Commit", "Change"])
        self.history_note = QLabel()
        self.history_note.setWordWrap(True)
        history_page = QWidget()
        history_layout = QVBoxLayout(history_page)
        history_layout.addWidget(self.history_note)
        history_layout.addWidget(self.history, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.versions, "Versions")
        self.tabs.addTab(history_page, "History")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.model_list)
        split.addWidget(self.tabs)
        split.setSizes([220, 760])
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(split, 1)
        self.model_list.currentTextChanged.connect(self.show_model)
        self.reload()

    def reload(self) -> None:
        """Read the list of models again."""
        start_task(self.registry.list_registered_models, on_returned=self._models_loaded)

    def _models_loaded(self, models: list[Any]) -> None:
        current = self.model_list.currentItem().text() if self.model_list.currentItem() else None
        self.model_list.clear()
        self.model_list.addItems([m.name for m in models])
        self.empty_label.setVisible(not models)
        names = [m.name for m in models]
        if names:
            self.model_list.setCurrentRow(names.index(current) if current in names else 0)

    def show_model(self, name: str) -> None:
        """Show the versions and card history of one model."""
        if not name:
            return
        start_task(
            load_model,
            self.registry,
            name,
            on_returned=lambda result: self._model_loaded(name, result),
        )

    def _model_loaded(self, name: str, result: tuple[list[Any], list[Any]]) -> None:
        versions, history = result
        _fill(
            self.versions,
            [
                [
                    f"v{v.version}",
                    ", ".join(v.aliases),
                    v.status,
                    (v.run_id or "—")[:16],
                    format_full_time(v.created_at),
                    "  ".join(f"{k} {format_number(x)}" for k, x in sorted(v.metrics.items())),
                ]
                for v in versions
            ],
        )
        _fill(
            self.history,
            [[format_full_time(c.timestamp), c.author, c.commit[:10], c.subject] for c in history],
        )
        self.history_note.setText(
            f"git log of models/{name}/MODEL_CARD.md in the workspace"
            if history
            else "No model card commits: the versions' runs were not logged from a Git "
            "workspace, or model cards are switched off there."
        )
        self.sig_loaded.emit(name)
