"""Scores and evaluation data of a fitted model: metrics, curves, matrices, importances.

Everything here returns plain data (lists and numbers fit for JSON), never pictures: the GUI
draws it, the CLI prints it, and tests assert on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.training.spec import JobSpecError

if TYPE_CHECKING:
    import numpy as np


MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 2000
PERMUTATION_REPEATS = 5
PERMUTATION_MAX_ROWS = 2000
PERMUTATION_BUDGET_S = 20.0


@dataclass(frozen=True)
class Metric:
    """A metric a job can report: its task, whether it needs probabilities, its scorer."""

    name: str
    task: str
    needs_proba: bool
    scorer: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", False, "accuracy"),
        Metric("balanced_accuracy", "classification", False, "balanced_accuracy"),
        Metric("f1", "classification", False, "f1_macro"),
        Metric("f1_weighted", "classification", False, "f1_weighted"),
        Metric("precision", "classification", False, "precision_macro"),
        Metric("recall", "classification", False, "recall_macro"),
        Metric("roc_auc", "classification", True, "roc_auc_ovr"),
        Metric("log_loss", "classification", True, "neg_log_loss"),
        Metric("r2", "regression", False, "r2"),
        Metric("rmse", "regression", False, "neg_root_mean_squared_error"),
        Metric("mae", "regression", False, "neg_mean_absolute_error"),
        Metric("mse", "regression", False, "neg_mean_squared_error"),
        Metric("mape", "regression", False, "neg_mean_absolute_percentage_error"),
        Metric("median_ae", "regression", False, "neg_median_absolute_error"),
        Metric("explained_variance", "regression", False, "explained_variance"),
    )
}
DEFAULT_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"),
    "regression": ("r2", "rmse", "mae"),
}


def metric_problems(requested: Sequence[str] | None, task: str, estimator: Any) -> list[str]:
    """Asked-for metrics that do not fit the task or the estimator."""
    problems = []
    has_proba = hasattr(estimator, "predict_proba")
    for name in requested or ():
        metric = METRICS.get(name)
        if metric is None:
            problems.append(f"metrics: unknown metric {name!r}; known: {', '.join(METRICS)}")
        elif metric.task != task:
            problems.append(f"metrics: {name!r} is a {metric.task} metric but the task is {task}")
        elif metric.needs_proba and not has_proba:
            problems.append(
                f"metrics: {name!r} needs predicted probabilities, which "
                f"{type(estimator).__name__} does not give with these params"
            )
    return problems


def resolve_metrics(requested: Sequence[str] | None, task: str, estimator: Any) -> list[str]:
    """The metrics to report: those asked for (checked), else the task's defaults."""
    if requested:
        problems = metric_problems(requested, task, estimator)
        if problems:
            raise JobSpecError(problems[0], detail="\n".join(problems))
        return list(requested)
    has_proba = hasattr(estimator, "predict_proba")
    return [m for m in DEFAULT_METRICS[task] if has_proba or not METRICS[m].needs_proba]


def needs_proba(metrics: Sequence[str]) -> bool:
    """Whether any of the metrics is computed from probabilities."""
    return any(METRICS[m].needs_proba for m in metrics)


def align_proba(proba: np.ndarray, model_classes: Sequence[Any], classes: np.ndarray) -> np.ndarray:
    """Probabilities with one column per class of the whole data (zeros for unseen classes)."""
    import numpy as np

    if len(model_classes) == len(classes) and np.array_equal(np.asarray(model_classes), classes):
        return proba
    full = np.zeros((proba.shape[0], len(classes)))
    index = {_plain(c): i for i, c in enumerate(classes)}
    for j, label in enumerate(model_classes):
        full[:, index[_plain(label)]] = proba[:, j]
    return full


def score(
    name: str,
    y_true: Any,
    y_pred: Any,
    proba: np.ndarray | None = None,
    classes: np.ndarray | None = None,
) -> float:
    """One metric; NaN when it is undefined on these rows (one class only, say)."""
    from sklearn import metrics as m

    try:
        if name == "accuracy":
            return float(m.accuracy_score(y_true, y_pred))
        if name == "balanced_accuracy":
            return float(m.balanced_accuracy_score(y_true, y_pred))
        if name in ("f1", "f1_weighted", "precision", "recall"):
            average = "weighted" if name == "f1_weighted" else "macro"
            function = {
                "precision": m.precision_score,
                "recall": m.recall_score,
            }.get(name, m.f1_score)
            return float(function(y_true, y_pred, average=average, zero_division=0))
        if name == "roc_auc":
            assert proba is not None and classes is not None
            if len(classes) == 2:
                import numpy as np

                return float(m.roc_auc_score(np.asarray(y_true) == classes[1], proba[:, 1]))
            return float(m.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
        if name == "log_loss":
            assert proba is not None and classes is not None
            return float(m.log_loss(y_true, proba, labels=classes))
        regression = {
            "r2": m.r2_score,
            "rmse": m.root_mean_squared_error,
            "mae": m.mean_absolute_error,
            "mse": m.mean_squared_error,
            "mape": m.mean_absolute_percentage_error,
            "median_ae": m.median_absolute_error,
            "explained_variance": m.explained_variance_score,
        }
        return float(regression[name](y_true, y_pred))
    except ValueError:
        return float("nan")


def score_all(
    names: Sequence[str],
    y_true: Any,
    y_pred: Any,
    proba: np.ndarray | None = None,
    classes: np.ndarray | None = None,
) -> dict[str, float]:
    """Several metrics on the same predictions."""
    return {name: score(name, y_true, y_pred, proba, classes) for name in names}


# ---- evaluation data -----------------------------------------------------------------------


def confusion(y_true: Any, y_pred: Any, classes: np.ndarray) -> dict[str, Any]:
    """Confusion matrix: ``counts[i][j]`` rows of class ``labels[i]`` predicted ``labels[j]``."""
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, labels=classes)
    return {"labels": [_plain(c) for c in classes], "counts": counts.astype(int).tolist()}


