"""Search as the table and CLI use it: the index-driven metric order agrees with the general one."""

from __future__ import annotations

import math
import random

import pytest

from desktop_app.registry import Registry
from desktop_app.registry.query import compile_query
from desktop_app.registry.search import RunScope, _scope_sql


def _general(registry: Registry, query: str, order: str) -> list[str]:
    """The plain one-statement SQL of the filter language, as the reference order."""
    compiled = compile_query(f"{query} order by {order}")
    scope_sql, scope_params = _scope_sql(RunScope())
    sql = (
        "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        f"WHERE {scope_sql} AND ({compiled.where}) ORDER BY {compiled.order_by}"
    )
    return [r[0] for r in registry.db.connection().execute(sql, [*scope_params, *compiled.params])]


@pytest.fixture
def filled(registry: Registry) -> Registry:
    rng = random.Random(7)
    with registry.db.write():
        for index in range(120):
            run = registry.create_run(rng.choice(["a", "b"]), params={"model": rng.choice("xyz")})
            points = []
            if rng.random() < 0.8:
                value = rng.choice([rng.random(), 0.5, math.nan])  # ties and NaN included
                points.append(("acc", value, 0, 1.0))
                points.append(("acc", rng.random(), 1, 2.0))
            if rng.random() < 0.7:
                points.append(("f1", rng.random(), 0, 1.0))
            if points:
                registry.log_batch(run.id, metrics=points)
            if index % 17 == 0:
                registry.delete_runs([run.id])
    return registry


@pytest.mark.parametrize(
    "order",
    [
        "metrics.acc desc",
        "metrics.acc",
        "metrics.acc.min desc",
        "metrics.acc.max",
        "metrics.missing desc",
    ],
)
@pytest.mark.parametrize("query", ["", 'params.model = "x"', "metrics.f1 > 0.3"])
def test_metric_order_pages_match_the_general_order(
    filled: Registry, query: str, order: str
) -> None:
    expected = _general(filled, query, order)
    assert filled.search_runs(query, order_by=order, limit=None) == expected
    pages = []
    for offset in range(0, len(expected) + 20, 13):
        pages.extend(filled.search_runs(query, order_by=order, limit=13, offset=offset))
    assert pages == expected
