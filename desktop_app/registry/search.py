"""Finding runs: the filter language compiled to SQL, scoped to experiments and the trash."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.errors import QuerySyntaxError
from desktop_app.registry.query import CompiledQuery, compile_query

_ORDER_PREFIX = "order by "
DEFAULT_ORDER = "coalesce(r.start_time, r.created_at) DESC, r.id"


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
    compiled = compile_query(query)
    where, where_params = _where_part(compiled)
    if order_by:
        override = compile_order_by(order_by)
        order, order_params = override.order_by, override.params
    elif compiled.has_order:
        order, order_params = compiled.order_by, compiled.params[len(where_params) :]
    else:
        order, order_params = DEFAULT_ORDER, []
    scope_sql, scope_params = _scope_sql(scope)
    sql = (
        "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        f"WHERE {scope_sql} AND ({where}) ORDER BY {order}"
    )
    params: list[object] = [*scope_params, *where_params, *order_params]
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([limit, offset])
    return [row[0] for row in conn.execute(sql, params)]


def compile_order_by(order_by: str) -> CompiledQuery:
    """Compile an ``order by`` clause body; error columns count within ``order_by`` itself."""
    try:
        return compile_query(_ORDER_PREFIX + order_by)
    except QuerySyntaxError as exc:
        column = max(1, exc.column - len(_ORDER_PREFIX))
        raise QuerySyntaxError(exc.reason, column=column, query=order_by) from None


def _where_part(compiled: CompiledQuery) -> tuple[str, list[object]]:
    # Every user value is a '?' parameter, so the placeholders in the WHERE text are exactly
    # the leading parameters; the rest belong to ORDER BY.
    count = compiled.where.count("?")
    return compiled.where, list(compiled.params[:count])


def count_runs(conn: sqlite3.Connection, scope: RunScope, query: str = "") -> int:
    """How many runs in scope match ``query``."""
    where, where_params = _where_part(compile_query(query))
    scope_sql, scope_params = _scope_sql(scope)
    sql = (
        "SELECT count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        f"WHERE {scope_sql} AND ({where})"
    )
    return int(conn.execute(sql, [*scope_params, *where_params]).fetchone()[0])
