"""The public tracking API for user scripts (``from desktop_app import tracking``).

``start_run`` opens a run in the registry and records the exact code behind it: a snapshot of
the workspace's Git working tree (uncommitted edits included) on a private ref.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from desktop_app.registry import Registry
from desktop_app.registry.tracking import (
    ActiveRun,
    active_run,
    log_metric,
    log_metrics,
    log_params,
)
from desktop_app.registry.tracking import start_run as _start_run
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


__all__ = ["ActiveRun", "active_run", "log_metric", "log_metrics", "log_params", "start_run"]
