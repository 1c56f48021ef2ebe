"""Dense metric curves: what each pixel column of the chart is given to draw, not its pixels.

The envelope maths (Qt-free, ``reports.envelope``) is checked against a plain reference; the
chart checks then ask a real ``CurveChart`` what its last paint drew after zooming and panning.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from desktop_app.reports.envelope import CurveEnvelope, XIndex, column_spans, span_rows
from desktop_app.ui.compare.curves import CurveChart

# ---- the envelope ----------------------------------------------------------------------------


def reference_spans(
    x: np.ndarray, y: np.ndarray, left: float, right: float, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the extremes of the polyline inside it, one segment at a time (slow, plain)."""
    edges = np.linspace(left, right, columns + 1)
    low = np.full(columns, np.nan)
    high = np.full(columns, np.nan)

    def reach(column: int, value: float) -> None:
        low[column] = np.fmin(low[column], value)
        high[column] = np.fmax(high[column], value)

    for i in range(x.size):
        if math.isfinite(y[i]) and left <= x[i] < right:
            reach(int(np.searchsorted(edges, x[i], side="right")) - 1, y[i])
    for i in range(x.size - 1):
        if not (math.isfinite(y[i]) and math.isfinite(y[i + 1])):
            continue  # a NaN breaks the line
        for k, edge in enumerate(edges):
            if x[i] < edge <= x[i + 1]:
                value = y[i] + (y[i + 1] - y[i]) * (edge - x[i]) / (x[i + 1] - x[i])
                for column in (k - 1, k):
                    if 0 <= column < columns:
                        reach(column, value)
    return low, high


def test_column_spans_are_the_lines_reach_in_each_column() -> None:
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0, 100, 300))
    y = rng.normal(size=300)
    y[[40, 41, 150]] = np.nan
    for left, right, columns in [(0, 100, 37), (10.5, 30, 200), (-5, 120, 9), (50, 51, 16)]:
        low, high = column_spans(x, y, left, right, columns)
        expected = reference_spans(x, y, left, right, columns)
        np.testing.assert_allclose(low, expected[0])
        np.testing.assert_allclose(high, expected[1])


