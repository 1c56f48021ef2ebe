"""Drift of served inputs against the training data: the PSI per column that the Serving
dock's Drift tab shows, computed on real recorded rows and a real training file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from desktop_app.registry import Registry
from desktop_app.reports.drift import OTHER, compare_columns, drift_report


def _training(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "bill": rng.normal(45, 5, rows),
            "island": rng.choice(["Biscoe", "Dream"], size=rows),
            "species": rng.choice(["a", "b"], size=rows),
        }
    )


def test_the_same_distribution_is_stable_and_a_shift_is_flagged() -> None:
    training = _training()
    rng = np.random.default_rng(1)
    same = [
        {"bill": float(v), "island": str(i)}
        for v, i in zip(rng.normal(45, 5, 300), rng.choice(["Biscoe", "Dream"], 300), strict=True)
    ]
    shifted = [{"bill": float(v), "island": "Torgersen"} for v in rng.normal(60, 5, 300)]

    stable = {d.column: d for d in compare_columns(training, same)}
    assert set(stable) == {"bill", "island"}  # the target is not an input
    assert all(d.verdict == "stable" for d in stable.values())

    moved = compare_columns(training, shifted)
    assert [d.verdict for d in moved] == ["shifted", "shifted"]
    island = next(d for d in moved if d.column == "island")
    assert island.bins[-1] == OTHER and island.live[-1] == pytest.approx(1.0)
    bill = next(d for d in moved if d.column == "bill")
    assert sum(bill.training) == pytest.approx(1.0) and bill.live[-1] > 0.9


def _registered(registry: Registry, data: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from desktop_app.registry.tracking import start_run
    from desktop_app.versioning.model_history import register_model_version

    frame = pd.read_csv(data)
    model = LogisticRegression().fit(frame[["bill"]], frame["species"])
    with start_run("drift", registry=registry, nested=False) as run:
        run.log_dataset(data)
        run.log_model(model, "model")
    register_model_version(registry, "penguins", run.id)


def test_a_report_compares_recorded_inputs_with_the_training_file(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "penguins.csv"
    _training().to_csv(data, index=False)
    _registered(registry, data)

    empty = drift_report(registry, "penguins", 1)
    assert empty.columns == [] and "No recorded inputs" in empty.notes[0]

    registry.record_inputs("penguins", 1, [{"bill": 70.0 + i % 5} for i in range(50)])
    report = drift_report(registry, "penguins", 1)
    assert (report.live_rows, report.training_rows) == (50, 400)
    [bill] = report.columns
    assert bill.column == "bill" and bill.verdict == "shifted"

    data.write_text(data.read_text() + "40.0,Dream,a\n")  # the file changed after training
    changed = drift_report(registry, "penguins", 1)
    assert changed.columns == [] and "changed since training" in changed.notes[0]
