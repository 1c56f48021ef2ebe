"""Registering model versions and moving aliases, with a model card committed for each change.

The registry records the version; the card in the run's workspace makes ``git log
models/<name>`` the model's history. A workspace without Git, with cards switched off, or in
the middle of a merge still registers the version: the card is skipped and the reason given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from desktop_app.errors import AppError, ConflictError, NotFoundError
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


DEFAULT_MODEL_PATH = "models/model.skops"
EXAMPLE_ROWS = 5


def _model_artifact(registry: Registry, run_id: str, artifact_path: str | None) -> tuple[str, str]:
    """The run's model file: ``artifact_path``, else what ``run.log_model(est, "model")`` wrote."""
    models = [a for a in registry.list_artifacts(run_id) if a.kind == "model"]
    if artifact_path is not None:
        chosen = [a for a in models if a.path == artifact_path]
        if not chosen:
            raise NotFoundError(f"Run {run_id} has no logged model at {artifact_path!r}.")
        return chosen[0].sha256, chosen[0].path
    if not models:
        raise NotFoundError(f"Run {run_id} has no logged model to register.")
    default = [a for a in models if a.path == DEFAULT_MODEL_PATH]
    if default:
        return default[0].sha256, default[0].path
    if len(models) > 1:
        paths = ", ".join(a.path for a in models)
        raise ConflictError(f"Run {run_id} logged several models ({paths}); name the one to use.")
    return models[0].sha256, models[0].path


def _run_json(registry: Registry, run_id: str, path: str) -> Any:
    for artifact in registry.list_artifacts(run_id):
        if artifact.path == path:
            return json.loads(registry.artifacts.read_bytes(artifact.sha256))
    return None


def _companion(model_path: str, file_name: str) -> str:
    """Where the runner keeps a model's side files: ``models/model.skops`` → ``model/<file>``."""
    stem = model_path.rsplit("/", 1)[-1].removesuffix(".skops")
    return f"{stem}/{file_name}"


def _value_type(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int64"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "float64"
    return "str"


def _outputs(signature: dict[str, Any]) -> list[dict[str, str]]:
    """What ``predict`` returns: one column of the classes' type, or of floats for regression."""
    target = signature.get("target")
    name = str(target.get("name") or "prediction") if isinstance(target, dict) else "prediction"
    classes = signature.get("classes")
    if isinstance(classes, list) and classes and signature.get("task") != "regression":
        return [{"name": name, "type": _value_type(classes)}]
    return [{"name": name, "type": "float64"}]


def _example_frame(example: Any) -> Any:
    import pandas as pd

    frame = example if isinstance(example, pd.DataFrame) else pd.DataFrame(example)
    return frame.head(EXAMPLE_ROWS)


def _signature_and_example(
    registry: Registry, run_id: str, model_path: str, example: Any
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The version's signature and input example from the run's side files or ``example``.

    The description ``run.log_model`` wrote (class, feature names, classes) is the base; the
    runner's ``signature.json`` adds typed input columns, target and task. An example given
    by the caller (a DataFrame or anything pandas can make one of) supplies the input
    columns and their dtypes when the run has none.
    """
    signature: dict[str, Any] = dict(
        _run_json(registry, run_id, model_path.removesuffix(".skops") + ".json") or {}
    )
    signature.update(_run_json(registry, run_id, _companion(model_path, "signature.json")) or {})
    records = _run_json(registry, run_id, _companion(model_path, "input_example.json"))
    if example is not None:
        frame = _example_frame(example)
        records = json.loads(frame.to_json(orient="records"))
        if not signature.get("inputs"):
            signature["inputs"] = [
                {"name": str(c), "type": str(t)} for c, t in frame.dtypes.items()
            ]
    if "outputs" not in signature:
        signature["outputs"] = _outputs(signature)
    return signature, records if isinstance(records, list) else None


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
    tags: Mapping[str, object] | None = None,
    input_example: Any = None,
) -> tuple[ModelVersion, CardOutcome]:
    """Register a run's logged model as the next version of ``name`` and commit its card.

    The version keeps the model file's SHA-256, its signature and input example, and the run's
    metrics (last values) and params as they are now.
    """
    run = registry.get_run(run_id)
    sha, path = _model_artifact(registry, run.id, artifact_path)
    signature, example = _signature_and_example(registry, run.id, path, input_example)
    version = registry.create_model_version(
        name,
        artifact_sha256=sha,
        run_id=run.id,
        artifact_path=path,
        signature=signature,
        metrics={k: s.last for k, s in run.metrics.items()},
        params=dict(run.params),
        description=description,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        input_example=example,
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


def remove_alias(registry: Registry, name: str, alias: str) -> CardOutcome:
    """Take ``alias`` off its version and commit the card that no longer carries it."""
    holder = registry.get_model_version(name, alias)
    registry.delete_model_alias(name, alias)
    return _commit_card(
        registry,
        registry.get_model_version(name, holder.version),
        f"Model card: {name} {alias} removed (was v{holder.version})",
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
