"""The preprocessing pipeline: columns prepared by their type, then the estimator.

Numeric columns are imputed and scaled; text, category and true/false columns are imputed and
encoded (one-hot, ignoring categories unseen in training). The saved model is this whole
pipeline, so it takes the raw columns of the data file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from desktop_app.training.spec import JobSpec, JobSpecError

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

MISSING_CATEGORY = "missing"


def column_groups(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Input columns by how they are prepared: numeric, categorical or boolean."""
    from pandas.api import types

    groups: dict[str, list[str]] = {"numeric": [], "categorical": [], "boolean": []}
    for column in frame.columns:
        series = frame[column]
        if types.is_bool_dtype(series):
            groups["boolean"].append(str(column))
        elif types.is_datetime64_any_dtype(series) or types.is_timedelta64_dtype(series):
            raise JobSpecError(
                f"column {column!r} holds dates or times, which the pipeline cannot use yet; "
                "leave it out of data.features or turn it into numbers",
                field="data.features",
            )
        elif types.is_numeric_dtype(series):
            groups["numeric"].append(str(column))
        else:
            groups["categorical"].append(str(column))
    return groups


def build_pipeline(spec: JobSpec, frame_features: pd.DataFrame, estimator: Any) -> Pipeline:
    """A Pipeline: a ColumnTransformer chosen from column types and the spec, then the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
    )

    pre = spec.preprocessing
    groups = column_groups(frame_features)
    transformers: list[tuple[str, Any, list[str]]] = []

    def encoder() -> Any:
        if pre.encode == "ordinal":
            return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        return OneHotEncoder(handle_unknown="ignore", sparse_output=False)

    if groups["numeric"]:
        steps: list[tuple[str, Any]] = []
        if pre.numeric_impute != "none":
            steps.append(("impute", SimpleImputer(strategy=pre.numeric_impute)))
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
        if pre.scale in scaler:
            steps.append(("scale", scaler[pre.scale]()))
        numeric: Any = Pipeline(steps) if steps else "passthrough"
        transformers.append(("numeric", numeric, groups["numeric"]))
    if groups["categorical"]:
        steps = []
        if pre.categorical_impute == "constant":
            steps.append(
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY))
            )
        elif pre.categorical_impute != "none":
            steps.append(("impute", SimpleImputer(strategy=pre.categorical_impute)))
        steps.append(("encode", encoder()))
        transformers.append(("categorical", Pipeline(steps), groups["categorical"]))
    if groups["boolean"]:
        # True/false columns cannot hold a missing value, and SimpleImputer refuses them.
        transformers.append(("boolean", encoder(), groups["boolean"]))
    if not transformers:
        raise JobSpecError("no input columns to learn from", field="data.features")
    return Pipeline(
        [
            ("preprocess", ColumnTransformer(transformers, remainder="drop")),
            ("model", estimator),
        ]
    )
