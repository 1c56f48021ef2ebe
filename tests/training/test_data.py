"""Reading training data, its checks and its quality profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from desktop_app.training.data import (
    bundled_dataset,
    detect_task,
    load_frame,
    profile_frame,
    read_table,
    resolve_task,
    split_xy,
    target_problems,
    text_in_numeric,
)
from desktop_app.training.spec import DataSpec, JobSpec, JobSpecError


def _spec(tmp_path: Path, **data: object) -> JobSpec:
    fields: dict[str, object] = {"path": "penguins.csv", "target": "species", **data}
    return JobSpec(experiment="t", data=DataSpec(**fields), base_dir=tmp_path)  # type: ignore[arg-type]


def test_csv_loads_features_then_target(tmp_path: Path, penguins_csv: Path) -> None:
    spec = _spec(tmp_path, features=("island", "bill_length_mm"))

    frame = load_frame(spec)

    assert list(frame.columns) == ["island", "bill_length_mm", "species"]
    assert len(frame) == 150
    assert frame["bill_length_mm"].isna().sum() == 3


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_csv_separator_is_found(tmp_path: Path, separator: str, penguins_frame: Any) -> None:
    penguins_frame(20).to_csv(tmp_path / "penguins.csv", index=False, sep=separator)

    frame = load_frame(_spec(tmp_path))

    assert frame.shape == (20, 7)


def test_utf8_with_bom_and_latin1_when_told(tmp_path: Path) -> None:
    text = "species,island,x\nAdelie,Sévigné,1\nGentoo,Dream,2\n"
    (tmp_path / "penguins.csv").write_bytes(text.encode("utf-8-sig"))
    assert list(load_frame(_spec(tmp_path)).columns) == ["island", "x", "species"]

    (tmp_path / "penguins.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(JobSpecError) as caught:
        load_frame(_spec(tmp_path))
    assert caught.value.message == (
        "data.path: cannot read penguins.csv as UTF-8 text (byte 0xe9 at position 25, line 2); "
        'save it as UTF-8 or set data.encoding (for example "latin-1")'
    )

    frame = load_frame(_spec(tmp_path, encoding="latin-1"))
    assert frame.loc[0, "island"] == "Sévigné"


def test_encoding_error_far_into_a_big_file(tmp_path: Path) -> None:
    lines = ["species,x"] + [f"Adelie,{i}" for i in range(200_000)] + ["Gentoo,caf\xe9"]
    (tmp_path / "penguins.csv").write_bytes("\n".join(lines).encode("latin-1"))
    offset = len("\n".join(lines[:-1]).encode()) + 1 + len("Gentoo,caf")

    with pytest.raises(JobSpecError) as caught:
        load_frame(_spec(tmp_path))

    assert f"(byte 0xe9 at position {offset}, line {len(lines)})" in caught.value.message


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(JobSpecError, match=r"^data.path: no such file: .*penguins.csv$"):
        load_frame(_spec(tmp_path))
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(JobSpecError, match=r"^data.path: cannot read .json files like data.json"):
        load_frame(_spec(tmp_path, path="data.json"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(JobSpecError, match=r"^data.path: empty.csv is empty"):
        load_frame(_spec(tmp_path, path="empty.csv"))


def test_parquet_and_excel(tmp_path: Path, penguins_frame: Any) -> None:
    frame = penguins_frame(30)
    frame.to_parquet(tmp_path / "penguins.parquet")
    with pd.ExcelWriter(tmp_path / "penguins.xlsx") as book:
        frame.head(5).to_excel(book, sheet_name="first", index=False)
        frame.to_excel(book, sheet_name="birds", index=False)

    assert load_frame(_spec(tmp_path, path="penguins.parquet")).shape == (30, 7)
    assert read_table(_spec(tmp_path, path="penguins.parquet"), nrows=4).shape == (4, 7)
    assert load_frame(_spec(tmp_path, path="penguins.xlsx")).shape == (5, 7)
    assert load_frame(_spec(tmp_path, path="penguins.xlsx", sheet="birds")).shape == (30, 7)
    with pytest.raises(JobSpecError) as caught:
        load_frame(_spec(tmp_path, path="penguins.xlsx", sheet="penguins"))
    assert caught.value.message == (
        "data.sheet: no sheet 'penguins' in penguins.xlsx (sheets: first, birds)"
    )


def test_bundled_datasets_use_class_names() -> None:
    iris = bundled_dataset("iris")
    assert set(iris["target"]) == {"setosa", "versicolor", "virginica"}
    assert bundled_dataset("diabetes")["target"].dtype == float
    with pytest.raises(JobSpecError, match="downloaded from the internet"):
        bundled_dataset("california_housing")


def test_missing_columns_are_listed(tmp_path: Path, penguins_csv: Path) -> None:
    with pytest.raises(JobSpecError) as caught:
        load_frame(_spec(tmp_path, target="specie"))

    assert caught.value.message == (
        "data.target: column 'specie' not in penguins.csv (columns: species, island, "
        "bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex); "
        "did you mean 'species'?"
    )


def test_text_in_numeric_column_names_cell(tmp_path: Path, penguins_frame: Any) -> None:
    frame = penguins_frame(50)
    frame["body_mass_g"] = frame["body_mass_g"].astype(object)
    frame.loc[[20, 30], "body_mass_g"] = ["3,5 kg", "?"]
    frame.to_csv(tmp_path / "penguins.csv", index=False)

    with pytest.raises(JobSpecError) as caught:
        load_frame(_spec(tmp_path))

    assert caught.value.message == (
        "data.path: column 'body_mass_g' of penguins.csv holds numbers but also text, e.g. "
        "'3,5 kg' in row 21 (line 22 of the file); 2 such cells; correct those cells or "
        "leave them empty to mark a missing value"
    )


def test_text_columns_are_not_mistaken_for_numbers() -> None:
    frame = pd.DataFrame({"code": ["A1", "B2", "12", "C3"], "n": [1, 2, 3, 4]})

    assert text_in_numeric(frame, "t.csv") == []


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.0, 1.0, 1.0], "classification"),
        ([0.5, 1.25, 3.0], "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_task_detection(values: list[object], task: str) -> None:
    assert detect_task(pd.Series(values)) == task


def test_regressor_turns_whole_numbers_into_regression() -> None:
    ratings = pd.Series([1, 2, 3, 4, 5])

    assert resolve_task(None, ratings, "regressor") == "regression"
    assert resolve_task(None, ratings, "classifier") == "classification"
    assert resolve_task(None, pd.Series(["a", "b"]), "regressor") == "classification"
    assert resolve_task("classification", pd.Series([0.5, 1.5]), "regressor") == "classification"


def test_target_problems() -> None:
    assert target_problems(pd.Series(["a", "a", None]), "classification", "y", "d.csv") == [
        "data.target: column 'y' of d.csv has a single class ('a'); a classifier needs at least two"
    ]
    assert target_problems(pd.Series([0.5, 1.0]), "classification", "y", "d.csv") == [
        "data.target: column 'y' of d.csv holds continuous numbers (e.g. 0.5); a classifier "
        'needs classes, so set task = "regression"'
    ]
    assert target_problems(pd.Series(["a", "b"]), "regression", "y", "d.csv")[0].startswith(
        "data.target: column 'y' of d.csv holds text (e.g. 'a'); regression needs numbers"
    )
    assert target_problems(pd.Series([2.0, 2.0]), "regression", "y", "d.csv") == [
        "data.target: column 'y' of d.csv has a single value (2.0); there is nothing to predict"
    ]
    assert target_problems(pd.Series([1, 2]), "classification", "y", "d.csv") == []


def test_rows_without_target_are_left_out(tmp_path: Path, penguins_frame: Any) -> None:
    frame = penguins_frame(10)
    frame.loc[[2, 4], "species"] = None

    x, y, notes = split_xy(frame, _spec(tmp_path))

    assert len(x) == len(y) == 8 and y.notna().all()
    assert notes == ["2 rows without a target value left out"]


def test_profile_finds_quality_problems(penguins_frame: Any) -> None:
    rng = np.random.default_rng(1)
    frame = penguins_frame(60)
    frame["study"] = "PAL0708"
    frame["colony"] = frame["species"].map({"Adelie": "A", "Chinstrap": "C", "Gentoo": "G"})
    frame["tag"] = [f"N{i}" for i in range(60)]
    frame["mostly_empty"] = np.where(rng.random(60) < 0.8, np.nan, 1.0)
    frame = pd.concat([frame, frame.iloc[:2]], ignore_index=True)

    profile = profile_frame(frame, "species")

    assert profile["task"] == "classification"
    assert profile["rows"] == 62
    assert profile["constant_columns"] == ["study"]
    assert profile["duplicate_rows"] == 2
    assert profile["class_balance"] == {"Adelie": 21, "Chinstrap": 21, "Gentoo": 20}
    assert profile["missing"]["bill_length_mm"] == 2
    assert [leak["column"] for leak in profile["target_leaks"]] == ["colony"]
    warnings = profile["warnings"]
    assert "constant column 'study'" in warnings
    assert "2 duplicate rows" in warnings
    assert "'colony' predicts the target perfectly" in warnings
    assert any(w.startswith("'mostly_empty' is") for w in warnings)
    assert "'tag' differs in every row (an identifier?)" not in warnings  # duplicates repeat it


def test_profile_finds_correlated_column_and_imbalance() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=200)
    frame = pd.DataFrame(
        {"x": x, "copy": 3 * x + rng.normal(0, 0.01, 200), "noise": rng.normal(size=200)}
    )
    frame["y"] = 2 * x + rng.normal(0, 0.05, 200)
    regression = profile_frame(frame, "y")
    assert regression["task"] == "regression"
    assert [leak["column"] for leak in regression["target_leaks"]] == ["x", "copy"]
    assert regression["class_balance"] is None

    labels = pd.DataFrame({"x": rng.normal(size=100), "y": ["rare"] * 5 + ["common"] * 95})
    profile = profile_frame(labels, "y")
    assert "imbalanced classes: 'rare' has 5 of 100 rows" in profile["warnings"]
