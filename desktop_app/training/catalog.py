"""The estimator catalog: scikit-learn estimators by name, their kind and their hyperparameters.

Only scikit-learn is reachable from a job file: importing any other module named in a file
would run that module's code, so other libraries go through a Python script job instead.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import warnings
from dataclasses import dataclass
from typing import Any, TypeGuard

from desktop_app.training.spec import JobSpec, JobSpecError, ModelSpec

HYPERPARAM_KINDS = ("int", "float", "bool", "choice", "str", "none", "other")
# Searched first, in order: importing every scikit-learn module takes a second more.
_COMMON_MODULES = (
    "ensemble",
    "linear_model",
    "tree",
    "neighbors",
    "svm",
    "naive_bayes",
    "neural_network",
    "dummy",
    "discriminant_analysis",
)
# Estimators that cannot learn one target column from a table (several targets, one feature).
_UNSUITED = frozenset(
    {
        "CCA",
        "IsotonicRegression",
        "MultiTaskElasticNet",
        "MultiTaskElasticNetCV",
        "MultiTaskLasso",
        "MultiTaskLassoCV",
        "PLSCanonical",
    }
)


@dataclass(frozen=True)
class HyperParam:
    """One constructor parameter of an estimator, described for a form.

    ``kind`` is one of int, float, bool, choice, str, none (only None is documented) or other
    (arrays, callables, objects). ``low``/``high`` bound numbers where scikit-learn says so.
    """

    name: str
    kind: str
    default: Any
    choices: tuple[Any, ...] | None
    nullable: bool
    low: float | None = None
    high: float | None = None


def find_estimator(name: str) -> type:
    """The estimator class for a scikit-learn class name or a full ``sklearn.`` import path."""
    name = name.strip()
    if "." in name:
        return _from_import_path(name)
    for module_name in _COMMON_MODULES:
        module = importlib.import_module(f"sklearn.{module_name}")
        found = getattr(module, name, None)
        if _is_estimator_class(found) and found.__name__ == name:
            return found
    table = _all_estimators()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise JobSpecError(f"scikit-learn has no estimator {name!r}{hint}", field="model.estimator")


def _from_import_path(path: str) -> type:
    module_name, _, class_name = path.rpartition(".")
    if module_name != "sklearn" and not module_name.startswith("sklearn."):
        raise JobSpecError(
            f"{path!r} is not in scikit-learn; a job file may name only scikit-learn "
            "estimators, because importing another module from a job file would run its code "
            "unasked. For other libraries, write a Python script job ([script] path = ...)",
            field="model.estimator",
        )
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError):
        raise JobSpecError(
            f"no module {module_name!r} in scikit-learn", field="model.estimator"
        ) from None
    found = getattr(module, class_name, None)
    if not _is_estimator_class(found):
        raise JobSpecError(
            f"{module_name} has no estimator class {class_name!r}", field="model.estimator"
        )
    return found


def _is_estimator_class(obj: object) -> TypeGuard[type]:
    from sklearn.base import BaseEstimator

    return (
        isinstance(obj, type)
        and issubclass(obj, BaseEstimator)
        and not obj.__name__.startswith("_")
        and not inspect.isabstract(obj)
    )


@functools.cache
def _all_estimators() -> dict[str, type]:
    from sklearn.utils import all_estimators

    return {name: cls for name, cls in all_estimators()}


def new_estimator(cls: type) -> Any:
    """An estimator with its default parameters; one that needs arguments cannot be used."""
    try:
        return cls()
    except TypeError:
        needed = [
            p.name
            for p in inspect.signature(cls).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        raise JobSpecError(
            f"{cls.__name__} needs arguments ({', '.join(needed)}) that a job file cannot "
            "give; use a Python script job for it",
            field="model.estimator",
        ) from None


def estimator_kind(estimator: str | type) -> str | None:
    """``classifier``, ``regressor`` or None (a transformer, a clusterer...)."""
    from sklearn.base import is_classifier, is_regressor

    cls = find_estimator(estimator) if isinstance(estimator, str) else estimator
    instance = new_estimator(cls)
    if is_classifier(instance):
        return "classifier"
    if is_regressor(instance):
        return "regressor"
    return None


def check_task(cls: type, task: str) -> None:
    """Raise JobSpecError when the estimator cannot do the task."""
    kind = estimator_kind(cls)
    wanted = "classifier" if task == "classification" else "regressor"
    if kind is None:
        raise JobSpecError(
            f"{cls.__name__} is neither a classifier nor a regressor; choose one that "
            f"predicts the target, such as {_example(task)}",
            field="model.estimator",
        )
    if kind != wanted:
        raise JobSpecError(
            f"{cls.__name__} is a {kind} but the task is {task}; choose a {wanted}, such as "
            f"{_example(task)}",
            field="model.estimator",
        )


def _example(task: str) -> str:
    if task == "classification":
        return "RandomForestClassifier or LogisticRegression"
    return "RandomForestRegressor or Ridge"


@functools.cache
def estimators_for(task: str) -> list[str]:
    """Names of the estimators a job of this task can use (not deprecated ones), sorted."""
    from sklearn.utils import all_estimators

    type_filter = "classifier" if task == "classification" else "regressor"
    names = []
    for name, cls in all_estimators(type_filter=type_filter):
        if name in _UNSUITED:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cls()
            except TypeError:
                continue
        if any(issubclass(w.category, FutureWarning | DeprecationWarning) for w in caught):
            continue
        names.append(name)
    return sorted(names)


def hyperparameters(name: str | type) -> list[HyperParam]:
    """The estimator's parameters with kinds, defaults and allowed values, by name."""
    cls = find_estimator(name) if isinstance(name, str) else name
    defaults = new_estimator(cls).get_params(deep=False)
    constraints: dict[str, list[Any]] = getattr(cls, "_parameter_constraints", {}) or {}
    return [_describe(key, defaults[key], constraints.get(key)) for key in sorted(defaults)]


