"""The Models page as plain data: versions side by side, a version's lineage, alias moves.

Qt-free, so the window's Models page shows it and tests check it without a screen:

- :func:`versions_table`: the versions of a model with one column per metric and, per metric,
  the versions holding the best value among those not archived.
- :func:`version_lineage`: where a version came from: run → datasets (SHA-256) → code
  snapshot → artifact, with its signature, metrics, params and description.
- :func:`alias_history`: every alias assignment, move and removal from the audit log, with the
  version it came from and the one it went to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from desktop_app.errors import InvalidValueError, NotFoundError
from desktop_app.registry import Registry, Run
from desktop_app.registry.datasets import Dataset
from desktop_app.registry.models import ModelVersion
from desktop_app.reports.diff import metric_direction

ARCHIVED = "archived"
READY = "ready"
# Aliases offered first in the Set Alias dialog: the names deployment tools look for.
SUGGESTED_ALIASES = ("champion", "challenger")


@dataclass(frozen=True)
class VersionsTable:
    """A model's versions (newest first) with their metric keys and best values."""

    versions: tuple[ModelVersion, ...]
    metric_keys: tuple[str, ...]
    # Metric key → version numbers holding its best value among versions not archived.
    best: dict[str, frozenset[int]] = field(default_factory=dict)
    # Run id → run name, for the source runs still in the registry.
    run_names: dict[str, str] = field(default_factory=dict)

    def visible(self, show_archived: bool) -> list[ModelVersion]:
        """The versions to list: all of them, or those not archived."""
        return [v for v in self.versions if show_archived or v.status != ARCHIVED]

    def alias_owner(self, alias: str) -> int | None:
        """The version that holds ``alias`` now, or None."""
        return next((v.version for v in self.versions if alias in v.aliases), None)

    def aliases(self) -> list[str]:
        """Every alias of the model, sorted."""
        return sorted({a for v in self.versions for a in v.aliases})


def load_versions_table(registry: Registry, name: str) -> VersionsTable:
    """A model's versions side by side, with their source runs' names (registry queries)."""
    versions = registry.list_model_versions(name)
    run_ids = list(dict.fromkeys(v.run_id for v in versions if v.run_id))
    runs = registry.get_runs(
        run_ids, with_params=False, with_tags=False, with_metrics=False, skip_missing=True
    )
    return versions_table(versions, {r.id: r.name for r in runs})


def versions_table(
    versions: Sequence[ModelVersion], run_names: Mapping[str, str] | None = None
) -> VersionsTable:
    """Versions with one column per metric; the best value of each is found per its direction."""
    keys = sorted({k for v in versions for k in v.metrics}, key=str.lower)
    best: dict[str, frozenset[int]] = {}
    contenders = [v for v in versions if v.status != ARCHIVED]
    for key in keys:
        direction = metric_direction(key)
        values = {
            v.version: float(v.metrics[key])
            for v in contenders
            if key in v.metrics and not math.isnan(float(v.metrics[key]))
        }
        # One value has nothing to beat: highlighting it would say nothing.
        if direction is None or len(values) < 2:
            continue
        target = (min if direction == "min" else max)(values.values())
        best[key] = frozenset(n for n, x in values.items() if x == target)
    return VersionsTable(tuple(versions), tuple(keys), best, dict(run_names or {}))


