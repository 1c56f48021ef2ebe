"""The training worker: one process per run, started by the queue for one QUEUED run.

The worker marks the run RUNNING with its own pid, snapshots the code, loads the job from the
run's ``job.toml`` and fits it (or runs the user's script as a child process), writing metrics
straight into the registry. SIGTERM or SIGINT asks the job to stop; the run then ends KILLED.
Everything printed is passed through to the parent and kept as the artifact
``logs/output.txt``, written by the worker itself so a crash of the parent loses nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, TextIO

from desktop_app.errors import AppError
from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.training import launch
from desktop_app.training.queue import (
    OUTPUT_ARTIFACT,
    TAG_BASE_DIR,
    TAG_WORKSPACE,
    read_job_text,
)

if TYPE_CHECKING:
    from desktop_app.registry.tracking import ActiveRun
    from desktop_app.training.spec import JobSpec

ENV_RUN_ID = "MODELDESK_RUN_ID"
ENV_EXPERIMENT = "MODELDESK_EXPERIMENT"
ENV_WORKSPACE = "MODELDESK_WORKSPACE"
EXIT_CODES = {RunStatus.FINISHED: 0, RunStatus.FAILED: 1, RunStatus.KILLED: 2}
STOPPED_REASON = "stopped on request"
_OUTPUT_LIMIT_CHARS = 4_000_000
_SCRIPT_STDERR_TAIL = 20


class OutputCapture:
    """Text printed by the worker, kept in memory up to a limit (the oldest text goes first)."""

    def __init__(self, limit_chars: int = _OUTPUT_LIMIT_CHARS) -> None:
        self.limit_chars = limit_chars
        self._chunks: deque[str] = deque()
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        """Keep a piece of output."""
        with self._lock:
            self._chunks.append(text)
            self._size += len(text)
            while self._size > self.limit_chars and len(self._chunks) > 1:
                old = self._chunks.popleft()
                self._size -= len(old)
                self._dropped += len(old)

    def text(self) -> str:
        """Everything kept, with a note when the start was dropped."""
        with self._lock:
            body = "".join(self._chunks)
            dropped = self._dropped
        return f"[... {dropped:,} characters dropped ...]\n{body}" if dropped else body


class TeeStream:
    """A text stream that writes through to the real one (flushed per line) and captures.

    A closed or broken real stream (the parent went away) is tolerated: capture goes on.
    """

    def __init__(self, real: TextIO, capture: OutputCapture) -> None:
        self.real = real
        self.capture = capture
        self._broken = False
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Capture the text and pass it on."""
        self.capture.add(text)
        self._forward(text)
        return len(text)

    def write_protocol(self, line: str) -> None:
        """Pass one line to the parent without keeping it in the output artifact."""
        self._forward(line + "\n")

    def _forward(self, text: str) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                self.real.write(text)
                if "\n" in text:
                    self.real.flush()
            except (OSError, ValueError):
                self._broken = True

    def flush(self) -> None:
        """Flush the real stream."""
        with self._lock:
            if self._broken:
                return
            try:
                self.real.flush()
            except (OSError, ValueError):
                self._broken = True

    def writable(self) -> bool:
        """Always true."""
        return True

    def isatty(self) -> bool:
        """Never a terminal (the output goes to a pipe and a file)."""
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class RunReporter:
    """The ``Reporter`` that ``train()`` talks to: the run's tracking API plus progress and stop."""

    def __init__(self, run: ActiveRun, stop: threading.Event, out: TeeStream | None = None):
        self.run = run
        self.stop = stop
        self.out = out

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one metric value."""
        self.run.log_metric(key, value, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metric values at one step."""
        self.run.log_metrics(metrics, step)

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record params."""
        self.run.log_params(params)

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set tags."""
        self.run.set_tags(tags)

    def log_text(self, text: str, artifact_path: str) -> None:
        """Store a text artifact."""
        self.run.log_text(text, artifact_path)

    def log_model(self, estimator: Any, name: str = "model") -> None:
        """Store a fitted model."""
        self.run.log_model(estimator, name)

    def log_dataset(self, source: Any, name: str = "", role: str = "training") -> None:
        """Record a dataset the run used."""
        self.run.log_dataset(source, name=name, role=role)

    def progress(self, done: int, total: int, message: str) -> None:
        """Log the metric ``progress`` (a fraction) and tell the parent with a PROGRESS line."""
        self.run.log_metric("progress", done / total if total else 0.0, step=done)
        line = f"PROGRESS {done}/{total} {' '.join(message.split())}".rstrip()
        if self.out is not None:
            self.out.write_protocol(line)
        else:
            print(line, flush=True)

    def should_stop(self) -> bool:
        """Whether the worker was asked to stop (SIGTERM or SIGINT)."""
        return self.stop.is_set()


