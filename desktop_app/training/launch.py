"""The command lines that start training workers and user scripts, frozen build or not.

A frozen build has no ``python -m``: its own executable takes a hidden sub-command instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ENV_REGISTRY = "MODELDESK_REGISTRY"


def is_frozen() -> bool:
    """Whether this is a frozen (bundled) build whose executable is the app itself."""
    return bool(getattr(sys, "frozen", False))


def worker_command(registry_root: Path, run_id: str) -> list[str]:
    """The argv that starts a worker process for one queued run."""
    tail = ["worker", "--registry", str(registry_root), "--run", run_id]
    if is_frozen():
        return [sys.executable, *tail]
    return [sys.executable, "-m", "desktop_app", *tail]


def standby_worker_command(registry_root: Path) -> list[str]:
    """The argv that starts a warm spare worker, which reads its run id from stdin later."""
    tail = ["worker", "--registry", str(registry_root), "--standby"]
    if is_frozen():
        return [sys.executable, *tail]
    return [sys.executable, "-m", "desktop_app", *tail]


def script_command(script: Path, args: tuple[str, ...] = ()) -> list[str]:
    """The argv that runs a user's Python script with this interpreter (unbuffered)."""
    if is_frozen():
        return [sys.executable, "run-script", str(script), *args]
    return [sys.executable, "-u", str(script), *args]


def worker_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with output unbuffered and UTF-8 for live reading."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def new_session_options() -> dict[str, Any]:
    """Popen options that put a child in its own process group (no terminal Ctrl+C reaches it)."""
    if os.name == "nt":
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


def start_detached(registry_root: Path, run_id: str) -> int:
    """Start a worker for a queued run that outlives this process; return its pid."""
    process = subprocess.Popen(
        worker_command(registry_root, run_id),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=worker_environment(),
        **new_session_options(),
    )
    return process.pid


def end_process_tree(pid: int, *, grace: float = 1.0, started: float | None = None) -> bool:
    """End a process and all its descendants now: children first, SIGTERM, SIGKILL after grace.

    ``started`` (the recorded start time) guards against a recycled pid. Returns whether the
    process was there to end. On POSIX a process that leads its own group (every worker does)
    also has the rest of its group killed, so grandchildren that escaped the tree go too.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        if started is not None and abs(root.create_time() - started) > 1.0:
            return False
        family = [*root.children(recursive=True), root]
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    leads_group = _leads_group(pid)
    _send(family, "terminate")
    alive = _wait_gone(family, grace)
    if alive:
        try:
            alive.extend(c for c in root.children(recursive=True) if c not in alive)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        _send(alive, "kill")
    if leads_group:
        import signal

        try:
            os.killpg(pid, signal.SIGKILL)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            pass
    _wait_gone(alive, grace)
    return True


def _leads_group(pid: int) -> bool:
    if os.name == "nt":
        return False
    try:
        return os.getpgid(pid) == pid  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return False


def _send(processes: list[Any], action: str) -> None:
    import psutil

    for process in processes:
        try:
            getattr(process, action)()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _wait_gone(processes: list[Any], timeout: float) -> list[Any]:
    """Wait until the processes are gone or zombies; return those still alive."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive:
        still = []
        for process in alive:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    still.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        alive = still
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return alive
