"""Drift between a model's training data and the inputs its server received (recorded rows).

Per input column: the two distributions on the same bins (numbers: deciles of the training
data; text: the categories seen) and the population stability index (PSI), the score analysts
already read: under 0.1 stable, 0.1–0.25 moderate, above 0.25 a shift worth a look.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.errors import NotFoundError

if TYPE_CHECKING:
    from desktop_app.registry import Registry

BINS = 10
MAX_CATEGORIES = 20
MODERATE_PSI = 0.1
SHIFTED_PSI = 0.25
_EPSILON = 1e-4
OTHER = "(other)"


@dataclass(frozen=True)
class ColumnDrift:
    """One input column: the bins, each side's share per bin, and the PSI."""

    column: str
    kind: str  # "numeric" or "categorical"
    bins: list[str]
    training: list[float]
    live: list[float]
    psi: float
    live_rows: int

    @property
    def verdict(self) -> str:
        """``stable``, ``moderate`` or ``shifted``."""
        if self.psi >= SHIFTED_PSI:
            return "shifted"
        return "moderate" if self.psi >= MODERATE_PSI else "stable"


@dataclass
class DriftReport:
    """Every compared column, worst first, and what could not be compared."""

    model: str
    version: int
    live_rows: int
    training_rows: int
    columns: list[ColumnDrift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def compare_columns(training: Any, live_rows: list[dict[str, Any]]) -> list[ColumnDrift]:
    """Drift of every column found both in the training frame and in the live rows."""
    import pandas as pd

    live = pd.DataFrame(live_rows)
    result = []
    for column in [c for c in training.columns if c in live.columns]:
        train_values = training[column].dropna()
        live_values = live[column].dropna()
        if train_values.empty or live_values.empty:
            continue
        numeric = pd.api.types.is_numeric_dtype(train_values) and not pd.api.types.is_bool_dtype(
            train_values
        )
        if numeric:
            live_numbers = pd.to_numeric(live_values, errors="coerce").dropna()
            if live_numbers.empty:
                continue
            result.append(_numeric(str(column), train_values.astype(float), live_numbers))
        else:
            result.append(_categorical(str(column), train_values.astype(str), live_values))
    result.sort(key=lambda drift: drift.psi, reverse=True)
    return result


def _numeric(column: str, train: Any, live: Any) -> ColumnDrift:
    import numpy as np

    edges = np.unique(np.quantile(train.to_numpy(), np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    inner = edges[1:-1]
    # Values outside the training range fall in the first or last bin: that is the drift.
    train_counts = np.bincount(
        np.searchsorted(inner, train.to_numpy(), side="right"), minlength=len(edges) - 1
    )
    live_counts = np.bincount(
        np.searchsorted(inner, live.to_numpy(dtype=float), side="right"), minlength=len(edges) - 1
    )
    train_share = (train_counts / train_counts.sum()).tolist()
    live_share = (live_counts / live_counts.sum()).tolist()
    labels = [f"{edges[i]:.4g}–{edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
    return ColumnDrift(
        column, "numeric", labels, train_share, live_share, psi(train_share, live_share), len(live)
    )


def _categorical(column: str, train: Any, live: Any) -> ColumnDrift:
    train_counts = Counter(train.astype(str))
    live_counts = Counter(str(v) for v in live)
    keep = [name for name, _ in train_counts.most_common(MAX_CATEGORIES)]
    unseen = [name for name in live_counts if name not in train_counts]
    labels = [*keep, *([OTHER] if len(train_counts) > len(keep) or unseen else [])]

    def shares(counts: Counter[str]) -> list[float]:
        total = sum(counts.values()) or 1
        kept = [counts.get(name, 0) / total for name in keep]
        if OTHER in labels:
            kept.append(sum(v for k, v in counts.items() if k not in keep) / total)
        return kept

    train_share, live_share = shares(train_counts), shares(live_counts)
    return ColumnDrift(
        column,
        "categorical",
        labels,
        train_share,
        live_share,
        psi(train_share, live_share),
        len(live),
    )


def drift_report(
    registry: Registry, model: str, version: int, *, limit: int = 10_000
) -> DriftReport:
    """Compare a version's recorded inputs with the data its run was trained on."""
    from desktop_app.registry.artifacts import sha256_of_file

    registered = registry.get_model_version(model, int(version))
    recorded = registry.list_recorded_inputs(model, int(version), limit=limit)
    report = DriftReport(model, int(version), len(recorded), 0)
    if not recorded:
        report.notes.append(
            "No recorded inputs yet: switch recording on for this server, then send requests."
        )
        return report
    if not registered.run_id:
        report.notes.append("The version has no source run, so no training data to compare.")
        return report
    datasets = [d for d in registry.list_run_datasets(registered.run_id) if d.role != "evaluation"]
    if not datasets:
        report.notes.append("The source run recorded no dataset.")
        return report
    dataset = datasets[0]
    path = Path(dataset.path)
    if not path.is_file():
        report.notes.append(f"The training data {dataset.path} is no longer there.")
        return report
    if sha256_of_file(path) != dataset.sha256:
        report.notes.append(
            f"The training data {path.name} changed since training (its SHA-256 differs): "
            "drift is not computed against other data."
        )
        return report
    training = _read(path)
    report.training_rows = len(training)
    report.columns = compare_columns(training, [r.row for r in recorded])
    if not report.columns:
        report.notes.append("The recorded inputs share no column with the training data.")
    return report


def _read(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise NotFoundError(f"Cannot read training data of type {suffix!r}: {path.name}")
