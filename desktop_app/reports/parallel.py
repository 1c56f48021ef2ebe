"""Parallel coordinates as data: axes scaled to [0, 1], colour by a metric, brushing filters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from desktop_app.registry import Run
from desktop_app.reports.fields import Field, FieldValues, field_values
from desktop_app.reports.numeric import format_number, nice_ticks

# A text param with more distinct values than this is not offered as an axis by default.
CATEGORY_LIMIT = 24


@dataclass(frozen=True)
class Axis:
    """One vertical axis: a field's values per run scaled to [0, 1] (NaN when missing)."""

    values: FieldValues
    low: float
    high: float
    positions: np.ndarray

    @property
    def field(self) -> Field:
        """The param or metric on this axis."""
        return self.values.field

    def position_of(self, value: float) -> float:
        """Where a raw value (or category index) sits on the axis, in [0, 1]."""
        if self.values.categorical:
            count = len(self.values.categories or ())
            return 0.5 if count <= 1 else value / (count - 1)
        if self.high == self.low:
            return 0.5
        return (value - self.low) / (self.high - self.low)

    def value_at(self, position: float) -> float:
        """The raw value at a position in [0, 1] (the inverse of ``position_of``)."""
        if self.values.categorical:
            count = len(self.values.categories or ())
            return 0.0 if count <= 1 else position * (count - 1)
        return self.low + position * (self.high - self.low)

    def ticks(self, count: int = 5) -> list[tuple[float, str]]:
        """(position, label) pairs to print beside the axis."""
        if self.values.categorical:
            categories = self.values.categories or ()
            return [(self.position_of(i), c) for i, c in enumerate(categories)]
        if not math.isfinite(self.low):
            return []
        if self.high == self.low:
            return [(0.5, format_number(self.low))]
        return [
            (self.position_of(v), format_number(v)) for v in nice_ticks(self.low, self.high, count)
        ]


@dataclass(frozen=True)
class ParallelData:
    """Every axis, and the colour value of each run (its metric scaled to [0, 1])."""

    run_ids: tuple[str, ...]
    axes: tuple[Axis, ...]
    colour_axis: Axis | None

    def matrix(self) -> np.ndarray:
        """Positions as an array of shape (runs, axes)."""
        if not self.axes:
            return np.empty((len(self.run_ids), 0))
        return np.column_stack([axis.positions for axis in self.axes])

    def colour_values(self) -> np.ndarray:
        """Each run's colour metric scaled to [0, 1] (NaN when missing)."""
        if self.colour_axis is None:
            return np.full(len(self.run_ids), np.nan)
        return self.colour_axis.positions


def make_axis(runs: Sequence[Run], field: Field) -> Axis:
    """An axis for one field across these runs."""
    values = field_values(runs, field)
    numbers = values.numbers
    if values.categorical:
        count = len(values.categories or ())
        low, high = 0.0, float(max(count - 1, 0))
    else:
        finite = numbers[np.isfinite(numbers)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
    if high > low:
        positions = (numbers - low) / (high - low)
    else:
        positions = np.where(np.isfinite(numbers), 0.5, np.nan)
    return Axis(values, low, high, np.asarray(positions, dtype=float))


def build_parallel(
    runs: Sequence[Run], fields: Sequence[Field], colour_by: Field | None = None
) -> ParallelData:
    """Axes for the fields (the colour metric usually last among them)."""
    axes = tuple(make_axis(runs, f) for f in fields)
    colour_axis = None
    if colour_by is not None:
        colour_axis = next((a for a in axes if a.field == colour_by), None) or make_axis(
            runs, colour_by
        )
    return ParallelData(tuple(run.id for run in runs), axes, colour_axis)


def brushed_runs(data: ParallelData, brushes: Mapping[str, tuple[float, float]]) -> list[str]:
    """The runs whose line passes every brush; a brush is a (low, high) position on one axis.

    ``brushes`` maps a field id (``param:lr``) to its range; with no brushes every run passes.
    """
    keep = np.ones(len(data.run_ids), dtype=bool)
    for axis in data.axes:
        brush = brushes.get(axis.field.id)
        if brush is None:
            continue
        low, high = sorted(brush)
        positions = axis.positions
        with np.errstate(invalid="ignore"):
            keep &= (positions >= low - 1e-9) & (positions <= high + 1e-9)
    return [run_id for run_id, ok in zip(data.run_ids, keep, strict=True) if ok]


def default_fields(runs: Sequence[Run], metric: str | None, limit: int = 6) -> list[Field]:
    """The params that differ between runs (not free text unique to each run), then the metric."""
    from desktop_app.reports.comparison import param_keys

    chosen = []
    for key in param_keys(runs):
        values = field_values(runs, Field("param", key))
        distinct = {t for t in values.texts if t is not None}
        if len(distinct) < 2:
            continue
        if values.categorical and len(distinct) > CATEGORY_LIMIT:
            continue
        chosen.append(Field("param", key))
        if len(chosen) >= limit:
            break
    if metric is not None:
        chosen.append(Field("metric", metric))
    return chosen
