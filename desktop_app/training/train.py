"""``train(spec, reporter)``: fit and evaluate a scikit-learn job, reporting as it goes.

A plain function with no Qt: the worker process calls it with a reporter over the run it
opened, the tests with one over a temporary registry. What lands in the run:

- params: the estimator's resolved hyperparameters, as text;
- tags: ``task``, ``seed``, ``estimator``, the library versions and ``data_warnings``;
- metrics: ``fold_<metric>`` per fold (step = fold index), ``<metric>`` and ``<metric>_std``
  over the folds, ``train_<metric>``/``val_<metric>`` (and ``train_loss``/``val_loss`` for
  epoch-wise estimators) while the model grows, ``fit_seconds`` and ``peak_memory_mb`` (MiB,
  the most memory the process held while fitting the final model);
- artifacts: ``job.toml``, the model (``models/model.skops``), ``model/signature.json``,
  ``model/input_example.json`` and JSON evaluation data under ``evaluation/``.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from desktop_app.errors import AppError
from desktop_app.training.spec import JobSpec, JobSpecError, dump_job, spec_problems

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CURVE_STEPS = 10
MAX_STAGED_POINTS = 50
MAX_EPOCHS = 100
MAX_PARAM_TEXT = 500
MAX_WARNINGS_TEXT = 1000


class Reporter(Protocol):
    """Where a training job sends what it learns, and asks whether to stop."""

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one metric value."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at the same step."""

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record params (fixed once logged)."""

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set tags."""

    def log_text(self, text: str, artifact_path: str) -> Any:
        """Store a text artifact."""

    def log_model(self, estimator: Any, name: str = "model") -> Any:
        """Store a fitted model."""

    def log_dataset(self, source: Any, name: str = "", role: str = "training") -> Any:
        """Record the data used."""

    def progress(self, done: int, total: int, message: str) -> None:
        """Say how far the job is, in units of work."""

    def should_stop(self) -> bool:
        """Whether the user asked to stop."""


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a finished training job."""

    metrics: dict[str, float]
    task: str
    n_rows: int
    fit_seconds: float
    peak_memory_bytes: int


class TrainingStopped(AppError):
    """The job stopped early because the reporter asked it to."""

    code = "TRAINING_STOPPED"

    def __init__(
        self, message: str = "Training was stopped before it finished.", *, detail: str = ""
    ) -> None:
        super().__init__(message, detail=detail)


class _Progress:
    """Counts units of work, reports them and checks for a stop request between them."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.done = 0
        self.total = 1

    def step(self, message: str, units: int = 1) -> None:
        self.done = min(self.done + units, self.total)
        self.reporter.progress(self.done, self.total, message)

    def check(self, where: str) -> None:
        if self.reporter.should_stop():
            raise TrainingStopped(detail=f"Stopped {where}.")


