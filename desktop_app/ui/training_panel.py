"""The training queue panel: jobs waiting and running, live progress and output, cancel,
reorder and re-run. The queue itself is the engine's ``JobQueue``; a driver thread polls it
and hands its events to the GUI thread as signals."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Registry
from desktop_app.ui import settings
from desktop_app.ui.workers import start_task

POLL_SECONDS = 0.15
KEPT_LINES = 5_000
_STATUS_COLUMN, _NAME_COLUMN, _PROGRESS_COLUMN, _MESSAGE_COLUMN = range(4)


class QueueDriver(QObject):
    """Owns a ``JobQueue`` and polls it from a background thread; events arrive as signals."""

    sig_events = Signal(list)
    """Events since the last poll: (list of QueueEvent), delivered in the GUI thread."""

    def __init__(
        self, registry: Registry, max_workers: int | None = None, *, warm_workers: int = 1
    ) -> None:
        super().__init__()
        from desktop_app.training.queue import JobQueue

        # One spare worker with scikit-learn already imported makes "Run" start in a blink.
        self.queue = JobQueue(registry, max_workers, warm_workers=warm_workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modeldesk-queue", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            events = self.queue.poll()
            if events:
                self.sig_events.emit(events)

    def stop(self, *, cancel: bool) -> None:
        """Stop polling; cancel every job, or leave running workers to finish on their own."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        events = self.queue.shutdown(cancel=cancel)
        if events:
            self.sig_events.emit(events)

    def busy(self) -> bool:
        """Whether any job waits or runs."""
        return bool(self.queue.running() or self.queue.waiting())


