"""The tracking API as a user's script sees it."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from desktop_app import tracking
from desktop_app.errors import ConflictError, InvalidValueError
from desktop_app.registry import Registry, RunStatus


def test_run_logs_params_metrics_tags_and_finishes(registry_path: Path) -> None:
    with tracking.start_run(
        experiment="exp",
        name="first",
        params={"lr": 0.1, "model": "rf"},
        tags={"team": "a"},
        registry=registry_path,
    ) as run:
        for step in range(10):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": 0.5, "f1": 0.25})
        run.set_tags({"stage": "dev"})
    reg = Registry(registry_path)
    stored = reg.get_run(run.id)
    assert stored.status == RunStatus.FINISHED
    assert stored.name == "first" and stored.experiment_name == "exp"
    assert stored.params == {"lr": "0.1", "model": "rf"}
    assert stored.tags == {"team": "a", "stage": "dev"}
    loss = reg.get_metric_history(run.id, "loss")
    assert loss.steps.tolist() == list(range(10))
    assert loss.values.tolist() == [1.0 / (s + 1) for s in range(10)]
    summary = stored.metrics["loss"]
    assert (summary.last, summary.min, summary.min_step, summary.max, summary.max_step) == (
        0.1,
        0.1,
        9,
        1.0,
        0,
    )
    assert stored.end_time is not None and stored.end_time >= stored.start_time


def test_steps_default_to_the_next_step_of_each_metric(registry_path: Path) -> None:
    with tracking.start_run(registry=registry_path) as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.9)
    reg = Registry(registry_path)
    assert reg.get_metric_history(run.id, "loss").steps.tolist() == [0, 1, 2]
    assert reg.get_metric_history(run.id, "acc").steps.tolist() == [0]


def test_exception_marks_run_failed_with_message_and_propagates(registry_path: Path) -> None:
    with pytest.raises(ValueError, match="bad data"):
        with tracking.start_run(registry=registry_path) as run:
            run.log_metric("loss", 1.0)
            raise ValueError("bad data")
    stored = Registry(registry_path).get_run(run.id)
    assert stored.status == RunStatus.FAILED
    assert stored.status_reason.startswith("ValueError: bad data")
    assert stored.metrics["loss"].last == 1.0


def test_keyboard_interrupt_marks_run_killed(registry_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with tracking.start_run(registry=registry_path) as run:
            raise KeyboardInterrupt
    assert Registry(registry_path).get_run(run.id).status == RunStatus.KILLED


def test_nan_and_inf_are_kept_as_metric_values(registry_path: Path) -> None:
    with tracking.start_run(registry=registry_path) as run:
        run.log_metric("x", 1.0, step=0)
        run.log_metric("x", math.nan, step=1)
        run.log_metric("x", math.inf, step=2)
        run.log_metric("x", -math.inf, step=3)
    series = Registry(registry_path).get_metric_history(run.id, "x")
    assert series.values[0] == 1.0 and math.isnan(series.values[1])
    assert series.values[2] == math.inf and series.values[3] == -math.inf
    summary = Registry(registry_path).get_run(run.id).metrics["x"]
    assert summary.min == -math.inf and summary.max == math.inf and summary.count == 4


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("acc", "high", "must be a number"),
        ("acc", None, "must be a number"),
        ("acc", True, "must be a number"),
        ("a" * 300, 1.0, "limit is 250"),
        ("bad*key", 1.0, "characters other than"),
        ("", 1.0, "empty"),
    ],
)
def test_bad_metric_values_raise_a_clear_error_and_store_nothing(
    registry_path: Path, key: str, value: object, message: str
) -> None:
    with tracking.start_run(registry=registry_path) as run:
        with pytest.raises(InvalidValueError, match=message):
            run.log_metric(key, value)  # type: ignore[arg-type]
    assert Registry(registry_path).get_run(run.id).metrics == {}


def test_param_relogged_with_another_value_is_refused_and_kept(registry_path: Path) -> None:
    with tracking.start_run(registry=registry_path, params={"lr": 0.1}) as run:
        run.log_params({"lr": 0.1})  # the same value is fine
        with pytest.raises(ConflictError, match=r"already '0\.1'"):
            run.log_params({"lr": 0.2, "depth": 3})
    stored = Registry(registry_path).get_run(run.id)
    assert stored.params == {"lr": "0.1"}


def test_param_conflict_is_caught_across_processes(registry_path: Path) -> None:
    reg = Registry(registry_path)
    created = reg.create_run("e", params={"lr": "0.1"})
    with pytest.raises(ConflictError):
        reg.log_params(created.id, {"lr": "0.3"})
    assert reg.get_run(created.id).params == {"lr": "0.1"}


def test_nested_runs_record_their_parent(registry_path: Path) -> None:
    with tracking.start_run(experiment="sweep", registry=registry_path) as parent:
        with tracking.start_run(name="child-a", registry=registry_path) as child:
            child.log_metric("score", 1.0)
        assert tracking.active_run() is parent
    reg = Registry(registry_path)
    stored = reg.get_run(child.id)
    assert stored.parent_id == parent.id
    assert stored.experiment_name == "sweep"


def test_buffered_points_reach_the_database_within_a_second(registry_path: Path) -> None:
    reader = Registry(registry_path)
    with tracking.start_run(registry=registry_path) as run:
        run.log_metric("loss", 0.5)
        deadline = time.monotonic() + 5
        while "loss" not in reader.get_metric_summaries(run.id):
            assert time.monotonic() < deadline, "the flusher did not write the point"
            time.sleep(0.05)


def test_log_artifact_and_model_are_content_addressed(registry_path: Path, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from desktop_app.registry.model_files import load_model

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    data_file = tmp_path / "notes.txt"
    data_file.write_text("hello")
    with tracking.start_run(registry=registry_path) as run:
        artifact = run.log_artifact(data_file)
        model_artifact = run.log_model(model, "clf")
    reg = Registry(registry_path)
    assert artifact.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert reg.artifacts.read_bytes(artifact.sha256) == b"hello"
    paths = [a.path for a in reg.list_artifacts(run.id)]
    assert paths == ["models/clf.json", "models/clf.skops", "notes.txt"]
    loaded = load_model(reg.artifacts.read_bytes(model_artifact.sha256))
    assert (loaded.predict(X) == model.predict(X)).all()


def _run_script(tmp_path: Path, body: str, **env: str) -> subprocess.Popen[str]:
    script = tmp_path / "script.py"
    script.write_text(body)
    return subprocess.Popen(
        [sys.executable, str(script)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_unhandled_exception_in_a_script_marks_its_run_failed(
    registry_path: Path, tmp_path: Path
) -> None:
    proc = _run_script(
        tmp_path,
        "from desktop_app import tracking\n"
        f"run = tracking.start_run(registry={str(registry_path)!r})\n"
        "print(run.id, flush=True)\n"
        "run.log_metric('loss', 2.0)\n"
        "raise RuntimeError('diverged')\n",
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "diverged" in err
    stored = Registry(registry_path).get_run(out.strip())
    assert stored.status == RunStatus.FAILED
    assert "RuntimeError: diverged" in stored.status_reason
    assert stored.metrics["loss"].last == 2.0


def test_script_without_context_manager_finishes_at_exit(
    registry_path: Path, tmp_path: Path
) -> None:
    proc = _run_script(
        tmp_path,
        "from desktop_app import tracking\n"
        f"run = tracking.start_run(registry={str(registry_path)!r})\n"
        "print(run.id, flush=True)\n"
        "for i in range(100): run.log_metric('loss', 1 / (i + 1))\n",
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    stored = Registry(registry_path).get_run(out.strip())
    assert stored.status == RunStatus.FINISHED
    assert stored.metrics["loss"].count == 100


def test_sigterm_marks_run_killed_and_keeps_its_points(registry_path: Path, tmp_path: Path) -> None:
    proc = _run_script(
        tmp_path,
        "import time\n"
        "from desktop_app import tracking\n"
        f"with tracking.start_run(registry={str(registry_path)!r}) as run:\n"
        "    print(run.id, flush=True)\n"
        "    for i in range(10**9):\n"
        "        run.log_metric('loss', 1 / (i + 1))\n"
        "        if i == 50: run.flush(); print('flushed', flush=True)\n"
        "        time.sleep(0.001)\n",
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "flushed"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    stored = Registry(registry_path).get_run(run_id)
    assert stored.status == RunStatus.KILLED
    assert stored.metrics["loss"].count >= 51


def test_job_run_id_in_environment_attaches_to_that_run(
    registry_path: Path, tmp_path: Path
) -> None:
    reg = Registry(registry_path)
    prepared = reg.create_run("jobs", name="job", status=RunStatus.QUEUED)
    proc = _run_script(
        tmp_path,
        "from desktop_app import tracking\n"
        f"with tracking.start_run(registry={str(registry_path)!r}, params={{'k': 1}}) as run:\n"
        "    print(run.id)\n"
        "    run.log_metric('score', 0.75)\n",
        MODELDESK_RUN_ID=prepared.id,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == prepared.id
    stored = reg.get_run(prepared.id)
    assert stored.params == {"k": "1"} and stored.metrics["score"].last == 0.75
    assert reg.count_runs() == 1


def test_summary_matches_numpy_on_unordered_steps_with_nan(registry: Registry) -> None:
    rng = np.random.default_rng(0)
    run = registry.create_run("e")
    steps = rng.permutation(300)
    values = rng.normal(size=300)
    values[rng.choice(300, 20, replace=False)] = np.nan
    points = [
        ("m", float(v), int(s), 1000.0 + i)
        for i, (s, v) in enumerate(zip(steps, values, strict=True))
    ]
    for start in range(0, 300, 37):
        registry.log_batch(run.id, metrics=points[start : start + 37])
    series = registry.get_metric_history(run.id, "m")
    assert series.steps.tolist() == sorted(steps.tolist())
    summary = registry.get_run(run.id).metrics["m"]
    assert summary.min == np.nanmin(values) and summary.max == np.nanmax(values)
    assert summary.min_step == int(steps[np.nanargmin(values)])
    last_value = values[steps == 299][0]
    assert summary.last_step == 299
    assert (math.isnan(summary.last) and math.isnan(last_value)) or summary.last == last_value
    assert summary.count == 300
