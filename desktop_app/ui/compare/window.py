"""The Compare window: any number of runs side by side in curves, tables and charts.

Registry reads run in workers; the window keeps the runs, their colours and the series it has
drawn, and a live timer re-reads only what changed while any compared run is still RUNNING.
Run it on its own with ``python -m desktop_app.ui.compare`` for a preview on sample runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import AppError
from desktop_app.registry import MetricSeries, Registry, Run, RunStatus
from desktop_app.reports.comparison import (
    Comparison,
    curve_metric_keys,
    metric_counts,
    new_comparison,
    stale_pairs,
)
from desktop_app.reports.evaluation import RunEvaluation
from desktop_app.reports.html_report import ReportImage, main_metric, render_report, write_report
from desktop_app.ui.compare.bar_view import BarPanel
from desktop_app.ui.compare.common import ChartBase, ask_save_path, write_text
from desktop_app.ui.compare.curves import CurvesPanel
from desktop_app.ui.compare.diff_view import DiffPanel
from desktop_app.ui.compare.evaluation_view import EvaluationPanel
from desktop_app.ui.compare.loader import SeriesLoader, load_runs, read_evaluations
from desktop_app.ui.compare.parallel_view import ParallelPanel
from desktop_app.ui.compare.runs_table import RunsLegendView
from desktop_app.ui.compare.scatter_view import ScatterPanel
from desktop_app.ui.run_detail import Banner
from desktop_app.ui.workers import Task, start_task

LIVE_INTERVAL_MS = 1000
TABS = ("curves", "diff", "parallel", "scatter", "bars", "evaluation")


def _report_task(
    comparison: Comparison,
    evaluations: dict[str, RunEvaluation],
    path: str,
    x_mode: str,
    smoothing: float,
    images: list[ReportImage],
) -> Path:
    """Render and write the report (runs in a worker: no Qt objects are touched)."""
    html = render_report(comparison, evaluations, x_mode=x_mode, smoothing=smoothing, images=images)
    return write_report(path, html)


class CompareWindow(QMainWindow):
    """Compare runs: curves, params diff, parallel coordinates, scatter, bars and evaluation."""

    sig_loaded = Signal()
    """The runs, every charted series and the evaluation data are on screen."""
    sig_summaries_ready = Signal()
    """The runs are read: the tables, scatter, bars and parallel coordinates are drawn."""
    sig_refreshed = Signal()
    """A live refresh finished applying what changed."""
    sig_report_written = Signal(object)
    """Path: the comparison report was written there."""
    sig_open_run_requested = Signal(str)
    """Run id: the user double-clicked a run (the main window may select it)."""

    _open: ClassVar[set[CompareWindow]] = set()

    def __init__(
        self, registry: Registry, run_ids: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.requested_ids = list(dict.fromkeys(run_ids))
        self.comparison: Comparison | None = None
        self.evaluations: dict[str, RunEvaluation] = {}
        self._closed = False
        self._runs_task: Task | None = None
        self._refresh_pending = False
        self._evaluations_loaded = False
        self._series_idle = False
        self._refreshing = False
        self._version: int | None = None
        self._tasks: set[Task] = set()

        self.setWindowTitle(f"Compare {len(self.requested_ids)} runs — ModelDesk")
        self.resize(1280, 820)
        self.banner = Banner()
        self.runs_view = RunsLegendView()
        self.runs_title = QLabel("Runs")
        self.curves = CurvesPanel()
        self.diff = DiffPanel()
        self.parallel = ParallelPanel()
        self.scatter = ScatterPanel()
        self.bars = BarPanel()
        self.evaluation = EvaluationPanel()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.curves, "Metric curves")
        self.tabs.addTab(self.diff, "Params && metrics")
        self.tabs.addTab(self.parallel, "Parallel coordinates")
        self.tabs.addTab(self.scatter, "Scatter")
        self.tabs.addTab(self.bars, "Bars")
        self.tabs.addTab(self.evaluation, "Evaluation")
        self.loader = SeriesLoader(registry, self)
        self.live_timer = QTimer(self)
        self.live_timer.setObjectName("compareLiveTimer")
        self.live_timer.setInterval(LIVE_INTERVAL_MS)
        self.live_timer.timeout.connect(self._poll)
        self._build()
        self._connect()
        CompareWindow._open.add(self)
        self._load_runs()

    # ---- construction ------------------------------------------------------------------------

    def _build(self) -> None:
        self.action_report = QAction("Export comparison report…", self)
        self.action_report.setShortcut(QKeySequence("Ctrl+E"))
        self.action_report.setToolTip(
            "One self-contained HTML file with the runs, params, metrics and charts"
        )
        self.action_report.triggered.connect(self._ask_report)
        self.action_refresh = QAction("Refresh", self)
        self.action_refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.action_refresh.triggered.connect(self.refresh)
        self.action_close = QAction("Close", self)
        self.action_close.setShortcut(QKeySequence(QKeySequence.StandardKey.Close))
        self.action_close.triggered.connect(self.close)
        toolbar = self.addToolBar("Compare")
        toolbar.setObjectName("compareToolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.action_report)
        toolbar.addAction(self.action_refresh)
        self.addAction(self.action_close)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 0, 8)
        left_layout.setSpacing(4)
        title_font = self.runs_title.font()
        title_font.setBold(True)
        self.runs_title.setFont(title_font)
        self.runs_csv_button = QPushButton("Export CSV…")
        self.runs_csv_button.clicked.connect(self._ask_runs_csv)
        left_layout.addWidget(self.runs_title)
        left_layout.addWidget(self.runs_view, 1)
        left_layout.addWidget(self.runs_csv_button, 0, Qt.AlignmentFlag.AlignLeft)
        hint = QLabel("Select runs to highlight them; click a curve, dot or bar to select its run.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        left_layout.addWidget(hint)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 950])
        left.setMinimumWidth(240)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        banner_box = QWidget()
        banner_layout = QVBoxLayout(banner_box)
        banner_layout.setContentsMargins(8, 6, 8, 0)
        banner_layout.addWidget(self.banner)
        layout.addWidget(banner_box)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.status_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)

    def _connect(self) -> None:
        self.runs_view.sig_selection_changed.connect(self._on_selection)
        self.runs_view.sig_run_activated.connect(self.sig_open_run_requested)
        for clickable in (self.curves, self.scatter, self.bars):
            clickable.sig_run_clicked.connect(self._select_one)
        for panel in (
            self.curves,
            self.diff,
            self.parallel,
            self.scatter,
            self.bars,
            self.evaluation,
        ):
            panel.sig_message.connect(self._show_message)
        self.parallel.sig_brushed.connect(self._on_brushed)
        self.curves.sig_metrics_changed.connect(self._on_metrics_changed)
        self.loader.sig_loaded.connect(self._on_series)
        self.loader.sig_idle.connect(self._on_series_idle)
        self.loader.sig_failed.connect(self._on_failed)

    # ---- public API --------------------------------------------------------------------------

    @property
    def run_ids(self) -> list[str]:
        """The compared runs' ids in compare order (once read)."""
        return [] if self.comparison is None else self.comparison.run_ids

    @property
    def colours(self) -> dict[str, str]:
        """The colour of each run, the same in every chart."""
        return {} if self.comparison is None else dict(self.comparison.colours)

    def selected_run_ids(self) -> list[str]:
        """The runs selected in the table."""
        return self.runs_view.selected_run_ids()

    def select_runs(self, run_ids: Sequence[str]) -> None:
        """Select these runs in the table (and so highlight them in every chart)."""
        self.runs_view.select_runs(run_ids)

    def show_tab(self, name: str) -> None:
        """Bring a tab forward: curves, diff, parallel, scatter, bars or evaluation."""
        self.tabs.setCurrentIndex(TABS.index(name))

    def refresh(self) -> None:
        """Re-read the runs and apply only what changed (new points are fed to curves in place)."""
        if self._closed:
            return
        if self._runs_task is not None:
            self._refresh_pending = True
            return
        self._load_runs()

    def charts(self) -> dict[str, ChartBase]:
        """Every chart on screen with data, by a title fit for a file name."""
        found: dict[str, ChartBase] = {f"curve {k}": c for k, c in self.curves.charts.items()}
        if self.parallel.chart.data is not None:
            found["parallel coordinates"] = self.parallel.chart
        if self.scatter.chart.run_ids:
            found["scatter"] = self.scatter.chart
        if self.bars.chart.run_ids:
            found["bars"] = self.bars.chart
        for chart in self.evaluation.charts():
            found[f"evaluation {chart.title}"] = chart
        return found

    def export_report(self, path: str | Path, *, include_images: bool = True) -> Task | None:
        """Write the HTML report (in a worker); ``sig_report_written`` says when it is done."""
        if self.comparison is None:
            self.banner.show_message("The runs are still loading; try again in a moment.", "info")
            return None
        images = []
        if include_images:
            # Grab the live charts in the GUI thread; the worker only encodes and writes text.
            self._lay_out_hidden_tabs()
            images = [ReportImage(title, chart.png()) for title, chart in self.charts().items()]
        comparison = Comparison(
            runs=list(self.comparison.runs),
            colours=dict(self.comparison.colours),
            labels=dict(self.comparison.labels),
            metrics=list(self.curves.metrics),
            series={k: v for k, v in self.curves.series.items() if k[1] in self.curves.metrics},
        )
        self.status_label.setText("Writing the report…")
        task = start_task(
            _report_task,
            comparison,
            dict(self.evaluations),
            str(path),
            self.curves.x_mode,
            self.curves.smoothing,
            images,
            on_returned=self._on_report_written,
            on_errored=self._on_failed,
        )
        self._track(task)
        return task

    def _lay_out_hidden_tabs(self) -> None:
        """Give tabs never shown the size of the shown one, so their charts grab at that size."""
        shown = self.tabs.currentWidget()
        for index in range(self.tabs.count()):
            page = self.tabs.widget(index)
            if page is None or shown is None or page is shown or page.size() == shown.size():
                continue
            page.setGeometry(shown.geometry())
            layout = page.layout()
            if layout is not None:
                layout.activate()
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def save_runs_csv(self, path: str | Path) -> Path:
        """Write the compared runs (label, name, id, experiment, status, colour) as CSV."""
        return write_text(path, self.runs_view.legend_model.to_csv())

    def shutdown(self) -> None:
        """Stop timers and background work (called on close)."""
        self._closed = True
        self.live_timer.stop()
        self.statusBar().clearMessage()  # stops the status bar's message timer
        self.curves.stop()
        self.loader.stop()
        for task in list(self._tasks):
            task.cancel()
        from desktop_app.ui import workers

        workers.wait_for_tasks(cancel=False)
        CompareWindow._open.discard(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop everything the window started."""
        if not self._closed:
            self.shutdown()
        super().closeEvent(event)

    # ---- loading -----------------------------------------------------------------------------

    def _track(self, task: Task) -> None:
        self._tasks.add(task)
        task.signals.sig_finished.connect(lambda: self._tasks.discard(task))

    def _load_runs(self) -> None:
        self._version = self._read_version()
        self.status_label.setText("Reading runs…" if self.comparison is None else "Refreshing…")
        self._runs_task = start_task(
            load_runs,
            self.registry,
            self.requested_ids,
            on_returned=self._on_runs,
            on_errored=self._on_failed,
            on_finished=self._on_runs_finished,
        )
        self._track(self._runs_task)

    def _on_runs_finished(self) -> None:
        self._runs_task = None
        if self._refresh_pending and not self._closed:
            self._refresh_pending = False
            self._load_runs()

    def _on_runs(self, runs: list[Run]) -> None:
        if self._closed:
            return
        first = self.comparison is None
        if not runs:
            self.banner.show_message("None of these runs exist any more.", "error")
            self.status_label.setText("")
            return
        old = self.comparison
        # Colours follow compare order, so a refresh of the same runs keeps every colour.
        comparison = new_comparison(runs, old.metrics if old is not None else None)
        self.comparison = comparison
        self._refreshing = not first
        missing = len(self.requested_ids) - len(runs)
        if missing:
            self.banner.show_message(
                f"{missing} of the selected runs no longer exist and are left out.", "info"
            )
        self._apply_runs(comparison, first)
        self._update_live_timer()
        self.sig_summaries_ready.emit()
        if first or self._any_ended(old, runs):
            self._load_evaluations()
        pairs = stale_pairs(runs, self.curves.metrics, self.curves.loaded_counts())
        self._series_idle = False
        self.loader.request(pairs, metric_counts(runs))

    def _apply_runs(self, comparison: Comparison, first: bool) -> None:
        runs, colours, labels = comparison.runs, comparison.colours, comparison.labels
        same_runs = [r.id for r in runs] == [r.id for r in self.runs_view.legend_model.runs]
        selected = self.selected_run_ids()
        self.setWindowTitle(f"Compare {len(runs)} runs — ModelDesk")
        experiments = sorted({r.experiment_name for r in runs}, key=str.casefold)
        plural = "s" if len(experiments) != 1 else ""
        self.runs_title.setText(f"{len(runs)} runs · {len(experiments)} experiment{plural}")
        self.runs_view.legend_model.set_runs(runs, colours, labels)
        if selected:
            self.runs_view.select_runs(selected)
        metric = main_metric(comparison)
        available = curve_metric_keys(runs)
        self.curves.set_runs(
            runs, colours, labels, available, None if first else self.curves.metrics
        )
        self.diff.set_runs(runs, colours, labels)
        self.parallel.set_runs(runs, labels, metric if first else None)
        self.scatter.set_runs(
            runs, colours, labels, y=f"metric:{metric}" if first and metric else None
        )
        self.bars.set_runs(runs, colours, labels, metric if first else None)
        if self.evaluations and not same_runs:
            # Evaluation data change only when a run ends (then they are read again).
            self.evaluation.set_data(runs, colours, labels, self.evaluations)
        comparison.metrics = list(self.curves.metrics)

    @staticmethod
    def _any_ended(old: Comparison | None, runs: Sequence[Run]) -> bool:
        if old is None:
            return True
        before = {r.id: r.status for r in old.runs}
        return any(
            before.get(r.id) == RunStatus.RUNNING and r.status != RunStatus.RUNNING for r in runs
        )

    def _load_evaluations(self) -> None:
        assert self.comparison is not None
        task = start_task(
            read_evaluations,
            self.registry,
            self.comparison.run_ids,
            on_returned=self._on_evaluations,
            on_errored=self._on_failed,
        )
        self._track(task)

    def _on_evaluations(self, evaluations: dict[str, RunEvaluation]) -> None:
        if self._closed or self.comparison is None:
            return
        self.evaluations = evaluations
        self._evaluations_loaded = True
        c = self.comparison
        self.evaluation.set_data(c.runs, c.colours, c.labels, evaluations)
        self._check_loaded()

    def _on_metrics_changed(self, metrics: list[str]) -> None:
        if self.comparison is None:
            return
        self.comparison.metrics = list(metrics)
        pairs = stale_pairs(self.comparison.runs, metrics, self.curves.loaded_counts())
        self._series_idle = False
        self.loader.request(pairs, metric_counts(self.comparison.runs))

    def _on_series(self, series: dict[tuple[str, str], MetricSeries]) -> None:
        if self._closed:
            return
        self.curves.apply_series(series)
        if self.comparison is not None:
            loaded = sum(1 for p in self.curves.wanted_pairs() if p in self.curves.series)
            self.curves.set_status(f"{loaded} of {len(self.curves.wanted_pairs())} series loaded")

    def _on_series_idle(self) -> None:
        self._series_idle = True
        self.curves.set_status("")
        self._check_loaded()

    def _check_loaded(self) -> None:
        if self._series_idle and self._evaluations_loaded and self.comparison is not None:
            self.status_label.setText(self._summary())
            if self._refreshing:
                self._refreshing = False
                self.sig_refreshed.emit()
            self.sig_loaded.emit()

    def _summary(self) -> str:
        assert self.comparison is not None
        running = sum(r.status == RunStatus.RUNNING for r in self.comparison.runs)
        text = f"{len(self.comparison.runs)} runs"
        return text + (f" · {running} running, updating live" if running else "")

    # ---- live updates ------------------------------------------------------------------------

    def _read_version(self) -> int | None:
        try:
            return self.registry.data_version()
        except Exception:  # the registry was closed under us
            return None

    def _update_live_timer(self) -> None:
        running = self.comparison is not None and any(
            r.status == RunStatus.RUNNING for r in self.comparison.runs
        )
        if running and not self._closed:
            if not self.live_timer.isActive():
                self.live_timer.start()
        else:
            self.live_timer.stop()

    def _poll(self) -> None:
        version = self._read_version()
        # One timer tick at most per second, and only when another connection committed.
        if version is not None and version != self._version:
            self.refresh()

    # ---- selection and messages --------------------------------------------------------------

    def _on_selection(self, run_ids: list[str]) -> None:
        for panel in (self.curves, self.scatter, self.bars, self.parallel):
            panel.set_selected(run_ids)

    def _on_brushed(self, run_ids: list[str]) -> None:
        # Brushing selects the runs it keeps; clearing every brush clears the selection.
        self.select_runs(run_ids if self.parallel.chart.brushes else [])

    def _select_one(self, run_id: str) -> None:
        self.select_runs([run_id])

    def _show_message(self, level: str, text: str) -> None:
        if level == "info":
            self.statusBar().showMessage(text, 6000)
        else:
            self.banner.show_message(text, level)

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, AppError):
            self.banner.show_message(str(exc), "error", exc.detail)
        else:
            self.banner.show_message(f"Something went wrong: {exc}", "error")
            sys.excepthook(type(exc), exc, exc.__traceback__)
        self.status_label.setText("")

    # ---- exports -----------------------------------------------------------------------------

    def _ask_report(self) -> None:
        path = ask_save_path(
            self, "Export comparison report", "comparison-report.html", "HTML file (*.html)"
        )
        if path:
            self.export_report(path)

    def _on_report_written(self, path: Path) -> None:
        self.banner.clear()
        self.status_label.setText(self._summary() if self.comparison else "")
        self.banner.show_message(f"Saved the comparison report to {path}", "info")
        self.sig_report_written.emit(path)

    def _ask_runs_csv(self) -> None:
        path = ask_save_path(self, "Export runs as CSV", "runs.csv", "CSV file (*.csv)")
        if not path:
            return
        try:
            self.save_runs_csv(path)
        except AppError as exc:
            self.banner.show_message(exc.message)


def open_compare(
    registry: Registry, run_ids: Sequence[str], parent: QWidget | None = None
) -> CompareWindow:
    """Open a Compare window on these runs and show it; its data arrive shortly (``sig_loaded``)."""
    window = CompareWindow(registry, run_ids, parent)
    if parent is not None:
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window
