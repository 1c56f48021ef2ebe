"""Crash-honest states and many writers, with real processes on a real SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from desktop_app.registry import Registry, RunStatus

LOGGER = """
import sys
from desktop_app import tracking
registry, label, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tracking.start_run(experiment="crowd", name=label, registry=registry) as run:
    print(run.id, flush=True)
    for step in range(steps):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("acc", step / steps, step=step)
        if step % 10 == 9:
            run.flush()
"""


def _start_logger(tmp_path: Path, registry_path: Path, label: str, steps: int) -> subprocess.Popen:
    script = tmp_path / "logger.py"
    if not script.exists():
        script.write_text(LOGGER)
    return subprocess.Popen(
        [sys.executable, str(script), str(registry_path), label, str(steps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkilled_logger_leaves_a_sound_database_and_a_failed_run(
    tmp_path: Path, registry_path: Path
) -> None:
    Registry(registry_path).close()
    proc = _start_logger(tmp_path, registry_path, "doomed", 10**8)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    watcher = Registry(registry_path)
    deadline = time.monotonic() + 30
    while watcher.get_metric_summaries(run_id).get("loss", None) is None or (
        watcher.get_metric_summaries(run_id)["loss"].count < 200
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    seen = watcher.get_metric_summaries(run_id)["loss"].count
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    watcher.close()

    registry = Registry(registry_path)  # opening reaps lost runs
    run = registry.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.status_reason == "process lost"
    conn = sqlite3.connect(registry_path / "registry.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    series = registry.get_metric_history(run_id, "loss")
    assert len(series) >= seen
    # Every flushed point is there, contiguous from step 0: no hole, no half-written block.
    assert series.steps.tolist() == list(range(len(series)))
    assert run.metrics["loss"].count == len(series)


def test_polling_marks_a_lost_run_without_reopening(tmp_path: Path, registry_path: Path) -> None:
    registry = Registry(registry_path)
    proc = _start_logger(tmp_path, registry_path, "doomed", 10**8)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert registry.reap_lost_runs() == []
    proc.kill()
    proc.wait(timeout=30)
    assert registry.reap_lost_runs() == [run_id]
    assert registry.get_run(run_id).status == RunStatus.FAILED


def test_run_on_another_host_is_lost_only_after_heartbeat_timeout(registry: Registry) -> None:
    quiet = registry.create_run("remote", name="quiet")
    fresh = registry.create_run("remote", name="fresh")
    with registry.db.write() as conn:
        conn.execute(
            "UPDATE runs SET host = 'elsewhere', pid = 1, heartbeat = ? WHERE id = ?",
            (time.time() - 3600, quiet.id),
        )
        conn.execute(
            "UPDATE runs SET host = 'elsewhere', pid = 1, heartbeat = ? WHERE id = ?",
            (time.time(), fresh.id),
        )
    assert registry.reap_lost_runs() == [quiet.id]
    assert registry.get_run(fresh.id).status == RunStatus.RUNNING


def test_eight_processes_log_at_once_without_locks_or_lost_points(
    tmp_path: Path, registry_path: Path
) -> None:
    Registry(registry_path).close()
    steps = 300
    procs = [_start_logger(tmp_path, registry_path, f"worker-{i}", steps) for i in range(8)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    registry = Registry(registry_path)
    ids = [out.strip() for out, _ in outputs]
    for run_id in ids:
        run = registry.get_run(run_id)
        assert run.status == RunStatus.FINISHED
        for key in ("loss", "acc"):
            series = registry.get_metric_history(run_id, key)
            assert series.steps.tolist() == list(range(steps))
    assert registry.count_runs() == 8


def test_reopening_a_registry_in_process_keeps_its_locks(tmp_path: Path) -> None:
    # Closing a plain file handle on registry.db would drop this process's SQLite locks;
    # another process could then checkpoint away the WAL still in use here.
    folder = tmp_path / "reg"
    first = Registry(folder)
    run = first.create_run("x", status=RunStatus.QUEUED)
    second = Registry(folder)
    second.set_run_status(run.id, RunStatus.RUNNING)
    script = tmp_path / "child.py"
    script.write_text(
        "import sys\nfrom desktop_app.registry import Registry\n"
        "reg = Registry(sys.argv[1])\n"
        "for i in range(50):\n    reg.log_metric(sys.argv[2], 'm', float(i), step=i)\n"
        "reg.close()\n"
    )
    subprocess.run([sys.executable, str(script), str(folder), run.id], check=True, timeout=60)
    second.set_run_status(run.id, RunStatus.FINISHED)
    second.close()
    third = Registry(folder)
    assert third.get_run(run.id).metrics["m"].count == 50
    assert first.get_run(run.id).status == RunStatus.FINISHED
