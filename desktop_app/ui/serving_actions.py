"""Serving in the main window: Run > Serve Model…, the Serving dock, and the question asked
when quitting with servers running."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDockWidget, QMainWindow, QMenu, QMessageBox

from desktop_app.errors import AppError
from desktop_app.registry import Registry
from desktop_app.ui.docks import add_bottom_dock

if TYPE_CHECKING:
    from desktop_app.serving.launcher import ServeRequest, ServerInfo
    from desktop_app.ui.serving_panel import ServingPanel

STOP, KEEP, STAY = "stop", "keep", "stay"


def ask_about_running_servers(window: QMainWindow, count: int) -> str:
    """Ask what to do with running model servers: stop them, keep them running, or stay."""
    from desktop_app.ui.training_actions import CANCEL, LEAVE, ask_before_quitting

    choice = ask_before_quitting(
        window,
        "Model servers are running",
        f"{count} model server{'s are' if count != 1 else ' is'} still running.",
        "Stop them, or keep them running after ModelDesk quits (the next start finds them "
        "again and shows them in the Serving dock)?",
        "Stop Servers and Quit",
        "Keep Running and Quit",
    )
    return {CANCEL: STOP, LEAVE: KEEP}.get(choice, STAY)


class ServingActions(QObject):
    """The serving entries of the Run menu and the Serving dock of one main window."""

    def __init__(
        self,
        window: QMainWindow,
        registry: Registry,
        *,
        ask_on_quit: Any = ask_about_running_servers,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._registry = registry
        self._ask_on_quit = ask_on_quit
        self.panel: ServingPanel | None = None
        self.dock: QDockWidget | None = None
        self.last_dialog: QDialog | None = None
        self.action_serve = QAction("&Serve Model…", window)
        self.action_serve.setStatusTip("Start a local HTTP server for a registered model")
        self.action_serve.triggered.connect(lambda _checked=False: self.open_serve_dialog())
        self.action_servers = QAction("Model Ser&vers", window)
        self.action_servers.setStatusTip("Running model servers: state, traffic, Try it")
        self.action_servers.triggered.connect(lambda _checked=False: self.show_panel())

    def install(self, run_menu: QMenu) -> None:
        """Add the actions to the Run menu."""
        run_menu.addSeparator()
        run_menu.addAction(self.action_serve)
        run_menu.addAction(self.action_servers)

    def prepare_panel(self) -> ServingPanel:
        """Create the panel and its (hidden) dock if needed; a standby server starts warming."""
        if self.panel is None:
            from desktop_app.ui.serving_panel import ServingPanel

            self.panel = ServingPanel(self._registry)
            self.panel.sig_serve_requested.connect(lambda: self.open_serve_dialog())
            self.dock = QDockWidget("Serving", self._window)
            self.dock.setObjectName("servingDock")
            self.dock.setWidget(self.panel)
            add_bottom_dock(self._window, self.dock)
            self.dock.hide()
        return self.panel

    def show_panel(self) -> ServingPanel:
        """Show the Serving dock."""
        panel = self.prepare_panel()
        assert self.dock is not None
        self.dock.show()
        self.dock.raise_()
        return panel

    def open_serve_dialog(self, model: str = "", ref: str | None = None) -> QDialog:
        """Ask what to serve; the server starts when the user confirms."""
        from desktop_app.ui.serving_panel import ServeDialog

        self.prepare_panel()  # the standby server warms up while the user chooses
        dialog = ServeDialog(self._registry, model, ref, self._window)
        dialog.accepted.connect(lambda: self.serve(dialog.request()))
        dialog.setModal(False)
        dialog.show()
        self.last_dialog = dialog
        return dialog

    def serve(self, request: ServeRequest) -> ServerInfo | None:
        """Start a server and show it; a problem (port in use, say) is shown, not raised."""
        panel = self.show_panel()
        try:
            info = panel.serve(request)
        except AppError as exc:
            self._window.statusBar().showMessage(f"Not served: {exc.message}", 12000)
            QMessageBox.warning(self._window, "Cannot serve the model", exc.message)
            return None
        self._window.statusBar().showMessage(
            f"Starting a server for {request.label()}… it shows Ready once it answers.", 8000
        )
        return info

    def resume_left_servers(self) -> list[ServerInfo]:
        """Show servers an earlier session kept running (none: nothing is loaded)."""
        from desktop_app.serving.launcher import SERVERS_DIR

        folder = self._registry.root / SERVERS_DIR
        if not folder.is_dir() or not any(folder.glob("*.json")):
            return []
        found = self.prepare_panel().adopt_running()
        if found:
            self.show_panel()
            word = "server" if len(found) == 1 else "servers"
            self._window.statusBar().showMessage(
                f"{len(found)} model {word} kept running by an earlier session: see Serving.",
                10000,
            )
        return found

    def confirm_quit(self) -> bool:
        """Before the window closes: settle running servers; False means stay open."""
        if self.panel is None:
            return True
        live = self.panel.live_servers()
        if not live:
            return True
        choice = self._ask_on_quit(self._window, len(live))
        if choice == STAY:
            return False
        self.panel.shutdown(keep_running=choice == KEEP)
        return True

    def shutdown(self) -> None:
        """Stop following servers (they were settled by ``confirm_quit``)."""
        if self.panel is not None:
            self.panel.shutdown(keep_running=False)
