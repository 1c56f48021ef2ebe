"""Sweeps: trials as child runs in real worker processes, budgets, stop, resume, Dask, the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from child_processes import live_children

from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.training.queue import QueueEvent, QueueEventKind
from desktop_app.training.sweep import (
    Choice,
    SweepEvent,
    SweepSpecError,
    load_sweep,
    nulls_as_none_text,
    random_params,
    read_sweep,
    resume_sweep,
    run_sweep,
    start_sweep,
)

pytestmark = pytest.mark.slow

JOB = """\
experiment = "sweeps"
[data]
path = "data.csv"
target = "label"
[model]
estimator = "RandomForestClassifier"
params = {{ random_state = 0 }}
[split]
kind = "kfold"
folds = 2
seed = 0
[sweep]
{sweep}
[sweep.space]
{space}
"""


def worker_processes() -> list[psutil.Process]:
    """Training worker processes started from this process (directly or by Dask workers)."""
    found = []
    for process in live_children():
        try:
            if "--run" in process.cmdline():
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def _local_trials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials run in local processes unless a test names a Dask scheduler itself."""
    monkeypatch.delenv("MODELDESK_DASK_SCHEDULER", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a tiny two-class CSV (60 rows, the label mostly follows column a)."""
    folder = tmp_path / "project"
    folder.mkdir()
    rows = ["a,b,label"]
    for i in range(60):
        a, b = (i * 37 % 60) / 10, (i * 11 % 17) / 3
        label = "yes" if a + (0.8 if i % 7 == 0 else 0) > 3 else "no"
        rows.append(f"{a:.2f},{b:.2f},{label}")
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return folder


def write_sweep(folder: Path, sweep: str, space: str, name: str = "sweep.toml") -> Path:
    """A sweep file in ``folder`` over the tiny CSV."""
    path = folder / name
    path.write_text(JOB.format(sweep=textwrap.dedent(sweep), space=textwrap.dedent(space)))
    return path


def children(registry: Registry, parent_id: str) -> list[Run]:
    """The parent's child runs, by trial number."""
    runs = registry.get_runs(registry.search_runs(f'parent = "{parent_id}"', limit=None))
    return sorted(runs, key=lambda r: int(r.tags["sweep_trial"]))


def trial_params(run: Run) -> dict[str, Any]:
    """The params the sweep gave a trial."""
    params: dict[str, Any] = json.loads(run.tags["sweep_params"])
    return params


def assert_best_marked(registry: Registry, parent_id: str, metric: str = "accuracy") -> Run:
    """``best_trial`` names the FINISHED child with the best metric, the only one ``is_best``."""
    parent = registry.get_run(parent_id)
    finished = [c for c in children(registry, parent_id) if c.status == RunStatus.FINISHED]
    best_value = max(c.metrics[metric].last for c in finished)
    best = registry.get_run(parent.tags["best_trial"])
    assert best.parent_id == parent_id
    assert best.metrics[metric].last == best_value
    marked = [c.id for c in children(registry, parent_id) if c.tags.get("is_best") == "true"]
    assert marked == [best.id]
    assert parent.metrics[f"best_{metric}"].last == best_value
    return best


class InstantQueue:
    """A queue that ends every trial at once in this process, scored from its params.

    Only for checking which params a seeded sweep proposes, without paying for fits twice.
    """

    def __init__(self, registry: Registry, max_workers: int | None = None) -> None:
        self.registry = registry
        self.max_workers = max_workers or 1
        self._waiting: list[str] = []
        self._ended: list[QueueEvent] = []

    def submit(self, run_id: str) -> None:
        self._waiting.append(run_id)

    def cancel(self, run_id: str) -> None:
        self._waiting.remove(run_id)
        self.registry.set_run_status(run_id, RunStatus.KILLED, "cancelled")
        self._ended.append(QueueEvent(QueueEventKind.KILLED, run_id))

    def poll(self) -> list[QueueEvent]:
        events, self._ended = self._ended, []
        for run_id in self._waiting[: self.max_workers]:
            params = json.loads(self.registry.get_run(run_id).tags["sweep_params"])
            score = (sum(len(repr(v)) for v in params.values()) % 7) / 7
            self.registry.set_run_status(run_id, RunStatus.RUNNING)
            self.registry.log_metric(run_id, "accuracy", score)
            self.registry.set_run_status(run_id, RunStatus.FINISHED)
            events.append(QueueEvent(QueueEventKind.FINISHED, run_id))
        del self._waiting[: self.max_workers]
        return events

    def running(self) -> list[str]:
        return []

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def shutdown(self, cancel: bool) -> list[QueueEvent]:
        return []


def params_by_trial(registry: Registry, parent_id: str) -> list[dict[str, Any]]:
    """The params of every trial of a sweep, in trial order."""
    return [trial_params(c) for c in children(registry, parent_id)]


# ---- searching ---------------------------------------------------------------------------------


def test_grid_runs_every_combination_as_child_runs_and_marks_the_best(
    project: Path, registry: Registry
) -> None:
    path = write_sweep(
        project,
        'method = "grid"\nmetric = "accuracy"\nparallel = 2',
        "n_estimators = [2, 4]\nmax_depth = [1, null]",
    )
    spec = load_sweep(path)
    parent_id = start_sweep(registry, spec)
    parent = registry.get_run(parent_id)
    assert parent.status == RunStatus.RUNNING
    assert {k: parent.tags[k] for k in ("sweep_method", "sweep_metric", "sweep_direction")} == {
        "sweep_method": "grid",
        "sweep_metric": "accuracy",
        "sweep_direction": "maximize",
    }
    stored = registry.get_artifact(parent_id, "sweep.toml")
    assert registry.artifacts.read_bytes(stored.sha256).decode() == path.read_text()
    events: list[SweepEvent] = []

    result = run_sweep(registry, parent_id, on_event=events.append)

    assert result.status == RunStatus.FINISHED
    assert registry.get_run(parent_id).status == RunStatus.FINISHED
    runs = children(registry, parent_id)
    assert [r.name for r in runs] == ["trial 1", "trial 2", "trial 3", "trial 4"]
    assert all(r.status == RunStatus.FINISHED for r in runs)
    combos = [(p["n_estimators"], p["max_depth"]) for p in map(trial_params, runs)]
    assert sorted(combos, key=repr) == sorted([(2, 1), (2, None), (4, 1), (4, None)], key=repr)
    # The trial's params reached the fitted estimator (the worker logs them as run params).
    assert [(r.params["n_estimators"], r.params["max_depth"]) for r in runs] == [
        (str(n), str(d)) for n, d in combos
    ]
    best = assert_best_marked(registry, parent_id)
    assert result.best is not None and result.best.run_id == best.id
    history = registry.get_metric_history(parent_id, "best_accuracy")
    assert list(history.steps) == [1, 2, 3, 4]
    ended = [e for e in events if e.kind == "trial_ended"]
    assert [e.done for e in ended] == [1, 2, 3, 4] and {e.budget for e in ended} == {4}


def test_random_sweep_keeps_to_its_trial_budget_and_its_seed(
    project: Path, registry: Registry
) -> None:
    space = """\
        n_estimators = { low = 2, high = 40, log = true, type = "int" }
        max_depth = [1, 2, 3, null]
        min_impurity_decrease = { low = 0.0, high = 0.2 }
    """
    path = write_sweep(
        project, 'method = "random"\nmetric = "accuracy"\ntrials = 2\nparallel = 3\nseed = 7', space
    )
    spec = load_sweep(path)
    parent_id = start_sweep(registry, spec)

    result = run_sweep(registry, parent_id)

    assert result.status == RunStatus.FINISHED and result.done == 2
    runs = children(registry, parent_id)
    assert len(runs) == 2 and all(r.status == RunStatus.FINISHED for r in runs)
    drawn = params_by_trial(registry, parent_id)
    assert drawn == [random_params(spec.space, 7, n) for n in (1, 2)]
    assert_best_marked(registry, parent_id)
    # The same seed draws the same sequence again; another seed does not.
    again = start_sweep(registry, spec)
    run_sweep(registry, again, queue_factory=InstantQueue)
    assert params_by_trial(registry, again) == drawn
    other = start_sweep(
        registry,
        load_sweep(
            write_sweep(
                project,
                'method = "random"\nmetric = "accuracy"\ntrials = 2\nseed = 8',
                space,
                "b.toml",
            )
        ),
    )
    run_sweep(registry, other, queue_factory=InstantQueue)
    assert params_by_trial(registry, other) != drawn


def test_optuna_sweep_keeps_to_its_trial_budget_and_its_seed(
    project: Path, registry: Registry
) -> None:
    path = write_sweep(
        project,
        'method = "optuna"\nmetric = "accuracy"\ntrials = 2\nparallel = 3\nseed = 3',
        'n_estimators = { low = 2, high = 30, type = "int" }\ncriterion = ["gini", "entropy"]',
    )
    spec = load_sweep(path)
    parent_id = start_sweep(registry, spec)

    result = run_sweep(registry, parent_id)

    assert result.status == RunStatus.FINISHED and result.done == 2
    runs = children(registry, parent_id)
    assert len(runs) == 2 and all(r.status == RunStatus.FINISHED for r in runs)
    assert all(2 <= p["n_estimators"] <= 30 for p in params_by_trial(registry, parent_id))
    assert_best_marked(registry, parent_id)
    again = start_sweep(registry, spec)
    run_sweep(registry, again, queue_factory=InstantQueue)
    assert params_by_trial(registry, again) == params_by_trial(registry, parent_id)


# ---- ending ------------------------------------------------------------------------------------


def test_a_minutes_budget_ends_the_sweep_early(project: Path, registry: Registry) -> None:
    path = write_sweep(
        project,
        'method = "random"\nmetric = "accuracy"\ntrials = 50\nminutes = 0.02\nparallel = 1',
        "n_estimators = [2, 3, 4]",
    )
    parent_id = start_sweep(registry, load_sweep(path))
    started = time.monotonic()

    result = run_sweep(registry, parent_id)

    assert time.monotonic() - started < 20
    assert result.status == RunStatus.FINISHED
    runs = children(registry, parent_id)
    assert 1 <= len(runs) < 50
    assert all(r.status.is_terminal for r in runs)
    cut = [r for r in runs if r.status == RunStatus.KILLED]
    assert all(r.status_reason == "sweep time budget reached" for r in cut)
    assert float(registry.get_run(parent_id).tags["sweep_elapsed_s"]) >= 1.2


def test_should_stop_cancels_the_running_trials_and_kills_the_parent(
    project: Path, registry: Registry
) -> None:
    path = write_sweep(
        project,
        'method = "grid"\nmetric = "accuracy"\nparallel = 2',
        "n_estimators = [2, 3, 4, 5]",
    )
    parent_id = start_sweep(registry, load_sweep(path))

    def a_trial_runs() -> bool:
        return any(c.status == RunStatus.RUNNING for c in children(registry, parent_id))

    result = run_sweep(registry, parent_id, should_stop=a_trial_runs)

    parent = registry.get_run(parent_id)
    assert result.status == parent.status == RunStatus.KILLED
    assert parent.status_reason == "stopped by user"
    runs = children(registry, parent_id)
    assert runs and all(r.status.is_terminal for r in runs)
    assert RunStatus.KILLED in {r.status for r in runs}
    assert registry.search_runs(f'parent = "{parent_id}" and status = RUNNING') == []


def test_resume_continues_to_the_budget_without_repeating_grid_combinations(
    project: Path, registry: Registry
) -> None:
    path = write_sweep(
        project,
        'method = "grid"\nmetric = "accuracy"\nparallel = 2',
        "n_estimators = [2, 3, 4]",
    )
    parent_id = start_sweep(registry, load_sweep(path))
    ended: list[SweepEvent] = []

    def two_done() -> bool:
        return sum(e.trial.status == RunStatus.FINISHED for e in ended) >= 2

    first = run_sweep(registry, parent_id, should_stop=two_done, on_event=ended.append)
    assert first.status == RunStatus.KILLED
    done_before = [
        trial_params(c)["n_estimators"]
        for c in children(registry, parent_id)
        if c.status == RunStatus.FINISHED
    ]
    assert len(done_before) == 2

    result = resume_sweep(registry, parent_id)

    assert result.status == registry.get_run(parent_id).status == RunStatus.FINISHED
    finished = [c for c in children(registry, parent_id) if c.status == RunStatus.FINISHED]
    assert sorted(trial_params(c)["n_estimators"] for c in finished) == [2, 3, 4]
    assert result.done == 3
    numbers = [int(c.tags["sweep_trial"]) for c in children(registry, parent_id)]
    assert len(numbers) == len(set(numbers))
    assert_best_marked(registry, parent_id)
    assert list(registry.get_metric_history(parent_id, "best_accuracy").steps)[-1] == 3


def test_an_optuna_resume_rebuilds_the_study_and_draws_new_params(
    project: Path, registry: Registry
) -> None:
    from desktop_app.training import sweep

    path = write_sweep(
        project,
        'method = "optuna"\nmetric = "accuracy"\ntrials = 4\nparallel = 1\nseed = 5',
        'n_estimators = { low = 2, high = 100000, log = true, type = "int" }',
    )
    spec = load_sweep(path)
    parent_id = start_sweep(registry, spec)
    ended: list[SweepEvent] = []
    first = run_sweep(
        registry,
        parent_id,
        queue_factory=InstantQueue,
        on_event=ended.append,
        should_stop=lambda: len([e for e in ended if e.kind == "trial_ended"]) >= 2,
    )
    assert first.status == RunStatus.KILLED and first.done == 2

    history = sweep.sweep_trials(registry, parent_id)
    study = sweep._OptunaProposer(spec, history).study
    assert [t.value for t in study.trials] == [t.value for t in history]
    assert [t.params for t in study.trials] == [t.params for t in history]

    result = resume_sweep(registry, parent_id, queue_factory=InstantQueue)

    assert result.status == RunStatus.FINISHED and result.done == 4
    drawn = [p["n_estimators"] for p in params_by_trial(registry, parent_id)]
    assert len(drawn) == 4 and len(set(drawn)) == 4


# ---- sweep files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sweep", "space", "message"),
    [
        (
            'method = "bayes"\nmetric = "accuracy"',
            "n_estimators = [2]",
            "sweep.method: unknown method 'bayes'",
        ),
        ('method = "grid"\nmetric = "accuracy"', "", "sweep.space: is empty"),
        (
            'method = "grid"\nmetric = "accuracy"',
            "n_trees = [2, 3]",
            "sweep.space.n_trees: RandomForestClassifier has no hyperparameter 'n_trees'",
        ),
        (
            'method = "random"\nmetric = "accuracy"\ntrials = 2',
            "n_estimators = { low = 200, high = 10 }",
            "sweep.space.n_estimators: low (200) is above high (10)",
        ),
        (
            'method = "grid"\nmetric = "accuracy"',
            "min_impurity_decrease = { low = 0.0, high = 0.5 }",
            "sweep.space.min_impurity_decrease: the grid method needs values it can list",
        ),
        (
            'method = "random"\nmetric = "accuracy"',
            "n_estimators = [2, 3]",
            "sweep: a random sweep needs a budget",
        ),
        (
            'method = "grid"\nmetric = "accuracy"\ntrails = 3',
            "n_estimators = [2]",
            "sweep.trails: unknown key (did you mean 'trials'?)",
        ),
        (
            'method = "grid"\nmetric = "accuracy"',
            'criterion = ["gini", "bogus"]',
            "sweep.space.criterion: value 'bogus' is not accepted",
        ),
        (
            'method = "grid"\nmetric = "accuracy"',
            "n_estimators = 5",
            "sweep.space.n_estimators: give a list",
        ),
    ],
)
def test_bad_sweep_files_give_precise_errors(
    project: Path, sweep: str, space: str, message: str
) -> None:
    path = write_sweep(project, sweep + "\n", space)

    with pytest.raises(SweepSpecError) as caught:
        load_sweep(path)

    assert caught.value.message.startswith("sweep.toml: ")
    assert message in caught.value.message


