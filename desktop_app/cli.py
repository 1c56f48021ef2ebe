"""The command line: ``modeldesk experiments|runs|registry ...`` over the registry engine.

Only click and the standard library are imported when this module loads; each command imports
the registry when it runs, so ``--help`` stays instant and ``runs list`` loads nothing it does
not use. Every expected failure (an ``AppError`` or a usage error) ends as one line on stderr,
``Error: <message>``, with exit code 1 (2 for usage errors).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from desktop_app import __version__
from desktop_app.errors import AppError

if TYPE_CHECKING:
    from desktop_app.registry.entities import Artifact, Experiment, MetricSummary, Run
    from desktop_app.registry.query import Query, Ref
    from desktop_app.registry.store import Registry

PROG_NAME = "modeldesk"
ENV_REGISTRY = "MODELDESK_REGISTRY"
DEFAULT_LIMIT = 100
_REGISTRY_KEY = "modeldesk.registry_path"
_MAX_CELL = 40

F = TypeVar("F", bound=Callable[..., Any])


# ---- the error edge --------------------------------------------------------------------------


def _one_line(message: str) -> str:
    return "Error: " + " ".join(str(message).split())


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


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop the command with one ``Error:`` line on stderr and a non-zero exit code."""
    click.echo(_one_line(message), err=True)
    raise click.exceptions.Exit(code)


# ---- options shared by every command ---------------------------------------------------------


def _remember_registry(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_REGISTRY_KEY] = value


def registry_option(func: F) -> F:
    """Add ``--registry PATH`` (also accepted before the command group)."""
    return click.option(
        "--registry",
        metavar="PATH",
        expose_value=False,
        callback=_remember_registry,
        help=f"Registry folder to use (default: ${ENV_REGISTRY}, else the user data folder).",
    )(func)


