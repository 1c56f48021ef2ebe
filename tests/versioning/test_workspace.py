"""Finding and creating workspaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.versioning.workspace import find_workspace, init_workspace


def test_find_workspace_from_a_subfolder(repo: Path) -> None:
    (repo / "src").mkdir()
    assert find_workspace(repo / "src") == repo


def test_a_plain_folder_has_no_workspace_until_initialised(tmp_path: Path, git: Any) -> None:
    folder = tmp_path / "analysis"
    (folder / "mlruns-registry").mkdir(parents=True)
    (folder / "notes.txt").write_text("x")
    assert find_workspace(folder) is None
    root = init_workspace(folder, folder / "mlruns-registry")
    assert find_workspace(folder) == root == folder.resolve()
    assert "/mlruns-registry/" in (folder / ".gitignore").read_text().splitlines()
    status = git(folder, "status", "--porcelain", "--untracked-files=all")
    assert "mlruns-registry" not in status and "notes.txt" in status
    init_workspace(folder, folder / "mlruns-registry")  # twice is harmless
    assert (folder / ".gitignore").read_text().count("/mlruns-registry/") == 1