def test_a_file_without_a_sweep_table_is_refused(project: Path) -> None:
    path = project / "job.toml"
    path.write_text(JOB.format(sweep="", space="").split("[sweep]")[0])
    with pytest.raises(SweepSpecError, match=r"sweep: missing"):
        load_sweep(path)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("r2", "sweep.metric: 'r2' is a regression metric but the job is classification"),
        ("f1_weighted", "sweep.metric: the job does not report 'f1_weighted'"),
    ],
)
def test_a_metric_the_trials_would_not_report_is_refused_before_any_run(
    project: Path, registry: Registry, metric: str, message: str
) -> None:
    path = write_sweep(project, f'method = "grid"\nmetric = "{metric}"', "n_estimators = [2]")

    with pytest.raises(SweepSpecError, match=message):
        start_sweep(registry, load_sweep(path))

    assert registry.search_runs() == []


def test_a_sweep_built_in_code_is_stored_as_a_sweep_file(project: Path, registry: Registry) -> None:
    path = write_sweep(
        project,
        'method = "random"\nmetric = "accuracy"\ntrials = 4\nminutes = 2.5',
        "max_depth = [2, null]\nccp_alpha = { low = 0.001, high = 0.1, log = true }",
    )
    spec = dataclasses.replace(load_sweep(path), text="")

    parent_id = start_sweep(registry, spec)

    assert dataclasses.replace(read_sweep(registry, parent_id), text="") == spec


