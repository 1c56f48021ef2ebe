"""Realistic sample runs for previews, screenshots, tests and benchmarks (a small sweep)."""

from __future__ import annotations

import json
import math
import time

import numpy as np

from desktop_app.registry import Registry, RunStatus

CLASSES = ("churn", "stay")
FEATURES = ("tenure", "monthly_charges", "contract", "support_calls", "region", "payment_method")


def _evaluation_files(rng: np.random.Generator, quality: float, regression: bool) -> dict:
    if regression:
        actual = rng.normal(50, 15, 300)
        predicted = actual + rng.normal(0, 12 * (1.2 - quality), 300)
        return {
            "predictions.json": {
                "actual": actual.tolist(),
                "predicted": predicted.tolist(),
                "residuals": (actual - predicted).tolist(),
                "rows": 300,
            },
            "permutation_importance.json": _importances(rng, "r2"),
        }
    fpr = np.linspace(0, 1, 60)
    tpr = fpr ** (1 - quality * 0.9)
    recall = np.linspace(0, 1, 60)
    precision = np.clip(1 - (1 - quality) * recall**1.5 - 0.05 * recall, 0.3, 1)
    total = 400
    right = int(total * (0.6 + quality * 0.35))
    wrong = total - right
    counts = [
        [right // 2 + 10, wrong // 2 - 10],
        [wrong - wrong // 2 + 10, right - right // 2 - 10],
    ]
    return {
        "roc_curve.json": {
            "curves": [
                {
                    "label": CLASSES[1],
                    "fpr": fpr.tolist(),
                    "tpr": tpr.tolist(),
                    "auc": float(np.trapezoid(tpr, fpr)),
                }
            ]
        },
        "pr_curve.json": {
            "curves": [
                {
                    "label": CLASSES[1],
                    "precision": precision.tolist(),
                    "recall": recall.tolist(),
                    "average_precision": float(precision.mean()),
                }
            ]
        },
        "confusion_matrix.json": {"labels": list(CLASSES), "counts": counts},
        "permutation_importance.json": _importances(rng, "roc_auc"),
    }


def _importances(rng: np.random.Generator, metric: str) -> dict:
    mean = np.sort(rng.gamma(2.0, 0.02, len(FEATURES)))[::-1]
    return {
        "metric": metric,
        "scoring": metric,
        "rows": 300,
        "n_repeats": 5,
        "features": list(FEATURES),
        "mean": mean.tolist(),
        "std": (mean * 0.2).tolist(),
    }


def add_sample_runs(
    registry: Registry,
    count: int = 6,
    *,
    steps: int = 300,
    experiment: str = "churn-sweep",
    seed: int = 0,
    evaluation: bool = True,
    regression: bool = False,
    status: RunStatus = RunStatus.FINISHED,
) -> list[str]:
    """Runs of a learning-rate/depth sweep with train/val losses, AUC and evaluation data."""
    rng = np.random.default_rng(seed)
    ids = []
    start = time.time() - 3600
    estimators = ("hist_gradient_boosting", "random_forest", "logistic_regression")
    for index in range(count):
        lr = (0.3, 0.1, 0.05, 0.02, 0.01)[index % 5]
        depth = (3, 5, 8, 12)[index % 4]
        estimator = estimators[index % 3]
        quality = float(
            np.clip(0.55 + 0.4 * math.exp(-abs(math.log10(lr) + 1.3)) - depth / 100, 0.1, 0.95)
        )
        run = registry.create_run(
            experiment,
            name=f"{estimator.split('_')[0]}-lr{lr}-d{depth}",
            status=status,
            params={
                "estimator": estimator,
                "learning_rate": lr,
                "max_depth": depth,
                "n_estimators": 100 + 50 * (index % 3),
                "class_weight": ("balanced", "none")[index % 2],
                "random_state": 42,
            },
        )
        began = start + index * 30
        stamps = began + np.arange(steps) * (1.5 + 0.2 * index)
        decay = 40 + 200 * lr
        train = 0.7 * np.exp(-np.arange(steps) / decay) + 0.25 - 0.1 * quality
        train = train + rng.normal(0, 0.015, steps)
        val = train + 0.03 + 0.0004 * np.arange(steps) * (depth / 8) + rng.normal(0, 0.02, steps)
        auc = 0.5 + (quality * 0.45) * (1 - np.exp(-np.arange(steps) / decay))
        auc = auc + rng.normal(0, 0.006, steps)
        points = []
        for i in range(steps):
            points.append(("train/loss", float(train[i]), i, float(stamps[i])))
            points.append(("val/loss", float(val[i]), i, float(stamps[i])))
            points.append(("val/roc_auc", float(auc[i]), i, float(stamps[i])))
        end = float(stamps[-1])
        points += [
            ("accuracy", float(0.62 + 0.33 * quality + rng.normal(0, 0.01)), steps, end),
            ("f1", float(0.55 + 0.38 * quality + rng.normal(0, 0.01)), steps, end),
            ("fit_time", float(20 + depth * 3 + rng.normal(0, 2)), steps, end),
        ]
        registry.log_batch(run.id, metrics=points)
        if evaluation:
            for name, data in _evaluation_files(rng, quality, regression).items():
                registry.log_artifact_bytes(
                    run.id,
                    json.dumps(data).encode("utf-8"),
                    f"evaluation/{name}",
                    kind="evaluation",
                )
        if status.is_terminal:
            registry.set_run_status(run.id, status, end_time=end)
        ids.append(run.id)
    return ids
