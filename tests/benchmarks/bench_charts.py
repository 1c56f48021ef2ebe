"""Workload: the Compare charts. 20 runs × 100,000 points to first paint, pan/zoom frame rate,
and 1,000 runs' final metrics opened in scatter and parallel coordinates.

Runs in this process on Qt's offscreen platform (``make bench`` sets QT_QPA_PLATFORM): it
paints with the same raster engine a desktop uses, without a screen to wait for.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.bench_common import (
    Context,
    Result,
    cached,
    finish_build,
    fmt_seconds,
    say,
    spread,
    start_build,
    verdict,
)

RUNS = 20
POINTS = 100_000
MANY_RUNS = 1_000
PAINT_GOAL_S = 0.200
FPS_GOAL = 30.0
OPEN_GOAL_S = 1.0
FORMAT = 1


def _app() -> Any:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["bench_charts"])


def _series(run: int) -> Any:
    """A noisy decaying loss of POINTS steps, different for each run."""
    from desktop_app.registry import MetricSeries

    rng = np.random.default_rng(run)
    steps = np.arange(POINTS, dtype=np.int64)
    values = 0.2 + 0.8 * np.exp(-steps / (8_000 + 900 * run)) + rng.normal(0, 0.02, POINTS)
    stamps = 1.7e9 + steps * 0.05
    return MetricSeries("loss", steps, stamps, values)


def _wait(app: Any, signal: Any, timeout_s: float = 120) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def _registry_20(ctx: Context) -> Path:
    """A registry of RUNS runs with one metric of POINTS steps each (built once)."""
    folder = ctx.bench_dir / f"charts-{RUNS}x{POINTS}"
    marker = {"store": "charts-series", "runs": RUNS, "points": POINTS, "format": FORMAT}
    if cached(folder, marker):
        return folder
    say(f"  building {RUNS} runs × {POINTS:,} points in {folder} (once) …")
    from desktop_app.registry import Registry, RunStatus
    from desktop_app.registry.metrics import write_points

    start_build(folder)
    with Registry(folder) as registry:
        for run_index in range(RUNS):
            run = registry.create_run(
                "charts", name=f"run-{run_index:02d}", status=RunStatus.FINISHED,
                params={"lr": 10 ** -(1 + run_index % 4), "depth": 3 + run_index % 5},
            )  # fmt: skip
            series = _series(run_index)
            points = list(
                zip(
                    ["loss"] * POINTS,
                    series.values.tolist(),
                    series.steps.tolist(),
                    series.timestamps.tolist(),
                    strict=True,
                )
            )
            with registry.db.write() as conn:
                write_points(conn, run.id, points)
    finish_build(folder, marker)
    return folder


def _registry_1000(ctx: Context) -> Path:
    """A registry of MANY_RUNS finished runs with 6 params and 5 final metrics (built once)."""
    folder = ctx.bench_dir / f"charts-{MANY_RUNS}-runs"
    marker = {"store": "charts-final", "runs": MANY_RUNS, "format": FORMAT}
    if cached(folder, marker):
        return folder
    say(f"  building {MANY_RUNS:,} runs in {folder} (once) …")
    from desktop_app.registry import Registry, RunStatus

    start_build(folder)
    rng = np.random.default_rng(7)
    now = time.time()
    with Registry(folder) as registry, registry.db.write():
        for i in range(MANY_RUNS):
            lr = float(10 ** rng.uniform(-4, -1))
            depth = int(rng.integers(2, 16))
            run = registry.create_run(
                "sweep", name=f"trial-{i:04d}", status=RunStatus.FINISHED,
                params={
                    "learning_rate": lr, "max_depth": depth,
                    "estimator": ("hgb", "rf", "svm")[i % 3],
                    "subsample": float(rng.uniform(0.5, 1)), "l2": float(rng.uniform(0, 1)),
                    "seed": i,
                },
            )  # fmt: skip
            score = 0.9 - abs(np.log10(lr) + 2) * 0.05 - abs(depth - 8) * 0.005
            metrics = {
                "accuracy": score + rng.normal(0, 0.01),
                "f1": score - 0.03 + rng.normal(0, 0.01),
                "roc_auc": min(score + 0.05, 0.999),
                "log_loss": 1 - score + rng.normal(0, 0.02),
                "fit_seconds": 5 + depth * 2 + rng.normal(0, 1),
            }
            registry.log_batch(
                run.id,
                metrics=[(k, float(v), 0, now) for k, v in metrics.items()],
                heartbeat=False,
            )
    finish_build(folder, marker)
    return folder


def _first_paint(app: Any, size: tuple[int, int]) -> list[float]:
    """Seconds from feeding 20 × 100k points to a shown curves panel until it is painted.

    The panel is given the size it has in a 1200×800 Compare window.
    """
    from desktop_app.registry import Registry
    from desktop_app.reports.colours import run_colours
    from desktop_app.ui.compare.curves import CurvesPanel

    series = [_series(i) for i in range(RUNS)]
    import tempfile

    folder = tempfile.mkdtemp(prefix="bench-charts-")
    registry = Registry(folder)
    runs = [
        registry.create_run("paint", name=f"run-{i:02d}", run_id=f"{i:016x}") for i in range(RUNS)
    ]
    registry.close()
    ids = [r.id for r in runs]
    colours = run_colours(ids)
    labels = {r.id: r.name for r in runs}
    times = []
    panel = None
    for _attempt in range(4):
        if panel is not None:
            panel.close()
            panel.deleteLater()
        app.processEvents()
        panel = CurvesPanel()
        panel.resize(*size)
        panel.show()
        app.processEvents()
        started = time.perf_counter()
        panel.set_runs(runs, colours, labels, ["loss"], ["loss"])
        panel.apply_series({(run_id, "loss"): s for run_id, s in zip(ids, series, strict=True)})
        panel.grab()  # paints every curve once, as the first frame on screen would
        times.append(time.perf_counter() - started)
    if panel is not None:
        panel.close()
        panel.deleteLater()
        app.processEvents()
    return times[1:]


def _frame_rate(app: Any, chart: Any, *, grab: bool = True) -> tuple[float, float]:
    """Frames per second while panning, then zooming, a chart of 20 × 100k points.

    A frame is ``setXRange`` + ``processEvents`` (the window repaints) + ``grab`` (a second,
    full render of the chart); with ``grab=False`` it is one repaint, as on a screen.
    """
    view = chart.view_box
    frames = 40

    def frame(low: float, high: float) -> None:
        view.setXRange(low, high, padding=0)
        app.processEvents()
        if grab:
            chart.grab()

    frame(0, 50_000)  # warm-up
    started = time.perf_counter()
    for i in range(frames):
        left = (i % 20) * 2_500.0
        frame(left, left + 50_000)
    pan = frames / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(frames):
        width = 100_000 / (1.25 ** (i % 20))
        frame(50_000 - width / 2, 50_000 + width / 2)
    zoom = frames / (time.perf_counter() - started)
    view.enableAutoRange()
    return pan, zoom


def _open_many(app: Any, folder: Path) -> dict[str, float]:
    """Seconds from open_compare on 1,000 runs to scatter and parallel coordinates painted."""
    from desktop_app.registry import Registry
    from desktop_app.ui import workers
    from desktop_app.ui.compare import open_compare

    with Registry(folder) as registry:
        ids = registry.search_runs(limit=None)
        started = time.perf_counter()
        window = open_compare(registry, ids)
        window.resize(1200, 800)
        _wait(app, window.sig_summaries_ready)
        ready = time.perf_counter() - started
        window.show_tab("parallel")
        window.parallel.chart.grab()
        parallel = time.perf_counter() - started
        window.show_tab("scatter")
        window.scatter.chart.grab()
        scatter = time.perf_counter() - started
        drawn = window.parallel.chart.coloured_run_count()
        window.close()
        workers.wait_for_tasks()
    if drawn != len(ids):
        raise RuntimeError(f"parallel coordinates drew {drawn} of {len(ids)} runs")
    return {"ready": ready, "parallel": parallel, "both": scatter, "runs": len(ids)}


def run(ctx: Context) -> list[Result]:
    """Measure and print the chart figures; return one Result per goal."""
    app = _app()
    repeats = 2 if ctx.quick else 4
    folder = _registry_20(ctx)
    from desktop_app.registry import Registry
    from desktop_app.ui import workers
    from desktop_app.ui.compare import open_compare

    say(f"  Compare window 1200×800 on {RUNS} stored runs × {POINTS:,} points of one metric")
    with Registry(folder) as registry:
        ids = registry.search_runs(limit=None)
        loaded = []
        for attempt in range(repeats):
            started = time.perf_counter()
            window = open_compare(registry, ids)
            window.resize(1200, 800)
            _wait(app, window.sig_loaded)
            window.grab()
            loaded.append(time.perf_counter() - started)
            if attempt < repeats - 1:
                window.close()
                workers.wait_for_tasks()
        size = (window.curves.width(), window.curves.height())
        chart = window.curves.charts["loss"]
        say(f"    open, read {RUNS} series and paint: {spread(loaded)}")
        pan, zoom = _frame_rate(app, chart)
        screen_pan, screen_zoom = _frame_rate(app, chart, grab=False)
        say(
            f"    one repaint per frame, as on a screen: pan {screen_pan:.1f} frames/s, zoom "
            f"{screen_zoom:.1f} frames/s (every run drawn as {chart.canvas.columns} pixel "
            "columns from all its points)"
        )
        say(
            f"    with a grab() after each repaint: pan {pan:.1f} frames/s, zoom {zoom:.1f} "
            "frames/s (the grab lays the unchanged view's image on again)"
        )
        # Smoothing doubles the curves: each run's raw curve stays, faint, behind its EMA.
        window.curves.set_smoothing(0.9)
        smooth_pan, smooth_zoom = _frame_rate(app, chart, grab=False)
        window.curves.set_smoothing(0.0)
        say(
            f"    smoothing on ({RUNS} EMA curves + {RUNS} faint raw ones), one repaint per "
            f"frame: pan {smooth_pan:.1f} frames/s, zoom {smooth_zoom:.1f} frames/s"
        )
        window.close()
        workers.wait_for_tasks()

    say(f"  first paint: {RUNS} × {POINTS:,} points fed to the curves panel ({size[0]}×{size[1]})")
    times = _first_paint(app, size)
    paint = statistics.median(times)
    say(f"    {spread(times)} (each run reduced to pixel columns, all drawn in one image)")

    many = _registry_1000(ctx)
    opens = [_open_many(app, many) for _ in range(repeats)]
    both = statistics.median(o["both"] for o in opens)
    say(
        f"  {MANY_RUNS:,} runs: summaries read and tables/charts built "
        f"{fmt_seconds(statistics.median(o['ready'] for o in opens))}, parallel coordinates "
        f"painted {fmt_seconds(statistics.median(o['parallel'] for o in opens))}, scatter "
        f"painted {fmt_seconds(both)} (medians of {len(opens)})"
    )
    fps = min(screen_pan, screen_zoom, smooth_pan, smooth_zoom)
    return [
        Result(
            "C1", f"{RUNS} runs × {POINTS // 1000}k points, first paint", fmt_seconds(paint),
            f"< {fmt_seconds(PAINT_GOAL_S)}", verdict(paint < PAINT_GOAL_S),
        ),
        Result(
            "C2", "pan/zoom frame rate on that chart (worst)", f"{fps:.0f} fps",
            f"> {FPS_GOAL:.0f} fps", verdict(fps > FPS_GOAL),
            notes=[
                f"one repaint per frame: pan {screen_pan:.1f} fps, zoom {screen_zoom:.1f} fps; "
                f"smoothing on: pan {smooth_pan:.1f} fps, zoom {smooth_zoom:.1f} fps; "
                f"repaint + grab(): pan {pan:.1f} fps, zoom {zoom:.1f} fps"
            ],
        ),
        Result(
            "C3", "Compare from the registry (read + paint)",
            fmt_seconds(statistics.median(loaded)), "—", "INFO",
        ),
        Result(
            "C4", f"{MANY_RUNS:,} runs: scatter + parallel coordinates open", fmt_seconds(both),
            f"< {fmt_seconds(OPEN_GOAL_S)}", verdict(both < OPEN_GOAL_S),
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    import sys

    from tests.benchmarks.bench_common import table

    context = Context(quick="--quick" in sys.argv, mlflow_python=None)
    context.bench_dir.mkdir(parents=True, exist_ok=True)
    results = run(context)
    rows = [[r.key, r.title, r.modeldesk, r.goal, r.status] for r in results]
    say(table(["#", "workload", "ModelDesk", "goal", "result"], rows))
