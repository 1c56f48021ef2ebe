"""Edit > Preferences: training preferences a user sets once and the app then follows."""

from __future__ import annotations

import pytest

from desktop_app.registry import Registry
from desktop_app.ui import settings


@pytest.fixture
def window(qtbot, registry: Registry):
    from desktop_app.ui.main_window import MainWindow

    window = MainWindow(registry)
    qtbot.addWidget(window)
    yield window
    window.close()


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_preferences_test_the_dask_scheduler_and_apply_to_the_queue(qtbot, window) -> None:
    from distributed import LocalCluster

    queue = window.training_actions.prepare_queue().driver.queue
    qtbot.waitUntil(lambda: len(queue.spares()) == 1, timeout=10_000)

    window.action_preferences.trigger()
    dialog = window.preferences_dialog
    assert dialog.warm_worker.isChecked() and dialog.dask_address.text() == ""

    dialog.dask_address.setText("tcp://127.0.0.1:1")  # nothing listens there
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "Cannot reach" in dialog.dask_status.text(), timeout=20_000)
    qtbot.waitUntil(dialog.test_button.isEnabled)

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dialog.dask_address.setText(cluster.scheduler_address)
        dialog.test_button.click()
        qtbot.waitUntil(lambda: "Connected" in dialog.dask_status.text(), timeout=20_000)
        assert "1 worker, 2 threads" in dialog.dask_status.text()
        qtbot.waitUntil(dialog.test_button.isEnabled)

        dialog.parallel_jobs.setValue(3)
        dialog.warm_worker.setChecked(False)
        dialog.accept()

    chosen = settings.training_preferences()
    assert chosen.parallel_jobs == 3 and not chosen.warm_worker
    assert chosen.dask_scheduler == cluster.scheduler_address
    assert queue.max_workers == 3
    assert queue.spares() == []  # the warm worker was let go


def test_a_sweep_dialog_starts_with_the_preferred_dask_scheduler(qtbot, window) -> None:
    from desktop_app.training.spec import DataSpec, JobSpec, ModelSpec
    from desktop_app.ui.sweep_dialog import SweepDialog

    settings.save_training_preferences(
        settings.TrainingPreferences(dask_scheduler="tcp://cluster.local:8786")
    )
    spec = JobSpec(
        experiment="e",
        data=DataSpec(path="d.csv", target="y"),
        model=ModelSpec("LogisticRegression", {}),
    )
    dialog = SweepDialog(window.registry, spec, [], window)
    qtbot.addWidget(dialog)
    assert dialog.dask_address.text() == "tcp://cluster.local:8786"
