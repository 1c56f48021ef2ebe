"""The Models window: versions side by side, aliases, archive, lineage, compare, export, serve.

Real registries with real fitted scikit-learn models, logged from a Git workspace and registered
through the versioning engine; assertions are on what the user sees (cells, chips, texts).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from pytestqt.qtbot import QtBot

from desktop_app import tracking
from desktop_app.registry import Registry
from desktop_app.reports.model_versions import alias_moves, read_signature, versions_table
from desktop_app.ui.models_table import BEST_BACKGROUND
from desktop_app.ui.models_view import ModelsWindow
from desktop_app.versioning.model_history import register_model_version, set_alias

TIMEOUT_MS = 15_000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "A",
    "GIT_AUTHOR_EMAIL": "a@x",
    "GIT_COMMITTER_NAME": "A",
    "GIT_COMMITTER_EMAIL": "a@x",
}


@dataclass
class Models:
    """The registry's ``iris`` model: three versions (v1 champion), their runs and data hash."""

    registry: Registry
    run_ids: list[str]
    dataset_sha: str
    artifact_shas: list[str]
    project: Path


@pytest.fixture
def iris(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Models:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("fit()\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", *args], cwd=project, check=True, env={**os.environ})
    X, y = load_iris(return_X_y=True, as_frame=True)
    run_ids, shas, dataset_sha = [], [], ""
    # Accuracy rises then falls; loss falls then rises: v2 is best on both.
    for c, accuracy, loss in ((0.01, 0.81, 0.52), (1.0, 0.97, 0.11), (100.0, 0.93, 0.20)):
        with tracking.start_run(
            experiment="iris", name=f"C={c}", params={"C": c}, registry=registry, workspace=project
        ) as run:
            dataset_sha = run.log_dataset(X, name="iris.csv").sha256
            run.log_metrics({"accuracy": accuracy, "loss": loss})
            shas.append(run.log_model(LogisticRegression(C=c, max_iter=300).fit(X, y)).sha256)
        run_ids.append(run.id)
        register_model_version(registry, "iris", run.id, description=f"C = {c}")
    set_alias(registry, "iris", "champion", 1)
    return Models(registry, run_ids, dataset_sha, shas, project)


@pytest.fixture
def open_window(qtbot: QtBot):
    """``open_window(registry, **injected)``: a loaded Models window, closed afterwards."""
    windows: list[ModelsWindow] = []

    def _open(registry: Registry, **kwargs: object) -> ModelsWindow:
        window = ModelsWindow(registry, **kwargs)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        windows.append(window)
        with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
            pass
        return window

    yield _open
    for window in windows:
        window.close()


def cells(window: ModelsWindow) -> list[list[str]]:
    """The versions table as the user reads it, in view order."""
    proxy = window.proxy
    return [
        [str(proxy.index(r, c).data() or "") for c in range(proxy.columnCount())]
        for r in range(proxy.rowCount())
    ]


def headers(window: ModelsWindow) -> list[str]:
    proxy = window.proxy
    return [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(proxy.columnCount())]


def select(qtbot: QtBot, window: ModelsWindow, *versions: int) -> None:
    """Select versions and wait for the lineage when one is selected."""
    if len(versions) == 1:
        with qtbot.waitSignal(window.sig_lineage_loaded, timeout=TIMEOUT_MS):
            window.select_versions(list(versions))
    else:
        window.select_versions(list(versions))


def reload_and_wait(qtbot: QtBot, window: ModelsWindow, action: Callable[[], object]) -> None:
    """Run an action that changes the registry and wait until the page shows the change."""
    with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
        action()


def test_versions_side_by_side_with_metric_columns_best_and_alias_chips(
    qtbot: QtBot, qtmodeltester, iris: Models, open_window
) -> None:
    window = open_window(iris.registry)
    assert window.model_list.currentItem().text() == "iris"
    assert headers(window)[:5] == ["Version", "Aliases", "Status", "accuracy", "loss"]
    rows = cells(window)
    assert [r[:5] for r in rows] == [
        ["v3", "", "ready", "0.9300", "0.2000"],
        ["v2", "", "ready", "0.9700", "0.1100"],
        ["v1", "champion", "ready", "0.8100", "0.5200"],
    ]
    assert rows[0][5] == "C=100.0" and rows[0][7] == "C = 100.0"
    # v2 is best on both metrics: higher accuracy, lower loss.
    for column in (3, 4):
        best = [
            r
            for r in range(3)
            if window.proxy.index(r, column).data(Qt.ItemDataRole.BackgroundRole) is not None
        ]
        assert best == [1]
        brush = window.proxy.index(1, column).data(Qt.ItemDataRole.BackgroundRole)
        assert brush.color() == BEST_BACKGROUND
    qtmodeltester.check(window.versions_model)


