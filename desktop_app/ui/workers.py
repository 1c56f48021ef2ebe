"""Background tasks: run a plain function in a worker thread and get its result back as a signal.

Every registry call that may take more than ~50 ms goes through :func:`start_task`. Tasks run in
one small thread pool whose threads never expire: each thread holds its own SQLite connection,
so a bounded, long-lived set of threads means a bounded set of connections. A :class:`TaskGroup`
runs a widget's tasks in a pool of its own, so the widget can drop its stale work and wait for
exactly its own threads without touching anyone else's.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
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
    """Wait for the shared pool's tasks (asking them to stop first) and end its threads.

    Returns False on timeout. Pool threads are ended, so their SQLite connections go idle.
    A ``TaskGroup``'s tasks are its own to abandon and wait for: cancelled from here, they
    would end without telling the group's widget, which may be waiting for them.
    """
    if cancel:
        for task in list(_live):
            if not task.in_group:
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
    sig_yielded = Signal(object)
    """An item a generator task yielded: ``(item)``."""
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
        iterate: bool = False,
        in_group: bool = False,
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
        self._iterate = iterate
        self.in_group = in_group

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
            if self._iterate:
                result = self._pass_on(result)
        except Exception as exc:  # handed to the GUI thread as sig_errored
            exc.__traceback__ = exc.__traceback__ or sys.exc_info()[2]
            signals.sig_errored.emit(exc)
        else:
            if not self.control.should_stop():
                signals.sig_returned.emit(result)
        signals.sig_finished.emit()

    def _pass_on(self, items: Iterable[Any]) -> None:
        """Emit a generator's items until it ends or the task is cancelled (then it is closed)."""
        iterator = iter(items)
        try:
            # Asked before each item, so a stopped generator does no further work.
            while not self.control.should_stop():
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                self.signals.sig_yielded.emit(item)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()


def start_task(
    fn: Callable[..., Any],
    *args: Any,
    on_returned: Callable[[Any], Any] | None = None,
    on_errored: Callable[[BaseException], Any] | None = None,
    on_finished: Callable[[], Any] | None = None,
    on_progressed: Callable[[int, int, str], Any] | None = None,
    on_yielded: Callable[[Any], Any] | None = None,
    with_control: bool = False,
    pool: QThreadPool | None = None,
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` in the pool; handlers run in the GUI thread.

    With ``with_control`` the function also receives ``control=TaskControl``. With
    ``on_yielded`` the function is a generator: each item it yields is handed over as it comes,
    and cancelling stops it between items. Errors without an ``on_errored`` handler go to
    :func:`desktop_app.ui.errors_hook.report_exception`. ``pool`` defaults to the shared one.
    """
    task = Task(
        fn,
        args,
        kwargs,
        with_control=with_control,
        iterate=on_yielded is not None,
        in_group=pool is not None,
    )
    signals = task.signals
    if on_progressed is not None:
        signals.sig_progressed.connect(on_progressed)
    if on_yielded is not None:
        signals.sig_yielded.connect(on_yielded)
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
    (pool if pool is not None else thread_pool()).start(task)
    return task


@dataclass(frozen=True)
class Outcome:
    """What a :class:`TaskGroup` call produced: its value, or the exception it raised."""

    token: Any
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the call returned normally."""
        return self.error is None

    @property
    def expected(self) -> bool:
        """Whether the error (if any) is an expected one, fit to show the user as is."""
        from desktop_app.errors import AppError

        return self.error is None or isinstance(self.error, AppError)


class TaskGroup(QObject):
    """One widget's tasks, in a pool of its own, each tagged with a token the widget chooses.

    ``on_done(outcome)`` is called exactly once per task unless the task was abandoned;
    ``on_item(token, item)`` once per item a generator yields. Pass bound methods of objects
    living in the GUI thread.
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._pool.setExpiryTimeout(-1)  # keep threads, and their SQLite connections, for reuse
        self._tasks: dict[int, tuple[Any, Task]] = {}
        self._abandoned: set[int] = set()
        self._next_id = 0

    def call(
        self, token: Any, fn: Callable[..., Any], *args: Any, on_done: Callable[[Outcome], None]
    ) -> int:
        """Run ``fn(*args)`` in a worker thread; return the task's id."""
        return self._start(token, fn, args, on_done, None)

    def iterate(
        self,
        token: Any,
        fn: Callable[..., Iterable[Any]],
        *args: Any,
        on_item: Callable[[Any, Any], None],
        on_done: Callable[[Outcome], None],
    ) -> int:
        """Run the generator ``fn(*args)`` in a worker thread, passing on items; return its id."""
        return self._start(token, fn, args, on_done, on_item)

    def abandon(self, predicate: Callable[[Any], bool] | None = None) -> None:
        """Drop the results of pending tasks whose token matches (all when None); stop them."""
        for task_id, (token, task) in self._tasks.items():
            if predicate is None or predicate(token):
                self._abandoned.add(task_id)
                task.cancel()

    def pending(self) -> int:
        """How many tasks have not finished yet."""
        return len(self._tasks)

    def wait(self, msecs: int = -1) -> bool:
        """Abandon everything and wait for the threads to end; True when they all did."""
        self.abandon()
        return bool(self._pool.waitForDone(msecs))

    def _start(
        self,
        token: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        on_done: Callable[[Outcome], None],
        on_item: Callable[[Any, Any], None] | None,
    ) -> int:
        task_id = self._next_id
        self._next_id += 1

        def done(outcome: Outcome) -> None:
            if task_id not in self._abandoned:
                on_done(outcome)

        def item(value: Any) -> None:
            if task_id not in self._abandoned and on_item is not None:
                on_item(token, value)

        task = start_task(
            fn,
            *args,
            on_returned=lambda value: done(Outcome(token, None if on_item else value)),
            on_errored=lambda exc: done(Outcome(token, error=exc)),
            on_yielded=item if on_item is not None else None,
            on_finished=partial(self._finished, task_id),
            pool=self._pool,
        )
        self._tasks[task_id] = (token, task)
        return task_id

    def _finished(self, task_id: int) -> None:
        self._tasks.pop(task_id, None)
        self._abandoned.discard(task_id)
