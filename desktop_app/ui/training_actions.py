"""Training in the main window: Run > New Training Job…, the queue dock, and the question
asked when quitting with jobs in flight."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox

from desktop_app.registry import Registry
from desktop_app.ui.docks import add_bottom_dock
from desktop_app.ui.workers import start_task

if TYPE_CHECKING:
    from desktop_app.ui.training_panel import TrainingPanel

CANCEL, LEAVE, STAY = "cancel", "leave", "stay"


def ask_before_quitting(
    window: QMainWindow, title: str, text: str, detail: str, end: str, keep: str
) -> str:
    """Ask whether to end what still runs, leave it running, or not quit.

    Returns CANCEL (the ``end`` button), LEAVE (the ``keep`` button) or STAY.
    """
    box = QMessageBox(window)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(detail)
    end_button = box.addButton(end, QMessageBox.ButtonRole.DestructiveRole)
    keep_button = box.addButton(keep, QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Don't Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return CANCEL if clicked is end_button else LEAVE if clicked is keep_button else STAY


def ask_about_running_jobs(window: QMainWindow) -> str:
    """Ask what to do with jobs still running: cancel them, leave them running, or stay."""
    return ask_before_quitting(
        window,
        "Training jobs are running",
        "Training jobs are still waiting or running.",
        "Cancel them, or leave the running ones to finish on their own (their results still "
        "land in the registry; waiting jobs stay queued for next time)?",
        "Cancel Jobs and Quit",
        "Leave Running and Quit",
    )


class TrainingActions(QObject):
    """The training entries of the Run menu and the queue dock of one main window."""

    sig_run_ended = Signal(str)
    """A training run ended: (run id)."""

    def __init__(
        self,
        window: QMainWindow,
        registry: Registry,
        workspace: Callable[[], str | None],
        selected_run_ids: Callable[[], list[str]] = list,
        *,
        ask_on_quit: Callable[[QMainWindow], str] = ask_about_running_jobs,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._registry = registry
        self._workspace = workspace
        self._selected = selected_run_ids
        self._ask_on_quit = ask_on_quit
        self.panel: TrainingPanel | None = None
        self.sweep_dialogs: list[Any] = []
        self.dock: QDockWidget | None = None
        self.action_new_job = QAction("New &Training Job…", window)
        self.action_new_job.setShortcut(QKeySequence("Ctrl+N"))
        self.action_new_job.setStatusTip("Train a scikit-learn model on a data file")
        self.action_new_job.triggered.connect(lambda _checked=False: self.new_job())
        self.action_queue = QAction("Training &Queue", window)
        self.action_queue.triggered.connect(lambda _checked=False: self.show_queue())
        self.action_resume_sweep = QAction("Resume &Sweep", window)
        self.action_resume_sweep.setStatusTip("Carry the selected stopped sweep on to its budget")
        self.action_resume_sweep.triggered.connect(lambda _checked=False: self.resume_sweep())
        self.action_rerun = QAction("Re-&run", window)
        self.action_rerun.setStatusTip("Train again from the selected runs' job records")
        self.action_rerun.triggered.connect(lambda _checked=False: self.rerun_selected())

    def install(self, run_menu: QMenu) -> None:
        """Add the actions at the top of the Run menu."""
        first = run_menu.actions()[0] if run_menu.actions() else None
        run_menu.insertAction(first, self.action_new_job)
        run_menu.insertAction(first, self.action_queue)
        run_menu.insertAction(first, self.action_rerun)
        run_menu.insertAction(first, self.action_resume_sweep)
        run_menu.insertSeparator(first)

    def show_queue(self) -> TrainingPanel:
        """Show the queue dock (created on first use, so start-up never loads training)."""
        panel = self.prepare_queue()
        assert self.dock is not None
        self.dock.show()
        self.dock.raise_()
        return panel

    def prepare_queue(self) -> TrainingPanel:
        """Create the queue (and its hidden dock) if needed; its spare worker starts warming."""
        if self.panel is None:
            from desktop_app.ui.training_panel import TrainingPanel

            self.panel = TrainingPanel(self._registry)
            self.panel.sig_new_job_requested.connect(self.new_job)
            self.panel.sig_run_ended.connect(self.sig_run_ended)
            self.dock = QDockWidget("Training", self._window)
            self.dock.setObjectName("trainingDock")
            self.dock.setWidget(self.panel)
            add_bottom_dock(self._window, self.dock)
            self.dock.hide()
        return self.panel

    def new_job(self, job_file: Path | None = None) -> Any:
        """Open the job form; a job it launches is queued and shown in the dock."""
        from desktop_app.ui.job_form import JobForm

        base = Path(self._workspace() or Path.cwd())
        self.prepare_queue()  # a worker warms up while the user fills in the form
        form = JobForm(self._window, base_dir=base)
        if job_file is not None:
            form.load_file(job_file)
        form.sig_launch_requested.connect(lambda spec: self.show_queue().enqueue(spec))
        form.sig_sweep_requested.connect(self.open_sweep)
        form.setModal(False)
        form.show()
        self.last_form = form
        return form

    def open_sweep(self, spec: Any, hyperparams: list[Any]) -> Any:
        """Open the sweep dialog for a job; its trials show in the runs table as they land."""
        from desktop_app.ui.sweep_dialog import SweepDialog

        dialog = SweepDialog(self._registry, spec, hyperparams, self._window)
        dialog.setModal(False)
        dialog.show()
        self.sweep_dialogs.append(dialog)
        return dialog

    def resume_sweep(self) -> Any:
        """Reopen the selected sweep parent run in the sweep dialog and continue it."""
        from desktop_app.training.sweep import read_sweep
        from desktop_app.ui.sweep_dialog import SweepDialog

        ids = self._selected()
        if len(ids) != 1:
            return None
        try:
            spec = read_sweep(self._registry, ids[0])
        except Exception as exc:  # not a sweep, or its record is damaged: say so
            from desktop_app.ui.errors_hook import report_exception

            report_exception(exc)
            return None
        dialog = SweepDialog(self._registry, spec.job, [], self._window)
        dialog.method.setCurrentText(spec.method)
        dialog.trials.setValue(spec.trial_budget() or 1)
        dialog.show()
        dialog.resume(ids[0])
        self.sweep_dialogs.append(dialog)
        return dialog

    def rerun_selected(self) -> None:
        """Queue a new run from each selected run's job record (runs the runner started)."""
        from desktop_app.training.queue import rerun

        panel = self.show_queue()
        for run_id in self._selected():
            start_task(rerun, self._registry, run_id, on_returned=panel.submit)

    def apply_preferences(self) -> None:
        """Use newly saved training preferences in the running queue."""
        if self.panel is not None:
            self.panel.apply_preferences()

    def resume_left_jobs(self) -> list[str]:
        """Put jobs an earlier session left waiting (or lost in a crash) back on the queue."""
        from desktop_app.training.queue import orphaned_queued_runs

        run_ids = orphaned_queued_runs(self._registry)
        if not run_ids:
            return []
        panel = self.show_queue()
        for run_id in run_ids:
            panel.submit(run_id)
        jobs = "job" if len(run_ids) == 1 else "jobs"
        self._window.statusBar().showMessage(
            f"{len(run_ids)} training {jobs} left waiting by an earlier session put back on "
            "the queue (Cancel in the Training dock stops them).",
            12000,
        )
        return run_ids

    def confirm_quit(self) -> bool:
        """Before the window closes: settle running jobs; False means stay open."""
        if self.panel is None or not self.panel.busy():
            return True
        choice = self._ask_on_quit(self._window)
        if choice == STAY:
            return False
        self.panel.shutdown(cancel=choice == CANCEL)
        return True

    def shutdown(self) -> None:
        """Stop the queue's polling thread and any sweep (jobs were settled by ``confirm_quit``)."""
        for dialog in self.sweep_dialogs:
            dialog.stop()
        if self.panel is not None:
            self.panel.shutdown(cancel=False)
