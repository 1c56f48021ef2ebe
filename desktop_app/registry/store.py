"""The registry facade: one object per open registry folder, methods grouped by entity.

Methods are named verb_noun as in MLflow's stores; conveniences (``log_metric``) are built on
one primitive (``log_batch``). Every multi-row change runs in one transaction.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from desktop_app.errors import ConflictError, InvalidValueError, NotFoundError, RegistryError
from desktop_app.registry import liveness
from desktop_app.registry.artifacts import ArtifactStore
from desktop_app.registry.audit import record_audit
from desktop_app.registry.datasets import DatasetsMixin
from desktop_app.registry.db import Database
from desktop_app.registry.entities import (
    Artifact,
    Experiment,
    MetricPoint,
    MetricSeries,
    MetricSummary,
    PurgeReport,
    Run,
    RunStatus,
)
from desktop_app.registry.models import ModelRegistryMixin
from desktop_app.registry.recordings import RecordedInputsMixin
from desktop_app.registry.search import RunScope, count_runs, search_run_ids
from desktop_app.registry.validation import (
    check_key,
    check_metric_value,
    check_name,
    check_param_value,
    check_step,
    check_tag_value,
)

DEFAULT_EXPERIMENT = "Default"
_RUN_COLUMNS = (
    "r.id, r.name, r.experiment_id, e.name, r.status, r.status_reason, r.start_time, "
    "r.end_time, r.parent_id, r.lifecycle, r.host, r.pid, r.source, r.note, r.heartbeat, "
    "r.workspace, r.git_commit, r.git_branch, r.git_remote, r.git_dirty, r.git_snapshot, "
    "r.code_info"
)


def new_run_id() -> str:
    """A fresh run id: 16 hex digits, unique in practice and short enough to read."""
    return uuid.uuid4().hex[:16]


class Registry(ModelRegistryMixin, DatasetsMixin, RecordedInputsMixin):
    """An open registry folder: ``registry.db`` beside ``artifacts/``."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        self.db = Database(self.root, create=create)
        self.artifacts = ArtifactStore(self.root / "artifacts")
        self.host = socket.gethostname()
        self.reap_lost_runs()

    def close(self) -> None:
        """Close the database connections."""
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- experiments -------------------------------------------------------------------------

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment; a name already in use is an error."""
        name = check_name(name, "Experiment")
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
            if row is not None:
                raise ConflictError(f"An experiment named {name!r} already exists.")
            conn.execute(
                "INSERT INTO experiments (name, description, created_at) VALUES (?, ?, ?)",
                (name, description, time.time()),
            )
        return self.get_experiment(name)

    def ensure_experiment(self, name: str) -> Experiment:
        """The experiment of that name, created if missing (restored if in the trash)."""
        name = check_name(name, "Experiment")
        row = (
            self.db.connection()
            .execute(
                "SELECT id, name, description, created_at, lifecycle FROM experiments "
                "WHERE name = ?",
                (name,),
            )
            .fetchone()
        )
        if row is not None and row[4] == "active":
            # The run count is not needed here, and counting grows with the experiment.
            return Experiment(*row)
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT id, lifecycle FROM experiments WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO experiments (name, created_at) VALUES (?, ?)", (name, time.time())
                )
            elif row[1] == "deleted":
                raise ConflictError(
                    f"Experiment {name!r} is in the trash; restore it before logging into it."
                )
        return self.get_experiment(name)

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        """One experiment by name or numeric id."""
        conn = self.db.connection()
        column = "id" if isinstance(name_or_id, int) else "name"
        row = conn.execute(
            "SELECT e.id, e.name, e.description, e.created_at, e.lifecycle, "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.lifecycle = 'active') "
            f"FROM experiments e WHERE e.{column} = ?",
            (name_or_id,),
        ).fetchone()
        if row is None and isinstance(name_or_id, str) and name_or_id.isdigit():
            return self.get_experiment(int(name_or_id))
        if row is None:
            raise NotFoundError(f"No experiment {name_or_id!r}.")
        return Experiment(*row)

    def list_experiments(self, lifecycle: str | None = "active") -> list[Experiment]:
        """Experiments with the number of live runs in each, by name."""
        conn = self.db.connection()
        where = "WHERE e.lifecycle = ?" if lifecycle else ""
        rows = conn.execute(
            "SELECT e.id, e.name, e.description, e.created_at, e.lifecycle, "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.lifecycle = 'active') "
            f"FROM experiments e {where} ORDER BY e.name COLLATE NOCASE",
            (lifecycle,) if lifecycle else (),
        ).fetchall()
        return [Experiment(*row) for row in rows]

    def rename_experiment(self, name_or_id: str | int, new_name: str) -> Experiment:
        """Give an experiment a new, unused name."""
        experiment = self.get_experiment(name_or_id)
        new_name = check_name(new_name, "Experiment")
        with self.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM experiments WHERE name = ? AND id != ?", (new_name, experiment.id)
            ).fetchone():
                raise ConflictError(f"An experiment named {new_name!r} already exists.")
            conn.execute("UPDATE experiments SET name = ? WHERE id = ?", (new_name, experiment.id))
        return self.get_experiment(experiment.id)

    def delete_experiment(self, name_or_id: str | int) -> Experiment:
        """Move an experiment (and so its runs) to the trash."""
        experiment = self.get_experiment(name_or_id)
        if experiment.lifecycle == "deleted":
            return experiment
        with self.db.write() as conn:
            conn.execute(
                "UPDATE experiments SET lifecycle = 'deleted', deleted_at = ? WHERE id = ?",
                (time.time(), experiment.id),
            )
            self._audit(conn, "delete", "experiment", str(experiment.id), {"name": experiment.name})
        return self.get_experiment(experiment.id)

    def restore_experiment(self, name_or_id: str | int) -> Experiment:
        """Bring an experiment back from the trash."""
        experiment = self.get_experiment(name_or_id)
        if experiment.lifecycle == "active":
            return experiment
        with self.db.write() as conn:
            conn.execute(
                "UPDATE experiments SET lifecycle = 'active', deleted_at = NULL WHERE id = ?",
                (experiment.id,),
            )
            self._audit(
                conn, "restore", "experiment", str(experiment.id), {"name": experiment.name}
            )
        return self.get_experiment(experiment.id)

    # ---- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str | int = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        parent_id: str | None = None,
        source: str = "",
        pid: int | None = None,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Open a run in an experiment (created if missing); RUNNING runs record this process."""
        if isinstance(experiment, int):
            exp = self.get_experiment(experiment)
        else:
            exp = self.ensure_experiment(experiment)
        if exp.lifecycle != "active":
            raise ConflictError(f"Experiment {exp.name!r} is in the trash; restore it first.")
        run_id = run_id or new_run_id()
        now = time.time()
        running = status == RunStatus.RUNNING
        if running and pid is None:
            pid = os.getpid()
        checked_params = _checked_params(params or {})
        checked_tags = _checked_tags(tags or {})
        with self.db.write() as conn:
            if (
                parent_id is not None
                and not conn.execute("SELECT 1 FROM runs WHERE id = ?", (parent_id,)).fetchone()
            ):
                raise NotFoundError(f"No parent run {parent_id!r}.")
            if name is None:
                count = conn.execute(
                    "SELECT count(*) FROM runs WHERE experiment_id = ?", (exp.id,)
                ).fetchone()[0]
                name = f"run-{count + 1}"
            name = check_name(name, "Run")
            conn.execute(
                "INSERT INTO runs (id, experiment_id, name, status, start_time, created_at, "
                "parent_id, heartbeat, pid, pid_started, host, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    exp.id,
                    name,
                    str(status),
                    now if running else None,
                    now,
                    parent_id,
                    now if running else None,
                    pid,
                    liveness.process_start_time(pid) if pid else None,
                    self.host,
                    source,
                ),
            )
            conn.executemany(
                "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in checked_params.items()],
            )
            conn.executemany(
                "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in checked_tags.items()],
            )
        return self.get_run(run_id)

    def resolve_run_id(self, id_or_prefix: str) -> str:
        """The full id of a run given its id or an unambiguous prefix of it."""
        conn = self.db.connection()
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (id_or_prefix,)).fetchone():
            return id_or_prefix
        if len(id_or_prefix) < 4 or not all(c in "0123456789abcdef" for c in id_or_prefix):
            raise NotFoundError(f"No run {id_or_prefix!r}.")
        rows = conn.execute(
            "SELECT id FROM runs WHERE id >= ? AND id < ? LIMIT 2",
            (id_or_prefix, id_or_prefix + "g"),
        ).fetchall()
        if not rows:
            raise NotFoundError(f"No run {id_or_prefix!r}.")
        if len(rows) > 1:
            raise InvalidValueError(f"Run id prefix {id_or_prefix!r} matches several runs.")
        return str(rows[0][0])

    def get_run(self, run_id: str) -> Run:
        """One run with its params, tags and metric summaries."""
        run_id = self.resolve_run_id(run_id)
        runs = self.get_runs([run_id])
        return runs[0]

    def get_runs(
        self,
        run_ids: Sequence[str],
        *,
        with_params: bool | Iterable[str] = True,
        with_tags: bool = True,
        with_metrics: bool | Iterable[str] = True,
        skip_missing: bool = False,
    ) -> list[Run]:
        """Several runs in the given order, with (optionally a subset of) their data.

        An id that is not there raises NotFoundError, or is left out with ``skip_missing``
        (a list read while another process purges runs).
        """
        if not run_ids:
            return []
        with self.db.read() as conn:
            rows = _select_in(
                conn,
                f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                "WHERE r.id IN ({marks})",
                run_ids,
            )
            params = _load_pairs(conn, "params", run_ids, with_params)
            tags = _load_pairs(conn, "tags", run_ids, with_tags)
            metrics = _load_summaries(conn, run_ids, with_metrics)
        by_id = {}
        for row in rows:
            run_id = row[0]
            by_id[run_id] = Run(
                id=run_id,
                name=row[1],
                experiment_id=row[2],
                experiment_name=row[3],
                status=RunStatus(row[4]),
                status_reason=row[5],
                start_time=row[6],
                end_time=row[7],
                parent_id=row[8],
                lifecycle=row[9],
                host=row[10],
                pid=row[11],
                source=row[12],
                note=row[13],
                heartbeat=row[14],
                git={
                    k: v
                    for k, v in zip(
                        ("workspace", "commit", "branch", "remote", "dirty", "snapshot"),
                        row[15:21],
                        strict=True,
                    )
                    if v is not None
                }
                | ({"info": json.loads(row[21])} if row[21] not in (None, "{}") else {}),
                params=params.get(run_id, {}),
                tags=tags.get(run_id, {}),
                metrics=metrics.get(run_id, {}),
            )
        missing = [r for r in run_ids if r not in by_id]
        if missing and not skip_missing:
            raise NotFoundError(f"No run {missing[0]!r}.")
        return [by_id[r] for r in run_ids if r in by_id]

    def set_run_status(
        self, run_id: str, status: RunStatus, reason: str = "", *, end_time: float | None = None
    ) -> None:
        """Move a run to a new status; terminal statuses record the end time."""
        now = time.time()
        with self.db.write() as conn:
            if status.is_terminal:
                conn.execute(
                    "UPDATE runs SET status = ?, status_reason = ?, end_time = ?, heartbeat = ? "
                    "WHERE id = ?",
                    (str(status), reason, end_time or now, now, run_id),
                )
            elif status == RunStatus.RUNNING:
                pid = os.getpid()
                conn.execute(
                    "UPDATE runs SET status = ?, status_reason = ?, start_time = "
                    "coalesce(start_time, ?), end_time = NULL, heartbeat = ?, "
                    "pid = coalesce(pid, ?), "
                    "pid_started = coalesce(pid_started, ?), host = ? WHERE id = ?",
                    (
                        str(status),
                        reason,
                        now,
                        now,
                        pid,
                        liveness.process_start_time(pid),
                        self.host,
                        run_id,
                    ),
                )
            else:
                conn.execute(
                    "UPDATE runs SET status = ?, status_reason = ? WHERE id = ?",
                    (str(status), reason, run_id),
                )

    def set_run_process(self, run_id: str, pid: int) -> None:
        """Record which process of this host runs the run (its liveness is judged by it)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE runs SET pid = ?, pid_started = ?, host = ?, heartbeat = ? WHERE id = ?",
                (pid, liveness.process_start_time(pid), self.host, time.time(), run_id),
            )

    def heartbeat(self, run_id: str) -> None:
        """Say the run's process is alive (needed when it runs on another host)."""
        with self.db.write() as conn:
            conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new display name."""
        name = check_name(name, "Run")
        self._update_run(run_id, "name", name)

    def set_note(self, run_id: str, note: str) -> None:
        """Replace a run's free-text note."""
        self._update_run(run_id, "note", str(note))

    def set_git_info(self, run_id: str, info: Mapping[str, object]) -> None:
        """Record the code version behind a run (filled in by the versioning engine)."""
        allowed = {
            "workspace": "workspace",
            "commit": "git_commit",
            "branch": "git_branch",
            "remote": "git_remote",
            "dirty": "git_dirty",
            "snapshot": "git_snapshot",
            "info": "code_info",
        }
        unknown = set(info) - set(allowed)
        if unknown:
            raise InvalidValueError(f"Unknown git fields: {sorted(unknown)}")
        with self.db.write() as conn:
            for key, value in info.items():
                stored = json.dumps(value) if key == "info" else value
                conn.execute(f"UPDATE runs SET {allowed[key]} = ? WHERE id = ?", (stored, run_id))

    def _update_run(self, run_id: str, column: str, value: object) -> None:
        run_id = self.resolve_run_id(run_id)
        with self.db.write() as conn:
            conn.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, run_id))

    def reap_lost_runs(
        self, *, heartbeat_timeout: float = liveness.HEARTBEAT_TIMEOUT_S
    ) -> list[str]:
        """Mark RUNNING runs whose process is gone as FAILED "process lost"; return their ids."""
        conn = self.db.connection()
        candidates = conn.execute(
            "SELECT id, host, pid, pid_started, heartbeat FROM runs WHERE status = 'RUNNING'"
        ).fetchall()
        now = time.time()
        lost = [
            (row[0], row[4])
            for row in candidates
            if liveness.is_lost(
                host=row[1],
                pid=row[2],
                pid_started=row[3],
                heartbeat=row[4],
                this_host=self.host,
                now=now,
                timeout=heartbeat_timeout,
            )
        ]
        if not lost:
            return []
        with self.db.write() as conn:
            for run_id, beat in lost:
                # Re-check under the write lock: the run may have ended meanwhile.
                conn.execute(
                    "UPDATE runs SET status = 'FAILED', status_reason = 'process lost', "
                    "end_time = ? WHERE id = ? AND status = 'RUNNING'",
                    (beat or now, run_id),
                )
        return [run_id for run_id, _ in lost]

    # ---- params, tags, metrics ---------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[MetricPoint] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        heartbeat: bool = True,
        validated: bool = False,
    ) -> None:
        """Write metric points, params and tags of one run in one transaction.

        Metric points are ``(key, value, step, timestamp)``; a param that already holds a
        different value is refused (the whole batch is then not written). ``validated`` skips
        re-checking points that the tracking API has already checked one by one.
        """
        if validated:
            checked_points = list(metrics)
        else:
            checked_points = [
                (check_key(k, "Metric"), check_metric_value(k, v), check_step(k, s), float(t))
                for k, v, s, t in metrics
            ]
        checked_params = _checked_params(params or {})
        checked_tags = _checked_tags(tags or {})
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise NotFoundError(f"No run {run_id!r}.")
            if checked_params:
                self._check_param_conflicts(conn, run_id, checked_params)
                conn.executemany(
                    "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                    [(run_id, k, v) for k, v in checked_params.items()],
                )
            if checked_tags:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    [(run_id, k, v) for k, v in checked_tags.items()],
                )
            if checked_points:
                from desktop_app.registry.metrics import write_points

                write_points(conn, run_id, checked_points)
            if heartbeat:
                conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))

    @staticmethod
    def _check_param_conflicts(conn: Any, run_id: str, params: Mapping[str, str]) -> None:
        stored = dict(conn.execute("SELECT key, value FROM params WHERE run_id = ?", (run_id,)))
        for key, value in params.items():
            if key in stored and stored[key] != value:
                raise ConflictError(
                    f"Param {key!r} of run {run_id} is already {stored[key]!r}; it cannot "
                    f"change to {value!r}. Params are fixed once logged: log a metric or tag "
                    "instead, or start a new run."
                )

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: float | None = None
    ) -> None:
        """Write one metric point (unbuffered; scripts should use the tracking API)."""
        self.log_batch(run_id, metrics=[(key, value, step, timestamp or time.time())])

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        """Write params; each may be logged again only with the same value."""
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: Mapping[str, object]) -> None:
        """Set or replace tags."""
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag."""
        run_id = self.resolve_run_id(run_id)
        with self.db.write() as conn:
            conn.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key))

    def get_metric_history(self, run_id: str, key: str) -> MetricSeries:
        """All points of a run's metric, ordered by step."""
        from desktop_app.registry.metrics import read_series

        return read_series(self.db.connection(), run_id, key)

    def get_metric_summaries(self, run_id: str) -> dict[str, MetricSummary]:
        """Last/min/max of every metric of a run."""
        return _load_summaries(self.db.connection(), [run_id], True).get(run_id, {})

    # ---- search ------------------------------------------------------------------------------

    def search_runs(
        self,
        query: str = "",
        *,
        experiments: Sequence[str | int] | None = None,
        trash: bool = False,
        top_level_only: bool = False,
        order_by: str | None = None,
        limit: int | None = 1000,
        offset: int = 0,
    ) -> list[str]:
        """Ids of matching runs in order (see ``query.py`` for the filter language)."""
        scope = self._scope(experiments, trash, top_level_only)
        with self.db.read() as conn:
            return search_run_ids(conn, scope, query, order_by=order_by, limit=limit, offset=offset)

    def count_runs(
        self,
        query: str = "",
        *,
        experiments: Sequence[str | int] | None = None,
        trash: bool = False,
        top_level_only: bool = False,
    ) -> int:
        """How many runs match."""
        scope = self._scope(experiments, trash, top_level_only)
        return count_runs(self.db.connection(), scope, query)

    def _scope(
        self, experiments: Sequence[str | int] | None, trash: bool, top_level_only: bool
    ) -> RunScope:
        ids = None if experiments is None else [self.get_experiment(e).id for e in experiments]
        return RunScope(experiment_ids=ids, trash=trash, top_level_only=top_level_only)

    def list_keys(self, kind: str, experiments: Sequence[str | int] | None = None) -> list[str]:
        """Distinct metric, param or tag names (``kind`` is "metrics", "params" or "tags")."""
        table = {"metrics": "metric_summary", "params": "params", "tags": "tags"}[kind]
        conn = self.db.connection()
        if experiments is None:
            rows = conn.execute(f"SELECT DISTINCT key FROM {table} ORDER BY key").fetchall()
        else:
            ids = [self.get_experiment(e).id for e in experiments]
            marks = ",".join("?" * len(ids)) or "NULL"
            rows = conn.execute(
                f"SELECT DISTINCT t.key FROM {table} t JOIN runs r ON r.id = t.run_id "
                f"WHERE r.experiment_id IN ({marks}) ORDER BY t.key",
                ids,
            ).fetchall()
        return [row[0] for row in rows]

    # ---- artifacts ---------------------------------------------------------------------------

    def log_artifact(
        self,
        run_id: str,
        source: str | os.PathLike[str],
        *,
        artifact_path: str | None = None,
        kind: str = "file",
    ) -> Artifact:
        """Copy a file into the store and record it on the run under ``artifact_path``."""
        source = Path(source)
        sha, size = self.artifacts.put_file(source)
        return self._record_artifact(run_id, artifact_path or source.name, kind, sha, size)

    def log_artifact_bytes(
        self, run_id: str, data: bytes, artifact_path: str, *, kind: str = "file"
    ) -> Artifact:
        """Store bytes as an artifact of the run."""
        sha, size = self.artifacts.put_bytes(data)
        return self._record_artifact(run_id, artifact_path, kind, sha, size)

    def _record_artifact(self, run_id: str, path: str, kind: str, sha: str, size: int) -> Artifact:
        if not path or path.startswith("/") or ".." in Path(path).parts:
            raise InvalidValueError(f"Artifact path {path!r} must be relative, without '..'.")
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO artifacts (run_id, path, kind, sha256, size, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, path) DO UPDATE SET "
                "kind = excluded.kind, sha256 = excluded.sha256, size = excluded.size, "
                "created_at = excluded.created_at",
                (run_id, path, kind, sha, size, time.time()),
            )
        return self.get_artifact(run_id, path)

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        """One artifact record of a run."""
        row = (
            self.db.connection()
            .execute(
                "SELECT id, run_id, path, kind, sha256, size, created_at FROM artifacts "
                "WHERE run_id = ? AND path = ?",
                (run_id, path),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"Run {run_id} has no artifact {path!r}.")
        return Artifact(*row)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """Every artifact of a run, by path."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT id, run_id, path, kind, sha256, size, created_at FROM artifacts "
                "WHERE run_id = ? ORDER BY path",
                (run_id,),
            )
            .fetchall()
        )
        return [Artifact(*row) for row in rows]

    def artifact_file(self, artifact: Artifact) -> Path:
        """The stored file of an artifact (read it, never write it)."""
        path = self.artifacts.path_for(artifact.sha256)
        if not path.exists():
            raise NotFoundError(
                f"The file of artifact {artifact.path!r} is missing from the store."
            )
        return path

    # ---- trash -------------------------------------------------------------------------------

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Move runs (and their child runs) to the trash; return how many changed."""
        ids = [self.resolve_run_id(r) for r in run_ids]
        ids = self._with_descendants(ids)
        now = time.time()
        with self.db.write() as conn:
            changed = 0
            for run_id in ids:
                cur = conn.execute(
                    "UPDATE runs SET lifecycle = 'deleted', deleted_at = ? "
                    "WHERE id = ? AND lifecycle = 'active'",
                    (now, run_id),
                )
                if cur.rowcount:
                    changed += 1
                    self._audit(conn, "delete", "run", run_id, {})
        return changed

    def restore_runs(self, run_ids: Sequence[str]) -> int:
        """Bring runs (and their child runs) back from the trash; return how many changed."""
        ids = self._with_descendants([self.resolve_run_id(r) for r in run_ids])
        with self.db.write() as conn:
            changed = 0
            for run_id in ids:
                cur = conn.execute(
                    "UPDATE runs SET lifecycle = 'active', deleted_at = NULL "
                    "WHERE id = ? AND lifecycle = 'deleted'",
                    (run_id,),
                )
                if cur.rowcount:
                    changed += 1
                    self._audit(conn, "restore", "run", run_id, {})
        return changed

    def _with_descendants(self, run_ids: Sequence[str]) -> list[str]:
        conn = self.db.connection()
        result = list(dict.fromkeys(run_ids))
        frontier = list(result)
        while frontier:
            children = _select_in(
                conn, "SELECT id FROM runs WHERE parent_id IN ({marks})", frontier
            )
            frontier = [c[0] for c in children if c[0] not in result]
            result.extend(frontier)
        return result

    def purge(
        self, run_ids: Sequence[str] | None = None, *, experiments: Sequence[str | int] = ()
    ) -> PurgeReport:
        """Erase runs from the trash for good (all of it when ``run_ids`` is None).

        Experiments named in ``experiments`` must be in the trash and go with all their runs.
        Artifacts no longer referenced by any run or model version are deleted from disk.
        """
        conn = self.db.connection()
        exp_ids = []
        for ref in experiments:
            exp = self.get_experiment(ref)
            if exp.lifecycle != "deleted":
                raise ConflictError(
                    f"Experiment {exp.name!r} is not in the trash; delete it first."
                )
            exp_ids.append(exp.id)
        if run_ids is None:
            targets = [
                r[0] for r in conn.execute("SELECT id FROM runs WHERE lifecycle = 'deleted'")
            ]
            if not experiments:
                exp_ids = [
                    r[0]
                    for r in conn.execute("SELECT id FROM experiments WHERE lifecycle = 'deleted'")
                ]
        else:
            targets = [self.resolve_run_id(r) for r in run_ids]
            runs = self.get_runs(targets, with_params=False, with_tags=False, with_metrics=False)
            not_deleted = [r.id for r in runs if r.lifecycle != "deleted"]
            if not_deleted:
                raise ConflictError(
                    f"Run {not_deleted[0]} is not in the trash; delete it before purging."
                )
        for exp_id in exp_ids:
            targets.extend(
                r[0]
                for r in conn.execute(
                    "SELECT id FROM runs WHERE experiment_id = ?", (exp_id,)
                ).fetchall()
            )
        targets = self._with_descendants(list(dict.fromkeys(targets)))
        with self.db.write() as conn:
            candidate_hashes = {
                row[0]
                for row in _select_in(
                    conn, "SELECT sha256 FROM artifacts WHERE run_id IN ({marks})", targets
                )
            }
            for run_id in targets:
                conn.execute("UPDATE runs SET parent_id = NULL WHERE parent_id = ?", (run_id,))
            for chunk in _chunks(targets, 500):
                marks = ",".join("?" * len(chunk))
                conn.execute(f"DELETE FROM run_datasets WHERE run_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)
            for run_id in targets:
                self._audit(conn, "purge", "run", run_id, {})
            for exp_id in exp_ids:
                conn.execute("DELETE FROM experiments WHERE id = ?", (exp_id,))
                self._audit(conn, "purge", "experiment", str(exp_id), {})
            still_used = {
                row[0]
                for row in _select_in(
                    conn,
                    "SELECT sha256 FROM artifacts WHERE sha256 IN ({marks}) UNION "
                    "SELECT artifact_sha256 FROM model_versions WHERE artifact_sha256 IN ({marks})",
                    sorted(candidate_hashes),
                    repeat=2,
                )
            }
        removable = candidate_hashes - still_used
        freed = sum(self.artifacts.remove(sha) for sha in removable)
        return PurgeReport(
            runs=len(targets),
            experiments=len(exp_ids),
            artifacts_removed=len(removable),
            bytes_freed=freed,
        )

    # ---- audit -------------------------------------------------------------------------------

    @staticmethod
    def _audit(conn: Any, action: str, entity_type: str, entity_id: str, detail: dict) -> None:
        record_audit(conn, action, entity_type, entity_id, detail)

    def audit_log(self, entity_type: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest audit entries first."""
        where = "WHERE entity_type = ?" if entity_type else ""
        rows = self.db.utils().query(
            f"SELECT at, action, entity_type, entity_id, detail FROM audit_log {where} "
            "ORDER BY id DESC LIMIT ?",
            [entity_type, limit] if entity_type else [limit],
        )
        return [dict(row, detail=json.loads(row["detail"])) for row in rows]

    # ---- maintenance -------------------------------------------------------------------------

    def data_version(self) -> int:
        """Changes whenever another connection commits; poll it to notice new data cheaply."""
        return self.db.data_version()

    def backup(self, destination: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the registry (database and artifacts) into a new folder."""
        import shutil
        import sqlite3

        target = Path(destination).expanduser().resolve()
        if target.exists() and any(target.iterdir()):
            raise ConflictError(f"{target} already exists and is not empty.")
        target.mkdir(parents=True, exist_ok=True)
        out = sqlite3.connect(target / "registry.db")
        try:
            self.db.connection().backup(out)
        finally:
            out.close()
        shutil.copytree(self.artifacts.root, target / "artifacts", dirs_exist_ok=True)
        return target

    def check(self) -> list[str]:
        """Problems found: database integrity, foreign keys, missing or damaged artifacts."""
        conn = self.db.connection()
        problems: list[str] = []
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if integrity != ["ok"]:
            problems.extend(f"database: {line}" for line in integrity)
        for row in conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"database: row {row[1]} of {row[0]} points to a missing {row[2]}")
        hashes = [
            r[0]
            for r in conn.execute(
                "SELECT sha256 FROM artifacts UNION SELECT artifact_sha256 FROM model_versions"
            ).fetchall()
        ]
        for sha in hashes:
            if not self.artifacts.exists(sha):
                problems.append(f"artifact {sha[:12]}: file missing")
            elif not self.artifacts.verify(sha):
                problems.append(f"artifact {sha[:12]}: content does not match its SHA-256")
        return problems

    def info(self) -> dict[str, Any]:
        """Location, schema version and sizes of the registry."""
        conn = self.db.connection()

        def count(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        artifact_bytes = sum(
            p.stat().st_size for p in self.artifacts.root.glob("??/*") if p.is_file()
        )
        return {
            "path": str(self.root),
            "database": str(self.db.path),
            "schema_version": self.db.schema_version(),
            "experiments": count("SELECT count(*) FROM experiments WHERE lifecycle = 'active'"),
            "runs": count("SELECT count(*) FROM runs WHERE lifecycle = 'active'"),
            "runs_in_trash": count("SELECT count(*) FROM runs WHERE lifecycle = 'deleted'"),
            "registered_models": count("SELECT count(*) FROM registered_models"),
            "database_bytes": self.db.path.stat().st_size,
            "artifact_bytes": artifact_bytes,
        }


def _checked_params(params: Mapping[str, object]) -> dict[str, str]:
    return {check_key(k, "Param"): check_param_value(k, v) for k, v in params.items()}


def _checked_tags(tags: Mapping[str, object]) -> dict[str, str]:
    return {check_key(k, "Tag"): check_tag_value(k, v) for k, v in tags.items()}


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _select_in(conn: Any, sql: str, ids: Sequence[Any], *, repeat: int = 1) -> list[tuple]:
    """Run ``sql`` whose ``{marks}`` is an IN-list over ``ids``, in chunks below SQLite's limit."""
    rows: list[tuple] = []
    for chunk in _chunks(list(ids), 500):
        marks = ",".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks=marks), chunk * repeat).fetchall())
    return rows


