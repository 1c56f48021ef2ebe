"""Registering versions and moving aliases commit model cards: git log is the model's history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop_app import tracking
from desktop_app.errors import NotFoundError
from desktop_app.registry import Registry
from desktop_app.versioning.model_history import (
    model_history,
    register_model_version,
    remove_alias,
    set_alias,
)


def _trained_run(registry: Registry, workspace: Path, depth: int) -> str:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    with tracking.start_run(
        experiment="iris", registry=registry, workspace=workspace, params={"depth": depth}
    ) as run:
        run.log_model(DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y))
        run.log_metric("accuracy", 0.9 + depth / 100)
        run.log_dataset(X, name="iris")
    return run.id


def test_versions_and_alias_moves_become_git_history(
    repo: Path, registry: Registry, git: Any
) -> None:
    first = _trained_run(registry, repo, 2)
    second = _trained_run(registry, repo, 3)
    v1, card1 = register_model_version(registry, "iris-tree", first)
    v2, card2 = register_model_version(registry, "iris-tree", second)
    assert (v1.version, v2.version) == (1, 2) and card1.commit and card2.commit
    assert v1.signature["n_features_in"] == 4 and v1.params == {"depth": "2"}
    set_alias(registry, "iris-tree", "champion", 1)
    moved = set_alias(registry, "iris-tree", "champion", 2)
    assert moved.commit == git(repo, "rev-parse", "HEAD")
    subjects = [c.subject for c in model_history(registry, "iris-tree")]
    assert subjects == [
        "Model card: iris-tree champion -> v2 (was v1)",
        "Model card: iris-tree champion -> v1",
        "Model card: iris-tree v2",
        "Model card: iris-tree v1",
    ]
    card = (repo / "models/iris-tree/MODEL_CARD.md").read_text()
    assert "version 2" in card and "champion" in card and v2.artifact_sha256 in card
    dataset_sha = registry.list_run_datasets(second)[0].sha256
    assert dataset_sha in card
    assert git(repo, "status", "--porcelain") == ""

    removed = remove_alias(registry, "iris-tree", "champion")
    assert removed.commit == git(repo, "rev-parse", "HEAD")
    assert model_history(registry, "iris-tree")[0].subject == (
        "Model card: iris-tree champion removed (was v2)"
    )
    assert "champion" not in (repo / "models/iris-tree/MODEL_CARD.md").read_text()
    assert registry.get_registered_model("iris-tree").aliases == {}


def test_without_a_workspace_the_version_registers_and_says_why(
    registry: Registry, tmp_path: Path
) -> None:
    run_id = _trained_run(registry, tmp_path, 2)
    version, card = register_model_version(registry, "loose", run_id)
    assert version.version == 1 and card.commit is None
    assert "not logged from a Git workspace" in card.skipped_reason


def test_a_run_without_a_model_cannot_be_registered(registry: Registry) -> None:
    run = registry.create_run("e")
    with pytest.raises(NotFoundError, match="no logged model"):
        register_model_version(registry, "m", run.id)


def test_a_runner_run_gives_the_version_typed_inputs_outputs_and_an_example(
    registry: Registry, tmp_path: Path
) -> None:
    import json

    run_id = _trained_run(registry, tmp_path, 2)
    signature = {
        "inputs": [{"name": "bill", "type": "float64"}, {"name": "island", "type": "str"}],
        "target": {"name": "species", "type": "str"},
        "task": "classification",
        "classes": ["Adelie", "Gentoo"],
    }
    registry.log_artifact_bytes(run_id, json.dumps(signature).encode(), "model/signature.json")
    example = [{"bill": 39.1, "island": "Dream"}]
    registry.log_artifact_bytes(run_id, json.dumps(example).encode(), "model/input_example.json")
    version, _card = register_model_version(registry, "penguins", run_id)
    assert version.signature["inputs"] == signature["inputs"]
    assert version.signature["outputs"] == [{"name": "species", "type": "str"}]
    assert version.signature["n_features_in"] == 4  # what run.log_model described
    assert registry.get_model_version("penguins", 1).input_example == example
