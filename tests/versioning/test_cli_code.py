"""`modeldesk runs code|diff|restore-code` as a user types them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from desktop_app import tracking
from desktop_app.cli import cli


def _run_in(repo: Path, registry_path: Path, config: str) -> str:
    (repo / "config.toml").write_text(config)
    with tracking.start_run(registry=registry_path, workspace=repo) as run:
        pass
    return run.id


def test_code_diff_and_restore(repo: Path, registry_path: Path, tmp_path: Path, git: Any) -> None:
    first = _run_in(repo, registry_path, "lr = 0.2\n")
    second = _run_in(repo, registry_path, "lr = 0.3\n")
    runner = CliRunner()
    base = ["--registry", str(registry_path), "runs"]

    shown = runner.invoke(cli, [*base, "code", first[:6]])
    assert shown.exit_code == 0, shown.output
    assert "Dirty:      yes" in shown.output and "M  config.toml" in shown.output
    assert "+lr = 0.2" in shown.output

    compared = runner.invoke(cli, [*base, "diff", first, second])
    assert compared.exit_code == 0
    assert "-lr = 0.2" in compared.output and "+lr = 0.3" in compared.output

    refused = runner.invoke(cli, [*base, "restore-code", first, "--branch", "back"])
    assert refused.exit_code == 1
    assert "uncommitted changes" in refused.output and "stash" in refused.output

    into = tmp_path / "first-run-code"
    restored = runner.invoke(cli, [*base, "restore-code", first, "--worktree", str(into)])
    assert restored.exit_code == 0, restored.output
    assert (into / "config.toml").read_text() == "lr = 0.2\n"

    git(repo, "checkout", "--", "config.toml")
    branch = runner.invoke(cli, [*base, "restore-code", first, "--branch", "back"])
    assert branch.exit_code == 0, branch.output
    assert (repo / "config.toml").read_text() == "lr = 0.2\n"

    usage = runner.invoke(cli, [*base, "restore-code", first])
    assert usage.exit_code == 2


def test_code_of_a_run_without_snapshot_says_why(registry_path: Path, tmp_path: Path) -> None:
    with tracking.start_run(registry=registry_path, workspace=tmp_path) as run:
        pass
    result = CliRunner().invoke(cli, ["--registry", str(registry_path), "runs", "code", run.id])
    assert result.exit_code == 1
    assert (
        "has no code snapshot: " in result.output and "not inside a Git repository" in result.output
    )
