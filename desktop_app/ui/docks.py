"""Bottom docks (Training, Serving) share the bottom of the window as tabs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea


def add_bottom_dock(window: QMainWindow, dock: QDockWidget) -> None:
    """Dock at the bottom, as a tab beside a bottom dock already there.

    Side by side, the Training and Serving docks each got half the width, too narrow for
    their tables, logs and charts.
    """
    others = [
        other
        for other in window.findChildren(QDockWidget)
        if other is not dock and window.dockWidgetArea(other) == BOTTOM
    ]
    window.addDockWidget(BOTTOM, dock)
    if others:
        window.tabifyDockWidget(others[0], dock)