def roc_curves(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """ROC curves (the positive class for two classes, one-vs-rest per class for more)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    curves = []
    for index, label, positive in _one_vs_rest(y_true, classes):
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, index])
        keep = _downsample(len(fpr))
        curves.append(
            {
                "label": _plain(label),
                "fpr": fpr[keep].tolist(),
                "tpr": tpr[keep].tolist(),
                "auc": float(roc_auc_score(positive, proba[:, index])),
            }
        )
    return {"curves": curves}


def pr_curves(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """Precision-recall curves, laid out like ``roc_curves``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves = []
    for index, label, positive in _one_vs_rest(y_true, classes):
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, proba[:, index])
        keep = _downsample(len(precision))
        curves.append(
            {
                "label": _plain(label),
                "precision": precision[keep].tolist(),
                "recall": recall[keep].tolist(),
                "average_precision": float(average_precision_score(positive, proba[:, index])),
            }
        )
    return {"curves": curves}


def _one_vs_rest(y_true: Any, classes: np.ndarray) -> list[tuple[int, Any, np.ndarray]]:
    import numpy as np

    truth = np.asarray(y_true)
    if len(classes) == 2:
        return [(1, classes[1], truth == classes[1])]
    return [(i, label, truth == label) for i, label in enumerate(classes)]


def _downsample(length: int, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Evenly spread indices, first and last kept, at most ``limit`` of them."""
    import numpy as np

    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(int))


def regression_points(y_true: Any, y_pred: Any, seed: int) -> dict[str, Any]:
    """Actual and predicted values with residuals, a random sample of at most 2,000 rows."""
    import numpy as np

    actual = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_pred, dtype=float)
    if len(actual) > MAX_SCATTER_POINTS:
        chosen = np.sort(
            np.random.default_rng(seed).choice(len(actual), MAX_SCATTER_POINTS, replace=False)
        )
        actual, predicted = actual[chosen], predicted[chosen]
    return {
        "actual": actual.tolist(),
        "predicted": predicted.tolist(),
        "residuals": (actual - predicted).tolist(),
        "rows": len(np.asarray(y_true)),
    }


def permutation_importances(
    model: Any,
    x: Any,
    y: Any,
    metric: str,
    seed: int,
    *,
    budget_s: float = PERMUTATION_BUDGET_S,
) -> dict[str, Any]:
    """How much the main metric drops when each input column is shuffled (validation rows).

    Rows are capped at 2,000 and repeats reduced to stay within ``budget_s``; when even one
    repeat would not fit, the result says it was skipped and why.
    """
    import numpy as np
    from sklearn.inspection import permutation_importance

    if len(x) > PERMUTATION_MAX_ROWS:
        chosen = np.sort(
            np.random.default_rng(seed).choice(len(x), PERMUTATION_MAX_ROWS, replace=False)
        )
        x, y = x.iloc[chosen], y.iloc[chosen]
    scorer = METRICS[metric].scorer
    if metric == "roc_auc" and y.nunique() == 2:
        scorer = "roc_auc"
    started = time.perf_counter()
    model.predict(x)
    one = max(time.perf_counter() - started, 1e-4)
    columns = x.shape[1]
    repeats = min(PERMUTATION_REPEATS, int(budget_s / (one * columns)))
    base: dict[str, Any] = {"metric": metric, "scoring": scorer, "rows": len(x)}
    if repeats < 1:
        return {**base, "skipped": f"would take over {budget_s:.0f} s", "features": []}
    try:
        result = permutation_importance(
            model, x, y, scoring=scorer, n_repeats=repeats, random_state=seed
        )
    except ValueError as exc:
        return {**base, "skipped": str(exc).splitlines()[0], "features": []}
    order = np.argsort(-result.importances_mean, kind="stable")
    return {
        **base,
        "n_repeats": repeats,
        "features": [str(x.columns[i]) for i in order],
        "mean": [float(result.importances_mean[i]) for i in order],
        "std": [float(result.importances_std[i]) for i in order],
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# ---- model files ---------------------------------------------------------------------------
