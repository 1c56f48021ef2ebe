"""``modeldesk models ...``: register, list, show, alias, archive, restore and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from desktop_app import tracking
from desktop_app.cli import cli
from desktop_app.errors import AppError
from desktop_app.registry import Registry


def invoke(registry_path: Path, *args: str) -> Result:
    """Run the CLI in-process against ``registry_path``."""
    return CliRunner().invoke(cli, ["--registry", str(registry_path), *args])


def one_line_error(result: Result, contains: str, code: int = 1) -> None:
    """The command failed with ``code`` and one ``Error:`` line mentioning ``contains``."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and contains in lines[0], lines


def _tree_run(registry_path: Path, depth: int) -> str:
    """A finished run that logged a decision tree (its file holds skops-untrusted types)."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    with tracking.start_run(
        experiment="iris", registry=str(registry_path), params={"depth": depth}
    ) as run:
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
        run.log_model(model, "model")
        run.log_metric("accuracy", float(model.score(X, y)))
        run.log_text(X.head(3).to_json(orient="records"), "model/input_example.json")
    return run.id


@pytest.fixture
def two_runs(registry_path: Path) -> list[str]:
    """Two runs with a logged model each."""
    return [_tree_run(registry_path, 2), _tree_run(registry_path, 3)]


def test_register_list_and_show(registry_path: Path, two_runs: list[str]) -> None:
    first = invoke(registry_path, "models", "register", two_runs[0], "--name", "iris")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"Registered iris version 1 from run {two_runs[0]}")
    second = invoke(
        registry_path,
        "models",
        "register",
        two_runs[1][:8],
        "--name",
        "iris",
        "--description",
        "deeper",
        "--tag",
        "team=ml",
        "--json",
    )
    data = json.loads(second.stdout)
    assert (data["version"], data["run_id"], data["description"]) == (2, two_runs[1], "deeper")
    assert data["tags"] == {"team": "ml"} and data["params"] == {"depth": "3"}
    assert data["metrics"]["accuracy"] > 0.9 and len(data["artifact_sha256"]) == 64
    assert data["signature"]["feature_names_in"][0] == "sepal length (cm)"
    assert data["signature"]["outputs"] == [{"name": "prediction", "type": "int64"}]
    assert len(data["input_example"]) == 3

    listed = json.loads(invoke(registry_path, "models", "list", "--json").stdout)
    assert [(m["name"], m["version_count"], m["latest_version"]) for m in listed] == [
        ("iris", 2, 2)
    ]
    table = invoke(registry_path, "models", "list").stdout
    assert table.splitlines()[0].split() == ["NAME", "VERSIONS", "LATEST", "ALIASES", "UPDATED"]

    shown = invoke(registry_path, "models", "show", "iris:2")
    assert "iris v2" in shown.stdout and "deeper" in shown.stdout and "team" in shown.stdout
    model = json.loads(invoke(registry_path, "models", "show", "iris", "--json").stdout)
    assert [v["version"] for v in model["versions"]] == [2, 1]


def test_alias_moves_are_audited_with_the_previous_version(
    registry_path: Path, two_runs: list[str]
) -> None:
    for run_id in two_runs:
        assert invoke(registry_path, "models", "register", run_id, "-n", "iris").exit_code == 0
    assert invoke(registry_path, "models", "alias", "set", "iris", "champion", "1").exit_code == 0
    moved = invoke(registry_path, "models", "alias", "set", "iris", "champion", "2")
    assert moved.stdout.strip() == "iris@champion -> version 2 (was version 1)."
    shown = json.loads(invoke(registry_path, "models", "show", "iris@champion", "--json").stdout)
    assert shown["version"] == 2 and shown["aliases"] == ["champion"]
    removed = invoke(registry_path, "models", "alias", "remove", "iris", "champion")
    assert removed.stdout.strip() == "Removed iris@champion (was version 2)."

    history = json.loads(invoke(registry_path, "models", "show", "iris", "--json").stdout)
    moves = [
        (e["alias"], e["previous"], e["version"])
        for e in reversed(history["history"])
        if e["action"] == "alias"
    ]
    assert moves == [("champion", None, 1), ("champion", 1, 2), ("champion", 2, None)]
    text = invoke(registry_path, "models", "show", "iris").stdout
    assert "alias champion: v1 -> v2" in text


def test_archive_and_restore(registry_path: Path, two_runs: list[str]) -> None:
    for run_id in two_runs:
        invoke(registry_path, "models", "register", run_id, "-n", "iris")
    assert invoke(registry_path, "models", "archive", "iris:2").stdout.strip() == (
        "Archived iris version 2."
    )
    shown = json.loads(invoke(registry_path, "models", "show", "iris:2", "--json").stdout)
    assert shown["status"] == "archived"
    assert "already archived" in invoke(registry_path, "models", "archive", "iris:2").stdout
    assert invoke(registry_path, "models", "restore", "iris:2").stdout.strip() == (
        "Restored iris version 2."
    )
    actions = [
        e["action"]
        for e in json.loads(invoke(registry_path, "models", "show", "iris", "--json").stdout)[
            "history"
        ]
    ]
    assert actions[:2] == ["restore", "archive"]

    invoke(registry_path, "models", "alias", "set", "iris", "champion", "1")
    archived = invoke(registry_path, "models", "archive", "iris:1")
    assert archived.exit_code == 0 and "@champion still points at it" in archived.stderr


def test_bad_input_gives_one_line_errors(
    registry_path: Path, two_runs: list[str], tmp_path: Path
) -> None:
    invoke(registry_path, "models", "register", two_runs[0], "-n", "iris")
    one_line_error(invoke(registry_path, "models", "show", "nope"), "No registered model 'nope'")
    one_line_error(invoke(registry_path, "models", "show", "iris:9"), "has no version 9")
    one_line_error(invoke(registry_path, "models", "show", "iris@best"), "has no alias 'best'")
    one_line_error(
        invoke(registry_path, "models", "alias", "set", "iris", "champion", "4"), "no version 4"
    )
    one_line_error(
        invoke(registry_path, "models", "alias", "remove", "iris", "champion"), "no alias"
    )
    one_line_error(invoke(registry_path, "models", "archive", "iris"), "Give a version", code=2)
    one_line_error(invoke(registry_path, "models", "register", "ffffffff", "-n", "x"), "ffffffff")
    with tracking.start_run(experiment="iris", registry=str(registry_path)) as bare:
        bare.log_metric("loss", 1.0)
    one_line_error(
        invoke(registry_path, "models", "register", bare.id, "-n", "x"), "no logged model"
    )
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("mine")
    one_line_error(
        invoke(registry_path, "models", "export", "iris", "--format", "mlflow", "-o", str(full)),
        "not empty",
    )


def test_export_writes_a_directory_mlflow_loads(
    registry_path: Path, two_runs: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    import mlflow.sklearn
    from sklearn.datasets import load_iris

    invoke(registry_path, "models", "register", two_runs[1], "-n", "iris")
    invoke(registry_path, "models", "alias", "set", "iris", "champion", "1")
    out = tmp_path / "exported"
    result = invoke(
        registry_path, "models", "export", "iris@champion", "--format", "mlflow", "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Exported iris version 1 as an mlflow model to {out}."
    X, _ = load_iris(return_X_y=True, as_frame=True)
    registry = Registry(registry_path)
    try:
        from desktop_app.registry.model_files import load_trusted_model

        artifact = registry.get_artifact(two_runs[1], "models/model.skops")
        original = load_trusted_model(registry, artifact)
    finally:
        registry.close()
    # A tree's file holds types skops does not trust by default: the MLmodel lists them.
    assert (mlflow.sklearn.load_model(str(out)).predict(X) == original.predict(X)).all()


def test_register_model_from_the_tracking_api(registry_path: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 0, 1, 0]})
    with tracking.start_run(experiment="api", registry=str(registry_path)) as run:
        run.log_model(LinearRegression().fit(frame, [1.0, 2.0, 3.0, 4.0]), "model")
        run.log_metric("rmse", 0.1)  # still buffered: register_model flushes it first
        version = tracking.register_model("lin", description="api", input_example=frame)
    assert (version.model_name, version.version, version.run_id) == ("lin", 1, run.id)
    assert version.metrics == {"rmse": 0.1} and version.description == "api"
    assert version.signature["inputs"] == [
        {"name": "a", "type": "float64"},
        {"name": "b", "type": "int64"},
    ]
    assert version.signature["outputs"] == [{"name": "prediction", "type": "float64"}]
    assert version.input_example == [
        {"a": 1.0, "b": 1},
        {"a": 2.0, "b": 0},
        {"a": 3.0, "b": 1},
        {"a": 4.0, "b": 0},
    ]
    again = tracking.register_model("lin", run.id, registry=str(registry_path))
    assert again.version == 2 and again.input_example is None
    with pytest.raises(AppError, match="No active run"):
        tracking.register_model("lin")