def test_null_and_none_both_mean_none_outside_strings_and_comments(project: Path) -> None:
    text = 'a = [3, null, "null"]  # null\nb = { null = 1 }\n[null]\nc = """null"""\n'
    assert nulls_as_none_text(text) == (
        'a = [3, "None", "null"]  # null\nb = { null = 1 }\n[null]\nc = """null"""\n'
    )
    path = write_sweep(
        project, 'method = "grid"\nmetric = "accuracy"', 'max_depth = [2, null, "None"]'
    )
    with pytest.raises(SweepSpecError, match="listed twice: None"):
        load_sweep(path)
    path = write_sweep(project, 'method = "grid"\nmetric = "accuracy"', "max_depth = [2, null]")
    spec = load_sweep(path)
    assert spec.space == {"max_depth": Choice((2, None))}
    assert spec.trial_budget() == 2


# ---- Dask --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_a_dask_local_cluster_runs_the_trials_and_cancels_them(
    project: Path, registry: Registry
) -> None:
    from distributed import LocalCluster

    path = write_sweep(project, 'method = "grid"\nmetric = "accuracy"', "n_estimators = [2, 3]")
    spec = load_sweep(path)
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        parent_id = start_sweep(registry, spec)
        result = run_sweep(registry, parent_id, dask_address=cluster.scheduler_address)

        assert result.status == RunStatus.FINISHED
        runs = children(registry, parent_id)
        assert len(runs) == 2
        for run in runs:
            assert run.status == RunStatus.FINISHED
            assert 0.0 <= run.metrics["accuracy"].last <= 1.0
            assert run.tags["dask_worker"].startswith("tcp://127.0.0.1:")
        assert registry.get_run(parent_id).tags["sweep_backend"].startswith("dask tcp://")
        assert_best_marked(registry, parent_id)

        stopped = start_sweep(registry, spec)

        def a_trial_runs() -> bool:
            return any(c.status == RunStatus.RUNNING for c in children(registry, stopped))

        result = run_sweep(
            registry, stopped, dask_address=cluster.scheduler_address, should_stop=a_trial_runs
        )

        assert result.status == RunStatus.KILLED
        assert all(c.status == RunStatus.KILLED for c in children(registry, stopped))
        deadline = time.monotonic() + 10
        while worker_processes():
            assert time.monotonic() < deadline, "a cancelled trial's worker is still running"
            time.sleep(0.1)


