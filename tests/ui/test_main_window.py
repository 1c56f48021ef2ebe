"""The main window end to end: filter bar, header sort, delete/restore, live updates, start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app import tracking
from desktop_app.errors import NotFoundError
from desktop_app.registry import Registry
from desktop_app.ui import errors_hook, main_window, settings
from desktop_app.ui.main_window import MainWindow, fill_sample_runs
from desktop_app.ui.runs_model import SORT_VALUE_ROLE

ROOT = Path(__file__).resolve().parents[2]

WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def open_window(qtbot: QtBot, registry: Registry) -> Iterator[WindowFactory]:
    """Open the main window on the test registry and wait until it shows its rows."""

    def _open(**kwargs: object) -> MainWindow:
        window = MainWindow(registry, **kwargs)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        wait_idle(qtbot, window)
        return window

    yield _open


def wait_idle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)


def shown_names(window: MainWindow) -> list[str]:
    model = window.runs_model
    column = model.column_index("name")
    return [model.index(row, column).data() for row in range(model.rowCount())]


def type_query(qtbot: QtBot, window: MainWindow, text: str) -> None:
    line = window.filter_bar.line_edit
    line.clear()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def select_rows(window: MainWindow, rows: list[int]) -> None:
    view = window.runs_view
    view.clearSelection()
    flags = view.selectionModel().SelectionFlag
    for row in rows:
        view.selectionModel().select(window.runs_model.index(row, 0), flags.Select | flags.Rows)
    view.setFocus()


def test_filter_bar_filters_the_table(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    populate(9)
    window = open_window()
    assert window.runs_model.rowCount() == 9
    assert window.count_label.text() == "9 runs"

    with qtbot.waitSignal(window.runs_model.sig_loaded, timeout=10_000):
        type_query(qtbot, window, 'params.model = "rf"')
    model = window.runs_model
    assert model.rowCount() == 3
    assert {model.run_at(r).params.get("model") for r in range(3)} == {"rf"}
    wait_idle(qtbot, window)
    assert window.count_label.text() == "3 runs"
    assert window.filter_bar.error_text() == ""
    assert settings.recent_queries()[0] == 'params.model = "rf"'

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        type_query(qtbot, window, 'params.model in ("rf", "svm") order by name desc')
    names = shown_names(window)
    assert len(names) == 6
    assert names == sorted(names, reverse=True)


def test_a_parse_error_is_shown_inline(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    populate(4)
    window = open_window()
    type_query(qtbot, window, "metrics.f1 > 0.5 and metrics.accuracy >")
    bar = window.filter_bar
    assert bar.error_label.isVisible()
    assert bar.error_text() == "column 39: expected a value after '>'"
    assert bar.line_edit.cursorPosition() == 38
    assert window.runs_model.rowCount() == 4  # nothing was applied

    with qtbot.waitSignal(window.runs_model.sig_loaded, timeout=10_000):
        type_query(qtbot, window, "metrics.f1 > 2")
    assert not bar.error_label.isVisible()
    assert window.runs_model.rowCount() == 0
    assert window.empty_label.isVisible()
    assert "No runs match" in window.empty_label.text()


def test_clicking_a_metric_header_sorts_in_sql(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
) -> None:
    populate(250)
    settings.save_columns(settings.scope_key(None, False), ["model"], [("f1", "last")])
    window = open_window()
    model = window.runs_model
    column = model.column_index("metrics.f1.last")
    header = window.runs_view.horizontalHeader()
    position = QPoint(header.sectionViewportPosition(column) + 10, header.height() // 2)

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=position)
    ascending = [model.index(r, column).data(SORT_VALUE_ROLE) for r in range(model.rowCount())]
    assert model.rowCount() == 200
    assert ascending == sorted(ascending)
    assert model.loaded_ids() == registry.search_runs(order_by="metrics.f1 asc", limit=200)
    assert header.sortIndicatorSection() == column

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=position)
    assert model.loaded_ids() == registry.search_runs(order_by="metrics.f1 desc", limit=200)

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        window.runs_view.sortByColumn(
            model.column_index("params.model"), Qt.SortOrder.AscendingOrder
        )
    values = [model.run_at(r).params["model"] for r in range(model.rowCount())]
    assert values == sorted(values)


def test_delete_key_moves_runs_to_trash_and_restore_brings_them_back(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(8)
    window = open_window()
    model = window.runs_model
    questions: list[str] = []

    def yes(_parent: object, _title: str, text: str, _action: str) -> bool:
        questions.append(text)
        return True

    monkeypatch.setattr(main_window, "confirm", yes)
    select_rows(window, [1, 2, 5])
    doomed = window.selected_run_ids()
    assert len(doomed) == 3

    qtbot.keyClick(window.runs_view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: model.rowCount() == 5, timeout=10_000)
    assert questions == ["Move 3 runs to the trash? You can restore them from the Trash."]
    assert not set(doomed) & set(model.loaded_ids())
    assert window.undo_button.isVisible()
    wait_idle(qtbot, window)
    assert window.count_label.text() == "5 runs"

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        window.experiments_panel.select_trash()
    assert sorted(model.loaded_ids()) == sorted(doomed)
    assert not window.action_delete.isEnabled()

    select_rows(window, [0, 1, 2])
    assert window.action_restore.isEnabled()
    qtbot.keyClick(
        window.runs_view,
        Qt.Key.Key_R,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=10_000)

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        window.experiments_panel.select_all_runs()
    assert set(doomed) <= set(model.loaded_ids())
    assert model.rowCount() == 8


def test_undo_after_delete_restores(
    qtbot: QtBot,
    open_window: WindowFactory,
    populate: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(5)
    window = open_window()
    monkeypatch.setattr(main_window, "confirm", lambda *_args: True)
    select_rows(window, [0])
    window.action_delete.trigger()
    qtbot.waitUntil(lambda: window.runs_model.rowCount() == 4, timeout=10_000)
    qtbot.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.runs_model.rowCount() == 5, timeout=10_000)
    assert not window.undo_button.isVisible()


def test_declining_the_question_keeps_the_runs(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(3)
    window = open_window()
    monkeypatch.setattr(main_window, "confirm", lambda *_args: False)
    select_rows(window, [0, 1])
    window.action_delete.trigger()
    wait_idle(qtbot, window)
    assert registry.count_runs(trash=True) == 0


def test_experiments_panel_scopes_and_trashes_experiments(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(4, experiment="alpha")
    beta = populate(2, experiment="beta")
    window = open_window()
    panel = window.experiments_panel
    assert [e.name for e in panel.experiments()] == ["alpha", "beta"]
    assert panel.total_runs() == 6

    beta_id = registry.get_experiment("beta").id
    with qtbot.waitSignal(window.runs_model.sig_loaded, timeout=10_000):
        panel.select_experiments([beta_id])
    assert sorted(window.runs_model.loaded_ids()) == sorted(beta)

    monkeypatch.setattr(main_window, "confirm", lambda *_args: True)
    window.delete_experiments([beta_id])
    qtbot.waitUntil(lambda: registry.get_experiment(beta_id).lifecycle == "deleted", timeout=10_000)
    qtbot.waitUntil(
        lambda: [e.name for e in panel.deleted_experiments()] == ["beta"], timeout=10_000
    )
    wait_idle(qtbot, window)
    assert window.runs_model.rowCount() == 4  # the scope fell back to all runs

    window.restore_experiments([beta_id])
    qtbot.waitUntil(lambda: len(panel.experiments()) == 2, timeout=10_000)
    wait_idle(qtbot, window)
    assert window.runs_model.rowCount() == 6


def test_copy_run_ids(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    populate(3)
    window = open_window()
    select_rows(window, [0, 2])
    qtbot.keyClick(
        window.runs_view,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    model = window.runs_model
    assert QGuiApplication.clipboard().text() == f"{model.run_id_at(0)}\n{model.run_id_at(2)}"


def test_ctrl_f_focuses_the_filter(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    populate(2)
    window = open_window()
    window.runs_view.setFocus()
    qtbot.keyClick(window.runs_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.filter_bar.line_edit.hasFocus)


def test_a_run_logged_by_another_process_appears(
    qtbot: QtBot, open_window: WindowFactory, registry: Registry, tmp_path: Path
) -> None:
    window = open_window()
    assert window.runs_model.rowCount() == 0
    script = tmp_path / "log_run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from desktop_app import tracking
            with tracking.start_run(
                experiment="remote", name="from-elsewhere", registry={str(registry.root)!r},
                params={{"model": "rf"}},
            ) as run:
                run.log_metric("f1", 0.75)
            """
        )
    )
    process = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    try:
        qtbot.waitUntil(lambda: "from-elsewhere" in shown_names(window), timeout=15_000)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    qtbot.waitUntil(
        lambda: [e.name for e in window.experiments_panel.experiments()] == ["remote"],
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: window.count_label.text() == "1 run", timeout=10_000)


