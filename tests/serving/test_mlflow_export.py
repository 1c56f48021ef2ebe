"""An exported version is an MLflow Model that MLflow itself loads, checks and predicts with."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop_app import tracking
from desktop_app.errors import AppError, ConflictError
from desktop_app.registry import Registry
from desktop_app.serving.mlflow_export import export_mlflow_model, mlflow_type, to_yaml

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One registry with two registered models: numeric and mixed-type pipelines."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    registry = Registry(tmp_path_factory.mktemp("export") / "registry")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    numeric = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    rng = np.random.default_rng(0)
    mixed_x = pd.DataFrame(
        {
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], 60),
            "bill": rng.normal(40, 5, 60),
            "flipper": rng.integers(170, 230, 60),
        }
    )
    mixed_y = np.where(mixed_x["flipper"] > 200, "Gentoo", "Adelie")
    mixed = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                ("num", StandardScaler(), ["bill", "flipper"]),
            ]
        ),
        LogisticRegression(),
    ).fit(mixed_x, mixed_y)
    versions = {}
    # snapshot_code=False: module fixtures run before the per-test workspace isolation.
    for name, estimator, frame in (("cancer", numeric, X), ("penguins", mixed, mixed_x)):
        with tracking.start_run(experiment=name, registry=registry, snapshot_code=False) as run:
            run.log_model(estimator, "model")
            run.log_metric(
                "accuracy", float(estimator.score(frame, y if name == "cancer" else mixed_y))
            )
            versions[name] = tracking.register_model(name, input_example=frame)
    yield {
        "registry": registry,
        "versions": versions,
        "cancer": (numeric, X),
        "penguins": (mixed, mixed_x),
    }
    registry.close()


@pytest.mark.parametrize("name", ["cancer", "penguins"])
def test_mlflow_loads_the_export_and_predicts_like_the_original(
    models: dict[str, Any], name: str, tmp_path: Path
) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import Model

    estimator, frame = models[name]
    version = models["versions"][name]
    out = export_mlflow_model(models["registry"], version, tmp_path / "model")
    assert {p.name for p in out.iterdir()} == {
        "MLmodel",
        "model.skops",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
    expected = estimator.predict(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_pyfunc = mlflow.pyfunc.load_model(str(out)).predict(frame)
        by_sklearn = mlflow.sklearn.load_model(str(out)).predict(frame)
    np.testing.assert_array_equal(np.asarray(by_pyfunc), expected)
    np.testing.assert_array_equal(by_sklearn, expected)

    loaded = Model.load(str(out))
    columns = {c.name: c.type.name for c in loaded.signature.inputs.inputs}
    assert list(columns) == [str(c) for c in frame.columns]
    if name == "penguins":
        assert columns == {"island": "string", "bill": "double", "flipper": "long"}
        assert loaded.signature.outputs.inputs[0].type.name == "string"
    else:
        assert set(columns.values()) == {"double"}
        assert loaded.signature.outputs.inputs[0].type.name == "long"
    example = loaded.load_input_example(str(out))
    assert list(example.columns) == list(columns) and len(example) == 5
    assert loaded.flavors["sklearn"]["serialization_format"] == "skops"
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert requirements[0].startswith("mlflow") and any(
        r.startswith("scikit-learn==") for r in requirements
    )


def test_a_tampered_model_file_is_refused_and_nothing_is_written(
    models: dict[str, Any], tmp_path: Path
) -> None:
    registry: Registry = models["registry"]
    version = models["versions"]["cancer"]
    blob = registry.artifacts.path_for(version.artifact_sha256)
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(AppError, match=r"not exported.*does not match its SHA-256") as info:
            export_mlflow_model(registry, version, tmp_path / "out")
        assert info.value.code == "ARTIFACT_CORRUPT"
    finally:
        blob.write_bytes(original)
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_destination_is_refused(models: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not empty"):
        export_mlflow_model(models["registry"], models["versions"]["cancer"], tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_types_and_yaml_writer() -> None:
    import yaml

    assert [mlflow_type(t) for t in ("int64", "float32", "str", "bool", "datetime64[ns]")] == [
        "long",
        "float",
        "string",
        "boolean",
        "datetime",
    ]
    assert mlflow_type("complex128") is None
    data = {"a": {"b": [1, "x: y", {"pip": ["p==1"]}], "c": None, "d": "3.10"}, "e": []}
    assert yaml.safe_load(to_yaml(data)) == data