def test_set_alias_and_moving_it_asks_naming_the_version_that_had_it(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    asked: list[str] = []
    answers = [False, True]
    window = open_window(
        iris.registry,
        confirm=lambda title, text: asked.append(text) or answers.pop(0),
        ask_alias=lambda table, version: "challenger",
    )
    select(qtbot, window, 3)
    reload_and_wait(qtbot, window, window.action_set_alias.trigger)
    assert asked == []  # a new alias moves nothing: no question
    assert cells(window)[0][1] == "challenger"
    assert "“challenger” → iris v3" in window.status_line.text()

    window.set_alias("champion", 2)  # declined
    assert "is on iris v1" in asked[0] and "Move it to v2" in asked[0]
    assert window.status_line.text() == "“champion” stays on v1."
    assert cells(window)[2][1] == "champion"

    reload_and_wait(qtbot, window, lambda: window.set_alias("champion", 2))
    assert [r[1] for r in cells(window)] == ["challenger", "champion", ""]
    assert "(moved from v1)" in window.status_line.text()
    assert iris.registry.get_model_version("iris", "champion").version == 2
    history = window.alias_table
    rows = [[history.item(r, c).text() for c in range(1, 4)] for r in range(history.rowCount())]
    assert rows == [["champion", "v1", "v2"], ["challenger", "—", "v3"], ["champion", "—", "v1"]]
    assert history.item(0, 4).text() == "moved from v1 to v2"

    select(qtbot, window, 2)
    reload_and_wait(qtbot, window, window.action_remove_alias.trigger)
    assert [r[1] for r in cells(window)] == ["challenger", "", ""]
    assert history.item(0, 1).text() == "champion" and history.item(0, 3).text() == "removed"


def test_alias_dialog_says_where_the_alias_is_and_outside_changes_show_up(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    from desktop_app.ui.models_dialogs import SetAliasDialog

    window = open_window(iris.registry)
    dialog = SetAliasDialog(window.page.table, 2, window)
    qtbot.addWidget(dialog)
    assert dialog.chosen() == "champion"
    assert dialog.hint.text() == "“champion” is on v1 now; it will move to v2."
    dialog.alias.setEditText("staging")
    assert dialog.hint.text() == "A new alias for v2." and dialog.ok_button.isEnabled()
    held = SetAliasDialog(window.page.table, 1, window)
    qtbot.addWidget(held)
    assert not held.ok_button.isEnabled()

    # The CLI (another connection) moves the alias: the open window follows.
    window.show()
    iris.registry.set_model_alias("iris", "champion", 3)
    with qtbot.waitSignal(window.sig_loaded, timeout=TIMEOUT_MS):
        window.on_registry_changed()
    assert [r[1] for r in cells(window)] == ["champion", "", ""]


def test_archive_hides_the_version_show_archived_greys_it_restore_brings_it_back(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    window = open_window(iris.registry)
    select(qtbot, window, 2)
    assert window.action_archive.isEnabled() and not window.action_restore.isEnabled()
    reload_and_wait(qtbot, window, window.action_archive.trigger)
    assert [r[0] for r in cells(window)] == ["v3", "v1"]
    assert window.status_line.text() == "Archived iris v2."
    assert window.summary_label.text() == "3 versions, 1 archived (hidden)"
    # With v2 out of contention, v3 holds the best accuracy.
    assert window.proxy.index(0, 3).data(Qt.ItemDataRole.BackgroundRole) is not None

    window.show_archived.setChecked(True)
    rows = cells(window)
    assert [r[0] for r in rows] == ["v3", "v2", "v1"]
    assert rows[1][2] == "archived"
    grey = window.proxy.index(1, 0).data(Qt.ItemDataRole.ForegroundRole)
    assert grey is not None and grey.color().lightness() > 140

    select(qtbot, window, 2)
    assert window.action_restore.isEnabled() and not window.action_archive.isEnabled()
    reload_and_wait(qtbot, window, window.action_restore.trigger)
    assert cells(window)[1][2] == "ready"
    window.show_archived.setChecked(False)
    assert [r[0] for r in cells(window)] == ["v3", "v2", "v1"]


def test_archiving_a_version_that_holds_an_alias_asks_first(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    answers: list[bool] = [False, True]
    questions: list[str] = []

    def confirm(_title: str, question: str) -> bool:
        questions.append(question)
        return answers.pop(0)

    window = open_window(iris.registry, confirm=confirm)
    select(qtbot, window, 1)
    window.action_archive.trigger()
    assert len(questions) == 1 and "v1 holds “champion”" in questions[0]
    assert iris.registry.get_model_version("iris", 1).status == "ready"  # declined

    reload_and_wait(qtbot, window, window.action_archive.trigger)
    assert iris.registry.get_model_version("iris", 1).status == "archived"
    assert iris.registry.get_registered_model("iris").aliases["champion"] == 1


def test_lineage_shows_run_dataset_code_and_artifact_hashes(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    window = open_window(iris.registry)
    select(qtbot, window, 1)
    text = window.lineage.toPlainText()
    assert "iris v1" in text and "champion" in text
    assert "C=0.01" in text and iris.run_ids[0] in text
    assert iris.dataset_sha in text and "150×4" in text
    assert iris.artifact_shas[0] in text
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=iris.project, capture_output=True, text=True
    ).stdout.strip()
    # The card commits move HEAD on: the run's commit is the first one.
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"],
        cwd=iris.project,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert first[:12] in text and head != first
    assert "on main" in text and "clean" in text
    assert "sepal length (cm)" in text and "float64" in text
    assert "accuracy = 0.8100" in text and "C = 0.01" in text
    with qtbot.waitSignal(window.sig_show_run, timeout=1000) as shown:
        window.lineage.anchorClicked.emit(QUrl(f"run:{iris.run_ids[0]}"))
    assert shown.args == [iris.run_ids[0]]


def test_serve_emits_the_model_and_the_version_or_the_alias(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    window = open_window(iris.registry)
    select(qtbot, window, 1)
    with qtbot.waitSignal(window.sig_serve_requested, timeout=1000) as served:
        window.action_serve.trigger()
    assert served.args == ["iris", "1"]
    menu = window.build_context_menu()
    by_text = {a.text(): a for a in menu.actions()}
    assert "Remove Alias “champion”" in by_text
    with qtbot.waitSignal(window.sig_serve_requested, timeout=1000) as served:
        by_text["Serve @champion… (follows the alias)"].trigger()
    assert served.args == ["iris", "@champion"]
    with qtbot.waitSignal(window.sig_show_run, timeout=1000) as shown:
        by_text["Show Source Run"].trigger()
    assert shown.args == [iris.run_ids[0]]


def test_compare_opens_the_compare_window_on_the_versions_source_runs(
    qtbot: QtBot, iris: Models, open_window
) -> None:
    window = open_window(iris.registry)
    select(qtbot, window, 1)
    assert not window.action_compare.isEnabled()
    select(qtbot, window, 1, 3)
    assert window.action_compare.isEnabled()
    window.action_compare.trigger()
    compare = window.compare_window
    assert compare is not None
    qtbot.waitUntil(
        lambda: sorted(compare.run_ids) == sorted([iris.run_ids[0], iris.run_ids[2]]),
        timeout=TIMEOUT_MS,
    )
    compare.close()


def test_export_writes_an_mlflow_model_directory(
    qtbot: QtBot, iris: Models, open_window, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    (out / "other").mkdir()  # not empty: the export goes into a new iris-v2 folder
    window = open_window(iris.registry, ask_folder=lambda title: str(out))
    select(qtbot, window, 2)
    with qtbot.waitSignal(window.sig_exported, timeout=TIMEOUT_MS) as exported:
        window.action_export.trigger()
    folder = Path(exported.args[0])
    assert folder == out / "iris-v2"
    assert "flavors:" in (folder / "MLmodel").read_text()
    assert window.status_line.text() == f"Exported iris v2 as an MLflow Model to {folder}"

    with qtbot.waitSignal(window.sig_message, timeout=TIMEOUT_MS) as failed:
        window.export(iris.registry.get_model_version("iris", 2), str(folder / "MLmodel"))
    assert failed.args[0].startswith("Export of iris v2 failed:")
    assert window.banner.message() == failed.args[0]


def test_empty_registry_says_how_to_register(qtbot: QtBot, registry: Registry) -> None:
    window = ModelsWindow(registry)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.empty_label.isHidden() or window.isHidden(), timeout=5000)
    assert "Register Model" in window.empty_label.text()
    assert window.proxy.rowCount() == 0


def test_screenshot(qtbot: QtBot, iris: Models, open_window) -> None:
    window = open_window(iris.registry)
    reload_and_wait(qtbot, window, lambda: window.set_alias("challenger", 3))
    window.resize(1180, 720)
    window.show()
    select(qtbot, window, 1)
    window.grab().save("/tmp/models_window.png")
    window.tabs.setCurrentIndex(1)
    window.grab().save("/tmp/models_alias_history.png")
    from desktop_app.ui.models_dialogs import SetAliasDialog

    dialog = SetAliasDialog(window.page.table, 2, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.grab().save("/tmp/models_set_alias.png")


def test_engine_alias_moves_fill_in_missing_previous_versions() -> None:
    entries = [
        {"at": 3.0, "action": "alias", "detail": {"alias": "champion", "version": None}},
        {"at": 2.0, "action": "alias", "detail": {"alias": "champion", "version": 2}},
        {"at": 1.5, "action": "archive", "detail": {"version": 1}},
        {"at": 1.0, "action": "alias", "detail": {"alias": "champion", "version": 1}},
    ]
    moves = [(m.alias, m.from_version, m.to_version) for m in alias_moves(entries)]
    assert moves == [("champion", 2, None), ("champion", 1, 2), ("champion", None, 1)]


def test_engine_signature_forms() -> None:
    typed = read_signature({"inputs": [{"name": "a", "type": "int64"}], "classes": [0, 1]})
    assert [(c.name, c.dtype) for c in typed.inputs] == [("a", "int64")]
    assert typed.classes == ("0", "1")
    assert read_signature({"n_features_in": 4}).unnamed_inputs == 4
    assert versions_table([]).metric_keys == ()
