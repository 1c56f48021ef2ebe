"""The big stores the read workloads run on, built once into ``.bench/`` and reused.

Each store folder holds a ``bench-marker.json`` written only after a complete build; a store
whose marker is missing or describes another build (size, format, MLflow version) is rebuilt.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.benchmarks import bench_dataset as data
from tests.benchmarks.bench_common import (
    Context,
    cached,
    finish_build,
    fmt_seconds,
    mlflow_call,
    say,
    start_build,
)

# Bump when the contents of a store change, so old builds are not reused.
FORMAT = 1
MLFLOW_SEARCH_RUNS = 10_000  # MLflow's search is super-linear in the store size (see README)


def modeldesk_registry(ctx: Context) -> Path:
    """A registry of ``ctx.registry_runs`` finished runs (5 params, 3 metrics each)."""
    folder = ctx.bench_dir / f"modeldesk-{ctx.registry_runs}"
    marker = {"store": "modeldesk-search", "runs": ctx.registry_runs, "format": FORMAT}
    if cached(folder, marker):
        return folder
    say(f"  building a ModelDesk registry of {ctx.registry_runs:,} runs in {folder} (once) …")
    started = time.perf_counter()
    start_build(folder)
    _build_modeldesk(folder, ctx.registry_runs)
    finish_build(folder, marker)
    say(f"  built in {fmt_seconds(time.perf_counter() - started)}")
    return folder


def _build_modeldesk(folder: Path, count: int) -> None:
    from desktop_app.registry import Registry
    from desktop_app.registry.metrics import write_points

    # The schema comes from the app itself; rows go in with sqlite3 (the API would take long).
    registry = Registry(folder)
    exp_ids = [
        registry.ensure_experiment(data.experiment_name(i)).id for i in range(data.EXPERIMENTS)
    ]
    host = registry.host
    with registry.db.write() as conn:
        for run in data.synthetic_runs(count):
            conn.execute(
                "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, "
                "created_at, heartbeat, host, source) "
                "VALUES (?, ?, ?, 'FINISHED', ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    exp_ids[run.experiment],
                    run.name,
                    run.start_time,
                    run.end_time,
                    run.start_time,
                    run.end_time,
                    host,
                    "bench_stores.py",
                ),
            )
            conn.executemany(
                "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                [(run.id, k, v) for k, v in run.params.items()],
            )
            write_points(
                conn,
                run.id,
                [
                    (key, value, step, stamp)
                    for key, points in run.metrics.items()
                    for step, value, stamp in points
                ],
            )
    registry.db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    registry.close()


def modeldesk_series(ctx: Context) -> tuple[Path, str]:
    """A registry with one run holding one metric of ``ctx.series_steps`` points.

    Logged through the tracking API (so it is stored in the blocks real flushes make).
    """
    folder = ctx.bench_dir / f"modeldesk-series-{ctx.series_steps}"
    marker = {"store": "modeldesk-series", "steps": ctx.series_steps, "format": FORMAT}
    if cached(folder, marker):
        from desktop_app.registry import Registry

        with Registry(folder) as registry:
            return folder, registry.search_runs("", limit=1)[0]
    say(f"  logging a {ctx.series_steps:,}-step series into {folder} (once) …")
    start_build(folder)
    from desktop_app.registry import Registry
    from desktop_app.registry.tracking import start_run

    with Registry(folder) as registry:
        with start_run(experiment="bench-series", name="series", registry=registry) as run:
            for step in range(ctx.series_steps):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
        run_id = run.id
        blocks = (
            registry.db.connection()
            .execute("SELECT count(*) FROM metric_blocks WHERE run_id = ?", (run_id,))
            .fetchone()[0]
        )
    finish_build(folder, {**marker})
    say(f"  stored as {blocks} blocks")
    return folder, run_id


def mlflow_search_store(ctx: Context, mlflow_version: str) -> tuple[Path, int]:
    """MLflow's store for workload 2 (smaller than ModelDesk's: see MLFLOW_SEARCH_RUNS)."""
    runs = min(MLFLOW_SEARCH_RUNS, ctx.registry_runs)
    folder = ctx.bench_dir / f"mlflow-{runs}"
    marker = {"store": "mlflow-search", "runs": runs, "format": FORMAT, "mlflow": mlflow_version}
    db = folder / "mlflow.db"
    if not cached(folder, marker):
        say(f"  building an MLflow store of {runs:,} runs in {folder} (once) …")
        start_build(folder)
        figures = mlflow_call(ctx, "build-search", db, runs=runs)
        finish_build(folder, marker)
        say(f"  built in {fmt_seconds(figures['build_seconds'])}")
    return db, runs


def mlflow_series_store(ctx: Context, mlflow_version: str) -> Path:
    """MLflow's store for workload 3: one run with one metric of ``ctx.series_steps`` points."""
    folder = ctx.bench_dir / f"mlflow-series-{ctx.series_steps}"
    marker = {
        "store": "mlflow-series",
        "steps": ctx.series_steps,
        "format": FORMAT,
        "mlflow": mlflow_version,
    }
    db = folder / "mlflow.db"
    if not cached(folder, marker):
        say(f"  logging a {ctx.series_steps:,}-step series into MLflow's store {folder} (once) …")
        start_build(folder)
        figures = mlflow_call(ctx, "build-series", db, steps=ctx.series_steps)
        finish_build(folder, marker)
        say(f"  logged in {fmt_seconds(figures['log_seconds'])} (log_batch, 1,000 points a call)")
    return db


def registry_counts(folder: Path) -> tuple[int, int]:
    """(runs, metric summary rows) of a registry, read without opening it through the app."""
    conn = sqlite3.connect(f"{(folder / 'registry.db').as_uri()}?mode=ro", uri=True)
    try:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        summaries = conn.execute("SELECT count(*) FROM metric_summary").fetchone()[0]
    finally:
        conn.close()
    return int(runs), int(summaries)
