"""Is the process behind a RUNNING run still there? By PID on this host, else by heartbeat."""

from __future__ import annotations

import os

HEARTBEAT_TIMEOUT_S = 120.0
HEARTBEAT_INTERVAL_S = 10.0
# Process start times are read with a resolution of about a clock tick.
_START_TOLERANCE_S = 1.0


_OWN_START: dict[int, float | None] = {}


def process_start_time(pid: int) -> float | None:
    """When the process started (seconds since the epoch), or None if it is not running."""
    if pid == os.getpid():
        # This process's start time never changes: ask the OS once (a fork has a new pid).
        if pid not in _OWN_START:
            _OWN_START[pid] = _read_start_time(pid)
        return _OWN_START[pid]
    return _read_start_time(pid)


def _read_start_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def pid_alive(pid: int, started: float | None) -> bool:
    """Whether that very process still runs (a recycled PID with another start time does not)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        now_started = process.create_time()
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True
    return started is None or abs(now_started - started) <= _START_TOLERANCE_S


def is_lost(
    *,
    host: str,
    pid: int | None,
    pid_started: float | None,
    heartbeat: float | None,
    this_host: str,
    now: float,
    timeout: float = HEARTBEAT_TIMEOUT_S,
) -> bool:
    """Whether a RUNNING run's process is known to be gone."""
    if host == this_host and pid is not None:
        return not pid_alive(pid, pid_started)
    return heartbeat is None or now - heartbeat > timeout
