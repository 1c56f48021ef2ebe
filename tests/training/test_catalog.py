"""The estimator catalog: lookup, kinds, hyperparameters and their validation."""

from __future__ import annotations

import pytest

from desktop_app.training.catalog import (
    HYPERPARAM_KINDS,
    HyperParam,
    check_task,
    estimator_kind,
    estimators_for,
    find_estimator,
    hyperparameters,
    make_estimator,
    param_problems,
)
from desktop_app.training.spec import JobSpecError, ModelSpec


def test_find_by_name_and_by_import_path() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.linear_model import Ridge

    assert find_estimator("RandomForestClassifier") is RandomForestClassifier
    assert find_estimator("GaussianProcessRegressor") is GaussianProcessRegressor
    assert find_estimator("sklearn.linear_model.Ridge") is Ridge
    assert find_estimator("sklearn.linear_model._ridge.Ridge") is Ridge


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "RandomForest",
            "model.estimator: scikit-learn has no estimator 'RandomForest' (did you mean "
            "RandomForestRegressor, RandomForestClassifier?)",
        ),
        (
            "xgboost.XGBClassifier",
            "model.estimator: 'xgboost.XGBClassifier' is not in scikit-learn; a job file may "
            "name only scikit-learn estimators, because importing another module from a job "
            "file would run its code unasked. For other libraries, write a Python script job "
            "([script] path = ...)",
        ),
        ("sklearnx.Thing", "model.estimator: 'sklearnx.Thing' is not in scikit-learn"),
        ("sklearn.nothing.Here", "model.estimator: no module 'sklearn.nothing' in scikit-learn"),
        (
            "sklearn.linear_model.ridge_regression",
            "model.estimator: sklearn.linear_model has no estimator class 'ridge_regression'",
        ),
    ],
)
def test_unknown_or_unsafe_estimators_are_refused(name: str, message: str) -> None:
    with pytest.raises(JobSpecError) as caught:
        find_estimator(name)

    assert caught.value.message.startswith(message)
    assert caught.value.field == "model.estimator"


def test_estimators_needing_arguments_are_refused() -> None:
    with pytest.raises(JobSpecError, match=r"VotingClassifier needs arguments \(estimators\)"):
        estimator_kind("VotingClassifier")


def test_kinds_and_task_fit() -> None:
    assert estimator_kind("LogisticRegression") == "classifier"
    assert estimator_kind("Ridge") == "regressor"
    assert estimator_kind("StandardScaler") is None
    check_task(find_estimator("Ridge"), "regression")
    with pytest.raises(JobSpecError) as caught:
        check_task(find_estimator("Ridge"), "classification")
    assert caught.value.message.startswith(
        "model.estimator: Ridge is a regressor but the task is classification"
    )
    with pytest.raises(JobSpecError, match="KMeans is neither a classifier nor a regressor"):
        check_task(find_estimator("KMeans"), "regression")


def test_estimators_for_each_task() -> None:
    classifiers = estimators_for("classification")
    regressors = estimators_for("regression")

    assert {"RandomForestClassifier", "LogisticRegression", "SGDClassifier"} <= set(classifiers)
    assert {"Ridge", "RandomForestRegressor", "MLPRegressor"} <= set(regressors)
    assert "Ridge" not in classifiers and "LogisticRegression" not in regressors
    assert "VotingClassifier" not in classifiers  # needs arguments
    assert "MultiTaskLasso" not in regressors  # needs several targets
    assert classifiers == sorted(classifiers)


def test_hyperparameters_from_constraints() -> None:
    params = {p.name: p for p in hyperparameters("RandomForestClassifier")}

    assert params["n_estimators"] == HyperParam("n_estimators", "int", 100, None, False, 1.0, None)
    assert params["criterion"].kind == "choice"
    assert params["criterion"].choices == ("entropy", "gini", "log_loss")
    assert params["bootstrap"].kind == "bool"
    assert params["max_depth"].kind == "int" and params["max_depth"].nullable
    assert params["max_features"].kind == "choice" and params["max_features"].nullable
    assert params["min_weight_fraction_leaf"].kind == "float"
    assert params["min_weight_fraction_leaf"].high == 0.5
    assert params["random_state"].nullable
    assert all(p.kind in HYPERPARAM_KINDS for p in params.values())

    mlp = {p.name: p for p in hyperparameters("MLPRegressor")}
    assert mlp["hidden_layer_sizes"].kind == "other"
    assert mlp["solver"].choices == ("adam", "lbfgs", "sgd")


def test_param_problems_use_sklearn_validation() -> None:
    forest = find_estimator("RandomForestClassifier")

    assert param_problems(forest, {"n_estimators": 20, "max_depth": None}) == []
    assert param_problems(forest, {"n_estimators": -3}) == [
        "model.params.n_estimators: The 'n_estimators' parameter of RandomForestClassifier "
        "must be an int in the range [1, inf). Got -3 instead."
    ]
    assert param_problems(forest, {"criterion": "gin"})[0].startswith(
        "model.params.criterion: The 'criterion' parameter of RandomForestClassifier must be "
        "a str among"
    )
    assert param_problems(forest, {"n_estimator": 5}) == [
        "model.params.n_estimator: RandomForestClassifier has no parameter 'n_estimator' "
        "(did you mean 'n_estimators'?)"
    ]


def test_make_estimator_seeds_random_state() -> None:
    seeded = make_estimator(
        ModelSpec("RandomForestClassifier", {"n_estimators": 5}), "classification", 7
    )
    explicit = make_estimator(
        ModelSpec("RandomForestClassifier", {"random_state": 1}), "classification", 7
    )
    ridge = make_estimator(ModelSpec("Ridge", {"alpha": 2.0}), "regression", 7)

    assert seeded.get_params()["random_state"] == 7 and seeded.n_estimators == 5
    assert explicit.random_state == 1
    assert ridge.alpha == 2.0
    with pytest.raises(JobSpecError, match=r"^model.params.n_estimators: "):
        make_estimator(
            ModelSpec("RandomForestClassifier", {"n_estimators": -3}), "classification", 0
        )
