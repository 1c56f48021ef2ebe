"""A fast ``predict`` for scaled linear models, proven equal to scikit-learn's before use.

A one-row ``Pipeline(StandardScaler, LogisticRegression).predict`` spends nearly all of its
~0.6 ms in scikit-learn's input validation, which the server has already done (shape, dtype,
finite values). For the common scaler + linear model pipelines this module replays the same
NumPy operations scikit-learn performs (the same in-place scaling, the same ``X @ coef.T +
intercept``, the same thresholding), in a few microseconds.

Only exact classes whose methods are scikit-learn's own are compiled (no subclass that
overrides them), and the compiled function is then compared bit for bit with the estimator on
probe rows, one by one and in a batch, in float64 and float32; any difference and the model is
served through scikit-learn as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def _scaling_steps(steps: list[Any]) -> list[tuple[Any, Any]] | None:
    """(mean, scale) pairs of the pipeline's StandardScalers; None if another step is there."""
    from sklearn.preprocessing import StandardScaler

    out = []
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if type(step) is not StandardScaler or getattr(step, "n_features_in_", None) is None:
            return None
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        out.append((mean, scale))
    return out


def _linear_kind(final: Any) -> str | None:
    """``classifier`` or ``regressor`` for scikit-learn's plain linear models, else None."""
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    cls = type(final)
    if not cls.__module__.startswith("sklearn.linear_model"):
        return None
    coef = getattr(final, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.dtype != np.float64:
        return None
    if (
        _owner(cls, "predict") is LinearClassifierMixin
        and _owner(cls, "decision_function") is LinearClassifierMixin
        and getattr(final, "classes_", None) is not None
    ):
        return "classifier"
    if _owner(cls, "predict") is LinearModel and _owner(cls, "_decision_function") is LinearModel:
        return "regressor"
    return None


def _owner(cls: type, name: str) -> type | None:
    """The class in ``cls``'s MRO that defines ``name`` (so overrides are noticed)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def compile_predict(estimator: Any) -> Predict | None:
    """A verified fast ``predict`` for a matrix input, or None when not applicable."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        if type(estimator) is not Pipeline:
            return None
        steps = [s for _, s in estimator.steps]
    else:
        steps = [estimator]
    scalings = _scaling_steps(steps[:-1])
    kind = _linear_kind(steps[-1])
    if scalings is None or kind is None:
        return None
    predict = _build(scalings, steps[-1], kind)
    return predict if _agrees(estimator, predict, scalings) else None


def _build(scalings: list[tuple[Any, Any]], final: Any, kind: str) -> Predict:
    casts = {
        dtype: [
            (None if m is None else m.astype(dtype), None if s is None else s.astype(dtype))
            for m, s in scalings
        ]
        for dtype in (np.dtype(np.float64), np.dtype(np.float32))
    }
    coef = final.coef_
    weights = coef if coef.ndim == 1 else coef.T
    intercept = final.intercept_
    classes: Any = getattr(final, "classes_", None)

    def predict(x: np.ndarray) -> np.ndarray:
        steps = casts[x.dtype]
        if steps:
            x = x.copy()
            for mean, scale in steps:
                if mean is not None:
                    x -= mean
                if scale is not None:
                    x /= scale
        scores = x @ weights + intercept
        if kind == "regressor":
            return scores
        if scores.ndim > 1 and scores.shape[1] == 1:
            scores = scores.reshape(-1)
        if scores.ndim == 1:
            indices = (scores > 0).astype(np.intp)
        else:
            indices = scores.argmax(axis=1)
        return np.take(classes, indices, axis=0)

    return predict


def _agrees(estimator: Any, predict: Predict, scalings: list[tuple[Any, Any]]) -> bool:
    """Whether the fast predict equals the estimator's, bit for bit, on probe rows."""
    n = int(estimator.n_features_in_)
    rng = np.random.default_rng(20240521)
    center = np.zeros(n)
    spread = np.ones(n)
    if scalings:
        mean, scale = scalings[0]
        center = np.zeros(n) if mean is None else np.asarray(mean, dtype=np.float64)
        spread = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
    probes = center + spread * rng.normal(0.0, 1.5, size=(64, n))
    probes = np.vstack([probes, np.zeros((1, n)), center[None, :]])
    try:
        for dtype in (np.float64, np.float32):
            batch = np.ascontiguousarray(probes, dtype=dtype)
            if not _same(predict(batch), estimator.predict(batch)):
                return False
            for row in batch[:16]:
                one = np.ascontiguousarray(row[None, :])
                if not _same(predict(one), estimator.predict(one)):
                    return False
    except Exception:
        return False
    return True


def _same(a: np.ndarray, b: Any) -> bool:
    b = np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
