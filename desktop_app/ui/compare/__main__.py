"""Preview: ``python -m desktop_app.ui.compare [RUNS]`` opens Compare on sample runs."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop_app.registry import Registry
    from desktop_app.ui.compare.window import CompareWindow


def open_preview(folder: Path, count: int = 8) -> tuple[Registry, CompareWindow]:
    """A registry in ``folder`` with a sample sweep and two regressors, and Compare open on it."""
    from desktop_app.registry import Registry
    from desktop_app.reports.samples import add_sample_runs
    from desktop_app.ui.compare import open_compare

    registry = Registry(folder)
    ids = add_sample_runs(registry, count)
    ids += add_sample_runs(registry, 2, experiment="house-prices", regression=True, seed=5)
    window = open_compare(registry, ids)
    window.resize(1200, 800)
    return registry, window


def preview(count: int = 8) -> int:
    """Open the Compare window on a temporary registry until it is closed."""
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui import workers

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="modeldesk-compare-") as folder:
        registry, window = open_preview(Path(folder), count)
        code = app.exec()
        window.close()
        workers.wait_for_tasks()
        registry.close()
    return int(code)


if __name__ == "__main__":
    raise SystemExit(preview(int(sys.argv[1]) if len(sys.argv) > 1 else 8))