def test_columns_are_remembered_per_experiment(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
) -> None:
    populate(3, experiment="alpha")
    populate(3, experiment="beta")
    alpha = registry.get_experiment("alpha").id
    settings.save_columns(settings.scope_key([alpha], False), ["lr"], [("loss", "min")])
    window = open_window()
    model = window.runs_model
    assert [c.id for c in model.columns()][5:] == [
        "params.lr",
        "params.model",
        "metrics.accuracy.last",
        "metrics.f1.last",
        "metrics.loss.last",
    ]  # fmt: skip  (defaults: the first keys of the scope)
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        window.experiments_panel.select_experiments([alpha])
    assert [c.title for c in model.columns()][5:] == ["lr", "loss (min)"]


def test_window_state_goes_to_the_test_settings_folder(
    qtbot: QtBot, open_window: WindowFactory, _settings_in_tmp: Path
) -> None:
    window = open_window()
    window.close()
    stored = (_settings_in_tmp / "ModelDesk.ini").read_text()
    assert "geometry" in stored


def test_first_start_fills_an_empty_registry_with_the_demo(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int, str]] = []

    def fake_demo(reg: Registry, progress: Callable, should_stop: Callable) -> int:
        for i in range(3):
            progress(i, 3, f"run {i}")
            with tracking.start_run(experiment="demo", name=f"demo-{i}", registry=reg) as run:
                run.log_metric("accuracy", 0.9)
            calls.append((i, 3, f"run {i}"))
        return 3

    import desktop_app.training.demo as demo

    monkeypatch.setattr(demo, "create_demo", fake_demo)
    monkeypatch.delenv("MODELDESK_NO_DEMO")
    window = open_window()
    assert window.maybe_start_demo()
    assert window.demo_box.isVisibleTo(window)
    qtbot.waitUntil(lambda: not window.demo_running(), timeout=15_000)
    qtbot.waitUntil(lambda: len(shown_names(window)) == 3, timeout=10_000)
    assert sorted(shown_names(window)) == ["demo-0", "demo-1", "demo-2"]
    assert not window.demo_box.isVisibleTo(window)
    assert len(calls) == 3
    assert not window.maybe_start_demo()  # not empty any more