@dataclass(frozen=True)
class SignatureColumn:
    """One input or output column of a model: its name and dtype ("" when unknown)."""

    name: str
    dtype: str = ""


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and returns, as far as the registry knows."""

    inputs: tuple[SignatureColumn, ...] = ()
    outputs: tuple[SignatureColumn, ...] = ()
    # Inputs known only by count (a model fitted on an unnamed array).
    unnamed_inputs: int = 0
    model_class: str = ""
    classes: tuple[str, ...] = ()


def _columns(items: Any) -> tuple[SignatureColumn, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        SignatureColumn(str(item.get("name", "")), str(item.get("type") or item.get("dtype") or ""))
        for item in items
        if isinstance(item, dict)
    )


def read_signature(signature: Mapping[str, Any]) -> ModelSignature:
    """The input and output columns of a version's signature, whichever form it was stored in.

    Typed ``inputs`` (the runner's or an example's dtypes) win; otherwise the feature names the
    estimator kept, else only their number.
    """
    inputs = _columns(signature.get("inputs"))
    unnamed = 0
    if not inputs:
        names = signature.get("feature_names_in")
        if isinstance(names, list) and names:
            inputs = tuple(SignatureColumn(str(n)) for n in names)
        elif isinstance(signature.get("n_features_in"), int):
            unnamed = int(signature["n_features_in"])
    classes = signature.get("classes")
    return ModelSignature(
        inputs=inputs,
        outputs=_columns(signature.get("outputs")),
        unnamed_inputs=unnamed,
        model_class=str(signature.get("class", "")),
        classes=tuple(str(c) for c in classes) if isinstance(classes, list) else (),
    )


def with_dataset_dtypes(signature: ModelSignature, datasets: Sequence[Dataset]) -> ModelSignature:
    """Fill input columns of unknown dtype from the run's datasets' schemas (same names)."""
    if all(c.dtype for c in signature.inputs):
        return signature
    known = {
        str(column.get("name")): str(column.get("type", ""))
        for dataset in datasets
        for column in dataset.schema
        if isinstance(column, dict)
    }
    inputs = tuple(
        c if c.dtype else SignatureColumn(c.name, known.get(c.name, "")) for c in signature.inputs
    )
    return replace(signature, inputs=inputs)


@dataclass(frozen=True)
class CodeSnapshot:
    """The code a run was trained with, as its Git snapshot recorded it."""

    workspace: str = ""
    commit: str = ""
    branch: str = ""
    dirty: bool | None = None
    snapshot: str = ""
    # Why there is no snapshot (no Git, snapshot failed), else "".
    reason: str = ""


def code_snapshot(git: Mapping[str, object]) -> CodeSnapshot | None:
    """The run's ``git`` record as a snapshot, or None when the run recorded nothing."""
    if not git:
        return None
    info = git.get("info")
    reason = str(info.get("reason", "")) if isinstance(info, dict) else ""
    dirty = git.get("dirty")
    return CodeSnapshot(
        workspace=str(git.get("workspace") or ""),
        commit=str(git.get("commit") or ""),
        branch=str(git.get("branch") or ""),
        dirty=None if dirty is None else bool(dirty),
        snapshot=str(git.get("snapshot") or ""),
        reason=reason,
    )


@dataclass(frozen=True)
class VersionLineage:
    """Where a version came from: run → datasets → code snapshot → stored artifact."""

    version: ModelVersion
    run: Run | None
    # Why the run is not shown (purged, or the version has no run), else "".
    run_note: str
    datasets: tuple[Dataset, ...]
    code: CodeSnapshot | None
    artifact_stored: bool
    signature: ModelSignature


def version_lineage(registry: Registry, name: str, version: int | str) -> VersionLineage:
    """Read a version's lineage (registry queries: call it off the GUI thread)."""
    model_version = registry.get_model_version(name, version)
    run: Run | None = None
    note = "" if model_version.run_id else "registered without a run"
    if model_version.run_id:
        try:
            run = registry.get_run(model_version.run_id)
        except NotFoundError:
            note = "the run was purged; the version keeps its artifact and values"
    datasets = tuple(registry.list_run_datasets(run.id)) if run else ()
    return VersionLineage(
        version=model_version,
        run=run,
        run_note=note,
        datasets=datasets,
        code=code_snapshot(run.git) if run else None,
        artifact_stored=registry.artifacts.exists(model_version.artifact_sha256),
        signature=with_dataset_dtypes(read_signature(model_version.signature), datasets),
    )


@dataclass(frozen=True)
class AliasMove:
    """One alias change: set (``from_version`` None), moved, or removed (``to_version`` None)."""

    at: float
    alias: str
    from_version: int | None
    to_version: int | None


def alias_moves(entries: Sequence[Mapping[str, Any]]) -> list[AliasMove]:
    """Alias changes from a model's audit entries (newest first in, newest first out).

    Entries written before the audit kept the previous version get it from the entry before
    them, replayed oldest first.
    """
    holder: dict[str, int | None] = {}
    moves: list[AliasMove] = []
    for entry in reversed(entries):
        detail = entry.get("detail") or {}
        if entry.get("action") != "alias" or "alias" not in detail:
            continue
        alias = str(detail["alias"])
        to_version = detail.get("version")
        previous = detail["previous"] if "previous" in detail else holder.get(alias)
        holder[alias] = to_version
        moves.append(AliasMove(float(entry.get("at") or 0.0), alias, previous, to_version))
    moves.reverse()
    return moves


def alias_history(registry: Registry, name: str) -> list[AliasMove]:
    """A model's alias changes from the audit log, newest first."""
    return alias_moves(registry.list_model_audit(name))


def export_folder(chosen: str | Path, name: str, version: int) -> Path:
    """Where to export: the chosen folder when it is empty, else a new ``<name>-v<N>`` in it."""
    folder = Path(chosen)
    if folder.exists() and not folder.is_dir():
        raise InvalidValueError(f"{folder} is a file; choose a folder to export into.")
    if folder.is_dir() and not any(folder.iterdir()):
        return folder
    base = folder / f"{name}-v{version}"
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate
