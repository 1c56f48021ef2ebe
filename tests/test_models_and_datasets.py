"""Registered models, versions, aliases (with their audit trail) and dataset records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app import tracking
from desktop_app.errors import InvalidValueError, NotFoundError
from desktop_app.registry import Registry


def _model_run(registry: Registry) -> tuple[str, str]:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    with tracking.start_run(experiment="iris", registry=registry) as run:
        artifact = run.log_model(DecisionTreeClassifier(random_state=0).fit(X, y), "model")
        run.log_metric("accuracy", 0.97)
    return run.id, artifact.sha256


def test_versions_are_numbered_and_aliases_move_with_an_audit_trail(registry: Registry) -> None:
    run_id, sha = _model_run(registry)
    first = registry.create_model_version(
        "iris-tree", artifact_sha256=sha, run_id=run_id, metrics={"accuracy": 0.97}
    )
    second = registry.create_model_version("iris-tree", artifact_sha256=sha, run_id=run_id)
    assert (first.version, second.version) == (1, 2)
    registry.set_model_alias("iris-tree", "champion", 1)
    registry.set_model_alias("iris-tree", "champion", 2)
    assert registry.get_model_version("iris-tree", "champion").version == 2
    assert registry.get_registered_model("iris-tree").aliases == {"champion": 2}
    registry.delete_model_alias("iris-tree", "champion")
    assert registry.get_registered_model("iris-tree").aliases == {}
    trail = [
        (e["detail"]["alias"], e["detail"]["version"], e["detail"]["previous"])
        for e in reversed(registry.audit_log("model"))
        if e["action"] == "alias"
    ]
    assert trail == [("champion", 1, None), ("champion", 2, 1), ("champion", None, 2)]
    assert registry.get_model_version("iris-tree", 1).metrics == {"accuracy": 0.97}


def test_model_version_keeps_its_file_after_the_run_is_purged(registry: Registry) -> None:
    run_id, sha = _model_run(registry)
    registry.create_model_version("kept", artifact_sha256=sha, run_id=run_id)
    registry.delete_runs([run_id])
    report = registry.purge()
    assert registry.artifacts.exists(sha)
    assert report.artifacts_removed == 1  # the model's JSON description went, the model stayed
    assert registry.get_model_version("kept", 1).run_id is None


def test_bad_alias_and_unknown_version_are_refused(registry: Registry) -> None:
    run_id, sha = _model_run(registry)
    registry.create_model_version("m", artifact_sha256=sha, run_id=run_id)
    with pytest.raises(InvalidValueError):
        registry.set_model_alias("m", "12", 1)
    with pytest.raises(NotFoundError):
        registry.set_model_alias("m", "champion", 7)


def test_csv_dataset_is_hashed_and_described(registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "penguins.csv"
    data.write_text(
        "species,bill_length,flipper,island\nAdelie,39.1,181,Torgersen\n"
        "Gentoo,46.5,217,Biscoe\nChinstrap,,195,Dream\n"
    )
    run = registry.create_run("e")
    recorded = registry.log_dataset(run.id, data)
    import hashlib

    assert recorded.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert (recorded.rows, recorded.columns) == (3, 4)
    assert recorded.schema == [
        {"name": "species", "type": "string"},
        {"name": "bill_length", "type": "float"},
        {"name": "flipper", "type": "integer"},
        {"name": "island", "type": "string"},
    ]
    assert registry.list_run_datasets(run.id) == [recorded]


def test_array_dataset_fingerprint_changes_with_content(registry: Registry) -> None:
    run = registry.create_run("e")
    a = registry.log_dataset(run.id, np.zeros((10, 3)), name="a")
    b = registry.log_dataset(run.id, np.ones((10, 3)), name="b", role="test")
    assert a.sha256 != b.sha256 and (a.rows, a.columns) == (10, 3)
    assert {d.role for d in registry.list_run_datasets(run.id)} == {"training", "test"}
