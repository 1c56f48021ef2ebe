"""The single-run charts for the run detail: the same curves and evaluation overlays as Compare.

``RunChartsWidget(registry).show_run(run_id)`` reads the run and its series in workers and
draws them; ``refresh()`` re-reads only the series whose point count changed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from desktop_app.errors import AppError, NotFoundError
from desktop_app.registry import MetricSeries, Registry, Run
from desktop_app.reports.colours import run_colour
from desktop_app.reports.comparison import curve_metric_keys, metric_counts, stale_pairs
from desktop_app.reports.evaluation import RunEvaluation, load_evaluation
from desktop_app.ui.compare.curves import CurvesPanel
from desktop_app.ui.compare.evaluation_view import EvaluationPanel
from desktop_app.ui.compare.loader import SeriesLoader
from desktop_app.ui.run_detail import Banner
from desktop_app.ui.workers import Task, start_task


def _load_run(
    registry: Registry, run_id: str, with_evaluation: bool
) -> tuple[Run, RunEvaluation | None]:
    run = registry.get_run(run_id)
    return run, load_evaluation(registry, run.id) if with_evaluation else None


class RunChartsWidget(QWidget):
    """Curves (x mode, log scales, smoothing) and evaluation overlays of one run."""

    sig_loaded = Signal(str)
    """Run id: its charts are drawn (after show_run or refresh)."""

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.run: Run | None = None
        self._run_id: str | None = None
        self._generation = 0
        self._task: Task | None = None
        self._again = False
        self._closed = False
        self._evaluation_for: str | None = None
        self.banner = Banner()
        self.curves = CurvesPanel(compact=True)
        self.evaluation = EvaluationPanel(compact=True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.curves, "Curves")
        self.tabs.addTab(self.evaluation, "Evaluation")
        self.loader = SeriesLoader(registry, self)
        self.loader.sig_loaded.connect(self._on_series)
        self.loader.sig_idle.connect(self._on_idle)
        self.loader.sig_failed.connect(self._on_failed)
        for panel in (self.curves, self.evaluation):
            panel.sig_message.connect(self._on_message)
        self.curves.sig_metrics_changed.connect(lambda _m: self._request_series())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)

    @property
    def run_id(self) -> str | None:
        """The run shown (or being loaded)."""
        return self._run_id

    def show_run(self, run_id: str | None) -> None:
        """Chart this run (None: nothing); ``sig_loaded`` follows."""
        if run_id is not None and run_id == self._run_id:
            self.refresh()
            return
        self._generation += 1
        self.loader.cancel()
        self._run_id = run_id
        self.run = None
        self._evaluation_for = None
        self.banner.clear()
        self.curves.series.clear()
        self.curves.set_runs([], {}, {}, [], [])
        self.evaluation.set_data([], {}, {}, {})
        if run_id is not None:
            self._load()

    def refresh(self) -> None:
        """Re-read the run; only series with new points are read again."""
        if self._run_id is not None:
            self._load()

    def shutdown(self) -> None:
        """Stop the widget's background work (call before the registry closes)."""
        self._closed = True
        self.loader.stop()
        self.curves.stop()
        if self._task is not None:
            self._task.cancel()

    def _load(self) -> None:
        if self._closed or self._run_id is None:
            return
        if self._task is not None:
            self._again = True
            return
        generation = self._generation
        with_evaluation = self._evaluation_for != self._run_id
        self._task = start_task(
            _load_run,
            self.registry,
            self._run_id,
            with_evaluation,
            on_returned=lambda result: self._on_run(generation, result),
            on_errored=self._on_failed,
            on_finished=self._on_finished,
        )

    def _on_finished(self) -> None:
        self._task = None
        if self._again:
            self._again = False
            self._load()

    def _on_run(self, generation: int, result: tuple[Run, RunEvaluation | None]) -> None:
        if generation != self._generation or self._closed:
            return
        run, evaluation = result
        self.run = run
        colours, labels = {run.id: run_colour(0)}, {run.id: run.name}
        self.curves.set_runs([run], colours, labels, curve_metric_keys([run]))
        if evaluation is not None:
            self._evaluation_for = run.id
            self.evaluation.set_data([run], colours, labels, {run.id: evaluation})
            self.tabs.setTabEnabled(1, self.evaluation.has_data)
        self._request_series()

    def _request_series(self) -> None:
        if self.run is None:
            return
        pairs = stale_pairs([self.run], self.curves.metrics, self.curves.loaded_counts())
        self.loader.request(pairs, metric_counts([self.run]))

    def _on_series(self, series: dict[tuple[str, str], MetricSeries]) -> None:
        if self.run is not None:
            self.curves.apply_series({k: v for k, v in series.items() if k[0] == self.run.id})

    def _on_idle(self) -> None:
        if self.run is not None and not self._closed:
            self.sig_loaded.emit(self.run.id)

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, NotFoundError):
            self.banner.show_message(f"Run {self._run_id} no longer exists.", "error")
        elif isinstance(exc, AppError):
            self.banner.show_message(str(exc), "error", exc.detail)
        else:
            self.banner.show_message(f"Something went wrong: {exc}", "error")
            sys.excepthook(type(exc), exc, exc.__traceback__)

    def _on_message(self, level: str, text: str) -> None:
        self.banner.show_message(text, level)
