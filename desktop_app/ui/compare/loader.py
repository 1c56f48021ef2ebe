"""Background reading for the compare views: runs, metric series in chunks, evaluation data.

The functions at the top are plain registry work run in the shared worker pool
(``desktop_app.ui.workers``); ``SeriesLoader`` feeds series to the GUI chunk by chunk so the
first curves show while the rest load, and a newer request never waits behind stale work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import QObject, Signal

from desktop_app.registry import MetricSeries, Registry, Run
from desktop_app.reports.comparison import read_series
from desktop_app.reports.evaluation import RunEvaluation, load_evaluations
from desktop_app.ui.workers import Task, TaskControl, start_task

CHUNK_POINTS = 400_000
CHUNK_PAIRS = 60


def load_runs(registry: Registry, run_ids: Sequence[str]) -> list[Run]:
    """The runs (ids or prefixes) in the order given; runs purged meanwhile are left out."""
    resolved = []
    for ref in run_ids:
        try:
            resolved.append(registry.resolve_run_id(ref))
        except Exception:  # a run deleted for good since it was selected
            continue
    return registry.get_runs(list(dict.fromkeys(resolved)), skip_missing=True)


def load_series_chunk(
    registry: Registry, pairs: Sequence[tuple[str, str]], *, control: TaskControl
) -> dict[tuple[str, str], MetricSeries]:
    """Read the series of these (run, metric) pairs, stopping early when cancelled."""
    return read_series(registry, pairs, control.should_stop)


def read_evaluations(registry: Registry, run_ids: Sequence[str]) -> dict[str, RunEvaluation]:
    """The evaluation data of each run."""
    return load_evaluations(registry, run_ids)


def chunks(
    pairs: Sequence[tuple[str, str]], sizes: Mapping[tuple[str, str], int]
) -> list[list[tuple[str, str]]]:
    """Pairs split into chunks of about ``CHUNK_POINTS`` points (at most ``CHUNK_PAIRS``)."""
    result: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    points = 0
    for pair in pairs:
        size = sizes.get(pair, 1)
        if current and (points + size > CHUNK_POINTS or len(current) >= CHUNK_PAIRS):
            result.append(current)
            current, points = [], 0
        current.append(pair)
        points += size
    if current:
        result.append(current)
    return result


class SeriesLoader(QObject):
    """Loads metric series in the background, one chunk at a time, newest request first."""

    sig_loaded = Signal(object)
    """A chunk arrived: ``{(run_id, key): MetricSeries}``."""
    sig_idle = Signal()
    """Every requested series has arrived (or the loader was cancelled)."""
    sig_failed = Signal(object)
    """Reading failed: ``(exception)``; the rest of the queue is dropped."""

    def __init__(self, registry: Registry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self._queue: list[list[tuple[str, str]]] = []
        self._task: Task | None = None
        self._stopped = False

    @property
    def busy(self) -> bool:
        """Whether series are being read or wait to be."""
        return self._task is not None or bool(self._queue)

    def request(
        self, pairs: Iterable[tuple[str, str]], sizes: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        """Read these pairs (after any chunk already running); ``sizes`` are point counts."""
        wanted = list(dict.fromkeys(pairs))
        queued = {p for chunk in self._queue for p in chunk}
        wanted = [p for p in wanted if p not in queued]
        if not wanted:
            if not self.busy:
                self.sig_idle.emit()
            return
        self._queue.extend(chunks(wanted, sizes or {}))
        self._next()

    def cancel(self) -> None:
        """Drop the queue and ask the running chunk to stop (its result is ignored)."""
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()

    def stop(self) -> None:
        """Cancel for good: nothing more is started (called on shutdown)."""
        self._stopped = True
        self.cancel()

    def _next(self) -> None:
        if self._task is not None or self._stopped:
            return
        if not self._queue:
            self.sig_idle.emit()
            return
        chunk = self._queue.pop(0)
        self._task = start_task(
            load_series_chunk,
            self.registry,
            chunk,
            with_control=True,
            on_returned=self._on_returned,
            on_errored=self._on_errored,
            on_finished=self._on_finished,
        )

    def _on_returned(self, result: dict[tuple[str, str], MetricSeries]) -> None:
        if not self._stopped:
            self.sig_loaded.emit(result)

    def _on_errored(self, exc: BaseException) -> None:
        self._queue.clear()
        if not self._stopped:
            self.sig_failed.emit(exc)

    def _on_finished(self) -> None:
        self._task = None
        if not self._stopped:
            self._next()
