"""Job specs: what to train, on which data, and how to judge it, read from a TOML job file.

A job file is TOML. The smallest useful one::

    experiment = "penguins"
    [data]
    path = "penguins.csv"        # relative to the job file
    target = "species"
    [model]
    estimator = "RandomForestClassifier"
    params = { n_estimators = 50, random_state = 0 }
    [split]
    kind = "kfold"
    folds = 5
    seed = 0

Every key, with its default:

- ``experiment`` (``"Default"``): the experiment the run goes into; ``name``: the run's name.
- ``task``: ``"classification"`` or ``"regression"``; when absent it is found from the target (text,
  true/false or a few whole numbers mean classification) and from the estimator (a regressor on
  a numeric target means regression).
- ``metrics``: names to report, the first one being the main one (shown in the curves); defaults
  per task: classification ``accuracy, balanced_accuracy, f1`` (macro), ``roc_auc`` (one-vs-rest
  for several classes) and ``log_loss`` (both only for estimators with probabilities); regression
  ``r2, rmse, mae``. Also known: ``f1_weighted, precision, recall, mse, mape, median_ae,
  explained_variance``.
- ``[data]``: ``path`` (CSV, TSV, Parquet or Excel, relative to the job file) or ``dataset`` (one
  shipped with scikit-learn: ``iris, wine, breast_cancer, diabetes, digits``; those it downloads,
  such as ``california_housing``, are refused because ModelDesk works offline); ``target`` (the
  column to predict; ``"target"`` for a bundled dataset); ``features`` (columns to use; default all
  but the target); ``sheet`` (Excel sheet name; default the first); ``encoding`` (of a CSV file;
  default UTF-8, e.g. ``"latin-1"``).
- ``[model]``: ``estimator`` (a scikit-learn class name such as ``"Ridge"``, or its full import path
  ``"sklearn.linear_model.Ridge"``; other libraries need a Python script job) and ``params`` (its
  hyperparameters; TOML has no null, so write ``"None"`` for None). ``random_state`` defaults to
  ``split.seed``.
- ``[split]``: ``kind`` (``"kfold"`` or ``"holdout"``), ``folds`` (5), ``test_size`` (0.2, holdout),
  ``seed`` (0), ``stratify`` (true: keep class proportions in every part, for classification).
- ``[preprocessing]``: ``numeric = { impute = "median", scale = "standard" }`` (impute ``mean``,
  ``median``, ``most_frequent`` or ``none``; scale ``standard``, ``minmax``, ``robust`` or ``none``)
  and ``categorical = { impute = "most_frequent", encode = "onehot" }`` (impute ``most_frequent``,
  ``constant`` or ``none``; encode ``onehot`` or ``ordinal``).
- ``[script]``: ``path`` of a Python script to run instead (a "Python script" job: ``data`` and
  ``model`` are then optional; the script logs through ``desktop_app.tracking``).
"""

from __future__ import annotations

import codecs
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.errors import InvalidValueError

DEFAULT_EXPERIMENT = "Default"
TASKS = ("classification", "regression")
SPLIT_KINDS = ("kfold", "holdout")
NUMERIC_IMPUTE = ("median", "mean", "most_frequent", "none")
SCALE = ("standard", "minmax", "robust", "none")
CATEGORICAL_IMPUTE = ("most_frequent", "constant", "none")
ENCODE = ("onehot", "ordinal")
BUNDLED_DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "digits")
DOWNLOADED_DATASETS = (
    "california_housing",
    "covtype",
    "kddcup99",
    "lfw_pairs",
    "lfw_people",
    "olivetti_faces",
    "openml",
    "rcv1",
    "species_distributions",
    "20newsgroups",
    "20newsgroups_vectorized",
)
NONE_TEXT = "None"

_TOP_KEYS = (
    "experiment",
    "name",
    "task",
    "metrics",
    "data",
    "model",
    "split",
    "preprocessing",
    "script",
)
_DATA_KEYS = ("path", "dataset", "target", "features", "sheet", "encoding")
_MODEL_KEYS = ("estimator", "params")
_SPLIT_KEYS = ("kind", "folds", "test_size", "seed", "stratify")
_PREPROCESSING_KEYS = ("numeric", "categorical")
_NUMERIC_KEYS = ("impute", "scale")
_CATEGORICAL_KEYS = ("impute", "encode")
_SCRIPT_KEYS = ("path",)


class JobSpecError(InvalidValueError):
    """A job that cannot run as written; the message starts with the field at fault."""

    code = "INVALID_JOB"

    def __init__(self, message: str, *, field: str = "", detail: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message, detail=detail)
        self.field = field


