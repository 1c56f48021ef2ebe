"""The Serving dock as a user works it: Serve…, ready, Try it, copy a snippet, an alias that
moves, and quitting with servers running."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import psutil
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox

from desktop_app.registry import Registry
from desktop_app.serving.launcher import ServerState
from desktop_app.ui.serving_actions import STOP


def _register(registry: Registry, c: float) -> tuple[object, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from desktop_app.registry.tracking import start_run
    from desktop_app.versioning.model_history import register_model_version

    rng = np.random.default_rng(1)
    bill = rng.normal(45, 5, 80).round(1)
    x = pd.DataFrame({"bill": bill, "island": rng.choice(["Biscoe", "Dream"], size=80)})
    model = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["bill"]), ("cat", OneHotEncoder(), ["island"])]
        ),
        LogisticRegression(C=c),
    ).fit(x, (bill > 45).astype(int))
    with start_run("serving", registry=registry, nested=False) as run:
        run.log_model(model, "model")
        run.log_text(x.head(2).to_json(orient="records"), "model/input_example.json")
    register_model_version(registry, "penguins", run.id)
    return model, x


@pytest.fixture
def window(qtbot, registry: Registry):
    from desktop_app.ui.main_window import MainWindow

    window = MainWindow(registry)
    qtbot.addWidget(window)
    window.serving_actions._ask_on_quit = lambda _window, _count: STOP
    yield window
    window.close()


def test_serve_from_the_window_try_it_and_quit(qtbot, window, registry: Registry) -> None:
    model, _x = _register(registry, 1.0)
    empty = window.serving_actions.show_panel()
    assert not empty.empty_label.isHidden()
    assert "No model servers yet" in empty.empty_label.text()
    dialog = window.serving_actions.open_serve_dialog("penguins", "1")
    assert dialog.model.currentText() == "penguins" and dialog.version.currentData() == "1"
    assert dialog.warning.isHidden()  # loopback: no token, no warning
    dialog.host.setCurrentText("0.0.0.0")
    assert not dialog.warning.isHidden() and dialog.token.isEnabled()
    dialog.host.setCurrentText("127.0.0.1")
    dialog.accept()

    panel = window.serving_actions.panel
    [server_id] = panel._infos
    assert panel.empty_label.isHidden()
    assert panel.status_text(server_id) in ("Starting", "Ready")
    qtbot.waitUntil(lambda: panel.status_text(server_id) in ("Ready", "Failed"), timeout=90_000)
    assert panel.status_text(server_id) == "Ready", panel.server(server_id).reason
    info = panel.server(server_id)
    assert panel.table.item(0, 2).text() == info.url
    # Idle, the live charts stand on zero (no negative rates or latencies on the axis).
    for plot in (panel.rate_plot, panel.latency_plot):
        assert plot.getViewBox().viewRange() == [[-150.0, 0.0], [0.0, 1.0]]

    panel.table.selectRow(0)
    panel.tabs.setCurrentWidget(panel.try_it)
    qtbot.waitUntil(lambda: set(panel.try_it.fields) == {"bill", "island"}, timeout=10_000)
    panel.try_it.fields["island"][0].setText("Dream")
    panel.try_it.fields["bill"][0].setText("51.5")
    panel.try_it.send_button.click()
    qtbot.waitUntil(lambda: "HTTP 200" in panel.try_it.latency.text(), timeout=20_000)
    expected = model.predict(pd.DataFrame([{"bill": 51.5, "island": "Dream"}])).tolist()
    assert json.loads(panel.try_it.response.toPlainText())["predictions"] == expected
    assert " ms" in panel.try_it.latency.text()

    panel.try_it.fields["bill"][0].setText("long")
    panel.try_it.send_button.click()
    assert "bill" in panel.try_it.latency.text() and "not a number" in panel.try_it.latency.text()
    panel.try_it.fields["bill"][0].setText("40")
    panel.try_it.copy_curl.click()
    assert QGuiApplication.clipboard().text().startswith(f"curl -s {info.url}/invocations")

    # The table's live figures: requests per second, latency, uptime.
    qtbot.waitUntil(lambda: panel.table.item(0, 6).text() not in ("", "—"), timeout=15_000)
    assert float(panel.table.item(0, 5).text()) > 0
    assert float(panel.table.item(0, 6).text()) > 0
    _ago, p99 = panel.p99_curve.getData()
    low, high = panel.latency_plot.getViewBox().viewRange()[1]
    assert low == 0.0 and high >= max(p99) > 0
    qtbot.waitUntil(lambda: panel.table.item(0, 4).text().endswith("s"), timeout=5_000)
    window.grab().save("/tmp/modeldesk_serving.png")

    pid = info.pid
    window.close()
    assert pid is not None
    qtbot.waitUntil(lambda: not psutil.pid_exists(pid) or _zombie(pid), timeout=20_000)


def test_a_served_alias_that_moves_is_followed_after_confirmation(
    qtbot, window, registry: Registry
) -> None:
    from desktop_app.versioning.model_history import set_alias

    _register(registry, 1.0)
    set_alias(registry, "penguins", "champion", 1)
    panel = window.serving_actions.show_panel()
    asked: list[tuple[str, str]] = []
    panel.confirm_alias_move = lambda info, version: asked.append((info.id, version)) or True
    info = panel.serve(_request("penguins", "@champion"))
    qtbot.waitUntil(lambda: panel.status_text(info.id) == "Ready", timeout=90_000)
    assert panel.server(info.id).version == "1"

    _register(registry, 0.1)
    set_alias(registry, "penguins", "champion", 2)
    qtbot.waitUntil(lambda: bool(asked), timeout=20_000)
    assert asked == [(info.id, "2")]
    qtbot.waitUntil(
        lambda: any(
            s.version == "2" and s.state == ServerState.READY for s in panel._infos.values()
        ),
        timeout=90_000,
    )
    assert panel.table.rowCount() == 1  # the restarted server replaced the old row


def _request(model: str, ref: str):
    from desktop_app.serving.launcher import ServeRequest

    return ServeRequest(model, ref)


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_serve_dialog_without_models_says_what_to_do(qtbot, window) -> None:
    dialog = window.serving_actions.open_serve_dialog()
    assert "register" in dialog.problem.text().lower()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()


def test_recording_inputs_and_charting_drift_from_the_dock(
    qtbot, window, registry: Registry, tmp_path
) -> None:
    from desktop_app.serving import try_it

    _model, x = _register(registry, 1.0)
    data = tmp_path / "train.csv"
    x.to_csv(data, index=False)
    run_id = registry.get_model_version("penguins", 1).run_id
    registry.log_dataset(run_id, data)
    panel = window.serving_actions.show_panel()
    info = panel.serve(_request("penguins", "1"))
    qtbot.waitUntil(lambda: panel.status_text(info.id) == "Ready", timeout=90_000)
    panel.table.selectRow(0)
    panel.tabs.setCurrentWidget(panel.drift)
    drift = panel.drift
    qtbot.waitUntil(drift.record.isEnabled, timeout=5_000)
    assert not drift.record.isChecked()  # off by default

    drift.fraction.setValue(1.0)
    drift.record.click()
    qtbot.waitUntil(lambda: "Recording on" in drift.status.text(), timeout=10_000)
    url = panel.server(info.id).url
    for value in range(30):
        assert try_it.send(url, [{"bill": 80.0 + value, "island": "Dream"}]).ok
    qtbot.waitUntil(lambda: registry.count_recorded_inputs("penguins", 1) >= 30, timeout=15_000)

    drift.refresh_button.click()
    qtbot.waitUntil(lambda: drift.table.rowCount() == 2, timeout=20_000)
    assert drift.table.item(0, 0).text() == "bill"
    assert drift.table.item(0, 3).text() == "shifted"
    assert "30 recorded rows" in drift.status.text()
    heights = drift.live_bars.opts["height"]
    assert len(heights) == len(drift.report.columns[0].bins) and heights[-1] == 1.0
    window.grab().save("/tmp/modeldesk_drift.png")


def test_serve_from_the_models_window_opens_the_dialog_on_that_version(
    qtbot, window, registry: Registry
) -> None:
    from desktop_app.versioning.model_history import set_alias

    _register(registry, 1.0)
    set_alias(registry, "penguins", "champion", 1)
    window.workspace_actions.show_models()
    models = window.workspace_actions.models_window
    models.sig_serve_requested.emit("penguins", "@champion")

    dialog = window.serving_actions.last_dialog
    assert dialog is not None and dialog.model.currentText() == "penguins"
    assert dialog.version.currentData() == "@champion"
    dialog.reject()
    models.close()


@pytest.mark.parametrize(
    ("button", "expected"),
    [("Stop Servers and Quit", "stop"), ("Keep Running and Quit", "keep"), ("Don't Quit", "stay")],
)
def test_the_quit_question_answers_what_was_clicked(qtbot, button: str, expected: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

    from desktop_app.ui.serving_actions import ask_about_running_servers

    window = QMainWindow()
    qtbot.addWidget(window)

    def click() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and "2 model servers are" in box.text()
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(0, click)
    assert ask_about_running_servers(window, 2) == expected


def test_try_it_with_many_columns_scrolls_and_keeps_send_in_view(qtbot) -> None:
    from types import SimpleNamespace

    from desktop_app.ui.serving_panel import TryItPanel

    panel = TryItPanel()
    qtbot.addWidget(panel)
    panel.server = SimpleNamespace(id="s")  # type: ignore[assignment]
    panel._fill("s", [{f"feature {i}": float(i) for i in range(30)}])
    panel.resize(900, 260)
    panel.show()
    qtbot.waitExposed(panel)
    assert len(panel.fields) == 30
    # The dock can stay short: the form scrolls instead of growing past the screen.
    assert panel.minimumSizeHint().height() < 200
    send = panel.send_button
    assert send.isVisible() and send.mapTo(panel, send.rect().bottomLeft()).y() <= panel.height()
    assert panel.form_scroll.verticalScrollBar().maximum() > 0


def test_live_charts_scale_to_the_window_shown_not_to_old_bursts(qtbot, registry: Registry) -> None:
    from collections import deque

    from desktop_app.serving.launcher import ServeRequest, ServerInfo
    from desktop_app.ui import serving_panel
    from desktop_app.ui.serving_panel import CHART_SECONDS, ServingPanel

    panel = ServingPanel(registry, warm_spare=False)
    qtbot.addWidget(panel)
    for server_id in ("busy", "idle"):
        panel._show(ServerInfo(server_id, ServeRequest("m"), ServerState.READY, port=1))
    now = 1_000.0
    # A burst 4 minutes ago, then two quiet minutes: only the quiet part is in the window.
    history = [(now - 240 + i, 500.0, 1.0, 90.0) for i in range(10)]
    history += [(now - 120 + i, 2.0, 0.5, 3.0) for i in range(121)]
    panel._history["busy"] = deque(history, maxlen=serving_panel.HISTORY_POINTS)
    panel.table.selectRow(0)
    panel._draw()
    ago, rates = panel.rate_curve.getData()
    assert ago.min() >= -CHART_SECONDS and max(rates) == 2.0
    assert panel.rate_plot.getViewBox().viewRange()[1][1] < 10  # scaled to 2 req/s, not 500
    assert panel.latency_plot.getViewBox().viewRange()[1][1] < 10
    panel.table.selectRow(1)  # a server without figures: back to 0..1, no curve
    panel._draw()
    assert panel.rate_plot.getViewBox().viewRange()[1] == [0.0, 1.0]
    assert panel.rate_curve.getData()[0] is None or len(panel.rate_curve.getData()[0]) == 0
    panel.shutdown(keep_running=False)
