"""Trials on a Dask cluster: ``DaskQueue`` has ``JobQueue``'s interface, its workers are Dask tasks.

Set ``$MODELDESK_DASK_SCHEDULER`` (or pass ``dask_address`` to ``run_sweep``) to a scheduler
address such as ``tcp://10.0.0.5:8786`` and a sweep's trials run on that cluster instead of in
local processes. Each task is ``run_trial_on_worker(registry_root, run_id)``.

**The registry folder must be reachable at the same path from every Dask worker**: workers
open it to read the trial's job and write its metrics, exactly as a local worker does, so the
cluster must run on this machine or see the folder on a shared disk. So must the job's data
file. Nothing is sent through Dask but the two strings; the registry stays the message bus.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from desktop_app.errors import AppError, ConflictError, InvalidValueError, NotFoundError
from desktop_app.registry import Registry, RunStatus
from desktop_app.training import launch
from desktop_app.training.queue import (
    CANCEL_REASON,
    KILL_GRACE_S,
    QueueEvent,
    QueueEventKind,
    cancel_run,
)

ENV_DASK_SCHEDULER = "MODELDESK_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 10.0
# How often a task looks in the registry for a cancel of its run.
WATCH_INTERVAL_S = 0.25
_ERROR_TAIL_BYTES = 4000
_END_KINDS = {
    RunStatus.FINISHED: QueueEventKind.FINISHED,
    RunStatus.FAILED: QueueEventKind.FAILED,
    RunStatus.KILLED: QueueEventKind.KILLED,
}


class DaskError(AppError):
    """The Dask cluster cannot be used as asked."""

    code = "DASK_ERROR"


def describe_cluster(address: str, *, timeout: float = CONNECT_TIMEOUT_S) -> str:
    """Connect to a Dask scheduler and say what it offers, e.g. "2 workers, 8 threads".

    Raises ``DaskError`` with the reason when the address is malformed or unreachable.
    """
    from distributed import Client

    address = address.strip()
    if not address:
        raise InvalidValueError("Give a Dask scheduler address such as tcp://10.0.0.5:8786.")
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DaskError(
            f"Cannot reach the Dask scheduler at {address}: {exc}", detail=repr(exc)
        ) from exc
    try:
        threads = client.nthreads()
    finally:
        client.close()
    workers = len(threads)
    return (
        f"{workers} worker{'s' if workers != 1 else ''}, "
        f"{sum(threads.values())} thread{'s' if sum(threads.values()) != 1 else ''}"
    )


def run_trial_on_worker(registry_root: str, run_id: str) -> str:
    """Run one QUEUED run to its end on this Dask worker; return its final status.

    The worker's training entry point (``desktop_app.training.worker.main``, started as
    ``modeldesk worker``) runs in a child process of the Dask worker, not in the Dask worker
    process itself: a cancel can then end the fit at once (Dask cannot interrupt a running
    task), and the worker's process-wide changes (stdout, environment) cannot leak into other
    tasks. The task watches the run and ends that child when the run is marked KILLED.
    ``registry_root`` must be the registry folder as this machine sees it (same machine or
    a shared disk).
    """
    root = Path(registry_root)
    registry = Registry(root, create=False)
    try:
        _note_dask_worker(registry, run_id)
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                launch.worker_command(root, run_id),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=launch.worker_environment(),
                **launch.new_session_options(),
            )
            while True:
                try:
                    code = process.wait(timeout=WATCH_INTERVAL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if registry.get_run(run_id).status == RunStatus.KILLED:
                    launch.end_process_tree(process.pid, grace=KILL_GRACE_S)
            run = registry.get_run(run_id)
            if not run.status.is_terminal:
                errors.seek(0)
                tail = errors.read()[-_ERROR_TAIL_BYTES:].decode("utf-8", "replace").strip()
                reason = f"The worker process exited with code {code} without ending the run."
                registry.set_run_status(
                    run_id, RunStatus.FAILED, f"{reason}\n\n{tail}" if tail else reason
                )
        return str(registry.get_run(run_id).status)
    finally:
        registry.close()


def _note_dask_worker(registry: Registry, run_id: str) -> None:
    """Tag the run with the Dask worker that took it (when called inside a Dask worker)."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        return
    registry.set_tags(run_id, {"dask_worker": address})


