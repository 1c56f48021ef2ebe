"""Workspaces: project folders with a Git repository, found or created for the user."""

from __future__ import annotations

import os
from pathlib import Path

from desktop_app.errors import InvalidValueError
from desktop_app.versioning.gitcmd import GitUnavailableError, git_available, git_module, open_repo


def find_workspace(folder: str | os.PathLike[str]) -> Path | None:
    """The root of the repository containing ``folder``, or None if there is none."""
    try:
        with open_repo(folder) as repo:
            return Path(repo.working_tree_dir) if repo.working_tree_dir else None
    except GitUnavailableError:
        return None


def init_workspace(
    folder: str | os.PathLike[str], registry_root: str | os.PathLike[str] | None = None
) -> Path:
    """``git init`` a folder; if the registry lives inside it, ignore the registry in Git."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise InvalidValueError(f"{root} is not a folder.")
    if not git_available():
        raise GitUnavailableError("Git is not installed or not on PATH; cannot create a workspace.")
    git_module().Repo.init(root, initial_branch="main").close()
    if registry_root is not None:
        registry = Path(registry_root).expanduser().resolve()
        if registry.is_relative_to(root) and registry != root:
            entry = "/" + registry.relative_to(root).as_posix() + "/"
            ignore = root / ".gitignore"
            existing = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
            if entry not in existing.splitlines():
                prefix = "" if not existing or existing.endswith("\n") else "\n"
                ignore.write_text(
                    f"{existing}{prefix}# ModelDesk registry (runs, metrics, artifacts)\n{entry}\n",
                    encoding="utf-8",
                )
    return root
