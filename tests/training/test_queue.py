"""The job queue: real worker processes on script jobs, real registry folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from desktop_app.registry import Registry, RunStatus
from desktop_app.training import launch
from desktop_app.training.queue import (
    CANCEL_REASON,
    OUTPUT_ARTIFACT,
    JobQueue,
    QueueEvent,
    QueueEventKind,
    cancel_run,
    enqueue_job,
)


def script_job(folder: Path, body: str, *, name: str = "job") -> Path:
    """A job file whose script is ``body`` (dedented), both in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    job = folder / f"{name}.toml"
    job.write_text(f'experiment = "scripts"\n\n[script]\npath = "{name}.py"\n')
    return job


def run_queue(
    queue: JobQueue,
    until: Callable[[list[QueueEvent]], bool],
    *,
    timeout: float = 30.0,
    each: Callable[[], None] | None = None,
) -> list[QueueEvent]:
    """Poll until ``until(events so far)`` holds; fail after ``timeout`` seconds."""
    events: list[QueueEvent] = []
    deadline = time.monotonic() + timeout
    while not until(events):
        assert time.monotonic() < deadline, f"queue did not get there: {events}"
        events.extend(queue.poll())
        if each is not None:
            each()
        time.sleep(0.02)
    return events


def ended(*run_ids: str) -> Callable[[list[QueueEvent]], bool]:
    """True once every run has an end event."""
    return lambda events: set(run_ids) <= {e.run_id for e in events if e.is_end}


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` is true (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


LOGS_AND_PRINTS = """
    import sys
    from desktop_app import tracking

    run = tracking.start_run()
    for step in range(3):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    print("hello from the script")
    print("a warning", file=sys.stderr)
    print("PROGRESS 1/2 half way", flush=True)
"""

SLEEPS = """
    import subprocess, sys, time
    from pathlib import Path
    from desktop_app import tracking

    run = tracking.start_run()
    child = subprocess.Popen(["sleep", "60"])
    run.log_metric("alive", 1.0)
    run.flush()
    Path("grandchild.pid").write_text(str(child.pid))
    print("sleeping", flush=True)
    while True:
        time.sleep(0.05)
"""


def test_a_script_job_runs_in_a_worker_and_its_output_is_handed_out(
    tmp_path: Path, registry: Registry
) -> None:
    job = script_job(tmp_path / "work", LOGS_AND_PRINTS)
    run_id = enqueue_job(registry, job)
    queued = registry.get_run(run_id)
    assert queued.status == RunStatus.QUEUED
    assert queued.tags["job_kind"] == "script"
    assert queued.tags["job_base_dir"] == str((tmp_path / "work").resolve())
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)

    events = run_queue(queue, ended(run_id))

    kinds = [e.kind for e in events]
    assert kinds[0] == QueueEventKind.STARTED and kinds[-1] == QueueEventKind.FINISHED
    lines = {(e.stream, e.text) for e in events if e.kind == QueueEventKind.OUTPUT}
    assert ("stdout", "hello from the script") in lines
    assert ("stderr", "a warning") in lines
    progress = [e for e in events if e.kind == QueueEventKind.PROGRESS]
    assert [(p.done, p.total, p.text) for p in progress] == [(1, 2, "half way")]
    run = registry.get_run(run_id)
    assert run.status == RunStatus.FINISHED
    assert run.metrics["loss"].count == 3
    assert int(run.tags["worker_pid"]) == run.pid
    output = registry.artifacts.read_bytes(registry.get_artifact(run_id, OUTPUT_ARTIFACT).sha256)
    assert "hello from the script" in output.decode()
    assert "a warning" in output.decode()
    assert queue.running() == [] and queue.is_idle()


def test_a_script_that_raises_fails_the_run_with_its_message(
    tmp_path: Path, registry: Registry
) -> None:
    job = script_job(
        tmp_path,
        """
        from desktop_app import tracking
        with tracking.start_run() as run:
            run.log_metric("before", 1.0)
            raise ValueError("the data is upside down")
        """,
    )
    run_id = enqueue_job(registry, job)
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)

    events = run_queue(queue, ended(run_id))

    assert events[-1].kind == QueueEventKind.FAILED
    run = registry.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.status_reason.splitlines()[0] == "ValueError: the data is upside down"
    assert "Traceback" in run.status_reason
    assert run.metrics["before"].last == 1.0


def test_cancel_ends_the_whole_process_tree_and_keeps_what_was_logged(
    tmp_path: Path, registry: Registry
) -> None:
    job = script_job(tmp_path, SLEEPS)
    run_id = enqueue_job(registry, job)
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)
    pid_file = tmp_path / "grandchild.pid"
    run_queue(queue, lambda _events: pid_file.exists() and bool(pid_file.read_text()))
    worker = psutil.Process(registry.get_run(run_id).pid)
    family = [worker, *worker.children(recursive=True)]
    assert len(family) == 3  # worker, script, sleep
    assert int(pid_file.read_text()) in {p.pid for p in family}

    started = time.monotonic()
    queue.cancel(run_id)
    took = time.monotonic() - started

    assert took < 2.0
    run = registry.get_run(run_id)
    assert run.status == RunStatus.KILLED
    assert run.status_reason == CANCEL_REASON
    assert run.metrics["alive"].last == 1.0
    for process in family:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    events = run_queue(queue, ended(run_id), timeout=5)
    assert events[-1].kind == QueueEventKind.KILLED
    assert queue.running() == []


def test_a_worker_killed_outright_is_marked_failed_by_the_queue(
    tmp_path: Path, registry: Registry
) -> None:
    job = script_job(tmp_path, SLEEPS)
    run_id = enqueue_job(registry, job)
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)
    run_queue(queue, lambda _events: (tmp_path / "grandchild.pid").exists())
    worker = psutil.Process(registry.get_run(run_id).pid)
    family = worker.children(recursive=True)

    os.kill(worker.pid, signal.SIGKILL)
    events = run_queue(queue, ended(run_id), timeout=10)

    assert events[-1].kind == QueueEventKind.FAILED
    assert events[-1].exit_code == -signal.SIGKILL
    run = registry.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert "killed by signal SIGKILL" in run.status_reason
    assert run.metrics["alive"].last == 1.0
    # The queue kept what the worker printed, since the worker could not store it.
    output = registry.artifacts.read_bytes(registry.get_artifact(run_id, OUTPUT_ARTIFACT).sha256)
    assert "sleeping" in output.decode()
    for process in family:
        process.kill()


def test_a_worker_whose_parent_is_gone_is_reaped_as_lost(
    tmp_path: Path, registry: Registry
) -> None:
    job = script_job(tmp_path, SLEEPS)
    run_id = enqueue_job(registry, job)
    pid = launch.start_detached(registry.root, run_id)  # nobody watches this worker
    wait_for(lambda: (tmp_path / "grandchild.pid").exists())
    assert registry.get_run(run_id).status == RunStatus.RUNNING
    worker = psutil.Process(pid)
    family = worker.children(recursive=True)

    worker.kill()
    wait_for(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE)
    lost = registry.reap_lost_runs()  # what every process does when it opens the registry

    assert lost == [run_id]
    run = registry.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.status_reason == "process lost"
    for process in family:
        process.kill()


def test_no_more_than_max_workers_run_at_once_and_order_follows_moves(
    tmp_path: Path, registry: Registry
) -> None:
    body = """
        import time
        from desktop_app import tracking
        tracking.start_run().log_metric("started_at", time.time())
        time.sleep(0.4)
    """
    run_ids = [enqueue_job(registry, script_job(tmp_path / f"job{i}", body)) for i in range(4)]
    queue = JobQueue(registry, max_workers=2)
    for run_id in run_ids:
        queue.submit(run_id)
    queue.move(run_ids[3], 0)
    queue.move(run_ids[0], 99)
    order = [run_ids[3], run_ids[1], run_ids[2], run_ids[0]]
    assert queue.waiting() == order
    most = 0

    def count_running() -> None:
        nonlocal most
        statuses = [r.status for r in registry.get_runs(run_ids, with_metrics=False)]
        most = max(most, statuses.count(RunStatus.RUNNING), len(queue.running()))

    events = run_queue(queue, ended(*run_ids), each=count_running, timeout=60)

    started = [e.run_id for e in events if e.kind == QueueEventKind.STARTED]
    assert started == order
    assert most == 2
    runs = registry.get_runs(run_ids)
    assert all(r.status == RunStatus.FINISHED for r in runs)
    by_start = sorted(runs, key=lambda r: r.metrics["started_at"].last)
    assert {r.id for r in by_start[:2]} == set(order[:2])


def test_a_cancelled_queued_run_never_starts(tmp_path: Path, registry: Registry) -> None:
    first = enqueue_job(registry, script_job(tmp_path / "a", "print('first')\n"))
    second = enqueue_job(registry, script_job(tmp_path / "b", "print('second')\n"))
    queue = JobQueue(registry, max_workers=1)
    queue.submit(first)
    queue.submit(second)
    events = queue.poll()
    assert queue.running() == [first] and queue.waiting() == [second]

    queue.cancel(second)
    events += run_queue(queue, ended(first, second))

    assert [e.run_id for e in events if e.kind == QueueEventKind.STARTED] == [first]
    assert (second, QueueEventKind.KILLED) in {(e.run_id, e.kind) for e in events}
    run = registry.get_run(second)
    assert run.status == RunStatus.KILLED
    assert run.status_reason == CANCEL_REASON
    assert "worker_pid" not in run.tags and run.pid is None
    assert registry.get_run(first).status == RunStatus.FINISHED


def test_a_run_cancelled_by_another_process_while_waiting_is_skipped(
    tmp_path: Path, registry: Registry
) -> None:
    run_id = enqueue_job(registry, script_job(tmp_path, "print('never')\n"))
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)
    assert cancel_run(registry, run_id) == RunStatus.QUEUED  # as another process would

    events = queue.poll()

    assert [(e.kind, e.text) for e in events] == [(QueueEventKind.KILLED, CANCEL_REASON)]
    assert "worker_pid" not in registry.get_run(run_id).tags


def test_a_running_run_cancelled_from_outside_ends_killed(
    tmp_path: Path, registry: Registry
) -> None:
    run_id = enqueue_job(registry, script_job(tmp_path, SLEEPS))
    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)
    run_queue(queue, lambda _events: (tmp_path / "grandchild.pid").exists())
    grandchild = psutil.Process(int((tmp_path / "grandchild.pid").read_text()))

    cancel = [sys.executable, "-m", "desktop_app", "--registry", str(registry.root)]
    result = subprocess.run(
        [*cancel, "runs", "cancel", run_id], capture_output=True, text=True, timeout=30
    )
    assert result.stdout == f"Cancelled run {run_id} (it was RUNNING).\n", result.stderr
    events = run_queue(queue, ended(run_id), timeout=10)

    assert events[-1].kind == QueueEventKind.KILLED
    assert registry.get_run(run_id).status == RunStatus.KILLED
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE


def test_shutdown_with_cancel_kills_running_and_waiting_runs(
    tmp_path: Path, registry: Registry
) -> None:
    running = enqueue_job(registry, script_job(tmp_path / "a", SLEEPS))
    waiting = enqueue_job(registry, script_job(tmp_path / "b", SLEEPS))
    queue = JobQueue(registry, max_workers=1)
    queue.submit(running)
    queue.submit(waiting)
    queue.poll()

    events = queue.shutdown(cancel=True)

    assert {e.run_id for e in events if e.kind == QueueEventKind.KILLED} == {running, waiting}
    assert registry.get_run(running).status == RunStatus.KILLED
    assert registry.get_run(waiting).status == RunStatus.KILLED
    with pytest.raises(Exception, match="shut down"):
        queue.submit(waiting)


def test_worker_command_uses_the_frozen_executable_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert launch.worker_command(tmp_path, "abc") == [
        sys.executable,
        "-m",
        "desktop_app",
        "worker",
        "--registry",
        str(tmp_path),
        "--run",
        "abc",
    ]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch.worker_command(tmp_path, "abc") == [
        sys.executable,
        "worker",
        "--registry",
        str(tmp_path),
        "--run",
        "abc",
    ]
    assert launch.script_command(tmp_path / "s.py")[1] == "run-script"


def _queue_and_quit(registry: Registry, run_id: str) -> None:
    """Another process (an app session) queues the run, then quits leaving it waiting."""
    code = textwrap.dedent(
        f"""
        from desktop_app.registry import Registry
        from desktop_app.training.queue import JobQueue
        registry = Registry({str(registry.root)!r})
        queue = JobQueue(registry, max_workers=1)
        queue.submit({run_id!r})
        queue.shutdown(cancel=False)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_job_left_waiting_by_a_session_that_quit_is_found_and_runs_on_a_new_queue(
    tmp_path: Path, registry: Registry
) -> None:
    from desktop_app.training.queue import orphaned_queued_runs

    left = enqueue_job(registry, script_job(tmp_path / "a", LOGS_AND_PRINTS))
    _queue_and_quit(registry, left)
    held_here = enqueue_job(registry, script_job(tmp_path / "b", LOGS_AND_PRINTS))
    here = JobQueue(registry, max_workers=1)
    here.submit(held_here)  # waiting on a live queue: not an orphan
    not_yet_queued = enqueue_job(registry, script_job(tmp_path / "c", LOGS_AND_PRINTS))

    assert registry.get_run(left).status == RunStatus.QUEUED
    assert orphaned_queued_runs(registry) == [left]

    here.submit(left)
    events = run_queue(here, ended(left, held_here))
    assert registry.get_run(left).status == RunStatus.FINISHED
    assert {e.kind for e in events if e.run_id == left} >= {QueueEventKind.FINISHED}
    assert orphaned_queued_runs(registry) == []
    here.shutdown(cancel=True)
    assert registry.get_run(not_yet_queued).status == RunStatus.QUEUED


def test_a_detached_worker_that_died_before_starting_leaves_an_orphan(
    tmp_path: Path, registry: Registry
) -> None:
    from desktop_app.training.queue import orphaned_queued_runs

    run_id = enqueue_job(registry, script_job(tmp_path / "a", LOGS_AND_PRINTS))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    registry.set_run_process(run_id, sleeper.pid)
    assert orphaned_queued_runs(registry) == []  # its worker is still starting

    sleeper.kill()
    sleeper.wait()
    assert orphaned_queued_runs(registry) == [run_id]


def test_sweep_trials_left_queued_are_not_taken_as_orphans(
    tmp_path: Path, registry: Registry
) -> None:
    from desktop_app.training.queue import orphaned_queued_runs

    parent = registry.create_run("sweeps", name="sweep")
    trial = enqueue_job(registry, script_job(tmp_path / "a", LOGS_AND_PRINTS), parent_id=parent.id)
    _queue_and_quit(registry, trial)

    assert registry.get_run(trial).status == RunStatus.QUEUED
    assert orphaned_queued_runs(registry) == []
