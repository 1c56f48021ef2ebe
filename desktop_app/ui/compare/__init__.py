"""Compare runs: metric curves, params diff, parallel coordinates, scatter, bars, evaluation.

Public API: ``open_compare(registry, run_ids, parent=None) -> CompareWindow`` and
``RunChartsWidget(registry)`` (``show_run(run_id)``) for the run detail pane.
"""

from desktop_app.ui.compare.run_charts import RunChartsWidget
from desktop_app.ui.compare.window import CompareWindow, open_compare

__all__ = ["CompareWindow", "RunChartsWidget", "open_compare"]
