"""Snapshots record the exact code of a run and leave the user's repository untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from desktop_app.errors import ConflictError
from desktop_app.versioning.gitcmd import GitUnavailableError
from desktop_app.versioning.snapshots import (
    compare_runs,
    delete_snapshot,
    restore_to_branch,
    restore_to_worktree,
    run_code_diff,
    snapshot_of,
    take_snapshot,
)


def _snapshot_file(repo: Path, snapshot: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{snapshot}:{path}"], cwd=repo, capture_output=True, check=True
    ).stdout


def test_clean_tree_snapshot_is_the_head_tree_and_changes_nothing(
    repo: Path, git: Any, user_state: Any
) -> None:
    before = user_state(repo)
    snap = take_snapshot(repo, "run1")
    assert user_state(repo) == before
    assert snap.commit == git(repo, "rev-parse", "HEAD")
    assert snap.branch == "main" and snap.dirty is False
    assert git(repo, "rev-parse", f"{snap.snapshot}^{{tree}}") == git(
        repo, "rev-parse", "HEAD^{tree}"
    )
    assert git(repo, "rev-parse", "refs/modeldesk/runs/run1") == snap.snapshot
    assert git(repo, "branch", "--list") == "* main"


def test_dirty_staged_untracked_and_ignored_files(repo: Path, git: Any, user_state: Any) -> None:
    (repo / "train.py").write_text("print('edited')\n")
    (repo / "config.toml").write_text("lr = 0.5\n")
    git(repo, "add", "config.toml")
    (repo / "new_module.py").write_text("X = 1\n")
    (repo / "debug.log").write_text("ignored\n")
    (repo / "data.bin").write_bytes(bytes(range(256)) * 4)
    before = user_state(repo)
    snap = take_snapshot(repo, "run2")
    assert user_state(repo) == before
    assert snap.dirty is True
    assert _snapshot_file(repo, snap.snapshot, "train.py") == b"print('edited')\n"
    assert _snapshot_file(repo, snap.snapshot, "config.toml") == b"lr = 0.5\n"
    assert _snapshot_file(repo, snap.snapshot, "new_module.py") == b"X = 1\n"
    assert _snapshot_file(repo, snap.snapshot, "data.bin") == bytes(range(256)) * 4
    files = git(repo, "ls-tree", "-r", "--name-only", snap.snapshot).splitlines()
    assert "debug.log" not in files
    changed, diff = run_code_diff(repo, "run2")
    assert {(c.status, c.path) for c in changed} == {
        ("M", "train.py"),
        ("M", "config.toml"),
        ("A", "new_module.py"),
        ("A", "data.bin"),
    }
    assert "-print('train')" in diff and "+print('edited')" in diff
    assert "Binary files" in diff


def test_deleted_and_renamed_files(repo: Path, git: Any, user_state: Any) -> None:
    git(repo, "mv", "config.toml", "settings.toml")
    (repo / "train.py").unlink()
    before = user_state(repo)
    snap = take_snapshot(repo, "run3")
    assert user_state(repo) == before
    changed, _ = run_code_diff(repo, "run3")
    statuses = {(c.status, c.path, c.old_path) for c in changed}
    assert ("R", "settings.toml", "config.toml") in statuses
    assert ("D", "train.py", None) in statuses
    assert snap.dirty


def test_detached_head(repo: Path, git: Any, user_state: Any) -> None:
    (repo / "train.py").write_text("v2\n")
    git(repo, "commit", "-qam", "second")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    before = user_state(repo)
    snap = take_snapshot(repo, "run4")
    assert user_state(repo) == before
    assert snap.branch is None and snap.commit == git(repo, "rev-parse", "HEAD")


def test_repository_without_any_commit(tmp_path: Path, git: Any, user_state: Any) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("a = 1\n")
    before = user_state(root)
    snap = take_snapshot(root, "run5")
    assert user_state(root) == before
    assert snap.commit is None and snap.dirty is True and snap.branch == "main"
    assert _snapshot_file(root, snap.snapshot, "a.py") == b"a = 1\n"
    changed, _ = run_code_diff(root, "run5")
    assert [(c.status, c.path) for c in changed] == [("A", "a.py")]


def test_non_utf8_file_name_and_large_file(repo: Path, git: Any, user_state: Any) -> None:
    odd = os.fsdecode(b"caf\xe9.txt")
    (repo / odd).write_bytes(b"latin-1 name\n")
    big = repo / "weights.bin"
    big.write_bytes(os.urandom(3000))
    before = user_state(repo)
    snap = take_snapshot(repo, "run6", max_file_bytes=2000)
    assert user_state(repo) == before
    names = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", snap.snapshot],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    assert b"caf\xe9.txt" in names and b"weights.bin" not in names
    assert [(f.path, f.size) for f in snap.large_files] == [("weights.bin", 3000)]
    import hashlib

    assert snap.large_files[0].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    message = git(repo, "log", "-1", "--format=%B", snap.snapshot)
    assert "weights.bin" in message and snap.large_files[0].sha256 in message


def test_submodule_is_recorded_as_a_link(
    repo: Path, tmp_path: Path, git: Any, user_state: Any
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.py").write_text("L = 1\n")
    git(library, "add", ".")
    git(library, "commit", "-qm", "lib")
    git(repo, "submodule", "add", "-q", str(library), "vendor/library")
    git(repo, "commit", "-qm", "add submodule")
    before = user_state(repo)
    snap = take_snapshot(repo, "run7")
    assert user_state(repo) == before
    tree = git(repo, "ls-tree", snap.snapshot, "vendor/library")
    assert tree.startswith("160000 commit")


def test_unchanged_tree_adds_only_one_small_commit_object(repo: Path, git: Any) -> None:
    (repo / "train.py").write_text("edited once\n")
    first = take_snapshot(repo, "sweep-1")
    objects_before = int(git(repo, "count-objects", "-v").split()[1])
    second = take_snapshot(repo, "sweep-2")
    objects_after = int(git(repo, "count-objects", "-v").split()[1])
    assert git(repo, "rev-parse", f"{first.snapshot}^{{tree}}") == git(
        repo, "rev-parse", f"{second.snapshot}^{{tree}}"
    )
    assert objects_after - objects_before == 1  # the commit; trees and blobs are shared


def test_compare_code_of_two_runs(repo: Path) -> None:
    take_snapshot(repo, "a")
    (repo / "config.toml").write_text("lr = 0.01\n")
    take_snapshot(repo, "b")
    changed, diff = compare_runs(repo, "a", "b")
    assert [(c.status, c.path) for c in changed] == [("M", "config.toml")]
    assert "-lr = 0.1" in diff and "+lr = 0.01" in diff


def test_restore_into_a_branch_refuses_over_uncommitted_work(repo: Path, git: Any) -> None:
    (repo / "train.py").write_text("run code\n")
    take_snapshot(repo, "r")
    with pytest.raises(ConflictError, match="uncommitted changes") as refused:
        restore_to_branch(repo, "r", "restored")
    assert "stash" in refused.value.detail
    assert (repo / "train.py").read_text() == "run code\n"
    git(repo, "checkout", "--", "train.py")
    restore_to_branch(repo, "r", "restored")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "restored"
    assert (repo / "train.py").read_text() == "run code\n"
    with pytest.raises(ConflictError, match="already exists"):
        restore_to_branch(repo, "r", "restored")


def test_restore_into_a_worktree_leaves_the_main_tree_alone(
    repo: Path, tmp_path: Path, user_state: Any
) -> None:
    (repo / "train.py").write_text("run code\n")
    take_snapshot(repo, "r")
    (repo / "train.py").write_text("later edits\n")
    before = user_state(repo)
    folder = restore_to_worktree(repo, "r", tmp_path / "restored")
    assert (folder / "train.py").read_text() == "run code\n"
    after = user_state(repo)
    assert after["files"] == before["files"] and after["index"] == before["index"]
    with pytest.raises(ConflictError, match="not empty"):
        restore_to_worktree(repo, "r", tmp_path / "restored")


def test_deleting_a_snapshot_removes_its_ref(repo: Path) -> None:
    take_snapshot(repo, "gone")
    assert delete_snapshot(repo, "gone") is True
    assert snapshot_of(repo, "gone") is None
    assert delete_snapshot(repo, "gone") is False


def test_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitUnavailableError, match="not inside a Git repository"):
        take_snapshot(tmp_path, "x")


def test_missing_git_binary_is_a_clear_error(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = repo.parent / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    assert shutil.which("git") is None
    with pytest.raises(GitUnavailableError, match="Git is not installed"):
        take_snapshot(repo, "x")


def test_same_size_edit_right_after_staging_is_seen(repo: Path, git: Any) -> None:
    # Racy-git case: same size, same second as the index write.
    (repo / "train.py").write_text("print('a')\n")
    git(repo, "add", "train.py")
    (repo / "train.py").write_text("print('b')\n")
    snap = take_snapshot(repo, "racy")
    assert _snapshot_file(repo, snap.snapshot, "train.py") == b"print('b')\n"
