"""Workload 3: fetch one metric series of 100,000 steps, against MLflow."""

from __future__ import annotations

import statistics
import time

from tests.benchmarks import bench_stores
from tests.benchmarks.bench_common import (
    Context,
    MlflowError,
    Result,
    fmt_ratio,
    fmt_seconds,
    mlflow_call,
    repeat,
    say,
    spread,
    verdict,
)

GOAL_S = 0.020


def run(ctx: Context, mlflow_version: str | None) -> list[Result]:
    from desktop_app.registry import Registry

    repeats = 5 if ctx.quick else 15
    folder, run_id = bench_stores.modeldesk_series(ctx)
    with Registry(folder) as registry:
        blocks = (
            registry.db.connection()
            .execute("SELECT count(*) FROM metric_blocks WHERE run_id = ?", (run_id,))
            .fetchone()[0]
        )
        say(
            f"  ModelDesk: get_metric_history(run, 'loss'), {ctx.series_steps:,} steps "
            f"stored in {blocks} blocks, warm"
        )
        series = []

        def fetch() -> None:
            series[:] = [registry.get_metric_history(run_id, "loss")]

        cpu0 = time.process_time()
        times = repeat(fetch, repeats, warmup=2)
        cpu = (time.process_time() - cpu0) / (repeats + 2)
        if len(series[0]) != ctx.series_steps:
            raise RuntimeError(f"ModelDesk returned {len(series[0])} points")
    median = statistics.median(times)
    say(
        f"    {spread(times)}; CPU ≈ {fmt_seconds(cpu)} per call; {len(series[0]):,} points "
        "returned as numpy arrays"
    )

    ml: dict | None = None
    skip = ctx.mlflow_skip_reason()
    if skip is None and mlflow_version:
        try:
            db = bench_stores.mlflow_series_store(ctx, mlflow_version)
            say(
                "  MLflow: MlflowClient.get_metric_history(run, 'loss'), "
                f"{ctx.series_steps:,} steps, warm"
            )
            ml = mlflow_call(ctx, "history", db, repeats=2 if ctx.quick else 3)
        except MlflowError as exc:
            skip = str(exc)
    if ml is not None:
        say(f"    {spread(ml['times'])}; {ml['returned']:,} Metric objects returned")
    else:
        say(f"    MLflow skipped: {skip}")
    return [
        Result(
            "3",
            f"metric history {ctx.series_steps // 1000}k steps",
            fmt_seconds(median),
            f"< {fmt_seconds(GOAL_S)}",
            verdict(median < GOAL_S),
            mlflow=fmt_seconds(ml["median_s"]) if ml else "—",
            ratio=fmt_ratio(ml["median_s"] / median) if ml else "—",
            notes=[] if ml else [f"MLflow: {skip}"],
        )
    ]
