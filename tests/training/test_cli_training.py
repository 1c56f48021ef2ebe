"""``modeldesk train``, ``runs cancel`` and ``runs rerun``: real workers, real registries."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from click.testing import CliRunner, Result

from desktop_app.cli import cli
from desktop_app.cli_training import format_progress
from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.training import launch
from desktop_app.training.queue import OUTPUT_ARTIFACT, enqueue_job


def invoke(registry_path: Path, *args: str) -> Result:
    """Run the CLI in-process against ``registry_path``."""
    return CliRunner().invoke(cli, ["--registry", str(registry_path), *args])


def error_lines(result: Result) -> list[str]:
    """The ``Error:`` lines the command wrote to stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def script_job(folder: Path, body: str) -> Path:
    """A job file running ``body`` (dedented) as its script."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.py").write_text(textwrap.dedent(body))
    job = folder / "job.toml"
    job.write_text('experiment = "scripts"\nname = "scripted"\n\n[script]\npath = "script.py"\n')
    return job


def table_job(folder: Path, *, target: str = "species") -> Path:
    """The minimal sklearn job on a small, cleanly separable CSV table."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["bill,flipper,species"]
    for i in range(60):
        kind = ("adelie", "gentoo", "chinstrap")[i % 3]
        base = {"adelie": 38.0, "gentoo": 47.0, "chinstrap": 49.0}[kind]
        rows.append(f"{base + (i % 7) * 0.3:.1f},{180 + (i % 3) * 15 + i % 5},{kind}")
    (folder / "penguins.csv").write_text("\n".join(rows) + "\n")
    job = folder / "job.toml"
    job.write_text(
        textwrap.dedent(
            f"""\
            experiment = "penguins"
            [data]
            path = "penguins.csv"
            target = "{target}"
            [model]
            estimator = "RandomForestClassifier"
            params = {{ n_estimators = 10, random_state = 0 }}
            [split]
            kind = "kfold"
            folds = 3
            seed = 0
            """
        )
    )
    return job


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` is true (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


SLEEPS = """
    import subprocess, time
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


# ---- train -----------------------------------------------------------------------------------


def test_train_runs_a_job_shows_its_output_and_prints_the_run_id_last(
    tmp_path: Path, registry_path: Path
) -> None:
    job = script_job(
        tmp_path,
        """
        import sys
        from desktop_app import tracking
        run = tracking.start_run()
        run.log_metric("score", 0.75)
        print("PROGRESS 3/5 fold 3", flush=True)
        print("hello from the script")
        print("careful", file=sys.stderr)
        """,
    )

    result = invoke(registry_path, "train", str(job), "--experiment", "other")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    run_id = lines[-1]
    assert "[ 3/5] fold 3" in lines
    assert "hello from the script" in lines
    assert "careful" in result.stderr.splitlines()
    with Registry(registry_path) as registry:
        run = registry.get_run(run_id)
        assert run.status == RunStatus.FINISHED
        assert run.experiment_name == "other"
        assert run.metrics["score"].last == 0.75
        output = registry.artifacts.read_bytes(
            registry.get_artifact(run_id, OUTPUT_ARTIFACT).sha256
        )
    assert "hello from the script" in output.decode()


def test_train_of_a_failing_job_exits_1_with_its_status_and_reason(
    tmp_path: Path, registry_path: Path
) -> None:
    job = script_job(tmp_path, "raise ValueError('the data is upside down')\n")

    result = invoke(registry_path, "train", str(job))

    assert result.exit_code == 1
    run_id = result.stdout.splitlines()[-1]
    assert error_lines(result) == [
        f"Error: Run {run_id} FAILED: ValueError: the data is upside down"
    ]


def test_train_of_an_invalid_job_creates_no_run(tmp_path: Path, registry_path: Path) -> None:
    job = script_job(tmp_path, "print('hi')\n")
    (tmp_path / "script.py").unlink()

    result = invoke(registry_path, "train", str(job))

    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "script.path" in error_lines(result)[0]
    with Registry(registry_path) as registry:
        assert registry.search_runs() == []


def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path: Path, registry_path: Path) -> None:
    job = script_job(tmp_path, SLEEPS)
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "--registry", str(registry_path), "train", str(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = tmp_path / "grandchild.pid"
    wait_for(lambda: pid_file.exists() and bool(pid_file.read_text()))
    grandchild = psutil.Process(int(pid_file.read_text()))

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 130, stderr
    run_id = stdout.splitlines()[-1]
    assert "sleeping" in stdout
    assert f"Error: Run {run_id} KILLED: cancelled by user" in stderr.splitlines()
    with Registry(registry_path) as registry:
        run = registry.get_run(run_id)
    assert run.status == RunStatus.KILLED
    assert run.metrics["alive"].last == 1.0
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE


def test_train_fits_a_table_job_and_a_rerun_reproduces_its_metrics(
    tmp_path: Path, registry_path: Path
) -> None:
    # One test for both: each fit pays a few seconds of scikit-learn imports in its worker.
    result = invoke(registry_path, "train", str(table_job(tmp_path)))

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    old_id = lines[-1]
    assert any(re.fullmatch(r"\[ *\d+/\d+\] \S.*", line) for line in lines), lines
    with Registry(registry_path) as registry:
        old = registry.get_run(old_id)
        output = registry.artifacts.read_bytes(
            registry.get_artifact(old_id, OUTPUT_ARTIFACT).sha256
        )
    assert old.status == RunStatus.FINISHED
    assert old.experiment_name == "penguins"
    assert old.tags["job_kind"] == "sklearn"
    assert old.metrics["accuracy"].last > 0.5
    assert old.metrics["progress"].last == 1.0
    text = output.decode()
    assert "accuracy = " in text and f"Run {old_id} FINISHED" in text
    assert "PROGRESS" not in text

    again = invoke(registry_path, "runs", "rerun", old_id[:8], "--wait")

    assert again.exit_code == 0, again.stderr
    new_id = again.stdout.splitlines()[-1]
    assert new_id != old_id
    with Registry(registry_path) as registry:
        new = registry.get_run(new_id)
    assert new.status == RunStatus.FINISHED
    assert new.tags["rerun_of"] == old_id
    assert new.name == f"{old.name} (re-run)"
    assert new.experiment_name == old.experiment_name
    measured = {"progress", "fit_seconds", "peak_memory_mb"}  # not results of the model
    scores = {k: v.last for k, v in old.metrics.items() if k not in measured}
    assert scores and scores == {k: new.metrics[k].last for k in scores}


def test_train_of_a_job_without_its_target_column_creates_no_run(
    tmp_path: Path, registry_path: Path
) -> None:
    result = invoke(registry_path, "train", str(table_job(tmp_path, target="colour")))

    assert result.exit_code == 1
    assert len(error_lines(result)) == 1, result.stderr
    assert "colour" in error_lines(result)[0]
    assert result.stdout == ""
    with Registry(registry_path) as registry:
        assert registry.search_runs() == []


# ---- runs cancel / rerun ---------------------------------------------------------------------


# In-process CLI calls open their own Registry: these tests keep none open meanwhile (two open
# Registry objects of one folder in one process do not mix well).


def queue_script_job(registry_path: Path, job: Path, **options: str) -> str:
    """Create the QUEUED run of a job; return its id."""
    with Registry(registry_path) as registry:
        return enqueue_job(registry, job, **options)


def get_run(registry_path: Path, run_id: str) -> Run:
    """A run as stored now."""
    with Registry(registry_path) as registry:
        return registry.get_run(run_id)


def test_runs_cancel_ends_a_run_started_by_another_process(
    tmp_path: Path, registry_path: Path
) -> None:
    run_id = queue_script_job(registry_path, script_job(tmp_path, SLEEPS))
    launch.start_detached(registry_path.resolve(), run_id)
    pid_file = tmp_path / "grandchild.pid"
    wait_for(lambda: pid_file.exists() and bool(pid_file.read_text()))
    worker_process = psutil.Process(get_run(registry_path, run_id).pid)
    family = [worker_process, *worker_process.children(recursive=True)]

    result = invoke(registry_path, "runs", "cancel", run_id)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Cancelled run {run_id} (it was RUNNING).\n"
    assert get_run(registry_path, run_id).status == RunStatus.KILLED
    for process in family:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    again = invoke(registry_path, "runs", "cancel", run_id)
    assert again.exit_code == 1
    assert error_lines(again) == [f"Error: Run {run_id} has already ended (KILLED)."]


def test_runs_cancel_of_a_queued_run(tmp_path: Path, registry_path: Path) -> None:
    run_id = queue_script_job(registry_path, script_job(tmp_path, "print('never')\n"))

    result = invoke(registry_path, "runs", "cancel", run_id)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Cancelled run {run_id} (it was QUEUED).\n"
    assert get_run(registry_path, run_id).status == RunStatus.KILLED


def test_runs_rerun_starts_the_new_run_in_the_background(
    tmp_path: Path, registry_path: Path
) -> None:
    body = "from desktop_app import tracking\ntracking.start_run().log_metric('score', 0.25)\n"
    old_id = queue_script_job(registry_path, script_job(tmp_path, body), name="original")
    subprocess.run(launch.worker_command(registry_path, old_id), check=True, timeout=30)

    result = invoke(registry_path, "runs", "rerun", old_id)

    assert result.exit_code == 0, result.stderr
    new_id = result.stdout.strip()
    wait_for(lambda: get_run(registry_path, new_id).status.is_terminal)
    new = get_run(registry_path, new_id)
    assert new.status == RunStatus.FINISHED
    assert new.name == "original (re-run)"
    assert new.tags["rerun_of"] == old_id
    assert new.tags["job_kind"] == "script"
    assert new.metrics["score"].last == 0.25
    # The detached worker is gone once its run ended.
    pid = new.pid
    assert pid is not None
    wait_for(lambda: _is_zombie(pid))


def _is_zombie(pid: int) -> bool:
    """Whether the process is gone (or only waits to be reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_worker_commands_are_hidden(registry_path: Path) -> None:
    result = invoke(registry_path, "--help")

    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert "train" in listed
    assert "worker" not in listed and "run-script" not in listed


def test_progress_lines_are_aligned() -> None:
    assert format_progress(3, 5, "fold 3") == "[ 3/5] fold 3"
    assert format_progress(7, 120, "") == "[  7/120]"


def test_run_script_runs_a_script_as_main(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(__name__, sys.argv[1:])\n")

    result = subprocess.run(
        [sys.executable, "-m", "desktop_app", "run-script", str(script), "--flag", "x"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=30,
    )

    assert result.stdout == "__main__ ['--flag', 'x']\n", result.stderr
