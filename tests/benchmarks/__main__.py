"""``python -m tests.benchmarks [--mlflow-python PATH] [--quick] [--only NAME]``.

Runs each workload on ModelDesk and (where there is a counterpart) on MLflow's SQLite store in
its own venv, prints the figures as it goes and a summary table at the end. The exit code is
0 even when a goal is missed: this is a report, not a gate.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tests.benchmarks import (
    bench_charts,
    bench_cli,
    bench_decode,
    bench_gui,
    bench_history,
    bench_logging,
    bench_search,
    bench_serving,
    bench_snapshot,
    bench_training,
)
from tests.benchmarks.bench_common import (
    Context,
    MlflowError,
    Result,
    fmt_seconds,
    mlflow_call,
    say,
    table,
)

WORKLOADS: list[tuple[str, str, str]] = [
    ("logging", "1", bench_logging.TITLE),
    ("search", "2", "Filter + order over 100,000 runs, returning 1,000"),
    ("history", "3", "Fetch one metric series of 100,000 steps"),
    ("cli", "4", "`modeldesk runs list` on a 100,000-run registry (whole process)"),
    ("gui", "5", "Open the window on a 100,000-run registry: first rows shown"),
    ("snapshot", "6", "Code snapshot of a 5,000-file, 50 MB Git repository"),
    ("training", "7", bench_training.TITLE),
    ("charts", "C", "Charts: 20 runs × 100,000 points, pan/zoom, 1,000-run scatter"),
    ("serving", "S", bench_serving.TITLE),
    ("decode", "D", bench_decode.TITLE),
]


FOOTNOTES = (
    "Ratio = how many times faster ModelDesk is (MLflow's time ÷ ModelDesk's; rates inverted).",
    "MLflow's logging rate is measured on a sample of runs and extrapolated; its search runs",
    "on a 10,000-run store (its query is super-linear: 100,000 runs take minutes per search),",
    "so the search ratio understates ModelDesk's lead.",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument(
        "--mlflow-python",
        type=Path,
        default=None,
        help="the interpreter of a venv with mlflow installed (.venv-mlflow/bin/python)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller workload 1 and fewer repeats, for development"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this workload (logging, search, history, cli, gui, snapshot, training, "
        "charts, serving, or 1–7, C, S); "
        "may be given several times",
    )
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=None,
        help="where the cached stores live (default: .bench/ in the project)",
    )
    args = parser.parse_args(argv)
    known = {name for name, _, _ in WORKLOADS} | {key for _, key, _ in WORKLOADS}
    for name in args.only:
        if name not in known:
            parser.error(f"unknown workload {name!r}; choose from {', '.join(sorted(known))}")
    return args


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    ctx = Context(quick=args.quick, mlflow_python=args.mlflow_python)
    if args.bench_dir is not None:
        ctx.bench_dir = args.bench_dir.absolute()
    ctx.bench_dir.mkdir(parents=True, exist_ok=True)

    from desktop_app import __version__

    say(
        "ModelDesk benchmarks"
        + (" (--quick: smaller workload 1, fewer repeats)" if ctx.quick else "")
    )
    say(
        f"  ModelDesk {__version__}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"
    )
    mlflow_version: str | None = None
    skip = ctx.mlflow_skip_reason()
    if skip is None:
        try:
            mlflow_version = str(
                mlflow_call(ctx, "version", ctx.bench_dir / "tmp-version" / "v.db", timeout=300)[
                    "mlflow_version"
                ]
            )
            say(f"  MLflow {mlflow_version} (SQLAlchemy store on SQLite) via {ctx.mlflow_python}")
        except MlflowError as exc:
            skip = str(exc)
    if mlflow_version is None:
        ctx.mlflow_problem = skip or "MLflow is not available"
        say(f"  MLflow comparison skipped: {ctx.mlflow_problem}")
    say(f"  load average at start: {_load()} (other work on this machine inflates every figure)")
    say(f"  cached stores: {ctx.bench_dir}")

    runners: dict[str, Callable[[], list[Result]]] = {
        "logging": lambda: bench_logging.run(ctx),
        "search": lambda: bench_search.run(ctx, mlflow_version),
        "history": lambda: bench_history.run(ctx, mlflow_version),
        "cli": lambda: bench_cli.run(ctx),
        "gui": lambda: bench_gui.run(ctx),
        "snapshot": lambda: bench_snapshot.run(ctx),
        "training": lambda: bench_training.run(ctx),
        "charts": lambda: bench_charts.run(ctx),
        "serving": lambda: bench_serving.run(ctx),
        "decode": lambda: bench_decode.run(ctx),
    }
    results: list[Result] = []
    for name, key, title in WORKLOADS:
        if args.only and name not in args.only and key not in args.only:
            continue
        say()
        say(f"[{key}] {title}")
        t0 = time.perf_counter()
        try:
            results.extend(runners[name]())
        except Exception as exc:
            say("  skipped: " + f"{type(exc).__name__}: {exc}".splitlines()[0])
            say("  " + "".join(traceback.format_exception(exc)).strip().replace("\n", "\n  "))
            results.append(
                Result(key, name, "—", "—", "SKIP", notes=[f"{type(exc).__name__}: {exc}"])
            )
        say(f"  ({fmt_seconds(time.perf_counter() - t0)}; load average now {_load()})")

    say()
    say("Summary")
    rows = [[r.key, r.title, r.modeldesk, r.mlflow, r.ratio, r.goal, r.status] for r in results]
    say(table(["#", "workload", "ModelDesk", "MLflow", "MLflow/ModelDesk", "goal", "result"], rows))
    notes = [(r.key, note) for r in results for note in r.notes]
    for key, note in notes:
        say(f"  [{key}] {note.splitlines()[0]}")
    for line in FOOTNOTES:
        say(f"  {line}")
    passed = sum(r.status == "PASS" for r in results)
    missed = sum(r.status == "MISS" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    say(
        f"Goals: {passed} PASS, {missed} MISS, {skipped} SKIP; load average at end: {_load()}; "
        f"wall time {fmt_seconds(time.perf_counter() - started)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
