"""Turning request values into model inputs, with a 400 for anything the model cannot take.

Both protocols end here: a numeric matrix for plain models, one checked value list per column
for table models. The checks are strict on purpose (no strings in numbers, no booleans as
numbers, nothing missing or infinite), so a bad request is refused with a message naming the
place, instead of reaching scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from desktop_app.serving.errors import RequestError, bad_request
from desktop_app.serving.model import BOOL, INTEGER, NUMBER, TEXT, Column, ServedModel

_NUMBER_TYPES = (int, float)


def check_numbers(values: Sequence[Any], where: str) -> None:
    """Refuse anything but finite JSON numbers in ``values`` (a flat list)."""
    kinds = set(map(type, values))
    if not kinds <= {int, float}:
        for index, value in enumerate(values):
            if type(value) not in _NUMBER_TYPES:
                raise bad_request(
                    f"{where}: element {index} is {_describe(value)}, expected a number"
                )
    if float in kinds and not all(map(math.isfinite, values)):
        raise bad_request(f"{where}: values must be finite numbers")


def numeric_array(data: Any) -> Any:
    """``data`` (a flat or rectangular nested list) as an int or float array, or None.

    The fast way in: one ``np.array`` call, then vectorised checks. None means "not plainly
    finite JSON numbers" (a string, null, boolean, NaN or infinity somewhere, ragged nesting,
    an integer too large for int64/uint64, nothing at all); callers then walk the values to
    refuse them with a message that names the place.
    """
    import numpy as np

    if type(data) is not list or not data:
        return None
    try:
        array = np.array(data)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    kind = array.dtype.kind
    if array.size == 0 or kind not in "fiu":
        return None
    if kind == "f" and not np.isfinite(array).all():
        return None
    # NumPy turns true/false among numbers into 1/0, so only elements equal to 0 or 1 may be
    # booleans; their Python types are looked at (all of them at C speed when there are many).
    candidates = np.flatnonzero((array == 0) | (array == 1))
    if candidates.size and _holds_bool(data, array.shape, candidates):
        return None
    return array


def _holds_bool(data: list[Any], shape: tuple[int, ...], candidates: Any) -> bool:
    """Whether a ``bool`` sits at one of the flat ``candidates`` positions of nested ``data``."""
    import itertools

    import numpy as np

    # A Python look per candidate costs ~15 times a C-speed type scan per element.
    if candidates.size * 16 > math.prod(shape):
        values: Any = data
        for _ in range(len(shape) - 1):
            values = itertools.chain.from_iterable(values)
        return bool in set(map(type, values))
    if len(shape) == 1:
        return any(type(data[i]) is bool for i in candidates.tolist())
    for index in zip(*np.unravel_index(candidates, shape), strict=True):
        node: Any = data
        for i in index:
            node = node[i]
        if type(node) is bool:
            return True
    return False


def check_finite(array: Any, where: str) -> None:
    """Refuse NaN and infinities in a numeric array."""
    import numpy as np

    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise bad_request(f"{where}: NaN and infinite values are not accepted")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value[:30]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"{type(value).__name__} {value!r:.30}"


def matrix_from_rows(model: ServedModel, rows: Any, where: str) -> Any:
    """A float64 matrix from a list of rows of n numbers each."""
    import numpy as np

    if not isinstance(rows, list) or not rows:
        raise bad_request(f"{where} must be a non-empty list of rows")
    n = model.n_features
    array = numeric_array(rows)
    if array is not None and array.ndim == 2 and array.shape[1] == n:
        return array.astype(np.float64, copy=False)
    flat: list[Any] = []
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise bad_request(f"{where}: row {index} is {_describe(row)}, expected a list")
        if len(row) != n:
            raise bad_request(
                f"{where}: row {index} has {len(row)} values; the model takes {n} features"
            )
        flat.extend(row)
    check_numbers(flat, where)
    return np.array(flat, dtype=np.float64).reshape(len(rows), n)


def column_values(column: Column, values: list[Any], where: str) -> Any:
    """A checked array for one column of a table model."""
    import numpy as np

    label = f"{where}: column {column.name!r}"
    if column.kind in (NUMBER, INTEGER):
        check_numbers(values, label)
        if column.kind == INTEGER and all(type(v) is int for v in values):
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError as exc:
                raise bad_request(f"{label}: integer out of range") from exc
        return np.array(values, dtype=np.float64)
    if column.kind == TEXT:
        for index, value in enumerate(values):
            if type(value) is not str:
                raise bad_request(f"{label}: element {index} is {_describe(value)}, expected text")
        return np.array(values, dtype=object)
    for index, value in enumerate(values):
        if type(value) is not bool:
            raise bad_request(
                f"{label}: element {index} is {_describe(value)}, expected true or false"
            )
    return np.array(values, dtype=bool)


def table_from_rows(model: ServedModel, rows: Any, where: str) -> Any:
    """A model input from rows whose values follow the model's column order (by position)."""
    if not model.mixed:
        return model.model_input(matrix_from_rows(model, rows, where))
    if not isinstance(rows, list) or not rows:
        raise bad_request(f"{where} must be a non-empty list of rows")
    columns = model.columns or []
    n = len(columns)
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise bad_request(f"{where}: row {index} is {_describe(row)}, expected a list")
        if len(row) != n:
            raise bad_request(
                f"{where}: row {index} has {len(row)} values; the model takes {n} columns"
            )
    values = [column_values(c, [row[i] for row in rows], where) for i, c in enumerate(columns)]
    return model.frame_from_columns(values)


def table_from_columns(model: ServedModel, named: dict[str, list[Any]], where: str) -> Any:
    """A model input from value lists keyed by column name (all of the model's, no others)."""
    import numpy as np

    names = model.feature_names or []
    missing = [c for c in names if c not in named]
    extra = [c for c in named if c not in model.column_index]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(repr(c) for c in missing[:10]))
        if extra:
            parts.append("unexpected " + ", ".join(repr(c) for c in extra[:10]))
        raise bad_request(
            f"{where}: the columns do not match the model's ({'; '.join(parts)}); "
            f"it takes {len(names)} columns: {', '.join(names[:20])}"
            + (" …" if len(names) > 20 else "")
        )
    if model.mixed:
        columns = model.columns or []
        values = [column_values(c, named[c.name], where) for c in columns]
        return model.frame_from_columns(values)
    flat: list[Any] = []
    for name in names:
        check_numbers(named[name], f"{where}: column {name!r}")
        flat.append(named[name])
    matrix = np.array(flat, dtype=np.float64).T.copy()
    return model.model_input(matrix)


def rows_as_records(model: ServedModel, model_input: Any, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` input rows as column → value dicts (for recording)."""
    import numpy as np

    if hasattr(model_input, "to_dict"):
        frame = model_input.iloc[:limit]
        return [
            {str(k): (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
            for record in frame.to_dict(orient="records")
        ]
    names = model.feature_names or [f"f{i}" for i in range(model.n_features)]
    matrix = np.asarray(model_input)[:limit]
    return [dict(zip(names, row, strict=True)) for row in matrix.tolist()]


BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}
__all__ = [
    "BOOL",
    "BOOL_TEXT",
    "RequestError",
    "bad_request",
    "check_finite",
    "check_numbers",
    "column_values",
    "matrix_from_rows",
    "numeric_array",
    "table_from_columns",
    "table_from_rows",
]
