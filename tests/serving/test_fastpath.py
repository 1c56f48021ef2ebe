"""The fast predict paths equal scikit-learn's bit for bit, or are not used at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from desktop_app.serving import fastpath
from desktop_app.serving.fastpath import compile_fast, compile_predict
from desktop_app.serving.model import ServedModel, prepare_inference


class _Shifted(LogisticRegression):
    def predict(self, X):
        return super().predict(X) + 1


class _Rounded(RandomForestClassifier):
    def predict_proba(self, X):
        return np.round(super().predict_proba(X), 1)


def _bits_equal(got: np.ndarray, expected: Any) -> bool:
    expected = np.asarray(expected)
    if got.dtype != expected.dtype or got.shape != expected.shape:
        return False
    if got.dtype.kind == "f":
        return np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()
    return bool(np.array_equal(got, expected))


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        LogisticRegression(max_iter=500),
        make_pipeline(
            StandardScaler(with_mean=False), StandardScaler(), LogisticRegression(max_iter=500)
        ),
    ],
)
def test_compiled_predict_equals_sklearn(estimator: Any) -> None:
    x, y = load_iris(return_X_y=True)
    estimator.fit(x, y)
    fast = compile_predict(estimator)
    assert fast is not None
    for rows in (x, x[:1], x.astype(np.float32), x[7:8].astype(np.float32)):
        expected = estimator.predict(rows)
        got = fast(np.ascontiguousarray(rows))
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(MinMaxScaler(), LogisticRegression()),
        make_pipeline(MinMaxScaler(), RandomForestClassifier(n_estimators=3)),
        _Shifted(),
        _Rounded(n_estimators=3),
        RandomForestClassifier(n_estimators=3, n_jobs=2),  # threads sum in varying order
    ],
)
def test_other_models_are_left_to_sklearn(estimator: Any) -> None:
    x, y = load_iris(return_X_y=True)
    estimator.fit(x, y)
    assert compile_fast(estimator) is None


def test_multi_output_forest_is_left_to_sklearn() -> None:
    x, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=3).fit(x, np.stack([y, y % 2], axis=1))
    assert compile_fast(forest) is None


# ---- forests ---------------------------------------------------------------------------------

_DATA = load_breast_cancer(return_X_y=True)


def _forests() -> list[tuple[str, Any, Any]]:
    x, y = _DATA
    labels = np.array(["benign", "malignant"], dtype=object)[y]
    three = np.digitize(x[:, 0], [12.0, 16.0])  # three classes
    target = x[:, 3] / 100.0
    return [
        ("rf", RandomForestClassifier(100, random_state=0), y),
        ("rf-text-labels", RandomForestClassifier(20, random_state=1), labels),
        (
            "rf-three-classes-shallow",
            RandomForestClassifier(25, max_depth=3, random_state=2),
            three,
        ),
        ("extra", ExtraTreesClassifier(40, random_state=3), y),
        (
            "scaled-rf",
            make_pipeline(StandardScaler(), RandomForestClassifier(30, random_state=4)),
            y,
        ),
        ("rf-regressor", RandomForestRegressor(30, random_state=5), target),
        (
            "extra-regressor",
            make_pipeline(StandardScaler(), ExtraTreesRegressor(20, random_state=6)),
            target,
        ),
        ("stumps", RandomForestClassifier(10, max_depth=1, random_state=7), y),
    ]


@pytest.fixture(scope="module")
def forests() -> Iterator[dict[str, tuple[Any, Any]]]:
    """Each fitted forest with its compiled fast path, under the server's scikit-learn settings."""
    import sklearn

    saved = sklearn.get_config()
    prepare_inference()
    try:
        x, _ = _DATA
        fitted = {}
        for name, estimator, target in _forests():
            estimator.fit(x, target)
            fast = compile_fast(estimator)
            assert fast is not None, name
            fitted[name] = (estimator, fast)
        yield fitted
    finally:
        sklearn.set_config(**saved)  # later tests need scikit-learn's own input checks


