"""Shared fixtures for training tests: a small penguins-like table, job files and a reporter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from child_processes import live_children

from desktop_app.registry import Registry
from desktop_app.registry.tracking import ActiveRun, start_run

_MINIMAL_JOB = """\
experiment = "penguins"
[data]
path = "penguins.csv"        # relative to the job file
target = "species"
[model]
estimator = "RandomForestClassifier"   # a scikit-learn class name, or its full import path
params = { n_estimators = 50, random_state = 0 }
[split]
kind = "kfold"               # or "holdout" with test_size
folds = 5
seed = 0
"""


def _penguins_frame(rows: int = 150, seed: int = 0) -> pd.DataFrame:
    """Three species told apart by measurements, with an island, a sex and a few gaps."""
    rng = np.random.default_rng(seed)
    species = np.array(["Adelie", "Chinstrap", "Gentoo"])[np.arange(rows) % 3]
    code = np.arange(rows) % 3
    islands = np.where(code == 2, "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], size=rows))
    frame = pd.DataFrame(
        {
            "species": species,
            "island": islands,
            "bill_length_mm": np.round(38 + 6 * code + rng.normal(0, 2.5, rows), 1),
            "bill_depth_mm": np.round(18.5 - 2 * (code == 2) + rng.normal(0, 1.0, rows), 1),
            "flipper_length_mm": np.round(190 + 12 * code + rng.normal(0, 6, rows)),
            "body_mass_g": np.round(3700 + 700 * (code == 2) + rng.normal(0, 350, rows)),
            "sex": rng.choice(["male", "female"], size=rows),
        }
    )
    frame.loc[[i for i in (3, 40, 77) if i < rows], "bill_length_mm"] = np.nan
    frame.loc[[i for i in (5, 90) if i < rows], "sex"] = None
    return frame


@pytest.fixture
def penguins_csv(tmp_path: Path) -> Path:
    """penguins.csv in tmp_path."""
    path = tmp_path / "penguins.csv"
    _penguins_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def job_file(tmp_path: Path, penguins_csv: Path) -> Path:
    """The minimal job file next to penguins.csv."""
    path = tmp_path / "job.toml"
    path.write_text(_MINIMAL_JOB)
    return path


class RecordingReporter:
    """A real reporter over a registry run that also keeps the progress it was given."""

    def __init__(self, run: ActiveRun, stop_when: Callable[[int], bool] | None = None) -> None:
        self.run = run
        self.progress_calls: list[tuple[int, int, str]] = []
        self.stop_checks = 0
        self.stop_when = stop_when

    def stored(self) -> tuple[Registry, str]:
        """The registry and run id, once buffered metric points are written."""
        self.run.flush()
        return self.run.registry, self.run.id

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.run.log_metric(key, value, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.run.log_metrics(metrics, step)

    def log_params(self, params: Mapping[str, object]) -> None:
        self.run.log_params(params)

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.run.set_tags(tags)

    def log_text(self, text: str, artifact_path: str) -> Any:
        return self.run.log_text(text, artifact_path)

    def log_model(self, estimator: Any, name: str = "model") -> Any:
        return self.run.log_model(estimator, name)

    def log_dataset(self, source: Any, name: str = "", role: str = "training") -> Any:
        return self.run.log_dataset(source, name=name, role=role)

    def progress(self, done: int, total: int, message: str) -> None:
        self.progress_calls.append((done, total, message))

    def should_stop(self) -> bool:
        self.stop_checks += 1
        return self.stop_when is not None and self.stop_when(self.stop_checks)


@pytest.fixture
def reporter_factory(
    registry: Registry,
) -> Iterator[Callable[..., RecordingReporter]]:
    """Open runs in the test registry; each comes with a recording reporter."""
    runs: list[ActiveRun] = []

    def make(
        experiment: str = "tests", stop_when: Callable[[int], bool] | None = None
    ) -> RecordingReporter:
        run = start_run(experiment, registry=registry, nested=False)
        runs.append(run)
        return RecordingReporter(run, stop_when)

    yield make
    for run in runs:
        run.end()


def _write_job(directory: Path, name: str = "job.toml", **sections: Any) -> Path:
    """A small, fast job over penguins.csv; keyword sections replace or update the defaults.

    A table given for a section updates it key by key; ``None`` removes the section.
    """
    import tomli_w

    doc: dict[str, Any] = {
        "experiment": "penguins",
        "data": {"path": "penguins.csv", "target": "species"},
        "model": {"estimator": "RandomForestClassifier", "params": {"n_estimators": 10}},
        "split": {"kind": "kfold", "folds": 3, "seed": 0},
    }
    for key, value in sections.items():
        if value is None:
            doc.pop(key, None)
        elif isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    path = directory / name
    path.write_text(tomli_w.dumps(doc))
    return path


@pytest.fixture(scope="session")
def penguins_frame() -> Callable[..., pd.DataFrame]:
    """Make a penguins-like frame: ``penguins_frame(rows=150, seed=0)``."""
    return _penguins_frame


@pytest.fixture(scope="session")
def write_job() -> Callable[..., Path]:
    """Write a small job file: ``write_job(folder, name="job.toml", **sections)``."""
    return _write_job


@pytest.fixture(scope="session")
def minimal_job_text() -> str:
    """The minimal job file of the documentation, as it stands."""
    return _MINIMAL_JOB


@pytest.fixture(scope="session")
def recording_reporter() -> type[RecordingReporter]:
    """The reporter class, for fixtures that open their own runs."""
    return RecordingReporter


@pytest.fixture(autouse=True)
def _no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves a child process running (and end it)."""
    yield
    deadline = time.monotonic() + 5.0
    while live_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    leaked = live_children()
    for process in leaked:
        process.kill()
    assert not leaked, f"processes left running: {leaked}"
