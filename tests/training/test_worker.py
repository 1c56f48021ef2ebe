"""The worker: one run's life in one process, its output kept, its stop on request."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.registry import Registry, RunStatus
from desktop_app.registry.tracking import start_run
from desktop_app.training import launch, worker
from desktop_app.training.queue import OUTPUT_ARTIFACT, enqueue_job
from desktop_app.training.worker import STOPPED_REASON


def script_job(folder: Path, body: str) -> Path:
    """A job file running ``body`` (dedented) as its script."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.py").write_text(textwrap.dedent(body))
    job = folder / "job.toml"
    job.write_text('experiment = "scripts"\nname = "scripted"\n\n[script]\npath = "script.py"\n')
    return job


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` is true (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def artifact_text(registry: Registry, run_id: str, path: str) -> str:
    """The text of one artifact of a run."""
    return registry.artifacts.read_bytes(registry.get_artifact(run_id, path).sha256).decode()


# The worker opens its own Registry: tests that run it in this process keep no other one open
# meanwhile (two open Registry objects of one folder in one process do not mix well).


def test_main_runs_a_script_job_to_its_end_in_this_process(
    tmp_path: Path, registry_path: Path
) -> None:
    with Registry(registry_path) as registry:
        run_id = enqueue_job(
            registry,
            script_job(
                tmp_path,
                """
                import os
                from desktop_app import tracking
                run = tracking.start_run()
                run.log_metric("score", 0.5)
                print("cwd is", os.getcwd())
                print("run", os.environ["MODELDESK_RUN_ID"])
                """,
            ),
        )

    code = worker.main(registry_path, run_id)

    assert code == 0
    with Registry(registry_path) as registry:
        run = registry.get_run(run_id)
        output = artifact_text(registry, run_id, OUTPUT_ARTIFACT)
    assert run.status == RunStatus.FINISHED and run.status_reason == ""
    assert run.metrics["score"].last == 0.5
    assert run.tags["worker_pid"] == str(os.getpid())
    assert run.pid == os.getpid()
    info = run.git["info"]
    assert isinstance(info, dict) and info["reason"]  # no Git repository here; the run says why
    assert f"cwd is {tmp_path}" in output
    assert f"run {run_id}" in output
    assert f"Run {run_id} FINISHED" in output
    assert "MODELDESK_RUN_ID" not in os.environ


def test_main_leaves_a_run_that_is_not_queued_alone(registry_path: Path) -> None:
    with Registry(registry_path) as registry:
        run = registry.create_run("e", status=RunStatus.QUEUED)
        registry.set_run_status(run.id, RunStatus.KILLED, "cancelled by user")

    assert worker.main(registry_path, run.id) == 0
    assert worker.main(registry_path, "0123456789abcdef") == 1

    with Registry(registry_path) as registry:
        after = registry.get_run(run.id)
    assert (after.status, after.status_reason) == (RunStatus.KILLED, "cancelled by user")
    assert "worker_pid" not in after.tags


def test_a_missing_script_fails_the_run_with_a_clear_reason(
    tmp_path: Path, registry_path: Path
) -> None:
    with Registry(registry_path) as registry:
        run_id = enqueue_job(registry, script_job(tmp_path, "print('hi')\n"))
    (tmp_path / "script.py").unlink()

    assert worker.main(registry_path, run_id) == 1

    with Registry(registry_path) as registry:
        run = registry.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.status_reason.startswith("The job's script")


def test_sigterm_stops_a_script_job_and_the_run_ends_killed(
    tmp_path: Path, registry: Registry
) -> None:
    run_id = enqueue_job(
        registry,
        script_job(
            tmp_path,
            """
            import time
            from desktop_app import tracking
            run = tracking.start_run()
            for step in range(10_000):
                run.log_metric("tick", step)
                print("tick", step, flush=True)
                time.sleep(0.02)
            """,
        ),
    )
    process = subprocess.Popen(
        launch.worker_command(registry.root, run_id),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=launch.worker_environment(),
        **launch.new_session_options(),
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(b"tick 3"):
            break

    process.send_signal(signal.SIGTERM)
    rest = process.stdout.read()
    code = process.wait(timeout=10)

    assert code == worker.EXIT_CODES[RunStatus.KILLED]
    run = registry.get_run(run_id)
    assert (run.status, run.status_reason) == (RunStatus.KILLED, STOPPED_REASON)
    assert run.metrics["tick"].count >= 4
    assert b"KILLED" in rest
    assert "tick 3" in artifact_text(registry, run_id, OUTPUT_ARTIFACT)


def test_the_stop_handlers_set_the_flag_and_are_restored() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    handlers = worker._install_stop_handlers(stop)
    try:
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_tee_passes_lines_on_captures_them_and_survives_a_broken_stream() -> None:
    capture = worker.OutputCapture()
    real = io.StringIO()
    tee = worker.TeeStream(real, capture)
    tee.write("one\n")
    tee.write_protocol("PROGRESS 1/2 half")
    real.close()  # the parent went away
    tee.write("two\n")
    tee.flush()

    assert capture.text() == "one\ntwo\n"


def test_the_capture_drops_the_oldest_text_beyond_its_limit() -> None:
    capture = worker.OutputCapture(limit_chars=10)
    for word in ("aaaa\n", "bbbb\n", "cccc\n"):
        capture.add(word)

    assert capture.text() == "[... 5 characters dropped ...]\nbbbb\ncccc\n"


def test_the_reporter_logs_progress_and_tells_the_parent(registry: Registry) -> None:
    run = registry.create_run("e")
    stop = threading.Event()
    capture = worker.OutputCapture()
    real = io.StringIO()
    active = start_run(registry=registry, parent=run.id, name="child")
    reporter = worker.RunReporter(active, stop, worker.TeeStream(real, capture))

    reporter.progress(3, 5, "fold 3\nof 5")
    reporter.log_metrics({"accuracy": 0.9}, step=0)
    assert not reporter.should_stop()
    stop.set()
    assert reporter.should_stop()
    active.end()

    assert real.getvalue() == "PROGRESS 3/5 fold 3 of 5\n"
    assert capture.text() == ""
    summary = registry.get_run(active.id).metrics
    assert summary["progress"].last == pytest.approx(0.6)
    assert summary["accuracy"].last == 0.9


def test_a_failed_script_reason_starts_with_its_error() -> None:
    tail = ["Traceback (most recent call last):", '  File "s.py"', "KeyError: 'x'", ""]

    reason = worker._script_failure("s.py", 1, tail)

    assert reason.splitlines()[0] == "KeyError: 'x'"
    assert "The script s.py exited with code 1." in reason
    assert worker._script_failure("s.py", 3, []) == "The script s.py exited with code 3."
