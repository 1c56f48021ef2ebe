"""Workload 1: log runs × params × metrics × steps through the tracking API, against MLflow."""

from __future__ import annotations

import shutil
import statistics
import time

from tests.benchmarks import bench_dataset as data
from tests.benchmarks.bench_common import (
    Context,
    MlflowError,
    Result,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    mlflow_call,
    say,
    verdict,
)

TITLE = "Log 1,000 runs × 10 params × 5 metrics × 100 steps"
PARAMS = 10
METRICS = 5
STEPS = 100
RATE_GOAL = 100.0  # ModelDesk's points/s over MLflow's log_batch points/s
CALL_GOAL_S = 50e-6


def run(ctx: Context) -> list[Result]:
    runs = 100 if ctx.quick else 1000
    mlflow_runs = 20 if ctx.quick else 200
    call_points = 100 if ctx.quick else 200
    points = runs * METRICS * STEPS
    say(
        f"  ModelDesk: {runs:,} runs × {PARAMS} params × {METRICS} metrics × {STEPS} steps "
        f"= {points:,} points, start_run + log_params + one log_metric call per point"
    )
    md = _modeldesk(ctx, runs)
    say(
        f"    total {fmt_seconds(md['total'])} → {fmt_rate(points / md['total'])} "
        f"(per run: median {fmt_seconds(md['run_median'])})"
    )
    say(
        f"    log_metric calls alone: {fmt_seconds(md['calls'])} for {points:,} calls → "
        f"mean {fmt_seconds(md['calls'] / points)} per call "
        f"(median of per-run means {fmt_seconds(md['call_median'])}; an empty loop costs "
        f"{fmt_seconds(md['loop'] / points)} of that)"
    )
    say(
        f"    run end (flush + status): {fmt_seconds(md['ends'])} in all; "
        f"start_run + log_params: {fmt_seconds(md['starts'])} in all"
    )
    say(
        f"    all-in cost per point (calls + flushes + run start/end): "
        f"{fmt_seconds(md['total'] / points)}"
    )
    md_rate = points / md["total"]
    call_cost = md["calls"] / points

    ml: dict | None = None
    skip = ctx.mlflow_skip_reason()
    if skip is None:
        say(
            f"  MLflow: the same per run on a sample of {mlflow_runs:,} runs "
            "(create_run + log_batch + set_terminated; the rate is extrapolated to "
            f"{runs:,} runs), "
            f"then {call_points} single log_metric calls"
        )
        folder = ctx.bench_dir / "tmp-mlflow-log"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            ml = mlflow_call(
                ctx,
                "log",
                folder / "mlflow.db",
                runs=mlflow_runs,
                params=PARAMS,
                metrics=METRICS,
                steps=STEPS,
                call_points=call_points,
            )
        except MlflowError as exc:
            skip = str(exc)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if ml is not None:
        say(
            f"    log_batch: {ml['points']:,} points in {fmt_seconds(ml['batch_seconds'])} → "
            f"{fmt_rate(ml['points_per_s'])} "
            f"(per run: median {fmt_seconds(ml['run_ms_median'] / 1000)}); "
            f"{runs:,} runs would take ~{fmt_seconds(points / ml['points_per_s'])}"
        )
        say(
            "    log_metric, one call per point: "
            f"mean {fmt_seconds(ml['call_us_mean'] / 1e6)} per call "
            f"(median {fmt_seconds(ml['call_us_median'] / 1e6)}, n={ml['call_points']})"
        )
    else:
        say(f"    MLflow skipped: {skip}")

    results = []
    if ml is not None:
        ratio = md_rate / ml["points_per_s"]
        results.append(
            Result(
                "1",
                "logging rate",
                fmt_rate(md_rate),
                f"≥ {RATE_GOAL:.0f}× MLflow log_batch",
                verdict(ratio >= RATE_GOAL),
                mlflow=fmt_rate(ml["points_per_s"]) + f" (sample {mlflow_runs} runs)",
                ratio=fmt_ratio(ratio),
            )
        )
    else:
        results.append(
            Result(
                "1",
                "logging rate",
                fmt_rate(md_rate),
                f"≥ {RATE_GOAL:.0f}× MLflow log_batch",
                "SKIP",
                notes=[f"MLflow: {skip}"],
            )
        )
    results.append(
        Result(
            "1",
            "log_metric call (no flush)",
            fmt_seconds(call_cost),
            f"< {fmt_seconds(CALL_GOAL_S)}",
            verdict(call_cost < CALL_GOAL_S),
            mlflow=(fmt_seconds(ml["call_us_mean"] / 1e6) + " (own transaction)") if ml else "—",
            ratio=fmt_ratio(ml["call_us_mean"] / 1e6 / call_cost) if ml else "—",
        )
    )
    results.append(
        Result(
            "1",
            "per point incl. flushes",
            fmt_seconds(md["total"] / points),
            "(info)",
            "INFO",
            mlflow=fmt_seconds(1 / ml["points_per_s"]) + " (log_batch)" if ml else "—",
            ratio=fmt_ratio(md_rate / ml["points_per_s"]) if ml else "—",
        )
    )
    return results


def _modeldesk(ctx: Context, runs: int) -> dict[str, float]:
    from desktop_app.registry import Registry
    from desktop_app.registry.tracking import start_run

    folder = ctx.bench_dir / "tmp-modeldesk-log"
    shutil.rmtree(folder, ignore_errors=True)
    keys = [f"metric_{k}" for k in range(METRICS)]
    # Values and params prepared up front, like MLflow's side.
    values = [
        [[data.logging_value(r, k, s) for k in range(METRICS)] for s in range(STEPS)]
        for r in range(runs)
    ]
    params = [{f"param_{p}": str(r * 10 + p) for p in range(PARAMS)} for r in range(runs)]
    registry = Registry(folder)
    registry.ensure_experiment("bench-log")
    try:
        calls = starts = ends = 0.0
        per_run: list[float] = []
        per_call_means: list[float] = []
        started = time.perf_counter()
        for r in range(runs):
            t0 = time.perf_counter()
            active = start_run(experiment="bench-log", name=f"run-{r}", registry=registry)
            active.log_params(params[r])
            t1 = time.perf_counter()
            log_metric = active.log_metric
            run_values = values[r]
            for step in range(STEPS):
                row = run_values[step]
                for k in range(METRICS):
                    log_metric(keys[k], row[k], step)
            t2 = time.perf_counter()
            active.end()
            t3 = time.perf_counter()
            starts += t1 - t0
            calls += t2 - t1
            ends += t3 - t2
            per_run.append(t3 - t0)
            per_call_means.append((t2 - t1) / (STEPS * METRICS))
        total = time.perf_counter() - started
        stored = (
            registry.db.connection().execute("SELECT sum(count) FROM metric_summary").fetchone()[0]
        )
        if stored != runs * STEPS * METRICS:
            raise RuntimeError(
                f"ModelDesk stored {stored} points, expected {runs * STEPS * METRICS}"
            )
    finally:
        registry.close()
        shutil.rmtree(folder, ignore_errors=True)

    def noop(key: str, value: float, step: int) -> None:
        return None

    t0 = time.perf_counter()
    for r in range(runs):
        run_values = values[r]
        for step in range(STEPS):
            row = run_values[step]
            for k in range(METRICS):
                noop(keys[k], row[k], step)
    loop = time.perf_counter() - t0
    return {
        "total": total,
        "calls": calls,
        "starts": starts,
        "ends": ends,
        "run_median": statistics.median(per_run),
        "call_median": statistics.median(per_call_means),
        "loop": loop,
    }
