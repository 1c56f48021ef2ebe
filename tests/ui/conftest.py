"""Fixtures for the GUI tests: offscreen Qt, real registries in tmp folders, leak guards."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ["MODELDESK_NO_DEMO"] = "1"

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop_app.registry import Registry, RunStatus
from desktop_app.ui import workers
from desktop_app.ui.watcher import active_watchers

MODELS = ("rf", "svm", "sgd")


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads and writes its own settings file, never the developer's."""
    folder = tmp_path / "settings"
    monkeypatch.setenv("MODELDESK_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def _no_leaks(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves workers, watchers, timers or threads running behind it."""
    threads_before = set(threading.enumerate())
    yield
    assert workers.wait_for_tasks(15_000), "background tasks still running after the test"
    deadline = time.monotonic() + 5
    while workers.running_tasks() and time.monotonic() < deadline:
        qapp.processEvents()  # deliver the tasks' queued "finished" signals
    assert workers.running_tasks() == 0
    assert workers.thread_pool().activeThreadCount() == 0
    assert not active_watchers(), "a RegistryWatcher was left polling"
    live_timers = [
        f"{type(widget).__name__}/{type(timer.parent()).__name__}.{timer.objectName() or 'QTimer'}"
        for widget in QApplication.topLevelWidgets()
        for timer in widget.findChildren(QTimer)
        if timer.isActive()
    ]
    assert not live_timers, f"timers left running: {live_timers}"
    new_threads = [
        t for t in set(threading.enumerate()) - threads_before if t.is_alive() and not t.daemon
    ]
    assert not new_threads, f"threads left running: {new_threads}"


@pytest.fixture
def registry(registry_path: Path) -> Iterator[Registry]:
    """A fresh registry that outlives every background task reading it."""
    reg = Registry(registry_path)
    yield reg
    workers.wait_for_tasks(15_000)
    reg.close()


def add_runs(
    registry: Registry,
    count: int,
    *,
    experiment: str = "exp",
    seed: int = 0,
    metrics: bool = True,
) -> list[str]:
    """Create finished runs with params model/lr and metrics f1, accuracy, loss (in one go)."""
    rng = random.Random(seed)
    ids = []
    now = time.time()
    with registry.db.write():
        for i in range(count):
            run = registry.create_run(
                experiment,
                name=f"{experiment}-{i:04d}",
                params={"model": MODELS[i % 3], "lr": rng.choice([0.1, 0.01, 0.001])},
            )
            registry.set_run_status(run.id, RunStatus.FINISHED, end_time=now + rng.random() * 600)
            if metrics:
                points = [("f1", rng.random(), 0, now), ("accuracy", rng.random(), 0, now)]
                points += [
                    ("loss", 1.0 / (step + 1) + rng.random(), step, now) for step in range(5)
                ]
                registry.log_batch(run.id, metrics=points, heartbeat=False)
            ids.append(run.id)
    return ids


@pytest.fixture
def populate(registry: Registry) -> Callable[..., list[str]]:
    """``populate(n, experiment=..., seed=...)`` adds runs to the test registry."""

    def _populate(count: int, **kwargs: object) -> list[str]:
        return add_runs(registry, count, **kwargs)  # type: ignore[arg-type]

    return _populate
