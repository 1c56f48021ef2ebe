"""Workload 5's child process: open ModelDesk's window and report when the first rows show.

    BENCH_T0=<time.perf_counter() of the parent just before it started this process> \
    QT_QPA_PLATFORM=offscreen MODELDESK_NO_DEMO=1 python bench_gui_driver.py REGISTRY

Runs ``desktop_app.ui.app.main(registry)`` unchanged; a timer started before it watches for
the main window to be visible with ``runs_model.rowCount() > 0`` and then prints one JSON line
of seconds since BENCH_T0 (``time.perf_counter`` is CLOCK_MONOTONIC on Linux, the same clock
in every process) and exits at once.
"""

from __future__ import annotations

import json
import os
import sys
import time

T0 = float(os.environ.get("BENCH_T0", time.perf_counter()))
TIMEOUT_S = float(os.environ.get("BENCH_GUI_TIMEOUT", "60"))
marks: dict[str, float] = {"interpreter": time.perf_counter() - T0}


def _finish(result: dict) -> None:
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0 if "rows" in result else 3)


def main() -> None:
    registry = sys.argv[1]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui import app as app_module
    from desktop_app.ui import runs_model

    marks["imports"] = time.perf_counter() - T0
    models: list = []
    original_init = runs_model.RunsTableModel.__init__

    def recording_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        models.append(self)
        for signal in (self.modelReset, self.rowsInserted, self.layoutChanged):
            signal.connect(check)

    runs_model.RunsTableModel.__init__ = recording_init  # type: ignore[method-assign]

    qapp = QApplication.instance() or QApplication(sys.argv[:1])  # main() reuses this one

    def main_window():  # type: ignore[no-untyped-def]
        for widget in qapp.topLevelWidgets():
            if hasattr(widget, "runs_model") and widget.isVisible():
                return widget
        return None

    def check() -> None:
        now = time.perf_counter() - T0
        window = main_window()
        if window is None:
            if now > TIMEOUT_S:
                _finish({**marks, "error": f"no visible main window after {TIMEOUT_S:.0f} s"})
            return
        marks.setdefault("window_shown", now)
        model = window.runs_model
        rows = model.rowCount()
        if rows > 0:
            _finish({**marks, "rows": now, "row_count": rows, "models": len(models)})
        if now > TIMEOUT_S:
            _finish({**marks, "error": f"window shown but no rows after {TIMEOUT_S:.0f} s"})

    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(check)
    poll.start()
    code = app_module.main(registry)
    _finish({**marks, "error": f"the app exited (code {code}) before showing rows"})


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:
        _finish({**marks, "error": f"{type(exc).__name__}: {exc}"})
