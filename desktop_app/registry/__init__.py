"""The registry: the single source of truth, a SQLite file and a content-addressed artifact folder.

Nothing here imports Qt; user scripts reach it through ``desktop_app.tracking``.
"""

from desktop_app.registry.entities import (
    Artifact,
    Experiment,
    MetricSeries,
    MetricSummary,
    PurgeReport,
    Run,
    RunStatus,
)
from desktop_app.registry.store import DEFAULT_EXPERIMENT, Registry, open_registry

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Artifact",
    "Experiment",
    "MetricSeries",
    "MetricSummary",
    "PurgeReport",
    "Registry",
    "Run",
    "RunStatus",
    "open_registry",
]
