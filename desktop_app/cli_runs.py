"""``modeldesk runs list|show|delete|restore|purge``: finding runs and managing their lifecycle.

Like the rest of the command line, only click and the standard library load with this module;
each command imports the registry when it runs.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from desktop_app.cli_common import (
    DEFAULT_LIMIT,
    _artifact_json,
    _cell,
    _plural,
    _section,
    echo_json,
    format_bytes,
    format_duration,
    format_float,
    format_table,
    format_time,
    json_option,
    open_cli_registry,
    registry_option,
    run_json,
)
from desktop_app.errors import AppError

if TYPE_CHECKING:
    from desktop_app.registry.entities import Artifact, Run
    from desktop_app.registry.query import Query, Ref


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


@click.command(name="list")
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


@click.command(name="show")
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


@click.command(name="delete")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@registry_option
def runs_delete(run_refs: tuple[str, ...]) -> None:
    """Move runs (and their child runs) to the trash."""
    registry = open_cli_registry()
    changed = registry.delete_runs(list(run_refs))
    click.echo(f"Moved {_plural(changed, 'run')} to the trash.")


@click.command(name="restore")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@registry_option
def runs_restore(run_refs: tuple[str, ...]) -> None:
    """Bring runs (and their child runs) back from the trash."""
    registry = open_cli_registry()
    changed = registry.restore_runs(list(run_refs))
    click.echo(f"Restored {_plural(changed, 'run')} from the trash.")


@click.command(name="purge")
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


def register(runs: click.Group) -> None:
    """Add the list, show, delete, restore and purge commands to the ``runs`` group."""
    for command in (runs_list, runs_show, runs_delete, runs_restore, runs_purge):
        runs.add_command(command)
