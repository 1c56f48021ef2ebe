"""Workload 2: filter + order over the big registry, returning 1,000 rows, against MLflow."""

from __future__ import annotations

import statistics
import time

from tests.benchmarks import bench_dataset as data
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

GOAL_S = 0.050


def run(ctx: Context, mlflow_version: str | None) -> list[Result]:
    from desktop_app.registry import Registry

    repeats = 5 if ctx.quick else 9
    folder = bench_stores.modeldesk_registry(ctx)
    runs, _ = bench_stores.registry_counts(folder)
    say(
        f"  ModelDesk: search_runs({data.MODELDESK_FILTER!r}, order_by={data.MODELDESK_ORDER!r}, "
        f"limit={data.SEARCH_LIMIT}) on {runs:,} runs, warm"
    )
    with Registry(folder) as registry:
        ids: list[str] = []

        def search() -> None:
            ids[:] = registry.search_runs(
                data.MODELDESK_FILTER, order_by=data.MODELDESK_ORDER, limit=data.SEARCH_LIMIT
            )

        cpu0 = time.process_time()
        times = repeat(search, repeats, warmup=2)
        cpu = (time.process_time() - cpu0) / (repeats + 2)
        matching = registry.count_runs(data.MODELDESK_FILTER)
        if len(ids) != data.SEARCH_LIMIT:
            raise RuntimeError(f"ModelDesk returned {len(ids)} runs, expected {data.SEARCH_LIMIT}")
        say(
            f"    ids only: {spread(times)}; CPU ≈ {fmt_seconds(cpu)} per call; "
            f"{matching:,} runs match, {len(ids):,} returned"
        )
        full_times = repeat(
            lambda: registry.get_runs(
                registry.search_runs(
                    data.MODELDESK_FILTER, order_by=data.MODELDESK_ORDER, limit=data.SEARCH_LIMIT
                )
            ),
            max(3, repeats // 2),
        )
        say(
            f"    ids + get_runs (params, tags, metric summaries: what MLflow returns): "
            f"{spread(full_times)}"
        )
    median = statistics.median(times)
    full_median = statistics.median(full_times)

    ml: dict | None = None
    skip = ctx.mlflow_skip_reason()
    ml_runs = 0
    if skip is None and mlflow_version:
        try:
            db, ml_runs = bench_stores.mlflow_search_store(ctx, mlflow_version)
            say(
                f"  MLflow: search_runs(filter_string={data.MLFLOW_FILTER!r}, "
                f"order_by=[{data.MLFLOW_ORDER!r}], max_results={data.SEARCH_LIMIT}) on "
                f"{ml_runs:,} runs (not {runs:,}: its query is super-linear in the store "
                "size), warm"
            )
            ml = mlflow_call(ctx, "search", db, repeats=2 if ctx.quick else 3)
        except MlflowError as exc:
            skip = str(exc)
    if ml is not None:
        say(f"    {spread(ml['times'])}; {ml['returned']:,} runs returned (full Run objects)")
    else:
        say(f"    MLflow skipped: {skip}")

    results = [
        Result(
            "2",
            f"search {runs // 1000}k runs → 1,000 ids",
            fmt_seconds(median),
            f"< {fmt_seconds(GOAL_S)}",
            verdict(median < GOAL_S),
            mlflow=f"{fmt_seconds(ml['median_s'])} ({ml_runs // 1000}k runs)" if ml else "—",
            ratio=fmt_ratio(ml["median_s"] / median) if ml else "—",
            notes=[] if ml else [f"MLflow: {skip}"],
        ),
        Result(
            "2",
            "  … + get_runs (full rows)",
            fmt_seconds(full_median),
            "(info)",
            "INFO",
            mlflow=f"{fmt_seconds(ml['median_s'])} ({ml_runs // 1000}k runs)" if ml else "—",
            ratio=fmt_ratio(ml["median_s"] / full_median) if ml else "—",
        ),
    ]
    return results
