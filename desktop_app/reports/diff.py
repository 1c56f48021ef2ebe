"""Params and final metrics side by side: which differ, and which run has the best value."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.registry import Run
from desktop_app.reports.numeric import format_number

_LOWER_IS_BETTER = re.compile(
    r"(loss|error|err\b|rmse|mse|mae|mape|median_ae|perplexity|latency|duration|seconds|memory"
    r"|_mb\b|_time\b|^time\b)",
    re.IGNORECASE,
)
_NOT_A_SCORE = re.compile(
    r"^(lr|learning_rate|epoch|step|iteration|n_iter|progress)$|_std$", re.IGNORECASE
)


def metric_direction(key: str) -> str | None:
    """Whether a lower ("min") or higher ("max") value of the metric is better; None: neither."""
    leaf = key.rsplit("/", 1)[-1]
    if _NOT_A_SCORE.search(leaf):
        return None
    return "min" if _LOWER_IS_BETTER.search(leaf) else "max"


@dataclass(frozen=True)
class DiffRow:
    """One param or metric across the compared runs."""

    kind: str
    key: str
    texts: tuple[str, ...]
    numbers: tuple[float | None, ...]
    differs: bool
    best: frozenset[int]
    direction: str | None


@dataclass(frozen=True)
class DiffTable:
    """Rows of params then metrics, one column per run in compare order."""

    run_ids: tuple[str, ...]
    rows: tuple[DiffRow, ...]

    def visible(self, only_differences: bool = False) -> list[DiffRow]:
        """The rows to show: all, or only those whose values differ between runs."""
        return [row for row in self.rows if row.differs or not only_differences]

    def to_csv(self, labels: Sequence[str], *, only_differences: bool = False) -> str:
        """The table as CSV: kind, key, then one column per run headed by its label."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["kind", "key", *labels])
        for row in self.visible(only_differences):
            writer.writerow([row.kind, row.key, *row.texts])
        return out.getvalue()


def _metric_row(runs: Sequence[Run], key: str) -> DiffRow:
    numbers: list[float | None] = [
        run.metrics[key].last if key in run.metrics else None for run in runs
    ]
    texts = tuple("" if n is None else format_number(n, 6) for n in numbers)
    finite = [(i, n) for i, n in enumerate(numbers) if n is not None and math.isfinite(n)]
    direction = metric_direction(key)
    best: frozenset[int] = frozenset()
    if direction is not None and len(finite) >= 2:
        target = (min if direction == "min" else max)(n for _, n in finite)
        if any(n != target for _, n in finite):
            best = frozenset(i for i, n in finite if n == target)
    differs = len({repr(n) for n in numbers}) > 1
    return DiffRow("metric", key, texts, tuple(numbers), differs, best, direction)


def _param_row(runs: Sequence[Run], key: str) -> DiffRow:
    from desktop_app.reports.fields import param_number

    raw = [run.params.get(key) for run in runs]
    texts = tuple("" if value is None else value for value in raw)
    numbers = tuple(param_number(value) for value in raw)
    return DiffRow("param", key, texts, numbers, len(set(raw)) > 1, frozenset(), None)


def build_diff(runs: Sequence[Run]) -> DiffTable:
    """The diff table of these runs: params (by key) then final metrics (by key)."""
    from desktop_app.reports.comparison import metric_keys, param_keys

    rows = [_param_row(runs, key) for key in param_keys(runs)]
    rows += [_metric_row(runs, key) for key in metric_keys(runs)]
    return DiffTable(tuple(run.id for run in runs), tuple(rows))


def rows_to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Any table as CSV text (one header line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(headers))
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return out.getvalue()
