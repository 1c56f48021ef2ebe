"""Shared pieces of the benchmarks: paths, results, timing and formatting helpers."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
DRIVER = Path(__file__).resolve().parent / "bench_mlflow_driver.py"
APP_PYTHON = Path(sys.executable)
MARKER = "bench-marker.json"


@dataclass
class Context:
    """What every workload gets: options and where things are."""

    quick: bool
    mlflow_python: Path | None
    bench_dir: Path = BENCH_DIR
    registry_runs: int = 100_000
    series_steps: int = 100_000
    # Why MLflow's side cannot run (set by __main__ after trying the MLflow venv), if it cannot.
    mlflow_problem: str | None = None

    def __post_init__(self) -> None:
        # absolute(), not resolve(): a venv's python is a symlink that must stay unresolved.
        if self.mlflow_python is not None:
            self.mlflow_python = self.mlflow_python.absolute()

    def mlflow_skip_reason(self) -> str | None:
        if self.mlflow_problem is not None:
            return self.mlflow_problem
        if self.mlflow_python is None:
            return "no --mlflow-python given"
        if not self.mlflow_python.exists():
            return f"{self.mlflow_python} does not exist"
        return None


@dataclass
class Result:
    """One line of the summary: a figure of ModelDesk against its goal (and MLflow's figure)."""

    key: str
    title: str
    modeldesk: str
    goal: str
    status: str  # PASS, MISS, SKIP or INFO
    mlflow: str = "—"
    ratio: str = "—"
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# ---- formatting -----------------------------------------------------------------------------


def fmt_seconds(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_rate(per_second: float, unit: str = "points/s") -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.3g}M {unit}"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.3g}k {unit}"
    return f"{per_second:.3g} {unit}"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:.3g}×"


def say(text: str = "") -> None:
    print(text, flush=True)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, sep, *body])


# ---- timing ---------------------------------------------------------------------------------


def repeat(func: Callable[[], Any], times: int, *, warmup: int = 1) -> list[float]:
    """Seconds taken by each of ``times`` calls of ``func`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        func()
    result = []
    for _ in range(times):
        started = time.perf_counter()
        func()
        result.append(time.perf_counter() - started)
    return result


def spread(times: list[float]) -> str:
    """``median (min–max of n)`` for a list of timings."""
    return (
        f"median {fmt_seconds(statistics.median(times))} "
        f"(min {fmt_seconds(min(times))}, max {fmt_seconds(max(times))}, n={len(times)})"
    )


# ---- cached stores --------------------------------------------------------------------------


def cached(folder: Path, marker: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a complete build described by exactly ``marker``."""
    path = folder / MARKER
    try:
        return bool(json.loads(path.read_text()) == marker)
    except (OSError, ValueError):
        return False


def start_build(folder: Path) -> None:
    """Empty ``folder`` for a new build (its marker is written only when the build completes)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def finish_build(folder: Path, marker: dict[str, Any]) -> None:
    (folder / MARKER).write_text(json.dumps(marker, indent=2))


# ---- MLflow subprocess ----------------------------------------------------------------------


class MlflowError(RuntimeError):
    """The MLflow driver failed; the message holds the end of its stderr."""


def mlflow_call(
    ctx: Context, command: str, db: Path, timeout: float = 1800, **options: Any
) -> dict:
    """Run one command of the MLflow driver in the MLflow venv and return its JSON figures."""
    assert ctx.mlflow_python is not None
    argv = [str(ctx.mlflow_python), str(DRIVER), command, "--db", str(db)]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    env = dict(os.environ)
    # The app venv's variables must not leak into MLflow's interpreter.
    for var in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(var, None)
    env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=db.parent
        )
    except subprocess.TimeoutExpired as exc:
        raise MlflowError(f"MLflow driver '{command}' took more than {timeout:.0f} s") from exc
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise MlflowError(f"MLflow driver '{command}' failed (exit {proc.returncode}):\n{tail}")
    return dict(json.loads(lines[-1]))
