"""Child processes of the test process, for the tests' leak guards (not a test module)."""

from __future__ import annotations

import psutil

# Set in the environment of a process a session-scoped fixture keeps on purpose.
SESSION_PROCESS_ENV = "MODELDESK_TEST_SESSION_PROCESS"


def live_children() -> list[psutil.Process]:
    """This process's descendants that still run, but those kept alive on purpose."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            # Started by Dask's LocalCluster; it lives as long as this process, by design.
            if "multiprocessing.resource_tracker" in " ".join(process.cmdline()):
                continue
            if process.environ().get(SESSION_PROCESS_ENV) == "1":
                continue
        except psutil.Error:
            continue
        found.append(process)
    return found
