"""Opening a workspace (with git init offered) and comparing two runs' code from the window."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from PySide6.QtWidgets import QWidget

from desktop_app import tracking
from desktop_app.registry import Registry
from desktop_app.ui.workspace_actions import WorkspaceActions, recent_workspaces


def test_plain_folder_is_initialised_after_asking(
    qtbot, registry: Registry, tmp_path: Path
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    asked: list[Path] = []
    actions = WorkspaceActions(
        window, registry, lambda: [], ask_init=lambda folder: asked.append(folder) or True
    )
    folder = tmp_path / "analysis"
    folder.mkdir()
    with qtbot.waitSignal(actions.sig_workspace_changed, timeout=10_000) as changed:
        actions.open_workspace(folder)
    assert asked == [folder]
    assert changed.args == [str(folder.resolve())]
    assert (folder / ".git").is_dir()
    assert recent_workspaces()[0] == str(folder.resolve())
    assert os.environ["MODELDESK_WORKSPACE"] == str(folder.resolve())


def test_declining_git_init_changes_nothing(qtbot, registry: Registry, tmp_path: Path) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    actions = WorkspaceActions(window, registry, lambda: [], ask_init=lambda folder: False)
    with qtbot.waitSignal(actions.sig_message, timeout=10_000) as message:
        actions.open_workspace(tmp_path)
    assert "not a Git repository" in message.args[0]
    assert not (tmp_path / ".git").exists()


def test_compare_code_of_two_selected_runs(qtbot, registry: Registry, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@x",
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "one", "--allow-empty"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True)
    ids = []
    for depth in (3, 5):
        (project / "train.py").write_text(f"DEPTH = {depth}\n")
        with tracking.start_run(registry=registry, workspace=project) as run:
            ids.append(run.id)
    window = QWidget()
    qtbot.addWidget(window)
    actions = WorkspaceActions(window, registry, lambda: ids)
    actions.compare_selected()
    qtbot.waitUntil(lambda: hasattr(actions, "last_dialog"), timeout=10_000)
    dialog = actions.last_dialog
    qtbot.waitUntil(lambda: dialog.diff_view.file_paths() == ["train.py"], timeout=10_000)
    text = dialog.diff_view.unified.toPlainText()
    assert "-DEPTH = 3" in text and "+DEPTH = 5" in text
    dialog.close()


def test_register_from_the_window_and_see_the_card_history(
    qtbot, registry: Registry, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    project = tmp_path / "project"
    project.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@x",
    }
    (project / "train.py").write_text("fit()\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True)
    X, y = load_iris(return_X_y=True)
    with tracking.start_run(registry=registry, workspace=project) as run:
        run.log_model(DecisionTreeClassifier(random_state=0).fit(X, y))
    window = QWidget()
    qtbot.addWidget(window)
    actions = WorkspaceActions(window, registry, lambda: [run.id])
    with qtbot.waitSignal(actions.sig_message, timeout=15_000) as message:
        actions.register_selected("iris-tree")
    assert message.args[0].startswith("Registered iris-tree v1. Model card committed")
    actions.show_models()
    models = actions.models_window
    qtbot.waitUntil(lambda: models.history.rowCount() == 1, timeout=10_000)
    assert models.proxy.index(0, 0).data() == "v1"
    assert models.history.item(0, 3).text() == "Model card: iris-tree v1"
    models.resize(980, 420)
    models.tabs.setCurrentIndex(2)
    models.grab().save("/tmp/modeldesk_models_history.png")
    models.close()


def test_compare_runs_opens_the_comparison_of_the_selection(qtbot, registry: Registry) -> None:
    ids = []
    for lr in (0.1, 0.01):
        with tracking.start_run(registry=registry, params={"lr": lr}) as run:
            for step in range(5):
                run.log_metric("loss", lr * (5 - step), step)
        ids.append(run.id)
    window = QWidget()
    qtbot.addWidget(window)
    actions = WorkspaceActions(window, registry, lambda: ids)
    actions.action_compare_runs.trigger()
    compare = actions.compare_window
    qtbot.waitUntil(lambda: sorted(compare.run_ids) == sorted(ids), timeout=10_000)
    compare.close()
