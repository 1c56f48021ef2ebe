"""Workspace and code actions of the main window: open (or git-init) a workspace, recent
workspaces, and Compare Code for two selected runs. Git work runs in background tasks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QWidget

from desktop_app.registry import Registry
from desktop_app.ui import settings
from desktop_app.ui.workers import start_task

RECENT_KEY = "workspaces/recent"
CURRENT_KEY = "workspaces/current"
MAX_RECENT = 8
ENV_WORKSPACE = "MODELDESK_WORKSPACE"


def recent_workspaces() -> list[str]:
    """Workspaces opened before, most recent first."""
    value = settings.load_json(RECENT_KEY, []) or []
    return [str(v) for v in value if isinstance(v, str)]


def remember_workspace(path: str) -> list[str]:
    """Put a workspace first in the recent list and make it the current one."""
    recent = [path, *[p for p in recent_workspaces() if p != path]][:MAX_RECENT]
    settings.save_json(RECENT_KEY, recent)
    settings.save_json(CURRENT_KEY, path)
    return recent


class WorkspaceActions(QObject):
    """The File → workspace entries and Run → Compare Code, for one main window."""

    sig_workspace_changed = Signal(str)
    """The current workspace folder changed: (path)."""
    sig_message = Signal(str)
    """A short message for the status bar: (text)."""
    sig_registered = Signal(str)
    """A model version was registered: (model name)."""
    sig_serve_requested = Signal(str, str)
    """Serve was asked for in the Models window: (model name, version number or "@alias")."""
    sig_show_run = Signal(str)
    """The Models window asked to show a version's source run: (run id)."""

    def __init__(
        self,
        window: QWidget,
        registry: Registry,
        selected_run_ids: Callable[[], list[str]],
        *,
        ask_init: Callable[[Path], bool] | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._registry = registry
        self._selected = selected_run_ids
        self._ask_init = ask_init or self._confirm_init
        self.workspace: str | None = settings.load_json(CURRENT_KEY, None)
        self.action_open = QAction("Open &Workspace…", window)
        self.action_open.setStatusTip("Choose the project folder (a Git repository) of your code")
        self.action_open.triggered.connect(lambda _checked=False: self.choose_workspace())
        self.recent_menu = QMenu("Recent Workspaces", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.action_compare_runs = QAction("&Compare Runs", window)
        self.action_compare_runs.setShortcut("Ctrl+Shift+M")
        self.action_compare_runs.setStatusTip(
            "Curves, params, parallel coordinates, scatter, bars and evaluation of selected runs"
        )
        self.action_compare_runs.triggered.connect(lambda _checked=False: self.compare_runs())
        self.action_compare = QAction("Compare &Code", window)
        self.action_compare.setStatusTip("Show how the code differs between two selected runs")
        self.action_compare.triggered.connect(lambda _checked=False: self.compare_selected())
        self.action_register = QAction("Register &Model…", window)
        self.action_register.setStatusTip("Register the selected run's model as a new version")
        self.action_register.triggered.connect(lambda _checked=False: self.register_selected())
        self.action_models = QAction("&Models", window)
        self.action_models.setStatusTip("Registered models, their versions and history")
        self.action_models.triggered.connect(lambda _checked=False: self.show_models())
        self.models_window: QWidget | None = None
        if self.workspace:
            os.environ[ENV_WORKSPACE] = self.workspace

    def install(self, file_menu: QMenu, run_menu: QMenu) -> None:
        """Add the actions to the window's menus."""
        first = file_menu.actions()[0] if file_menu.actions() else None
        file_menu.insertAction(first, self.action_open)
        file_menu.insertMenu(first, self.recent_menu)
        file_menu.insertSeparator(first)
        run_menu.addAction(self.action_compare_runs)
        run_menu.addAction(self.action_compare)
        run_menu.addAction(self.action_register)
        run_menu.addSeparator()
        run_menu.addAction(self.action_models)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = recent_workspaces()
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_workspace(Path(p)))

    @staticmethod
    def _confirm_init(folder: Path) -> bool:
        answer = QMessageBox.question(
            None,
            "Create a Git repository?",
            f"{folder} is not a Git repository.\n\nModelDesk records the exact code of each "
            "run in Git. Create a repository here (git init)? Your files are not changed or "
            "committed.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose_workspace(self) -> None:
        """Ask for a folder and open it as the workspace."""
        folder = QFileDialog.getExistingDirectory(self._window, "Open workspace folder")
        if folder:
            self.open_workspace(Path(folder))

    def open_workspace(self, folder: Path) -> None:
        """Use ``folder`` (or the repository containing it) as the workspace; offer git init."""
        from desktop_app.versioning.workspace import find_workspace, init_workspace

        def opened(root: Path | None) -> None:
            if root is None:
                if not self._ask_init(folder):
                    self.sig_message.emit(f"{folder} is not a Git repository; nothing changed.")
                    return
                start_task(
                    init_workspace,
                    folder,
                    self._registry.root,
                    on_returned=self._use,
                    on_errored=lambda exc: self.sig_message.emit(str(exc)),
                )
                return
            self._use(root)

        start_task(
            find_workspace,
            folder,
            on_returned=opened,
            on_errored=lambda exc: self.sig_message.emit(str(exc)),
        )

    def _use(self, root: Path) -> None:
        self.workspace = str(root)
        remember_workspace(self.workspace)
        # Runs this app starts are snapshotted from here (the tracking API reads it).
        os.environ[ENV_WORKSPACE] = self.workspace
        self.sig_workspace_changed.emit(self.workspace)
        self.sig_message.emit(f"Workspace: {self.workspace}")

    def show_models(self) -> None:
        """Open (or raise) the Models window."""
        from desktop_app.ui.models_view import ModelsWindow

        if self.models_window is None:
            window = ModelsWindow(self._registry, self._window)
            window.sig_serve_requested.connect(self.sig_serve_requested)
            window.sig_show_run.connect(self.sig_show_run)
            window.sig_message.connect(self.sig_message)
            self.models_window = window
        else:
            self.models_window.reload()  # type: ignore[attr-defined]
        self.models_window.show()
        self.models_window.raise_()

    def register_selected(self, name: str | None = None) -> None:
        """Register the selected run's logged model under a name (asked if not given)."""
        from desktop_app.versioning.model_history import register_model_version

        ids = self._selected()
        if len(ids) != 1:
            self.sig_message.emit("Select one run to register its model.")
            return
        if name is None:
            name, accepted = QInputDialog.getText(self._window, "Register model", "Model name:")
            if not accepted or not name.strip():
                return

        def registered(result: tuple) -> None:
            version, card = result
            text = f"Registered {version.model_name} v{version.version}."
            text += (
                f" Model card committed ({card.commit[:10]})."
                if card.commit
                else f" No model card: {card.skipped_reason}."
            )
            self.sig_message.emit(text)
            self.sig_registered.emit(version.model_name)
            if self.models_window is not None:
                self.models_window.reload()  # type: ignore[attr-defined]

        start_task(
            register_model_version,
            self._registry,
            name.strip(),
            ids[0],
            on_returned=registered,
            on_errored=lambda exc: self.sig_message.emit(str(exc)),
        )

    def compare_runs(self) -> None:
        """Open the comparison of the selected runs (any number of them)."""
        from desktop_app.ui.compare import open_compare

        ids = self._selected()
        if not ids:
            self.sig_message.emit("Select the runs to compare.")
            return
        self.compare_window = open_compare(self._registry, ids, self._window)

    def compare_selected(self) -> None:
        """Open the code comparison of the two selected runs."""
        from desktop_app.ui.code_view import CompareCodeDialog

        ids = self._selected()
        if len(ids) != 2:
            self.sig_message.emit("Select exactly two runs to compare their code.")
            return

        def show(runs: list) -> None:
            dialog = CompareCodeDialog(runs[0], runs[1], self._window)
            dialog.setModal(False)
            dialog.show()
            self.last_dialog = dialog

        start_task(
            self._registry.get_runs,
            ids,
            on_returned=show,
            on_errored=lambda exc: self.sig_message.emit(str(exc)),
        )
