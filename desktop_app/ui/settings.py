"""The window's remembered state (geometry, splitters, columns, recent queries) in QSettings.

Tests and portable setups point ``$MODELDESK_SETTINGS_DIR`` at a folder; the settings then live in
an INI file there and the user's real settings are never read or written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ENV_SETTINGS_DIR = "MODELDESK_SETTINGS_DIR"
# Bump when a stored value changes meaning or shape; older settings are then dropped, not misread.
SETTINGS_VERSION = 1
MAX_RECENT_QUERIES = 20


def app_settings() -> QSettings:
    """The settings store: an INI file under ``$MODELDESK_SETTINGS_DIR`` or the platform default."""
    folder = os.environ.get(ENV_SETTINGS_DIR)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        settings = QSettings(str(Path(folder) / "ModelDesk.ini"), QSettings.Format.IniFormat)
    else:
        settings = QSettings("ModelDesk", "ModelDesk")
    stored = settings.value("settings_version")
    if stored is None or _as_int(stored) != SETTINGS_VERSION:
        settings.clear()
        settings.setValue("settings_version", SETTINGS_VERSION)
    return settings


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def load_bytes(key: str) -> QByteArray | None:
    """A saved binary state (window geometry, splitter state), or None."""
    value = app_settings().value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def save_bytes(key: str, value: QByteArray) -> None:
    """Remember a binary state."""
    app_settings().setValue(key, value)


def load_json(key: str, default: Any = None) -> Any:
    """A saved JSON value, or ``default`` when missing or unreadable."""
    raw = app_settings().value(key)
    if not isinstance(raw, str):
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def save_json(key: str, value: Any) -> None:
    """Remember a JSON-serialisable value."""
    app_settings().setValue(key, json.dumps(value))


def scope_key(experiment_ids: list[int] | None, trash: bool) -> str:
    """A stable name for a view scope, used to remember its columns."""
    where = "all" if experiment_ids is None else ",".join(str(i) for i in sorted(experiment_ids))
    return f"{'trash' if trash else 'live'}-{where}"


def load_columns(scope: str) -> tuple[list[str], list[tuple[str, str]]] | None:
    """The param and metric columns chosen for a scope, or None when never chosen."""
    data = load_json(f"columns/{scope}")
    if not isinstance(data, dict):
        return None
    params = [str(k) for k in data.get("params", [])]
    metrics = [
        (str(m[0]), str(m[1]))
        for m in data.get("metrics", [])
        if isinstance(m, list | tuple) and len(m) == 2
    ]
    return params, metrics


def save_columns(scope: str, params: list[str], metrics: list[tuple[str, str]]) -> None:
    """Remember the param and metric columns chosen for a scope."""
    save_json(f"columns/{scope}", {"params": params, "metrics": [list(m) for m in metrics]})


def recent_queries() -> list[str]:
    """Recently applied filter queries, newest first."""
    data = load_json("filter/recent", [])
    return [str(q) for q in data] if isinstance(data, list) else []


def add_recent_query(query: str) -> list[str]:
    """Put a query at the head of the history and return the new history."""
    query = query.strip()
    history = recent_queries()
    if query:
        history = [query, *[q for q in history if q != query]][:MAX_RECENT_QUERIES]
        save_json("filter/recent", history)
    return history


DASK_SCHEDULER_KEY = "training/dask_scheduler"
PARALLEL_JOBS_KEY = "training/parallel_jobs"
WARM_WORKER_KEY = "training/warm_worker"


@dataclass(frozen=True)
class TrainingPreferences:
    """How training runs: jobs at once (None: cores - 1), a warm spare worker, a Dask cluster."""

    parallel_jobs: int | None = None
    warm_worker: bool = True
    dask_scheduler: str = ""


def training_preferences() -> TrainingPreferences:
    """The training preferences the user chose (defaults where never chosen)."""
    jobs = load_json(PARALLEL_JOBS_KEY)
    return TrainingPreferences(
        parallel_jobs=jobs if isinstance(jobs, int) and jobs > 0 else None,
        warm_worker=load_json(WARM_WORKER_KEY, True) is not False,
        dask_scheduler=str(load_json(DASK_SCHEDULER_KEY, "") or "").strip(),
    )


def save_training_preferences(preferences: TrainingPreferences) -> None:
    """Remember the training preferences."""
    save_json(PARALLEL_JOBS_KEY, preferences.parallel_jobs)
    save_json(WARM_WORKER_KEY, preferences.warm_worker)
    save_json(DASK_SCHEDULER_KEY, preferences.dask_scheduler.strip())
