"""The public tracking API for user scripts (``from desktop_app import tracking``).

``start_run`` opens a run in the registry and records the exact code behind it: a snapshot of
the workspace's Git working tree (uncommitted edits included) on a private ref.
``register_model`` turns the model a run logged into a new version of a named model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

from desktop_app.errors import AppError
from desktop_app.registry import Registry
from desktop_app.registry.models import ModelVersion
from desktop_app.registry.store import open_registry
from desktop_app.registry.tracking import (
    ActiveRun,
    active_run,
    log_metric,
    log_metrics,
    log_params,
)
from desktop_app.registry.tracking import start_run as _start_run
from desktop_app.versioning.model_history import register_model_version
from desktop_app.versioning.run_code import record_run_code


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    *,
    registry: Registry | str | os.PathLike[str] | None = None,
    parent: ActiveRun | str | None = None,
    nested: bool = True,
    source: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
    snapshot_code: bool = True,
) -> ActiveRun:
    """Open a run (nested in the active one, if any) and snapshot its code; see README.

    The workspace is ``workspace``, else ``$MODELDESK_WORKSPACE``, else the Git repository
    containing the current directory. Without Git the run still logs and says why.
    """
    hook = partial(record_run_code, workspace=workspace) if snapshot_code else None
    return _start_run(
        experiment,
        name,
        params,
        tags,
        registry=registry,
        parent=parent,
        nested=nested,
        source=source,
        on_start=hook,
    )


def register_model(
    name: str,
    run_id: str | None = None,
    description: str = "",
    *,
    input_example: Any = None,
    tags: Mapping[str, object] | None = None,
    registry: Registry | str | os.PathLike[str] | None = None,
) -> ModelVersion:
    """Register the model a run logged with ``run.log_model(estimator, "model")``; see README.

    ``run_id`` defaults to the active run, whose buffered metrics are written first so the
    version records them. ``input_example`` (a few rows, ideally a DataFrame) gives the version
    its typed input columns and example when the run did not store them. The registry is
    ``registry``, else the active run's, else ``$MODELDESK_REGISTRY``, else the default one.
    """
    current = active_run()
    if run_id is None:
        if current is None:
            raise AppError(
                "No active run: pass run_id, or call register_model() inside start_run().",
                code="NO_ACTIVE_RUN",
            )
        run_id = current.id
    if current is not None:
        current.flush()
    if isinstance(registry, Registry):
        reg, close = registry, False
    elif registry is None and current is not None:
        reg, close = current.registry, False
    else:
        reg, close = open_registry(registry, create=False), True
    try:
        version, _card = register_model_version(
            reg, name, run_id, description=description, tags=tags, input_example=input_example
        )
    finally:
        if close:
            reg.close()
    return version


__all__ = [
    "ActiveRun",
    "active_run",
    "log_metric",
    "log_metrics",
    "log_params",
    "register_model",
    "start_run",
]
