"""The job form, the training queue dock and quitting with jobs in flight, as a user does it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from PySide6.QtWidgets import QSpinBox

from desktop_app.registry import Registry, RunStatus
from desktop_app.ui.job_form import JobForm
from desktop_app.ui.training_actions import CANCEL

CSV = textwrap.dedent(
    """\
    bill_length,bill_depth,island,species
    39.1,18.7,Torgersen,Adelie
    39.5,17.4,Torgersen,Adelie
    40.3,18.0,Dream,Adelie
    36.7,19.3,Torgersen,Adelie
    46.5,13.5,Biscoe,Gentoo
    45.4,14.6,Biscoe,Gentoo
    47.6,14.5,Biscoe,Gentoo
    46.1,13.2,Biscoe,Gentoo
    49.6,18.2,Dream,Chinstrap
    50.0,19.5,Dream,Chinstrap
    51.3,19.2,Dream,Chinstrap
    48.5,17.5,Dream,Chinstrap
    """
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "penguins.csv").write_text(CSV)
    return folder


def _filled_form(qtbot, data_dir: Path) -> JobForm:
    form = JobForm(base_dir=data_dir)
    qtbot.addWidget(form)
    form.experiment.setText("penguins")
    form.data_path.setText("penguins.csv")
    form.data_path.editingFinished.emit()
    qtbot.waitUntil(lambda: form.target.count() == 4, timeout=10_000)
    form.target.setCurrentText("species")
    qtbot.waitUntil(lambda: form.estimator.count() > 20, timeout=20_000)
    form.estimator.setCurrentText("RandomForestClassifier")
    qtbot.waitUntil(lambda: "n_estimators" in form.hyperparams._editors, timeout=10_000)
    spin = form.hyperparams.editor("n_estimators")
    assert isinstance(spin, QSpinBox) and spin.value() == 100
    spin.setValue(15)
    form.split_kind.setCurrentText("kfold")
    form.folds.setValue(2)
    return form


def test_form_writes_a_job_file_that_reads_back(qtbot, data_dir: Path) -> None:
    from desktop_app.training.spec import load_job

    form = _filled_form(qtbot, data_dir)
    target = data_dir / "job.toml"
    form.save_file(target)
    spec = load_job(target)
    assert spec.experiment == "penguins" and spec.data is not None
    assert spec.data.path == "penguins.csv" and spec.data.target == "species"
    assert spec.model is not None and spec.model.estimator == "RandomForestClassifier"
    assert spec.model.params == {"n_estimators": 15}
    assert (spec.split.kind, spec.split.folds) == ("kfold", 2)
    other = JobForm(base_dir=data_dir)
    qtbot.addWidget(other)
    other.load_file(target)
    assert other.spec().model.estimator == "RandomForestClassifier"
    form.grab().save("/tmp/modeldesk_job_form.png")


def test_problems_show_before_launch(qtbot, data_dir: Path) -> None:
    form = _filled_form(qtbot, data_dir)
    form.target.setCurrentText("specie")
    with qtbot.waitSignal(form.sig_checked, timeout=20_000) as checked:
        form.check()
    assert any("specie" in problem for problem in checked.args[0])
    assert "specie" in form.problems.text() and not form.problems.isHidden()


def test_run_from_the_window_cancel_and_quit(
    qtbot, registry: Registry, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.ui.main_window import MainWindow

    window = MainWindow(registry)
    qtbot.addWidget(window)
    window.training_actions._ask_on_quit = lambda _window: CANCEL
    form = window.training_actions.new_job()
    # While the user fills in the form, a spare worker imports scikit-learn, out of sight.
    queue = window.training_actions.panel.driver.queue
    qtbot.waitUntil(lambda: len(queue.spares()) == 1, timeout=10_000)
    assert window.training_actions.dock.isHidden()
    form._base_dir = data_dir
    form.experiment.setText("penguins")
    form.data_path.setText("penguins.csv")
    form.data_path.editingFinished.emit()
    qtbot.waitUntil(lambda: form.target.count() == 4, timeout=10_000)
    form.target.setCurrentText("species")
    qtbot.waitUntil(lambda: form.estimator.count() > 20, timeout=20_000)
    form.estimator.setCurrentText("LogisticRegression")
    form.folds.setValue(2)
    form.launch()
    panel = window.training_actions.panel
    qtbot.waitUntil(
        lambda: panel is not None or window.training_actions.panel is not None, timeout=20_000
    )
    panel = window.training_actions.panel
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=20_000)
    run_id = panel.selected_run_id()
    qtbot.waitUntil(
        lambda: panel.status_text(run_id) in ("Finished", "Failed", "Killed"), timeout=120_000
    )
    assert panel.status_text(run_id) == "Finished", registry.get_run(run_id).status_reason
    assert not window.training_actions.dock.isHidden()
    assert registry.get_run(run_id).status == RunStatus.FINISHED
    assert "accuracy" in registry.get_run(run_id).metrics
    assert panel.log.toPlainText().strip() != ""
    window.grab().save("/tmp/modeldesk_training.png")

    window.training_actions._selected = lambda: [run_id]
    window.training_actions.action_rerun.trigger()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=20_000)
    again = panel.selected_run_id()
    qtbot.waitUntil(
        lambda: panel.status_text(again) in ("Finished", "Failed", "Killed"), timeout=120_000
    )
    first, second = registry.get_run(run_id), registry.get_run(again)
    assert second.status == RunStatus.FINISHED and second.tags["rerun_of"] == run_id
    assert second.metrics["accuracy"].last == first.metrics["accuracy"].last

    script = data_dir / "slow.py"
    script.write_text(
        "import time\nfrom desktop_app import tracking\n"
        "with tracking.start_run() as run:\n"
        "    for i in range(600):\n        run.log_metric('tick', i)\n        time.sleep(0.1)\n"
    )
    (data_dir / "slow.toml").write_text('experiment = "slow"\n[script]\npath = "slow.py"\n')
    from desktop_app.training.queue import enqueue_job

    slow_id = enqueue_job(registry, data_dir / "slow.toml")
    panel.submit(slow_id)
    qtbot.waitUntil(lambda: panel.status_text(slow_id) == "Running", timeout=30_000)
    window.close()
    assert registry.get_run(slow_id).status == RunStatus.KILLED
    assert queue.spares() == []


def test_jobs_an_earlier_session_left_waiting_run_when_the_app_opens_again(
    qtbot, registry: Registry, data_dir: Path
) -> None:
    import subprocess
    import sys

    from desktop_app.training.queue import enqueue_job
    from desktop_app.ui.main_window import MainWindow

    (data_dir / "hello.py").write_text(
        "from desktop_app import tracking\n"
        "with tracking.start_run() as run:\n    run.log_metric('loss', 0.5)\n"
    )
    (data_dir / "hello.toml").write_text('experiment = "left"\n[script]\npath = "hello.py"\n')
    run_id = enqueue_job(registry, data_dir / "hello.toml")
    # The earlier session: queued the job, then quit with "leave running".
    earlier = (
        "import sys\nfrom desktop_app.registry import Registry\n"
        "from desktop_app.training.queue import JobQueue\n"
        "queue = JobQueue(Registry(sys.argv[1]), max_workers=1)\n"
        "queue.submit(sys.argv[2])\nqueue.shutdown(cancel=False)\n"
    )
    subprocess.run(
        [sys.executable, "-c", earlier, str(registry.root), run_id], check=True, timeout=60
    )
    assert registry.get_run(run_id).status == RunStatus.QUEUED

    window = MainWindow(registry)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.training_actions.panel is not None, timeout=10_000)
    panel = window.training_actions.panel
    assert "put back on the queue" in window.statusBar().currentMessage()
    assert not window.training_actions.dock.isHidden()
    qtbot.waitUntil(lambda: panel.status_text(run_id) == "Finished", timeout=60_000)
    assert registry.get_run(run_id).metrics["loss"].last == 0.5
    window.close()