def json_option(func: F) -> F:
    """Add ``--json``: machine-readable output."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print strict JSON instead of a table."
    )(func)


def open_cli_registry(*, create: bool = False) -> Registry:
    """Open the registry chosen by ``--registry``, ``$MODELDESK_REGISTRY`` or the default.

    A folder named explicitly (option or environment) must already hold a registry unless
    ``create`` is true, so a mistyped path reports an error instead of creating a new registry;
    the default folder is created on first use.
    """
    from desktop_app.registry.store import open_registry

    ctx = click.get_current_context()
    path = ctx.meta.get(_REGISTRY_KEY)
    explicit = bool(path or os.environ.get(ENV_REGISTRY))
    registry = open_registry(path, create=create or not explicit)
    ctx.call_on_close(registry.close)
    return registry


# ---- formatting ------------------------------------------------------------------------------


def format_float(value: float | None) -> str:
    """A number with 4 significant digits; ``-`` for a missing value."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def format_time(timestamp: float | None) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM``; ``-`` when unknown."""
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def format_duration(seconds: float | None) -> str:
    """A duration such as ``42s``, ``1m 05s``, ``2h 03m`` or ``3d 04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_bytes(size: int) -> str:
    """A byte count in binary units: ``512 B``, ``1.5 KiB``, ``3.2 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _cell(text: str, limit: int = _MAX_CELL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Iterable[int] = ()
) -> str:
    """Plain-text columns separated by two spaces; ``right`` lists right-aligned columns."""
    right_aligned = set(right)
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [
            c.rjust(w) if i in right_aligned else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# ---- JSON ------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """``value`` made strict-JSON safe: NaN → null, ±inf → "Infinity"/"-Infinity"."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def echo_json(value: Any) -> None:
    """Print ``value`` as strict JSON (no NaN or Infinity literals)."""
    import json

    click.echo(json.dumps(json_value(value), indent=2, allow_nan=False, ensure_ascii=False))


def iso_utc(timestamp: float | None) -> str | None:
    """A timestamp as an ISO 8601 UTC string (``2024-05-01T12:00:00.000Z``), or None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _metric_json(summary: MetricSummary, *, detailed: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "last": summary.last,
        "min": summary.min,
        "max": summary.max,
        "last_step": summary.last_step,
    }
    if detailed:
        data.update(min_step=summary.min_step, max_step=summary.max_step, count=summary.count)
    return data


def run_json(run: Run, *, detailed: bool = False) -> dict[str, Any]:
    """The JSON record of a run (``detailed`` adds what ``runs show`` prints)."""
    data: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment_name,
        "status": str(run.status),
        "start": iso_utc(run.start_time),
        "end": iso_utc(run.end_time),
        "duration": run.duration,
        "parent": run.parent_id,
        "params": dict(sorted(run.params.items())),
        "tags": dict(sorted(run.tags.items())),
        "metrics": {
            key: _metric_json(run.metrics[key], detailed=detailed) for key in sorted(run.metrics)
        },
    }
    if detailed:
        data.update(
            status_reason=run.status_reason,
            in_trash=run.lifecycle == "deleted",
            note=run.note,
            host=run.host,
            source=run.source,
            git=run.git,
        )
    return data


def _experiment_json(experiment: Experiment) -> dict[str, Any]:
    return {
        "id": experiment.id,
        "name": experiment.name,
        "description": experiment.description,
        "created": iso_utc(experiment.created_at),
        "runs": experiment.run_count,
        "in_trash": experiment.lifecycle == "deleted",
    }


def _artifact_json(artifact: Artifact) -> dict[str, Any]:
    return {
        "path": artifact.path,
        "kind": artifact.kind,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "created": iso_utc(artifact.created_at),
    }


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


# ---- runs ------------------------------------------------------------------------------------


_ORDER_PREFIX = "order by "


def parse_list_query(query: str, order_by: str | None) -> tuple[Query, Query | None]:
    """Check the filter and the order-by before searching; columns count from 1 in each."""
    from desktop_app.errors import QuerySyntaxError
    from desktop_app.registry.query import parse_query

    parsed = parse_query(query)
    if not order_by:
        return parsed, None
    try:
        return parsed, parse_query(_ORDER_PREFIX + order_by)
    except QuerySyntaxError as exc:
        column = max(1, exc.column - len(_ORDER_PREFIX))
        raise AppError(
            f"--order-by column {column}: {exc.reason}", code=exc.code, detail=order_by
        ) from exc


def referenced_refs(*queries: Query | None) -> list[Ref]:
    """The metric, param and tag fields the queries mention (sort terms first), no repeats."""
    from desktop_app.registry.query import And, Not, Or

    found: list[Ref] = []

    def add(ref: Ref) -> None:
        if ref.kind != "attr" and ref not in found:
            found.append(ref)

    def walk(node: Any) -> None:
        if isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, And | Or):
            walk(node.left)
            walk(node.right)
        elif node is not None:
            add(node.ref)

    for query in queries:
        for item in query.order if query else ():
            add(item.ref)
    for query in queries:
        walk(query.where if query else None)
    return found


def _ref_label(ref: Ref) -> str:
    if ref.kind == "metric" and ref.aggregate != "last":
        return f"{ref.key}.{ref.aggregate}"
    return ref.key


def _ref_cell(run: Run, ref: Ref) -> str:
    if ref.kind == "metric":
        summary = run.metrics.get(ref.key)
        return "-" if summary is None else format_float(getattr(summary, ref.aggregate))
    values = run.params if ref.kind == "param" else run.tags
    return _cell(values.get(ref.key, "-"), 24)


def _list_columns(
    page: Sequence[Run], refs: Sequence[Ref], *, show_experiment: bool
) -> tuple[list[str], list[list[str]], set[int]]:
    headers = ["ID", "NAME"]
    if show_experiment:
        headers.append("EXPERIMENT")
    headers += ["STATUS", "STARTED", "DURATION"]
    rows = []
    for run in page:
        row = [run.id, _cell(run.name, 24)]
        if show_experiment:
            row.append(_cell(run.experiment_name, 20))
        row += [str(run.status), format_time(run.start_time), _duration_text(run)]
        rows.append(row)
    right = {len(headers) - 1}
    for ref in refs:
        if ref.kind == "metric":
            right.add(len(headers))
        headers.append(_ref_label(ref))
        for row, run in zip(rows, page, strict=True):
            row.append(_ref_cell(run, ref))
    # Further metrics (their last value) fill the rest of the terminal's width.
    shown = {ref.key for ref in refs if ref.kind == "metric" and ref.aggregate == "last"}
    others = sorted({key for run in page for key in run.metrics} - shown)
    width = shutil.get_terminal_size().columns
    used = len(format_table(headers, rows).split("\n", 1)[0])
    for key in others:
        cells = [format_float(r.metrics[key].last) if key in r.metrics else "-" for r in page]
        column = max(len(key), *(len(c) for c in cells))
        if used + 2 + column > width:
            break
        used += 2 + column
        right.add(len(headers))
        headers.append(key)
        for row, cell in zip(rows, cells, strict=True):
            row.append(cell)
    return headers, rows, right


@runs.command(name="list")
@click.option(
    "--experiment",
    "-e",
    "experiment_names",
    multiple=True,
    metavar="NAME",
    help="Only runs of this experiment (repeat for several).",
)
@click.option(
    "--filter",
    "-f",
    "query",
    default="",
    metavar="QUERY",
    help="Filter, e.g. 'metrics.acc > 0.9 and params.model = \"rf\"'.",
)
@click.option(
    "--order-by",
    "-o",
    default=None,
    metavar="ORDER",
    help='Sort order, e.g. "metrics.f1 desc" (default: newest first).',
)
@click.option(
    "--limit",
    "-n",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="N",
    help="Show at most this many runs.",
)
@click.option("--all", "show_all", is_flag=True, help="Show every matching run (no limit).")
@click.option("--trash", is_flag=True, help="List the runs in the trash instead.")
@json_option
@registry_option
def runs_list(
    experiment_names: tuple[str, ...],
    query: str,
    order_by: str | None,
    limit: int,
    show_all: bool,
    trash: bool,
    as_json: bool,
) -> None:
    """List runs, newest first, with their last metric values.

    Columns for the metrics, params and tags named in --filter/--order-by come first; other
    metrics follow as far as the terminal is wide. Use `runs show RUN` for everything.
    """
    parsed, parsed_order = parse_list_query(query, order_by)
    registry = open_cli_registry()
    scope = list(experiment_names) or None
    fetch = None if show_all else limit + 1
    ids = registry.search_runs(
        query, experiments=scope, trash=trash, order_by=order_by or None, limit=fetch
    )
    more = fetch is not None and len(ids) > limit
    ids = ids[:limit] if more else ids
    if as_json:
        echo_json([run_json(run) for run in registry.get_runs(ids)])
        return
    if not ids:
        click.echo("No runs in the trash." if trash else "No runs match.")
        return
    refs = referenced_refs(parsed_order, parsed)
    params = [ref.key for ref in refs if ref.kind == "param"]
    tags = any(ref.kind == "tag" for ref in refs)
    page = registry.get_runs(ids, with_params=params or False, with_tags=tags)
    headers, rows, right = _list_columns(page, refs, show_experiment=len(experiment_names) != 1)
    click.echo(format_table(headers, rows, right=right))
    if more:
        total = registry.count_runs(query, experiments=scope, trash=trash)
        click.echo(
            f"Showing the first {len(ids):,} of {total:,} matching runs; "
            "use --limit N or --all for more.",
            err=True,
        )


def _duration_text(run: Run) -> str:
    if run.duration is None and str(run.status) == "RUNNING" and run.start_time is not None:
        return f"{format_duration(time.time() - run.start_time)} so far"
    return format_duration(run.duration)


def _metric_cell(value: float | None, step: int | None) -> str:
    if value is None or (step is None and isinstance(value, float) and math.isnan(value)):
        return "-"
    return format_float(value) if step is None else f"{format_float(value)} @{step}"


def _section(title: str, body: str) -> str:
    indented = "\n".join("  " + line if line else line for line in body.splitlines())
    return f"\n{title}\n{indented}"


def _describe_run(run: Run, artifacts: Sequence[Artifact]) -> str:
    reason_lines = run.status_reason.strip().splitlines()
    status = str(run.status)
    if reason_lines:
        status += f" ({_cell(reason_lines[0], 70)})"
    fields = [
        ("Run", f"{run.id}  {run.name}"),
        ("Experiment", run.experiment_name),
        ("Status", status + ("  [in the trash]" if run.lifecycle == "deleted" else "")),
        ("Started", format_time(run.start_time)),
        ("Ended", format_time(run.end_time)),
        ("Duration", _duration_text(run)),
    ]
    if run.parent_id:
        fields.append(("Parent", run.parent_id))
    if run.host:
        fields.append(("Host", run.host + (f" (pid {run.pid})" if run.pid else "")))
    if run.source:
        fields.append(("Source", run.source))
    if run.git.get("commit"):
        dirty = " (uncommitted changes)" if run.git.get("dirty") else ""
        fields.append(("Git commit", f"{run.git['commit']}{dirty}"))
    width = max(len(name) for name, _ in fields)
    parts = ["\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)]
    if len(reason_lines) > 1:
        parts.append(_section("Reason:", "\n".join(reason_lines)))
    if run.params:
        rows = [[k, _cell(v, 60)] for k, v in sorted(run.params.items())]
        parts.append(_section("Params:", format_table(["NAME", "VALUE"], rows)))
    if run.tags:
        rows = [[k, _cell(v, 60)] for k, v in sorted(run.tags.items())]
        parts.append(_section("Tags:", format_table(["NAME", "VALUE"], rows)))
    if run.metrics:
        rows = [
            [
                key,
                _metric_cell(m.last, m.last_step),
                _metric_cell(m.min, m.min_step),
                _metric_cell(m.max, m.max_step),
                f"{m.count:,}",
            ]
            for key, m in sorted(run.metrics.items())
        ]
        table = format_table(["METRIC", "LAST", "MIN", "MAX", "POINTS"], rows, right=[4])
        parts.append(_section("Metrics (value @step):", table))
    if artifacts:
        rows = [[a.path, a.kind, format_bytes(a.size), a.sha256[:12]] for a in artifacts]
        table = format_table(["PATH", "KIND", "SIZE", "SHA256"], rows, right=[2])
        parts.append(_section("Artifacts:", table))
    if run.note.strip():
        parts.append(_section("Note:", run.note.strip()))
    return "\n".join(parts)


@runs.command(name="show")
@click.argument("run_ref", metavar="RUN")
@json_option
@registry_option
def runs_show(run_ref: str, as_json: bool) -> None:
    """Show everything about one run.

    RUN is a run id or a unique prefix of it (at least 4 characters).
    """
    registry = open_cli_registry()
    run = registry.get_run(run_ref)
    artifacts = registry.list_artifacts(run.id)
    if as_json:
        data = run_json(run, detailed=True)
        data["artifacts"] = [_artifact_json(a) for a in artifacts]
        echo_json(data)
        return
    click.echo(_describe_run(run, artifacts))


@runs.command(name="delete")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@registry_option
def runs_delete(run_refs: tuple[str, ...]) -> None:
    """Move runs (and their child runs) to the trash."""
    registry = open_cli_registry()
    changed = registry.delete_runs(list(run_refs))
    click.echo(f"Moved {_plural(changed, 'run')} to the trash.")


@runs.command(name="restore")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@registry_option
def runs_restore(run_refs: tuple[str, ...]) -> None:
    """Bring runs (and their child runs) back from the trash."""
    registry = open_cli_registry()
    changed = registry.restore_runs(list(run_refs))
    click.echo(f"Restored {_plural(changed, 'run')} from the trash.")


@runs.command(name="purge")
@click.argument("run_refs", metavar="[RUN...]", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@registry_option
def runs_purge(run_refs: tuple[str, ...], yes: bool) -> None:
    """Erase runs in the trash for good.

    With no RUN, the whole trash is emptied (runs and deleted experiments). Artifact files
    that no other run or model version uses are deleted from disk.
    """
    registry = open_cli_registry()
    if run_refs:
        what = _plural(len(run_refs), "run")
    else:
        run_count = registry.count_runs(trash=True)
        exp_count = len(registry.list_experiments("deleted"))
        if run_count == 0 and exp_count == 0:
            click.echo("The trash is empty.")
            return
        what = _plural(run_count, "run")
        if exp_count:
            what += f" and {_plural(exp_count, 'experiment')}"
        what += " in the trash"
    if not yes:
        click.confirm(f"Erase {what} for good? This cannot be undone.", abort=True)
    from desktop_app.versioning.run_code import purge_runs

    report = purge_runs(registry, list(run_refs) if run_refs else None)
    erased = _plural(report.runs, "run")
    if report.experiments:
        erased += f" and {_plural(report.experiments, 'experiment')}"
    click.echo(
        f"Purged {erased}; removed {_plural(report.artifacts_removed, 'artifact file')}, "
        f"freed {format_bytes(report.bytes_freed)}."
    )


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


# The code commands (runs code|diff|restore-code) live in their own module.
import desktop_app.cli_reports as cli_reports  # noqa: E402
import desktop_app.cli_sweep as cli_sweep  # noqa: E402
from desktop_app import cli_code, cli_doctor, cli_models, cli_serving, cli_training  # noqa: E402

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
