"""The Code tab, code comparison and restore dialog, driven as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app import tracking
from desktop_app.registry import Registry
from desktop_app.ui.code_view import CodePanel, CompareCodeDialog, RestoreCodeDialog


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "a@x",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("import math\nLR = 0.1\nprint(math.pi)\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "first")
    return root


def _logged_run(registry: Registry, project: Path, lr: str) -> str:
    (project / "train.py").write_text(f"import math\nLR = {lr}\nprint(math.pi)\n")
    with tracking.start_run(registry=registry, workspace=project) as run:
        pass
    return run.id


def test_code_tab_shows_commit_files_and_diff(qtbot, project: Path, registry: Registry) -> None:
    run_id = _logged_run(registry, project, "0.5")
    panel = CodePanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.sig_loaded, timeout=10_000):
        panel.show_run(registry.get_run(run_id))
    assert "Uncommitted changes" in panel.summary.text() and "yes" in panel.summary.text()
    assert panel.diff_view.file_paths() == ["train.py"]
    text = panel.diff_view.unified.toPlainText()
    assert "-LR = 0.1" in text and "+LR = 0.5" in text
    qtbot.mouseClick(panel.diff_view.split_button, Qt.MouseButton.LeftButton)
    assert "LR = 0.1" in panel.diff_view.old_side.toPlainText()
    assert "LR = 0.5" in panel.diff_view.new_side.toPlainText()
    panel.resize(900, 500)
    panel.grab().save("/tmp/modeldesk_code_tab.png")


def test_code_tab_without_snapshot_says_why(qtbot, registry: Registry, tmp_path: Path) -> None:
    with tracking.start_run(registry=registry, workspace=tmp_path) as run:
        pass
    panel = CodePanel()
    qtbot.addWidget(panel)
    panel.show_run(registry.get_run(run.id))
    assert "No code snapshot" in panel.summary.text()
    assert "not inside a Git repository" in panel.summary.text()
    assert not panel.restore_button.isEnabled()


def test_compare_code_of_two_runs(qtbot, project: Path, registry: Registry) -> None:
    a = _logged_run(registry, project, "0.2")
    b = _logged_run(registry, project, "0.3")
    dialog = CompareCodeDialog(registry.get_run(a), registry.get_run(b))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.diff_view.file_paths() == ["train.py"], timeout=10_000)
    assert "+LR = 0.3" in dialog.diff_view.unified.toPlainText()
    assert dialog.status.text() == "1 file(s) differ."


def test_restore_dialog_refuses_then_restores_into_worktree(
    qtbot, project: Path, registry: Registry, tmp_path: Path
) -> None:
    run_id = _logged_run(registry, project, "0.7")
    dialog = RestoreCodeDialog(registry.get_run(run_id))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.branch_name.setText("from-run")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    qtbot.waitUntil(dialog.message.isVisible, timeout=10_000)
    dialog.grab().save("/tmp/modeldesk_restore_dialog.png")
    assert "uncommitted changes" in dialog.message.text()
    assert _git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    dialog.worktree_choice.setChecked(True)
    dialog.folder.setText(str(tmp_path / "restored"))
    with qtbot.waitSignal(dialog.sig_restored, timeout=10_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    assert "LR = 0.7" in (tmp_path / "restored" / "train.py").read_text()


def test_run_detail_has_a_code_tab(qtbot, project: Path, registry: Registry) -> None:
    from desktop_app.ui.run_detail import RunDetailPanel

    run_id = _logged_run(registry, project, "0.9")
    panel = RunDetailPanel(registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.code_tab.sig_loaded, timeout=10_000):
        panel.show_run(run_id)
    titles = [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    assert titles[-1] == "Code"
    assert "+LR = 0.9" in panel.code_tab.diff_view.unified.toPlainText()
    panel.shutdown()