class TrainingPanel(QWidget):
    """Jobs of this session with status and progress; the output of the selected one."""

    sig_new_job_requested = Signal()
    """The user clicked New Job."""
    sig_run_ended = Signal(str)
    """A job's run ended: (run id)."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        preferences = settings.training_preferences()
        self.driver = QueueDriver(
            registry,
            preferences.parallel_jobs,
            warm_workers=1 if preferences.warm_worker else 0,
        )
        self.driver.sig_events.connect(self._on_events)
        self._rows: dict[str, int] = {}
        self._output: dict[str, deque[str]] = {}

        self.new_button = QToolButton(text="New Job…")
        self.cancel_button = QToolButton(text="Cancel")
        self.rerun_button = QToolButton(text="Re-run")
        self.up_button = QToolButton(text="Move Up")
        self.workers = QSpinBox()
        self.workers.setRange(1, 64)
        self.workers.setValue(self.driver.queue.max_workers)
        self.workers.setToolTip("How many jobs run at once")
        self.workers.valueChanged.connect(self._set_workers)
        bar = QHBoxLayout()
        for button in (self.new_button, self.cancel_button, self.rerun_button, self.up_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(QLabel("Parallel jobs"))
        bar.addWidget(self.workers)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Status", "Run", "Progress", "Last message"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setMaximumBlockCount(KEPT_LINES)
        self.log.setPlaceholderText("The selected job's output appears here as it runs.")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.log)
        split.setSizes([520, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.new_button.clicked.connect(self.sig_new_job_requested)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.up_button.clicked.connect(self.move_selected_up)
        self.table.itemSelectionChanged.connect(self._show_output)

    # ---- jobs -------------------------------------------------------------------------------

    def enqueue(self, spec: Any) -> None:
        """Queue a job spec (creates its QUEUED run in a worker) and submit it."""
        from desktop_app.training.queue import enqueue_job

        start_task(enqueue_job, self.registry, spec, on_returned=self.submit)

    def submit(self, run_id: str) -> None:
        """Put an existing QUEUED run on this session's queue."""
        run = self.registry.get_run(run_id)
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._rows[run_id] = row
        self._output[run_id] = deque(maxlen=KEPT_LINES)
        name = QTableWidgetItem(run.name)
        name.setData(Qt.ItemDataRole.UserRole, run_id)
        self.table.setItem(row, _STATUS_COLUMN, QTableWidgetItem("Queued"))
        self.table.setItem(row, _NAME_COLUMN, name)
        self.table.setItem(row, _PROGRESS_COLUMN, QTableWidgetItem(""))
        self.table.setItem(row, _MESSAGE_COLUMN, QTableWidgetItem(""))
        self.driver.queue.submit(run_id)
        self.table.selectRow(row)

    def selected_run_id(self) -> str | None:
        """The run id of the selected job."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return str(self.table.item(rows[0].row(), _NAME_COLUMN).data(Qt.ItemDataRole.UserRole))

    def cancel_selected(self) -> None:
        """Cancel the selected job (it stops at once; what it logged is kept)."""
        run_id = self.selected_run_id()
        if run_id is not None:
            self._set_cell(run_id, _STATUS_COLUMN, "Cancelling…")
            start_task(self.driver.queue.cancel, run_id)

    def rerun_selected(self) -> None:
        """Queue a new run from the selected job's record."""
        from desktop_app.training.queue import rerun

        run_id = self.selected_run_id()
        if run_id is not None:
            start_task(rerun, self.registry, run_id, on_returned=self.submit)

    def move_selected_up(self) -> None:
        """Move the selected waiting job one place up in the queue."""
        run_id = self.selected_run_id()
        waiting = self.driver.queue.waiting()
        if run_id in waiting:
            self.driver.queue.move(run_id, max(0, waiting.index(run_id) - 1))
            self._set_cell(run_id, _MESSAGE_COLUMN, "moved up")

    def busy(self) -> bool:
        """Whether jobs are waiting or running."""
        return self.driver.busy()

    def shutdown(self, *, cancel: bool) -> None:
        """Stop the queue (cancelling its jobs, or leaving running ones to finish)."""
        self.driver.stop(cancel=cancel)

    def _set_workers(self, count: int) -> None:
        self.driver.queue.max_workers = count

    def apply_preferences(self) -> None:
        """Take up the saved parallel-jobs and warm-worker preferences."""
        from desktop_app.training.queue import default_max_workers

        preferences = settings.training_preferences()
        self.workers.setValue(preferences.parallel_jobs or default_max_workers())
        self.driver.queue.set_warm_workers(1 if preferences.warm_worker else 0)

    # ---- events -----------------------------------------------------------------------------

    def _on_events(self, events: list[Any]) -> None:
        from desktop_app.training.queue import QueueEventKind

        selected = self.selected_run_id()
        for event in events:
            if event.run_id not in self._rows:
                continue
            if event.kind == QueueEventKind.STARTED:
                self._set_cell(event.run_id, _STATUS_COLUMN, "Running")
            elif event.kind == QueueEventKind.PROGRESS:
                percent = int(100 * event.done / event.total) if event.total else 0
                self._set_cell(
                    event.run_id, _PROGRESS_COLUMN, f"{percent}%  ({event.done}/{event.total})"
                )
                self._set_cell(event.run_id, _MESSAGE_COLUMN, event.text)
            elif event.kind == QueueEventKind.OUTPUT:
                line = event.text if event.stream == "stdout" else f"[stderr] {event.text}"
                self._output[event.run_id].append(line)
                if event.run_id == selected:
                    self.log.appendPlainText(line)
            elif event.is_end:
                self._set_cell(event.run_id, _STATUS_COLUMN, str(event.kind).capitalize())
                if event.kind == QueueEventKind.FINISHED:
                    self._set_cell(event.run_id, _PROGRESS_COLUMN, "100%")
                if event.text:
                    self._set_cell(event.run_id, _MESSAGE_COLUMN, event.text.splitlines()[0])
                self.sig_run_ended.emit(event.run_id)

    def _set_cell(self, run_id: str, column: int, text: str) -> None:
        row = self._rows.get(run_id)
        if row is not None:
            self.table.item(row, column).setText(text)

    def _show_output(self) -> None:
        run_id = self.selected_run_id()
        self.log.setPlainText("\n".join(self._output.get(run_id, [])) if run_id else "")
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def status_text(self, run_id: str) -> str:
        """The status shown for a job (for tests and the status bar)."""
        row = self._rows.get(run_id)
        return "" if row is None else self.table.item(row, _STATUS_COLUMN).text()
