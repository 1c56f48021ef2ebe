"""The runs table model: Qt's model checker, SQL sorting and filtering, paging, live refresh."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from desktop_app.errors import QuerySyntaxError
from desktop_app.registry import Registry
from desktop_app.ui.runs_model import (
    PAGE_SIZE,
    RUN_ID_ROLE,
    ColumnChooserDialog,
    RunsTableModel,
    format_duration,
    format_number,
)


def loaded_model(qtbot: QtBot, registry: Registry, **columns: object) -> RunsTableModel:
    model = RunsTableModel(registry)
    if columns:
        model.set_columns(columns.get("params", []), columns.get("metrics", []))  # type: ignore[arg-type]
    wait_idle(qtbot, model)
    return model


def wait_idle(qtbot: QtBot, model: RunsTableModel) -> None:
    qtbot.waitUntil(lambda: not model.is_loading(), timeout=10_000)


def column_values(model: RunsTableModel, title: str, role: int = Qt.ItemDataRole.DisplayRole):
    column = [c.title for c in model.columns()].index(title)
    return [model.index(row, column).data(role) for row in range(model.rowCount())]


def test_model_passes_qt_model_tester(
    qtbot: QtBot, qtmodeltester, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(30)
    model = loaded_model(qtbot, registry, params=["model", "lr"], metrics=[("f1", "last")])
    assert model.rowCount() == 30
    qtmodeltester.check(model)

    # Rows inserted, re-ordered and removed by a refresh are checked by the tester too.
    populate(5, experiment="other", seed=3)
    registry.delete_runs([model.run_id_at(3), model.run_id_at(7)])
    with qtbot.waitSignal(model.sig_refreshed, timeout=10_000):
        model.refresh()
    wait_idle(qtbot, model)
    assert model.rowCount() == 33
    model.sort(model.column_index("metrics.f1.last"), Qt.SortOrder.DescendingOrder)
    wait_idle(qtbot, model)
    qtmodeltester.check(model)


def test_headers_name_params_and_metric_aggregates(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(3)
    model = loaded_model(
        qtbot, registry, params=["lr"], metrics=[("f1", "last"), ("loss", "min"), ("loss", "max")]
    )
    titles = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert titles == [
        "Status", "Name", "Experiment", "Started", "Duration",
        "lr", "f1", "loss (min)", "loss (max)",
    ]  # fmt: skip
    run = registry.get_run(model.run_id_at(0))
    loss_min = column_values(model, "loss (min)")[0]
    assert loss_min == format_number(run.metrics["loss"].min)
    assert column_values(model, "Status")[0] == "● Finished"
    assert model.index(0, 0).data(RUN_ID_ROLE) == run.id


def test_sorting_by_a_metric_column_runs_in_sql(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(PAGE_SIZE + 100)
    model = loaded_model(qtbot, registry, metrics=[("f1", "last")])
    column = model.column_index("metrics.f1.last")
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.sort(column, Qt.SortOrder.DescendingOrder)
    # Only the first page is loaded, yet it holds the best f1 of all runs: SQL sorted them.
    expected = registry.search_runs(order_by="metrics.f1 desc", limit=PAGE_SIZE)
    assert model.loaded_ids() == expected
    values = column_values(model, "f1", Qt.ItemDataRole.UserRole + 2)
    assert values == sorted(values, reverse=True)
    everything = registry.get_runs(registry.search_runs(limit=None), with_metrics=["f1"])
    assert values[0] == max(run.metrics["f1"].last for run in everything)
    assert model.sort_state() == (column, Qt.SortOrder.DescendingOrder)

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.sort(model.column_index("name"), Qt.SortOrder.AscendingOrder)
    names = column_values(model, "Name")
    assert names == sorted(names)

    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.sort(-1)
    assert model.loaded_ids() == registry.search_runs(limit=PAGE_SIZE)


def test_runs_without_the_sorted_metric_come_last(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(4)
    bare = populate(2, experiment="bare", metrics=False)
    model = loaded_model(qtbot, registry, metrics=[("f1", "last")])
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
            model.sort(model.column_index("metrics.f1.last"), order)
        assert set(model.loaded_ids()[-2:]) == set(bare)


def test_rows_arrive_in_pages(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(1000, metrics=False)
    model = loaded_model(qtbot, registry)
    assert model.rowCount() == PAGE_SIZE
    assert model.count() == 1000
    sizes = [model.rowCount()]
    while model.canFetchMore():
        with qtbot.waitSignal(model.sig_page_loaded, timeout=10_000):
            model.fetchMore()
        sizes.append(model.rowCount())
    assert sizes == [200, 400, 600, 800, 1000]
    assert not model.canFetchMore()
    assert len(set(model.loaded_ids())) == 1000
    assert model.loaded_ids() == registry.search_runs(limit=None)


def test_query_and_scope_filter_in_sql(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(12)
    other = populate(3, experiment="other")
    model = loaded_model(qtbot, registry, params=["model"])
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.set_query('params.model = "rf"')
    assert set(column_values(model, "model")) == {"rf"}
    assert model.rowCount() == 5  # 4 of "exp" and 1 of "other"
    wait_idle(qtbot, model)
    assert model.count() == 5

    experiment = registry.get_experiment("other")
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.set_query("")
        model.set_scope([experiment.id], trash=False)
    assert set(model.loaded_ids()) == set(other)

    registry.delete_runs(other[:2])
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.set_scope(None, trash=True)
    assert set(model.loaded_ids()) == set(other[:2])


def test_a_bad_query_is_reported_not_raised(qtbot: QtBot, registry: Registry) -> None:
    model = loaded_model(qtbot, registry)
    with qtbot.waitSignal(model.sig_failed, timeout=10_000) as blocker:
        model.set_query("metrics.accuracy >")
    error = blocker.args[0]
    assert isinstance(error, QuerySyntaxError)
    assert error.column == 18


def test_refresh_keeps_selection_and_adds_new_runs(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(10)
    model = loaded_model(qtbot, registry, metrics=[("f1", "last")])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    chosen = model.run_id_at(4)
    view.selectionModel().setCurrentIndex(
        model.index(4, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    time.sleep(0.01)  # newer start times than the existing runs, so they sort first
    new = populate(3, experiment="late", seed=9)
    with qtbot.waitSignal(model.sig_refreshed, timeout=10_000):
        model.refresh()
    assert model.rowCount() == 13
    assert set(model.loaded_ids()[:3]) == set(new)
    selected = [model.run_id_at(i.row()) for i in view.selectionModel().selectedRows()]
    assert selected == [chosen]
    assert model.run_id_at(view.currentIndex().row()) == chosen
    assert model.count() == 13


def test_column_chooser_returns_checked_keys(qtbot: QtBot) -> None:
    dialog = ColumnChooserDialog(["lr", "model"], ["f1", "loss"], ["model"], [("loss", "min")])
    qtbot.addWidget(dialog)
    assert dialog.chosen() == (["model"], [("loss", "min")])
    dialog.params_list.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.metrics_tree.topLevelItem(0).setCheckState(1, Qt.CheckState.Checked)
    assert dialog.chosen() == (["lr", "model"], [("f1", "last"), ("loss", "min")])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250 ms"), (4.24, "4.2 s"), (192, "3 m 12 s"), (3720, "1 h 02 m"), (None, "")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_live_refresh_reorders_rows_when_a_sorted_metric_changes(
    qtbot: QtBot, registry: Registry, populate: Callable[..., list[str]]
) -> None:
    populate(8)
    model = loaded_model(qtbot, registry, metrics=[("f1", "last")])
    column = [c.title for c in model.columns()].index("f1")
    with qtbot.waitSignal(model.sig_loaded, timeout=10_000):
        model.sort(column, Qt.SortOrder.DescendingOrder)
    wait_idle(qtbot, model)
    last = model.run_id_at(model.rowCount() - 1)
    registry.log_batch(last, metrics=[("f1", 10.0, 1000, time.time())])
    with qtbot.waitSignal(model.sig_refreshed, timeout=10_000):
        model.refresh()
    assert model.run_id_at(0) == last
    assert model.rowCount() == 8
    assert column_values(model, "f1")[0] == format_number(10.0)
