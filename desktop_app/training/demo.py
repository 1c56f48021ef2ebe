"""The demo workspace: real scikit-learn runs on datasets shipped with scikit-learn (no download).

A new user sees a populated window at once: several experiments, step-wise curves, params worth
filtering on, a nested sweep, a failed run, saved models, and a registered model with two
versions and the aliases ``champion`` and ``challenger``, ready to serve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from desktop_app.registry import Registry
from desktop_app.registry.tracking import ActiveRun, start_run

ProgressCallback = Callable[[int, int, str], None]
log = logging.getLogger(__name__)
DEMO_SOURCE = "ModelDesk demo"
DEMO_MODEL = "breast-cancer-classifier"
# (experiment, run name) of the runs whose forests become the demo model's versions, in order.
_DEMO_VERSIONS = (("breast-cancer", "forest depth=2"), ("breast-cancer", "forest depth=None"))


@dataclass(frozen=True)
class _DemoRun:
    experiment: str
    name: str
    train: Callable[[ActiveRun], None]


def _split(
    loader: Callable[..., Any], seed: int = 0, *, as_frame: bool = False
) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    X, y = loader(return_X_y=True, as_frame=as_frame)
    stratify = y if loader.__name__ != "load_diabetes" else None
    return tuple(train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify))


def _classifier_scores(run: ActiveRun, model: Any, X_test: Any, y_test: Any) -> None:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    predicted = model.predict(X_test)
    run.log_metrics(
        {
            "accuracy": accuracy_score(y_test, predicted),
            "balanced_accuracy": balanced_accuracy_score(y_test, predicted),
            "f1": f1_score(y_test, predicted, average="macro"),
        }
    )


def _forest_growth(run: ActiveRun, dataset: str, max_depth: int | None) -> None:
    """A random forest grown tree by tree (warm start), scored after each growth step."""
    from sklearn import datasets
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score

    # Named columns: the saved model then has a signature a served form can show.
    X_train, X_test, y_train, y_test = _split(getattr(datasets, f"load_{dataset}"), as_frame=True)
    params = {"model": "random_forest", "dataset": dataset, "max_depth": max_depth, "seed": 0}
    run.log_params(params)
    forest = RandomForestClassifier(
        n_estimators=0, max_depth=max_depth, warm_start=True, random_state=0
    )
    for step, trees in enumerate(range(4, 64, 4)):
        forest.set_params(n_estimators=trees)
        forest.fit(X_train, y_train)
        run.log_metric("train_accuracy", accuracy_score(y_train, forest.predict(X_train)), step)
        run.log_metric("val_accuracy", accuracy_score(y_test, forest.predict(X_test)), step)
    _classifier_scores(run, forest, X_test, y_test)
    run.log_model(forest, "model")


def _linear_classifier(run: ActiveRun, dataset: str, alpha: float) -> None:
    """An SGD logistic regression trained epoch by epoch with partial_fit."""
    import numpy as np
    from sklearn import datasets
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = _split(getattr(datasets, f"load_{dataset}"))
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    run.log_params({"model": "sgd_logistic", "dataset": dataset, "alpha": alpha, "seed": 0})
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
    classes = np.unique(y_train)
    for epoch in range(40):
        model.partial_fit(X_train, y_train, classes=classes)
        run.log_metric(
            "train_loss", log_loss(y_train, model.predict_proba(X_train), labels=classes), epoch
        )
        run.log_metric(
            "val_loss", log_loss(y_test, model.predict_proba(X_test), labels=classes), epoch
        )
    _classifier_scores(run, model, X_test, y_test)


def _boosting_regression(run: ActiveRun, learning_rate: float, max_depth: int) -> None:
    """Gradient boosting on the diabetes data, with staged validation error per iteration."""
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, r2_score

    X_train, X_test, y_train, y_test = _split(load_diabetes)
    run.log_params(
        {
            "model": "gradient_boosting",
            "dataset": "diabetes",
            "learning_rate": learning_rate,
            "max_depth": max_depth,
            "n_estimators": 150,
            "seed": 0,
        }
    )
    model = GradientBoostingRegressor(
        n_estimators=150, learning_rate=learning_rate, max_depth=max_depth, random_state=0
    ).fit(X_train, y_train)
    for step, (train_pred, test_pred) in enumerate(
        zip(model.staged_predict(X_train), model.staged_predict(X_test), strict=True)
    ):
        run.log_metric("train_rmse", float(np.sqrt(np.mean((train_pred - y_train) ** 2))), step)
        run.log_metric("val_rmse", float(np.sqrt(np.mean((test_pred - y_test) ** 2))), step)
    predicted = model.predict(X_test)
    run.log_metrics(
        {"r2": r2_score(y_test, predicted), "mae": mean_absolute_error(y_test, predicted)}
    )
    run.log_model(model, "model")


def _ridge_sweep(run: ActiveRun) -> None:
    """A parent run whose children are a small sweep over Ridge's alpha."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    X_train, X_test, y_train, y_test = _split(load_diabetes)
    run.log_params({"model": "ridge", "dataset": "diabetes", "sweep": "alpha"})
    best = -float("inf")
    for index, alpha in enumerate([0.001, 0.01, 0.1, 1.0, 10.0]):
        with start_run(name=f"alpha={alpha}", registry=run.registry, parent=run) as child:
            child.log_params({"model": "ridge", "dataset": "diabetes", "alpha": alpha})
            score = r2_score(y_test, Ridge(alpha=alpha).fit(X_train, y_train).predict(X_test))
            child.log_metric("r2", score)
        best = max(best, score)
        run.log_metric("best_r2", best, index)


