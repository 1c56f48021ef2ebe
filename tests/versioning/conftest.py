"""Real Git repositories in temporary folders, and a fingerprint of everything a user owns."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, read_only: bool = False) -> str:
    """Run git as the user would (no shell); ``read_only`` keeps status from touching the index."""
    extra = {"GIT_OPTIONAL_LOCKS": "0"} if read_only else {}
    result = subprocess.run(
        ["git", "-c", "protocol.file.allow=always", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV, **extra},
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8", "replace").strip()


def user_state(repo: Path) -> dict[str, object]:
    """HEAD, index, refs (but ModelDesk's), stash, status and every file's bytes."""
    git_dir = repo / ".git"
    files = {}
    for path in sorted(repo.rglob("*")):
        if ".git" in path.relative_to(repo).parts or not path.is_file():
            continue
        files[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    index = git_dir / "index"
    refs = [
        line
        for line in git(
            repo, "for-each-ref", "--format=%(refname) %(objectname)", read_only=True
        ).splitlines()
        if not line.startswith("refs/modeldesk/")
    ]
    return {
        "HEAD": (git_dir / "HEAD").read_bytes(),
        "index": index.read_bytes() if index.exists() else None,
        "refs": refs,
        "stash": git(repo, "stash", "list", read_only=True),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all", read_only=True),
        "files": files,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two committed files on branch main."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('train')\n")
    (root / "config.toml").write_text("lr = 0.1\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


@pytest.fixture(name="git")
def git_fixture():
    """The ``git`` helper as a fixture."""
    return git


@pytest.fixture(name="user_state")
def user_state_fixture():
    """The ``user_state`` helper as a fixture."""
    return user_state