@dataclass(frozen=True)
class DataSpec:
    """Where the training data comes from and which columns play which role."""

    path: str | None = None
    dataset: str | None = None
    target: str | None = None
    features: tuple[str, ...] | None = None
    sheet: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A scikit-learn estimator by name and the hyperparameters to set on it."""

    estimator: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Tuples become lists so a spec equals itself after a trip through TOML.
        object.__setattr__(self, "params", {k: _as_toml_value(v) for k, v in self.params.items()})


@dataclass(frozen=True)
class SplitSpec:
    """How the data is divided for evaluation."""

    kind: str = "kfold"
    folds: int = 5
    test_size: float = 0.2
    seed: int = 0
    stratify: bool = True


@dataclass(frozen=True)
class PreprocessingSpec:
    """How numeric and categorical columns are prepared before the estimator."""

    numeric_impute: str = "median"
    scale: str = "standard"
    categorical_impute: str = "most_frequent"
    encode: str = "onehot"


@dataclass(frozen=True)
class JobSpec:
    """One training job: an sklearn estimator on a table, or a Python script."""

    experiment: str = DEFAULT_EXPERIMENT
    name: str | None = None
    task: str | None = None
    data: DataSpec | None = None
    model: ModelSpec | None = None
    split: SplitSpec = field(default_factory=SplitSpec)
    preprocessing: PreprocessingSpec = field(default_factory=PreprocessingSpec)
    metrics: tuple[str, ...] | None = None
    script: str | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve_path(self, relative: str) -> Path:
        """A path from the job file, taken relative to the job file's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _as_toml_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_as_toml_value(v) for v in value]
    return value


def _from_toml_param(value: Any) -> Any:
    if value == NONE_TEXT:
        return None
    if isinstance(value, list):
        return [_from_toml_param(v) for v in value]
    return value


def _to_toml_param(value: Any) -> Any:
    if value is None:
        return NONE_TEXT
    if isinstance(value, list | tuple):
        return [_to_toml_param(v) for v in value]
    return value


# ---- reading -------------------------------------------------------------------------------


def load_job(path: str | Path) -> JobSpec:
    """Read a TOML job file; paths in it are relative to its folder."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobSpecError(f"no such job file: {file}") from None
    except IsADirectoryError:
        raise JobSpecError(f"{file} is a folder, not a job file") from None
    except UnicodeDecodeError as exc:
        raise JobSpecError(f"{file.name}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise JobSpecError(f"cannot read the job file {file}: {exc.strerror}") from None
    try:
        return parse_job(text, file.resolve().parent)
    except JobSpecError as exc:
        error = JobSpecError(f"{file.name}: {exc.message}", detail=exc.detail)
        error.field = exc.field
        raise error from None


def parse_job(text: str, base_dir: Path) -> JobSpec:
    """Build a job spec from TOML text; relative paths are kept and resolved against base_dir."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobSpecError(f"TOML syntax error: {exc}") from None
    _check_keys(raw, _TOP_KEYS, "")
    data = _parse_data(raw["data"]) if "data" in raw else None
    model = _parse_model(raw["model"]) if "model" in raw else None
    script = None
    if "script" in raw:
        table = _table(raw["script"], "script")
        _check_keys(table, _SCRIPT_KEYS, "script")
        script = _text(table, "path", "script.path", required=True)
    metrics = None
    if "metrics" in raw:
        metrics = tuple(_text_list(raw["metrics"], "metrics"))
    spec = JobSpec(
        experiment=_text(raw, "experiment", "experiment") or DEFAULT_EXPERIMENT,
        name=_text(raw, "name", "name"),
        task=_text(raw, "task", "task"),
        data=data,
        model=model,
        split=_parse_split(raw.get("split", {})),
        preprocessing=_parse_preprocessing(raw.get("preprocessing", {})),
        metrics=metrics,
        script=script,
        base_dir=Path(base_dir),
    )
    problems = spec_problems(spec)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    return spec


def _parse_data(value: Any) -> DataSpec:
    table = _table(value, "data")
    _check_keys(table, _DATA_KEYS, "data")
    features = None
    if "features" in table:
        features = tuple(_text_list(table["features"], "data.features"))
    return DataSpec(
        path=_text(table, "path", "data.path"),
        dataset=_text(table, "dataset", "data.dataset"),
        target=_text(table, "target", "data.target"),
        features=features,
        sheet=_text(table, "sheet", "data.sheet"),
        encoding=_text(table, "encoding", "data.encoding"),
    )


