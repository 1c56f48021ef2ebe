"""Registered models, their numbered versions and aliases (``champion``, ``challenger`` …).

A version points at a run's model artifact by SHA-256, so it survives the run being purged.
Every alias change is written to the audit log with the version it replaced.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from desktop_app.errors import ConflictError, InvalidValueError, NotFoundError
from desktop_app.registry.artifacts import ArtifactStore
from desktop_app.registry.audit import record_audit
from desktop_app.registry.db import Database
from desktop_app.registry.validation import check_name

_ALIAS_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class RegisteredModel:
    """A named model with its versions and aliases."""

    id: int
    name: str
    description: str
    created_at: float
    updated_at: float
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    id: int
    model_name: str
    version: int
    run_id: str | None
    artifact_sha256: str
    artifact_path: str
    signature: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    description: str
    tags: dict[str, str]
    status: str
    created_at: float
    aliases: tuple[str, ...] = ()
    # A few rows of the model's input as records (``[{"column": value, ...}, ...]``), or None.
    input_example: list[dict[str, Any]] | None = None


_VERSION_COLUMNS = (
    "v.id, m.name, v.version, v.run_id, v.artifact_sha256, v.artifact_path, v.signature, "
    "v.metrics, v.params, v.description, v.tags, v.status, v.created_at, v.input_example"
)


class ModelRegistryMixin:
    """Model registry methods of ``Registry``."""

    db: Database
    artifacts: ArtifactStore

    def create_registered_model(self, name: str, description: str = "") -> RegisteredModel:
        """Create an empty registered model; the name must be new."""
        name = check_name(name, "Model")
        now = time.time()
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM registered_models WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"A model named {name!r} already exists.")
            conn.execute(
                "INSERT INTO registered_models (name, description, created_at, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (name, description, now, now),
            )
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """One registered model with its aliases."""
        conn = self.db.connection()
        row = conn.execute(
            "SELECT m.id, m.name, m.description, m.created_at, m.updated_at, "
            "(SELECT max(version) FROM model_versions WHERE model_id = m.id) "
            "FROM registered_models m WHERE m.name = ?",
            (name,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"No registered model {name!r}.")
        aliases = dict(
            conn.execute(
                "SELECT a.alias, v.version FROM model_aliases a "
                "JOIN model_versions v ON v.id = a.version_id WHERE a.model_id = ? "
                "ORDER BY a.alias",
                (row[0],),
            ).fetchall()
        )
        return RegisteredModel(row[0], row[1], row[2], row[3], row[4], row[5], aliases)

    def list_registered_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        names = [
            r[0]
            for r in self.db.connection().execute(
                "SELECT name FROM registered_models ORDER BY name COLLATE NOCASE"
            )
        ]
        return [self.get_registered_model(n) for n in names]

    def create_model_version(
        self,
        name: str,
        *,
        artifact_sha256: str,
        run_id: str | None = None,
        artifact_path: str = "",
        signature: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        input_example: Any = None,
    ) -> ModelVersion:
        """Register a stored model file as the next version of ``name`` (created if new)."""
        name = check_name(name, "Model")
        if not self.artifacts.exists(artifact_sha256):
            raise NotFoundError(f"No stored artifact {artifact_sha256[:12]} to register.")
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT id FROM registered_models WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO registered_models (name, created_at, updated_at) VALUES (?, ?, ?)",
                    (name, now, now),
                )
                model_id = int(cursor.lastrowid or 0)
            else:
                model_id = int(row[0])
            version = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE model_id = ?",
                (model_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO model_versions (model_id, version, run_id, artifact_sha256, "
                "artifact_path, signature, input_example, metrics, params, description, tags, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id,
                    version,
                    run_id,
                    artifact_sha256,
                    artifact_path,
                    json.dumps(dict(signature or {})),
                    None if input_example is None else json.dumps(input_example),
                    json.dumps(dict(metrics or {})),
                    json.dumps(dict(params or {})),
                    description,
                    json.dumps(dict(tags or {})),
                    now,
                ),
            )
            conn.execute(
                "UPDATE registered_models SET updated_at = ? WHERE id = ?", (now, model_id)
            )
            record_audit(conn, "register", "model", name, {"version": version, "run_id": run_id})
        return self.get_model_version(name, version)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """A version by number, or by alias when ``version`` is a name like ``champion``."""
        conn = self.db.connection()
        if isinstance(version, str) and not version.isdigit():
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_aliases a "
                "JOIN registered_models m ON m.id = a.model_id "
                "JOIN model_versions v ON v.id = a.version_id WHERE m.name = ? AND a.alias = ?",
                (name, version),
            ).fetchone()
        else:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_versions v "
                "JOIN registered_models m ON m.id = v.model_id WHERE m.name = ? AND v.version = ?",
                (name, int(version)),
            ).fetchone()
        if row is None:
            _missing_version(conn, name, version)
        return _version_from_row(conn, row)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        conn = self.db.connection()
        rows = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions v "
            "JOIN registered_models m ON m.id = v.model_id WHERE m.name = ? "
            "ORDER BY v.version DESC",
            (name,),
        ).fetchall()
        return [_version_from_row(conn, row) for row in rows]

    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at a version (moving it if it pointed elsewhere)."""
        if not _ALIAS_PATTERN.match(alias) or alias.isdigit():
            raise InvalidValueError(
                f"Alias {alias!r} must start with a letter and use letters, digits, '_' or '-'."
            )
        with self.db.write() as conn:
            target = conn.execute(
                "SELECT v.id, m.id FROM model_versions v JOIN registered_models m "
                "ON m.id = v.model_id WHERE m.name = ? AND v.version = ?",
                (name, version),
            ).fetchone()
            if target is None:
                _missing_version(conn, name, version)
            previous = conn.execute(
                "SELECT v.version FROM model_aliases a "
                "JOIN model_versions v ON v.id = a.version_id "
                "WHERE a.model_id = ? AND a.alias = ?",
                (target[1], alias),
            ).fetchone()
            conn.execute(
                "INSERT INTO model_aliases (model_id, alias, version_id, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (model_id, alias) DO UPDATE SET "
                "version_id = excluded.version_id, updated_at = excluded.updated_at",
                (target[1], alias, target[0], time.time()),
            )
            record_audit(
                conn,
                "alias",
                "model",
                name,
                {"alias": alias, "version": version, "previous": previous[0] if previous else None},
            )

    def delete_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias from a model."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT a.model_id, v.version FROM model_aliases a "
                "JOIN registered_models m ON m.id = a.model_id "
                "JOIN model_versions v ON v.id = a.version_id WHERE m.name = ? AND a.alias = ?",
                (name, alias),
            ).fetchone()
            if row is None:
                _missing_version(conn, name, alias)
            conn.execute(
                "DELETE FROM model_aliases WHERE model_id = ? AND alias = ?", (row[0], alias)
            )
            record_audit(
                conn, "alias", "model", name, {"alias": alias, "version": None, "previous": row[1]}
            )

    def set_model_version_status(self, name: str, version: int, status: str) -> None:
        """Archive (``archived``) or restore (``ready``) a version."""
        if status not in ("ready", "archived"):
            raise InvalidValueError(f"Unknown model version status {status!r}.")
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE model_versions SET status = ? WHERE version = ? AND model_id = "
                "(SELECT id FROM registered_models WHERE name = ?)",
                (status, version, name),
            )
            if not cursor.rowcount:
                _missing_version(conn, name, version)
            action = "archive" if status == "archived" else "restore"
            record_audit(conn, action, "model", name, {"version": version})

    def list_model_audit(self, name: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A model's audit entries (register, alias moves, archive, restore), newest first."""
        rows = self.db.connection().execute(
            "SELECT at, action, detail FROM audit_log WHERE entity_type = 'model' "
            "AND entity_id = ? ORDER BY id DESC LIMIT ?",
            (name, limit),
        )
        return [{"at": r[0], "action": r[1], "detail": json.loads(r[2])} for r in rows]


def _missing_version(conn: sqlite3.Connection, name: str, version: int | str) -> NoReturn:
    """Raise the precise not-found error: no such model, alias or version number."""
    if conn.execute("SELECT 1 FROM registered_models WHERE name = ?", (name,)).fetchone() is None:
        raise NotFoundError(f"No registered model {name!r}.")
    if isinstance(version, str) and not version.isdigit():
        raise NotFoundError(f"Model {name!r} has no alias {version!r}.")
    raise NotFoundError(f"Model {name!r} has no version {version}.")


def _version_from_row(conn: sqlite3.Connection, row: tuple) -> ModelVersion:
    aliases = tuple(
        r[0]
        for r in conn.execute(
            "SELECT alias FROM model_aliases WHERE version_id = ? ORDER BY alias", (row[0],)
        )
    )
    return ModelVersion(
        id=row[0],
        model_name=row[1],
        version=row[2],
        run_id=row[3],
        artifact_sha256=row[4],
        artifact_path=row[5],
        signature=json.loads(row[6]),
        metrics=json.loads(row[7]),
        params=json.loads(row[8]),
        description=row[9],
        tags=json.loads(row[10]),
        status=row[11],
        created_at=row[12],
        aliases=aliases,
        input_example=None if row[13] is None else json.loads(row[13]),
    )
