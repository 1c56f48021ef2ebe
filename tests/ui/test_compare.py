"""The Compare window and the single-run charts: what each chart was given, not its pixels."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop_app.registry import Registry, RunStatus
from desktop_app.reports import ema
from desktop_app.reports.evaluation import NO_DATA_TEXT
from desktop_app.reports.samples import add_sample_runs
from desktop_app.ui.compare import CompareWindow, RunChartsWidget, open_compare
from desktop_app.ui.compare.curves import RAW_ALPHA, RelativeTimeAxis
from desktop_app.ui.compare.diff_view import BEST_BACKGROUND
from desktop_app.ui.metric_chart import pg

TIMEOUT_MS = 20_000
OpenWindow = Callable[..., CompareWindow]


@pytest.fixture
def open_window(qtbot: QtBot, registry: Registry) -> Iterator[OpenWindow]:
    """``open_window(ids)``: a Compare window at 1200×800, its data loaded; closed afterwards."""
    windows: list[CompareWindow] = []

    def _open(run_ids: list[str], *, wait: bool = True) -> CompareWindow:
        window = open_compare(registry, run_ids)
        window.resize(1200, 800)
        windows.append(window)
        if wait:
            with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
                pass
        return window

    yield _open
    for window in windows:
        window.close()


def colour_of(item: pg.PlotDataItem) -> str:
    return item.opts["pen"].color().name().upper()


def history(registry: Registry, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    series = registry.get_metric_history(run_id, key)
    return series.steps.astype(float), series.values


def artifact_json(registry: Registry, run_id: str, path: str) -> dict:
    sha = registry.get_artifact(run_id, path).sha256
    return json.loads(registry.artifacts.read_bytes(sha))


def send(
    widget: QWidget, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton
) -> None:
    """Deliver one mouse event (offscreen, QTest's moves reach no hover handler)."""
    global_pos = QPointF(widget.mapToGlobal(pos))
    modifiers = Qt.KeyboardModifier.NoModifier
    event = QMouseEvent(kind, QPointF(pos), global_pos, button, buttons, modifiers)
    QApplication.sendEvent(widget, event)
    QApplication.processEvents()


def move(widget: QWidget, pos: QPoint) -> None:
    """The mouse moves over a widget with no button held."""
    none = Qt.MouseButton.NoButton
    send(widget, QEvent.Type.MouseMove, pos, none, none)


def drag(widget: QWidget, start: QPoint, end: QPoint, steps: int = 6) -> None:
    """Press, move with the button held, release (QTest's mouseMove holds no button)."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(widget, QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        t = i / steps
        point = QPoint(
            round(start.x() + (end.x() - start.x()) * t),
            round(start.y() + (end.y() - start.y()) * t),
        )
        send(widget, QEvent.Type.MouseMove, point, none, left)
    send(widget, QEvent.Type.MouseButtonRelease, end, left, none)


# ---- metric curves ---------------------------------------------------------------------------


def test_every_run_gets_a_curve_per_metric_with_one_colour_everywhere(
    registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 4, steps=120)
    window = open_window(ids)
    comparison = window.comparison
    assert comparison is not None and window.run_ids == ids
    assert list(window.curves.charts) == ["train/loss", "val/loss", "val/roc_auc"]
    for key, chart in window.curves.charts.items():
        assert list(chart.curves) == ids
        for run_id, curve in chart.curves.items():
            steps, values = history(registry, run_id, key)
            x, y = curve.getData()
            np.testing.assert_array_equal(x, steps)
            np.testing.assert_allclose(y, values)
            assert colour_of(curve) == window.colours[run_id]
        # The legend names every run in its colour, in compare order.
        assert chart.legend_entries() == [(comparison.labels[r], window.colours[r]) for r in ids]
    # The same colour in the runs table (the shared legend), the diff header and every chart.
    legend = window.runs_view.legend_model
    assert [legend.colours[r.id] for r in legend.runs] == [window.colours[r] for r in ids]
    header = window.diff.model
    for i, run_id in enumerate(ids):
        swatch = header.headerData(2 + i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DecorationRole)
        assert swatch.toImage().pixelColor(6, 6).name().upper() == window.colours[run_id]
    spots = window.scatter.chart.scatter.points()
    for spot, run_id in zip(spots, window.scatter.chart.run_ids, strict=True):
        assert spot.brush().color().name().upper() == window.colours[run_id]
    bar_ids, _ = window.bars.chart.bar_data()
    brushes = window.bars.chart.bars.opts["brushes"]
    for brush, run_id in zip(brushes, bar_ids, strict=True):
        assert brush.color().name().upper() == window.colours[run_id]
    for run_id in ids:
        assert colour_of(window.evaluation.roc.curves[f"{run_id}|stay"]) == window.colours[run_id]


def test_x_axis_modes_and_log_scales(registry: Registry, open_window: OpenWindow) -> None:
    ids = add_sample_runs(registry, 2, steps=50, evaluation=False)
    window = open_window(ids)
    chart = window.curves.charts["val/loss"]
    series = registry.get_metric_history(ids[1], "val/loss")
    window.curves.set_x_mode("relative")
    assert isinstance(chart.plot_item.getAxis("bottom"), RelativeTimeAxis)
    x, y = chart.curves[ids[1]].getData()
    np.testing.assert_allclose(x, series.timestamps - series.timestamps.min())
    np.testing.assert_allclose(y, series.values)
    window.curves.set_x_mode("wall")
    assert isinstance(chart.plot_item.getAxis("bottom"), pg.DateAxisItem)
    np.testing.assert_allclose(chart.curves[ids[1]].getData()[0], series.timestamps)
    assert not window.curves.log_x.isEnabled()
    window.curves.set_x_mode("step")
    window.curves.log_y.setChecked(True)
    assert chart.plot_item.getAxis("left").logMode
    _x, logged = chart.curves[ids[1]].getData()
    np.testing.assert_allclose(logged, np.log10(series.values))


def test_smoothing_draws_the_ema_with_the_raw_curve_faint_behind(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 2, steps=80, evaluation=False)
    window = open_window(ids)
    chart = window.curves.charts["train/loss"]
    _steps, values = history(registry, ids[0], "train/loss")
    assert not chart.raw_curves  # no raw copies while smoothing is off
    window.curves.smoothing_slider.setValue(60)  # a drag: applied once it settles
    qtbot.waitUntil(
        lambda: np.allclose(chart.curves[ids[0]].getData()[1], ema(values, 0.6)), timeout=TIMEOUT_MS
    )
    raw = chart.raw_curves[ids[0]]
    assert raw.isVisible() and raw.opts["pen"].color().alpha() == RAW_ALPHA
    np.testing.assert_allclose(raw.getData()[1], values)
    assert raw.zValue() < chart.curves[ids[0]].zValue()
    window.curves.set_smoothing(0.0)
    np.testing.assert_allclose(chart.curves[ids[0]].getData()[1], values)
    assert not raw.isVisible()


def test_clicking_a_curve_selects_its_run_and_hover_names_it(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 4, steps=100, evaluation=False)
    window = open_window(ids)
    chart = window.curves.charts["val/roc_auc"]
    target = ids[2]
    # The view maps data to pixels once laid out: wait for the point to land inside it.
    qtbot.waitUntil(lambda: chart.plot_widget.rect().contains(chart.view_position(target, 90)))
    position = chart.view_position(target, 90)
    viewport = chart.plot_widget.viewport()
    move(viewport, position)
    qtbot.waitUntil(lambda: "step 90" in chart.value_label.text())
    values = history(registry, target, "val/roc_auc")[1]
    assert chart.value_label.text().startswith(window.comparison.labels[target])
    assert f"{values[90]:.6g}" in chart.value_label.text()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=position)
    qtbot.waitUntil(lambda: window.selected_run_ids() == [target])
    assert chart.curves[target].opts["pen"].widthF() > chart.curves[ids[0]].opts["pen"].widthF()
    assert chart.curves[ids[0]].opts["pen"].color().alpha() < 255
    assert window.scatter.chart.selected_dots.getData()[0].size == 1


def test_choosing_metrics_loads_only_what_is_missing(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 2, steps=30, evaluation=False)
    window = open_window(ids)
    window.curves.set_metrics(["val/loss"])
    assert list(window.curves.charts) == ["val/loss"]
    with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
        window.curves.set_metrics(["val/loss", "val/roc_auc"])
    assert list(window.curves.charts["val/roc_auc"].curves) == ids
    assert window.curves.metrics_button.text() == "Metrics (2 of 3)"


# ---- tables ----------------------------------------------------------------------------------


def test_only_differences_switch_and_best_values(
    registry: Registry, open_window: OpenWindow, tmp_path: Path
) -> None:
    ids = add_sample_runs(registry, 5, steps=20, evaluation=False)
    window = open_window(ids)
    panel = window.diff
    assert ("param", "random_state") in panel.visible_keys()
    panel.only_differences.setChecked(True)
    keys = panel.visible_keys()
    assert ("param", "random_state") not in keys
    assert ("param", "learning_rate") in keys and ("metric", "val/loss") in keys
    assert all(row.differs for row in panel.model.rows)
    runs = registry.get_runs(ids)
    for key, pick in (("val/roc_auc", max), ("val/loss", min)):
        values = [r.metrics[key].last for r in runs]
        best = values.index(pick(values))
        row = keys.index(("metric", key))
        for i in range(len(ids)):
            index = panel.model.index(row, 2 + i)
            brush = index.data(Qt.ItemDataRole.BackgroundRole)
            assert (brush is not None and brush.color() == BEST_BACKGROUND) == (i == best), key
    panel.filter_edit.setText("loss")
    assert panel.visible_keys() == [("metric", "train/loss"), ("metric", "val/loss")]
    saved = panel.save_csv(tmp_path / "diff.csv")
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["kind", "key", *[window.comparison.labels[r] for r in ids]]
    assert [r[1] for r in rows[1:]] == ["train/loss", "val/loss"]
    assert float(rows[2][2]) == pytest.approx(runs[0].metrics["val/loss"].last, rel=1e-5)
    runs_csv = list(
        csv.reader(io.StringIO(window.save_runs_csv(tmp_path / "runs.csv").read_text()))
    )
    assert [r[2] for r in runs_csv[1:]] == ids
    assert [r[5] for r in runs_csv[1:]] == [window.colours[r] for r in ids]


# ---- parallel coordinates --------------------------------------------------------------------


def test_brushing_an_axis_selects_the_right_runs(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 8, steps=10, evaluation=False)
    window = open_window(ids)
    window.show_tab("parallel")
    panel = window.parallel
    chart = panel.chart
    panel.set_params(["learning_rate", "estimator"])
    assert [f.id for f in chart.axes_fields] == [
        "param:learning_rate", "param:estimator", "metric:val/roc_auc",
    ]  # fmt: skip
    runs = registry.get_runs(ids)
    lr = {r.id: float(r.params["learning_rate"]) for r in runs}
    assert chart.coloured_run_count() == 8 and chart.line_count(chart.grey) == 0
    with qtbot.waitSignal(chart.sig_brushed, timeout=TIMEOUT_MS):
        chart.brush_values("param:learning_rate", 0.04, 0.35)
    expected = [r for r in ids if lr[r] >= 0.04]
    assert chart.brushed_run_ids() == expected
    assert window.selected_run_ids() == expected
    assert chart.coloured_run_count() == len(expected)
    assert chart.line_count(chart.grey) == 8 - len(expected)
    assert panel.count_label.text() == f"{len(expected)} of 8 runs inside the brushes"
    # A second brush on a text axis narrows the selection to runs inside both.
    categories = chart.data.axes[1].values.categories
    forest = categories.index("random_forest")
    chart.brush_values("param:estimator", forest, forest)
    both = [r for r in expected if registry.get_run(r).params["estimator"] == "random_forest"]
    assert window.selected_run_ids() == both and both
    chart.clear_brushes()
    assert window.selected_run_ids() == [] and chart.coloured_run_count() == 8


def test_dragging_along_an_axis_brushes_it(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 6, steps=10, evaluation=False)
    window = open_window(ids)
    window.show_tab("parallel")
    chart = window.parallel.chart
    window.parallel.set_params(["learning_rate"])

    def at(x: float, y: float) -> QPoint:
        scene = chart.view_box.mapViewToScene(QPointF(x, y))
        return chart.plot_widget.mapFromScene(scene)

    qtbot.waitUntil(lambda: chart.plot_widget.rect().contains(at(0.0, 0.0)))
    with qtbot.waitSignal(chart.sig_brushed, timeout=TIMEOUT_MS) as brushed:
        drag(chart.plot_widget.viewport(), at(0.0, 1.02), at(0.0, 0.5))
    low, high = chart.brushes["param:learning_rate"]
    assert high == 1.0 and 0.45 < low < 0.55
    axis = chart.data.axes[0]
    expected = [r for r, p in zip(ids, axis.positions, strict=True) if p >= low]
    assert brushed.args[0] == expected and window.selected_run_ids() == expected


# ---- scatter and bars ------------------------------------------------------------------------


def test_scatter_and_bars_are_given_each_runs_values(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow, tmp_path: Path
) -> None:
    ids = add_sample_runs(registry, 6, steps=10, evaluation=False)
    window = open_window(ids)
    runs = registry.get_runs(ids)
    window.show_tab("scatter")
    scatter = window.scatter
    scatter.set_axes("param:max_depth", "metric:accuracy")
    x, y = scatter.chart.scatter.getData()
    np.testing.assert_allclose(x, [float(r.params["max_depth"]) for r in runs])
    np.testing.assert_allclose(y, [r.metrics["accuracy"].last for r in runs])
    widget = scatter.chart.plot_widget
    qtbot.waitUntil(lambda: widget.rect().contains(scatter.chart.widget_position(ids[3])))
    position = scatter.chart.widget_position(ids[3])
    qtbot.mouseClick(scatter.chart.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=position)
    qtbot.waitUntil(lambda: window.selected_run_ids() == [ids[3]])
    scatter.set_axes("param:estimator", "metric:f1")
    categories = scatter.chart.x_axis.labels
    assert categories == ["hist_gradient_boosting", "logistic_regression", "random_forest"]
    x, _y = scatter.chart.scatter.getData()
    wanted = [categories.index(r.params["estimator"]) for r in runs]
    assert np.all(np.abs(x - wanted) <= 0.13)  # a category's dots are spread a little

    bars = window.bars
    bars.set_metric("val/loss")
    order, values = bars.chart.bar_data()
    expected = sorted(runs, key=lambda r: r.metrics["val/loss"].last)  # lower is better: first
    assert order == [r.id for r in expected]
    np.testing.assert_allclose(bars.chart.bars.opts["width"], values)
    bars.set_metric("accuracy")
    assert bars.chart.bar_data()[0] == [
        r.id for r in sorted(runs, key=lambda r: -r.metrics["accuracy"].last)
    ]
    bars.order_combo.setCurrentIndex(bars.order_combo.findData("runs"))
    assert bars.chart.bar_data()[0] == ids
    assert bars.chart.y_axis.labels == [window.comparison.labels[r] for r in ids]
    rows = list(csv.reader(io.StringIO(bars.to_csv())))
    assert [r[1] for r in rows[1:]] == ids


# ---- evaluation ------------------------------------------------------------------------------


def test_evaluation_overlays_show_each_runs_artifacts(
    registry: Registry, open_window: OpenWindow
) -> None:
    classifiers = add_sample_runs(registry, 3, steps=10)
    regressors = add_sample_runs(registry, 2, steps=10, experiment="prices", regression=True)
    bare = add_sample_runs(registry, 1, steps=10, experiment="bare", evaluation=False)
    window = open_window(classifiers + regressors + bare)
    panel = window.evaluation
    assert panel.note.text() == "1 of 6 runs have no evaluation data"
    for run_id in classifiers:
        stored = artifact_json(registry, run_id, "evaluation/roc_curve.json")["curves"][0]
        x, y = panel.roc.curves[f"{run_id}|stay"].getData()
        np.testing.assert_allclose(x, stored["fpr"])
        np.testing.assert_allclose(y, stored["tpr"])
        stored_pr = artifact_json(registry, run_id, "evaluation/pr_curve.json")["curves"][0]
        np.testing.assert_allclose(
            panel.pr.curves[f"{run_id}|stay"].getData()[1], stored_pr["precision"]
        )
    assert set(panel.matrices) == set(classifiers)
    counts = artifact_json(registry, classifiers[0], "evaluation/confusion_matrix.json")["counts"]
    matrix = panel.matrices[classifiers[0]]
    assert matrix.cell_texts() == [str(c) for row in counts for c in row]
    panel.set_normalised(True)
    share = counts[0][0] / sum(counts[0])
    assert matrix.cell_texts()[0] == f"{share:.0%}"
    for run_id in regressors:
        stored = artifact_json(registry, run_id, "evaluation/predictions.json")
        x, y = panel.predicted.curves[f"{run_id}"].getData()
        np.testing.assert_allclose(x, stored["actual"])
        np.testing.assert_allclose(y, stored["predicted"])
        np.testing.assert_allclose(panel.residuals.curves[run_id].getData()[1], stored["residuals"])
    assert set(panel.importances.items) == set(classifiers + regressors)
    assert panel.importances.features[:2] == ["tenure", "monthly_charges"]


def test_runs_without_evaluation_data_say_so(registry: Registry, open_window: OpenWindow) -> None:
    ids = add_sample_runs(registry, 2, steps=10, evaluation=False)
    window = open_window(ids)
    window.show_tab("evaluation")
    assert window.evaluation.empty_label.isVisible()
    assert window.evaluation.empty_label.text() == NO_DATA_TEXT
    assert not window.evaluation.scroll_area.isVisible()


# ---- exports ---------------------------------------------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_exports_write_valid_png_svg_csv_and_html(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow, tmp_path: Path
) -> None:
    ids = add_sample_runs(registry, 3, steps=200)
    window = open_window(ids)
    chart = window.curves.charts["train/loss"]
    png = chart.save_png(tmp_path / "chart.png")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 200 and image.height() > 150
    for name, item in (("curve", chart), ("parallel", window.parallel.chart)):
        svg = item.save_svg(tmp_path / f"{name}.svg")
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}path")
    chart.copy_image()
    assert not QGuiApplication.clipboard().image().isNull()

    report = tmp_path / "report.html"
    with qtbot.waitSignal(window.sig_report_written, timeout=TIMEOUT_MS) as written:
        window.export_report(report)
    assert written.args[0] == report.resolve()
    html = report.read_text(encoding="utf-8")
    parser = _Html()
    parser.feed(html)
    for _tag, attrs in parser.tags:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http://", "https://"))
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == len(window.charts()) and all(
        src.startswith("data:image/png;base64,") for src in images
    )
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(svgs) >= 3
    for svg in svgs:
        ET.fromstring(svg)
    for run in registry.get_runs(ids):
        assert run.name in html
    assert window.banner.isVisible() and "Saved the comparison report" in window.banner.label.text()


# ---- live updates ----------------------------------------------------------------------------


def test_curves_update_in_place_while_a_run_is_running(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    live = registry.create_run("live", name="live-run", status=RunStatus.RUNNING)
    now = time.time()
    registry.log_batch(live.id, metrics=[("loss", 1 / (s + 1), s, now + s) for s in range(10)])
    done = registry.create_run("live", name="done-run", status=RunStatus.FINISHED)
    registry.log_batch(done.id, metrics=[("loss", 2 / (s + 1), s, now + s) for s in range(10)])
    window = open_window([live.id, done.id])
    assert window.live_timer.isActive()
    window.live_timer.setInterval(50)
    chart = window.curves.charts["loss"]
    curve = chart.curve(live.id)

    def another_process(fn: Callable[[Registry], None]) -> None:
        """Write through a connection of its own, as a training worker would."""

        def work() -> None:
            with Registry(registry.root) as other:
                fn(other)

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()

    with qtbot.waitSignal(window.sig_refreshed, timeout=TIMEOUT_MS):
        another_process(
            lambda other: other.log_batch(
                live.id, metrics=[("loss", 1 / (s + 1), s, now + s) for s in range(10, 30)]
            )
        )
    assert chart.curve(live.id) is curve  # the same curve, fed new arrays
    x, _y = curve.getData()
    assert len(x) == 30 and x[-1] == 29
    assert window.live_timer.isActive()
    with qtbot.waitSignal(window.sig_refreshed, timeout=TIMEOUT_MS):
        another_process(lambda other: other.set_run_status(live.id, RunStatus.FINISHED))
    assert not window.live_timer.isActive()
    assert window.runs_view.legend_model.runs[0].status == RunStatus.FINISHED


# ---- errors ----------------------------------------------------------------------------------


def test_missing_runs_are_left_out_with_a_banner(
    qtbot: QtBot, registry: Registry, open_window: OpenWindow
) -> None:
    ids = add_sample_runs(registry, 1, steps=5, evaluation=False)
    window = open_window([ids[0], "0123456789abcdef"])
    assert window.run_ids == ids
    assert window.banner.isVisible() and window.banner.level == "info"
    assert "1 of the selected runs no longer exist" in window.banner.label.text()
    gone = open_window(["fedcba9876543210"], wait=False)
    qtbot.waitUntil(lambda: gone.banner.isVisible())
    assert gone.banner.level == "error"
    assert gone.banner.label.text() == "None of these runs exist any more."


def test_a_thousand_runs_open_in_scatter_and_parallel_coordinates(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]], open_window: OpenWindow
) -> None:
    ids = populate(1000)
    window = open_window(ids, wait=False)
    with qtbot.waitSignal(window.sig_summaries_ready, timeout=TIMEOUT_MS):
        pass
    assert len(window.scatter.chart.run_ids) == 1000
    assert window.parallel.chart.coloured_run_count() == 1000
    assert len(window.bars.chart.bar_data()[0]) == 1000
    assert window.diff.model.columnCount() == 1002


# ---- the run detail's charts -----------------------------------------------------------------


def test_run_charts_widget_shows_one_runs_curves_and_evaluation(
    qtbot: QtBot, registry: Registry
) -> None:
    ids = add_sample_runs(registry, 2, steps=40)
    widget = RunChartsWidget(registry)
    qtbot.addWidget(widget)
    widget.resize(520, 700)
    widget.show()
    try:
        with qtbot.waitSignal(widget.sig_loaded, timeout=TIMEOUT_MS) as loaded:
            widget.show_run(ids[1])
        assert loaded.args == [ids[1]]
        assert list(widget.curves.charts) == ["train/loss", "val/loss", "val/roc_auc"]
        for key, chart in widget.curves.charts.items():
            assert list(chart.curves) == [ids[1]]
            steps, values = history(registry, ids[1], key)
            np.testing.assert_array_equal(chart.curves[ids[1]].getData()[0], steps)
            np.testing.assert_allclose(chart.curves[ids[1]].getData()[1], values)
        assert widget.tabs.isTabEnabled(1)
        assert list(widget.evaluation.roc.curves) == [f"{ids[1]}|stay"]
        assert list(widget.evaluation.matrices) == [ids[1]]
        registry.log_batch(ids[1], metrics=[("val/loss", 0.1, 40, time.time())])
        with qtbot.waitSignal(widget.sig_loaded, timeout=TIMEOUT_MS):
            widget.refresh()
        assert len(widget.curves.charts["val/loss"].curves[ids[1]].getData()[0]) == 41
        widget.show_run(None)
        assert all(not chart.curves for chart in widget.curves.charts.values())
    finally:
        widget.shutdown()


def test_the_preview_opens_on_sample_runs(qtbot: QtBot, tmp_path: Path) -> None:
    from desktop_app.ui.compare.__main__ import open_preview

    registry, window = open_preview(tmp_path / "preview", count=3)
    try:
        with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
            pass
        assert len(window.run_ids) == 5
        assert window.evaluation.has_data and window.curves.charts
    finally:
        window.close()
        registry.close()
