"""The report engine: comparisons of runs as plain data, SVG charts and self-contained HTML.

Qt-free, so the command line (``modeldesk runs report``) and the window's "Export comparison
report" share it; the window also uses its data helpers (colours, smoothing, diff, brushing).
"""

from desktop_app.reports.colours import run_colour, run_colours, scale_colour
from desktop_app.reports.comparison import Comparison, load_comparison, new_comparison
from desktop_app.reports.diff import DiffRow, DiffTable, build_diff, metric_direction
from desktop_app.reports.evaluation import RunEvaluation, load_evaluation, load_evaluations
from desktop_app.reports.html_report import ReportImage, build_report, render_report, write_report
from desktop_app.reports.numeric import decimate, ema

__all__ = [
    "Comparison",
    "DiffRow",
    "DiffTable",
    "ReportImage",
    "RunEvaluation",
    "build_diff",
    "build_report",
    "decimate",
    "ema",
    "load_comparison",
    "load_evaluation",
    "load_evaluations",
    "metric_direction",
    "new_comparison",
    "render_report",
    "run_colour",
    "run_colours",
    "scale_colour",
    "write_report",
]