# ---- the worker's life -----------------------------------------------------------------------

# What nearly every job imports before its first metric (about 2 s of a cold worker's start):
# a standby worker imports them while it waits for a run.
PRELOADED_MODULES = (
    "numpy",
    "pandas",
    "git",
    "skops.io",
    "sklearn.base",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.inspection",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "desktop_app.registry.tracking",
    "desktop_app.training.catalog",
    "desktop_app.training.data",
    "desktop_app.training.evaluation",
    "desktop_app.training.pipeline",
    "desktop_app.training.spec",
    "desktop_app.training.train",
    "desktop_app.versioning.run_code",
)


def standby(registry_path: str | os.PathLike[str]) -> int:
    """Wait as a warm spare worker: import what jobs need, then run the run id read from stdin.

    The queue writes one run id line when it hands this process a run; an empty line or the
    end of stdin (the queue let the spare go, or its process died) ends it quietly.
    """
    import importlib

    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the job that needs it reports the problem where the user sees it
    try:
        run_id = sys.stdin.readline().strip()
    except (OSError, ValueError, KeyboardInterrupt):
        return 0
    if not run_id:
        return 0
    return main(registry_path, run_id)


def main(registry_path: str | os.PathLike[str], run_id: str) -> int:
    """Run one queued run to its end in this process; return the exit code (0 = FINISHED)."""
    capture = OutputCapture()
    real_out, real_err = sys.stdout, sys.stderr
    out, err = TeeStream(real_out, capture), TeeStream(real_err, capture)
    sys.stdout, sys.stderr = out, err
    stop = threading.Event()
    handlers = _install_stop_handlers(stop)
    saved_env = {k: os.environ.get(k) for k in (ENV_RUN_ID, launch.ENV_REGISTRY)}
    try:
        return _work(Path(registry_path), run_id, capture, out, stop)
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = real_out, real_err
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _work(
    registry_path: Path, run_id: str, capture: OutputCapture, out: TeeStream, stop: threading.Event
) -> int:
    try:
        registry = Registry(registry_path, create=False)
    except AppError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_CODES[RunStatus.FAILED]
    try:
        try:
            run = registry.get_run(run_id)
        except AppError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return EXIT_CODES[RunStatus.FAILED]
        if run.status != RunStatus.QUEUED:
            print(f"Run {run.id} is {run.status}, not QUEUED: nothing to do.", file=sys.stderr)
            return 0 if run.status.is_terminal else EXIT_CODES[RunStatus.FAILED]
        return _run(registry, run, capture, out, stop)
    finally:
        registry.close()


def _run(
    registry: Registry, run: Run, capture: OutputCapture, out: TeeStream, stop: threading.Event
) -> int:
    pid = os.getpid()
    os.environ[ENV_RUN_ID] = run.id
    os.environ[launch.ENV_REGISTRY] = str(registry.root)
    registry.set_run_status(run.id, RunStatus.RUNNING)
    if run.pid != pid:
        registry.set_run_process(run.id, pid)
    registry.set_tags(run.id, {"worker_pid": pid})
    print(f"Run {run.id} ({run.name}) started in worker process {pid}.", flush=True)
    started = time.monotonic()
    try:
        status, reason = _run_job(registry, run, out, stop)
    except KeyboardInterrupt:
        status, reason = RunStatus.KILLED, STOPPED_REASON
    except AppError as exc:
        status, reason = RunStatus.FAILED, exc.message + (f"\n\n{exc.detail}" if exc.detail else "")
        print(f"Error: {exc.message}", file=sys.stderr)
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        status, reason = RunStatus.FAILED, f"{message}\n\n{traceback.format_exc()}"[:20000]
        traceback.print_exc()
    summary = f"Run {run.id} {status} after {time.monotonic() - started:.1f} s"
    print(summary + (f": {reason.splitlines()[0]}" if reason else "."), flush=True)
    try:
        registry.log_artifact_bytes(run.id, capture.text().encode("utf-8"), OUTPUT_ARTIFACT)
    except Exception as exc:  # the run's end matters more than its log
        print(f"Could not store the output: {exc}", file=sys.stderr)
    registry.set_run_status(run.id, status, reason)
    return EXIT_CODES[status]


