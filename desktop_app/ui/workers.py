"""Background tasks: run a plain function in a worker thread and get its result back as a signal.

Every registry call that may take more than ~50 ms goes through :func:`start_task`. Tasks run in
one small thread pool whose threads never expire: each thread holds its own SQLite connection,
so a bounded, long-lived set of threads means a bounded set of connections.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

MAX_THREADS = 4


_pool: QThreadPool | None = None
_live: set[Task] = set()


def thread_pool() -> QThreadPool:
    """The pool every task runs in."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(MAX_THREADS)
        _pool.setExpiryTimeout(-1)
    return _pool


def wait_for_tasks(msecs: int = 10_000, *, cancel: bool = True) -> bool:
    """Wait for running tasks (asking them to stop first) and end the pool's threads.

    Returns False on timeout. Pool threads are ended, so their SQLite connections go idle.
    """
    if cancel:
        for task in list(_live):
            task.cancel()
    if _pool is None:
        return True
    return bool(_pool.waitForDone(msecs))


def running_tasks() -> int:
    """How many tasks are started and not yet finished."""
    return len(_live)


class TaskControl:
    """Handed to a task function that asks for it: report progress, ask whether to stop."""

    def __init__(self, signals: TaskSignals) -> None:
        self._signals = signals
        self._stop = threading.Event()

    def progress(self, done: int, total: int, message: str = "") -> None:
        """Report progress (thread-safe; arrives as ``sig_progressed``)."""
        self._signals.sig_progressed.emit(int(done), int(total), str(message))

    def should_stop(self) -> bool:
        """Whether the task was cancelled; long tasks check this between steps."""
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the task to stop at its next check."""
        self._stop.set()


class TaskSignals(QObject):
    """The signals of one task; they live in the GUI thread and arrive there queued."""

    sig_started = Signal()
    """The function began running in its worker thread."""
    sig_progressed = Signal(int, int, str)
    """Progress: ``(done, total, message)``."""
    sig_returned = Signal(object)
    """The function returned: ``(result)``; not emitted when it raised or was cancelled."""
    sig_errored = Signal(object)
    """The function raised: ``(exception)``."""
    sig_finished = Signal()
    """The task ended, whatever the outcome (always the last signal)."""


class Task(QRunnable):
    """One function call in the pool, with its signals in ``self.signals``."""

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        with_control: bool = False,
    ) -> None:
        super().__init__()
        # Python owns the runnable (kept in ``_live`` until it finished), never the pool.
        self.setAutoDelete(False)
        self.signals = TaskSignals()
        self.control = TaskControl(self.signals)
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._with_control = with_control

    def cancel(self) -> None:
        """Ask the task to stop; a cancelled task does not emit ``sig_returned``."""
        self.control.cancel()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self.control.should_stop()

    def run(self) -> None:
        """Called by the pool in a worker thread; never call it directly."""
        signals = self.signals
        signals.sig_started.emit()
        try:
            if self._with_control:
                result = self._fn(*self._args, control=self.control, **self._kwargs)
            else:
                result = self._fn(*self._args, **self._kwargs)
        except Exception as exc:  # handed to the GUI thread as sig_errored
            exc.__traceback__ = exc.__traceback__ or sys.exc_info()[2]
            signals.sig_errored.emit(exc)
        else:
            if not self.control.should_stop():
                signals.sig_returned.emit(result)
        signals.sig_finished.emit()


def start_task(
    fn: Callable[..., Any],
    *args: Any,
    on_returned: Callable[[Any], Any] | None = None,
    on_errored: Callable[[BaseException], Any] | None = None,
    on_finished: Callable[[], Any] | None = None,
    on_progressed: Callable[[int, int, str], Any] | None = None,
    with_control: bool = False,
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` in the pool; handlers run in the GUI thread.

    With ``with_control`` the function also receives ``control=TaskControl``. Errors without an
    ``on_errored`` handler go to :func:`desktop_app.ui.errors_hook.report_exception`.
    """
    task = Task(fn, args, kwargs, with_control=with_control)
    signals = task.signals
    if on_progressed is not None:
        signals.sig_progressed.connect(on_progressed)
    if on_returned is not None:
        signals.sig_returned.connect(on_returned)
    if on_errored is not None:
        signals.sig_errored.connect(on_errored)
    else:
        from desktop_app.ui.errors_hook import report_exception

        signals.sig_errored.connect(report_exception)
    if on_finished is not None:
        signals.sig_finished.connect(on_finished)
    signals.sig_finished.connect(lambda: _live.discard(task))
    _live.add(task)
    thread_pool().start(task)
    return task
