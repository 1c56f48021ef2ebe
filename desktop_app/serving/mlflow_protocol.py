"""MLflow's scoring protocol: ``/invocations`` with the four JSON layouts or CSV.

Columns are matched by name when the model knows its feature names, else by position; see
SERVING_PROTOCOL.md §2. Plain functions over bytes, like ``v2``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from desktop_app.serving.inputs import (
    BOOL_TEXT,
    RequestError,
    bad_request,
    check_numbers,
    matrix_from_rows,
    table_from_columns,
    table_from_rows,
)
from desktop_app.serving.model import BOOL, INTEGER, NUMBER, TEXT, ServedModel

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPE, CSV_TYPE = "application/json", "text/csv"


def media_type(content_type: bytes | None) -> str:
    """``application/json`` or ``text/csv`` (charset utf-8 allowed); 415 for anything else."""
    if content_type is None:
        raise RequestError(
            415, "no Content-Type; send application/json or text/csv (charset utf-8)"
        )
    text = content_type.decode("latin-1")
    parts = [p.strip() for p in text.split(";")]
    kind = parts[0].lower()
    if kind not in (JSON_TYPE, CSV_TYPE):
        raise RequestError(
            415, f"Content-Type {text!r} is not supported; send application/json or text/csv"
        )
    for param in parts[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise RequestError(
                415, f"Content-Type parameter {param!r} is not supported (only charset=utf-8)"
            )
    return kind


def decode(model: ServedModel, content_type: bytes | None, body: bytes) -> Any:
    """The model input of an ``/invocations`` request."""
    kind = media_type(content_type)
    if kind == CSV_TYPE:
        return _from_csv(model, body)
    if not body.strip():
        raise bad_request("the request body is empty")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad_request(
            "the request body must be a JSON object with one of " + ", ".join(FORMATS)
        )
    keys = [k for k in FORMATS if k in document]
    unknown = [k for k in document if k not in FORMATS and k != "params"]
    if len(keys) != 1 or unknown:
        found = ", ".join(repr(k) for k in document) or "no keys"
        raise bad_request(
            f"the JSON object must hold exactly one of {', '.join(FORMATS)} "
            f"(and optionally params); it holds {found}"
        )
    key = keys[0]
    value = document[key]
    if key == "dataframe_split":
        return _from_split(model, value)
    if key == "dataframe_records":
        return _from_records(model, value)
    return _from_rows(model, value, key)


def _from_rows(model: ServedModel, rows: Any, where: str) -> Any:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise bad_request(f"{where} must be a non-empty list of rows (lists of values)")
    return table_from_rows(model, rows, where)


def _from_split(model: ServedModel, split: Any) -> Any:
    where = "dataframe_split"
    if not isinstance(split, dict):
        raise bad_request(f"{where} must be an object with 'data' (and optionally 'columns')")
    if "data" not in split:
        raise bad_request(f"{where} has no 'data'")
    rows = split["data"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise bad_request(f"{where}.data must be a non-empty list of rows")
    columns = split.get("columns")
    if columns is None or model.feature_names is None:
        if columns is not None and (
            not isinstance(columns, list) or len(columns) != model.n_features
        ):
            raise bad_request(
                f"{where}.columns names {len(columns) if isinstance(columns, list) else 'no'} "
                f"columns; the model takes {model.n_features}"
            )
        return table_from_rows(model, rows, f"{where}.data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise bad_request(f"{where}.columns must be a list of strings")
    if len(set(columns)) != len(columns):
        raise bad_request(f"{where}.columns names a column twice")
    if columns == model.feature_names and not model.mixed:
        # Already in the model's order: the fast path of a plain numeric model.
        return model.model_input(matrix_from_rows(model, rows, f"{where}.data"))
    width = len(columns)
    named: dict[str, list[Any]] = {c: [] for c in columns}
    for index, row in enumerate(rows):
        if len(row) != width:
            raise bad_request(
                f"{where}.data: row {index} has {len(row)} values for {width} columns"
            )
        for column, value in zip(columns, row, strict=True):
            named[column].append(value)
    return table_from_columns(model, named, f"{where}")


def _from_records(model: ServedModel, records: Any) -> Any:
    where = "dataframe_records"
    if not isinstance(records, list) or not records:
        raise bad_request(f"{where} must be a non-empty list of objects (column → value)")
    first = records[0]
    if not isinstance(first, dict):
        raise bad_request(f"{where}[0] must be an object (column → value)")
    columns = list(first)
    width = len(columns)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise bad_request(f"{where}[{index}] must be an object (column → value)")
        if len(record) != width:
            raise bad_request(f"{where}[{index}] has other columns than the first record")
    try:
        # Same number of keys and every one of the first record's: the same columns.
        named: dict[str, list[Any]] = {c: [record[c] for record in records] for c in columns}
    except KeyError:
        index = next(i for i, record in enumerate(records) if record.keys() != first.keys())
        raise bad_request(f"{where}[{index}] has other columns than the first record") from None
    if model.feature_names is not None:
        return table_from_columns(model, named, where)
    if len(columns) != model.n_features:
        raise bad_request(
            f"{where}: records have {len(columns)} columns; the model takes {model.n_features}"
        )
    rows = [[record[c] for c in columns] for record in records]
    return table_from_rows(model, rows, where)


def _parse_cell(text: str, kind: str, line: int, column: str) -> Any:
    if kind == TEXT:
        return text
    if kind == BOOL:
        value = BOOL_TEXT.get(text.strip().lower())
        if value is None:
            raise bad_request(f"CSV line {line}, {column!r}: {text[:30]!r} is not true or false")
        return value
    stripped = text.strip()
    try:
        number: Any = int(stripped) if kind == INTEGER and stripped.lstrip("-").isdigit() else None
        if number is None:
            number = float(stripped)
    except ValueError:
        raise bad_request(f"CSV line {line}, {column!r}: {text[:30]!r} is not a number") from None
    return number


def _parse_column(cells: tuple[str, ...], kind: str, column: str) -> list[Any]:
    """A CSV column's cells as values of the column's kind (lines count from 2)."""
    if kind == NUMBER:
        import numpy as np

        try:
            # numpy parses a column of decimal strings as float() does, in one call.
            return np.array(cells, dtype=np.float64).tolist()
        except ValueError:
            pass  # a cell is not a number: the loop below finds it and names it
    return [_parse_cell(cell, kind, line, column) for line, cell in enumerate(cells, start=2)]


def _from_csv(model: ServedModel, body: bytes) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_request("the CSV body is not valid UTF-8") from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise bad_request(f"malformed CSV: {exc}") from None
    lines = [line for line in lines if line]
    if not lines:
        raise bad_request("the CSV body is empty; send a header line and one line per row")
    header, rows = lines[0], lines[1:]
    if not rows:
        raise bad_request("the CSV body has a header but no rows")
    width = len(header)
    if len(set(header)) != width:
        raise bad_request("the CSV header names a column twice")
    kinds: dict[str, str] = {}
    if model.columns is not None:
        kinds = {c.name: c.kind for c in model.columns}
    for index, row in enumerate(rows, start=2):
        if len(row) != width:
            raise bad_request(f"CSV line {index} has {len(row)} fields; the header has {width}")
    named: dict[str, list[Any]] = {
        column: _parse_column(cells, kinds.get(column, NUMBER), column)
        for column, cells in zip(header, zip(*rows, strict=True), strict=True)
    }
    if model.feature_names is not None:
        return table_from_columns(model, named, "CSV")
    if width != model.n_features:
        raise bad_request(f"the CSV has {width} columns; the model takes {model.n_features}")
    flat = [named[h] for h in header]
    for column, values in zip(header, flat, strict=True):
        check_numbers(values, f"CSV column {column!r}")
    return table_from_rows(model, [list(r) for r in zip(*flat, strict=True)], "CSV")


def encode_predictions(predictions: Any) -> bytes:
    """``{"predictions": [...]}`` with one element per row."""
    if predictions.dtype.kind in "iufb" and predictions.flags.c_contiguous:
        return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps({"predictions": predictions.tolist()}, default=str)


def error_body(message: str, code: str) -> bytes:
    """An MLflow error document."""
    return orjson.dumps({"error_code": code, "message": message or "error"})
