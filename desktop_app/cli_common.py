"""What every ``modeldesk`` command shares: the error edge, options, tables and JSON.

Only click and the standard library load with this module. Command modules (``cli``,
``cli_runs``, ``cli_models``, ...) import from here, never from each other, so any of them can be
imported first.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from desktop_app.registry.entities import Artifact, Experiment, MetricSummary, Run
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


def _section(title: str, body: str) -> str:
    indented = "\n".join("  " + line if line else line for line in body.splitlines())
    return f"\n{title}\n{indented}"


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
