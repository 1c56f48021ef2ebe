"""The tracking API for user scripts: ``with tracking.start_run(...) as run: run.log_metric(...)``.

Metric points are buffered in memory and written in batches (when the buffer fills, every
second from a background thread, and when the run ends or the interpreter exits), so a call
to ``log_metric`` costs microseconds. Params, tags and artifacts are written at once, so a
conflict is reported where it happens.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from desktop_app.errors import ConflictError
from desktop_app.registry.datasets import Dataset
from desktop_app.registry.entities import Artifact, MetricPoint, Run, RunStatus
from desktop_app.registry.liveness import HEARTBEAT_INTERVAL_S
from desktop_app.registry.store import DEFAULT_EXPERIMENT, Registry, open_registry
from desktop_app.registry.validation import check_key, check_metric_value, check_step

ENV_RUN_ID = "MODELDESK_RUN_ID"
ENV_EXPERIMENT = "MODELDESK_EXPERIMENT"
FLUSH_EVERY_POINTS = 5000
FLUSH_EVERY_S = 1.0
_FIRST_FLUSH_DELAY_S = 0.02
_TERMINATED_EXIT_CODE = 128 + signal.SIGTERM


class ActiveRun:
    """A run being logged by this process; use it as a context manager."""

    def __init__(
        self,
        registry: Registry,
        run_id: str,
        *,
        owned: bool,
        close_registry: bool,
        run: Run | None = None,
    ):
        self.registry = registry
        self.id = run_id
        run = run or registry.get_run(run_id)
        self.name = run.name
        self.experiment = run.experiment_name
        self.parent_id = run.parent_id
        self._owned = owned
        self._close_registry = close_registry
        self._buffer: list[MetricPoint] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._next_step: dict[str, int] = {}
        self._checked_keys: set[str] = set()
        self._params: dict[str, str] = dict(run.params)
        self.ended = False
        self.last_flush_error: BaseException | None = None
        # The first point is written at once so a watcher sees the run come alive; later ones
        # are batched (every FLUSH_EVERY_S) to keep logging cheap.
        self._first_point_sent = False

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self.name!r} in {self.experiment!r}>"

    # ---- metrics -----------------------------------------------------------------------------

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one value of a metric; ``step`` defaults to the metric's next step."""
        if key not in self._checked_keys:
            check_key(key, "Metric")
            self._checked_keys.add(key)
        number = value if type(value) is float else check_metric_value(key, value)
        if step is not None and type(step) is not int:
            step = check_step(key, step)
        with self._lock:
            if step is None:
                step = self._next_step.get(key, 0)
            self._next_step[key] = step + 1
            self._buffer.append(
                (key, number, step, time.time() if timestamp is None else timestamp)
            )
            full = len(self._buffer) >= FLUSH_EVERY_POINTS
            first = not self._first_point_sent
            self._first_point_sent = True
        if full:
            self.flush()
        elif first:
            _state.wake.set()

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record several metrics at the same step."""
        stamp = time.time() if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(key, value, step=step, timestamp=stamp)

    def flush(self) -> None:
        """Write buffered metric points now."""
        with self._flush_lock:
            with self._lock:
                points, self._buffer = self._buffer, []
            if not points:
                return
            try:
                self.registry.log_batch(self.id, metrics=points, validated=True)
            except BaseException:
                # Keep the points for the next attempt, which reports the error where it runs.
                with self._lock:
                    self._buffer[:0] = points
                raise

    # ---- params, tags, notes, artifacts ------------------------------------------------------

    def log_param(self, key: str, value: object) -> None:
        """Record one param."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record params; logging one again with a different value is an error."""
        for key, value in params.items():
            text = value if isinstance(value, str) else str(value)
            if key in self._params and self._params[key] != text:
                raise ConflictError(
                    f"Param {key!r} of run {self.id} is already {self._params[key]!r}; it cannot "
                    f"change to {text!r}. Params are fixed once logged."
                )
        self.registry.log_params(self.id, params)
        self._params.update({k: v if isinstance(v, str) else str(v) for k, v in params.items()})

    def set_tag(self, key: str, value: object) -> None:
        """Set one tag (tags may change)."""
        self.registry.set_tags(self.id, {key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set several tags."""
        self.registry.set_tags(self.id, tags)

    def set_note(self, note: str) -> None:
        """Replace the run's free-text note."""
        self.registry.set_note(self.id, note)

    def log_artifact(
        self, path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> Artifact:
        """Copy a file into the registry as an artifact of this run."""
        return self.registry.log_artifact(self.id, path, artifact_path=artifact_path)

    def log_text(self, text: str, artifact_path: str) -> Artifact:
        """Store a text as an artifact file."""
        return self.registry.log_artifact_bytes(self.id, text.encode("utf-8"), artifact_path)

    def log_dataset(
        self, source: str | os.PathLike[str] | Any, name: str = "", role: str = "training"
    ) -> Dataset:
        """Record the data this run used (a file path, a NumPy array or a DataFrame)."""
        return self.registry.log_dataset(self.id, source, name=name, role=role)

    def log_model(self, estimator: Any, name: str = "model") -> Artifact:
        """Save a fitted estimator in skops format (not pickle); its SHA-256 is recorded."""
        from desktop_app.registry.model_files import describe_model, dump_model

        check_key(name, "Model")
        artifact = self.registry.log_artifact_bytes(
            self.id, dump_model(estimator), f"models/{name}.skops", kind="model"
        )
        self.registry.log_artifact_bytes(
            self.id,
            json.dumps(describe_model(estimator), indent=2).encode("utf-8"),
            f"models/{name}.json",
            kind="model-meta",
        )
        return artifact

    # ---- lifecycle ---------------------------------------------------------------------------

    def end(self, status: RunStatus = RunStatus.FINISHED, reason: str = "") -> None:
        """Flush and close the run with a final status (only for runs this process opened)."""
        if self.ended:
            return
        self.ended = True
        _forget(self)
        try:
            # The last points and the final status land together, in one transaction.
            with self.registry.db.write():
                try:
                    self.flush()
                finally:
                    if self._owned:
                        self.registry.set_run_status(self.id, status, reason)
        finally:
            if self._close_registry:
                self.registry.close()

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status, reason = _outcome(exc_type, exc, tb)
        self.end(status, reason)


def _outcome(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> tuple[RunStatus, str]:
    if exc_type is None:
        return RunStatus.FINISHED, ""
    if _state.terminated or issubclass(exc_type, KeyboardInterrupt):
        return RunStatus.KILLED, "terminated" if _state.terminated else "interrupted"
    if isinstance(exc, SystemExit) and exc.code in (None, 0):
        return RunStatus.FINISHED, ""
    lines = traceback.format_exception(exc_type, exc, tb)
    message = f"{exc_type.__name__}: {exc}"
    return RunStatus.FAILED, (message + "\n\n" + "".join(lines))[:20000]


class _ProcessState:
    """Runs active in this process and the background flusher that serves them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stack: list[ActiveRun] = []
        self.all: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.terminated = False
        self.hooks_installed = False
        self.previous_sigterm: Any = None
        self.previous_excepthook: Any = None


_state = _ProcessState()


def _flusher_loop() -> None:
    last_beat = time.monotonic()
    while True:
        if _state.wake.wait(FLUSH_EVERY_S):
            # Woken by a run's first point: let the rest of that step's values join it.
            time.sleep(_FIRST_FLUSH_DELAY_S)
        _state.wake.clear()
        with _state.lock:
            runs = [run for run in _state.all if not run.ended]
        beat = time.monotonic() - last_beat >= HEARTBEAT_INTERVAL_S
        for run in runs:
            try:
                run.flush()
                if beat:
                    run.registry.heartbeat(run.id)
            except Exception as exc:
                run.last_flush_error = exc
        if beat:
            last_beat = time.monotonic()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwind the main thread so every `with start_run()` ends its run as KILLED.
    _state.terminated = True
    raise SystemExit(_TERMINATED_EXIT_CODE)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    status, reason = _outcome(exc_type, exc, tb)
    for run in reversed(list(_state.stack)):
        try:
            run.end(status, reason)
        except Exception:
            pass
    hook = _state.previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)


def _at_exit() -> None:
    status = RunStatus.KILLED if _state.terminated else RunStatus.FINISHED
    for run in reversed(list(_state.stack)):
        try:
            run.end(status, "terminated" if _state.terminated else "")
        except Exception:
            pass


def _install_hooks() -> None:
    if _state.hooks_installed:
        return
    _state.hooks_installed = True
    atexit.register(_at_exit)
    _state.previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        current = signal.getsignal(signal.SIGTERM)
        if current in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def _register(run: ActiveRun) -> None:
    _install_hooks()
    with _state.lock:
        _state.stack.append(run)
        _state.all.add(run)
        if _state.thread is None or not _state.thread.is_alive():
            _state.thread = threading.Thread(
                target=_flusher_loop, name="modeldesk-tracking-flush", daemon=True
            )
            _state.thread.start()


def _forget(run: ActiveRun) -> None:
    with _state.lock:
        if run in _state.stack:
            _state.stack.remove(run)
        _state.all.discard(run)


def active_run() -> ActiveRun | None:
    """The innermost run this process is logging to, if any."""
    with _state.lock:
        return _state.stack[-1] if _state.stack else None


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    *,
    registry: Registry | str | os.PathLike[str] | None = None,
    parent: ActiveRun | str | None = None,
    nested: bool = True,
    source: str | None = None,
    on_start: Callable[[Registry, str], object] | None = None,
) -> ActiveRun:
    """Open a run (a child of the active run when one is open) and return it.

    Inside a job started by ModelDesk (``$MODELDESK_RUN_ID`` set), the first call attaches to
    the run opened for the job instead of creating a new one. ``on_start`` is called with the
    registry and the new run's id before any metric is logged (the code snapshot hook).
    """
    if isinstance(registry, Registry):
        reg, close = registry, False
    else:
        reg, close = open_registry(registry), True
    current = active_run()
    attach_id = os.environ.get(ENV_RUN_ID)
    if attach_id and current is None and not any(r.id == attach_id for r in _state.all):
        run = ActiveRun(reg, reg.resolve_run_id(attach_id), owned=False, close_registry=close)
        if params:
            run.log_params(params)
        if tags:
            run.set_tags(tags)
        _register(run)
        return run
    parent_id: str | None = None
    if isinstance(parent, ActiveRun):
        parent_id = parent.id
    elif isinstance(parent, str):
        parent_id = reg.resolve_run_id(parent)
    elif nested and current is not None:
        parent_id = current.id
    if experiment is None:
        if parent_id is not None:
            experiment = reg.get_run(parent_id).experiment_name
        else:
            experiment = os.environ.get(ENV_EXPERIMENT) or DEFAULT_EXPERIMENT
    created = reg.create_run(
        experiment,
        name=name,
        parent_id=parent_id,
        source=source if source is not None else _script_source(),
        params=params,
        tags=tags,
    )
    if on_start is not None:
        on_start(reg, created.id)
    run = ActiveRun(reg, created.id, owned=True, close_registry=close, run=created)
    _register(run)
    return run


def _script_source() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else (sys.argv[0] if sys.argv else "")


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric to the active run."""
    _require_active().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics to the active run."""
    _require_active().log_metrics(metrics, step)


def log_params(params: Mapping[str, object]) -> None:
    """Log params to the active run."""
    _require_active().log_params(params)


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        from desktop_app.errors import AppError

        raise AppError("No active run: call tracking.start_run() first.", code="NO_ACTIVE_RUN")
    return run
