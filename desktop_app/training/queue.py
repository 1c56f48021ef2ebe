"""Queued training runs and the scheduler that runs each one in its own worker process.

``enqueue_job`` turns a job spec into a QUEUED run that carries its spec as the artifact
``job.toml``; ``JobQueue`` starts workers for queued runs as slots free up, hands out their
output lines and end states as events from ``poll()``, and cancels runs by ending their process
tree. It is plain Python: the GUI polls it on a timer, the command line in a loop.
"""

from __future__ import annotations

import enum
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import IO, TYPE_CHECKING

from desktop_app.errors import ConflictError, InvalidValueError, NotFoundError
from desktop_app.registry import Registry, RunStatus
from desktop_app.training import launch

if TYPE_CHECKING:
    from desktop_app.training.spec import JobSpec

JOB_ARTIFACT = "job.toml"
OUTPUT_ARTIFACT = "logs/output.txt"
TAG_BASE_DIR = "job_base_dir"
TAG_KIND = "job_kind"
TAG_WORKSPACE = "job_workspace"
TAG_FILE = "job_file"
TAG_RERUN_OF = "rerun_of"
TAG_QUEUED_BY = "queued_by"
CANCEL_REASON = "cancelled by user"
KILL_GRACE_S = 1.0
# After a worker exits, wait this long for its pipes to close (a stray grandchild may hold them).
_PIPE_GRACE_S = 2.0
_MAX_LINE_BYTES = 65536
_STDERR_TAIL_LINES = 20
_KEPT_OUTPUT_LINES = 20000
_PROGRESS = re.compile(r"PROGRESS (\d+)/(\d+)(?: (.*))?")
# Spare workers that die before they are used this many times (a broken install) stop coming.
_MAX_SPARE_FAILURES = 3


def default_max_workers() -> int:
    """One worker per CPU core, leaving one core for the app (at least one worker)."""
    return max(1, (os.cpu_count() or 2) - 1)


# ---- queued runs -----------------------------------------------------------------------------


def job_kind(spec: JobSpec) -> str:
    """``script`` for a job that runs the user's script, else ``sklearn``."""
    return "script" if spec.script else "sklearn"


def enqueue_job(
    registry: Registry,
    spec_path_or_spec: str | os.PathLike[str] | JobSpec,
    *,
    workspace: str | os.PathLike[str] | None = None,
    parent_id: str | None = None,
    name: str | None = None,
    experiment: str | None = None,
) -> str:
    """Validate a job and create its QUEUED run (spec stored as ``job.toml``); return its id.

    An invalid job raises ``JobSpecError`` listing every problem, and nothing is created.
    """
    from desktop_app.training.spec import dump_job, load_job

    source = ""
    if isinstance(spec_path_or_spec, str | os.PathLike):
        path = Path(spec_path_or_spec).expanduser().resolve()
        spec = load_job(path)
        source = str(path)
    else:
        spec = spec_path_or_spec
    if experiment:
        spec = replace(spec, experiment=experiment)
    _check_job(spec)
    tags = {TAG_BASE_DIR: str(Path(spec.base_dir).resolve()), TAG_KIND: job_kind(spec)}
    if workspace is not None:
        tags[TAG_WORKSPACE] = str(Path(workspace).expanduser().resolve())
    if source:
        tags[TAG_FILE] = source
    return _create_queued(
        registry,
        dump_job(spec),
        experiment=spec.experiment,
        name=name or spec.name,
        parent_id=parent_id,
        source=source or "job",
        tags=tags,
    )


