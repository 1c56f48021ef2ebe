"""What the run detail panel reads and copies in the background: plain registry functions.

They know nothing of Qt; the panel runs them through its ``workers.TaskGroup``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop_app.errors import RegistryError
from desktop_app.registry import Artifact, MetricSeries, Registry, Run
from desktop_app.registry.artifacts import sha256_of_file


@dataclass(frozen=True)
class RunSnapshot:
    """Everything the panel shows about a run except metric series, read in one go."""

    run: Run
    artifacts: list[Artifact]
    parent_name: str | None = None


def load_snapshot(registry: Registry, run_id: str) -> RunSnapshot:
    """Read a run, its artifacts and its parent's name."""
    run = registry.get_run(run_id)
    artifacts = registry.list_artifacts(run.id)
    parent_name = None
    if run.parent_id:
        parents = registry.get_runs(
            [run.parent_id], with_params=False, with_tags=False, with_metrics=False
        )
        parent_name = parents[0].name
    return RunSnapshot(run, artifacts, parent_name)


def read_series(registry: Registry, run_id: str, keys: Iterable[str]) -> Iterator[MetricSeries]:
    """Yield the full history of each metric in turn (so a long list can be abandoned early)."""
    for key in keys:
        yield registry.get_metric_history(run_id, key)


def export_artifact(registry: Registry, artifact: Artifact, destination: Path) -> Path:
    """Copy an artifact's stored file to ``destination`` and check the copy's SHA-256."""
    if destination.exists() and sha256_of_file(destination) == artifact.sha256:
        return destination
    registry.artifact_file(artifact)
    registry.artifacts.export(artifact.sha256, destination)
    if sha256_of_file(destination) != artifact.sha256:
        destination.unlink(missing_ok=True)
        raise RegistryError(
            f"Artifact {artifact.path!r} does not match its SHA-256: the stored file was changed "
            "or damaged on disk and will not be used.",
            code="ARTIFACT_CORRUPT",
        )
    return destination