def test_no_demo_when_disabled(open_window: WindowFactory) -> None:
    window = open_window()
    assert not window.maybe_start_demo()


def test_expected_errors_go_to_the_status_bar_and_bugs_to_a_dialog(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    window = open_window()
    errors_hook.notifier().sig_app_error.emit(NotFoundError("No run 'abc'."))
    assert window.error_label.isVisible()
    assert window.error_label.text() == "No run 'abc'."

    errors_hook.notifier().sig_unexpected.emit("ValueError: boom", "Traceback...\nValueError: boom")
    dialog = errors_hook._dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.isModal()
    assert "ValueError: boom" in dialog.details.toPlainText()
    dialog.copy_details()
    assert "ValueError: boom" in QApplication.clipboard().text()
    dialog.close()


def test_main_reports_an_unusable_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.ui import app

    shown: list[str] = []
    monkeypatch.setattr(app, "show_startup_error", lambda title, message: shown.append(message))
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("hello")
    assert app.main(str(not_a_folder)) == 1
    assert "is a file" in shown[0]


STARTUP_PROBE = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

app = QApplication(sys.argv[:1])
seen = {}

class FirstShow(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and isinstance(obj, QMainWindow) and not seen:
            seen["heavy"] = [m for m in ("sklearn", "pandas", "git") if m in sys.modules]
            QTimer.singleShot(0, app.quit)
        return False

probe = FirstShow()
app.installEventFilter(probe)
from desktop_app.ui.app import main
code = main(sys.argv[1])
print("HEAVY=" + ",".join(seen.get("heavy", ["<never shown>"])))
sys.exit(code)
"""


def test_window_shows_before_heavy_imports(tmp_path: Path, registry: Registry) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(STARTUP_PROBE)
    result = subprocess.run(
        [sys.executable, str(probe), str(registry.root)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**_env(), "MODELDESK_SETTINGS_DIR": str(tmp_path / "settings")},
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert lines == ["HEAVY="], result.stdout + result.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MODELDESK_NO_DEMO": "1"}


def test_screenshot_of_a_populated_window(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
) -> None:
    populate(12, experiment="iris-forest", seed=1)
    populate(10, experiment="digits-sgd", seed=2)
    populate(8, experiment="wine-svm", seed=3)
    settings.save_columns(
        settings.scope_key(None, False),
        ["model", "lr"],
        [("f1", "last"), ("accuracy", "last"), ("loss", "min"), ("loss", "last")],
    )
    window = open_window()
    window.resize(1440, 860)
    panel = window.ensure_detail_panel()
    loaded = getattr(panel, "sig_loaded", None)
    select_rows(window, [2])
    if loaded is not None:
        with qtbot.waitSignal(loaded, timeout=10_000):
            window.runs_view.selectionModel().setCurrentIndex(
                window.runs_model.index(2, 0),
                window.runs_view.selectionModel().SelectionFlag.NoUpdate,
            )
    wait_idle(qtbot, window)
    assert window.runs_model.rowCount() == 30
    assert window.grab().save("/tmp/modeldesk_main.png")


def test_filter_completes_keys_and_applies_after_a_pause(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    populate(6)
    window = open_window()
    bar = window.filter_bar
    line = bar.line_edit
    qtbot.keyClicks(line, "metrics.f")
    popup = bar.completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert popup.currentIndex().data() == "metrics.f1"
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert line.text() == "metrics.f1"
    # No Enter: the query applies by itself once typing pauses.
    with qtbot.waitSignal(bar.sig_query_applied, timeout=5_000) as applied:
        qtbot.keyClicks(line, " > 0.5")
    assert applied.args == ["metrics.f1 > 0.5"]
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=10_000)
    model = window.runs_model
    assert all(model.run_at(r).metrics["f1"].last > 0.5 for r in range(model.rowCount()))

    qtbot.keyClick(line, Qt.Key.Key_Return)  # remembered in the history
    line.clear()
    qtbot.keyClick(line, Qt.Key.Key_Up)
    assert line.text() == "metrics.f1 > 0.5"


def test_new_runs_do_not_move_a_scrolled_table(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
) -> None:
    populate(150, metrics=False)
    window = open_window()
    view, model = window.runs_view, window.runs_model
    view.scrollTo(model.index(60, 0), view.ScrollHint.PositionAtTop)
    top_before = model.run_id_at(view.rowAt(0))
    select_rows(window, [70])
    selected = window.selected_run_ids()
    populate(5, experiment="newer", metrics=False)
    with qtbot.waitSignal(model.sig_refreshed, timeout=10_000):
        window.on_registry_changed()
    assert model.rowCount() == 155
    assert model.run_id_at(view.rowAt(0)) == top_before
    assert window.selected_run_ids() == selected


def test_a_crash_in_a_plain_thread_reaches_the_error_dialog(qtbot: QtBot) -> None:
    errors_hook.install()
    try:

        def crash() -> None:
            raise RuntimeError("worker fell over")

        thread = threading.Thread(target=crash)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: errors_hook._dialog is not None, timeout=5_000)
        dialog = errors_hook._dialog
        assert "RuntimeError: worker fell over" in dialog.details.toPlainText()
        dialog.close()
    finally:
        errors_hook.uninstall()


def test_sample_runs_for_the_preview(
    qtbot: QtBot, open_window: WindowFactory, registry: Registry
) -> None:
    fill_sample_runs(registry, count=9)
    window = open_window()
    assert window.runs_model.rowCount() == 9
    assert [e.name for e in window.experiments_panel.experiments()] == [
        "digits-sgd", "iris-forest", "wine-svm",
    ]  # fmt: skip


def test_empty_trash_erases_runs_and_reports_the_space_freed(
    qtbot: QtBot,
    open_window: WindowFactory,
    registry: Registry,
    populate: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ids = populate(3)
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"w" * 4096)
    registry.log_artifact(ids[0], blob)
    registry.delete_runs([ids[0]])
    asked: list[str] = []
    monkeypatch.setattr(
        main_window, "confirm", lambda _parent, _title, text, _action: asked.append(text) or True
    )
    window = open_window()
    window.empty_trash()
    qtbot.waitUntil(lambda: "Erased 1 run" in window.statusBar().currentMessage(), timeout=10_000)
    assert "4.0 KB" in window.statusBar().currentMessage()
    assert asked and "1 run" in asked[0]
    assert registry.count_runs(trash=True) == 0 and registry.count_runs() == 2


def test_the_app_quits_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MODELDESK_NO_DEMO": "1"}
    app = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "--registry", str(tmp_path / "registry")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "registry" / "registry.db").exists():  # the window is up
        assert app.poll() is None and time.monotonic() < deadline, app.stderr.read()
        time.sleep(0.1)
    time.sleep(1.0)
    try:
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def test_the_toolbar_leads_through_a_model_s_life(
    qtbot: QtBot, open_window: WindowFactory, populate: Callable[..., list[str]]
) -> None:
    from PySide6.QtWidgets import QToolBar, QToolButton

    populate(2, experiment="iris-forest", seed=1)
    window = open_window()
    toolbar = window.findChild(QToolBar, "mainToolbar")
    labels = [
        button.text()
        for action in toolbar.actions()
        if isinstance(button := toolbar.widgetForAction(action), QToolButton)
    ]
    assert labels[:4] == ["New Job", "Compare", "Models", "Servers"]
    assert window.training_actions.action_new_job.text() == "New &Training Job…"  # menus

    models_button = toolbar.widgetForAction(window.workspace_actions.action_models)
    qtbot.mouseClick(models_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.workspace_actions.models_window is not None, timeout=5_000)
    assert window.workspace_actions.models_window.isVisible()
    window.workspace_actions.models_window.close()


def test_training_and_serving_docks_share_the_bottom_as_tabs(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    window = open_window()
    window.resize(1200, 800)
    window.training_actions.show_queue()
    window.serving_actions.show_panel()
    training, serving = window.training_actions.dock, window.serving_actions.dock
    assert window.tabifiedDockWidgets(serving) == [training]
    qtbot.waitUntil(lambda: serving.width() > 0.9 * window.width(), timeout=5_000)
    assert not serving.visibleRegion().isEmpty() and training.visibleRegion().isEmpty()
    window.close()
