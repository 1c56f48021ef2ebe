"""The demo workspace a new user sees on first start."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from desktop_app.registry import Registry, RunStatus
from desktop_app.training.demo import DEMO_MODEL, create_demo


def test_demo_fills_a_registry_with_real_runs(registry: Registry) -> None:
    seen: list[tuple[int, int, str]] = []
    made = create_demo(registry, progress=lambda i, n, text: seen.append((i, n, text)))
    assert made == seen[-1][1] and seen[-1][2] == "demo ready"
    names = {e.name: e.run_count for e in registry.list_experiments()}
    assert set(names) == {"breast-cancer", "wine", "iris", "diabetes"}
    runs = registry.get_runs(registry.search_runs(limit=None))
    statuses = {r.status for r in runs}
    assert statuses == {RunStatus.FINISHED, RunStatus.FAILED}
    failed = [r for r in runs if r.status == RunStatus.FAILED]
    assert len(failed) == 1 and "degree" in failed[0].status_reason
    forest = next(r for r in runs if r.name == "forest depth=None" and r.experiment_name == "wine")
    curve = registry.get_metric_history(forest.id, "val_accuracy")
    assert len(curve) == 15 and 0.8 < curve.values[-1] <= 1.0
    sweep_children = [r for r in runs if r.parent_id is not None]
    assert len(sweep_children) == 5
    assert any(a.kind == "model" for a in registry.list_artifacts(forest.id))

    # A model to serve right away: two versions, the more accurate one is the champion.
    model = registry.get_registered_model(DEMO_MODEL)
    assert model.latest_version == 2
    champion = registry.get_model_version(DEMO_MODEL, model.aliases["champion"])
    challenger = registry.get_model_version(DEMO_MODEL, model.aliases["challenger"])
    assert champion.version != challenger.version
    assert champion.metrics["accuracy"] >= challenger.metrics["accuracy"]
    assert champion.input_example is not None and len(champion.input_example) == 3
    assert "mean radius" in champion.input_example[0]


def test_the_demo_champion_serves_its_own_example(registry: Registry) -> None:
    from sklearn.datasets import load_breast_cancer

    from desktop_app.serving.model import load_served_model

    create_demo(registry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        served = load_served_model(registry, DEMO_MODEL, "@champion")
    assert [str(w.message) for w in caught] == []  # nothing to litter the server's log
    assert served.alias == "champion"
    rows = load_breast_cancer(as_frame=True).data.head(3)
    predicted = served.predict(served.model_input(rows.to_numpy()))
    assert np.array_equal(predicted, served.estimator.predict(rows))


def test_demo_stops_when_asked(registry: Registry) -> None:
    calls = iter([False, False] + [True] * 5)
    assert create_demo(registry, should_stop=lambda: next(calls)) == 2
    assert registry.count_runs() == 2


def test_a_failed_demo_forest_is_not_registered_and_the_demo_still_ends(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    from desktop_app.training import demo

    def broken(run: object, dataset: str, max_depth: int | None) -> None:
        raise MemoryError("no room for trees")

    def two_forests() -> list[demo._DemoRun]:
        return [
            demo._DemoRun("breast-cancer", "forest depth=2", partial(broken, None, None)),
            demo._DemoRun(
                "breast-cancer",
                "forest depth=None",
                partial(demo._forest_growth, dataset="breast_cancer", max_depth=None),
            ),
        ]

    monkeypatch.setattr(demo, "_demo_runs", two_forests)
    seen: list[str] = []
    assert create_demo(registry, progress=lambda i, n, text: seen.append(text)) == 2
    assert seen[-1] == "demo ready"
    assert registry.list_registered_models() == []  # one forest is no champion/challenger pair
    statuses = sorted(r.status for r in registry.get_runs(registry.search_runs(limit=None)))
    assert statuses == sorted([RunStatus.FAILED, RunStatus.FINISHED])


def test_a_stopped_demo_registers_nothing(registry: Registry) -> None:
    calls = iter([False] * 15 + [True] * 10)
    create_demo(registry, should_stop=lambda: next(calls))
    assert registry.list_registered_models() == []
