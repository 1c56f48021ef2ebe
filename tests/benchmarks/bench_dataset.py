"""The synthetic runs both stores are filled with: same seed, same values on either side.

Pure standard library: the MLflow driver (run by the MLflow venv's interpreter, without
ModelDesk installed) imports this file too, so the two stores hold identical data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

SEED = 20240601
EXPERIMENTS = 10
MODELS = ("rf", "svm", "gbm", "logreg")
METRIC_KEYS = ("acc", "f1", "loss")
SERIES_STEPS = 3  # points per metric of each search-store run (the last is the summary value)
START_EPOCH = 1_700_000_000.0

# Workload 2's query, in both languages. ~1/4 of runs have model "rf", ~1/2 have acc > 0.5,
# so about 12.5 % of the store matches and is sorted before the first 1,000 are returned.
MODELDESK_FILTER = 'metrics.acc > 0.5 and params.model = "rf"'
MODELDESK_ORDER = "metrics.f1 desc"
MLFLOW_FILTER = "metrics.acc > 0.5 and params.model = 'rf'"
MLFLOW_ORDER = "metrics.f1 DESC"
SEARCH_LIMIT = 1000


@dataclass(frozen=True)
class SyntheticRun:
    """One finished run of the search store."""

    id: str
    name: str
    experiment: int
    start_time: float
    end_time: float
    params: dict[str, str]
    # key -> [(step, value, timestamp)]
    metrics: dict[str, list[tuple[int, float, float]]]


def experiment_name(index: int) -> str:
    """The name of the index-th experiment of the search store."""
    return f"bench-exp-{index}"


def synthetic_runs(count: int, seed: int = SEED) -> Iterator[SyntheticRun]:
    """``count`` deterministic runs spread over ``EXPERIMENTS`` experiments and ~4 months."""
    rng = random.Random(seed)
    for index in range(count):
        start = START_EPOCH + index * 100.0 + rng.random() * 50.0
        end = start + 5.0 + rng.random() * 600.0
        model = rng.choice(MODELS)
        params = {
            "model": model,
            "lr": f"{10 ** rng.uniform(-4, -1):.6g}",
            "max_depth": str(rng.randint(2, 32)),
            "n_estimators": str(rng.choice((50, 100, 200, 400, 800))),
            "seed": str(rng.randint(0, 9999)),
        }
        finals = {"acc": rng.random(), "f1": rng.random(), "loss": rng.uniform(0.01, 3.0)}
        metrics: dict[str, list[tuple[int, float, float]]] = {}
        for key, final in finals.items():
            points = []
            for step in range(SERIES_STEPS):
                factor = (step + 1) / SERIES_STEPS
                value = final * factor if key != "loss" else final / factor
                points.append((step, value, start + 1.0 + step))
            metrics[key] = points
        yield SyntheticRun(
            id=f"{rng.getrandbits(64):016x}",
            name=f"run-{index + 1}",
            experiment=index % EXPERIMENTS,
            start_time=start,
            end_time=end,
            params=params,
            metrics=metrics,
        )


def logging_value(run: int, key_index: int, step: int) -> float:
    """A metric value for workload 1 (cheap, deterministic, not constant)."""
    return ((run * 7 + key_index * 13 + step * 31) % 1000) / 1000.0