def _parse_model(value: Any) -> ModelSpec:
    table = _table(value, "model")
    _check_keys(table, _MODEL_KEYS, "model")
    estimator = _text(table, "estimator", "model.estimator", required=True)
    params = _table(table.get("params", {}), "model.params")
    return ModelSpec(
        estimator=str(estimator), params={k: _from_toml_param(v) for k, v in params.items()}
    )


def _parse_split(value: Any) -> SplitSpec:
    table = _table(value, "split")
    _check_keys(table, _SPLIT_KEYS, "split")
    default = SplitSpec()
    test_size = table.get("test_size", default.test_size)
    if isinstance(test_size, bool) or not isinstance(test_size, int | float):
        raise JobSpecError(
            f"must be a fraction such as 0.2, got {test_size!r}", field="split.test_size"
        )
    return SplitSpec(
        kind=_text(table, "kind", "split.kind") or default.kind,
        folds=_integer(table, "folds", "split.folds", default.folds),
        test_size=float(test_size),
        seed=_integer(table, "seed", "split.seed", default.seed),
        stratify=_boolean(table, "stratify", "split.stratify", default.stratify),
    )


def _parse_preprocessing(value: Any) -> PreprocessingSpec:
    table = _table(value, "preprocessing")
    _check_keys(table, _PREPROCESSING_KEYS, "preprocessing")
    numeric = _table(table.get("numeric", {}), "preprocessing.numeric")
    _check_keys(numeric, _NUMERIC_KEYS, "preprocessing.numeric")
    categorical = _table(table.get("categorical", {}), "preprocessing.categorical")
    _check_keys(categorical, _CATEGORICAL_KEYS, "preprocessing.categorical")
    default = PreprocessingSpec()
    return PreprocessingSpec(
        numeric_impute=_text(numeric, "impute", "preprocessing.numeric.impute")
        or default.numeric_impute,
        scale=_text(numeric, "scale", "preprocessing.numeric.scale") or default.scale,
        categorical_impute=_text(categorical, "impute", "preprocessing.categorical.impute")
        or default.categorical_impute,
        encode=_text(categorical, "encode", "preprocessing.categorical.encode") or default.encode,
    )


def _check_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            name = f"{where}.{key}" if where else key
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise JobSpecError(
                f"unknown key{hint}; known keys here: {', '.join(known)}", field=name
            )


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JobSpecError(
            f"must be a table ([{name}] or {{ key = value }}), got {_describe(value)}", field=name
        )
    return value