def rerun(registry: Registry, run_id: str) -> str:
    """Queue a new run from an earlier run's ``job.toml`` and job tags; return the new id.

    The new run stands on its own (a re-run of a sweep trial is not another trial).
    """
    from desktop_app.training.spec import parse_job

    old = registry.get_run(run_id)
    text = read_job_text(registry, old.id)
    base_dir = old.tags.get(TAG_BASE_DIR)
    if not base_dir:
        raise InvalidValueError(f"Run {old.id} has no {TAG_BASE_DIR!r} tag: it was not a job.")
    _check_job(parse_job(text, Path(base_dir)))
    keep = (TAG_BASE_DIR, TAG_KIND, TAG_WORKSPACE, TAG_FILE)
    tags = {key: old.tags[key] for key in keep if key in old.tags}
    tags[TAG_RERUN_OF] = old.id
    return _create_queued(
        registry,
        text,
        experiment=old.experiment_name,
        name=f"{old.name} (re-run)",
        parent_id=None,
        source=old.source,
        tags=tags,
    )


def read_job_text(registry: Registry, run_id: str) -> str:
    """The job spec (TOML text) a run was queued with."""
    try:
        artifact = registry.get_artifact(run_id, JOB_ARTIFACT)
    except NotFoundError:
        raise NotFoundError(f"Run {run_id} has no {JOB_ARTIFACT}: it was not a job.") from None
    return registry.artifacts.read_bytes(artifact.sha256).decode("utf-8")


def _check_job(spec: JobSpec) -> None:
    from desktop_app.training.spec import JobSpecError, validate_job

    problems = validate_job(spec)
    if problems:
        raise JobSpecError(
            "The job is not valid: " + "; ".join(problems), detail="\n".join(problems)
        )


def _create_queued(
    registry: Registry,
    job_text: str,
    *,
    experiment: str,
    name: str | None,
    parent_id: str | None,
    source: str,
    tags: dict[str, str],
) -> str:
    run = registry.create_run(
        experiment,
        name=name,
        status=RunStatus.QUEUED,
        parent_id=parent_id,
        source=source,
        tags=tags,
    )
    try:
        registry.log_artifact_bytes(run.id, job_text.encode("utf-8"), JOB_ARTIFACT, kind="job")
    except BaseException as exc:
        registry.set_run_status(run.id, RunStatus.FAILED, f"The job could not be stored: {exc}")
        raise
    return run.id


def orphaned_queued_runs(registry: Registry) -> list[str]:
    """QUEUED job runs of this host that nothing will start any more, oldest first.

    That is: the queue that held the run (its ``queued_by`` process) is gone, and so is the
    worker recorded on it, if any — the app quit leaving jobs waiting "for next time", or
    crashed. Sweep trials are left out: resuming the sweep deals with them.
    """
    from desktop_app.registry.liveness import pid_alive

    rows = (
        registry.db.connection()
        .execute(
            "SELECT r.id, r.host, r.pid, r.pid_started, owner.value FROM runs r "
            "JOIN tags kind ON kind.run_id = r.id AND kind.key = ? "
            "LEFT JOIN tags owner ON owner.run_id = r.id AND owner.key = ? "
            "WHERE r.status = 'QUEUED' AND r.parent_id IS NULL AND r.lifecycle = 'active' "
            "ORDER BY r.created_at",
            (TAG_KIND, TAG_QUEUED_BY),
        )
        .fetchall()
    )
    orphans = []
    for run_id, host, pid, pid_started, owner in rows:
        owner_host, owner_pid, owner_started = _parse_owner(owner)
        if owner_pid is None and pid is None:
            continue  # queued by something that has not handed it to a queue yet
        if owner_pid is not None and (
            owner_host != registry.host or pid_alive(owner_pid, owner_started)
        ):
            continue
        if pid is not None and (host != registry.host or pid_alive(pid, pid_started)):
            continue
        orphans.append(run_id)
    return orphans


def _owner_stamp(registry: Registry) -> str:
    """``host/pid/start time`` of this process, as kept on the runs it queues."""
    from desktop_app.registry.liveness import process_start_time

    pid = os.getpid()
    return f"{registry.host}/{pid}/{process_start_time(pid) or 0.0:.3f}"


def _parse_owner(stamp: str | None) -> tuple[str, int | None, float | None]:
    if not stamp:
        return "", None, None
    host, _, rest = stamp.rpartition("/")
    host, _, pid = host.rpartition("/")
    try:
        return host, int(pid), float(rest) or None
    except ValueError:
        return "", None, None


