"""The command line: ``modeldesk experiments|runs|registry ...`` over the registry engine.

Only click and the standard library are imported when this module loads; each command imports
the registry when it runs, so ``--help`` stays instant and ``runs list`` loads nothing it does
not use. Every expected failure (an ``AppError`` or a usage error) ends as one line on stderr,
``Error: <message>``, with exit code 1 (2 for usage errors).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from desktop_app import __version__
from desktop_app.cli_common import (
    _REGISTRY_KEY,
    DEFAULT_LIMIT,
    ENV_REGISTRY,
    PROG_NAME,
    _artifact_json,
    _cell,
    _experiment_json,
    _one_line,
    _plural,
    _section,
    echo_json,
    fail,
    format_bytes,
    format_duration,
    format_float,
    format_table,
    format_time,
    iso_utc,
    json_option,
    json_value,
    open_cli_registry,
    registry_option,
    run_json,
)
from desktop_app.errors import AppError

# The shared helpers stay importable from here, as they always were.
__all__ = [
    "DEFAULT_LIMIT",
    "ENV_REGISTRY",
    "PROG_NAME",
    "_REGISTRY_KEY",
    "_artifact_json",
    "_cell",
    "_section",
    "cli",
    "echo_json",
    "fail",
    "format_bytes",
    "format_duration",
    "format_float",
    "format_table",
    "format_time",
    "iso_utc",
    "json_option",
    "json_value",
    "open_cli_registry",
    "registry_option",
    "run_cli",
    "run_json",
]

# ---- the error edge ---------------------------------------------------------------------------


class _RootGroup(click.Group):
    """The top-level group: turns expected errors into one line on stderr and an exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit (or return the exit code when not standalone)."""
        code = self._run(args, prog_name or PROG_NAME, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str,
        complete_var: str | None,
        **extra: Any,
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            # A bare group (``modeldesk runs``) is a request for its help, not a mistake.
            click.echo(exc.format_message())
            return 0
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(_one_line(exc.format_message() + hint), err=True)
            return exc.exit_code
        except click.ClickException as exc:
            click.echo(_one_line(exc.format_message()), err=True)
            return exc.exit_code
        except click.Abort:
            click.echo(_one_line("Aborted."), err=True)
            return 1
        except AppError as exc:
            click.echo(_one_line(exc.message), err=True)
            return 1
        return result if isinstance(result, int) else 0


# ---- the command tree ------------------------------------------------------------------------


@click.group(
    cls=_RootGroup,
    name=PROG_NAME,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name=PROG_NAME, message="%(prog)s %(version)s")
@registry_option
def cli() -> None:
    """ModelDesk: experiments, runs and the registry from the command line.

    Without a command, `modeldesk` (optionally with --registry PATH) opens the desktop app.
    """


@cli.group()
@registry_option
def experiments() -> None:
    """List, create, delete and restore experiments."""


@cli.group()
@registry_option
def runs() -> None:
    """Find, inspect, delete, restore and purge runs."""


@cli.group(name="registry")
@registry_option
def registry_group() -> None:
    """Inspect, check and back up the registry folder."""


# ---- experiments -----------------------------------------------------------------------------


@experiments.command(name="list")
@click.option("--trash", is_flag=True, help="List the experiments in the trash instead.")
@json_option
@registry_option
def experiments_list(trash: bool, as_json: bool) -> None:
    """List experiments with their id and number of runs."""
    registry = open_cli_registry()
    found = registry.list_experiments("deleted" if trash else "active")
    if as_json:
        echo_json([_experiment_json(e) for e in found])
        return
    if not found:
        click.echo("The trash holds no experiments." if trash else "No experiments yet.")
        return
    rows = [[str(e.id), _cell(e.name), f"{e.run_count:,}"] for e in found]
    click.echo(format_table(["ID", "NAME", "RUNS"], rows, right=[0, 2]))


@experiments.command(name="create")
@click.argument("name")
@click.option("--description", default="", help="A short description of the experiment.")
@registry_option
def experiments_create(name: str, description: str) -> None:
    """Create an experiment called NAME (creating the registry if needed)."""
    registry = open_cli_registry(create=True)
    experiment = registry.create_experiment(name, description)
    click.echo(f"Created experiment {experiment.name!r} (id {experiment.id}).")


@experiments.command(name="delete")
@click.argument("name")
@registry_option
def experiments_delete(name: str) -> None:
    """Move experiment NAME (name or id) and its runs to the trash."""
    registry = open_cli_registry()
    experiment = registry.get_experiment(name)
    if experiment.lifecycle == "deleted":
        click.echo(f"Experiment {experiment.name!r} is already in the trash.")
        return
    registry.delete_experiment(experiment.id)
    click.echo(
        f"Moved experiment {experiment.name!r} and its {_plural(experiment.run_count, 'run')} "
        "to the trash."
    )


@experiments.command(name="restore")
@click.argument("name")
@registry_option
def experiments_restore(name: str) -> None:
    """Bring experiment NAME (name or id) back from the trash."""
    registry = open_cli_registry()
    experiment = registry.get_experiment(name)
    if experiment.lifecycle != "deleted":
        click.echo(f"Experiment {experiment.name!r} is not in the trash.")
        return
    restored = registry.restore_experiment(experiment.id)
    click.echo(f"Restored experiment {restored.name!r} with {_plural(restored.run_count, 'run')}.")


# ---- registry --------------------------------------------------------------------------------


@registry_group.command(name="info")
@json_option
@registry_option
def registry_info(as_json: bool) -> None:
    """Show where the registry is, its schema version and its sizes."""
    registry = open_cli_registry()
    info = registry.info()
    if as_json:
        echo_json(info)
        return
    fields = [
        ("Path", info["path"]),
        ("Database", f"{info['database']} ({format_bytes(info['database_bytes'])})"),
        ("Schema", f"v{info['schema_version']}"),
        ("Experiments", f"{info['experiments']:,}"),
        ("Runs", f"{info['runs']:,} ({info['runs_in_trash']:,} in the trash)"),
        ("Models", f"{info['registered_models']:,}"),
        ("Artifacts", format_bytes(info["artifact_bytes"])),
    ]
    width = max(len(name) for name, _ in fields)
    click.echo("\n".join(f"{name.ljust(width)}  {value}" for name, value in fields))


@registry_group.command(name="check")
@registry_option
def registry_check() -> None:
    """Check database integrity and every artifact file; exit 1 if anything is wrong."""
    registry = open_cli_registry()
    problems = registry.check()
    if not problems:
        click.echo("No problems found.")
        return
    for problem in problems:
        click.echo(problem)
    fail(f"{_plural(len(problems), 'problem')} found in {registry.root}.")


@registry_group.command(name="backup")
@click.argument("destination", metavar="DEST", type=click.Path(file_okay=False))
@registry_option
def registry_backup(destination: str) -> None:
    """Write a consistent copy of the registry into the new or empty folder DEST."""
    registry = open_cli_registry()
    target = registry.backup(destination)
    click.echo(f"Backed up {registry.root} to {target}.")


# Each command group beyond experiments and registry lives in its own module.
import desktop_app.cli_reports as cli_reports  # noqa: E402
import desktop_app.cli_sweep as cli_sweep  # noqa: E402
from desktop_app import (  # noqa: E402
    cli_code,
    cli_doctor,
    cli_models,
    cli_runs,
    cli_serving,
    cli_training,
)

cli_runs.register(runs)
cli_code.register(runs)
cli_sweep.register(cli)
cli_training.register(cli, runs)
cli_reports.register(runs)
cli_models.register(cli)
cli_serving.register(cli)
cli_doctor.register(cli)


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    return int(cli.main(args=list(argv) if argv is not None else None, standalone_mode=False))
