"""Finding runs: the filter language compiled to SQL, scoped to experiments and the trash.

Ordering by one metric, the common case of a leaderboard, walks the ``metric_summary``
index in value order and stops at the page's end instead of looking the metric up for every
run and sorting them all; runs without the metric follow, as in the general path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.errors import QuerySyntaxError
from desktop_app.registry.query import (
    AGGREGATES,
    CompiledQuery,
    OrderItem,
    Query,
    compile_parsed,
    parse_query,
)

_ORDER_PREFIX = "order by "
DEFAULT_ORDER = "coalesce(r.start_time, r.created_at) DESC, r.id"
_FROM = "FROM runs r JOIN experiments e ON e.id = r.experiment_id"


@dataclass(frozen=True)
class RunScope:
    """Which runs a search looks at before the filter applies."""

    experiment_ids: Sequence[int] | None = None
    trash: bool = False
    top_level_only: bool = False


def _scope_sql(scope: RunScope) -> tuple[str, list[object]]:
    clauses = []
    params: list[object] = []
    if scope.trash:
        clauses.append("(r.lifecycle = 'deleted' OR e.lifecycle = 'deleted')")
    else:
        clauses.append("r.lifecycle = 'active' AND e.lifecycle = 'active'")
    if scope.experiment_ids is not None:
        ids = list(scope.experiment_ids)
        clauses.append(f"r.experiment_id IN ({','.join('?' * len(ids))})" if ids else "0")
        params.extend(ids)
    if scope.top_level_only:
        clauses.append("r.parent_id IS NULL")
    return " AND ".join(clauses), params


def parse_order_by(order_by: str) -> tuple[OrderItem, ...]:
    """Parse an ``order by`` clause body; error columns count within ``order_by`` itself."""
    try:
        return parse_query(_ORDER_PREFIX + order_by).order
    except QuerySyntaxError as exc:
        column = max(1, exc.column - len(_ORDER_PREFIX))
        raise QuerySyntaxError(exc.reason, column=column, query=order_by) from None


def compile_order_by(order_by: str) -> CompiledQuery:
    """Compile an ``order by`` clause body; error columns count within ``order_by`` itself."""
    return compile_parsed(Query(order=parse_order_by(order_by)))


def search_run_ids(
    conn: sqlite3.Connection,
    scope: RunScope,
    query: str = "",
    *,
    order_by: str | None = None,
    limit: int | None = 1000,
    offset: int = 0,
) -> list[str]:
    """Ids of the runs in scope that match ``query``, in its order (newest first by default).

    ``order_by`` is an ``order by`` clause body in the filter language (``metrics.f1 desc``);
    it overrides any order inside ``query``.
    """
    parsed = parse_query(query)
    order = parse_order_by(order_by) if order_by else parsed.order
    where = compile_parsed(Query(where=parsed.where))
    scope_sql, scope_params = _scope_sql(scope)
    condition = f"{scope_sql} AND ({where.where})"
    condition_params = [*scope_params, *where.params]
    if len(order) == 1 and order[0].ref.kind == "metric":
        return _by_one_metric(conn, order[0], condition, condition_params, limit, offset)
    if order:
        compiled_order = compile_parsed(Query(order=order))
        order_sql, order_params = compiled_order.order_by, list(compiled_order.params)
    else:
        order_sql, order_params = DEFAULT_ORDER, []
    sql = f"SELECT r.id {_FROM} WHERE {condition} ORDER BY {order_sql}"
    params: list[object] = [*condition_params, *order_params]
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([limit, offset])
    return [row[0] for row in conn.execute(sql, params)]


def _by_one_metric(
    conn: sqlite3.Connection,
    item: OrderItem,
    condition: str,
    params: list[object],
    limit: int | None,
    offset: int,
) -> list[str]:
    """Runs with the metric in value order (index walk), then the runs without it by id."""
    if item.ref.aggregate not in AGGREGATES:  # the column name goes into SQL text
        raise QuerySyntaxError(f"unknown aggregate {item.ref.aggregate!r}", column=1)
    column = f'o."{item.ref.aggregate}"'
    direction = "DESC" if item.descending else "ASC"
    having = (
        f"SELECT r.id FROM metric_summary o CROSS JOIN runs r ON r.id = o.run_id "
        f"JOIN experiments e ON e.id = r.experiment_id "
        f"WHERE o.key = ? AND {column} IS NOT NULL AND {condition}"
    )
    having_params: list[object] = [item.ref.key, *params]
    lacking = (
        f"SELECT r.id {_FROM} WHERE {condition} AND NOT EXISTS (SELECT 1 FROM metric_summary ms "
        f'WHERE ms.run_id = r.id AND ms.key = ? AND ms."{item.ref.aggregate}" IS NOT NULL)'
    )
    lacking_params: list[object] = [*params, item.ref.key]
    page = f"{having} ORDER BY {column} {direction}, r.id"
    if limit is None:
        first = [row[0] for row in conn.execute(page, having_params)]
        rest = conn.execute(f"{lacking} ORDER BY r.id", lacking_params)
        return (first + [row[0] for row in rest])[offset:]
    first = [
        row[0] for row in conn.execute(f"{page} LIMIT ? OFFSET ?", [*having_params, limit, offset])
    ]
    if len(first) == limit:
        return first
    with_metric = (
        len(first) + offset
        if first
        else int(conn.execute(f"SELECT count(*) FROM ({having})", having_params).fetchone()[0])
    )
    rest_offset = max(0, offset - with_metric)
    rest = conn.execute(
        f"{lacking} ORDER BY r.id LIMIT ? OFFSET ?",
        [*lacking_params, limit - len(first), rest_offset],
    )
    return first + [row[0] for row in rest]


def count_runs(conn: sqlite3.Connection, scope: RunScope, query: str = "") -> int:
    """How many runs in scope match ``query``."""
    where = compile_parsed(Query(where=parse_query(query).where))
    scope_sql, scope_params = _scope_sql(scope)
    sql = f"SELECT count(*) {_FROM} WHERE {scope_sql} AND ({where.where})"
    return int(conn.execute(sql, [*scope_params, *where.params]).fetchone()[0])
