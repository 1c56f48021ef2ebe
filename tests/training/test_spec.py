"""Job specs: reading, writing back, and the problems found before launching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from desktop_app.errors import InvalidValueError
from desktop_app.training.spec import (
    DataSpec,
    JobSpec,
    JobSpecError,
    ModelSpec,
    PreprocessingSpec,
    SplitSpec,
    dump_job,
    load_job,
    parse_job,
    validate_job,
)


def test_minimal_job_reads_with_defaults(job_file: Path) -> None:
    spec = load_job(job_file)

    assert spec.experiment == "penguins"
    assert spec.data == DataSpec(path="penguins.csv", target="species")
    assert spec.model == ModelSpec(
        "RandomForestClassifier", {"n_estimators": 50, "random_state": 0}
    )
    assert spec.split == SplitSpec(kind="kfold", folds=5, test_size=0.2, seed=0, stratify=True)
    assert spec.preprocessing == PreprocessingSpec("median", "standard", "most_frequent", "onehot")
    assert spec.task is None and spec.name is None and spec.metrics is None and spec.script is None
    assert spec.base_dir == job_file.parent.resolve()
    assert spec.resolve_path("penguins.csv") == job_file.parent.resolve() / "penguins.csv"
    assert validate_job(spec) == []


def test_every_option_survives_dump_and_parse(tmp_path: Path) -> None:
    spec = JobSpec(
        experiment="penguins",
        name="forest 1",
        task="classification",
        data=DataSpec(
            path="data/penguins.csv",
            target="species",
            features=("island", "bill_length_mm"),
            encoding="latin-1",
        ),
        model=ModelSpec(
            "sklearn.neural_network.MLPClassifier",
            {"hidden_layer_sizes": (8, 4), "alpha": 0.01, "early_stopping": True, "tol": None},
        ),
        split=SplitSpec(kind="holdout", folds=5, test_size=0.25, seed=7, stratify=False),
        preprocessing=PreprocessingSpec("mean", "minmax", "constant", "ordinal"),
        metrics=("f1", "accuracy"),
        base_dir=tmp_path,
    )

    text = dump_job(spec)

    assert parse_job(text, tmp_path) == spec
    assert 'path = "data/penguins.csv"' in text
    assert 'tol = "None"' in text


def test_script_job_needs_no_data_or_model(tmp_path: Path) -> None:
    spec = parse_job('experiment = "s"\n[script]\npath = "train.py"\n', tmp_path)

    assert spec.script == "train.py" and spec.data is None and spec.model is None
    assert parse_job(dump_job(spec), tmp_path) == spec
    assert validate_job(spec) == [f"script.path: no such file: {tmp_path / 'train.py'}"]
    (tmp_path / "train.py").write_text("print('hi')\n")
    assert validate_job(spec) == []


def test_missing_job_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(JobSpecError, match=r"no such job file: .*absent\.toml"):
        load_job(tmp_path / "absent.toml")


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text('experiment = "x"\n[data]\npath = penguins.csv\n')

    with pytest.raises(JobSpecError) as caught:
        load_job(path)

    assert caught.value.message.startswith("job.toml: TOML syntax error:")
    assert "line 3" in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('experiment = "x"\ndat = 1\n', "dat: unknown key (did you mean 'data'?)"),
        (
            '[data]\npath = "a.csv"\ntargt = "y"\n',
            "data.targt: unknown key (did you mean 'target'?)",
        ),
        ("[split]\nfolds = 3\nshufle = true\n", "split.shufle: unknown key"),
        ("[preprocessing.numeric]\nscaler = 'none'\n", "preprocessing.numeric.scaler: unknown key"),
    ],
)
def test_unknown_keys_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(JobSpecError) as caught:
        parse_job(text, tmp_path)

    assert caught.value.message.startswith(message)
    assert "known keys here:" in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experiment = 3\n", "experiment: must be text in quotes, got 3 (a number)"),
        ("[split]\nfolds = '5'\n", "split.folds: must be a whole number, got '5' (text)"),
        ("[split]\nfolds = 2.5\n", "split.folds: must be a whole number"),
        ("[split]\nstratify = 1\n", "split.stratify: must be true or false"),
        ("[split]\nkind = 'holdout'\ntest_size = 'a'\n", "split.test_size: must be a fraction"),
        ("data = 'penguins.csv'\n", "data: must be a table"),
        (
            "[data]\npath = 'a.csv'\ntarget = 'y'\nfeatures = [1, 2]\n",
            "data.features: must be a list",
        ),
        ("[model]\nparams = { a = 1 }\n", "model.estimator: missing"),
        ("[split]\nkind = 'kfolds'\n", "split.kind: 'kfolds' is not one of kfold, holdout"),
        ("[split]\nfolds = 1\n", "split.folds: must be at least 2, got 1"),
        ("[split]\nkind = 'holdout'\ntest_size = 1.5\n", "split.test_size: must be a fraction"),
        ("task = 'clustering'\n", "task: 'clustering' is not one of classification, regression"),
        ("metrics = ['acuracy']\n", "metrics: 'acuracy' is not one of"),
        ("[preprocessing]\nnumeric = { scale = 'z' }\n", "preprocessing.numeric.scale: 'z'"),
    ],
)
def test_wrong_values_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(JobSpecError) as caught:
        parse_job(text, tmp_path)

    assert caught.value.message.startswith(message), caught.value.message
    assert isinstance(caught.value, InvalidValueError)


def test_job_without_data_or_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JobSpecError) as caught:
        parse_job('experiment = "x"\n', tmp_path)

    assert caught.value.message.startswith("data: missing")
    assert "model: missing" in caught.value.detail


def test_downloaded_dataset_is_refused(tmp_path: Path) -> None:
    text = '[data]\ndataset = "california_housing"\n[model]\nestimator = "Ridge"\n'

    with pytest.raises(JobSpecError) as caught:
        parse_job(text, tmp_path)

    assert caught.value.message.startswith(
        "data.dataset: california_housing is downloaded from the internet by scikit-learn "
        "and ModelDesk works offline"
    )
    assert "iris" in caught.value.message


def test_bundled_dataset_needs_no_target(tmp_path: Path) -> None:
    spec = parse_job(
        '[data]\ndataset = "iris"\n[model]\nestimator = "LogisticRegression"\n', tmp_path
    )

    assert validate_job(spec) == []


def test_validate_passes_a_good_job(tmp_path: Path, penguins_csv: Path, write_job: Any) -> None:
    assert validate_job(load_job(write_job(tmp_path))) == []


def _validate(write_job: Any, tmp_path: Path, **sections: object) -> list[str]:
    return validate_job(load_job(write_job(tmp_path, **sections)))


def test_validate_finds_a_missing_file(tmp_path: Path, write_job: Any) -> None:
    assert _validate(write_job, tmp_path) == [
        f"data.path: no such file: {tmp_path / 'penguins.csv'}"
    ]


def test_validate_finds_missing_columns(tmp_path: Path, penguins_csv: Path, write_job: Any) -> None:
    problems = _validate(
        write_job, tmp_path, data={"target": "specie", "features": ["island", "bill_lenght_mm"]}
    )

    assert problems[0].startswith(
        "data.target: column 'specie' not in penguins.csv (columns: species, island, "
    )
    assert problems[0].endswith("; did you mean 'species'?")
    assert problems[1].startswith("data.features: column 'bill_lenght_mm' not in penguins.csv")
    assert problems[1].endswith("did you mean 'bill_length_mm'?")


def test_validate_finds_an_encoding_problem(tmp_path: Path, write_job: Any) -> None:
    (tmp_path / "penguins.csv").write_bytes(
        "species,island,x\nAdelie,Dream,1\nAdelie,Sévigné,2\n".encode("latin-1")
    )

    problems = _validate(write_job, tmp_path)

    assert problems == [
        "data.path: cannot read penguins.csv as UTF-8 text (byte 0xe9 at position 40, line 3); "
        'save it as UTF-8 or set data.encoding (for example "latin-1")'
    ]


def test_validate_finds_a_single_class(tmp_path: Path, penguins_frame: Any, write_job: Any) -> None:
    frame = penguins_frame(30).assign(species="Adelie")
    frame.to_csv(tmp_path / "penguins.csv", index=False)

    assert _validate(write_job, tmp_path) == [
        "data.target: column 'species' of penguins.csv has a single class ('Adelie'); "
        "a classifier needs at least two"
    ]


def test_validate_finds_text_in_a_numeric_column(
    tmp_path: Path, penguins_frame: Any, write_job: Any
) -> None:
    frame = penguins_frame(30)
    frame["bill_length_mm"] = frame["bill_length_mm"].astype(object)
    frame.loc[16, "bill_length_mm"] = "abc"
    frame.to_csv(tmp_path / "penguins.csv", index=False)

    problems = _validate(write_job, tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith(
        "data.path: column 'bill_length_mm' of penguins.csv holds numbers but also text, "
        "e.g. 'abc' in row 17 (line 18 of the file)"
    )


def test_validate_finds_model_problems(tmp_path: Path, penguins_csv: Path, write_job: Any) -> None:
    assert _validate(
        write_job, tmp_path, task="classification", model={"estimator": "Ridge", "params": {}}
    ) == [
        "model.estimator: Ridge is a regressor but the task is classification; choose a "
        "classifier, such as RandomForestClassifier or LogisticRegression"
    ]
    problems = _validate(write_job, tmp_path, model={"params": {"n_estimators": -3, "max_dept": 3}})
    assert problems[0].startswith(
        "model.params.n_estimators: The 'n_estimators' parameter of RandomForestClassifier "
        "must be an int in the range [1, inf). Got -3 instead."
    )
    assert problems[1] == (
        "model.params.max_dept: RandomForestClassifier has no parameter 'max_dept' "
        "(did you mean 'max_depth'?)"
    )
    assert _validate(write_job, tmp_path, model={"estimator": "os.system"})[0].startswith(
        "model.estimator: 'os.system' is not in scikit-learn; a job file may name only "
        "scikit-learn estimators, because importing another module"
    )


def test_validate_finds_metric_problems(tmp_path: Path, penguins_csv: Path, write_job: Any) -> None:
    assert _validate(write_job, tmp_path, metrics=["rmse"]) == [
        "metrics: 'rmse' is a regression metric but the task is classification"
    ]
    assert _validate(
        write_job, tmp_path, metrics=["roc_auc"], model={"estimator": "SVC", "params": {}}
    ) == [
        "metrics: 'roc_auc' needs predicted probabilities, which SVC does not give with "
        "these params"
    ]


def test_validate_finds_too_few_rows_for_the_folds(
    tmp_path: Path, penguins_frame: Any, write_job: Any
) -> None:
    penguins_frame(4).to_csv(tmp_path / "penguins.csv", index=False)

    assert _validate(write_job, tmp_path, split={"folds": 5}) == [
        "split.folds: 5 folds need at least 5 rows with a target; penguins.csv has 4"
    ]


def test_validate_detects_task_from_the_estimator(tmp_path: Path, write_job: Any) -> None:
    frame = pd.DataFrame({"x": range(40), "rating": [1, 2, 3, 4] * 10})
    frame.to_csv(tmp_path / "penguins.csv", index=False)

    ridge = {"estimator": "Ridge", "params": {}}
    assert _validate(write_job, tmp_path, data={"target": "rating"}, model=ridge) == []
    assert _validate(write_job, tmp_path, data={"target": "rating"}) == []


def test_minimal_text_is_the_documented_one(minimal_job_text: Any) -> None:
    assert 'estimator = "RandomForestClassifier"' in minimal_job_text
