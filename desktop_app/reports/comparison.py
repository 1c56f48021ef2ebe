"""What a comparison of runs holds: the runs, their colours and metric series, read in one go."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from desktop_app.registry import MetricSeries, Registry, Run
from desktop_app.reports.colours import run_colours


@dataclass
class Comparison:
    """Runs in compare order with a colour and a label each, and their charted metric series."""

    runs: list[Run]
    colours: dict[str, str]
    labels: dict[str, str]
    metrics: list[str]
    series: dict[tuple[str, str], MetricSeries] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        """The ids of the runs in compare order."""
        return [run.id for run in self.runs]

    def run(self, run_id: str) -> Run:
        """One compared run by id."""
        for run in self.runs:
            if run.id == run_id:
                return run
        raise KeyError(run_id)


def run_labels(runs: Sequence[Run]) -> dict[str, str]:
    """A readable, unique label per run: its name, with the experiment or id when names clash."""
    names = Counter(run.name for run in runs)
    pairs = Counter((run.experiment_name, run.name) for run in runs)
    labels = {}
    for run in runs:
        if names[run.name] == 1:
            labels[run.id] = run.name
        elif pairs[(run.experiment_name, run.name)] == 1:
            labels[run.id] = f"{run.name} ({run.experiment_name})"
        else:
            labels[run.id] = f"{run.name} ({run.id[:6]})"
    return labels


def curve_metric_keys(runs: Iterable[Run]) -> list[str]:
    """Metrics logged at two or more steps by some run: the ones worth a curve."""
    keys = {key for run in runs for key, s in run.metrics.items() if s.count >= 2}
    return sorted(keys, key=str.casefold)


def metric_keys(runs: Iterable[Run]) -> list[str]:
    """Every metric any of the runs logged."""
    return sorted({key for run in runs for key in run.metrics}, key=str.casefold)


def param_keys(runs: Iterable[Run]) -> list[str]:
    """Every param any of the runs logged."""
    return sorted({key for run in runs for key in run.params}, key=str.casefold)


def metric_counts(runs: Iterable[Run]) -> dict[tuple[str, str], int]:
    """How many points each (run, metric) holds: what a live refresh compares."""
    return {(run.id, key): s.count for run in runs for key, s in run.metrics.items()}


def new_comparison(runs: Sequence[Run], metrics: Sequence[str] | None = None) -> Comparison:
    """A comparison of these runs (no series yet); ``metrics`` defaults to the curve metrics."""
    runs = list(runs)
    return Comparison(
        runs=runs,
        colours=run_colours([run.id for run in runs]),
        labels=run_labels(runs),
        metrics=list(metrics) if metrics is not None else curve_metric_keys(runs),
    )


def read_series(
    registry: Registry,
    pairs: Iterable[tuple[str, str]],
    should_stop: Callable[[], bool] | None = None,
) -> dict[tuple[str, str], MetricSeries]:
    """The full history of each (run id, metric key); stops early when asked to."""
    result = {}
    for run_id, key in pairs:
        if should_stop is not None and should_stop():
            break
        result[(run_id, key)] = registry.get_metric_history(run_id, key)
    return result


def load_comparison(
    registry: Registry,
    run_ids: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    with_series: bool = True,
) -> Comparison:
    """Read the runs (ids or unambiguous prefixes) and, unless told not to, their metric series."""
    resolved = list(dict.fromkeys(registry.resolve_run_id(r) for r in run_ids))
    comparison = new_comparison(registry.get_runs(resolved), metrics)
    if with_series:
        comparison.series = read_series(registry, series_pairs(comparison.runs, comparison.metrics))
    return comparison


def series_pairs(runs: Iterable[Run], metrics: Iterable[str]) -> list[tuple[str, str]]:
    """The (run id, metric) pairs that hold data, run by run."""
    wanted = list(metrics)
    return [(run.id, key) for run in runs for key in wanted if key in run.metrics]


def stale_pairs(
    runs: Iterable[Run], metrics: Iterable[str], loaded: Mapping[tuple[str, str], int]
) -> list[tuple[str, str]]:
    """The (run, metric) pairs whose point count differs from what was loaded."""
    wanted = list(metrics)
    return [
        (run.id, key)
        for run in runs
        for key in wanted
        if key in run.metrics and loaded.get((run.id, key)) != run.metrics[key].count
    ]