def _load_pairs(
    conn: Any, table: str, run_ids: Sequence[str], keys: bool | Iterable[str]
) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    if keys is False:
        return result
    rows = _select_in(
        conn, f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({{marks}})", run_ids
    )
    wanted = None if keys is True else set(keys)
    for run_id, key, value in rows:
        if wanted is None or key in wanted:
            result.setdefault(run_id, {})[key] = value
    return result


def _load_summaries(
    conn: Any, run_ids: Sequence[str], keys: bool | Iterable[str]
) -> dict[str, dict[str, MetricSummary]]:
    result: dict[str, dict[str, MetricSummary]] = {}
    if keys is False:
        return result
    rows = _select_in(
        conn,
        "SELECT run_id, key, last, last_step, min, min_step, max, max_step, count "
        "FROM metric_summary WHERE run_id IN ({marks})",
        run_ids,
    )
    wanted = None if keys is True else set(keys)
    nan = float("nan")
    for run_id, key, last, last_step, mn, mn_step, mx, mx_step, count in rows:
        if wanted is None or key in wanted:
            result.setdefault(run_id, {})[key] = MetricSummary(
                key,
                nan if last is None else last,
                last_step,
                nan if mn is None else mn,
                mn_step,
                nan if mx is None else mx,
                mx_step,
                count,
            )
    return result


def open_registry(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Registry:
    """Open the registry at ``path``, else ``$MODELDESK_REGISTRY``, else the default folder."""
    from desktop_app.registry.paths import resolve_registry_path

    try:
        return Registry(resolve_registry_path(path), create=create)
    except RegistryError:
        raise
    except OSError as exc:
        raise RegistryError(f"Cannot open the registry: {exc}") from exc
