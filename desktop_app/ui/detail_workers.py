"""Background work of the run detail panel: plain registry functions and a small job runner.

The functions at the top know nothing of Qt. ``DetailWorkers`` runs them as superqt workers on a
private thread pool, so a panel can abandon its own stale work and wait for exactly its own
threads when it shuts down, without touching other panels' work on the global pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool
from superqt.utils import create_worker

from desktop_app.errors import AppError, RegistryError
from desktop_app.registry import Artifact, MetricSeries, Registry, Run
from desktop_app.registry.artifacts import sha256_of_file

# ---- registry work (runs in worker threads) --------------------------------------------------


@dataclass(frozen=True)
class RunSnapshot:
    """Everything the panel shows about a run except metric series, read in one go."""

    run: Run
    artifacts: list[Artifact]
    parent_name: str | None = None


def load_snapshot(registry: Registry, run_id: str) -> RunSnapshot:
    """Read a run, its artifacts and its parent's name."""
    run = registry.get_run(run_id)
    artifacts = registry.list_artifacts(run.id)
    parent_name = None
    if run.parent_id:
        parents = registry.get_runs(
            [run.parent_id], with_params=False, with_tags=False, with_metrics=False
        )
        parent_name = parents[0].name
    return RunSnapshot(run, artifacts, parent_name)


def read_series(registry: Registry, run_id: str, keys: Iterable[str]) -> Iterator[MetricSeries]:
    """Yield the full history of each metric in turn (so a long list can be abandoned early)."""
    for key in keys:
        yield registry.get_metric_history(run_id, key)


def export_artifact(registry: Registry, artifact: Artifact, destination: Path) -> Path:
    """Copy an artifact's stored file to ``destination`` and check the copy's SHA-256."""
    if destination.exists() and sha256_of_file(destination) == artifact.sha256:
        return destination
    registry.artifact_file(artifact)
    registry.artifacts.export(artifact.sha256, destination)
    if sha256_of_file(destination) != artifact.sha256:
        destination.unlink(missing_ok=True)
        raise RegistryError(
            f"Artifact {artifact.path!r} does not match its SHA-256: the stored file was changed "
            "or damaged on disk and will not be used.",
            code="ARTIFACT_CORRUPT",
        )
    return destination


# ---- running it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a background call produced: its value, or the exception it raised."""

    token: Any
    value: Any = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the call returned normally."""
        return self.error is None

    @property
    def expected(self) -> bool:
        """Whether the error (if any) is an expected one, fit to show the user as is."""
        return self.error is None or isinstance(self.error, AppError)


def _call(token: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> Outcome:
    try:
        return Outcome(token, fn(*args))
    except Exception as exc:
        return Outcome(token, error=exc)


def _iterate(token: Any, fn: Callable[..., Iterable[Any]], args: tuple[Any, ...]) -> Iterator[Any]:
    try:
        yield from fn(*args)
    except Exception as exc:
        return Outcome(token, error=exc)
    return Outcome(token)


@dataclass
class _Job:
    token: Any
    worker: Any
    on_done: Callable[[Outcome], None]
    on_item: Callable[[Any, Any], None] | None = None
    abandoned: bool = field(default=False)


class DetailWorkers(QObject):
    """Runs calls and generators off the GUI thread and hands results back on the GUI thread.

    ``on_done(outcome)`` is called exactly once per job unless the job was abandoned;
    ``on_item(token, item)`` once per item a generator yields. Pass bound methods of objects
    living in the GUI thread.
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # Keep threads (and the SQLite connection each one opens) for reuse instead of
        # letting them expire and opening new ones later.
        self._pool.setExpiryTimeout(-1)
        self._jobs: dict[int, _Job] = {}
        self._next_id = 0

    def call(
        self,
        token: Any,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Outcome], None],
    ) -> int:
        """Run ``fn(*args)`` in a worker thread; return a job id."""
        worker = create_worker(_call, token, fn, args, _start_thread=False, _ignore_errors=True)
        return self._start(worker, _Job(token, worker, on_done))

    def iterate(
        self,
        token: Any,
        fn: Callable[..., Iterable[Any]],
        *args: Any,
        on_item: Callable[[Any, Any], None],
        on_done: Callable[[Outcome], None],
    ) -> int:
        """Run the generator ``fn(*args)`` in a worker thread, passing on items; return its id."""
        worker = create_worker(_iterate, token, fn, args, _start_thread=False, _ignore_errors=True)
        return self._start(worker, _Job(token, worker, on_done, on_item))

    def abandon(self, predicate: Callable[[Any], bool] | None = None) -> None:
        """Drop the results of pending jobs whose token matches (all when None); stop generators."""
        for job in self._jobs.values():
            if predicate is None or predicate(job.token):
                job.abandoned = True
                job.worker.quit()

    def pending(self) -> int:
        """How many jobs have not finished yet."""
        return len(self._jobs)

    def wait(self, msecs: int = -1) -> bool:
        """Abandon everything and wait for the threads to end; True when they all did."""
        self.abandon()
        return bool(self._pool.waitForDone(msecs))

    def _start(self, worker: Any, job: _Job) -> int:
        job_id = self._next_id
        self._next_id += 1
        self._jobs[job_id] = job
        if job.on_item is not None:
            worker.yielded.connect(partial(self._on_yielded, job_id))
        worker.returned.connect(partial(self._on_returned, job_id))
        worker.finished.connect(partial(self._on_finished, job_id))
        self._pool.start(worker)
        return job_id

    def _on_yielded(self, job_id: int, item: Any) -> None:
        job = self._jobs.get(job_id)
        if job is not None and not job.abandoned and job.on_item is not None:
            job.on_item(job.token, item)

    def _on_returned(self, job_id: int, outcome: Outcome) -> None:
        job = self._jobs.get(job_id)
        if job is not None and not job.abandoned:
            job.on_done(outcome)

    def _on_finished(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)