def cancel_run(registry: Registry, run_id: str, *, grace: float = KILL_GRACE_S) -> RunStatus:
    """Cancel a run queued or running anywhere on this host; return the status it had.

    Its process (the pid recorded on the run) is ended with its children, then the run is
    marked KILLED. A run that already ended, or runs on another host, is refused.
    """
    run = registry.get_run(run_id)
    if run.status.is_terminal:
        raise ConflictError(f"Run {run.id} has already ended ({run.status}).")
    host, pid, started = _recorded_process(registry, run.id)
    if pid is not None and host == registry.host:
        launch.end_process_tree(pid, grace=grace, started=started)
    elif run.status == RunStatus.RUNNING and pid is not None:
        raise ConflictError(f"Run {run.id} runs on host {host!r}; cancel it there.")
    _mark_cancelled(registry, run.id)
    return run.status


def _recorded_process(registry: Registry, run_id: str) -> tuple[str, int | None, float | None]:
    row = (
        registry.db.connection()
        .execute("SELECT host, pid, pid_started FROM runs WHERE id = ?", (run_id,))
        .fetchone()
    )
    return (row[0] or "", row[1], row[2]) if row else ("", None, None)


def _mark_cancelled(registry: Registry, run_id: str) -> None:
    """Mark a run KILLED, unless it managed to finish before its process was ended."""
    if registry.get_run(run_id).status != RunStatus.FINISHED:
        registry.set_run_status(run_id, RunStatus.KILLED, CANCEL_REASON)


# ---- the scheduler ---------------------------------------------------------------------------


class QueueEventKind(enum.StrEnum):
    """What a queue event reports."""

    STARTED = "started"
    OUTPUT = "output"
    PROGRESS = "progress"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"


_END_KINDS = {
    RunStatus.FINISHED: QueueEventKind.FINISHED,
    RunStatus.FAILED: QueueEventKind.FAILED,
    RunStatus.KILLED: QueueEventKind.KILLED,
}


@dataclass(frozen=True)
class QueueEvent:
    """One thing that happened to a queued run.

    ``text`` is the output line (OUTPUT, with ``stream`` "stdout" or "stderr"), the progress
    message (PROGRESS, with ``done`` of ``total``) or the run's status reason (end events,
    with the worker's ``exit_code`` when it is known).
    """

    kind: QueueEventKind
    run_id: str
    text: str = ""
    stream: str = ""
    done: int = 0
    total: int = 0
    exit_code: int | None = None

    @property
    def is_end(self) -> bool:
        """Whether the run ended with this event."""
        return self.kind in (
            QueueEventKind.FINISHED,
            QueueEventKind.FAILED,
            QueueEventKind.KILLED,
        )


@dataclass
class _Job:
    """A started worker and what the queue has read from it."""

    run_id: str
    process: subprocess.Popen[bytes]
    threads: list[threading.Thread] = field(default_factory=list)
    open_streams: int = 2
    exited_at: float | None = None
    detached: bool = False
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=_STDERR_TAIL_LINES))
    output: deque[str] = field(default_factory=lambda: deque(maxlen=_KEPT_OUTPUT_LINES))


