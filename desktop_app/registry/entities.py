"""Plain records returned by the registry; no behaviour, no database handles."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# One metric point as buffered by writers: (key, value, step, timestamp).
MetricPoint = tuple[str, float, int, float]


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the run can no longer change status on its own."""
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


METRIC_AGGREGATES = ("last", "min", "max")


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    id: int
    name: str
    description: str
    created_at: float
    lifecycle: str
    run_count: int = 0


@dataclass(frozen=True)
class MetricSummary:
    """The last, smallest and largest value of one metric of one run."""

    key: str
    last: float
    last_step: int
    min: float
    min_step: int | None
    max: float
    max_step: int | None
    count: int


@dataclass(frozen=True)
class Run:
    """One run with everything the list and detail views show."""

    id: str
    name: str
    experiment_id: int
    experiment_name: str
    status: RunStatus
    status_reason: str
    start_time: float | None
    end_time: float | None
    parent_id: str | None
    lifecycle: str
    host: str
    pid: int | None
    source: str
    note: str
    heartbeat: float | None
    git: dict[str, object] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while unknown."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass(frozen=True)
class MetricSeries:
    """One metric's points ordered by step: parallel arrays."""

    key: str
    steps: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass(frozen=True)
class Artifact:
    """A file logged by a run, stored by content hash."""

    id: int
    run_id: str
    path: str
    kind: str
    sha256: str
    size: int
    created_at: float


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed."""

    runs: int
    experiments: int
    artifacts_removed: int
    bytes_freed: int
