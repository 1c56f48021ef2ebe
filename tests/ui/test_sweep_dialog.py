"""Sweeping a job's hyperparameters from the window."""

from __future__ import annotations

from pathlib import Path

from desktop_app.registry import Registry, RunStatus
from desktop_app.ui.sweep_dialog import SweepDialog, parse_space_entry

ROWS = "\n".join(
    f"{i % 7 + 0.5 * (i % 3)},{(i * 3) % 5},{['a', 'b', 'c'][i % 3]}" for i in range(30)
)


def test_space_entries_as_typed() -> None:
    assert parse_space_entry("10..200", "int") == {"low": 10, "high": 200, "type": "int"}
    assert parse_space_entry("1e-4..1 log", "float") == {"low": 0.0001, "high": 1.0, "log": True}
    assert parse_space_entry("3, 5, None", "int") == [3, 5, "None"]
    assert parse_space_entry("gini, entropy", "choice") == ["gini", "entropy"]


def test_grid_sweep_runs_trials_and_marks_the_best(
    qtbot, registry: Registry, tmp_path: Path
) -> None:
    from desktop_app.training.catalog import hyperparameters
    from desktop_app.training.spec import parse_job

    (tmp_path / "data.csv").write_text("x1,x2,label\n" + ROWS + "\n")
    spec = parse_job(
        'experiment = "sweepy"\n[data]\npath = "data.csv"\ntarget = "label"\n'
        '[model]\nestimator = "RandomForestClassifier"\nparams = { random_state = 0 }\n'
        '[split]\nkind = "holdout"\ntest_size = 0.3\nseed = 0\n',
        tmp_path,
    )
    dialog = SweepDialog(registry, spec, hyperparameters("RandomForestClassifier"))
    qtbot.addWidget(dialog)
    dialog.method.setCurrentText("grid")
    dialog.trials.setValue(2)
    dialog.set_values("n_estimators", "2, 4")
    with qtbot.waitSignal(dialog.sig_finished, timeout=180_000) as ended:
        dialog.start()
    result = ended.args[0]
    assert not isinstance(result, BaseException), result
    assert result.status == RunStatus.FINISHED
    parent = registry.get_run(dialog.parent_id)
    trials = registry.get_runs(registry.search_runs(f'parent = "{parent.id}"', limit=None))
    assert sorted(t.params["n_estimators"] for t in trials) == ["2", "4"]
    best = parent.tags["best_trial"]
    assert best in {t.id for t in trials}
    assert "FINISHED" in dialog.status.text()
    dialog.show()
    dialog.grab().save("/tmp/modeldesk_sweep_dialog.png")


def test_a_bad_space_is_reported_without_creating_runs(
    qtbot, registry: Registry, tmp_path: Path
) -> None:
    from desktop_app.training.catalog import hyperparameters
    from desktop_app.training.spec import parse_job

    (tmp_path / "data.csv").write_text("x1,x2,label\n" + ROWS + "\n")
    spec = parse_job(
        '[data]\npath = "data.csv"\ntarget = "label"\n[model]\nestimator = "LogisticRegression"\n',
        tmp_path,
    )
    dialog = SweepDialog(registry, spec, hyperparameters("LogisticRegression"))
    qtbot.addWidget(dialog)
    dialog.method.setCurrentText("grid")
    dialog.set_values("C", "1..10")
    dialog.start()
    assert "sweep" in dialog.status.text() and registry.count_runs() == 0


def test_a_stopped_sweep_resumes_from_the_window(qtbot, registry: Registry, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMainWindow

    from desktop_app.training.sweep import parse_sweep, run_sweep, start_sweep
    from desktop_app.ui.training_actions import TrainingActions

    (tmp_path / "data.csv").write_text("x1,x2,label\n" + ROWS + "\n")
    spec = parse_sweep(
        '[data]\npath = "data.csv"\ntarget = "label"\n'
        '[model]\nestimator = "RandomForestClassifier"\nparams = { random_state = 0 }\n'
        '[split]\nkind = "holdout"\ntest_size = 0.3\nseed = 0\n'
        '[sweep]\nmethod = "grid"\nmetric = "accuracy"\n[sweep.space]\nn_estimators = [2, 4]\n',
        tmp_path,
    )
    parent = start_sweep(registry, spec)
    stopped = run_sweep(registry, parent, should_stop=lambda: True)
    assert stopped.status == RunStatus.KILLED
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = TrainingActions(window, registry, lambda: None, lambda: [parent])
    dialog = actions.resume_sweep()
    with qtbot.waitSignal(dialog.sig_finished, timeout=180_000) as ended:
        pass
    assert ended.args[0].status == RunStatus.FINISHED
    assert registry.get_run(parent).status == RunStatus.FINISHED
    assert registry.count_runs(f'parent = "{parent}"') == 2
