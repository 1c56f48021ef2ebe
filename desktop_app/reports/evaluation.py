"""Evaluation data the training runner stores as JSON artifacts under ``evaluation/``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop_app.errors import AppError
from desktop_app.registry import Registry

FOLDER = "evaluation/"
FILES = {
    "confusion": "evaluation/confusion_matrix.json",
    "roc": "evaluation/roc_curve.json",
    "pr": "evaluation/pr_curve.json",
    "predictions": "evaluation/predictions.json",
    "importance": "evaluation/permutation_importance.json",
}
NO_DATA_TEXT = "No evaluation data for these runs."


@dataclass(frozen=True)
class Curve:
    """One ROC or precision-recall curve: x and y in [0, 1] and its area."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    area: float | None


@dataclass(frozen=True)
class Confusion:
    """Counts of rows whose class is ``labels[i]`` predicted as ``labels[j]``."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def normalised(self) -> tuple[tuple[float, ...], ...]:
        """Each row divided by its total (the recall of each class on the diagonal)."""
        rows = []
        for row in self.counts:
            total = sum(row)
            rows.append(tuple(c / total if total else 0.0 for c in row))
        return tuple(rows)


@dataclass(frozen=True)
class Predictions:
    """Actual and predicted values of a regressor (a sample of the validation rows)."""

    actual: tuple[float, ...]
    predicted: tuple[float, ...]
    residuals: tuple[float, ...]
    rows: int


@dataclass(frozen=True)
class Importances:
    """How much the metric drops when each feature is shuffled, most important first."""

    metric: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    skipped: str = ""


@dataclass(frozen=True)
class RunEvaluation:
    """What one run's evaluation folder holds; every part may be missing."""

    run_id: str
    roc: tuple[Curve, ...] = ()
    pr: tuple[Curve, ...] = ()
    confusion: Confusion | None = None
    predictions: Predictions | None = None
    importances: Importances | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """Whether nothing could be shown for the run."""
        return not (self.roc or self.pr or self.confusion or self.predictions or self.importances)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float("nan") if v is None else float(v) for v in values)


def parse_curves(data: dict[str, Any], x_key: str, y_key: str, area_key: str) -> tuple[Curve, ...]:
    """Curves from ``{"curves": [{"label", x_key, y_key, area_key}]}``."""
    curves = []
    for item in data["curves"]:
        x, y = _floats(item[x_key]), _floats(item[y_key])
        if len(x) != len(y):
            raise ValueError(f"{x_key} and {y_key} differ in length")
        area = item.get(area_key)
        curves.append(
            Curve(str(item.get("label", "")), x, y, None if area is None else float(area))
        )
    return tuple(curves)


def parse_confusion(data: dict[str, Any]) -> Confusion:
    """A confusion matrix from ``{"labels": [...], "counts": [[...]]}``."""
    labels = tuple(str(label) for label in data["labels"])
    counts = tuple(tuple(int(c) for c in row) for row in data["counts"])
    if len(counts) != len(labels) or any(len(row) != len(labels) for row in counts):
        raise ValueError("counts is not a square matrix over the labels")
    return Confusion(labels, counts)


def parse_predictions(data: dict[str, Any]) -> Predictions:
    """Regression points from ``{"actual", "predicted", "residuals", "rows"}``."""
    actual, predicted = _floats(data["actual"]), _floats(data["predicted"])
    if len(actual) != len(predicted):
        raise ValueError("actual and predicted differ in length")
    residuals = data.get("residuals")
    res = (
        _floats(residuals)
        if residuals is not None
        else tuple(a - p for a, p in zip(actual, predicted, strict=True))
    )
    return Predictions(actual, predicted, res, int(data.get("rows", len(actual))))


def parse_importances(data: dict[str, Any]) -> Importances:
    """Permutation importances from ``{"metric", "features", "mean", "std"[, "skipped"]}``."""
    features = tuple(str(f) for f in data.get("features", []))
    mean = _floats(data.get("mean", []))
    std = _floats(data.get("std", [0.0] * len(features)))
    if len(mean) != len(features) or len(std) != len(features):
        raise ValueError("features, mean and std differ in length")
    return Importances(
        str(data.get("metric", "")), features, mean, std, str(data.get("skipped", ""))
    )


_PARSERS = {
    "roc": lambda d: parse_curves(d, "fpr", "tpr", "auc"),
    "pr": lambda d: parse_curves(d, "recall", "precision", "average_precision"),
    "confusion": parse_confusion,
    "predictions": parse_predictions,
    "importance": parse_importances,
}
_FIELDS = {"importance": "importances"}


def load_evaluation(registry: Registry, run_id: str) -> RunEvaluation:
    """Read a run's evaluation artifacts; damaged files are named in ``problems``, not raised."""
    by_path = {a.path: a for a in registry.list_artifacts(run_id) if a.path.startswith(FOLDER)}
    parts: dict[str, Any] = {}
    problems = []
    for part, path in FILES.items():
        artifact = by_path.get(path)
        if artifact is None:
            continue
        try:
            data = json.loads(registry.artifacts.read_bytes(artifact.sha256).decode("utf-8"))
            parts[_FIELDS.get(part, part)] = _PARSERS[part](data)
        except (AppError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}: {exc}")
    return RunEvaluation(run_id, problems=tuple(problems), **parts)


def load_evaluations(registry: Registry, run_ids: Sequence[str]) -> dict[str, RunEvaluation]:
    """The evaluation of each run, by id."""
    return {run_id: load_evaluation(registry, run_id) for run_id in run_ids}
