"""Metric series storage: points written in blocks, a summary row kept per run and key."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from desktop_app.registry.entities import MetricPoint, MetricSeries

_STEP_DTYPE = np.dtype("<i8")
_FLOAT_DTYPE = np.dtype("<f8")

_UPSERT_SUMMARY = """
INSERT INTO metric_summary
    (run_id, key, last, last_step, last_timestamp, min, min_step, max, max_step, count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET
    last = CASE WHEN excluded.last_step > last_step OR
        (excluded.last_step = last_step AND excluded.last_timestamp >= last_timestamp)
        THEN excluded.last ELSE last END,
    last_timestamp = CASE WHEN excluded.last_step > last_step OR
        (excluded.last_step = last_step AND excluded.last_timestamp >= last_timestamp)
        THEN excluded.last_timestamp ELSE last_timestamp END,
    last_step = max(last_step, excluded.last_step),
    min_step = CASE WHEN excluded.min IS NOT NULL AND (min IS NULL OR excluded.min < min)
        THEN excluded.min_step ELSE min_step END,
    min = CASE WHEN excluded.min IS NOT NULL AND (min IS NULL OR excluded.min < min)
        THEN excluded.min ELSE min END,
    max_step = CASE WHEN excluded.max IS NOT NULL AND (max IS NULL OR excluded.max > max)
        THEN excluded.max_step ELSE max_step END,
    max = CASE WHEN excluded.max IS NOT NULL AND (max IS NULL OR excluded.max > max)
        THEN excluded.max ELSE max END,
    count = count + excluded.count
"""


def _nullable(value: float) -> float | None:
    # SQLite stores NaN as NULL anyway; say so explicitly.
    return None if np.isnan(value) else float(value)


def write_points(conn: sqlite3.Connection, run_id: str, points: Sequence[MetricPoint]) -> None:
    """Append points to a run's series (call inside a write transaction)."""
    by_key: dict[str, list[MetricPoint]] = defaultdict(list)
    for point in points:
        by_key[point[0]].append(point)
    blocks = []
    summaries = []
    for key, key_points in by_key.items():
        _keys, raw_values, raw_steps, raw_stamps = zip(*key_points, strict=True)
        values = np.array(raw_values, _FLOAT_DTYPE)
        steps = np.array(raw_steps, _STEP_DTYPE)
        stamps = np.array(raw_stamps, _FLOAT_DTYPE)
        blocks.append(
            (
                run_id,
                key,
                len(key_points),
                int(steps.min()),
                int(steps.max()),
                steps.tobytes(),
                stamps.tobytes(),
                values.tobytes(),
            )
        )
        summaries.append((run_id, key, *_summarise(steps, stamps, values)))
    conn.executemany(
        "INSERT INTO metric_blocks (run_id, key, n, first_step, last_step, steps, timestamps, vals)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        blocks,
    )
    conn.executemany(_UPSERT_SUMMARY, summaries)


def _summarise(steps: np.ndarray, stamps: np.ndarray, values: np.ndarray) -> tuple[object, ...]:
    last_index = int(np.lexsort((stamps, steps))[-1])
    has_nan = bool(np.isnan(values).any())
    if not has_nan or not np.isnan(values).all():
        argmin, argmax = (np.nanargmin, np.nanargmax) if has_nan else (np.argmin, np.argmax)
        min_index = int(argmin(values))
        max_index = int(argmax(values))
        min_value, min_step = float(values[min_index]), int(steps[min_index])
        max_value, max_step = float(values[max_index]), int(steps[max_index])
    else:
        min_value = max_value = None  # type: ignore[assignment]
        min_step = max_step = None  # type: ignore[assignment]
    return (
        _nullable(values[last_index]),
        int(steps[last_index]),
        float(stamps[last_index]),
        min_value,
        min_step,
        max_value,
        max_step,
        len(values),
    )


def read_series(conn: sqlite3.Connection, run_id: str, key: str) -> MetricSeries:
    """All points of one metric of one run, ordered by step (then logging order)."""
    rows = conn.execute(
        "SELECT steps, timestamps, vals FROM metric_blocks WHERE run_id = ? AND key = ? "
        "ORDER BY id",
        (run_id, key),
    ).fetchall()
    if not rows:
        empty_f = np.empty(0, _FLOAT_DTYPE)
        return MetricSeries(key, np.empty(0, _STEP_DTYPE), empty_f, empty_f.copy())
    steps = np.concatenate([np.frombuffer(r[0], _STEP_DTYPE) for r in rows])
    stamps = np.concatenate([np.frombuffer(r[1], _FLOAT_DTYPE) for r in rows])
    values = np.concatenate([np.frombuffer(r[2], _FLOAT_DTYPE) for r in rows])
    if steps.size > 1 and bool(np.any(steps[1:] < steps[:-1])):
        order = np.argsort(steps, kind="stable")
        steps, stamps, values = steps[order], stamps[order], values[order]
    return MetricSeries(key, steps, stamps, values)


def metric_keys(conn: sqlite3.Connection, run_ids: Iterable[str] | None = None) -> list[str]:
    """Metric names logged by the given runs (or by any run)."""
    if run_ids is None:
        rows = conn.execute("SELECT DISTINCT key FROM metric_summary ORDER BY key").fetchall()
    else:
        ids = list(run_ids)
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT DISTINCT key FROM metric_summary WHERE run_id IN ({marks}) ORDER BY key", ids
        ).fetchall()
    return [r[0] for r in rows]
