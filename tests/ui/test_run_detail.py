"""The run detail panel shows a run's data, saves edits through the registry and never blocks."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPointF, Qt, QThreadPool, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QFileDialog

from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.ui.run_detail import EMPTY_TEXT, RunDetailPanel, human_size

TIMEOUT_MS = 15_000
TRACEBACK = """Traceback (most recent call last):
  File "/home/ana/projects/churn/train.py", line 88, in <module>
    main()
  File "/home/ana/projects/churn/train.py", line 71, in main
    model.fit(X_train, y_train)
  File "/home/ana/.venv/lib/python3.11/site-packages/sklearn/base.py", line 1151, in wrapper
    return fit_method(estimator, *args, **kwargs)
ValueError: Input X contains NaN. HistGradientBoostingClassifier does not accept missing values."""


# ---- data ------------------------------------------------------------------------------------


def training_run(registry: Registry, tmp_path: Path, *, status: RunStatus | None = None) -> Run:
    """A realistic finished training run: params, tags, five metrics, git info, artifacts."""
    parent = registry.create_run(
        "churn-prediction", name="sweep-2024-05", status=RunStatus.FINISHED
    )
    run = registry.create_run(
        "churn-prediction",
        name="hgb-lr0.05-depth6",
        parent_id=parent.id,
        source="train.py --config configs/hgb.toml",
        params={
            "estimator": "HistGradientBoostingClassifier",
            "learning_rate": 0.05,
            "max_depth": 6,
            "max_iter": 300,
            "l2_regularization": 0.1,
            "early_stopping": True,
            "validation_fraction": 0.15,
            "random_state": 42,
            "dataset": "customers-2024-04.parquet",
            "features": "tenure,monthly_charges,contract,payment_method,support_calls,region",
            "class_weight": "balanced",
            "scoring": "roc_auc",
        },
        tags={"team": "retention", "owner": "ana", "stage": "candidate"},
    )
    rng = np.random.default_rng(7)
    start = time.time() - 600
    points = []
    for step in range(300):
        stamp = start + step * 2
        loss = 0.69 * math.exp(-step / 60) + 0.18 + rng.normal(0, 0.01)
        points += [
            ("train/loss", loss, step, stamp),
            ("val/loss", loss + 0.03 + 0.0002 * step + rng.normal(0, 0.012), step, stamp),
            ("val/roc_auc", 0.92 - 0.25 * math.exp(-step / 45) + rng.normal(0, 0.004), step, stamp),
            ("lr", 0.05 * (0.5 ** (step // 100)), step, stamp),
        ]
        if step % 25 == 0:
            points.append(("val/accuracy", 0.88 - 0.2 * math.exp(-step / 50), step, stamp))
    registry.log_batch(run.id, metrics=points)
    registry.set_git_info(
        run.id,
        {
            "commit": "4f9c2e1b7a0d3c5e8f1a2b3c4d5e6f708192a3b4",
            "branch": "feature/hgb-tuning",
            "remote": "git@github.com:acme/churn.git",
            "dirty": 1,
        },
    )
    model = tmp_path / "model.skops"
    model.write_bytes(os.urandom(2_400_000))
    registry.log_artifact(run.id, model, artifact_path="model/model.skops", kind="model")
    registry.log_artifact_bytes(run.id, b"[[812, 64], [97, 327]]", "eval/confusion_matrix.json")
    registry.log_artifact_bytes(run.id, os.urandom(48_000), "plots/roc_curve.png")
    registry.set_note(run.id, "Best AUC so far; val loss starts rising after step 200.")
    if status is not None:
        registry.set_run_status(run.id, status, end_time=time.time() + 754)
    return registry.get_run(run.id)


def failed_run(registry: Registry) -> Run:
    """A run that failed with a traceback."""
    run = registry.create_run("churn-prediction", name="hgb-raw-features", params={"a": 1})
    registry.set_run_status(run.id, RunStatus.FAILED, TRACEBACK)
    return registry.get_run(run.id)


# ---- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def panel(qtbot, registry: Registry) -> Iterator[RunDetailPanel]:
    """A shown panel at a typical size; fails the test if it leaves threads or timers running."""
    widget = RunDetailPanel(registry)
    qtbot.addWidget(widget)
    widget.resize(560, 640)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown(TIMEOUT_MS), "panel threads did not finish"
    QApplication.processEvents()
    assert widget._workers.pending() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    running = [t for t in widget.findChildren(QTimer) if t.isActive()]
    assert not running, f"timers left running: {running}"


def show(qtbot, panel: RunDetailPanel, run_id: str | None) -> None:
    """Show a run and wait until its data (series included) is on screen."""
    with qtbot.waitSignal(
        panel.sig_loaded, timeout=TIMEOUT_MS, check_params_cb=lambda rid: rid == run_id
    ):
        panel.show_run(run_id)


def refresh(qtbot, panel: RunDetailPanel) -> None:
    """Refresh and wait for the new data."""
    with qtbot.waitSignal(panel.sig_loaded, timeout=TIMEOUT_MS):
        panel.refresh()


def fresh(registry_path: Path, run_id: str) -> Run:
    """The run as stored, read through a new connection."""
    with Registry(registry_path) as other:
        return other.get_run(run_id)


def select_row(view, row: int) -> None:
    """Select a whole row of a table view."""
    index = view.model().index(row, 0)
    view.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


# ---- tests -----------------------------------------------------------------------------------


def test_empty_state_before_and_after_a_run(qtbot, panel: RunDetailPanel, registry, tmp_path):
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.empty_label.text() == EMPTY_TEXT
    run = failed_run(registry)
    show(qtbot, panel, run.id)
    assert panel.stack.currentWidget() is not panel.empty_label
    panel.show_run(None)
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.empty_label.text() == EMPTY_TEXT
    assert panel.run_id is None


def test_overview_shows_name_status_and_failure_reason(qtbot, panel, registry):
    run = failed_run(registry)
    show(qtbot, panel, run.id)
    overview = panel.overview_tab
    assert overview.name_edit.text() == "hgb-raw-features"
    assert overview.id_field.text() == run.id
    assert overview.status_label.text() == "FAILED"
    assert overview.reason_summary.text().startswith("ValueError: Input X contains NaN")
    assert overview.reason_text.toPlainText() == TRACEBACK
    assert overview.reason_box.isVisibleTo(panel)
    assert overview.fields["experiment"].text() == "churn-prediction"
    overview.copy_id_button.click()
    assert QApplication.clipboard().text() == run.id
    overview.reason_toggle.click()
    assert not overview.reason_text.isVisibleTo(panel)


def test_overview_of_finished_run_hides_reason_and_shows_lineage(qtbot, panel, registry, tmp_path):
    run = training_run(registry, tmp_path, status=RunStatus.FINISHED)
    show(qtbot, panel, run.id)
    overview = panel.overview_tab
    assert overview.status_label.text() == "FINISHED"
    assert not overview.reason_box.isVisibleTo(panel)
    assert "sweep-2024-05" in overview.parent_label.text()
    assert overview.fields["git.branch"].text() == "feature/hgb-tuning"
    assert overview.fields["duration"].text()
    with qtbot.waitSignal(overview.sig_open_run_requested) as blocker:
        overview.parent_label.linkActivated.emit(run.parent_id)
    assert blocker.args == [run.parent_id]


def test_params_table_rows_equal_the_runs_params(qtbot, panel, registry, tmp_path):
    run = training_run(registry, tmp_path)
    show(qtbot, panel, run.id)
    params = panel.params_tab
    assert sorted(params.rows()) == sorted(run.params.items())
    params.filter_edit.setText("RATE")
    assert params.rows() == [("learning_rate", "0.05")]
    assert params.count_label.text() == "1 of 12 params"
    params.filter_edit.clear()
    params.copy()
    copied = QApplication.clipboard().text().splitlines()
    assert sorted(copied) == sorted(f"{k}\t{v}" for k, v in run.params.items())
    params.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert [key for key, _ in params.rows()] == sorted(run.params, reverse=True)


def test_metric_charts_are_given_the_stored_series(qtbot, panel, registry, tmp_path):
    run = training_run(registry, tmp_path)
    show(qtbot, panel, run.id)
    metrics = panel.metrics_tab
    assert set(metrics.charts) == set(run.metrics)
    assert metrics.model.rowCount() == len(run.metrics)
    for key in run.metrics:
        stored = registry.get_metric_history(run.id, key)
        curve = metrics.charts[key].curve(key)
        assert curve is not None
        qtbot.waitUntil(
            lambda c=curve, s=stored: (
                np.array_equal(c.getData()[0], s.steps) and np.array_equal(c.getData()[1], s.values)
            ),
            timeout=TIMEOUT_MS,
        )
    chart = metrics.charts["val/accuracy"]
    panel.tabs.setCurrentWidget(metrics)
    metrics.chart_scroll.ensureWidgetVisible(chart)
    qtbot.waitUntil(lambda: chart.view_box.viewRange()[0][1] >= 275)  # auto-ranged
    scene_pos = chart.view_box.mapViewToScene(QPointF(52.0, 0.8))
    chart.plot_widget.scene().sigMouseMoved.emit(scene_pos)
    accuracy = registry.get_metric_history(run.id, "val/accuracy")
    assert chart.value_label.text() == f"step 50: {float(accuracy.values[2]):.6g}"
    assert accuracy.steps[2] == 50
    assert metrics.charts["val/accuracy"].point_near(51.0) == (
        "val/accuracy",
        50,
        float(accuracy.values[2]),
    )


def test_refresh_updates_the_same_curve_in_place(qtbot, panel, registry):
    run = registry.create_run("live", name="still-training")
    registry.log_batch(run.id, metrics=[("loss", 1.0 / (s + 1), s, 1000.0 + s) for s in range(50)])
    show(qtbot, panel, run.id)
    panel.tabs.setCurrentWidget(panel.metrics_tab)
    chart = panel.metrics_tab.charts["loss"]
    curve = chart.curve("loss")
    assert curve is not None and len(curve.getOriginalDataset()[0]) == 50

    registry.log_batch(
        run.id, metrics=[("loss", 1.0 / (s + 1), s, 1000.0 + s) for s in range(50, 80)]
    )
    refresh(qtbot, panel)

    assert panel.metrics_tab.charts["loss"] is chart
    assert chart.curve("loss") is curve
    stored = registry.get_metric_history(run.id, "loss")
    assert len(stored) == 80
    qtbot.waitUntil(lambda: np.array_equal(curve.getData()[0], stored.steps), timeout=TIMEOUT_MS)
    assert np.array_equal(curve.getData()[1], stored.values)
    assert panel.tabs.currentWidget() is panel.metrics_tab
    assert panel.metrics_tab.model.item(0, 4).text() == "80"


def test_nan_values_reach_the_chart_as_gaps(qtbot, panel, registry):
    run = registry.create_run("live", name="nan-run", status=RunStatus.FINISHED)
    values = [0.5, 0.4, float("nan"), 0.3, 0.2]
    registry.log_batch(run.id, metrics=[("loss", v, s, 1.0 + s) for s, v in enumerate(values)])
    show(qtbot, panel, run.id)
    curve = panel.metrics_tab.charts["loss"].curve("loss")
    qtbot.waitUntil(
        lambda: np.array_equal(curve.getData()[1], np.array(values), equal_nan=True),
        timeout=TIMEOUT_MS,
    )


def test_tags_added_edited_and_removed_through_the_widgets_persist(
    qtbot, panel, registry, registry_path
):
    run = registry.create_run("tags", name="tagged", tags={"stage": "draft"})
    show(qtbot, panel, run.id)
    tab = panel.tags_tab
    panel.tabs.setCurrentWidget(tab)

    tab.key_edit.setText("reviewed_by")
    tab.value_edit.setText("sam")
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS) as edited:
        qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    assert edited.args == [run.id]
    assert fresh(registry_path, run.id).tags == {"stage": "draft", "reviewed_by": "sam"}
    assert tab.key_edit.text() == "" and tab.value_edit.text() == ""
    qtbot.waitUntil(lambda: tab.tags() == {"stage": "draft", "reviewed_by": "sam"})

    stage_row = next(
        r for r in range(tab.model.rowCount()) if tab.model.item(r, 0).text() == "stage"
    )
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS):
        tab.model.item(stage_row, 1).setText("production")
    assert fresh(registry_path, run.id).tags["stage"] == "production"

    qtbot.waitUntil(lambda: not panel._loading)
    view_row = next(
        r for r in range(tab.proxy.rowCount()) if tab.proxy.index(r, 0).data() == "stage"
    )
    select_row(tab.table, view_row)
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.remove_button, Qt.MouseButton.LeftButton)
    assert fresh(registry_path, run.id).tags == {"reviewed_by": "sam"}


def test_invalid_tag_key_shows_banner_and_stores_nothing(qtbot, panel, registry, registry_path):
    run = registry.create_run("tags", name="tagged", tags={"stage": "draft"})
    show(qtbot, panel, run.id)
    tab = panel.tags_tab
    tab.key_edit.setText("bad key!")
    tab.value_edit.setText("x")
    with qtbot.assertNotEmitted(panel.sig_run_edited):
        qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.banner.message() != "", timeout=TIMEOUT_MS)
    assert "bad key!" in panel.banner.message()
    assert panel.banner.level == "error"
    assert fresh(registry_path, run.id).tags == {"stage": "draft"}
    assert tab.key_edit.text() == "bad key!" and tab.value_edit.text() == "x"
    panel.tabs.setCurrentWidget(tab)
    assert panel.grab().save("/tmp/modeldesk_detail_banner.png")

    tab.key_edit.setText("good_key")
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS):
        tab.add_tag()
    assert panel.banner.message() == ""


def test_note_saved_with_ctrl_s(qtbot, panel, registry, registry_path):
    run = registry.create_run("notes", name="with-note")
    show(qtbot, panel, run.id)
    tab = panel.tags_tab
    panel.tabs.setCurrentWidget(tab)
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow)
    tab.note_edit.setFocus()
    qtbot.keyClicks(tab.note_edit, "Overfits after epoch 12.")
    assert tab.save_button.isEnabled()
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS):
        qtbot.keyClick(tab.note_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert fresh(registry_path, run.id).note == "Overfits after epoch 12."
    assert not tab.note_edit.document().isModified()
    assert not tab.save_button.isEnabled()


def test_refresh_keeps_an_unsaved_note(qtbot, panel, registry):
    run = registry.create_run("notes", name="with-note")
    show(qtbot, panel, run.id)
    panel.tags_tab.note_edit.setPlainText("typing…")
    panel.tags_tab.note_edit.document().setModified(True)
    registry.set_note(run.id, "changed elsewhere")
    refresh(qtbot, panel)
    assert panel.tags_tab.note_edit.toPlainText() == "typing…"


def test_rename_on_enter(qtbot, panel, registry, registry_path):
    run = registry.create_run("names", name="old-name")
    show(qtbot, panel, run.id)
    name_edit = panel.overview_tab.name_edit
    name_edit.selectAll()
    qtbot.keyClicks(name_edit, "new-name")
    with qtbot.waitSignal(panel.sig_run_edited, timeout=TIMEOUT_MS):
        qtbot.keyClick(name_edit, Qt.Key.Key_Return)
    assert fresh(registry_path, run.id).name == "new-name"
    qtbot.waitUntil(lambda: panel.header_name.full_text() == "new-name", timeout=TIMEOUT_MS)


def test_artifacts_listed_and_opened_as_identical_copies(
    qtbot, panel, registry, tmp_path, monkeypatch
):
    run = training_run(registry, tmp_path)
    show(qtbot, panel, run.id)
    tab = panel.artifacts_tab
    rows = {path: (kind, size, sha) for path, kind, size, sha in tab.rows()}
    stored = {a.path: a for a in registry.list_artifacts(run.id)}
    assert set(rows) == set(stored)
    model = stored["model/model.skops"]
    assert rows["model/model.skops"] == ("◆ model", human_size(model.size), model.sha256[:12])
    assert rows["eval/confusion_matrix.json"][1] == "22 B"
    assert human_size(model.size) == "2.3 MB"

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    tab.select("model/model.skops")
    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=TIMEOUT_MS)
    exported = Path(opened[0].toLocalFile())
    assert exported.name == "model.skops"
    assert exported.read_bytes() == (tmp_path / "model.skops").read_bytes()

    qtbot.mouseClick(tab.reveal_button, Qt.MouseButton.LeftButton)
    assert Path(opened[1].toLocalFile()) == exported.parent

    target = tmp_path / "saved" / "copy.json"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    tab.select("eval/confusion_matrix.json")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: target.exists() and panel.banner.level == "info", timeout=TIMEOUT_MS)
    assert target.read_bytes() == b"[[812, 64], [97, 327]]"


def test_missing_artifact_file_is_a_banner(qtbot, panel, registry, monkeypatch):
    run = registry.create_run("art", name="broken")
    artifact = registry.log_artifact_bytes(run.id, b"gone soon", "notes.txt")
    registry.artifacts.path_for(artifact.sha256).unlink()
    show(qtbot, panel, run.id)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: pytest.fail("opened"))
    panel.artifacts_tab.select("notes.txt")
    panel.artifacts_tab.open_selected()
    qtbot.waitUntil(lambda: "missing" in panel.banner.message(), timeout=TIMEOUT_MS)


def test_a_100k_point_series_loads_without_blocking(qtbot, panel, registry):
    run = registry.create_run("big", name="long-run", status=RunStatus.FINISHED)
    steps = np.arange(100_000)
    values = np.sin(steps / 5000.0) + np.random.default_rng(1).normal(0, 0.05, steps.size)
    registry.log_batch(
        run.id,
        metrics=[("loss", float(v), int(s), 1.0) for s, v in zip(steps, values, strict=True)],
    )

    panel.tabs.setCurrentWidget(panel.metrics_tab)
    with qtbot.waitSignal(panel.sig_loaded, timeout=TIMEOUT_MS):
        started = time.perf_counter()
        panel.show_run(run.id)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.05, f"show_run blocked for {elapsed:.3f} s"
        assert "loss" not in panel.metrics_tab.charts  # nothing was read on the GUI thread

    curve = panel.metrics_tab.charts["loss"].curve("loss")
    x, y = curve.getOriginalDataset()
    assert np.array_equal(x, steps)
    assert np.array_equal(y, values)
    qtbot.waitUntil(lambda: 0 < len(curve.getData()[0]) < 100_000, timeout=TIMEOUT_MS)


def test_switching_runs_reuses_charts_without_stale_data(qtbot, panel, registry):
    long = registry.create_run("switch", name="long", status=RunStatus.FINISHED)
    registry.log_batch(long.id, metrics=[("loss", 1.0, s, 1.0) for s in range(20_000)])
    short = registry.create_run("switch", name="short", status=RunStatus.FINISHED)
    registry.log_batch(short.id, metrics=[("loss", 2.0, s, 1.0) for s in range(40)])
    show(qtbot, panel, long.id)
    chart = panel.metrics_tab.charts["loss"]
    show(qtbot, panel, short.id)
    assert panel.metrics_tab.charts["loss"] is chart
    curve = chart.curve("loss")
    qtbot.waitUntil(lambda: len(curve.getData()[0]) == 40, timeout=TIMEOUT_MS)


def test_purged_run_falls_back_to_a_message(qtbot, panel, registry):
    run = registry.create_run("gone", name="doomed", status=RunStatus.FINISHED)
    show(qtbot, panel, run.id)
    registry.delete_runs([run.id])
    registry.purge([run.id])
    panel.refresh()
    qtbot.waitUntil(lambda: panel.stack.currentWidget() is panel.empty_label, timeout=TIMEOUT_MS)
    assert "no longer exists" in panel.empty_label.text()


@pytest.mark.parametrize("width", [560, 420, 700])
def test_screenshots(qtbot, panel, registry, tmp_path, width):
    """Save a screenshot of each tab with realistic data (look at them: /tmp/modeldesk_detail_*)."""
    run = training_run(registry, tmp_path, status=RunStatus.FINISHED)
    panel.resize(width, 640)
    show(qtbot, panel, run.id)
    suffix = "" if width == 560 else f"_{width}"
    for index, name in enumerate(["overview", "params", "metrics", "tags", "artifacts"]):
        panel.tabs.setCurrentIndex(index)
        if name == "artifacts":
            panel.artifacts_tab.select("model/model.skops")
        QApplication.processEvents()
        assert panel.grab().save(f"/tmp/modeldesk_detail_{name}{suffix}.png")
    failed = failed_run(registry)
    show(qtbot, panel, failed.id)
    panel.tabs.setCurrentIndex(0)
    QApplication.processEvents()
    assert panel.grab().save(f"/tmp/modeldesk_detail_failed{suffix}.png")
    panel.show_run(None)
    assert panel.grab().save(f"/tmp/modeldesk_detail_empty{suffix}.png")


def test_register_model_from_the_artifacts_tab(
    qtbot, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QInputDialog
    from sklearn.linear_model import LogisticRegression

    from desktop_app.registry.tracking import start_run
    from desktop_app.ui.main_window import MainWindow

    with start_run("models", registry=registry, nested=False) as run:
        run.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "model")
    with start_run("models", registry=registry, nested=False) as plain:
        plain.log_text("no model here", "notes.txt")
    window = MainWindow(registry)
    qtbot.addWidget(window)
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("tiny", True))

    window.select_run(plain.id)
    qtbot.waitUntil(lambda: hasattr(window.detail_panel, "artifacts_tab"), timeout=10_000)
    qtbot.waitUntil(lambda: window.detail_panel.artifacts_tab.rows() != [], timeout=10_000)
    assert window.detail_panel.artifacts_tab.register_button.isHidden()

    window.select_run(run.id)
    tab = window.detail_panel.artifacts_tab
    qtbot.waitUntil(lambda: not tab.register_button.isHidden(), timeout=10_000)
    tab.register_button.click()
    qtbot.waitUntil(
        lambda: "Registered tiny v1" in window.statusBar().currentMessage(), timeout=15_000
    )
    version = registry.get_model_version("tiny", 1)
    assert version.run_id == run.id
    window.close()
