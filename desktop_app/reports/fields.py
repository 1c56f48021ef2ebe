"""Params and metrics as chart axes: numbers where they are numbers, categories otherwise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desktop_app.registry import Run

_BOOLEANS = {"true", "false"}


@dataclass(frozen=True)
class Field:
    """A param or a metric (its last value) of a run, named ``param:KEY`` or ``metric:KEY``."""

    kind: str
    key: str

    @property
    def id(self) -> str:
        """The field as one string, ``param:lr``."""
        return f"{self.kind}:{self.key}"

    @property
    def label(self) -> str:
        """How axes and menus name the field: its key."""
        return self.key

    @staticmethod
    def parse(text: str) -> Field:
        """The field named ``param:KEY`` or ``metric:KEY``."""
        kind, _, key = text.partition(":")
        if kind not in ("param", "metric") or not key:
            raise ValueError(f"not a field: {text!r}")
        return Field(kind, key)


@dataclass(frozen=True)
class FieldValues:
    """One field across runs: per-run texts, and numbers (categories map to 0, 1, 2…)."""

    field: Field
    texts: tuple[str | None, ...]
    numbers: np.ndarray
    categories: tuple[str, ...] | None

    @property
    def categorical(self) -> bool:
        """Whether the values are labels rather than numbers."""
        return self.categories is not None


def param_number(text: str | None) -> float | None:
    """A param's value as a finite number, or None when it is not one (booleans are not)."""
    if text is None or text.strip().casefold() in _BOOLEANS:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _category_order(values: set[str]) -> list[str]:
    def key(text: str) -> tuple[int, float, str]:
        number = param_number(text)
        return (0, number, "") if number is not None else (1, 0.0, text.casefold())

    return sorted(values, key=key)


def field_values(runs: Sequence[Run], field: Field) -> FieldValues:
    """The values of a field for each run (missing ones as None / NaN)."""
    if field.kind == "metric":
        numbers = np.array(
            [r.metrics[field.key].last if field.key in r.metrics else np.nan for r in runs],
            dtype=float,
        )
        texts = tuple(None if np.isnan(v) else repr(float(v)) for v in numbers)
        return FieldValues(field, texts, numbers, None)
    texts = tuple(r.params.get(field.key) for r in runs)
    distinct = {t for t in texts if t is not None}
    parsed = {t: param_number(t) for t in distinct}
    if distinct and all(p is not None for p in parsed.values()):
        numbers = np.array([np.nan if t is None else parsed[t] for t in texts], dtype=float)
        return FieldValues(field, texts, numbers, None)
    categories = tuple(_category_order(distinct))
    index = {c: i for i, c in enumerate(categories)}
    numbers = np.array([np.nan if t is None else index[t] for t in texts], dtype=float)
    return FieldValues(field, texts, numbers, categories)