def _describe(name: str, default: Any, constraints: list[Any] | None) -> HyperParam:
    try:
        from sklearn.utils._param_validation import Hidden, Interval, Options
    except ImportError:  # the private module moved: fall back to the default's type
        constraints = None
    if constraints is None:
        return HyperParam(name, _kind_of_value(default), default, None, default is None)
    nullable = any(c is None for c in constraints) or "random_state" in constraints
    choices: list[Any] = []
    kinds: set[str] = set()
    bounds: dict[str, tuple[float | None, float | None]] = {}
    for constraint in constraints:
        if isinstance(constraint, Hidden):
            continue
        if isinstance(constraint, Options):
            deprecated: set[Any] = getattr(constraint, "deprecated", None) or set()
            choices.extend(o for o in constraint.options if o not in deprecated)
        elif isinstance(constraint, Interval):
            kind = "int" if _is_integral(constraint.type) else "float"
            kinds.add(kind)
            bounds.setdefault(kind, (_bound(constraint.left), _bound(constraint.right)))
        elif constraint == "boolean" or constraint is bool:
            kinds.add("bool")
        elif constraint in ("random_state", "verbose") or _is_integral(constraint):
            kinds.add("int")
        elif constraint is str:
            kinds.add("str")
        elif constraint is float:
            kinds.add("float")
    ordered = tuple(sorted(set(choices), key=lambda c: (str(type(c)), str(c)))) or None
    kind = _choose_kind(default, kinds, ordered)
    low, high = bounds.get(kind, (None, None))
    return HyperParam(name, kind, default, ordered, nullable, low, high)


def _choose_kind(default: Any, kinds: set[str], choices: tuple[Any, ...] | None) -> str:
    by_value = _kind_of_value(default)
    if isinstance(default, list | tuple | dict):
        return "other"
    if by_value == "bool" and ("bool" in kinds or not kinds):
        return "bool"
    if choices and isinstance(default, str) and default in choices:
        return "choice"
    if by_value in ("int", "float") and by_value in kinds:
        return by_value
    if by_value == "int" and "float" in kinds:
        return "float"
    for kind in ("float", "int", "bool", "str"):
        if kind in kinds:
            return kind
    if choices:
        return "choice"
    if default is None and not kinds:
        return "none"
    return by_value if by_value != "none" else "other"


def _kind_of_value(value: Any) -> str:
    import numbers

    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if isinstance(value, str):
        return "str"
    return "other"


def _is_integral(kind: Any) -> bool:
    import numbers

    return isinstance(kind, type) and issubclass(kind, numbers.Integral)


def _bound(value: Any) -> float | None:
    return None if value is None else float(value)


def param_problems(cls: type, params: dict[str, Any]) -> list[str]:
    """Hyperparameters the estimator does not have or rejects, by scikit-learn's own checks."""
    base = new_estimator(cls)
    known = base.get_params(deep=True)
    problems = []
    for key, value in params.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(base.get_params(deep=False)), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"model.params.{key}: {cls.__name__} has no parameter {key!r}{hint}")
            continue
        estimator = new_estimator(cls)
        try:
            estimator.set_params(**{key: value})
            validate = getattr(estimator, "_validate_params", None)
            if validate is not None:
                validate()
        except (ValueError, TypeError) as exc:
            problems.append(f"model.params.{key}: {exc}")
    return problems


def make_estimator(model: ModelSpec, task: str, seed: int) -> Any:
    """An unfitted estimator for the job: checked against the task, params set and validated.

    ``random_state`` defaults to the split seed so the same job gives the same result.
    """
    cls = find_estimator(model.estimator)
    check_task(cls, task)
    problems = param_problems(cls, model.params)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    estimator = new_estimator(cls)
    params = dict(model.params)
    if "random_state" in estimator.get_params(deep=False) and "random_state" not in params:
        params["random_state"] = seed
    estimator.set_params(**params)
    return estimator


def model_problems(spec: JobSpec, task: str | None) -> list[str]:
    """Problems with the model part of a job: estimator, its fit to the task, its params."""
    from desktop_app.training.evaluation import metric_problems

    if spec.model is None:
        return []
    try:
        cls = find_estimator(spec.model.estimator)
        new_estimator(cls)
    except JobSpecError as exc:
        return [exc.message]
    problems: list[str] = []
    if task is not None:
        try:
            check_task(cls, task)
        except JobSpecError as exc:
            problems.append(exc.message)
    problems.extend(param_problems(cls, spec.model.params))
    if task is not None and not problems:
        estimator = new_estimator(cls)
        estimator.set_params(**spec.model.params)
        problems.extend(metric_problems(spec.metrics, task, estimator))
    return problems