# ---- the command line --------------------------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_app", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_the_cli_prints_a_line_per_trial_and_the_parent_id_last(
    project: Path, registry_path: Path
) -> None:
    path = write_sweep(
        project, 'method = "grid"\nmetric = "accuracy"\nparallel = 2', "n_estimators = [2, 3]"
    )
    process = _cli("sweep", str(path), "--registry", str(registry_path), cwd=project)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    for line in lines[:2]:
        assert line.startswith(("trial 1/2  accuracy 0.", "trial 2/2  accuracy ")), line
        assert "  best " in line and "(trial " in line
    with Registry(registry_path) as registry:
        parent = registry.get_run(lines[-1])
        assert parent.status == RunStatus.FINISHED
        assert len(children(registry, parent.id)) == 2


def test_ctrl_c_stops_the_cli_sweep_with_exit_code_130(project: Path, registry_path: Path) -> None:
    path = write_sweep(
        project, 'method = "grid"\nmetric = "accuracy"\nparallel = 1', "n_estimators = [2, 3]"
    )
    process = _cli("sweep", str(path), "--registry", str(registry_path), cwd=project)
    try:
        wait_for(lambda: _a_run_is(registry_path, RunStatus.RUNNING, child=True), 60)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, err
    parent_id = out.strip().splitlines()[-1]
    with Registry(registry_path) as registry:
        parent = registry.get_run(parent_id)
        assert parent.status == RunStatus.KILLED
        assert all(c.status.is_terminal for c in children(registry, parent_id))


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Wait until ``condition()`` is true (checked every 50 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _a_run_is(registry_path: Path, status: RunStatus, *, child: bool) -> bool:
    if not (registry_path / "registry.db").exists():
        return False
    query = f"status = {status}" + (" and parent is not null" if child else "")
    try:
        with Registry(registry_path, create=False) as registry:
            return bool(registry.search_runs(query))
    except Exception:  # the CLI may still be creating the registry
        return False
