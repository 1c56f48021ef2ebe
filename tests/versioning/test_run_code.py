"""Runs logged through the tracking API carry their exact code; purging drops the snapshot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from desktop_app import tracking
from desktop_app.registry import Registry
from desktop_app.versioning.run_code import purge_runs
from desktop_app.versioning.snapshots import run_code_diff, snapshot_of


def test_run_records_commit_branch_dirty_and_snapshot(
    repo: Path, registry_path: Path, git: Any, user_state: Any
) -> None:
    (repo / "train.py").write_text("print('tuned')\n")
    before = user_state(repo)
    with tracking.start_run(registry=registry_path, workspace=repo) as run:
        run.log_metric("loss", 0.1)
    assert user_state(repo) == before
    stored = Registry(registry_path).get_run(run.id)
    assert stored.git["commit"] == git(repo, "rev-parse", "HEAD")
    assert stored.git["branch"] == "main" and stored.git["dirty"] == 1
    assert stored.git["snapshot"] == snapshot_of(repo, run.id)
    changed, diff = run_code_diff(repo, run.id)
    assert [c.path for c in changed] == ["train.py"] and "+print('tuned')" in diff


def test_workspace_from_the_current_directory(
    repo: Path, registry_path: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("MODELDESK_WORKSPACE")
    script = tmp_path / "log_from_repo.py"
    script.write_text(
        "from desktop_app import tracking\n"
        f"with tracking.start_run(registry={str(registry_path)!r}) as run:\n"
        "    print(run.id)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.strip()
    assert Registry(registry_path).get_run(out).git["workspace"] == str(repo)


def test_outside_a_repository_the_run_logs_and_says_why(
    registry_path: Path, tmp_path: Path
) -> None:
    with tracking.start_run(registry=registry_path, workspace=tmp_path) as run:
        run.log_metric("x", 1.0)
    stored = Registry(registry_path).get_run(run.id)
    assert stored.metrics["x"].last == 1.0
    assert "not inside a Git repository" in stored.git["info"]["reason"]  # type: ignore[index]


def test_large_files_are_listed_on_the_run(
    repo: Path, registry_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MODELDESK_SNAPSHOT_MAX_FILE_BYTES", "100")
    (repo / "weights.bin").write_bytes(b"w" * 500)
    with tracking.start_run(registry=registry_path, workspace=repo) as run:
        pass
    info = Registry(registry_path).get_run(run.id).git["info"]
    assert info["large_files"][0]["path"] == "weights.bin"  # type: ignore[index]
    assert info["large_files"][0]["size"] == 500  # type: ignore[index]


def test_purge_deletes_the_snapshot_ref(repo: Path, registry_path: Path) -> None:
    with tracking.start_run(registry=registry_path, workspace=repo) as run:
        pass
    registry = Registry(registry_path)
    registry.delete_runs([run.id])
    assert snapshot_of(repo, run.id) is not None
    purge_runs(registry)
    assert snapshot_of(repo, run.id) is None
