"""Input rows recorded from served requests: a bounded sample per model version, for drift charts.

A model server writes the rows (sampled, off its request path); the app reads them back to
compare live inputs with the training data. Each version keeps at most ``max_rows`` rows: the
oldest are dropped when new ones arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.errors import InvalidValueError, NotFoundError
from desktop_app.registry.db import Database

DEFAULT_MAX_RECORDED_ROWS = 10_000


@dataclass(frozen=True)
class RecordedInput:
    """One input row a model server received."""

    id: int
    model_name: str
    version: int
    recorded_at: float
    source: str
    row: dict[str, Any]


class RecordedInputsMixin:
    """Recorded-input methods of ``Registry``."""

    db: Database

    def _version_id(self, name: str, version: int) -> int:
        row = (
            self.db.connection()
            .execute(
                "SELECT v.id FROM model_versions v JOIN registered_models m ON m.id = v.model_id "
                "WHERE m.name = ? AND v.version = ?",
                (name, int(version)),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"Model {name!r} has no version {version!r}.")
        return int(row[0])

    def record_inputs(
        self,
        name: str,
        version: int,
        rows: Sequence[Mapping[str, Any]],
        *,
        source: str = "",
        recorded_at: float | None = None,
        max_rows: int = DEFAULT_MAX_RECORDED_ROWS,
    ) -> int:
        """Store input rows of a version, dropping its oldest beyond ``max_rows``; return count."""
        if max_rows < 1:
            raise InvalidValueError(f"max_rows must be at least 1, got {max_rows}.")
        if not rows:
            return 0
        version_id = self._version_id(name, version)
        at = time.time() if recorded_at is None else float(recorded_at)
        texts = [json.dumps(dict(row), allow_nan=False, default=str) for row in rows[-max_rows:]]
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO recorded_inputs (version_id, recorded_at, source, row) "
                "VALUES (?, ?, ?, ?)",
                [(version_id, at, source, text) for text in texts],
            )
            # Rows are kept newest-last by id; anything older than the newest max_rows goes.
            conn.execute(
                "DELETE FROM recorded_inputs WHERE version_id = ? AND id <= ("
                "SELECT id FROM recorded_inputs WHERE version_id = ? "
                "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (version_id, version_id, max_rows),
            )
        return len(texts)

    def list_recorded_inputs(
        self,
        name: str,
        version: int | None = None,
        *,
        since: float | None = None,
        limit: int | None = 1000,
    ) -> list[RecordedInput]:
        """Recorded rows of a model (one version, or all), oldest first; the newest ``limit``."""
        sql = (
            "SELECT r.id, m.name, v.version, r.recorded_at, r.source, r.row FROM recorded_inputs r "
            "JOIN model_versions v ON v.id = r.version_id "
            "JOIN registered_models m ON m.id = v.model_id WHERE m.name = ?"
        )
        args: list[Any] = [name]
        if version is not None:
            sql += " AND v.version = ?"
            args.append(int(version))
        if since is not None:
            sql += " AND r.recorded_at >= ?"
            args.append(float(since))
        sql += " ORDER BY r.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        rows = self.db.connection().execute(sql, args).fetchall()
        return [
            RecordedInput(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in reversed(rows)
        ]

    def count_recorded_inputs(self, name: str, version: int | None = None) -> int:
        """How many rows are recorded for a model (one version, or all)."""
        sql = (
            "SELECT count(*) FROM recorded_inputs r JOIN model_versions v ON v.id = r.version_id "
            "JOIN registered_models m ON m.id = v.model_id WHERE m.name = ?"
        )
        args: list[Any] = [name]
        if version is not None:
            sql += " AND v.version = ?"
            args.append(int(version))
        return int(self.db.connection().execute(sql, args).fetchone()[0])

    def delete_recorded_inputs(self, name: str, version: int | None = None) -> int:
        """Forget the recorded rows of a model (one version, or all); return how many went."""
        sql = (
            "DELETE FROM recorded_inputs WHERE version_id IN (SELECT v.id FROM model_versions v "
            "JOIN registered_models m ON m.id = v.model_id WHERE m.name = ?"
        )
        args: list[Any] = [name]
        if version is not None:
            sql += " AND v.version = ?"
            args.append(int(version))
        with self.db.write() as conn:
            return int(conn.execute(sql + ")", args).rowcount)