def test_a_dense_view_keeps_every_spike_and_dip() -> None:
    rng = np.random.default_rng(5)
    x = np.arange(100_000, dtype=float)
    y = 0.5 + rng.normal(0, 0.01, x.size)
    y[54_321], y[12_345] = 9.0, -7.0
    envelope = CurveEnvelope(x, y)
    low, high = envelope.spans(0, 100_000, 800)
    assert np.nanmax(high) == 9.0 and np.nanmin(low) == -7.0
    # In the column of its step, give or take the quarter column a block may spill over.
    assert abs(int(np.nanargmax(high)) - 54_321 * 800 // 100_000) <= 1
    assert abs(int(np.nanargmin(low)) - 12_345 * 800 // 100_000) <= 1
    # Every column's extremes are drawn there or in a neighbouring column (blocks at most a
    # quarter column wide may spill over an edge), and no column is left empty.
    exact_low, exact_high = column_spans(x, y, 0, 100_000, 800)
    near_low = np.minimum(np.minimum(low, np.roll(low, 1)), np.roll(low, -1))
    near_high = np.maximum(np.maximum(high, np.roll(high, 1)), np.roll(high, -1))
    assert np.all(near_low <= exact_low) and np.all(near_high >= exact_high)
    assert np.isfinite(low).all() and np.isfinite(high).all()


def test_uneven_x_is_traced_exactly_not_from_blocks() -> None:
    # A pause in wall-clock time and a log axis both put most points in a few columns.
    x = np.concatenate([np.arange(50_000.0), 1e6 + np.arange(50_000.0)])
    y = np.sin(np.arange(x.size) / 300)
    paused = CurveEnvelope(x, y)
    np.testing.assert_allclose(paused.spans(0, x[-1], 700), column_spans(x, y, 0, x[-1], 700))
    logged = np.log10(np.arange(1, 100_001, dtype=float))
    curve = CurveEnvelope(logged, y)
    low, high = curve.spans(0, 5, 700)
    exact = column_spans(logged, y, 0, 5, 700)
    np.testing.assert_allclose(low, exact[0])
    np.testing.assert_allclose(high, exact[1])


def test_runs_with_the_same_steps_share_one_layout_and_get_their_own_spans() -> None:
    x = np.arange(50_000, dtype=float)
    rng = np.random.default_rng(6)
    first_y, second_y = rng.normal(size=x.size), rng.normal(size=x.size) + 3
    index = XIndex(x)
    assert index.same_x(x.copy()) and not index.same_x(x + 1)
    shared = [CurveEnvelope(index, first_y), CurveEnvelope(index, second_y)]
    alone = [CurveEnvelope(x.copy(), first_y), CurveEnvelope(x.copy(), second_y)]
    for left, right in [(0, 50_000), (100.5, 700), (30_000, 31_000)]:
        for one, other in zip(shared, alone, strict=True):
            np.testing.assert_array_equal(
                one.spans(left, right, 640), other.spans(left, right, 640)
            )


def test_span_rows_map_values_to_pixel_rows_and_widen_for_thick_pens() -> None:
    low = np.array([0.0, 5.0, np.nan, 2.0])
    high = np.array([1.0, 5.0, np.nan, 10.0])
    first, stop = span_rows(low, high, bottom=0.0, top=10.0, rows=100)
    np.testing.assert_array_equal(first, [90, 50, 0, 0])
    np.testing.assert_array_equal(stop, [101, 51, 0, 81])  # a flat column is still a pixel high
    wide_first, wide_stop = span_rows(low, high, bottom=0.0, top=10.0, rows=100, extra=1)
    # One pixel more up and down, and the neighbouring columns' reach (a round 3-pixel pen).
    np.testing.assert_array_equal(wide_first, [50, 49, 0, -1])
    np.testing.assert_array_equal(wide_stop, [102, 101, 81, 82])


# ---- the chart -------------------------------------------------------------------------------


@pytest.fixture
def chart(qtbot: QtBot) -> CurveChart:
    widget = CurveChart("loss")
    qtbot.addWidget(widget)
    widget.resize(800, 400)
    widget.show()
    return widget


def feed(chart: CurveChart, run_id: str, values: np.ndarray, colour: str = "#0072B2") -> None:
    steps = np.arange(values.size)
    chart.set_run(run_id, run_id, colour, steps, steps.astype(float), values)


def noisy(seed: int, count: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = np.arange(count)
    return 0.2 + 0.8 * np.exp(-steps / 9_000) + rng.normal(0, 0.02, count)


def test_zoomed_in_every_point_in_view_is_drawn_at_full_resolution(chart: CurveChart) -> None:
    values = noisy(1)
    feed(chart, "a", values)
    chart.view_box.setXRange(40_000, 40_150, padding=0)
    chart.grab()
    x, low, high = chart.drawn("a")
    view = chart.view_box.viewRect()
    assert x[0] > view.left() and x[-1] < view.right() and x.size >= 150
    # Each column holds exactly the line's reach there, traced from every point.
    near = slice(39_990, 40_160)
    steps = np.arange(values.size, dtype=float)
    expected = reference_spans(steps[near], values[near], 40_000, 40_150, x.size)
    np.testing.assert_allclose(low, expected[0])
    np.testing.assert_allclose(high, expected[1])
    width = x[1] - x[0]
    for step in range(40_000, 40_150):
        column = int((step - 40_000) / width)
        assert low[column] <= values[step] <= high[column]


def test_zoomed_out_a_single_spike_is_still_drawn(chart: CurveChart) -> None:
    values = noisy(2)
    values[77_777] = 5.0
    feed(chart, "a", values)
    feed(chart, "b", noisy(3), "#D55E00")
    chart.grab()
    x, _low, high = chart.drawn("a")
    assert x.size == chart.canvas.columns > 100
    assert np.nanmax(high) == 5.0
    assert abs(x[int(np.nanargmax(high))] - 77_777) <= 2 * (x[1] - x[0])
    # The y range makes room for it.
    assert chart.view_box.viewRange()[1][1] >= 5.0


def test_y_fits_the_data_in_view_after_panning(chart: CurveChart) -> None:
    values = noisy(4)
    feed(chart, "a", values)
    chart.grab()
    chart.view_box.setXRange(60_000, 90_000, padding=0)
    chart.grab()
    bottom, top = chart.view_box.viewRange()[1]
    visible = values[60_000:90_001]
    assert bottom <= visible.min() and top >= visible.max()
    assert top < values[:1000].max()  # the early, high losses are out of view and out of range
    chart.view_box.enableAutoRange()
    chart.grab()
    assert chart.view_box.viewRange()[1][1] >= values.max()


def test_live_updates_gaps_and_hidden_curves(chart: CurveChart) -> None:
    values = np.linspace(1.0, 0.5, 1_000)
    values[400:450] = np.nan
    feed(chart, "a", values[:600])
    chart.grab()
    feed(chart, "a", values)  # the run logged more: the same curve, new arrays
    chart.grab()
    x, low, _high = chart.drawn("a")
    assert x[np.isfinite(low)][-1] > 990 and np.nanmin(low) == pytest.approx(0.5, abs=0.01)
    in_gap = (x > 402) & (x < 448)
    assert in_gap.any() and np.isnan(low[in_gap]).all()  # a NaN is a gap, not a line
    chart.curves["a"].hide()
    assert chart.canvas.stacked() == []


def test_a_selected_run_is_drawn_last_and_thicker(chart: CurveChart) -> None:
    for i, run_id in enumerate("abc"):
        feed(chart, run_id, noisy(10 + i, 5_000))
    chart.set_selected(["a"])
    chart.grab()
    stacked = chart.canvas.stacked()
    assert stacked[-1] is chart.curves["a"]  # on top of the others
    assert chart.curves["a"].opts["pen"].widthF() > chart.curves["b"].opts["pen"].widthF()
    assert chart.curves["b"].opts["pen"].color().alpha() < 255  # the others dimmed
    chart.set_smoothing(0.8)
    chart.grab()
    stacked = chart.canvas.stacked()
    raw = set(chart.raw_curves.values())
    # The faint raw curves all lie under every smoothed one.
    assert set(stacked[: len(raw)]) == raw and stacked[-1] is chart.curves["a"]


def test_an_unchanged_view_is_laid_on_again_and_any_change_is_drawn_anew(
    chart: CurveChart, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed(chart, "a", noisy(20, 5_000))
    feed(chart, "b", noisy(21, 5_000), "#D55E00")
    first = chart.grab().toImage()
    renders: list[int] = []
    render = chart.canvas._render
    monkeypatch.setattr(chart.canvas, "_render", lambda *args: renders.append(1) or render(*args))
    assert chart.grab().toImage() == first and renders == []  # a repaint, nothing moved
    chart.set_selected(["a"])  # "b" is dimmed: same lines, other colours
    dimmed = chart.grab().toImage()
    assert renders == [1] and dimmed != first
    chart.view_box.setXRange(1_000, 2_000, padding=0)
    assert chart.grab().toImage() != dimmed and len(renders) == 2
    chart.curves["b"].hide()
    chart.grab()
    assert len(renders) == 3
