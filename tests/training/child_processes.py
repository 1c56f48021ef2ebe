"""Child processes of the test process, for the tests' leak guards (not a test module)."""

from __future__ import annotations

import psutil


def live_children() -> list[psutil.Process]:
    """This process's descendants that still run, but multiprocessing's shared helper."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            # Started by Dask's LocalCluster; it lives as long as this process, by design.
            if "multiprocessing.resource_tracker" in " ".join(process.cmdline()):
                continue
        except psutil.Error:
            continue
        found.append(process)
    return found
