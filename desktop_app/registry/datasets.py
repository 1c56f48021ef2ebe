"""Dataset records: which data a run used, identified by SHA-256, with its shape and schema."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.errors import InvalidValueError, NotFoundError
from desktop_app.registry.artifacts import sha256_of_file
from desktop_app.registry.db import Database

_SCHEMA_SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class Dataset:
    """A dataset as recorded for a run."""

    id: int
    sha256: str
    path: str
    name: str
    rows: int | None
    columns: int | None
    schema: list[dict[str, str]]
    role: str = ""


def _cell_type(text: str) -> str:
    for kind, parse in (("integer", int), ("float", float)):
        try:
            parse(text)
            return kind
        except ValueError:
            continue
    return "string"


def describe_csv(path: Path) -> tuple[int, int, list[dict[str, str]]]:
    """Rows, columns and a column schema of a delimited text file (types from a sample)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        sample = handle.read(65536)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        header = next(reader, [])
        kinds: list[set[str]] = [set() for _ in header]
        rows = 0
        for row in reader:
            if rows < _SCHEMA_SAMPLE_ROWS:
                for index, cell in enumerate(row[: len(header)]):
                    if cell.strip():
                        kinds[index].add(_cell_type(cell.strip()))
            rows += 1
    schema = []
    for name, seen in zip(header, kinds, strict=True):
        if seen <= {"integer"} and seen:
            dtype = "integer"
        elif seen <= {"integer", "float"} and seen:
            dtype = "float"
        else:
            dtype = "string"
        schema.append({"name": name, "type": dtype})
    return rows, len(header), schema


def describe_array(data: Any) -> tuple[str, int | None, int | None, list[dict[str, str]]]:
    """SHA-256, rows, columns and schema of an in-memory table (NumPy array or DataFrame)."""
    if hasattr(data, "columns") and hasattr(data, "dtypes"):
        import pandas as pd

        hashed = pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes()
        digest = hashlib.sha256(hashed)
        digest.update(json.dumps([str(c) for c in data.columns]).encode())
        schema = [
            {"name": str(c), "type": str(t)} for c, t in zip(data.columns, data.dtypes, strict=True)
        ]
        return digest.hexdigest(), int(data.shape[0]), int(data.shape[1]), schema
    import numpy as np

    array = np.ascontiguousarray(np.asarray(data))
    if array.dtype == object:
        raise InvalidValueError("Arrays of Python objects cannot be fingerprinted; use a file.")
    digest = hashlib.sha256(array.tobytes())
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    rows = int(array.shape[0]) if array.ndim >= 1 else None
    columns = int(array.shape[1]) if array.ndim >= 2 else (1 if array.ndim == 1 else None)
    return digest.hexdigest(), rows, columns, [{"name": "*", "type": str(array.dtype)}]


class DatasetsMixin:
    """Dataset methods of ``Registry``."""

    db: Database

    def log_dataset(
        self,
        run_id: str,
        source: str | os.PathLike[str] | Any,
        *,
        name: str = "",
        role: str = "training",
    ) -> Dataset:
        """Record the data a run used: a file (hashed; CSV described) or an in-memory table."""
        if isinstance(source, str | os.PathLike):
            path = Path(source).expanduser().resolve()
            if not path.is_file():
                raise NotFoundError(f"No such data file: {path}")
            sha = sha256_of_file(path)
            rows = columns = None
            schema: list[dict[str, str]] = []
            if path.suffix.lower() in (".csv", ".tsv", ".txt"):
                rows, columns, schema = describe_csv(path)
            location = str(path)
            name = name or path.name
        else:
            sha, rows, columns, schema = describe_array(source)
            location = ""
            name = name or type(source).__name__
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO datasets (sha256, path, name, rows, columns, schema, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256, path) DO NOTHING",
                (sha, location, name, rows, columns, json.dumps(schema), time.time()),
            )
            dataset_id = conn.execute(
                "SELECT id FROM datasets WHERE sha256 = ? AND path = ?", (sha, location)
            ).fetchone()[0]
            conn.execute(
                "INSERT OR IGNORE INTO run_datasets (run_id, dataset_id, role) VALUES (?, ?, ?)",
                (run_id, dataset_id, role),
            )
        return Dataset(dataset_id, sha, location, name, rows, columns, schema, role)

    def list_run_datasets(self, run_id: str) -> list[Dataset]:
        """The datasets a run recorded, with their roles."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT d.id, d.sha256, d.path, d.name, d.rows, d.columns, d.schema, rd.role "
                "FROM run_datasets rd JOIN datasets d ON d.id = rd.dataset_id "
                "WHERE rd.run_id = ? ORDER BY rd.role, d.name",
                (run_id,),
            )
            .fetchall()
        )
        return [Dataset(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7]) for r in rows]
