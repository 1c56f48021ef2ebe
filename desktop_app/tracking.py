"""The public tracking API for user scripts (``from desktop_app import tracking``)."""

from desktop_app.registry.tracking import (
    ActiveRun,
    active_run,
    log_metric,
    log_metrics,
    log_params,
    start_run,
)

__all__ = ["ActiveRun", "active_run", "log_metric", "log_metrics", "log_params", "start_run"]