def train(spec: JobSpec, reporter: Reporter) -> TrainResult:
    """Load, check, record, cross-validate, fit and evaluate a scikit-learn job."""
    import numpy as np
    from sklearn.base import clone

    from desktop_app.training import catalog, data, evaluation
    from desktop_app.training.pipeline import build_pipeline

    problems = spec_problems(spec)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    if spec.script is not None or spec.data is None or spec.model is None:
        raise JobSpecError(
            "a Python script job is run by the worker, not by train()", field="script"
        )
    progress = _Progress(reporter)
    progress.check("before reading the data")
    source = data.source_name(spec)
    reporter.progress(0, 1, f"Reading {source}")
    kind = catalog.estimator_kind(spec.model.estimator)
    frame = data.load_frame(spec)
    x, y, notes = data.split_xy(frame, spec)
    target = data.target_column(spec)
    task = data.resolve_task(spec.task, y, kind)
    problems = data.target_problems(y, task, target, source) + data.split_problems(spec, y, task)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    seed = spec.split.seed
    estimator = catalog.make_estimator(spec.model, task, seed)
    metrics = evaluation.resolve_metrics(spec.metrics, task, estimator)
    main = metrics[0]
    classes = np.unique(y.to_numpy()) if task == "classification" else None

    _record(spec, reporter, estimator, frame, task)
    profile = data.profile_frame(frame, target, task)
    splits, split_notes = _splits(spec, y, task)
    notes = [*notes, *split_notes, *profile["warnings"]]
    reporter.log_text(_json(profile), "evaluation/data_profile.json")
    if notes:
        reporter.set_tags({"data_warnings": _shorten("; ".join(notes), MAX_WARNINGS_TEXT)})
    pipeline = build_pipeline(spec, x, estimator)

    curve, curve_units = _curve_plan(estimator)
    progress.total = 1 + curve_units + len(splits) + 2
    progress.step(f"Read {len(x)} rows from {source}")
    name = type(estimator).__name__
    if curve is not None:
        train_rows, val_rows = splits[0]
        with _fit_errors(f"following {name} as it learns"):
            _log_curves(curve, pipeline, x, y, train_rows, val_rows, main, classes, progress)

    folds = _cross_validate(pipeline, x, y, splits, metrics, classes, spec, progress)
    final_metrics = _summarise(folds.scores, metrics, with_std=spec.split.kind == "kfold")
    reporter.log_metrics(final_metrics)

    progress.check("before the final fit")
    final = clone(pipeline)
    with _fit_errors(f"fitting {name} on all rows"):
        fit_seconds, peak_bytes = _measured_fit(final, x, y)
    reporter.log_metrics({"fit_seconds": fit_seconds, "peak_memory_mb": peak_bytes / (1024 * 1024)})
    reporter.log_model(final, "model")
    reporter.log_text(_json(_signature(x, y, target, task, classes)), "model/signature.json")
    reporter.log_text(x.head(5).to_json(orient="records"), "model/input_example.json")
    progress.step(f"Fitted the final model on {len(x)} rows in {fit_seconds:.2f} s")

    progress.check("before the evaluation")
    _store_evaluation(reporter, spec, folds, final_metrics, x, y, main, classes)
    progress.step("Evaluation stored")
    return TrainResult(
        metrics=final_metrics,
        task=task,
        n_rows=len(x),
        fit_seconds=fit_seconds,
        peak_memory_bytes=peak_bytes,
    )


@dataclass
class _Folds:
    """What cross-validation left: scores per fold and out-of-fold predictions."""

    splits: list[tuple[np.ndarray, np.ndarray]]
    scores: list[dict[str, float]]
    predicted: np.ndarray
    proba: np.ndarray | None
    evaluated: np.ndarray
    first_model: Any


def _cross_validate(
    pipeline: Any,
    x: pd.DataFrame,
    y: pd.Series,
    splits: list[tuple[np.ndarray, np.ndarray]],
    metrics: list[str],
    classes: np.ndarray | None,
    spec: JobSpec,
    progress: _Progress,
) -> _Folds:
    """Fit and score a fresh pipeline per split, logging ``fold_<metric>`` for k-fold."""
    import numpy as np
    from sklearn.base import clone

    from desktop_app.training.evaluation import align_proba, score_all

    estimator = pipeline.named_steps["model"]
    name = type(estimator).__name__
    want_proba = classes is not None and hasattr(estimator, "predict_proba")
    folds = _Folds(
        splits=splits,
        scores=[],
        predicted=np.empty(len(y), dtype=object if classes is not None else float),
        proba=np.zeros((len(y), len(classes))) if want_proba and classes is not None else None,
        evaluated=np.zeros(len(y), dtype=bool),
        first_model=None,
    )
    main = metrics[0]
    for fold, (train_rows, val_rows) in enumerate(splits):
        progress.check(f"before fold {fold + 1} of {len(splits)}")
        with _fit_errors(f"fitting {name} on fold {fold + 1}"):
            model = clone(pipeline).fit(x.iloc[train_rows], y.iloc[train_rows])
        x_val, y_val = x.iloc[val_rows], y.iloc[val_rows]
        predicted = model.predict(x_val)
        proba = None
        if folds.proba is not None and classes is not None:
            proba = align_proba(model.predict_proba(x_val), model.classes_, classes)
            folds.proba[val_rows] = proba
        folds.predicted[val_rows] = predicted
        folds.evaluated[val_rows] = True
        scores = score_all(metrics, y_val, predicted, proba, classes)
        folds.scores.append(scores)
        if spec.split.kind == "kfold":
            progress.reporter.log_metrics({f"fold_{k}": v for k, v in scores.items()}, step=fold)
        if folds.first_model is None:
            folds.first_model = model
        progress.step(f"Fold {fold + 1} of {len(splits)}: {main} {scores[main]:.4g}")
    return folds


