"""The fast predict of scaled linear models equals scikit-learn's, or is not used at all."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from desktop_app.serving.fastpath import compile_predict


class _Shifted(LogisticRegression):
    def predict(self, X):  # type: ignore[no-untyped-def]
        return super().predict(X) + 1


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
def test_compiled_predict_equals_sklearn(estimator: object) -> None:
    x, y = load_iris(return_X_y=True)
    estimator.fit(x, y)  # type: ignore[attr-defined]
    fast = compile_predict(estimator)
    assert fast is not None
    for rows in (x, x[:1], x.astype(np.float32), x[7:8].astype(np.float32)):
        expected = estimator.predict(rows)  # type: ignore[attr-defined]
        got = fast(np.ascontiguousarray(rows))
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=3),
        make_pipeline(MinMaxScaler(), LogisticRegression()),
        _Shifted(),
    ],
)
def test_other_models_are_left_to_sklearn(estimator: object) -> None:
    x, y = load_iris(return_X_y=True)
    estimator.fit(x, y)  # type: ignore[attr-defined]
    assert compile_predict(estimator) is None
