"""MLflow's side of the benchmarks, run by the MLflow venv's interpreter as a script.

    .venv-mlflow/bin/python tests/benchmarks/bench_mlflow_driver.py COMMAND --db PATH [options]

Each command prints one JSON object (its figures) as the last line of stdout. Every timing
starts after the store is open and MLflow's first-time database migration is done, so only
the operation itself is measured. This file must not import ModelDesk (it is not installed
in that venv); it shares only ``bench_dataset.py`` (pure standard library) with the harness.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dataset as data

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)


def _client(db: Path):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    client.search_experiments(max_results=1)  # creates / migrates the database: not timed
    return client


def _experiment(client, name: str, artifacts: Path) -> str:  # type: ignore[no-untyped-def]
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifacts.as_uri()))


def _emit(result: dict) -> None:
    import mlflow

    result["mlflow_version"] = mlflow.__version__
    print(json.dumps(result), flush=True)


# ---- workload 1: logging --------------------------------------------------------------------


def cmd_log(args: argparse.Namespace) -> None:
    """``log_batch`` per run (MLflow's fastest path), then one ``log_metric`` call per point."""
    from mlflow.entities import Metric, Param

    client = _client(args.db)
    exp = _experiment(client, "bench-log", args.db.parent / "artifacts")
    keys = [f"metric_{k}" for k in range(args.metrics)]
    # Build the payloads before timing, as ModelDesk's side also has its values ready.
    stamp = int(time.time() * 1000)
    payloads = []
    for run in range(args.runs):
        metrics = [
            Metric(key, data.logging_value(run, k, step), stamp + step, step)
            for step in range(args.steps)
            for k, key in enumerate(keys)
        ]
        params = [Param(f"param_{p}", str(run * 10 + p)) for p in range(args.params)]
        payloads.append((metrics, params))
    points = args.runs * args.steps * args.metrics
    run_times = []
    started = time.perf_counter()
    for run, (metrics, params) in enumerate(payloads):
        t0 = time.perf_counter()
        run_id = client.create_run(exp, run_name=f"run-{run}").info.run_id
        # MLflow refuses more than 1,000 metrics in one batch; 500 per run fits in one call.
        for start in range(0, len(metrics), 1000):
            client.log_batch(
                run_id, metrics=metrics[start : start + 1000], params=params if start == 0 else []
            )
        client.set_terminated(run_id)
        run_times.append(time.perf_counter() - t0)
    batch_seconds = time.perf_counter() - started

    # One call per point on a small sample, the way `mlflow.log_metric` in a loop behaves.
    run_id = client.create_run(exp, run_name="per-call").info.run_id
    call_times = []
    for i in range(args.call_points):
        t0 = time.perf_counter()
        client.log_metric(run_id, keys[i % len(keys)], data.logging_value(0, i, i), step=i)
        call_times.append(time.perf_counter() - t0)
    client.set_terminated(run_id)
    _emit(
        {
            "runs": args.runs,
            "points": points,
            "batch_seconds": batch_seconds,
            "points_per_s": points / batch_seconds,
            "run_ms_median": statistics.median(run_times) * 1000,
            "call_points": args.call_points,
            "call_us_mean": statistics.fmean(call_times) * 1e6,
            "call_us_median": statistics.median(call_times) * 1e6,
        }
    )


# ---- workload 2: search ---------------------------------------------------------------------


def _rows(conn: sqlite3.Connection, table: str, run_uuid: str) -> list[dict]:
    cur = conn.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (run_uuid,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join('"' + n + '"' for n in names)
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    conn.executemany(sql, [tuple(row[n] for n in names) for row in rows])


def cmd_build_search(args: argparse.Namespace) -> None:
    """A store of ``--runs`` finished runs (the same ones ModelDesk's store holds).

    The first run of each experiment is logged through MLflow's API; the rest are copies of
    its rows with the synthetic values put in, inserted with sqlite3 (building 100,000 runs
    through the API would take hours).
    """
    from mlflow.entities import Metric, Param

    started = time.perf_counter()
    client = _client(args.db)
    exp_ids = [
        _experiment(client, data.experiment_name(i), args.db.parent / "artifacts")
        for i in range(data.EXPERIMENTS)
    ]
    runs = data.synthetic_runs(args.runs)
    templates: dict[int, str] = {}
    conn = sqlite3.connect(args.db)
    batch: dict[str, list[dict]] = {
        t: [] for t in ("runs", "tags", "params", "metrics", "latest_metrics")
    }
    template_rows: dict[int, dict[str, list[dict]]] = {}

    def flush() -> None:
        with conn:
            for table, rows in batch.items():
                _insert(conn, table, rows)
                rows.clear()

    for run in runs:
        if run.experiment not in templates:
            created = client.create_run(
                exp_ids[run.experiment], start_time=int(run.start_time * 1000), run_name=run.name
            )
            run_id = created.info.run_id
            client.log_batch(
                run_id,
                metrics=[
                    Metric(key, value, int(stamp * 1000), step)
                    for key, points in run.metrics.items()
                    for step, value, stamp in points
                ],
                params=[Param(k, v) for k, v in run.params.items()],
            )
            client.set_terminated(run_id, end_time=int(run.end_time * 1000))
            templates[run.experiment] = run_id
            template_rows[run.experiment] = {
                t: _rows(conn, t, run_id)
                for t in ("runs", "tags", "params", "metrics", "latest_metrics")
            }
            continue
        tpl = template_rows[run.experiment]
        uuid = f"{run.id}{int(run.name.split('-')[1]):016x}"
        row = dict(tpl["runs"][0])
        template_id = row["run_uuid"]
        row.update(
            run_uuid=uuid,
            name=run.name,
            start_time=int(run.start_time * 1000),
            end_time=int(run.end_time * 1000),
            artifact_uri=str(row["artifact_uri"]).replace(template_id, uuid),
        )
        batch["runs"].append(row)
        for tag in tpl["tags"]:
            value = run.name if tag["key"] == "mlflow.runName" else tag["value"]
            batch["tags"].append({**tag, "run_uuid": uuid, "value": value})
        for param in tpl["params"]:
            batch["params"].append({**param, "run_uuid": uuid, "value": run.params[param["key"]]})
        metric_tpl = tpl["metrics"][0]
        latest_tpl = tpl["latest_metrics"][0]
        for key, points in run.metrics.items():
            for step, value, stamp in points:
                batch["metrics"].append(
                    {
                        **metric_tpl,
                        "key": key,
                        "value": value,
                        "timestamp": int(stamp * 1000),
                        "step": step,
                        "run_uuid": uuid,
                        "is_nan": 0,
                    }
                )
            step, value, stamp = points[-1]
            batch["latest_metrics"].append(
                {
                    **latest_tpl,
                    "key": key,
                    "value": value,
                    "timestamp": int(stamp * 1000),
                    "step": step,
                    "run_uuid": uuid,
                    "is_nan": 0,
                }
            )
        if len(batch["runs"]) >= 5000:
            flush()
    flush()
    count = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    conn.close()
    _emit({"runs": count, "build_seconds": time.perf_counter() - started})


def cmd_search(args: argparse.Namespace) -> None:
    """``search_runs`` with workload 2's filter and order, 1,000 results, warm, repeated."""
    client = _client(args.db)
    exp_ids = [
        str(client.get_experiment_by_name(data.experiment_name(i)).experiment_id)
        for i in range(data.EXPERIMENTS)
    ]

    def once() -> int:
        found = client.search_runs(
            exp_ids,
            filter_string=data.MLFLOW_FILTER,
            order_by=[data.MLFLOW_ORDER],
            max_results=data.SEARCH_LIMIT,
        )
        return len(found)

    returned = once()  # warm-up: caches and SQLAlchemy's statement compilation
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    total = client.search_runs(exp_ids, max_results=1).token is not None
    _emit(
        {
            "returned": returned,
            "store_has_more": total,
            "times": times,
            "median_s": statistics.median(times),
        }
    )


# ---- workload 3: metric history -------------------------------------------------------------


def cmd_build_series(args: argparse.Namespace) -> None:
    """One run with one metric of ``--steps`` points, logged with ``log_batch`` (1,000 a call)."""
    from mlflow.entities import Metric

    client = _client(args.db)
    exp = _experiment(client, "bench-series", args.db.parent / "artifacts")
    run_id = client.create_run(exp, run_name="series").info.run_id
    stamp = int(time.time() * 1000)
    started = time.perf_counter()
    for start in range(0, args.steps, 1000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("loss", 1.0 / (step + 1), stamp + step, step)
                for step in range(start, min(start + 1000, args.steps))
            ],
        )
    seconds = time.perf_counter() - started
    client.set_terminated(run_id)
    _emit({"run_id": run_id, "steps": args.steps, "log_seconds": seconds})


def cmd_history(args: argparse.Namespace) -> None:
    """``get_metric_history`` of the series run, warm, repeated."""
    client = _client(args.db)
    exp = client.get_experiment_by_name("bench-series")
    run_id = client.search_runs([exp.experiment_id], max_results=1)[0].info.run_id
    returned = len(client.get_metric_history(run_id, "loss"))  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        client.get_metric_history(run_id, "loss")
        times.append(time.perf_counter() - t0)
    _emit({"returned": returned, "times": times, "median_s": statistics.median(times)})


def cmd_version(args: argparse.Namespace) -> None:
    """Just the MLflow version (and a check that it imports)."""
    _emit({})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (
        ("log", cmd_log),
        ("build-search", cmd_build_search),
        ("search", cmd_search),
        ("build-series", cmd_build_series),
        ("history", cmd_history),
        ("version", cmd_version),
    ):
        p = sub.add_parser(name)
        p.set_defaults(func=func)
        p.add_argument("--db", type=Path, default=Path("mlflow.db"))
        p.add_argument("--runs", type=int, default=1000)
        p.add_argument("--params", type=int, default=10)
        p.add_argument("--metrics", type=int, default=5)
        p.add_argument("--steps", type=int, default=100)
        p.add_argument("--call-points", type=int, default=200)
        p.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.db = args.db.resolve()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    args.func(args)


if __name__ == "__main__":
    main()