def _store_evaluation(
    reporter: Reporter,
    spec: JobSpec,
    folds: _Folds,
    final_metrics: dict[str, float],
    x: pd.DataFrame,
    y: pd.Series,
    main: str,
    classes: np.ndarray | None,
) -> None:
    """Fold results, confusion matrix, curves or residuals and importances under evaluation/."""
    from desktop_app.training import evaluation

    seed = spec.split.seed
    results = {
        "split": spec.split.kind,
        "folds": [
            {"fold": i, "train_rows": len(s[0]), "val_rows": len(s[1]), "metrics": scores}
            for i, (s, scores) in enumerate(zip(folds.splits, folds.scores, strict=True))
        ],
        "metrics": final_metrics,
    }
    reporter.log_text(_json(results), "evaluation/cv_results.json")
    seen = folds.evaluated
    y_seen = y.to_numpy()[seen]
    if classes is not None:
        confusion = evaluation.confusion(y_seen, folds.predicted[seen], classes)
        reporter.log_text(_json(confusion), "evaluation/confusion_matrix.json")
        if folds.proba is not None:
            proba = folds.proba[seen]
            roc = evaluation.roc_curves(y_seen, proba, classes)
            reporter.log_text(_json(roc), "evaluation/roc_curve.json")
            pr = evaluation.pr_curves(y_seen, proba, classes)
            reporter.log_text(_json(pr), "evaluation/pr_curve.json")
    else:
        points = evaluation.regression_points(y_seen, folds.predicted[seen], seed)
        reporter.log_text(_json(points), "evaluation/predictions.json")
    val_rows = folds.splits[0][1]
    importances = evaluation.permutation_importances(
        folds.first_model, x.iloc[val_rows], y.iloc[val_rows], main, seed
    )
    kfold = spec.split.kind == "kfold"
    importances["validation"] = "rows of the first fold" if kfold else "holdout rows"
    reporter.log_text(_json(importances), "evaluation/permutation_importance.json")


# ---- recording -----------------------------------------------------------------------------


def _record(
    spec: JobSpec, reporter: Reporter, estimator: Any, frame: pd.DataFrame, task: str
) -> None:
    """Params, the job file, the dataset and the versions behind the run."""
    import numpy
    import pandas
    import sklearn

    params = {
        key: _shorten(value if isinstance(value, str) else repr(value), MAX_PARAM_TEXT)
        for key, value in estimator.get_params(deep=False).items()
    }
    reporter.log_params(params)
    reporter.log_text(dump_job(spec), "job.toml")
    assert spec.data is not None
    if spec.data.path is not None:
        path = spec.resolve_path(spec.data.path)
        reporter.log_dataset(str(path), name=path.name, role="training")
    else:
        reporter.log_dataset(frame, name=str(spec.data.dataset), role="training")
    cls = type(estimator)
    reporter.set_tags(
        {
            "task": task,
            "seed": spec.split.seed,
            "estimator": f"{cls.__module__}.{cls.__qualname__}",
            "sklearn_version": sklearn.__version__,
            "numpy_version": numpy.__version__,
            "pandas_version": pandas.__version__,
            "python_version": platform.python_version(),
        }
    )


def _signature(
    x: pd.DataFrame, y: pd.Series, target: str, task: str, classes: np.ndarray | None
) -> dict[str, Any]:
    """The model's input columns and output, for servers and forms."""
    from desktop_app.training.pipeline import column_groups

    return {
        "inputs": [{"name": str(c), "type": str(t)} for c, t in x.dtypes.items()],
        "groups": column_groups(x),
        "target": {"name": target, "type": str(y.dtype)},
        "task": task,
        "classes": None if classes is None else [_plain(c) for c in classes],
    }


# ---- splitting and scoring -----------------------------------------------------------------


