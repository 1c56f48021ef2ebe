"""Runs and their code: snapshot at start, record on the run, clean up on purge.

This is where the registry and Git meet; the registry itself never imports Git.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from desktop_app.errors import AppError
from desktop_app.registry import PurgeReport, Registry
from desktop_app.versioning.snapshots import DEFAULT_MAX_FILE_BYTES, delete_snapshot, take_snapshot

ENV_WORKSPACE = "MODELDESK_WORKSPACE"
ENV_MAX_FILE_BYTES = "MODELDESK_SNAPSHOT_MAX_FILE_BYTES"
log = logging.getLogger(__name__)


def resolve_workspace(workspace: str | os.PathLike[str] | None = None) -> Path:
    """The workspace to snapshot: the argument, else ``$MODELDESK_WORKSPACE``, else the cwd."""
    if workspace:
        return Path(workspace).expanduser().resolve()
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env).expanduser().resolve() if env else Path.cwd()


def record_run_code(
    registry: Registry, run_id: str, workspace: str | os.PathLike[str] | None = None
) -> dict[str, object]:
    """Snapshot the workspace for a run and store the result on the run; never raises.

    Without Git or a repository the run still logs; the reason is stored for the Code tab.
    """
    folder = resolve_workspace(workspace)
    limit = int(os.environ.get(ENV_MAX_FILE_BYTES, DEFAULT_MAX_FILE_BYTES))
    try:
        snap = take_snapshot(folder, run_id, max_file_bytes=limit)
    except AppError as exc:
        info: dict[str, object] = {"workspace": str(folder), "info": {"reason": exc.message}}
    except Exception as exc:  # a snapshot problem must not fail the user's run
        log.exception("code snapshot failed")
        info = {"workspace": str(folder), "info": {"reason": f"snapshot failed: {exc}"}}
    else:
        info = {
            "workspace": snap.workspace,
            "commit": snap.commit,
            "branch": snap.branch,
            "remote": snap.remote,
            "dirty": int(snap.dirty),
            "snapshot": snap.snapshot,
            "info": {
                "large_files": [
                    {"path": f.path, "sha256": f.sha256, "size": f.size} for f in snap.large_files
                ],
                "max_file_bytes": limit,
            },
        }
    registry.set_git_info(run_id, info)
    return info


def purge_runs(
    registry: Registry,
    run_ids: Sequence[str] | None = None,
    *,
    experiments: Sequence[str | int] = (),
) -> PurgeReport:
    """Purge runs from the trash and delete their snapshot refs in their workspaces."""
    trashed = registry.get_runs(
        registry.search_runs(trash=True, limit=None),
        with_params=False,
        with_tags=False,
        with_metrics=False,
    )
    before = {run.id: str(run.git.get("workspace") or "") for run in trashed}
    report = registry.purge(run_ids, experiments=experiments)
    remaining = set(registry.search_runs(trash=True, limit=None))
    for run_id, workspace in before.items():
        if run_id in remaining or not workspace or not Path(workspace).exists():
            continue
        try:
            delete_snapshot(workspace, run_id)
        except AppError:
            log.warning("could not delete the snapshot ref of run %s in %s", run_id, workspace)
    return report