class DaskQueue:
    """Runs queued runs as Dask tasks, at most ``max_workers`` at a time (default: every thread).

    Same interface as ``JobQueue``: ``submit``, ``cancel``, ``poll`` (never blocks), ``running``,
    ``waiting`` and ``shutdown``. Output lines are not passed back (each run keeps its own
    ``logs/output.txt``); events are STARTED and the end events. A cancel cancels the Dask
    future and marks the run KILLED; the task then ends the run's worker process.
    """

    def __init__(
        self,
        registry: Registry,
        max_workers: int | None = None,
        *,
        address: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        from distributed import Client

        address = (address or os.environ.get(ENV_DASK_SCHEDULER, "")).strip()
        if not address:
            raise InvalidValueError(
                f"No Dask scheduler given: set ${ENV_DASK_SCHEDULER} or pass its address."
            )
        self.registry = registry
        self.address = address
        try:
            self.client: Any = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise DaskError(
                f"Cannot reach the Dask scheduler at {address}: {exc}", detail=repr(exc)
            ) from exc
        self.max_workers = max(1, max_workers or self._cluster_threads())
        self._waiting: list[str] = []
        self._futures: dict[str, Any] = {}
        self._pending: list[QueueEvent] = []
        self._closed = False

    def _cluster_threads(self) -> int:
        try:
            return int(sum(self.client.nthreads().values())) or 1
        except Exception:
            return 1

    def submit(self, run_id: str) -> None:
        """Add a QUEUED run to the end of the waiting list (it starts at a later ``poll``)."""
        if self._closed:
            raise ConflictError("The Dask queue has been shut down.")
        run = self.registry.get_run(run_id)
        if run.id in self._waiting or run.id in self._futures:
            raise ConflictError(f"Run {run.id} is already in the queue.")
        if run.status != RunStatus.QUEUED:
            raise ConflictError(f"Run {run.id} is {run.status}, not QUEUED.")
        self._waiting.append(run.id)

    def waiting(self) -> list[str]:
        """Ids of the runs waiting to be handed to the cluster, next first."""
        return list(self._waiting)

    def running(self) -> list[str]:
        """Ids of the runs handed to the cluster and not yet ended, oldest first."""
        return list(self._futures)

    def cancel(self, run_id: str) -> None:
        """Cancel a run: a waiting one never starts, a running one's task is cancelled.

        Either way the run becomes KILLED "cancelled by user" (unless it just finished).
        """
        run_id = self.registry.resolve_run_id(run_id)
        if run_id in self._waiting:
            self._waiting.remove(run_id)
        elif run_id in self._futures:
            self._futures.pop(run_id).cancel()
        else:
            cancel_run(self.registry, run_id)
            self._pending.append(self._end_event(run_id))
            return
        if not self.registry.get_run(run_id).status.is_terminal:
            self.registry.set_run_status(run_id, RunStatus.KILLED, CANCEL_REASON)
        self._pending.append(self._end_event(run_id))

    def poll(self) -> list[QueueEvent]:
        """Hand waiting runs to the cluster when slots are free, reap ended tasks."""
        events, self._pending = self._pending, []
        for run_id, future in list(self._futures.items()):
            if future.done():
                del self._futures[run_id]
                events.append(self._reap(run_id, future))
        while not self._closed and self._waiting and len(self._futures) < self.max_workers:
            events.extend(self._start(self._waiting.pop(0)))
        return events

    def _start(self, run_id: str) -> list[QueueEvent]:
        try:
            run = self.registry.get_run(run_id)
        except NotFoundError:
            return []
        if run.status != RunStatus.QUEUED:
            return [self._end_event(run_id)] if run.status.is_terminal else []
        self._futures[run_id] = self.client.submit(
            run_trial_on_worker,
            str(self.registry.root),
            run_id,
            key=f"modeldesk-trial-{run_id}-{time.time_ns()}",
            pure=False,
            retries=0,
        )
        return [QueueEvent(QueueEventKind.STARTED, run_id)]

    def _reap(self, run_id: str, future: Any) -> QueueEvent:
        """The end event of a finished task; a run it left open is marked FAILED or KILLED."""
        run = self.registry.get_run(run_id)
        if not run.status.is_terminal:
            if future.status == "cancelled":
                self.registry.set_run_status(run_id, RunStatus.KILLED, CANCEL_REASON)
            elif future.status == "error":
                exc = future.exception()
                self.registry.set_run_status(
                    run_id,
                    RunStatus.FAILED,
                    f"The trial failed on the Dask cluster: {type(exc).__name__}: {exc}",
                )
            else:
                self.registry.set_run_status(
                    run_id, RunStatus.FAILED, "The Dask task ended without ending the run."
                )
        return self._end_event(run_id)

    def _end_event(self, run_id: str) -> QueueEvent:
        run = self.registry.get_run(run_id)
        kind = _END_KINDS.get(run.status, QueueEventKind.FAILED)
        return QueueEvent(kind, run_id, run.status_reason or "")

    def shutdown(self, cancel: bool) -> list[QueueEvent]:
        """Stop the queue and disconnect; return the events not yet handed out.

        With ``cancel`` every waiting and running run is cancelled; without it, waiting runs
        stay QUEUED and running tasks are left to finish on the cluster.
        """
        if not self._closed:
            self._closed = True
            if cancel:
                for run_id in [*self._waiting, *self._futures]:
                    self.cancel(run_id)
            self._waiting.clear()
            self._futures.clear()
            self.client.close()
        events, self._pending = self._pending, []
        return events
