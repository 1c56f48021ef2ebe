"""Registering model versions and moving aliases, with a model card committed for each change.

The registry records the version; the card in the run's workspace makes ``git log
models/<name>`` the model's history. A workspace without Git, with cards switched off, or in
the middle of a merge still registers the version: the card is skipped and the reason given.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from desktop_app.errors import AppError, NotFoundError
from desktop_app.registry import Registry
from desktop_app.registry.models import ModelVersion
from desktop_app.versioning.model_cards import (
    CardCommit,
    ModelCard,
    card_history,
    cards_enabled,
    commit_model_card,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardOutcome:
    """What happened to the model card: its commit, or why there is none."""

    commit: str | None
    skipped_reason: str = ""


def _model_artifact(registry: Registry, run_id: str, artifact_path: str | None) -> tuple[str, str]:
    artifacts = [a for a in registry.list_artifacts(run_id) if a.kind == "model"]
    if artifact_path is not None:
        artifacts = [a for a in artifacts if a.path == artifact_path]
    if not artifacts:
        raise NotFoundError(f"Run {run_id} has no logged model to register.")
    return artifacts[0].sha256, artifacts[0].path


def _signature(registry: Registry, run_id: str, model_path: str) -> dict[str, object]:
    meta_path = model_path.removesuffix(".skops") + ".json"
    for artifact in registry.list_artifacts(run_id):
        if artifact.path == meta_path:
            return dict(json.loads(registry.artifacts.read_bytes(artifact.sha256)))
    return {}


def _card_for(registry: Registry, version: ModelVersion) -> tuple[ModelCard, str | None]:
    model = registry.get_registered_model(version.model_name)
    aliases = [alias for alias, number in model.aliases.items() if number == version.version]
    run = registry.get_run(version.run_id) if version.run_id else None
    datasets = [d.sha256 for d in registry.list_run_datasets(run.id)] if run else []
    card = ModelCard(
        name=version.model_name,
        version=version.version,
        aliases=aliases,
        run_id=version.run_id,
        run_name=run.name if run else "",
        experiment=run.experiment_name if run else "",
        metrics=dict(version.metrics),
        params=dict(version.params),
        dataset_sha256=datasets,
        artifact_sha256=version.artifact_sha256,
        signature=dict(version.signature),
        code_snapshot=str(run.git.get("snapshot")) if run and run.git.get("snapshot") else None,
        description=version.description,
    )
    workspace = str(run.git["workspace"]) if run and run.git.get("snapshot") else None
    return card, workspace


def _commit_card(registry: Registry, version: ModelVersion, message: str) -> CardOutcome:
    card, workspace = _card_for(registry, version)
    if workspace is None:
        return CardOutcome(None, "the run was not logged from a Git workspace")
    try:
        if not cards_enabled(workspace):
            return CardOutcome(None, "model cards are switched off for this workspace")
        return CardOutcome(commit_model_card(workspace, card, message))
    except AppError as exc:
        log.warning("model card not committed: %s", exc.message)
        return CardOutcome(None, f"{exc.message} {exc.detail}".strip())


def register_model_version(
    registry: Registry,
    name: str,
    run_id: str,
    *,
    artifact_path: str | None = None,
    description: str = "",
) -> tuple[ModelVersion, CardOutcome]:
    """Register a run's logged model as the next version of ``name`` and commit its card."""
    run = registry.get_run(run_id)
    sha, path = _model_artifact(registry, run.id, artifact_path)
    version = registry.create_model_version(
        name,
        artifact_sha256=sha,
        run_id=run.id,
        artifact_path=path,
        signature=_signature(registry, run.id, path),
        metrics={k: s.last for k, s in run.metrics.items()},
        params=dict(run.params),
        description=description,
    )
    outcome = _commit_card(registry, version, f"Model card: {name} v{version.version}")
    return version, outcome


def set_alias(registry: Registry, name: str, alias: str, version: int) -> CardOutcome:
    """Point ``alias`` at a version and commit the card that now carries it."""
    previous = registry.get_registered_model(name).aliases.get(alias)
    registry.set_model_alias(name, alias, version)
    moved = f" (was v{previous})" if previous and previous != version else ""
    return _commit_card(
        registry,
        registry.get_model_version(name, version),
        f"Model card: {name} {alias} -> v{version}{moved}",
    )


def model_history(registry: Registry, name: str) -> list[CardCommit]:
    """The commits of a model's card, newest first, from the workspace of its latest version."""
    for version in registry.list_model_versions(name):
        _card, workspace = _card_for(registry, version)
        if workspace is not None:
            try:
                return card_history(workspace, name)
            except AppError:
                return []
    return []
