"""train(): real scikit-learn fits on small tables, checked through what lands in the registry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from desktop_app.registry import Registry
from desktop_app.registry.model_files import load_trusted_model
from desktop_app.registry.tracking import start_run
from desktop_app.training.pipeline import build_pipeline, column_groups
from desktop_app.training.spec import JobSpec, JobSpecError, load_job, parse_job, validate_job
from desktop_app.training.train import TrainingStopped, TrainResult, train

Factory = Callable[..., Any]


class MinimalRun:
    """The documented minimal job, trained once for the tests that read its run."""

    def __init__(self, registry: Registry, run_id: str, spec: JobSpec) -> None:
        self.registry = registry
        self.run_id = run_id
        self.spec = spec
        self.result: TrainResult
        self.reporter: Any

    def text(self, path: str) -> str:
        artifact = self.registry.get_artifact(self.run_id, path)
        return self.registry.artifacts.read_bytes(artifact.sha256).decode("utf-8")

    def json(self, path: str) -> Any:
        return json.loads(self.text(path))


@pytest.fixture(scope="module")
def minimal(
    tmp_path_factory: pytest.TempPathFactory,
    penguins_frame: Any,
    minimal_job_text: str,
    recording_reporter: Any,
) -> Iterator[MinimalRun]:
    """The minimal job file run end to end into its own registry."""
    folder = tmp_path_factory.mktemp("minimal")
    penguins_frame().to_csv(folder / "penguins.csv", index=False)
    (folder / "job.toml").write_text(minimal_job_text)
    spec = load_job(folder / "job.toml")
    registry = Registry(folder / "registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MODELDESK_RUN_ID", raising=False)
        with start_run(spec.experiment, registry=registry, nested=False) as run:
            reporter = recording_reporter(run)
            result = train(spec, reporter)
    outcome = MinimalRun(registry, run.id, spec)
    outcome.result, outcome.reporter = result, reporter
    yield outcome
    registry.close()


def test_minimal_job_records_params_tags_and_dataset(minimal: MinimalRun) -> None:
    run = minimal.registry.get_run(minimal.run_id)

    assert run.params["n_estimators"] == "50"
    assert run.params["random_state"] == "0"
    assert run.params["criterion"] == "gini"
    assert run.params["max_depth"] == "None"
    assert run.tags["task"] == "classification"
    assert run.tags["seed"] == "0"
    assert run.tags["estimator"] == "sklearn.ensemble._forest.RandomForestClassifier"
    for key in ("sklearn_version", "python_version", "numpy_version", "pandas_version"):
        assert run.tags[key]
    (dataset,) = minimal.registry.list_run_datasets(minimal.run_id)
    assert dataset.name == "penguins.csv" and dataset.role == "training" and dataset.rows == 150
    assert parse_job(minimal.text("job.toml"), minimal.spec.base_dir) == minimal.spec


def test_minimal_job_logs_fold_and_final_metrics(minimal: MinimalRun) -> None:
    registry, run_id = minimal.registry, minimal.run_id
    folds = registry.get_metric_history(run_id, "fold_accuracy")
    metrics = registry.get_run(run_id).metrics

    assert folds.steps.tolist() == [0, 1, 2, 3, 4]
    assert metrics["accuracy"].last == pytest.approx(folds.values.mean())
    assert metrics["accuracy_std"].last == pytest.approx(folds.values.std())
    for key in ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"):
        assert key in metrics and f"{key}_std" in metrics and f"fold_{key}" in metrics
        assert minimal.result.metrics[key] == metrics[key].last
    assert minimal.result.metrics["accuracy"] > 0.8
    assert metrics["fit_seconds"].last > 0
    assert metrics["peak_memory_mb"].last > 1
    assert minimal.result.task == "classification" and minimal.result.n_rows == 150
    assert minimal.result.peak_memory_bytes > 1_000_000


def test_minimal_job_grows_the_forest_step_by_step(minimal: MinimalRun) -> None:
    train_curve = minimal.registry.get_metric_history(minimal.run_id, "train_accuracy")
    val_curve = minimal.registry.get_metric_history(minimal.run_id, "val_accuracy")

    assert train_curve.steps.tolist() == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert val_curve.steps.tolist() == train_curve.steps.tolist()
    assert (train_curve.values >= 0.8).all()

    calls = minimal.reporter.progress_calls
    assert calls[0] == (0, 1, "Reading penguins.csv")
    done = [c[0] for c in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1] == 18
    assert any(message.startswith("Fold 5 of 5") for _, _, message in calls)


def test_minimal_job_model_loads_back_and_predicts(minimal: MinimalRun) -> None:
    artifact = minimal.registry.get_artifact(minimal.run_id, "models/model.skops")
    model = load_trusted_model(minimal.registry, artifact)
    example = pd.DataFrame(minimal.json("model/input_example.json"))
    signature = minimal.json("model/signature.json")

    assert list(model.classes_) == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(model.predict(example)) == 5
    assert [c["name"] for c in signature["inputs"]] == list(example.columns)
    assert signature["target"]["name"] == "species"
    assert signature["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert signature["groups"]["categorical"] == ["island", "sex"]
    with pytest.raises(Exception, match="not a model"):
        load_trusted_model(
            minimal.registry, minimal.registry.get_artifact(minimal.run_id, "job.toml")
        )


def test_minimal_job_stores_evaluation_data(minimal: MinimalRun) -> None:
    confusion = minimal.json("evaluation/confusion_matrix.json")
    assert confusion["labels"] == ["Adelie", "Chinstrap", "Gentoo"]
    counts = np.array(confusion["counts"])
    assert counts.shape == (3, 3) and counts.sum() == 150
    assert counts.sum(axis=1).tolist() == [50, 50, 50]

    for name, x, y in (("roc_curve", "fpr", "tpr"), ("pr_curve", "recall", "precision")):
        curves = minimal.json(f"evaluation/{name}.json")["curves"]
        assert [c["label"] for c in curves] == ["Adelie", "Chinstrap", "Gentoo"]
        for curve in curves:
            assert 2 <= len(curve[x]) == len(curve[y]) <= 200

    importance = minimal.json("evaluation/permutation_importance.json")
    assert sorted(importance["features"]) == sorted(
        ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
    )
    assert len(importance["mean"]) == len(importance["std"]) == 6
    assert importance["n_repeats"] == 5

    results = minimal.json("evaluation/cv_results.json")
    assert len(results["folds"]) == 5 and results["folds"][0]["val_rows"] == 30

    profile = minimal.json("evaluation/data_profile.json")
    assert profile["missing"] == {"bill_length_mm": 3, "sex": 2}
    assert profile["class_balance"] == {"Adelie": 50, "Chinstrap": 50, "Gentoo": 50}


def test_same_job_gives_the_same_metrics(minimal: MinimalRun, reporter_factory: Factory) -> None:
    reporter = reporter_factory()
    again = train(minimal.spec, reporter)

    assert again.metrics == minimal.result.metrics
    registry, run_id = reporter.stored()
    for key in ("fold_log_loss", "val_accuracy"):
        first = minimal.registry.get_metric_history(minimal.run_id, key).values
        assert registry.get_metric_history(run_id, key).values.tolist() == first.tolist()


def test_regression_job(
    tmp_path: Path, penguins_csv: Path, reporter_factory: Factory, write_job: Any
) -> None:
    spec = load_job(
        write_job(
            tmp_path,
            data={"target": "body_mass_g"},
            model={"estimator": "Ridge", "params": {"alpha": 1.0}},
        )
    )
    reporter = reporter_factory()

    result = train(spec, reporter)

    registry, run_id = reporter.stored()
    assert result.task == "regression"
    assert set(result.metrics) == {"r2", "r2_std", "rmse", "rmse_std", "mae", "mae_std"}
    assert result.metrics["r2"] > 0.3
    points = json.loads(
        registry.artifacts.read_bytes(
            registry.get_artifact(run_id, "evaluation/predictions.json").sha256
        )
    )
    assert len(points["actual"]) == len(points["predicted"]) == len(points["residuals"]) == 150
    assert points["residuals"][0] == pytest.approx(points["actual"][0] - points["predicted"][0])
    paths = {a.path for a in registry.list_artifacts(run_id)}
    assert "evaluation/confusion_matrix.json" not in paths
    assert registry.get_run(run_id).tags["task"] == "regression"


def test_holdout_job_with_boosting_stages(
    tmp_path: Path, penguins_csv: Path, reporter_factory: Factory, write_job: Any
) -> None:
    spec = load_job(
        write_job(
            tmp_path,
            model={"estimator": "GradientBoostingClassifier", "params": {"n_estimators": 20}},
            split={"kind": "holdout", "test_size": 0.2},
            metrics=["balanced_accuracy", "accuracy"],
        )
    )
    reporter = reporter_factory()

    result = train(spec, reporter)

    registry, run_id = reporter.stored()
    assert set(result.metrics) == {"balanced_accuracy", "accuracy"}
    metrics = registry.get_run(run_id).metrics
    assert "fold_accuracy" not in metrics and "accuracy_std" not in metrics
    stages = registry.get_metric_history(run_id, "val_balanced_accuracy")
    assert stages.steps.tolist() == list(range(1, 21))
    confusion = json.loads(
        registry.artifacts.read_bytes(
            registry.get_artifact(run_id, "evaluation/confusion_matrix.json").sha256
        )
    )
    assert np.array(confusion["counts"]).sum() == 30


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sgd_logs_loss_per_epoch(
    tmp_path: Path, penguins_csv: Path, reporter_factory: Factory, write_job: Any
) -> None:
    spec = load_job(
        write_job(
            tmp_path,
            model={"estimator": "SGDClassifier", "params": {"max_iter": 12, "loss": "log_loss"}},
        )
    )
    reporter = reporter_factory()

    train(spec, reporter)

    registry, run_id = reporter.stored()
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        history = registry.get_metric_history(run_id, key)
        assert history.steps.tolist() == list(range(1, 13)), key
    assert np.isfinite(registry.get_metric_history(run_id, "val_loss").values).all()
    assert "log_loss" in registry.get_run(run_id).metrics


def test_stop_request_raises_between_steps(
    tmp_path: Path, penguins_csv: Path, reporter_factory: Factory, write_job: Any
) -> None:
    spec = load_job(write_job(tmp_path))
    reporter = reporter_factory(stop_when=lambda checks: checks >= 4)

    with pytest.raises(TrainingStopped) as caught:
        train(spec, reporter)

    assert caught.value.code == "TRAINING_STOPPED"
    assert "growing the model" in caught.value.detail
    paths = {a.path for a in reporter.run.registry.list_artifacts(reporter.run.id)}
    assert "models/model.skops" not in paths


def test_data_warnings_become_a_tag(
    tmp_path: Path, reporter_factory: Factory, penguins_frame: Any, write_job: Any
) -> None:
    frame = penguins_frame(60).assign(study="PAL0708")
    frame.to_csv(tmp_path / "penguins.csv", index=False)
    spec = load_job(write_job(tmp_path, model={"estimator": "LogisticRegression", "params": {}}))
    reporter = reporter_factory()

    train(spec, reporter)

    tags = reporter.run.registry.get_run(reporter.run.id).tags
    assert "constant column 'study'" in tags["data_warnings"].split("; ")


def test_bundled_dataset_job(tmp_path: Path, reporter_factory: Factory) -> None:
    spec = parse_job(
        '[data]\ndataset = "iris"\n[model]\nestimator = "KNeighborsClassifier"\n'
        "[split]\nfolds = 3\n",
        tmp_path,
    )
    reporter = reporter_factory()

    result = train(spec, reporter)

    assert result.metrics["accuracy"] > 0.9
    (dataset,) = reporter.run.registry.list_run_datasets(reporter.run.id)
    assert dataset.name == "iris" and dataset.rows == 150


def _bad_csv(tmp_path: Path, kind: str, penguins_frame: Any) -> None:
    frame = penguins_frame(30)
    if kind == "one class":
        frame["species"] = "Adelie"
    elif kind == "text":
        frame["flipper_length_mm"] = frame["flipper_length_mm"].astype(object)
        frame.loc[16, "flipper_length_mm"] = "n/a?"
    if kind == "latin-1":
        text = frame.to_csv(index=False).replace("Dream", "Drëam")
        (tmp_path / "penguins.csv").write_bytes(text.encode("latin-1"))
    elif kind != "missing":
        frame.to_csv(tmp_path / "penguins.csv", index=False)


BAD_INPUTS = [
    ("missing", {}, "data.path: no such file: "),
    ("latin-1", {}, "data.path: cannot read penguins.csv as UTF-8 text (byte 0xeb at position "),
    ("ok", {"data": {"target": "specie"}}, "data.target: column 'specie' not in penguins.csv"),
    ("one class", {}, "data.target: column 'species' of penguins.csv has a single class"),
    (
        "text",
        {},
        "data.path: column 'flipper_length_mm' of penguins.csv holds numbers but also "
        "text, e.g. 'n/a?' in row 17",
    ),
    (
        "ok",
        {"model": {"estimator": "Ridge", "params": {}}},
        "model.estimator: Ridge is a regressor but the task is classification",
    ),
    ("ok", {"model": {"params": {"n_estimators": -3}}}, "model.params.n_estimators: The "),
    (
        "ok",
        {"model": {"estimator": "subprocess.Popen"}},
        "model.estimator: 'subprocess.Popen' is not in scikit-learn",
    ),
    ("ok", {"split": {"folds": 40}}, "split.folds: 40 folds need at least 40 rows"),
]


@pytest.mark.parametrize(("data", "sections", "message"), BAD_INPUTS)
def test_bad_input_is_found_before_and_at_launch(
    tmp_path: Path,
    reporter_factory: Factory,
    data: str,
    sections: dict[str, Any],
    message: str,
    write_job: Any,
    penguins_frame: Any,
) -> None:
    _bad_csv(tmp_path, data, penguins_frame)
    spec = load_job(write_job(tmp_path, **sections))

    problems = validate_job(spec)
    with pytest.raises(JobSpecError) as caught:
        train(spec, reporter_factory())

    assert problems and problems[0].startswith(message), problems
    assert caught.value.message.startswith(message), caught.value.message


def test_downloaded_dataset_is_refused_at_load(tmp_path: Path, write_job: Any) -> None:
    path = write_job(tmp_path, data={"dataset": "california_housing"})
    path.write_text(path.read_text().replace('path = "penguins.csv"\n', ""))

    with pytest.raises(JobSpecError, match="california_housing is downloaded from the internet"):
        load_job(path)


def test_pipeline_prepares_columns_by_type(tmp_path: Path, penguins_frame: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    frame = penguins_frame(30).assign(ringed=[True, False] * 15)
    x = frame.drop(columns="species")
    spec = parse_job(
        '[data]\npath = "p.csv"\ntarget = "species"\n[model]\nestimator = "LogisticRegression"\n'
        "[preprocessing]\nnumeric = { impute = 'mean', scale = 'minmax' }\n"
        "categorical = { impute = 'constant', encode = 'ordinal' }\n",
        tmp_path,
    )

    pipeline = build_pipeline(spec, x, LogisticRegression())
    pipeline.fit(x, frame["species"])

    assert column_groups(x) == {
        "numeric": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        "categorical": ["island", "sex"],
        "boolean": ["ringed"],
    }
    transformed = pipeline.named_steps["preprocess"].transform(x)
    assert transformed.shape == (30, 7)
    assert not np.isnan(transformed).any()
    assert set(transformed[:, 4]) <= {0.0, 1.0, 2.0}  # island, ordinal


def test_refused_fit_is_reported_as_a_job_problem(
    tmp_path: Path, penguins_csv: Path, reporter_factory: Factory, write_job: Any
) -> None:
    spec = load_job(
        write_job(
            tmp_path,
            model={"estimator": "LogisticRegression", "params": {}},
            preprocessing={"numeric": {"impute": "none"}},
        )
    )

    with pytest.raises(JobSpecError) as caught:
        train(spec, reporter_factory())

    assert caught.value.message.startswith(
        "model: fitting LogisticRegression on fold 1 failed: Input X contains NaN"
    )
