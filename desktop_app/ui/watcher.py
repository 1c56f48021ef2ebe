"""Noticing other processes' writes: poll SQLite's ``data_version`` and say when it moved.

The registry is the message bus: training workers and user scripts write into it, and this
watcher tells the window cheaply (one pragma per tick, no query) that something changed.
"""

from __future__ import annotations

import sqlite3
import sys
import time
import weakref

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.registry import Registry
from desktop_app.ui.workers import Task, start_task

POLL_INTERVAL_MS = 300
REAP_INTERVAL_S = 5.0

_active: weakref.WeakSet[RegistryWatcher] = weakref.WeakSet()


class RegistryWatcher(QObject):
    """Polls a registry for commits made by other connections and reaps runs whose process died."""

    sig_changed = Signal()
    """Another connection (another process or a worker thread) committed; no arguments."""

    def __init__(
        self,
        registry: Registry,
        parent: QObject | None = None,
        *,
        interval_ms: int = POLL_INTERVAL_MS,
        reap_interval_s: float = REAP_INTERVAL_S,
    ) -> None:
        super().__init__(parent)
        self._registry = registry
        self._timer = QTimer(self)
        self._timer.setObjectName("registryWatcherTimer")
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._poll)
        self._reap_interval_s = reap_interval_s
        self._last_reap = time.monotonic()
        self._reap_task: Task | None = None
        self._version: int | None = None

    def start(self) -> None:
        """Begin polling."""
        self._version = self._read_version()
        self._last_reap = time.monotonic()
        self._timer.start()
        _active.add(self)

    def stop(self) -> None:
        """Stop polling (the window calls this when it closes)."""
        self._timer.stop()
        if self._reap_task is not None:
            self._reap_task.cancel()
        _active.discard(self)

    def is_active(self) -> bool:
        """Whether the watcher is polling."""
        return self._timer.isActive()

    def _read_version(self) -> int | None:
        try:
            return self._registry.data_version()
        except sqlite3.Error:
            return None

    @Slot()
    def _poll(self) -> None:
        version = self._read_version()
        if version is None:
            return
        if version != self._version:
            self._version = version
            self.sig_changed.emit()
        if self._reap_task is None and time.monotonic() - self._last_reap >= self._reap_interval_s:
            self._last_reap = time.monotonic()
            self._reap_task = start_task(
                self._registry.reap_lost_runs,
                on_errored=self._on_reap_errored,
                on_finished=self._on_reap_finished,
            )

    @Slot(object)
    def _on_reap_errored(self, exc: BaseException) -> None:
        # A failed sweep is retried at the next interval; a dialog every few seconds would not help.
        print(f"ModelDesk: checking for lost runs failed: {exc}", file=sys.stderr)

    @Slot()
    def _on_reap_finished(self) -> None:
        self._reap_task = None


def active_watchers() -> list[RegistryWatcher]:
    """Watchers that were started and not stopped (the tests check none is left behind)."""
    return [w for w in _active if w.is_active()]
