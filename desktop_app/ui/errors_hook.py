"""One path for every error nobody handled: expected ones to the status line, the rest to a dialog.

:func:`install` routes ``sys.excepthook`` and ``threading.excepthook`` here. An ``AppError`` is
expected (bad input, a missing file): it becomes ``sig_app_error`` for the main window's status
banner. Anything else is a bug: a non-modal dialog shows it with a copyable traceback.
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import AppError


class ErrorNotifier(QObject):
    """Carries errors from any thread to the GUI thread."""

    sig_app_error = Signal(object)
    """An expected error to show in a banner or the status line: ``(AppError)``."""
    sig_unexpected = Signal(str, str)
    """An unexpected error: ``(one-line summary, formatted traceback)``."""

    @Slot(str, str)
    def _show_unexpected(self, summary: str, text: str) -> None:
        show_error_dialog(summary, text)


_notifier: ErrorNotifier | None = None
_dialog: ErrorDialog | None = None
_previous: tuple[object, object] | None = None


def notifier() -> ErrorNotifier:
    """The process-wide notifier (create it from the GUI thread, as :func:`install` does)."""
    global _notifier
    if _notifier is None:
        _notifier = ErrorNotifier()
        app = QApplication.instance()
        if app is not None:
            _notifier.moveToThread(app.thread())
        _notifier.sig_unexpected.connect(_notifier._show_unexpected)
    return _notifier


def install() -> None:
    """Route uncaught exceptions of every thread to :func:`notify`."""
    global _previous
    notifier()
    if _previous is None:
        _previous = (sys.excepthook, threading.excepthook)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def uninstall() -> None:
    """Put the previous hooks back."""
    global _previous
    if _previous is not None:
        sys.excepthook, threading.excepthook = _previous  # type: ignore[assignment]
        _previous = None


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    notify(exc, tb)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    notify(args.exc_value, args.exc_traceback)


def notify(exc: BaseException, tb: TracebackType | None = None) -> None:
    """Show an error the way its kind deserves; safe to call from any thread."""
    tb = tb if tb is not None else exc.__traceback__
    if isinstance(exc, AppError):
        print(f"ModelDesk: {exc.message}", file=sys.stderr)
        notifier().sig_app_error.emit(exc)
        return
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    print(text, file=sys.stderr, end="")
    notifier().sig_unexpected.emit(f"{type(exc).__name__}: {exc}", text)


def report_exception(exc: BaseException) -> None:
    """Hand an exception caught by a worker to the process's excepthook.

    ``AppError`` goes straight to the status line; anything else goes through
    ``sys.excepthook`` so that whoever is in charge of it (this module, or pytest-qt in the
    tests) sees it.
    """
    if isinstance(exc, AppError):
        notifier().sig_app_error.emit(exc)
        return
    sys.excepthook(type(exc), exc, exc.__traceback__)


class ErrorDialog(QDialog):
    """A non-modal window listing unexpected errors with their tracebacks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ModelDesk – unexpected error")
        self.setModal(False)
        self.resize(720, 420)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(self.summary.textInteractionFlags())
        hint = QLabel(
            "Something went wrong that ModelDesk did not expect. Your data is safe; the details "
            "below help to report the problem."
        )
        hint.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.details.font()
        font.setFamily("monospace")
        font.setStyleHint(font.StyleHint.Monospace)
        self.details.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(hint)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self._count = 0

    def add_error(self, summary: str, text: str) -> None:
        """Show one more error (the newest summary on top, all tracebacks below)."""
        self._count += 1
        more = f" ({self._count} errors)" if self._count > 1 else ""
        self.summary.setText(f"<b>{_escape(summary)}</b>{more}")
        if self.details.toPlainText():
            self.details.appendPlainText("\n" + "-" * 60 + "\n")
        self.details.appendPlainText(text.rstrip())

    @Slot()
    def copy_details(self) -> None:
        """Put the tracebacks on the clipboard."""
        QGuiApplication.clipboard().setText(self.details.toPlainText())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def show_error_dialog(summary: str, text: str) -> None:
    """Open (or add to) the unexpected-error dialog; GUI thread only."""
    global _dialog
    if QApplication.instance() is None or QThread.currentThread() is not _gui_thread():
        return
    if _dialog is None:
        _dialog = ErrorDialog(QApplication.activeWindow())
        _dialog.finished.connect(_forget_dialog)
    _dialog.add_error(summary, text)
    _dialog.show()
    _dialog.raise_()


def _forget_dialog() -> None:
    global _dialog
    if _dialog is not None:
        _dialog.deleteLater()
    _dialog = None


def _gui_thread() -> QThread | None:
    app = QApplication.instance()
    return app.thread() if app is not None else None