def _check(estimator: Any, fast: Any, rows: np.ndarray) -> None:
    rows = np.ascontiguousarray(rows)
    assert _bits_equal(fast.predict(rows), estimator.predict(rows))
    if hasattr(estimator, "predict_proba"):
        assert fast.predict_proba is not None
        assert _bits_equal(fast.predict_proba(rows), estimator.predict_proba(rows))
    else:
        assert fast.predict_proba is None


@pytest.mark.parametrize("name", [name for name, _, _ in _forests()])
def test_forest_equals_sklearn_on_a_seeded_batch(
    forests: dict[str, tuple[Any, Any]], name: str
) -> None:
    """2,000 random rows around the data, in every batch size from 1 row to all of them."""
    estimator, fast = forests[name]
    x, _ = _DATA
    rng = np.random.default_rng(7)
    spread = x.std(axis=0)
    rows = x[rng.integers(0, len(x), 2000)] + rng.normal(0, 0.5, (2000, x.shape[1])) * spread
    rows[:50] = x[:50]  # training rows land on leaves exactly as fitted
    for dtype in (np.float64, np.float32):
        batch = rows.astype(dtype)
        _check(estimator, fast, batch)
        start = 0
        for size in (1, 1, 2, 3, 7, 16, 23, 24, 25, 40, 64, 100, 257):
            _check(estimator, fast, batch[start : start + size])
            start += size


@settings(max_examples=60, deadline=None)
@given(
    row=arrays(
        np.float64,
        30,
        elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64),
    ),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_forest_equals_sklearn_on_any_row(
    forests: dict[str, tuple[Any, Any]], row: np.ndarray, dtype: Any
) -> None:
    """Arbitrary single rows (and a two-row batch with a data row) for the 100-tree forest."""
    estimator, fast = forests["rf"]
    _check(estimator, fast, row[None, :].astype(dtype))
    _check(estimator, fast, np.vstack([row, _DATA[0][3]]).astype(dtype))


def test_rows_on_thresholds_take_the_left_branch() -> None:
    """Rows whose values equal split thresholds (ties go left: x <= threshold)."""
    x, y = _DATA
    x = np.round(x)  # thresholds k + 0.5 are float32 values, so rows can sit on them
    estimator = RandomForestClassifier(30, random_state=0).fit(x, y)
    fast = compile_fast(estimator)
    assert fast is not None
    rng = np.random.default_rng(3)
    tree = estimator.estimators_[0].tree_
    splits = np.flatnonzero(tree.feature >= 0)
    rows = x[rng.integers(0, len(x), len(splits))].copy()
    rows[np.arange(len(splits)), tree.feature[splits]] = tree.threshold[splits]
    for dtype in (np.float64, np.float32):
        _check(estimator, fast, rows.astype(dtype))
        for row in rows[:10].astype(dtype):
            _check(estimator, fast, row[None, :])


def test_a_forest_path_that_would_differ_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The load-time probes catch a one-ulp error and a tie sent the wrong way."""
    x, y = _DATA
    # Whole-number features: thresholds k + 0.5 are float32 values, so rows can sit on them.
    forest = RandomForestClassifier(10, random_state=0).fit(np.round(x), y)
    assert compile_fast(forest) is not None
    real_mean = fastpath._Forest.mean

    def off_by_one_ulp(self: Any, rows: np.ndarray) -> np.ndarray:
        out = real_mean(self, rows)
        return np.nextafter(out, np.inf) if len(rows) == 1 else out

    with monkeypatch.context() as patch:
        patch.setattr(fastpath._Forest, "mean", off_by_one_ulp)
        assert compile_fast(forest) is None
    with monkeypatch.context() as patch:
        patch.setattr(fastpath, "_goes_right", np.greater_equal)  # ties to the right
        assert compile_fast(forest) is None
    assert compile_fast(forest) is not None


def test_served_model_uses_the_forest_fast_path() -> None:
    x, y = _DATA
    forest = RandomForestClassifier(15, random_state=0).fit(x, y)
    served = ServedModel(forest, name="rf", version="1")
    summary = served.describe()
    assert summary["fast_predict"] and summary["fast_predict_proba"]
    for rows in (x[:1], x[:300], x[5:6].astype(np.float32)):
        assert _bits_equal(served.predict(rows), forest.predict(rows))
        assert _bits_equal(served.predict_proba(rows), forest.predict_proba(rows))