def _splits(
    spec: JobSpec, y: pd.Series, task: str
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """Train/validation row positions: k folds or one holdout, stratified where possible."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    split = spec.split
    rows = len(y)
    counts = y.value_counts() if task == "classification" else None
    notes: list[str] = []
    stratify = split.stratify and counts is not None
    if split.kind == "kfold":
        splitter: Any = KFold(split.folds, shuffle=True, random_state=split.seed)
        if stratify and counts is not None:
            if counts.max() >= split.folds:
                splitter = StratifiedKFold(split.folds, shuffle=True, random_state=split.seed)
                if counts.min() < split.folds:
                    notes.append(
                        f"class {_plain(counts.index[-1])!r} has fewer rows "
                        f"({int(counts.min())}) than folds ({split.folds})"
                    )
            else:
                notes.append("every class has fewer rows than folds: folds not stratified")
        return list(splitter.split(np.zeros(rows), y)), notes
    test_rows = math.ceil(rows * split.test_size)
    labels = None
    if stratify and counts is not None:
        enough = counts.min() >= 2 and min(test_rows, rows - test_rows) >= len(counts)
        if enough:
            labels = y
        else:
            notes.append("too few rows per class to stratify the holdout")
    train_rows, val_rows = train_test_split(
        np.arange(rows), test_size=split.test_size, random_state=split.seed, stratify=labels
    )
    return [(train_rows, val_rows)], notes


def _summarise(
    fold_scores: list[dict[str, float]], metrics: list[str], *, with_std: bool
) -> dict[str, float]:
    """Mean over folds (ignoring folds where a metric was undefined) and, for k-fold, the std."""
    import numpy as np

    summary: dict[str, float] = {}
    for name in metrics:
        values = np.array([s[name] for s in fold_scores], dtype=float)
        finite = values[~np.isnan(values)]
        summary[name] = float(finite.mean()) if finite.size else float("nan")
        if with_std:
            summary[f"{name}_std"] = float(finite.std()) if finite.size else float("nan")
    return summary


def _measured_fit(model: Any, x: pd.DataFrame, y: pd.Series) -> tuple[float, int]:
    """Fit, returning the seconds taken and the most memory the process held meanwhile.

    Memory is the resident set size sampled every 10 ms from a thread: it counts what native
    code allocates too (tree builders), and unlike tracemalloc it does not slow the fit down.
    """
    import threading

    import psutil

    process = psutil.Process()
    peak = process.memory_info().rss
    finished = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not finished.wait(0.01):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, name="modeldesk-fit-memory", daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        model.fit(x, y)
    finally:
        seconds = time.perf_counter() - started
        finished.set()
        sampler.join()
    return seconds, max(peak, process.memory_info().rss)


@contextlib.contextmanager
def _fit_errors(what: str) -> Iterator[None]:
    """Report scikit-learn's refusal to fit (NaN it cannot take, say) as a job problem."""
    try:
        yield
    except ValueError as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise JobSpecError(f"{what} failed: {first}", field="model", detail=text) from exc


# ---- learning curves -----------------------------------------------------------------------


def _curve_plan(estimator: Any) -> tuple[str | None, int]:
    """How the model can be watched while it learns, and how many units of work that is.

    ``staged``: boosting models predict after each stage of one fit; ``grow``: ensembles with
    ``warm_start`` add trees step by step; ``epochs``: ``partial_fit`` models learn epoch by epoch.
    """
    params = estimator.get_params(deep=False)
    if hasattr(estimator, "staged_predict"):
        return "staged", 1
    if "warm_start" in params and isinstance(params.get("n_estimators"), int):
        return "grow", len(_grow_sizes(params["n_estimators"]))
    if hasattr(estimator, "partial_fit") and isinstance(params.get("max_iter"), int):
        return "epochs", min(params["max_iter"], MAX_EPOCHS)
    return None, 0


def _grow_sizes(n_estimators: int) -> list[int]:
    sizes = {max(1, round(n_estimators * k / CURVE_STEPS)) for k in range(1, CURVE_STEPS + 1)}
    return sorted(sizes)


def _log_curves(
    curve: str,
    pipeline: Any,
    x: pd.DataFrame,
    y: pd.Series,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    main: str,
    classes: np.ndarray | None,
    progress: _Progress,
) -> None:
    """Train and validation scores of the main metric as the model learns (first split)."""
    from sklearn.base import clone

    preprocess = clone(pipeline.named_steps["preprocess"])
    x_train = preprocess.fit_transform(x.iloc[train_rows], y.iloc[train_rows])
    x_val = preprocess.transform(x.iloc[val_rows])
    y_train, y_val = y.iloc[train_rows].to_numpy(), y.iloc[val_rows].to_numpy()
    model = clone(pipeline.named_steps["model"])
    reporter = progress.reporter
    if curve == "grow":
        model.set_params(warm_start=True)
        for size in _grow_sizes(model.get_params()["n_estimators"]):
            progress.check(f"while growing the model ({size} estimators)")
            model.set_params(n_estimators=size)
            model.fit(x_train, y_train)
            reporter.log_metrics(
                {
                    f"train_{main}": _model_score(model, x_train, y_train, main, classes),
                    f"val_{main}": _model_score(model, x_val, y_val, main, classes),
                },
                step=size,
            )
            progress.step(f"Grown to {size} estimators")
    elif curve == "staged":
        _log_stages(model, x_train, y_train, x_val, y_val, main, classes, progress)
    else:
        _log_epochs(model, x_train, y_train, x_val, y_val, main, classes, progress)


def _log_stages(
    model: Any,
    x_train: Any,
    y_train: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    main: str,
    classes: np.ndarray | None,
    progress: _Progress,
) -> None:
    """One boosting fit, scored after chosen stages through ``staged_predict``."""
    import numpy as np

    from desktop_app.training.evaluation import METRICS, align_proba, score

    progress.check("before fitting the boosting curve")
    model.fit(x_train, y_train)
    stages = int(
        getattr(model, "n_estimators_", 0)
        or getattr(model, "n_iter_", 0)
        or len(getattr(model, "estimators_", ()))
    )
    wanted = set(np.linspace(1, stages, min(stages, MAX_STAGED_POINTS)).round().astype(int))
    proba = METRICS[main].needs_proba
    staged = model.staged_predict_proba if proba else model.staged_predict
    for stage, (on_train, on_val) in enumerate(
        zip(staged(x_train), staged(x_val), strict=True), start=1
    ):
        if stage not in wanted:
            continue
        progress.check(f"while scoring stage {stage}")
        values = {}
        for prefix, truth, output in (("train", y_train, on_train), ("val", y_val, on_val)):
            if proba:
                assert classes is not None
                aligned = align_proba(output, model.classes_, classes)
                predicted = classes[np.argmax(aligned, axis=1)]
                values[f"{prefix}_{main}"] = score(main, truth, predicted, aligned, classes)
            else:
                values[f"{prefix}_{main}"] = score(main, truth, output, None, classes)
        progress.reporter.log_metrics(values, step=stage)
    progress.step(f"Scored {len(wanted)} boosting stages")


def _log_epochs(
    model: Any,
    x_train: Any,
    y_train: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    main: str,
    classes: np.ndarray | None,
    progress: _Progress,
) -> None:
    """Epochs of ``partial_fit``, logging loss and the main metric on both sides."""
    from sklearn.base import is_classifier
    from sklearn.exceptions import ConvergenceWarning

    epochs = min(model.get_params()["max_iter"], MAX_EPOCHS)
    extra = {"classes": classes} if is_classifier(model) else {}
    for epoch in range(1, epochs + 1):
        progress.check(f"before epoch {epoch}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, **extra)
        progress.reporter.log_metrics(
            {
                "train_loss": _loss(model, x_train, y_train, classes),
                "val_loss": _loss(model, x_val, y_val, classes),
                f"train_{main}": _model_score(model, x_train, y_train, main, classes),
                f"val_{main}": _model_score(model, x_val, y_val, main, classes),
            },
            step=epoch,
        )
        progress.step(f"Epoch {epoch} of {epochs}")


def _model_score(
    model: Any, x: Any, y: np.ndarray, metric: str, classes: np.ndarray | None
) -> float:
    from desktop_app.training.evaluation import METRICS, align_proba, score

    proba = None
    if METRICS[metric].needs_proba:
        assert classes is not None
        proba = align_proba(model.predict_proba(x), model.classes_, classes)
    return score(metric, y, model.predict(x), proba, classes)


def _loss(model: Any, x: Any, y: np.ndarray, classes: np.ndarray | None) -> float:
    """Log loss with probabilities, hinge loss without, mean squared error for regressors."""
    from sklearn import metrics

    from desktop_app.training.evaluation import align_proba

    try:
        if classes is None:
            return float(metrics.mean_squared_error(y, model.predict(x)))
        if hasattr(model, "predict_proba"):
            proba = align_proba(model.predict_proba(x), model.classes_, classes)
            return float(metrics.log_loss(y, proba, labels=classes))
        return float(metrics.hinge_loss(y, model.decision_function(x), labels=classes))
    except ValueError:
        return float("nan")


# ---- helpers -------------------------------------------------------------------------------


def _json(data: Any) -> str:
    """JSON text with NaN and infinities written as null (strict JSON has neither)."""
    return json.dumps(_finite(data), indent=1, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item"):
        return _finite(value.item())
    return value


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
