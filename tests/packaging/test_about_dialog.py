"""Help → About: the versions and registry it shows, and Copy Diagnostics' clipboard text."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop_app import __version__
from desktop_app.ui.about import AboutDialog, app_icon, icon_folder


def shown_text(dialog: AboutDialog) -> str:
    """All label text in the dialog."""
    return "\n".join(label.text() for label in dialog.findChildren(QLabel))


def test_about_shows_versions_and_the_registry(qtbot: QtBot, registry_path: Path) -> None:
    dialog = AboutDialog(registry_path)
    qtbot.addWidget(dialog)
    dialog.show()
    text = shown_text(dialog)
    for expected in (
        f"ModelDesk {__version__}",
        qVersion(),
        PySide6.__version__,
        importlib.metadata.version("pyqtgraph"),
        importlib.metadata.version("scikit-learn"),
        str(registry_path),
    ):
        assert expected in text
    assert dialog.windowTitle() == "About ModelDesk"


def test_copy_diagnostics_puts_versions_and_paths_on_the_clipboard(
    qtbot: QtBot, registry_path: Path
) -> None:
    dialog = AboutDialog(registry_path)
    qtbot.addWidget(dialog)
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, PySide6.QtCore.Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert copied == dialog.diagnostics_text()
    for expected in (
        f"ModelDesk     {__version__}",
        f"Qt            {qVersion()}",
        f"PySide6       {PySide6.__version__}",
        f"scikit-learn  {importlib.metadata.version('scikit-learn')}",
        f"Registry      {registry_path}",
        "Settings      ",
        "Data folder   ",
        f"Executable    {sys.executable}",
        "Platform      ",
    ):
        assert expected in copied
    assert "ModelDesk.ini" in copied  # the tests' settings file, as Qt names it
    assert dialog.copied_label.text() == "Copied to the clipboard."


def test_about_does_not_import_sklearn() -> None:
    code = (
        "import os, sys, tempfile, pathlib\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from desktop_app.ui.about import AboutDialog\n"
        "AboutDialog(pathlib.Path(tempfile.gettempdir()))\n"
        "print('sklearn' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_app_icon_has_the_svg_and_every_png_size(qtbot: QtBot) -> None:
    folder = icon_folder()
    assert folder is not None
    assert (folder / "io.modeldesk.ModelDesk.svg").is_file()
    icon = app_icon()
    assert not icon.isNull()
    for size in (48, 128, 256):
        pixmap = icon.pixmap(size, size)
        assert (pixmap.width(), pixmap.height()) == (size, size)
