"""Numbered schema migrations of the registry database.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks a file as a
ModelDesk registry so that a foreign SQLite file is refused untouched. Append a migration to
``MIGRATIONS`` to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

APPLICATION_ID = 0x4D444B31  # "MDK1"

_V1_CORE = """
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    lifecycle TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted')),
    deleted_at REAL
);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('QUEUED', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
    status_reason TEXT NOT NULL DEFAULT '',
    start_time REAL,
    end_time REAL,
    created_at REAL NOT NULL,
    parent_id TEXT REFERENCES runs(id),
    lifecycle TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'deleted')),
    deleted_at REAL,
    heartbeat REAL,
    pid INTEGER,
    pid_started REAL,
    host TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    workspace TEXT,
    git_commit TEXT,
    git_branch TEXT,
    git_remote TEXT,
    git_dirty INTEGER,
    git_snapshot TEXT
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, lifecycle, start_time);
CREATE INDEX runs_by_status ON runs(status);
CREATE INDEX runs_by_parent ON runs(parent_id);
CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params(key, value);
CREATE TABLE tags (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
-- Metric points are stored in blocks of parallel little-endian arrays (int64 steps,
-- float64 timestamps, float64 values): one block per flush and key. Reading a
-- 100,000-step series is then a handful of rows instead of 100,000.
CREATE TABLE metric_blocks (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    steps BLOB NOT NULL,
    timestamps BLOB NOT NULL,
    vals BLOB NOT NULL
);
CREATE INDEX metric_blocks_by_run ON metric_blocks(run_id, key, id);
-- One row per run and metric, kept up to date on every flush, for fast sorting and filtering.
CREATE TABLE metric_summary (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    last REAL,
    last_step INTEGER NOT NULL,
    last_timestamp REAL NOT NULL,
    min REAL,
    min_step INTEGER,
    max REAL,
    max_step INTEGER,
    count INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX metric_summary_by_key_last ON metric_summary(key, last);
"""

_V2_ASSETS = """
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'file',
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (run_id, path)
);
CREATE INDEX artifacts_by_sha ON artifacts(sha256);
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    rows INTEGER,
    columns INTEGER,
    schema TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    UNIQUE (sha256, path)
);
CREATE TABLE run_datasets (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    role TEXT NOT NULL DEFAULT 'training',
    PRIMARY KEY (run_id, dataset_id, role)
) WITHOUT ROWID;
CREATE TABLE registered_models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
    artifact_sha256 TEXT NOT NULL,
    artifact_path TEXT NOT NULL DEFAULT '',
    signature TEXT NOT NULL DEFAULT '{}',
    input_example TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    params TEXT NOT NULL DEFAULT '{}',
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'archived')),
    created_at REAL NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TABLE model_aliases (
    model_id INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    updated_at REAL NOT NULL,
    PRIMARY KEY (model_id, alias)
) WITHOUT ROWID;
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_entity ON audit_log(entity_type, entity_id);
"""


# Code provenance beyond the git_* columns: why there is no snapshot, large files left out.
_V3_CODE_INFO = """
ALTER TABLE runs ADD COLUMN code_info TEXT NOT NULL DEFAULT '{}'
"""


# The default newest-first order of every runs list, read straight from an index.
_V4_RECENCY_INDEX = """
CREATE INDEX runs_by_recency ON runs(coalesce(start_time, created_at) DESC, id)
"""


# Ordering by a metric's min or max walks these, as ordering by its last value walks
# metric_summary_by_key_last.
_V5_AGGREGATE_INDEXES = """
CREATE INDEX metric_summary_by_key_min ON metric_summary(key, min);
CREATE INDEX metric_summary_by_key_max ON metric_summary(key, max)
"""


# Input rows sampled from served requests, for charting drift against the training data. Rows
# are JSON objects (column -> value); the server keeps a bounded number per model version.
_V6_RECORDED_INPUTS = """
CREATE TABLE recorded_inputs (
    id INTEGER PRIMARY KEY,
    version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    recorded_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    row TEXT NOT NULL
);
CREATE INDEX recorded_inputs_by_version ON recorded_inputs(version_id, id)
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)

    return apply


# Index i holds the migration that takes the schema from version i to i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _script(_V1_CORE),
    _script(_V2_ASSETS),
    _script(_V3_CODE_INFO),
    _script(_V4_RECENCY_INDEX),
    _script(_V5_AGGREGATE_INDEXES),
    _script(_V6_RECORDED_INPUTS),
]
LATEST_VERSION = len(MIGRATIONS)


def backup_database(conn: sqlite3.Connection, db_path: Path, version: int) -> Path:
    """Write an online backup of the database beside it and return its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.name}.v{version}-{stamp}.bak")
    counter = 1
    while target.exists():
        target = db_path.with_name(f"{db_path.name}.v{version}-{stamp}-{counter}.bak")
        counter += 1
    backup_conn = sqlite3.connect(target)
    try:
        conn.backup(backup_conn)
    finally:
        backup_conn.close()
    return target


def migrate(
    conn: sqlite3.Connection, db_path: Path, *, target: int = LATEST_VERSION
) -> Path | None:
    """Bring the schema up to ``target``; back up first if the database already held data.

    Each migration runs in its own transaction together with the version bump, so a failure
    leaves the database at the last good version. Returns the backup's path, if one was written.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current >= target:
        return None
    backup = backup_database(conn, db_path, current) if current > 0 else None
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= target:
                conn.execute("COMMIT")
                return backup
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            if version == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
