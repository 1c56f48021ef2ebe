"""The comparison report: one self-contained HTML file (inline SVG and CSS, no links out)."""

from __future__ import annotations

import base64
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from desktop_app.registry import Registry, Run
from desktop_app.reports import svg
from desktop_app.reports.comparison import (
    Comparison,
    curve_metric_keys,
    load_comparison,
    metric_keys,
)
from desktop_app.reports.diff import DiffRow, build_diff, metric_direction
from desktop_app.reports.evaluation import RunEvaluation, load_evaluations
from desktop_app.reports.fields import Field
from desktop_app.reports.numeric import X_MODES, ema, format_number, format_seconds, x_values
from desktop_app.reports.parallel import build_parallel, default_fields

# Beyond this many runs, tables list runs as rows instead of side-by-side columns.
SIDE_BY_SIDE_LIMIT = 12
BAR_CHART_LIMIT = 8
# One dash pattern per class, so a multi-class run's curves (all in its colour) stay apart.
DASHES = ("", "6 3", "2 3", "8 3 2 3")
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;
color:#1f2328;margin:24px auto;max-width:1180px;padding:0 20px;line-height:1.45}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid
#d8dee4;padding-bottom:4px}h3{font-size:14px;margin:18px 0 6px}.muted{color:#59636e}
.scroll{overflow-x:auto;margin:6px 0 12px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d8dee4;padding:4px 8px;text-align:left;white-space:nowrap;
vertical-align:top}th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:
tabular-nums}tr.diff td:first-child{border-left:3px solid #d29922}td.best{background:#dafbe1;
font-weight:600}.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;
margin-right:6px;vertical-align:-1px}.charts svg{display:block;max-width:100%;height:auto;
margin:8px 0 16px;border:1px solid #eaeef2;border-radius:4px}.cm{display:inline-block;
margin:0 18px 14px 0;vertical-align:top}.cm td{text-align:right;min-width:44px}
.cm caption{text-align:left;font-weight:600;padding-bottom:4px}img{max-width:100%;
border:1px solid #eaeef2;border-radius:4px}figure{margin:12px 0 20px}
figcaption{font-weight:600;margin-bottom:4px}
"""


@dataclass(frozen=True)
class ReportImage:
    """A picture to embed as it is (PNG bytes), such as a grab of a live chart."""

    title: str
    png: bytes


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{colour}"></span>'


def _run_cell(comparison: Comparison, run: Run) -> str:
    return f"{_swatch(comparison.colours[run.id])}{escape(comparison.labels[run.id])}"


def _runs_table(comparison: Comparison) -> str:
    rows = []
    for run in comparison.runs:
        duration = run.duration
        started = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(run.start_time))
            if run.start_time
            else ""
        )
        rows.append(
            "<tr>"
            f"<td>{_run_cell(comparison, run)}</td><td>{escape(run.experiment_name)}</td>"
            f"<td>{escape(str(run.status))}</td><td>{started}</td>"
            f"<td class=num>{format_seconds(duration) if duration is not None else ''}</td>"
            f"<td><code>{escape(run.id)}</code></td></tr>"
        )
    head = "<tr><th>Run</th><th>Experiment</th><th>Status</th><th>Started</th>"
    head += "<th>Duration</th><th>ID</th></tr>"
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'


def _cell(row: DiffRow, index: int) -> str:
    classes = []
    if row.kind == "metric":
        classes.append("num")
    if index in row.best:
        classes.append("best")
    text = escape(row.texts[index])
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{text}</td>"


def _diff_section(comparison: Comparison, rows: Sequence[DiffRow], what: str) -> str:
    if not rows:
        return f'<p class="muted">No {what} were logged by these runs.</p>'
    runs = comparison.runs
    if len(runs) <= SIDE_BY_SIDE_LIMIT:
        head = "<tr><th>" + ("Metric" if what == "metrics" else "Param") + "</th>"
        head += "".join(f"<th>{_run_cell(comparison, r)}</th>" for r in runs) + "</tr>"
        body = []
        for row in rows:
            cls = ' class="diff"' if row.differs and len(runs) > 1 else ""
            cells = "".join(_cell(row, i) for i in range(len(runs)))
            body.append(f"<tr{cls}><td>{escape(row.key)}</td>{cells}</tr>")
    else:
        head = "<tr><th>Run</th>" + "".join(f"<th>{escape(r.key)}</th>" for r in rows) + "</tr>"
        body = [
            f"<tr><td>{_run_cell(comparison, run)}</td>"
            + "".join(_cell(row, i) for row in rows)
            + "</tr>"
            for i, run in enumerate(runs)
        ]
    return f'<div class="scroll"><table>{head}{"".join(body)}</table></div>'


def _curve_charts(comparison: Comparison, x_mode: str, smoothing: float) -> str:
    charts = []
    x_format: Callable[[float], str] = {"wall": _clock, "relative": format_seconds}.get(
        x_mode, format_number
    )
    x_label = X_MODES.get(x_mode, x_mode)
    for key in comparison.metrics:
        series = []
        for run in comparison.runs:
            data = comparison.series.get((run.id, key))
            if data is None or len(data) == 0:
                continue
            x = x_values(data.steps, data.timestamps, x_mode, run.start_time)
            colour, label = comparison.colours[run.id], comparison.labels[run.id]
            if smoothing > 0:
                series.append(svg.Series(label, colour, x, data.values, opacity=0.25, width=1.0))
                series.append(svg.Series(label, colour, x, ema(data.values, smoothing)))
            else:
                series.append(svg.Series(label, colour, x, data.values))
        if series:
            charts.append(
                svg.line_chart(key, series, x_label=x_label, y_label=key, x_format=x_format)
            )
    if not charts:
        return '<p class="muted">None of these runs logged a metric at more than one step.</p>'
    note = f'<p class="muted">Smoothing (EMA) {smoothing:.2f}; raw values drawn faint.</p>'
    return (note if smoothing > 0 else "") + f'<div class="charts">{"".join(charts)}</div>'


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp)) if math.isfinite(stamp) else ""


def _bar_charts(comparison: Comparison) -> str:
    charts = []
    for key in bar_metrics(comparison)[:BAR_CHART_LIMIT]:
        direction = metric_direction(key)
        items = [
            (comparison.labels[r.id], r.metrics[key].last, comparison.colours[r.id])
            for r in comparison.runs
            if key in r.metrics
        ]
        finite = [i for i in items if math.isfinite(i[1])]
        others = [i for i in items if not math.isfinite(i[1])]
        finite.sort(key=lambda item: item[1], reverse=direction != "min")
        best = finite[0][0] if finite and direction is not None and len(finite) > 1 else None
        subtitle = {"min": " (lower is better)", "max": " (higher is better)"}.get(
            direction or "", ""
        )
        charts.append(
            svg.bar_chart(f"{key}{subtitle}", finite + others, value_label=key, best=best)
        )
    return f'<div class="charts">{"".join(charts)}</div>' if charts else ""


def bar_metrics(comparison: Comparison) -> list[str]:
    """Scores worth a bar chart: final values first (not curves), spreads and counters left out."""
    curves = set(curve_metric_keys(comparison.runs))
    scored = [k for k in metric_keys(comparison.runs) if metric_direction(k) is not None]
    return sorted(scored, key=lambda k: (k in curves, k.casefold()))


def main_metric(comparison: Comparison) -> str | None:
    """The metric to lead with (colour, scatter y): a validation score every run has."""
    runs = comparison.runs
    keys = [k for k in metric_keys(runs) if metric_direction(k) is not None]
    if not keys:
        return None

    def rank(key: str) -> tuple[int, int, int, str]:
        held = sum(key in run.metrics for run in runs)
        held_out = any(word in key.casefold() for word in ("val", "test", "eval"))
        return (-held, 0 if held_out else 1, 0 if metric_direction(key) == "max" else 1, key)

    return min(keys, key=rank)


def _parallel(comparison: Comparison) -> str:
    if len(comparison.runs) < 2:
        return ""
    metric = main_metric(comparison)
    fields = default_fields(comparison.runs, metric)
    if len(fields) < 2:
        return ""
    colour_by = Field("metric", metric) if metric else None
    data = build_parallel(comparison.runs, fields, colour_by)
    from desktop_app.reports.colours import scale_colour

    colours = data.colour_values()
    matrix = data.matrix()
    lines = [
        (comparison.labels[run_id], scale_colour(float(colours[i])), matrix[i])
        for i, run_id in enumerate(data.run_ids)
    ]
    axes = [(axis.field.label, axis.ticks()) for axis in data.axes]
    note = f"colour: {metric} (dark low → yellow high)" if metric else ""
    return svg.parallel_chart("Parallel coordinates", axes, lines, colour_note=note)


def _confusion_table(label: str, colour: str, evaluation: RunEvaluation) -> str:
    matrix = evaluation.confusion
    assert matrix is not None
    share = matrix.normalised()
    head = "<tr><th>true \\ predicted</th>" + "".join(
        f"<th>{escape(x)}</th>" for x in matrix.labels
    )
    rows = []
    for i, name in enumerate(matrix.labels):
        cells = []
        for j, count in enumerate(matrix.counts[i]):
            alpha = share[i][j]
            style = f"background:rgba(9,105,218,{alpha * 0.75:.2f});" + (
                "color:#fff;" if alpha > 0.55 else ""
            )
            cells.append(f'<td style="{style}">{count}<br><small>{alpha:.0%}</small></td>')
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    caption = f"<caption>{_swatch(colour)}{escape(label)}</caption>"
    return f'<table class="cm">{caption}{head}</tr>{"".join(rows)}</table>'


def _evaluation(comparison: Comparison, evaluations: Mapping[str, RunEvaluation]) -> str:
    present = [r for r in comparison.runs if r.id in evaluations and not evaluations[r.id].empty]
    if not present:
        return '<p class="muted">No evaluation data for these runs.</p>'
    parts = []

    def curves(kind: str, title: str, x_label: str, y_label: str) -> None:
        series = []
        for run in present:
            for index, curve in enumerate(getattr(evaluations[run.id], kind)):
                label = comparison.labels[run.id]
                many = len(getattr(evaluations[run.id], kind)) > 1
                if many:
                    label = f"{label} · {curve.label}"
                if curve.area is not None:
                    label = f"{label} ({curve.area:.3f})"
                dash = DASHES[index % len(DASHES)]
                series.append(
                    svg.Series(label, comparison.colours[run.id], curve.x, curve.y, dash=dash)
                )
        if series:
            parts.append(
                svg.line_chart(
                    title,
                    series,
                    x_label=x_label,
                    y_label=y_label,
                    height=340,
                    fixed_range=(0, 1, 0, 1.02),
                    diagonal=kind == "roc",
                )
            )

    curves("roc", "ROC curves", "False positive rate", "True positive rate")
    curves("pr", "Precision-recall curves", "Recall", "Precision")
    matrices = [
        _confusion_table(comparison.labels[r.id], comparison.colours[r.id], evaluations[r.id])
        for r in present
        if evaluations[r.id].confusion is not None
    ]
    if matrices:
        parts.append("<h3>Confusion matrices (counts, share of each true class)</h3>")
        parts.append(f'<div class="scroll">{"".join(matrices)}</div>')
    regressors = [r for r in present if evaluations[r.id].predictions is not None]
    if regressors:
        points, residuals = [], []
        for run in regressors:
            p = evaluations[run.id].predictions
            assert p is not None
            colour, label = comparison.colours[run.id], comparison.labels[run.id]
            points.append(svg.Series(label, colour, p.actual, p.predicted, opacity=0.6))
            residuals.append(svg.Series(label, colour, p.predicted, p.residuals, opacity=0.6))
        parts.append(
            svg.scatter_chart(
                "Predicted vs actual", points, x_label="actual", y_label="predicted", diagonal=True
            )
        )
        parts.append(
            svg.scatter_chart(
                "Residuals",
                residuals,
                x_label="predicted",
                y_label="actual − predicted",
                zero_line=True,
            )
        )
    ranked = [r for r in present if (evaluations[r.id].importances or None) is not None]
    ranked = [r for r in ranked if evaluations[r.id].importances.features]  # type: ignore[union-attr]
    if ranked:
        features: list[str] = []
        for run in ranked:
            features.extend(evaluations[run.id].importances.features)  # type: ignore[union-attr]
        features = list(dict.fromkeys(features))[:20]
        groups = []
        for run in ranked:
            imp = evaluations[run.id].importances
            assert imp is not None
            by_feature = dict(zip(imp.features, imp.mean, strict=True))
            values = np.array([by_feature.get(f, np.nan) for f in features], dtype=float)
            groups.append(
                svg.Series(comparison.labels[run.id], comparison.colours[run.id], [], values)
            )
        metrics = {evaluations[r.id].importances.metric for r in ranked}  # type: ignore[union-attr]
        metric = metrics.pop() if len(metrics) == 1 else ""
        parts.append(
            svg.grouped_bar_chart(
                "Permutation importances",
                features,
                groups,
                value_label=f"drop in {metric}" if metric else "drop in each run's main metric",
            )
        )
    missing = len(comparison.runs) - len(present)
    note = f'<p class="muted">{missing} of the runs have no evaluation data.</p>' if missing else ""
    return note + f'<div class="charts">{"".join(parts)}</div>'


def render_report(
    comparison: Comparison,
    evaluations: Mapping[str, RunEvaluation] | None = None,
    *,
    title: str | None = None,
    x_mode: str = "step",
    smoothing: float = 0.0,
    images: Sequence[ReportImage] = (),
    generated: float | None = None,
) -> str:
    """The whole report as one HTML document."""
    from desktop_app import __version__

    runs = comparison.runs
    experiments = list(dict.fromkeys(r.experiment_name for r in runs))
    title = title or f"Comparison of {len(runs)} run{'s' if len(runs) != 1 else ''}"
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(generated or time.time()))
    diff = build_diff(runs)
    params = [r for r in diff.rows if r.kind == "param"]
    metrics = [r for r in diff.rows if r.kind == "metric"]
    differing = sum(r.differs for r in params)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{len(runs)} run{"s" if len(runs) != 1 else ""} from '
        f"{escape(', '.join(experiments)) or 'no experiment'} · generated {stamp} by "
        f"ModelDesk {escape(__version__)}</p>",
        "<h2>Runs</h2>",
        _runs_table(comparison),
        "<h2>Params</h2>",
        f'<p class="muted">{differing} of {len(params)} params differ between the runs '
        "(marked at the left edge).</p>"
        if len(runs) > 1 and params
        else "",
        _diff_section(comparison, params, "params"),
        "<h2>Final metrics</h2>",
        '<p class="muted">The last logged value of each metric; the best of each is highlighted '
        "(lower is better for losses and errors, higher otherwise).</p>"
        if metrics
        else "",
        _diff_section(comparison, metrics, "metrics"),
        "<h2>Metric curves</h2>",
        _curve_charts(comparison, x_mode, smoothing),
    ]
    bars = _bar_charts(comparison) if len(runs) > 1 else ""
    if bars:
        parts += ["<h2>Final metrics across runs</h2>", bars]
    parallel = _parallel(comparison)
    if parallel:
        parts += ["<h2>Params against the metric</h2>", f'<div class="charts">{parallel}</div>']
    if evaluations is not None:
        parts += ["<h2>Evaluation</h2>", _evaluation(comparison, evaluations)]
    if images:
        parts.append("<h2>Charts from ModelDesk</h2>")
        for image in images:
            data = base64.b64encode(image.png).decode("ascii")
            parts.append(
                f"<figure><figcaption>{escape(image.title)}</figcaption>"
                f'<img alt="{escape(image.title)}" src="data:image/png;base64,{data}"></figure>'
            )
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def build_report(
    registry: Registry,
    run_ids: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    x_mode: str = "step",
    smoothing: float = 0.0,
    images: Sequence[ReportImage] = (),
) -> str:
    """Read the runs, their series and evaluation data, and render the report."""
    comparison = load_comparison(registry, run_ids, metrics=metrics)
    evaluations = load_evaluations(registry, comparison.run_ids)
    return render_report(
        comparison, evaluations, title=title, x_mode=x_mode, smoothing=smoothing, images=images
    )


def write_report(path: str | os.PathLike[str], html: str) -> Path:
    """Write the report atomically (a temporary file renamed into place)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, target)
    return target