def _run_job(
    registry: Registry, run: Run, out: TeeStream, stop: threading.Event
) -> tuple[RunStatus, str]:
    from desktop_app.training.spec import parse_job
    from desktop_app.versioning.run_code import record_run_code

    base_dir = Path(run.tags.get(TAG_BASE_DIR) or ".")
    workspace = Path(run.tags.get(TAG_WORKSPACE) or base_dir)
    record_run_code(registry, run.id, workspace)
    spec = parse_job(read_job_text(registry, run.id), base_dir)
    if spec.script:
        return _run_script(registry, run, spec, workspace, stop)
    return _run_training(registry, spec, out, stop)


def _run_training(
    registry: Registry, spec: JobSpec, out: TeeStream, stop: threading.Event
) -> tuple[RunStatus, str]:
    from desktop_app.registry.tracking import start_run
    from desktop_app.training.train import TrainingStopped, train

    active = start_run(registry=registry)  # attaches to the run through $MODELDESK_RUN_ID
    try:
        result = train(spec, RunReporter(active, stop, out))
    except TrainingStopped:
        return RunStatus.KILLED, STOPPED_REASON
    finally:
        active.end()
    for key, value in sorted(result.metrics.items()):
        print(f"{key} = {value:.6g}")
    print(f"Fitted on {result.n_rows:,} rows in {result.fit_seconds:.2f} s.", flush=True)
    return RunStatus.FINISHED, ""


def _run_script(
    registry: Registry, run: Run, spec: JobSpec, workspace: Path, stop: threading.Event
) -> tuple[RunStatus, str]:
    """Run the user's script as a child process attached to the run; pass its output on."""
    import subprocess

    from desktop_app.errors import NotFoundError

    assert spec.script is not None
    script = spec.resolve_path(spec.script)
    if not script.is_file():
        raise NotFoundError(f"The job's script {script} does not exist.")
    env = launch.worker_environment(
        {
            ENV_RUN_ID: run.id,
            launch.ENV_REGISTRY: str(registry.root),
            ENV_EXPERIMENT: run.experiment_name,
            ENV_WORKSPACE: str(workspace),
        }
    )
    process = subprocess.Popen(
        launch.script_command(script),
        cwd=spec.base_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tail: deque[str] = deque(maxlen=_SCRIPT_STDERR_TAIL)
    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=_pass_on, args=(process.stdout, "stdout", None), daemon=True),
        threading.Thread(target=_pass_on, args=(process.stderr, "stderr", tail), daemon=True),
    ]
    for thread in threads:
        thread.start()
    while process.poll() is None:
        if stop.wait(0.1):
            launch.end_process_tree(process.pid, grace=1.0)
            break
    code = process.wait()
    for thread in threads:
        thread.join(timeout=2.0)
    if stop.is_set():
        return RunStatus.KILLED, STOPPED_REASON
    if code == 0:
        return RunStatus.FINISHED, ""
    return RunStatus.FAILED, _script_failure(script.name, code, list(tail))


def _pass_on(pipe: IO[bytes], stream: str, tail: deque[str] | None) -> None:
    """Copy a child's output line by line to this process's stream of the same name."""
    try:
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", "replace")
            if tail is not None:
                tail.append(text.rstrip("\r\n"))
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(text if text.endswith("\n") else text + "\n")
    except (OSError, ValueError):
        pass
    finally:
        pipe.close()


def _script_failure(name: str, code: int, stderr_tail: list[str]) -> str:
    """A reason whose first line is the script's error (the last line it wrote to stderr)."""
    lines = [line for line in stderr_tail if line.strip()]
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    head = f"The script {name} {how}."
    if not lines:
        return head
    return f"{lines[-1].strip()}\n\n{head}\n\n" + "\n".join(lines)


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    """Make SIGTERM and SIGINT set ``stop`` (and flush logged metrics at once)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=_flush_active_run, daemon=True).start()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, on_signal)
    return previous


def _flush_active_run() -> None:
    """Write buffered metric points now: the process may be killed after a short grace."""
    from desktop_app.registry.tracking import active_run

    run = active_run()
    if run is not None:
        try:
            run.flush()
        except Exception:
            pass
