"""Workload 5: open the window on the big registry; time until its first rows are shown."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

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

GOAL_S = 1.5
DRIVER = Path(__file__).resolve().parent / "bench_gui_driver.py"


def run(ctx: Context) -> list[Result]:
    repeats = 3 if ctx.quick else 5
    folder = bench_stores.modeldesk_registry(ctx)
    runs, _ = bench_stores.registry_counts(folder)
    title = f"GUI first rows, {runs // 1000}k runs"
    say(
        f"  fresh `python bench_gui_driver.py` → desktop_app.ui.app.main(<{runs:,} runs>), "
        "offscreen, MODELDESK_NO_DEMO=1; clock starts just before the process is spawned"
    )
    home = ctx.bench_dir / "gui-home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        MODELDESK_NO_DEMO="1",
        # The app's settings and default folders go to a scratch place, never the user's.
        MODELDESK_SETTINGS_DIR=str(home / "settings"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    env.pop("MODELDESK_REGISTRY", None)
    samples: list[dict] = []
    for attempt in range(repeats + 1):  # the first launch warms caches and is not counted
        env["BENCH_T0"] = repr(time.perf_counter())
        try:
            proc = subprocess.run(
                [str(APP_PYTHON), str(DRIVER), str(folder)],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            return _skip(title, "the window did not show rows within 120 s")
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}, no output"])[-1]
            return _skip(title, tail)
        result = json.loads(lines[-1])
        if "rows" not in result:
            return _skip(title, result.get("error", "no rows"))
        if attempt:
            samples.append(result)
    firsts = [s["rows"] for s in samples]
    median = statistics.median(firsts)

    def med(key: str) -> str:
        return fmt_seconds(statistics.median(s[key] for s in samples))

    say(f"    first rows: {spread(firsts)}; {samples[0]['row_count']} rows in the first page")
    say(
        f"    where it goes (medians since spawn): interpreter up {med('interpreter')}, "
        f"Qt + app modules imported {med('imports')}, window visible {med('window_shown')}, "
        f"rows {med('rows')}"
    )
    return [
        Result(
            "5", title, fmt_seconds(median), f"< {fmt_seconds(GOAL_S)}", verdict(median < GOAL_S)
        )
    ]


def _skip(title: str, reason: str) -> list[Result]:
    say(f"  skipped: {reason}")
    return [Result("5", title, "—", f"< {fmt_seconds(GOAL_S)}", "SKIP", notes=[reason])]
