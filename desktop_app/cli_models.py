"""``modeldesk models ...``: the model registry from the command line.

A model version is named ``NAME`` (the model, or its latest version where one version is
meant), ``NAME:VERSION`` or ``NAME@ALIAS``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from desktop_app.registry.models import ModelVersion, RegisteredModel
    from desktop_app.registry.store import Registry

_VERSION_SUFFIX = re.compile(r"^(?P<name>.+):(?P<version>\d+)$")
_ALIAS_SUFFIX = re.compile(r"^(?P<name>.+)@(?P<alias>[A-Za-z_][A-Za-z0-9_\-]*)$")


def parse_model_ref(registry: Registry, ref: str) -> tuple[str, int | str | None]:
    """Split ``NAME[:VERSION|@ALIAS]`` into the model name and a version number, alias or None.

    A registered model whose whole name matches wins, so names holding ``:`` or ``@`` work.
    """
    from desktop_app.errors import NotFoundError

    ref = ref.strip()
    try:
        return registry.get_registered_model(ref).name, None
    except NotFoundError:
        pass
    if match := _VERSION_SUFFIX.match(ref):
        return match["name"], int(match["version"])
    if match := _ALIAS_SUFFIX.match(ref):
        return match["name"], match["alias"]
    raise NotFoundError(f"No registered model {ref!r}.")


def resolve_version(registry: Registry, ref: str) -> ModelVersion:
    """The version ``ref`` names; a bare NAME means its newest version that is not archived."""
    from desktop_app.errors import NotFoundError

    name, selector = parse_model_ref(registry, ref)
    if selector is not None:
        return registry.get_model_version(name, selector)
    ready = [v for v in registry.list_model_versions(name) if v.status != "archived"]
    if not ready:
        raise NotFoundError(f"Model {name!r} has no version that is not archived.")
    return ready[0]


def _numbered(registry: Registry, ref: str) -> ModelVersion:
    """The version ``NAME:VERSION`` (or ``NAME@ALIAS``) names; a bare NAME is refused."""
    name, selector = parse_model_ref(registry, ref)
    if selector is None:
        raise click.UsageError(f"Give a version: {name}:VERSION (or {name}@ALIAS).")
    return registry.get_model_version(name, selector)


# ---- JSON and text ---------------------------------------------------------------------------


def model_json(model: RegisteredModel, versions: list[ModelVersion]) -> dict[str, Any]:
    """The JSON record of a registered model and its versions."""
    from desktop_app.cli_common import iso_utc

    return {
        "name": model.name,
        "description": model.description,
        "created": iso_utc(model.created_at),
        "updated": iso_utc(model.updated_at),
        "latest_version": model.latest_version,
        "version_count": len(versions),
        "aliases": dict(model.aliases),
    }


def version_json(version: ModelVersion) -> dict[str, Any]:
    """The JSON record of a model version."""
    from desktop_app.cli_common import iso_utc

    return {
        "model": version.model_name,
        "version": version.version,
        "status": version.status,
        "aliases": list(version.aliases),
        "run_id": version.run_id,
        "artifact_path": version.artifact_path,
        "artifact_sha256": version.artifact_sha256,
        "created": iso_utc(version.created_at),
        "description": version.description,
        "signature": version.signature,
        "input_example": version.input_example,
        "metrics": dict(sorted(version.metrics.items())),
        "params": dict(sorted(version.params.items())),
        "tags": dict(sorted(version.tags.items())),
    }


def _history_json(entry: dict[str, Any]) -> dict[str, Any]:
    from desktop_app.cli_common import iso_utc

    return {"at": iso_utc(entry["at"]), "action": entry["action"], **entry["detail"]}


def _history_line(entry: dict[str, Any]) -> str:
    from desktop_app.cli_common import format_time

    detail = entry["detail"]
    action = entry["action"]
    if action == "alias":
        previous = f"v{detail['previous']}" if detail.get("previous") else "none"
        target = f"v{detail['version']}" if detail.get("version") else "removed"
        text = f"alias {detail['alias']}: {previous} -> {target}"
    elif action == "register":
        text = f"registered v{detail.get('version')} from run {detail.get('run_id') or '-'}"
    else:
        text = f"{action} v{detail.get('version')}"
    return f"{format_time(entry['at'])}  {text}"


def _describe_model(
    model: RegisteredModel, versions: list[ModelVersion], history: list[dict[str, Any]]
) -> str:
    from desktop_app.cli_common import _cell, _section, format_float, format_table, format_time

    aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(model.aliases.items())) or "-"
    fields = [
        ("Model", model.name),
        ("Versions", str(len(versions))),
        ("Aliases", aliases),
        ("Created", format_time(model.created_at)),
        ("Updated", format_time(model.updated_at)),
    ]
    if model.description:
        fields.append(("Description", model.description))
    width = max(len(name) for name, _ in fields)
    parts = ["\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)]
    if versions:
        metrics = sorted({key for v in versions for key in v.metrics})[:4]
        headers = ["VERSION", "STATUS", "ALIASES", "RUN", "CREATED", *metrics]
        rows = [
            [
                str(v.version),
                v.status,
                _cell(", ".join(v.aliases) or "-", 24),
                v.run_id or "-",
                format_time(v.created_at),
                *[format_float(v.metrics.get(key)) for key in metrics],
            ]
            for v in versions
        ]
        right = [0, *range(5, 5 + len(metrics))]
        parts.append(_section("Versions:", format_table(headers, rows, right=right)))
    moves = [e for e in history if e["action"] in ("alias", "archive", "restore")]
    if moves:
        parts.append(_section("History (newest first):", "\n".join(map(_history_line, moves))))
    return "\n".join(parts)


def _describe_version(version: ModelVersion) -> str:
    from desktop_app.cli_common import _cell, _section, format_float, format_table, format_time

    fields = [
        ("Model", f"{version.model_name} v{version.version}"),
        ("Status", version.status),
        ("Aliases", ", ".join(version.aliases) or "-"),
        ("Run", version.run_id or "- (the run was purged; the model file is kept)"),
        ("Created", format_time(version.created_at)),
        ("Artifact", version.artifact_path or "-"),
        ("SHA-256", version.artifact_sha256),
    ]
    if version.description:
        fields.append(("Description", version.description))
    width = max(len(name) for name, _ in fields)
    parts = ["\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)]
    signature = version.signature
    inputs = signature.get("inputs")
    if isinstance(inputs, list) and inputs:
        rows = [[str(c.get("name")), str(c.get("type"))] for c in inputs]
        parts.append(_section("Inputs:", format_table(["COLUMN", "TYPE"], rows)))
    elif isinstance(signature.get("feature_names_in"), list):
        names = ", ".join(map(str, signature["feature_names_in"]))
        parts.append(_section("Inputs (types unknown):", _cell(names, 90)))
    elif signature.get("n_features_in"):
        parts.append(_section("Inputs:", f"{signature['n_features_in']} unnamed columns"))
    outputs = signature.get("outputs")
    if isinstance(outputs, list) and outputs:
        rows = [[str(c.get("name")), str(c.get("type"))] for c in outputs]
        if isinstance(signature.get("classes"), list):
            classes = ", ".join(map(str, signature["classes"]))
            rows = [[*row, _cell(classes, 60)] for row in rows]
            table = format_table(["NAME", "TYPE", "CLASSES"], rows)
        else:
            table = format_table(["NAME", "TYPE"], rows)
        parts.append(_section("Outputs:", table))
    if version.input_example:
        parts.append(_section("Input example:", f"{len(version.input_example)} rows (see --json)"))
    if version.metrics:
        rows = [[k, format_float(v)] for k, v in sorted(version.metrics.items())]
        parts.append(_section("Metrics:", format_table(["METRIC", "VALUE"], rows, right=[1])))
    if version.params:
        rows = [[k, _cell(v, 60)] for k, v in sorted(version.params.items())]
        parts.append(_section("Params:", format_table(["NAME", "VALUE"], rows)))
    if version.tags:
        rows = [[k, _cell(v, 60)] for k, v in sorted(version.tags.items())]
        parts.append(_section("Tags:", format_table(["NAME", "VALUE"], rows)))
    return "\n".join(parts)


def _parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.", param_hint="--tag")
        tags[key.strip()] = value
    return tags


# ---- the commands ----------------------------------------------------------------------------


def register(cli: click.Group) -> None:
    """Add the ``models`` command group."""
    from desktop_app.cli_common import echo_json, format_table, json_option, open_cli_registry
    from desktop_app.cli_common import registry_option as registry_opt

    @cli.group(name="models")
    @registry_opt
    def models() -> None:
        """Register, list, alias, archive and export model versions.

        A version is NAME:VERSION or NAME@ALIAS; a bare NAME means the model (or, for export,
        its newest version that is not archived).
        """

    @models.command(name="list")
    @json_option
    @registry_opt
    def models_list(as_json: bool) -> None:
        """List models with their versions and aliases."""
        from desktop_app.cli_common import _cell, format_time

        registry = open_cli_registry()
        found = [
            (m, registry.list_model_versions(m.name)) for m in registry.list_registered_models()
        ]
        if as_json:
            echo_json([model_json(m, versions) for m, versions in found])
            return
        if not found:
            click.echo("No registered models yet: use 'modeldesk models register RUN --name NAME'.")
            return
        rows = [
            [
                _cell(m.name),
                str(len(versions)),
                str(m.latest_version or "-"),
                _cell(", ".join(f"{a}=v{v}" for a, v in sorted(m.aliases.items())) or "-"),
                format_time(m.updated_at),
            ]
            for m, versions in found
        ]
        headers = ["NAME", "VERSIONS", "LATEST", "ALIASES", "UPDATED"]
        click.echo(format_table(headers, rows, right=[1, 2]))

    @models.command(name="show")
    @click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
    @json_option
    @registry_opt
    def models_show(ref: str, as_json: bool) -> None:
        """Show a model and its history, or one version in full."""
        registry = open_cli_registry()
        name, selector = parse_model_ref(registry, ref)
        if selector is not None:
            version = registry.get_model_version(name, selector)
            if as_json:
                echo_json(version_json(version))
            else:
                click.echo(_describe_version(version))
            return
        model = registry.get_registered_model(name)
        versions = registry.list_model_versions(name)
        history = registry.list_model_audit(name)
        if as_json:
            data = model_json(model, versions)
            data["versions"] = [version_json(v) for v in versions]
            data["history"] = [_history_json(e) for e in history]
            echo_json(data)
            return
        click.echo(_describe_model(model, versions, history))

    @models.command(name="register")
    @click.argument("run_ref", metavar="RUN_ID")
    @click.option(
        "--name", "-n", required=True, metavar="NAME", help="Model name (created if new)."
    )
    @click.option("--description", "-d", default="", help="What this version is.")
    @click.option(
        "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A version tag (repeatable)."
    )
    @json_option
    @registry_opt
    def models_register(
        run_ref: str, name: str, description: str, tags: tuple[str, ...], as_json: bool
    ) -> None:
        """Register a run's model as the next version of NAME.

        The model is the one RUN_ID logged with run.log_model(estimator, "model").
        RUN_ID may be a unique prefix. The version keeps the model file's SHA-256, its
        signature and input example, and the run's metrics and params as they are now.
        """
        from desktop_app.versioning.model_history import register_model_version

        parsed_tags = _parse_tags(tags)
        registry = open_cli_registry()
        version, card = register_model_version(
            registry, name, run_ref, description=description, tags=parsed_tags
        )
        if as_json:
            data = version_json(version)
            data["card_commit"] = card.commit
            echo_json(data)
            return
        click.echo(
            f"Registered {version.model_name} version {version.version} from run "
            f"{version.run_id} (sha256 {version.artifact_sha256[:12]})."
        )
        if card.commit:
            click.echo(f"Model card committed: {card.commit[:12]}.")
        else:
            click.echo(f"No model card: {card.skipped_reason}.")

    @models.group(name="alias")
    @registry_opt
    def alias() -> None:
        """Point an alias (champion, challenger ...) at a version, or remove it."""

    @alias.command(name="set")
    @click.argument("name")
    @click.argument("alias_name", metavar="ALIAS")
    @click.argument("version", type=click.IntRange(min=1))
    @registry_opt
    def alias_set(name: str, alias_name: str, version: int) -> None:
        """Point ALIAS of model NAME at VERSION (moving it if it is set); audited."""
        from desktop_app.versioning.model_history import set_alias

        registry = open_cli_registry()
        previous = registry.get_registered_model(name).aliases.get(alias_name)
        if previous == version:
            click.echo(f"{name}@{alias_name} already points at version {version}.")
            return
        set_alias(registry, name, alias_name, version)
        moved = f" (was version {previous})" if previous else ""
        click.echo(f"{name}@{alias_name} -> version {version}{moved}.")

    @alias.command(name="remove")
    @click.argument("name")
    @click.argument("alias_name", metavar="ALIAS")
    @registry_opt
    def alias_remove(name: str, alias_name: str) -> None:
        """Remove ALIAS from model NAME; audited with the version it pointed at."""
        from desktop_app.versioning.model_history import remove_alias

        registry = open_cli_registry()
        previous = registry.get_model_version(name, alias_name).version
        remove_alias(registry, name, alias_name)
        click.echo(f"Removed {name}@{alias_name} (was version {previous}).")

    def _set_status(ref: str, status: str) -> None:
        registry = open_cli_registry()
        version = _numbered(registry, ref)
        label = f"{version.model_name} version {version.version}"
        if version.status == status:
            click.echo(f"{label} is already {status}.")
            return
        registry.set_model_version_status(version.model_name, version.version, status)
        click.echo(f"{'Archived' if status == 'archived' else 'Restored'} {label}.")
        if status == "archived" and version.aliases:
            held = ", ".join(f"@{alias}" for alias in version.aliases)
            click.echo(
                f"Note: {held} still points at it; move the alias to serve another version.",
                err=True,
            )

    @models.command(name="archive")
    @click.argument("ref", metavar="NAME:VERSION")
    @registry_opt
    def models_archive(ref: str) -> None:
        """Archive a version (kept, but a bare NAME skips it)."""
        _set_status(ref, "archived")

    @models.command(name="restore")
    @click.argument("ref", metavar="NAME:VERSION")
    @registry_opt
    def models_restore(ref: str) -> None:
        """Bring an archived version back."""
        _set_status(ref, "ready")

    @models.command(name="export")
    @click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["mlflow"]),
        default="mlflow",
        show_default=True,
        help="Directory layout to write.",
    )
    @click.option(
        "--output",
        "-o",
        required=True,
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="New or empty folder to write the model into.",
    )
    @registry_opt
    def models_export(ref: str, fmt: str, output: str) -> None:
        """Export a version as an MLflow Model directory.

        The folder holds MLmodel, the model file, requirements.txt, python_env.yaml,
        conda.yaml and the input example.
        MLflow loads it with mlflow.pyfunc.load_model or mlflow.sklearn.load_model and serves
        it with `mlflow models serve -m DIR`. The model file's SHA-256 is checked first.
        """
        from desktop_app.serving.mlflow_export import export_mlflow_model

        registry = open_cli_registry()
        version = resolve_version(registry, ref)
        target = export_mlflow_model(registry, version, output)
        click.echo(
            f"Exported {version.model_name} version {version.version} as an {fmt} model to "
            f"{target}."
        )
