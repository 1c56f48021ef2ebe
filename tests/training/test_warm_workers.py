"""Spare workers that import scikit-learn before a run is handed to them, and the tracking
API's immediate first write: what makes "Run" show a first metric at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_queue import ended, run_queue, wait_for

from desktop_app.registry import Registry, RunStatus, tracking
from desktop_app.training.queue import CANCEL_REASON, JobQueue, QueueEventKind, enqueue_job


def _cmdline(pid: int) -> str:
    return " ".join(psutil.Process(pid).cmdline())


def _spare_is_warm(pid: int) -> bool:
    """Whether a spare is done importing: it has scikit-learn loaded and sits idle on stdin."""
    try:
        process = psutil.Process(pid)
        if not any("sklearn" in m.path for m in process.memory_maps()):
            return False
        before = sum(process.cpu_times()[:2])
        time.sleep(0.2)
        return sum(process.cpu_times()[:2]) - before < 0.005
    except psutil.Error:
        return False


def test_a_job_is_handed_to_the_warm_spare_and_a_new_spare_takes_its_place(
    registry: Registry, job_file: Path
) -> None:
    queue = JobQueue(registry, max_workers=1, warm_workers=1)
    try:
        queue.poll()
        [spare] = queue.spares()
        assert "--standby" in _cmdline(spare)
        wait_for(lambda: _spare_is_warm(spare), timeout=60)

        run_id = enqueue_job(registry, job_file)
        queue.submit(run_id)
        events = run_queue(queue, ended(run_id), timeout=120)

        assert events[-1].kind == QueueEventKind.FINISHED, events[-1].text
        run = registry.get_run(run_id)
        assert run.status == RunStatus.FINISHED
        assert run.tags["worker_pid"] == str(spare)  # the spare ran it
        assert registry.get_metric_summaries(run_id)
        assert any(e.kind == QueueEventKind.PROGRESS for e in events)
        queue.poll()
        [replacement] = queue.spares()
        assert replacement != spare
    finally:
        queue.shutdown(cancel=True)
    assert queue.spares() == []
    assert not psutil.pid_exists(spare) or psutil.Process(spare).status() == "zombie"


def test_a_spare_that_died_is_replaced_by_a_cold_worker_and_the_run_still_finishes(
    registry: Registry, job_file: Path
) -> None:
    queue = JobQueue(registry, max_workers=1, warm_workers=1)
    try:
        queue.poll()
        [spare] = queue.spares()
        psutil.Process(spare).kill()
        wait_for(lambda: spare not in queue.spares())

        run_id = enqueue_job(registry, job_file)
        queue.submit(run_id)
        events = run_queue(queue, ended(run_id), timeout=120)

        assert events[-1].kind == QueueEventKind.FINISHED, events[-1].text
        assert registry.get_run(run_id).tags["worker_pid"] != str(spare)
    finally:
        queue.shutdown(cancel=False)


def test_cancelling_a_run_on_a_spare_ends_it_killed(
    registry: Registry, tmp_path: Path, write_job, penguins_csv: Path
) -> None:
    slow = write_job(
        tmp_path,
        "slow.toml",
        model={"estimator": "RandomForestClassifier", "params": {"n_estimators": 3000}},
        split={"kind": "kfold", "folds": 5, "seed": 0},
    )
    queue = JobQueue(registry, max_workers=1, warm_workers=1)
    try:
        queue.poll()
        [spare] = queue.spares()
        run_id = enqueue_job(registry, slow)
        queue.submit(run_id)
        run_queue(queue, lambda events: any(e.kind == "started" for e in events))
        assert registry.get_run(run_id).pid == spare

        queue.cancel(run_id)
        events = run_queue(queue, ended(run_id), timeout=30)

        assert events[-1].kind == QueueEventKind.KILLED
        run = registry.get_run(run_id)
        assert (run.status, run.status_reason) == (RunStatus.KILLED, CANCEL_REASON)
    finally:
        queue.shutdown(cancel=True)


def test_a_spare_left_alone_exits_when_its_queue_goes_away(registry: Registry) -> None:
    from desktop_app.training import launch

    spare = subprocess.Popen(
        launch.standby_worker_command(registry.root),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert spare.stdin is not None
    spare.stdin.close()  # what the spare sees when the app that started it dies

    assert spare.wait(timeout=60) == 0
    assert spare.stderr is not None and spare.stderr.read() == b""


def test_the_worker_command_needs_a_run_or_standby(registry: Registry) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "worker", "--registry", str(registry.root)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--standby" in done.stderr


def test_a_runs_first_metric_is_written_at_once_not_at_the_next_batch(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "FLUSH_EVERY_S", 3600.0)
    # Cycle the background flusher once so that it now waits with the long interval.
    with tracking.start_run("warm-up", registry=registry, nested=False) as first:
        first.log_metric("loss", 1.0)
        wait_for(lambda: bool(registry.get_metric_summaries(first.id)), timeout=10)
        time.sleep(0.1)

        with tracking.start_run("live", registry=registry, nested=False) as run:
            run.log_metric("loss", 0.5, step=0)
            run.log_metric("accuracy", 0.7, step=0)
            wait_for(lambda: len(registry.get_metric_summaries(run.id)) == 2, timeout=10)
            run.log_metric("loss", 0.25, step=1)
            time.sleep(0.3)
            # Later points wait for the batch (or the end of the run).
            assert registry.get_metric_summaries(run.id)["loss"].last_step == 0
        assert registry.get_metric_summaries(run.id)["loss"].last_step == 1
