"""Access to Git through GitPython: one short-lived ``Repo`` per operation, clear errors.

GitPython is imported lazily (it spawns ``git`` on import to check its version) and told not to
fail at import when Git is missing, so that a missing binary becomes a message, not a crash.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.errors import AppError

if TYPE_CHECKING:
    import git


class GitCommandFailed(AppError):
    """A git command exited with an error; ``detail`` holds what git printed."""

    code = "GIT_FAILED"


class GitUnavailableError(AppError):
    """Git cannot be used here: not installed, or the folder is not a repository."""

    code = "GIT_UNAVAILABLE"


def git_module() -> Any:
    """The GitPython module, imported on first use (quietly, even without a git binary)."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import git

    return git


def git_available() -> bool:
    """Whether a working ``git`` executable is on this machine."""
    module = git_module()
    try:
        module.Git().version_info  # noqa: B018 - runs `git version`
    except (module.exc.GitCommandNotFound, module.exc.GitCommandError, OSError):
        return False
    return True


@contextmanager
def open_repo(path: str | os.PathLike[str], *, search_parents: bool = True) -> Iterator[git.Repo]:
    """A ``Repo`` for the repository containing ``path``, closed when the block ends."""
    module = git_module()
    if not git_available():
        raise GitUnavailableError(
            "Git is not installed or not on PATH, so no code snapshot can be taken.",
            detail="Install git (e.g. 'apt install git') and restart ModelDesk.",
        )
    try:
        repo = module.Repo(Path(path), search_parent_directories=search_parents)
    except (module.exc.InvalidGitRepositoryError, module.exc.NoSuchPathError) as exc:
        raise GitUnavailableError(f"{path} is not inside a Git repository.") from exc
    try:
        yield repo
    finally:
        repo.close()


def git_bytes(
    repo: git.Repo, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> bytes:
    """Run a git command in ``repo`` and return its raw standard output."""
    module = git_module()
    try:
        output = repo.git.execute(
            ["git", *args],
            env=_quiet_env(env),
            stdout_as_string=False,
            strip_newline_in_stdout=False,
            **kwargs,
        )
    except module.exc.GitCommandError as exc:
        stderr = (
            exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr
        )
        raise GitCommandFailed(
            f"git {args[0]} failed: {str(stderr).strip()[:300] or exc.status}", detail=str(exc)
        ) from exc
    return bytes(output)


def git_text(repo: git.Repo, *args: str, env: dict[str, str] | None = None, **kwargs: Any) -> str:
    """Run a git command in ``repo`` and return its output as text (UTF-8, lenient)."""
    return git_bytes(repo, *args, env=env, **kwargs).decode("utf-8", "replace").strip()


def _quiet_env(extra: dict[str, str] | None) -> dict[str, str]:
    # GIT_OPTIONAL_LOCKS=0 stops read-only commands (status, diff) from refreshing the user's
    # index behind their back; snapshots must leave it byte for byte as it was.
    env = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    env.update(extra or {})
    return env
