"""The sweep dialog: search the job form's hyperparameters with grid, random or Optuna (TPE)
search, watch trials finish, stop, and resume later. The sweep engine does the work in a
background task; this only gathers the search space and shows progress."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Registry
from desktop_app.ui import settings
from desktop_app.ui.workers import Task, start_task

DASK_KEY = settings.DASK_SCHEDULER_KEY
_RANGE = re.compile(r"^\s*(-?[\d.eE+-]+)\s*\.\.\s*(-?[\d.eE+-]+)\s*(log)?\s*$")


def parse_space_entry(text: str, kind: str) -> Any:
    """A space entry as typed: ``10..200`` or ``1e-4..1 log`` (a range) or ``3, 5, None``
    (a choice); returns the TOML value of ``[sweep.space]`` (a table or a list)."""
    match = _RANGE.match(text)
    if match:
        low, high, log = match.groups()
        integer = kind == "int"
        convert = int if integer else float
        table: dict[str, Any] = {"low": convert(float(low)), "high": convert(float(high))}
        if integer:
            table["type"] = "int"
        if log:
            table["log"] = True
        return table
    values: list[Any] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part in ("None", "null"):
            values.append("None")
        elif part in ("True", "False"):
            values.append(part == "True")
        else:
            try:
                number = float(part)
                values.append(
                    int(number) if kind == "int" or part.lstrip("-").isdigit() else number
                )
            except ValueError:
                values.append(part.strip("'\""))
    return values


def sweep_toml(job_toml: str, settings: dict[str, Any], space: dict[str, Any]) -> str:
    """The job TOML with its ``[sweep]`` and ``[sweep.space]`` tables appended."""
    import tomli_w

    return job_toml.rstrip() + "\n\n" + tomli_w.dumps({"sweep": {**settings, "space": space}})


class SweepDialog(QDialog):
    """Choose the space and budget, run the sweep, watch its trials; stop or resume."""

    sig_finished = Signal(object)
    """The sweep ended: (SweepResult, or the exception that ended it)."""

    def __init__(
        self,
        registry: Registry,
        job_spec: Any,
        hyperparams: list[Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep hyperparameters")
        self.resize(760, 640)
        self.registry = registry
        self.job_spec = job_spec
        self.parent_id: str | None = None
        self._task: Task | None = None
        self.method = QComboBox()
        self.method.addItems(["optuna", "random", "grid"])
        self.metric_edit = QLineEdit("accuracy" if (job_spec.task or "") != "regression" else "r2")
        self.direction = QComboBox()
        self.direction.addItems(["maximize", "minimize"])
        self.trials = QSpinBox()
        self.trials.setRange(1, 100_000)
        self.trials.setValue(20)
        self.minutes = QSpinBox()
        self.minutes.setRange(0, 10_000)
        self.minutes.setValue(0)
        self.minutes.setSpecialValueText("no limit")
        self.dask_address = QLineEdit(str(settings.load_json(DASK_KEY, "") or ""))
        self.dask_address.setPlaceholderText("empty: this computer's cores")
        self.dask_address.setToolTip(
            "A Dask scheduler address such as tcp://10.0.0.5:8786 runs the trials on that "
            "cluster; the registry and data must be reachable there at the same paths."
        )
        self.space = QTableWidget(0, 3)
        self.space.setHorizontalHeaderLabels(["Hyperparameter", "Type", "Values to try"])
        self.space.horizontalHeader().setStretchLastSection(True)
        self.space.verticalHeader().hide()
        for hp in hyperparams:
            if hp.kind not in ("int", "float", "choice", "bool"):
                continue
            row = self.space.rowCount()
            self.space.insertRow(row)
            name = QTableWidgetItem(hp.name)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            kind = QTableWidgetItem(hp.kind)
            kind.setFlags(kind.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.space.setItem(row, 0, name)
            self.space.setItem(row, 1, kind)
            self.space.setItem(row, 2, QTableWidgetItem(""))
        self.space.resizeColumnsToContents()
        hint = QLabel(
            "Leave a row empty to keep its value. A range: <code>10..200</code> or "
            "<code>0.0001..1 log</code>; a choice: <code>3, 5, 8, None</code>."
        )
        hint.setWordWrap(True)
        self.status = QLabel("Not started.")
        self.status.setWordWrap(True)
        self.trials_view = QPlainTextEdit(readOnly=True)
        self.trials_view.setMaximumBlockCount(2000)
        self.start_button = QPushButton("Start Sweep")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)

        form = QFormLayout()
        form.addRow("Method", self.method)
        form.addRow("Optimise metric", self.metric_edit)
        form.addRow("Direction", self.direction)
        form.addRow("Trials", self.trials)
        form.addRow("Time budget (minutes)", self.minutes)
        form.addRow("Dask scheduler", self.dask_address)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.space, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.trials_view, 1)
        layout.addLayout(buttons)

    def set_values(self, name: str, text: str) -> None:
        """Type the values to try for one hyperparameter (also used by tests)."""
        for row in range(self.space.rowCount()):
            if self.space.item(row, 0).text() == name:
                self.space.item(row, 2).setText(text)
                return
        raise KeyError(name)

    def sweep_text(self) -> str:
        """The sweep file the dialog describes."""
        from desktop_app.training.spec import dump_job

        space = {}
        for row in range(self.space.rowCount()):
            text = self.space.item(row, 2).text().strip()
            if text:
                name, kind = self.space.item(row, 0).text(), self.space.item(row, 1).text()
                space[name] = parse_space_entry(text, kind)
        settings: dict[str, Any] = {
            "method": self.method.currentText(),
            "metric": self.metric_edit.text().strip(),
            "direction": self.direction.currentText(),
            "trials": self.trials.value(),
        }
        if self.minutes.value():
            settings["minutes"] = self.minutes.value()
        return sweep_toml(dump_job(self.job_spec), settings, space)

    def start(self) -> None:
        """Check the sweep, create its parent run and run the trials in the background."""
        from desktop_app.training.sweep import parse_sweep, start_sweep

        try:
            spec = parse_sweep(self.sweep_text(), self.job_spec.base_dir)
            self.parent_id = start_sweep(self.registry, spec)
        except Exception as exc:  # the engine's message names the field; show it as it is
            self.status.setText(f"<span style='color:#d1242f'>{exc}</span>")
            return
        self._run(resume=False)

    def resume(self, parent_id: str) -> None:
        """Continue an earlier sweep until its budget is spent."""
        self.parent_id = parent_id
        self._run(resume=True)

    def _run(self, *, resume: bool) -> None:
        from desktop_app.training.sweep import resume_sweep, run_sweep

        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Sweep {self.parent_id} running…")
        address = self.dask_address.text().strip() or None
        settings.save_json(DASK_KEY, address or "")

        def work(control: Any) -> Any:
            def on_event(event: Any) -> None:
                control.progress(0, 0, _describe(event))

            runner = resume_sweep if resume else run_sweep
            return runner(
                self.registry,
                self.parent_id,
                should_stop=control.should_stop,
                on_event=on_event,
                dask_address=address,
            )

        self._task = start_task(
            work,
            with_control=True,
            on_progressed=lambda _d, _t, text: self.trials_view.appendPlainText(text),
            on_returned=self._ended,
            on_errored=self._ended,
        )

    def stop(self) -> None:
        """Ask the sweep to stop: running trials are cancelled, the parent becomes KILLED."""
        if self._task is not None:
            self._task.control.cancel()
            self.status.setText("Stopping…")
            self.stop_button.setEnabled(False)

    def _ended(self, result: Any) -> None:
        self._task = None
        self.stop_button.setEnabled(False)
        self.start_button.setEnabled(False)
        if isinstance(result, BaseException):
            self.status.setText(f"<span style='color:#d1242f'>The sweep failed: {result}</span>")
        else:
            best = getattr(result, "best", None)
            text = f"Sweep {result.parent_id} {result.status}: {len(result.trials)} trials."
            if best is not None:
                params = ", ".join(f"{k}={v}" for k, v in best.params.items())
                text += (
                    f" Best: trial {best.number} ({self.metric_edit.text()} "
                    f"{best.value:.4g}; {params})."
                )
            self.status.setText(text)
        self.sig_finished.emit(result)

    def closeEvent(self, event: Any) -> None:
        """Closing the dialog stops a running sweep (it can be resumed later)."""
        self.stop()
        super().closeEvent(event)


def _describe(event: Any) -> str:
    trial = getattr(event, "trial", None)
    kind = getattr(event, "kind", "")
    params = getattr(trial, "params", None) or getattr(event, "params", None) or {}
    value = getattr(trial, "value", None)
    text = f"{kind}: " + ", ".join(f"{k}={v}" for k, v in params.items())
    return text + (f" → {value:.4g}" if isinstance(value, int | float) else "")
