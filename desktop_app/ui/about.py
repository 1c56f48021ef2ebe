"""Help → About: versions, the registry's location, and "Copy Diagnostics" for bug reports.

Versions come from package metadata (``desktop_app.diagnostics``), so opening the box never
imports scikit-learn. ``app_icon`` is also the window icon, found beside the sources, inside the
bundle, or in the installed icon theme.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app import diagnostics

APP_ID = "io.modeldesk.ModelDesk"
ICON_SIZES = (48, 128, 256)
COPIED_NOTICE_MS = 4000


def icon_folder() -> Path | None:
    """The folder of the app's icon files: in the bundle, or the sources' ``resources/icons``."""
    bundled = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundled) / "resources" / "icons"] if bundled else []
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "icons")
    for folder in candidates:
        if (folder / f"{APP_ID}.svg").is_file():
            return folder
    return None


def app_icon() -> QIcon:
    """ModelDesk's icon (SVG plus PNG sizes), or the installed theme's when files are absent."""
    folder = icon_folder()
    if folder is None:
        return QIcon.fromTheme(APP_ID)
    icon = QIcon(str(folder / f"{APP_ID}.svg"))
    for size in ICON_SIZES:
        png = folder / f"{APP_ID}-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    return icon


def qt_versions() -> dict[str, str]:
    """The Qt runtime and PySide6 versions (only the UI layer may ask Qt)."""
    import PySide6
    from PySide6.QtCore import qVersion

    return {"Qt": qVersion(), "PySide6": PySide6.__version__}


def settings_location() -> str:
    """The file the window's settings are kept in, as Qt reports it."""
    from desktop_app.ui.settings import app_settings

    return app_settings().fileName()


class AboutDialog(QDialog):
    """What this ModelDesk is: version, libraries, registry, and a diagnostics copy button."""

    def __init__(self, registry_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About ModelDesk")
        self.info = diagnostics.gather(
            registry_root, extra=qt_versions(), settings=settings_location()
        )

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<h2>ModelDesk {html.escape(self.info.version)}</h2>")
        tagline = QLabel("Run the whole life of a machine-learning model on one laptop, offline.")
        tagline.setWordWrap(True)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for label in ("Qt", "PySide6", "pyqtgraph", "scikit-learn"):
            form.addRow(f"{label}:", self._value(self.info.packages.get(label, "unknown")))
        form.addRow("Python:", self._value(self.info.python))
        self.registry_label = self._value(self.info.registry)
        form.addRow("Registry:", self.registry_label)

        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(tagline)
        text.addSpacing(8)
        text.addLayout(form)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addSpacing(12)
        top.addLayout(text, 1)

        self.copy_button = QPushButton("Copy Diagnostics")
        self.copy_button.setToolTip(
            "Copy versions, platform and paths as text, to paste into a bug report"
        )
        self.copy_button.clicked.connect(self.copy_diagnostics)
        self.copied_label = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.copied_label, 1)
        bottom.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(8)
        layout.addLayout(bottom)
        self._clear_timer = QTimer(self)
        self._clear_timer.setObjectName("copiedNoticeTimer")
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(self.copied_label.clear)

    @staticmethod
    def _value(text: str) -> QLabel:
        label = QLabel(text)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def diagnostics_text(self) -> str:
        """The text "Copy Diagnostics" puts on the clipboard."""
        return self.info.as_text()

    def copy_diagnostics(self) -> None:
        """Put the diagnostics text on the clipboard and say so for a few seconds."""
        QGuiApplication.clipboard().setText(self.diagnostics_text())
        self.copied_label.setText("Copied to the clipboard.")
        self._clear_timer.start(COPIED_NOTICE_MS)


if __name__ == "__main__":
    import tempfile

    from PySide6.QtWidgets import QApplication

    preview_app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        dialog = AboutDialog(Path(folder) / "registry")
        dialog.show()
        preview_app.exec()