class JobQueue:
    """Runs queued runs in worker processes, at most ``max_workers`` at a time.

    Call ``poll()`` regularly (it never blocks): it starts waiting runs when slots are free,
    reaps finished workers and returns what happened since the last call. ``cancel`` blocks
    for at most about twice ``kill_grace`` seconds. Methods may be called from any thread.

    With ``warm_workers`` the queue keeps that many spare workers started ``warm_after``
    seconds after it was made: each has already imported scikit-learn and the training code
    and waits for a run id on its stdin, so a run handed to one logs its first metric within
    a fraction of a second instead of after the 2-3 s a cold Python start takes. A spare runs
    one run only, as a cold worker does, so runs stay isolated from each other.
    """

    def __init__(
        self,
        registry: Registry,
        max_workers: int | None = None,
        *,
        kill_grace: float = KILL_GRACE_S,
        warm_workers: int = 0,
        warm_after: float = 0.0,
    ) -> None:
        self.registry = registry
        self.max_workers = max(1, max_workers or default_max_workers())
        self.kill_grace = kill_grace
        self.warm_workers = max(0, warm_workers)
        self._warm_from = time.monotonic() + warm_after
        self._spares: list[subprocess.Popen[bytes]] = []
        self._spare_failures = 0
        self._waiting: list[str] = []
        self._running: dict[str, _Job] = {}
        self._ending: dict[str, _Job] = {}
        self._lines: SimpleQueue[tuple[_Job, str, str | None]] = SimpleQueue()
        self._pending: list[QueueEvent] = []
        self._lock = threading.RLock()
        self._closed = False

    # ---- the waiting list --------------------------------------------------------------------

    def submit(self, run_id: str) -> None:
        """Add a QUEUED run to the end of the waiting list (it starts at a later ``poll``)."""
        with self._lock:
            if self._closed:
                raise ConflictError("The job queue has been shut down.")
            run = self.registry.get_run(run_id)
            if run.id in self._waiting or run.id in self._running:
                raise ConflictError(f"Run {run.id} is already in the queue.")
            if run.status != RunStatus.QUEUED:
                raise ConflictError(f"Run {run.id} is {run.status}, not QUEUED.")
            # Who holds the run: a run whose queue is gone can be found and started again.
            self.registry.set_tags(run.id, {TAG_QUEUED_BY: _owner_stamp(self.registry)})
            self._waiting.append(run.id)

    def move(self, run_id: str, position: int) -> None:
        """Move a waiting run to ``position`` (0 = next to start) in the waiting list."""
        with self._lock:
            if run_id not in self._waiting:
                raise NotFoundError(f"Run {run_id} is not waiting in the queue.")
            self._waiting.remove(run_id)
            self._waiting.insert(max(0, min(position, len(self._waiting))), run_id)

    def waiting(self) -> list[str]:
        """Ids of the runs waiting to start, next first."""
        with self._lock:
            return list(self._waiting)

    def running(self) -> list[str]:
        """Ids of the runs whose worker is running, oldest first."""
        with self._lock:
            return list(self._running)

    def is_idle(self) -> bool:
        """Whether nothing waits, runs or still has output to hand out."""
        with self._lock:
            return not (self._waiting or self._running or self._ending or self._pending)

    # ---- cancelling --------------------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        """Cancel a run: a waiting one never starts, a running one has its process tree ended.

        Either way the run becomes KILLED "cancelled by user"; what it logged is kept. A run
        this queue does not hold is cancelled through the pid recorded on it. The queue stays
        usable from other threads while the processes are being ended.
        """
        with self._lock:
            run_id = self.registry.resolve_run_id(run_id)
            if run_id in self._waiting:
                self._waiting.remove(run_id)
                if not self.registry.get_run(run_id).status.is_terminal:
                    cancel_run(self.registry, run_id, grace=self.kill_grace)
                self._pending.append(self._end_event(run_id, None))
                return
            job = self._running.pop(run_id, None)
            if job is not None:
                self._ending[run_id] = job
        if job is None:
            cancel_run(self.registry, run_id, grace=self.kill_grace)
            with self._lock:
                self._pending.append(self._end_event(run_id, None))
            return
        launch.end_process_tree(job.process.pid, grace=self.kill_grace)
        try:
            code: int | None = job.process.wait(timeout=self.kill_grace)
        except subprocess.TimeoutExpired:
            code = None
        _mark_cancelled(self.registry, run_id)
        for thread in job.threads:
            thread.join(timeout=0.5)
        with self._lock:
            self._pending.extend(self._drain_lines())
            if run_id in self._ending:
                # A stray process still holds the pipes: stop listening to it.
                job.detached = True
                del self._ending[run_id]
            self._pending.append(self._end_event(run_id, code))

    def shutdown(self, cancel: bool) -> list[QueueEvent]:
        """Stop the queue; return the events not yet handed out.

        With ``cancel`` every waiting and running run is cancelled. Without it, running workers
        are left to finish on their own (they end their runs themselves) and waiting runs stay
        QUEUED in the registry for a later queue.
        """
        with self._lock:
            self._closed = True
            if cancel:
                for run_id in [*self._waiting, *self._running]:
                    self.cancel(run_id)
            else:
                self._waiting.clear()
                for job in [*self._running.values(), *self._ending.values()]:
                    job.detached = True
                self._running.clear()
                self._ending.clear()
            for spare in self._spares:
                _dismiss(spare)
            self._spares.clear()
            events = self._drain_lines()
            self._pending, events = [], [*self._pending, *events]
            return events

    def set_warm_workers(self, count: int) -> None:
        """Keep ``count`` spare workers from now on (extra spares are let go at once)."""
        with self._lock:
            self.warm_workers = max(0, count)
            self._spare_failures = 0
            while len(self._spares) > self.warm_workers:
                _dismiss(self._spares.pop())

    def spares(self) -> list[int]:
        """Process ids of the spare workers waiting for a run."""
        with self._lock:
            return [spare.pid for spare in self._spares if spare.poll() is None]

    # ---- polling -----------------------------------------------------------------------------

    def poll(self) -> list[QueueEvent]:
        """Start what can start, reap what ended; return the events since the last call."""
        with self._lock:
            events, self._pending = self._pending, []
            events.extend(self._drain_lines())
            now = time.monotonic()
            for job in list(self._running.values()):
                if job.process.poll() is None:
                    continue
                if job.exited_at is None:
                    job.exited_at = now
                if job.open_streams and now - job.exited_at < _PIPE_GRACE_S:
                    continue
                del self._running[job.run_id]
                events.append(self._reap(job))
            if not self._closed:
                while self._waiting and len(self._running) < self.max_workers:
                    events.extend(self._start(self._waiting.pop(0)))
                self._keep_spares(now)
            return events

    def _keep_spares(self, now: float) -> None:
        """Replace spares that were used or died, up to ``warm_workers``."""
        if not self.warm_workers or now < self._warm_from:
            return
        alive = []
        for spare in self._spares:
            if spare.poll() is None:
                alive.append(spare)
            else:
                self._spare_failures += 1
                _dismiss(spare)
        self._spares = alive
        while len(self._spares) < self.warm_workers:
            if self._spare_failures >= _MAX_SPARE_FAILURES:
                return
            try:
                spare = subprocess.Popen(
                    launch.standby_worker_command(self.registry.root),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=launch.worker_environment(),
                    **launch.new_session_options(),
                )
            except OSError:
                self._spare_failures = _MAX_SPARE_FAILURES
                return
            self._spares.append(spare)

    def _take_spare(self, run_id: str) -> subprocess.Popen[bytes] | None:
        """Hand the run to a waiting spare worker; None when there is none alive."""
        while self._spares:
            spare = self._spares.pop(0)
            if spare.poll() is None and spare.stdin is not None:
                try:
                    spare.stdin.write(f"{run_id}\n".encode())
                    spare.stdin.close()
                    return spare
                except OSError:
                    pass
            _dismiss(spare)
        return None

    def _start(self, run_id: str) -> list[QueueEvent]:
        try:
            run = self.registry.get_run(run_id)
        except NotFoundError:
            return []
        if run.status != RunStatus.QUEUED:
            # Cancelled (or taken) by another process while it waited here.
            return [self._end_event(run_id, None)] if run.status.is_terminal else []
        process = self._take_spare(run_id)
        if process is None:
            try:
                process = subprocess.Popen(
                    launch.worker_command(self.registry.root, run_id),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=launch.worker_environment(),
                    **launch.new_session_options(),
                )
            except OSError as exc:
                reason = f"The worker process could not be started: {exc}"
                self.registry.set_run_status(run_id, RunStatus.FAILED, reason)
                return [QueueEvent(QueueEventKind.FAILED, run_id, reason)]
        self.registry.set_run_process(run_id, process.pid)
        job = _Job(run_id, process)
        for stream, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            assert pipe is not None
            thread = threading.Thread(
                target=self._read_pipe,
                args=(job, stream, pipe),
                name=f"modeldesk-queue-{stream}-{run_id}",
                daemon=True,
            )
            thread.start()
            job.threads.append(thread)
        self._running[run_id] = job
        return [QueueEvent(QueueEventKind.STARTED, run_id)]

    def _read_pipe(self, job: _Job, stream: str, pipe: IO[bytes]) -> None:
        """Hand every line of one pipe to the queue (runs in its own thread)."""
        try:
            for raw in iter(lambda: pipe.readline(_MAX_LINE_BYTES), b""):
                if not job.detached:
                    self._lines.put((job, stream, raw.decode("utf-8", "replace").rstrip("\r\n")))
        except (OSError, ValueError):
            pass
        finally:
            self._lines.put((job, stream, None))
            pipe.close()

    def _drain_lines(self) -> list[QueueEvent]:
        events: list[QueueEvent] = []
        while True:
            try:
                job, stream, line = self._lines.get_nowait()
            except Empty:
                break
            if line is None:
                job.open_streams -= 1
                if not job.open_streams:
                    self._ending.pop(job.run_id, None)
                continue
            if job.detached:
                continue
            match = _PROGRESS.fullmatch(line) if stream == "stdout" else None
            if match:
                done, total, message = match.groups()
                events.append(
                    QueueEvent(
                        QueueEventKind.PROGRESS,
                        job.run_id,
                        message or "",
                        stream,
                        done=int(done),
                        total=int(total),
                    )
                )
                continue
            job.output.append(line)
            if stream == "stderr":
                job.stderr_tail.append(line)
            events.append(QueueEvent(QueueEventKind.OUTPUT, job.run_id, line, stream))
        return events

    def _reap(self, job: _Job) -> QueueEvent:
        """The end event of a worker that exited; a run it left open is marked FAILED."""
        code = job.process.returncode
        try:
            run = self.registry.get_run(job.run_id)
        except NotFoundError:
            return QueueEvent(
                QueueEventKind.FAILED, job.run_id, "The run was deleted.", exit_code=code
            )
        if run.status.is_terminal:
            return self._end_event(job.run_id, code)
        reason = _crash_reason(code, list(job.stderr_tail))
        if not any(a.path == OUTPUT_ARTIFACT for a in self.registry.list_artifacts(job.run_id)):
            text = "".join(f"{line}\n" for line in job.output)
            self.registry.log_artifact_bytes(job.run_id, text.encode("utf-8"), OUTPUT_ARTIFACT)
        self.registry.set_run_status(job.run_id, RunStatus.FAILED, reason)
        return QueueEvent(QueueEventKind.FAILED, job.run_id, reason, exit_code=code)

    def _end_event(self, run_id: str, code: int | None) -> QueueEvent:
        run = self.registry.get_run(run_id)
        kind = _END_KINDS.get(run.status, QueueEventKind.FAILED)
        return QueueEvent(kind, run_id, run.status_reason or "", exit_code=code)


def _dismiss(spare: subprocess.Popen[bytes]) -> None:
    """Let a spare worker go: end it if it still runs, reap it and close its pipes."""
    if spare.poll() is None:
        spare.terminate()
        try:
            spare.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            spare.kill()
            spare.wait()
    for pipe in (spare.stdin, spare.stdout, spare.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _crash_reason(code: int | None, stderr_tail: Sequence[str]) -> str:
    if code is not None and code < 0:
        try:
            how = f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    reason = f"The worker process {how} without ending the run."
    tail = "\n".join(line for line in stderr_tail if line.strip())
    return f"{reason}\n\n{tail}" if tail else reason