def _text(table: Mapping[str, Any], key: str, name: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise JobSpecError("missing", field=name)
        return None
    if not isinstance(value, str):
        raise JobSpecError(f"must be text in quotes, got {_describe(value)}", field=name)
    if not value.strip():
        raise JobSpecError("must not be empty", field=name)
    return value


def _text_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise JobSpecError(
            f'must be a list of names such as ["a", "b"], got {_describe(value)}', field=name
        )
    return list(value)


def _integer(table: Mapping[str, Any], key: str, name: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobSpecError(f"must be a whole number, got {_describe(value)}", field=name)
    return value


def _boolean(table: Mapping[str, Any], key: str, name: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise JobSpecError(f"must be true or false, got {_describe(value)}", field=name)
    return value


def _describe(value: Any) -> str:
    kind = {str: "text", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), "a table" if isinstance(value, dict) else type(value).__name__
    )
    return f"{value!r} ({kind})"


# ---- checks --------------------------------------------------------------------------------


def spec_problems(spec: JobSpec) -> list[str]:
    """Problems visible in the spec alone, without reading any file."""
    from desktop_app.training.evaluation import METRICS

    problems: list[str] = []

    def choice(value: str | None, allowed: tuple[str, ...], name: str) -> None:
        if value is not None and value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{name}: {value!r} is not one of {', '.join(allowed)}{hint}")

    choice(spec.task, TASKS, "task")
    choice(spec.split.kind, SPLIT_KINDS, "split.kind")
    if spec.split.kind == "kfold" and spec.split.folds < 2:
        problems.append(f"split.folds: must be at least 2, got {spec.split.folds}")
    if spec.split.kind == "holdout" and not 0.0 < spec.split.test_size < 1.0:
        problems.append(
            f"split.test_size: must be a fraction between 0 and 1, got {spec.split.test_size}"
        )
    if spec.split.seed < 0:
        problems.append(f"split.seed: must be 0 or more, got {spec.split.seed}")
    pre = spec.preprocessing
    choice(pre.numeric_impute, NUMERIC_IMPUTE, "preprocessing.numeric.impute")
    choice(pre.scale, SCALE, "preprocessing.numeric.scale")
    choice(pre.categorical_impute, CATEGORICAL_IMPUTE, "preprocessing.categorical.impute")
    choice(pre.encode, ENCODE, "preprocessing.categorical.encode")
    for metric in spec.metrics or ():
        choice(metric, tuple(METRICS), "metrics")
    if spec.metrics is not None and not spec.metrics:
        problems.append("metrics: the list is empty; leave it out for the defaults")
    if spec.script is not None:
        return problems
    if spec.data is None:
        problems.append("data: missing; add a [data] table with path and target")
    else:
        problems.extend(_data_problems(spec.data))
    if spec.model is None:
        problems.append('model: missing; add a [model] table with estimator = "..."')
    return problems


def _data_problems(data: DataSpec) -> list[str]:
    problems: list[str] = []
    if data.path is None and data.dataset is None:
        problems.append(
            "data: give either path (a file) or dataset (one shipped with scikit-learn)"
        )
    if data.path is not None and data.dataset is not None:
        problems.append("data: give either path or dataset, not both")
    if data.dataset is not None:
        if data.dataset in DOWNLOADED_DATASETS:
            problems.append(
                f"data.dataset: {data.dataset} is downloaded from the internet by scikit-learn "
                "and ModelDesk works offline; use a file, or a dataset shipped with "
                f"scikit-learn: {', '.join(BUNDLED_DATASETS)}"
            )
        elif data.dataset not in BUNDLED_DATASETS:
            problems.append(
                f"data.dataset: no dataset {data.dataset!r} ships with scikit-learn; "
                f"choose one of {', '.join(BUNDLED_DATASETS)}"
            )
    if data.path is not None and data.target is None:
        problems.append("data.target: missing; name the column to predict")
    if data.features is not None:
        if not data.features:
            problems.append("data.features: the list is empty; leave it out to use all columns")
        duplicates = sorted({f for f in data.features if data.features.count(f) > 1})
        if duplicates:
            problems.append(f"data.features: listed twice: {', '.join(duplicates)}")
        if data.target is not None and data.target in data.features:
            problems.append(f"data.features: includes the target {data.target!r}")
    if data.encoding is not None:
        try:
            codecs.lookup(data.encoding)
        except LookupError:
            problems.append(f"data.encoding: unknown encoding {data.encoding!r} (e.g. latin-1)")
    suffix = Path(data.path).suffix.lower() if data.path is not None else ""
    if data.sheet is not None and suffix not in (".xlsx", ".xlsm"):
        problems.append("data.sheet: only Excel files (.xlsx) have sheets")
    return problems


def validate_job(spec: JobSpec) -> list[str]:
    """Problems that would stop the job, found before launching it (reads only what it must)."""
    problems = spec_problems(spec)
    if problems:
        return problems
    if spec.script is not None:
        path = spec.resolve_path(spec.script)
        if not path.is_file():
            problems.append(f"script.path: no such file: {path}")
        return problems
    from desktop_app.training.catalog import model_problems
    from desktop_app.training.data import data_problems

    assert spec.data is not None and spec.model is not None
    found, task = data_problems(spec)
    problems.extend(found)
    problems.extend(model_problems(spec, task))
    return problems


# ---- writing -------------------------------------------------------------------------------


def dump_job(spec: JobSpec) -> str:
    """The spec as TOML text that ``parse_job`` reads back equal (paths stay relative)."""
    import tomli_w

    doc: dict[str, Any] = {"experiment": spec.experiment}
    if spec.name is not None:
        doc["name"] = spec.name
    if spec.task is not None:
        doc["task"] = spec.task
    if spec.metrics is not None:
        doc["metrics"] = list(spec.metrics)
    if spec.script is not None:
        doc["script"] = {"path": spec.script}
    if spec.data is not None:
        data = {
            "path": spec.data.path,
            "dataset": spec.data.dataset,
            "target": spec.data.target,
            "features": list(spec.data.features) if spec.data.features is not None else None,
            "sheet": spec.data.sheet,
            "encoding": spec.data.encoding,
        }
        doc["data"] = {k: v for k, v in data.items() if v is not None}
    if spec.model is not None:
        model: dict[str, Any] = {"estimator": spec.model.estimator}
        if spec.model.params:
            model["params"] = {k: _to_toml_param(v) for k, v in spec.model.params.items()}
        doc["model"] = model
    doc["split"] = {
        "kind": spec.split.kind,
        "folds": spec.split.folds,
        "test_size": spec.split.test_size,
        "seed": spec.split.seed,
        "stratify": spec.split.stratify,
    }
    pre = spec.preprocessing
    doc["preprocessing"] = {
        "numeric": {"impute": pre.numeric_impute, "scale": pre.scale},
        "categorical": {"impute": pre.categorical_impute, "encode": pre.encode},
    }
    return tomli_w.dumps(doc)
