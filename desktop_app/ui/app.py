"""Starting the desktop app: the QApplication, the error hook, the registry and the main window.

Start-up is a feature: the window is shown before anything heavy (scikit-learn, pandas, git) is
imported; the first-start demo imports scikit-learn later, in a worker.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

# pyqtgraph picks its Qt binding on import; make sure it is ours whoever imports it first.
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"

APP_NAME = "ModelDesk"
ORGANIZATION = "ModelDesk"
DESKTOP_FILE = "io.modeldesk.ModelDesk"


def show_startup_error(title: str, message: str) -> None:
    """Tell the user why the app cannot start (a dialog: there is no window yet)."""
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.critical(None, title, message)


def main(registry: str | None = None) -> int:
    """Run the app on a registry folder (default: ``$MODELDESK_REGISTRY`` or the user's)."""
    os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app import __version__
    from desktop_app.ui import errors_hook, workers  # workers: before any emit

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(DESKTOP_FILE)
    from desktop_app.ui.about import app_icon

    app.setWindowIcon(app_icon())

    errors_hook.install()
    try:
        from desktop_app.errors import AppError
        from desktop_app.registry import open_registry

        try:
            opened = open_registry(registry)
        except AppError as exc:
            detail = f"\n\n{exc.detail}" if exc.detail else ""
            show_startup_error("ModelDesk cannot open the registry", f"{exc.message}{detail}")
            return 1

        from desktop_app.ui.main_window import MainWindow

        window = MainWindow(opened)
        window.show()
        QTimer.singleShot(0, window.maybe_start_demo)
        _quit_on_sigterm(app, window)
        try:
            return int(app.exec())
        finally:
            window.close()
            workers.wait_for_tasks(30_000)
            opened.close()
    finally:
        errors_hook.uninstall()


def _quit_on_sigterm(app: Any, window: Any) -> None:
    """Quit cleanly, asking nothing, when the session or a package manager sends SIGTERM.

    Running training jobs are left to finish (their results still land in the registry);
    model servers are stopped so that no port stays taken.
    """
    import signal

    from PySide6.QtCore import QTimer

    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigterm(_signum: int, _frame: Any) -> None:
        window.quit_without_asking()
        app.quit()

    signal.signal(signal.SIGTERM, on_sigterm)
    # Qt's event loop holds the interpreter in C; a light timer lets Python run the handler.
    ticker = QTimer(app)
    ticker.setObjectName("sigtermTicker")
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
