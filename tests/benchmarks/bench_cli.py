"""Workload 4: ``modeldesk runs list`` on the big registry, the whole process."""

from __future__ import annotations

import os
import statistics
import subprocess
import time

from tests.benchmarks import bench_stores
from tests.benchmarks.bench_common import (
    APP_PYTHON,
    Context,
    Result,
    fmt_seconds,
    say,
    spread,
    verdict,
)

GOAL_S = 0.5


def run(ctx: Context) -> list[Result]:
    repeats = 3 if ctx.quick else 5
    folder = bench_stores.modeldesk_registry(ctx)
    runs, _ = bench_stores.registry_counts(folder)
    exe = APP_PYTHON.parent / "modeldesk"
    argv = [str(exe), "--registry", str(folder), "runs", "list"]
    title = f"`modeldesk runs list` {runs // 1000}k runs"
    if not exe.exists():
        say(f"  skipped: {exe} does not exist (is the package installed?)")
        return [
            Result("4", title, "—", f"< {fmt_seconds(GOAL_S)}", "SKIP", notes=[f"{exe} missing"])
        ]
    say(f"  {argv[0]} --registry <{runs:,} runs> runs list   (whole process, output piped)")
    env = dict(os.environ, COLUMNS="160")
    times: list[float] = []
    lines = 0
    for attempt in range(repeats + 1):  # the first one warms the page cache and is not counted
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            say(f"  skipped: exit {proc.returncode}: {reason}")
            return [
                Result(
                    "4",
                    title,
                    "—",
                    f"< {fmt_seconds(GOAL_S)}",
                    "SKIP",
                    notes=[f"runs list failed: {reason}"],
                )
            ]
        if attempt:
            times.append(elapsed)
        lines = len(proc.stdout.splitlines())
    median = statistics.median(times)
    say(f"    {spread(times)}; printed {lines} lines")
    say(
        f"    of which the interpreter + imports alone (`modeldesk --version`): "
        f"{_baseline(exe, env)}"
    )
    return [
        Result(
            "4", title, fmt_seconds(median), f"< {fmt_seconds(GOAL_S)}", verdict(median < GOAL_S)
        )
    ]


def _baseline(exe: object, env: dict[str, str]) -> str:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(exe), "--version"], capture_output=True, env=env, timeout=60)
        times.append(time.perf_counter() - started)
    return f"median {fmt_seconds(statistics.median(times))}"