def _failing_run(run: ActiveRun) -> None:
    """A run that fails, so the demo shows what a failure looks like."""
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    run.log_params({"model": "svc", "dataset": "iris", "kernel": "poly", "degree": -1})
    SVC(kernel="poly", degree=-1).fit(X, y)


def _demo_runs() -> Iterator[_DemoRun]:
    for depth in (2, 4, None):
        yield _DemoRun(
            "breast-cancer",
            f"forest depth={depth}",
            partial(_forest_growth, dataset="breast_cancer", max_depth=depth),
        )
    for alpha in (0.0001, 0.01, 0.3):
        yield _DemoRun(
            "breast-cancer",
            f"sgd alpha={alpha}",
            partial(_linear_classifier, dataset="breast_cancer", alpha=alpha),
        )
    for depth in (2, None):
        yield _DemoRun(
            "wine",
            f"forest depth={depth}",
            partial(_forest_growth, dataset="wine", max_depth=depth),
        )
    yield _DemoRun(
        "wine", "sgd alpha=0.001", partial(_linear_classifier, dataset="wine", alpha=0.001)
    )
    yield _DemoRun("iris", "forest depth=3", partial(_forest_growth, dataset="iris", max_depth=3))
    yield _DemoRun("iris", "svc poly (fails)", _failing_run)
    for rate, depth in ((0.05, 2), (0.1, 3), (0.3, 3)):
        yield _DemoRun(
            "diabetes",
            f"boosting lr={rate} depth={depth}",
            partial(_boosting_regression, learning_rate=rate, max_depth=depth),
        )
    yield _DemoRun("diabetes", "ridge sweep", _ridge_sweep)


def create_demo(
    registry: Registry,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Fill the registry with the demo experiments; return the number of top-level runs made."""
    runs = list(_demo_runs())
    made: dict[tuple[str, str], str] = {}
    done = 0
    for index, demo in enumerate(runs):
        if should_stop is not None and should_stop():
            break
        if progress is not None:
            progress(index, len(runs), f"{demo.experiment}: {demo.name}")
        try:
            with start_run(
                experiment=demo.experiment,
                name=demo.name,
                registry=registry,
                nested=False,
                source=DEMO_SOURCE,
                tags={"origin": "demo"},
            ) as run:
                demo.train(run)
                made[(demo.experiment, demo.name)] = run.id  # trained: its model can be served
        except Exception:
            pass  # one demo run fails on purpose; the run records why
        done += 1
    stopped = should_stop is not None and should_stop()
    if done == len(runs) and not stopped:
        if progress is not None:
            progress(done, len(runs), f"registering {DEMO_MODEL}")
        try:
            _register_demo_model(registry, [made[key] for key in _DEMO_VERSIONS if key in made])
        except Exception:
            # The runs are the demo; a model that could not be registered is only missed.
            log.warning("the demo model was not registered", exc_info=True)
    if progress is not None:
        progress(done, len(runs), "demo ready")
    return done


def _register_demo_model(registry: Registry, run_ids: list[str]) -> None:
    """Register the demo forests as versions of one model; the more accurate is the champion."""
    from sklearn.datasets import load_breast_cancer

    from desktop_app.versioning.model_history import register_model_version, set_alias

    if len(run_ids) < 2 or any(m.name == DEMO_MODEL for m in registry.list_registered_models()):
        return
    example = load_breast_cancer(as_frame=True).data.head(3)
    versions = [
        register_model_version(
            registry,
            DEMO_MODEL,
            run_id,
            description="A random forest from the demo workspace.",
            tags={"origin": "demo"},
            input_example=example,
        )[0]
        for run_id in run_ids
    ]
    ranked = sorted(versions, key=lambda v: v.metrics.get("accuracy", 0.0), reverse=True)
    set_alias(registry, DEMO_MODEL, "champion", ranked[0].version)
    set_alias(registry, DEMO_MODEL, "challenger", ranked[1].version)
