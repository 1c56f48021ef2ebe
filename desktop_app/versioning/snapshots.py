"""Code snapshots of runs: the working tree as it is, as a commit on a private ref.

A snapshot is built through a temporary copy of the index, so the user's HEAD, index,
branches, stash and files stay exactly as they were. It holds tracked changes and untracked,
not-ignored files; files over a size limit are recorded by SHA-256 and size instead of copied.
Snapshots of an unchanged tree reuse Git's objects, so a sweep of many runs costs little.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.errors import ConflictError, InvalidValueError, NotFoundError
from desktop_app.versioning.gitcmd import GitCommandFailed, git_bytes, git_text, open_repo

if TYPE_CHECKING:
    import git

RUN_REF_PREFIX = "refs/modeldesk/runs/"
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "ModelDesk",
    "GIT_AUTHOR_EMAIL": "modeldesk@localhost",
    "GIT_COMMITTER_NAME": "ModelDesk",
    "GIT_COMMITTER_EMAIL": "modeldesk@localhost",
}


@dataclass(frozen=True)
class LargeFile:
    """A file left out of a snapshot because of its size, known by hash and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class CodeSnapshot:
    """Where a run's code came from and the commit that holds it exactly."""

    workspace: str
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool
    snapshot: str
    large_files: list[LargeFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class ChangedFile:
    """One file that differs between two trees."""

    status: str  # A added, M modified, D deleted, R renamed, T type change
    path: str
    old_path: str | None = None


def run_ref(run_id: str) -> str:
    """The private ref that keeps a run's snapshot."""
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise InvalidValueError(f"Not a run id: {run_id!r}")
    return RUN_REF_PREFIX + run_id


def _fs(path: bytes) -> str:
    # Git hands out raw bytes; surrogateescape keeps non-UTF-8 names round-trippable.
    return os.fsdecode(path)


def _status_paths(raw: bytes) -> list[tuple[str, bytes]]:
    """Parse ``git status --porcelain -z`` into (XY, path) pairs."""
    entries = raw.split(b"\0")
    result = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code = entry[:2].decode("ascii", "replace")
        result.append((code, entry[3:]))
        if "R" in code or "C" in code:
            index += 1  # the original path of a rename or copy follows
    return result


def _large_files(repo: git.Repo, root: Path, env: dict[str, str], limit: int) -> list[LargeFile]:
    raw = git_bytes(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", env=env)
    large = []
    for code, path in _status_paths(raw):
        if "D" in code:
            continue
        full = root / _fs(path)
        try:
            if full.is_symlink() or not full.is_file():
                continue
            size = full.stat().st_size
        except OSError:
            continue
        if size > limit:
            digest = hashlib.sha256()
            with open(full, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            large.append(LargeFile(_fs(path), digest.hexdigest(), size))
    return large


def _head(repo: git.Repo) -> tuple[str | None, str | None]:
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        commit = None  # a repository with no commit yet
    branch = None if repo.head.is_detached else repo.head.reference.name
    return commit, branch


def _remote_url(repo: git.Repo) -> str | None:
    remotes = {r.name: r for r in repo.remotes}
    remote = remotes.get("origin") or next(iter(remotes.values()), None)
    if remote is None:
        return None
    try:
        return str(next(iter(remote.urls)))
    except (StopIteration, ValueError, GitCommandFailed):
        return None


def take_snapshot(
    workspace: str | os.PathLike[str],
    run_id: str,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> CodeSnapshot:
    """Commit the working tree of ``workspace`` to ``refs/modeldesk/runs/<run_id>``."""
    ref = run_ref(run_id)
    with open_repo(workspace) as repo:
        if repo.bare or repo.working_tree_dir is None:
            raise InvalidValueError(f"{workspace} is a bare repository: there is no code to keep.")
        root = Path(repo.working_tree_dir)
        commit, branch = _head(repo)
        with tempfile.TemporaryDirectory(prefix="modeldesk-index-") as tmp:
            index = Path(tmp) / "index"
            real_index = Path(repo.git_dir) / "index"
            env = {"GIT_INDEX_FILE": str(index), **_IDENTITY}
            # Starting from a copy of the user's index keeps its stat cache: unchanged files
            # are not re-hashed, which is what makes repeated snapshots cheap. The copy keeps
            # the original's mtime, or Git's racy-clean check would miss same-size edits made
            # within the index's last second.
            if real_index.exists():
                shutil.copy2(real_index, index)
            elif commit is not None:
                git_bytes(repo, "read-tree", "HEAD", env=env)
            large = _large_files(repo, root, env, max_file_bytes)
            pathspecs = Path(tmp) / "pathspecs"
            pathspecs.write_bytes(
                b"\0".join(
                    [b":/", *(b":(top,exclude,literal)" + os.fsencode(f.path) for f in large)]
                )
            )
            git_bytes(
                repo,
                "add",
                "--all",
                "--ignore-errors",
                f"--pathspec-from-file={pathspecs}",
                "--pathspec-file-nul",
                env=env,
            )
            tree = git_text(repo, "write-tree", env=env)
        head_tree = git_text(repo, "rev-parse", f"{commit}^{{tree}}") if commit else EMPTY_TREE
        message = f"ModelDesk snapshot of run {run_id}\n"
        if large:
            message += "\nLarge files recorded by hash, not copied:\n" + "".join(
                f"{f.sha256}  {f.size}  {f.path}\n" for f in large
            )
        parents = ["-p", commit] if commit else []
        snapshot = git_text(
            repo, "commit-tree", tree, *parents, "-m", message, env=_fixed_time(repo, commit)
        )
        git_bytes(repo, "update-ref", "-m", "modeldesk: run snapshot", ref, snapshot)
        return CodeSnapshot(
            workspace=str(root),
            commit=commit,
            branch=branch,
            remote=_remote_url(repo),
            dirty=tree != head_tree,
            snapshot=snapshot,
            large_files=large,
        )


def _fixed_time(repo: git.Repo, commit: str | None) -> dict[str, str]:
    # With the parent's timestamp, the same tree gives the very same commit: no new object.
    env = dict(_IDENTITY)
    if commit:
        stamp = git_text(repo, "show", "-s", "--format=%ct", commit)
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{stamp} +0000"
    return env


def snapshot_of(workspace: str | os.PathLike[str], run_id: str) -> str | None:
    """The snapshot commit of a run, or None if it has none (or it was deleted)."""
    with open_repo(workspace) as repo:
        return _snapshot_or_none(repo, run_id)


def _snapshot_or_none(repo: git.Repo, run_id: str) -> str | None:
    try:
        return git_text(repo, "rev-parse", "--verify", "--quiet", run_ref(run_id) + "^{commit}")
    except GitCommandFailed:  # rev-parse exits 1 when the ref is missing
        return None


def _require_snapshot(repo: git.Repo, run_id: str) -> str:
    snapshot = _snapshot_or_none(repo, run_id)
    if snapshot is None:
        raise NotFoundError(f"Run {run_id} has no code snapshot in {repo.working_dir}.")
    return snapshot


def _parent(repo: git.Repo, snapshot: str) -> str:
    parents = git_text(repo, "rev-list", "--parents", "-n", "1", snapshot).split()
    return parents[1] if len(parents) > 1 else EMPTY_TREE


def changed_files(
    workspace: str | os.PathLike[str], base: str | None, target: str
) -> list[ChangedFile]:
    """Files that differ from ``base`` (a commit, or the empty tree when None) to ``target``."""
    with open_repo(workspace) as repo:
        raw = git_bytes(repo, "diff", "--name-status", "-z", "-M", base or EMPTY_TREE, target, "--")
    parts = raw.split(b"\0")
    result = []
    index = 0
    while index < len(parts) - 1:
        status = parts[index].decode("ascii", "replace")
        index += 1
        if not status:
            continue
        if status[0] in "RC":
            old, new = _fs(parts[index]), _fs(parts[index + 1])
            index += 2
            result.append(ChangedFile(status[0], new, old))
        else:
            result.append(ChangedFile(status[0], _fs(parts[index])))
            index += 1
    return result


def diff_text(
    workspace: str | os.PathLike[str], base: str | None, target: str, *, context: int = 3
) -> str:
    """A unified diff from ``base`` (or the empty tree) to ``target``; binary files are named."""
    with open_repo(workspace) as repo:
        raw = git_bytes(
            repo,
            "diff",
            f"-U{context}",
            "-M",
            "--no-color",
            "--no-ext-diff",
            base or EMPTY_TREE,
            target,
            "--",
        )
    return raw.decode("utf-8", "replace")


def run_code_diff(workspace: str | os.PathLike[str], run_id: str) -> tuple[list[ChangedFile], str]:
    """A run's changes against the commit it started from: files and unified diff."""
    with open_repo(workspace) as repo:
        snapshot = _require_snapshot(repo, run_id)
        parent = _parent(repo, snapshot)
    base = None if parent == EMPTY_TREE else parent
    return changed_files(workspace, base, snapshot), diff_text(workspace, base, snapshot)


def compare_runs(
    workspace: str | os.PathLike[str], run_a: str, run_b: str
) -> tuple[list[ChangedFile], str]:
    """What changed in the code from run A to run B."""
    with open_repo(workspace) as repo:
        a = _require_snapshot(repo, run_a)
        b = _require_snapshot(repo, run_b)
    return changed_files(workspace, a, b), diff_text(workspace, a, b)


def delete_snapshot(workspace: str | os.PathLike[str], run_id: str) -> bool:
    """Drop a run's snapshot ref (``git gc`` then reclaims its objects); False if absent."""
    with open_repo(workspace) as repo:
        if _snapshot_or_none(repo, run_id) is None:
            return False
        git_bytes(repo, "update-ref", "-d", run_ref(run_id))
    return True


def has_uncommitted_work(repo: git.Repo) -> bool:
    """Whether tracked files differ from HEAD (staged or not)."""
    raw = git_bytes(repo, "status", "--porcelain=v1", "-z", "--untracked-files=no")
    return bool(raw.strip(b"\0"))


def restore_to_branch(workspace: str | os.PathLike[str], run_id: str, branch: str) -> str:
    """Create ``branch`` at the run's snapshot and check it out; refuse over uncommitted work."""
    with open_repo(workspace) as repo:
        snapshot = _require_snapshot(repo, run_id)
        try:
            git_bytes(repo, "check-ref-format", "--branch", branch)
        except GitCommandFailed as exc:
            raise InvalidValueError(f"{branch!r} is not a valid branch name.") from exc
        if branch in [h.name for h in repo.heads]:
            raise ConflictError(f"A branch named {branch!r} already exists; choose another name.")
        if has_uncommitted_work(repo):
            raise ConflictError(
                "Your working tree has uncommitted changes; restoring would mix them with the "
                "run's code.",
                detail="Commit or stash them first (git stash), or restore into a new worktree "
                "folder instead, which leaves this one untouched.",
            )
        git_bytes(repo, "branch", branch, snapshot)
        git_bytes(repo, "checkout", "--quiet", branch)
        return snapshot


def restore_to_worktree(
    workspace: str | os.PathLike[str], run_id: str, folder: str | os.PathLike[str]
) -> Path:
    """Check the run's snapshot out into a new worktree folder (detached HEAD)."""
    target = Path(folder).expanduser().resolve()
    if target.exists() and any(target.iterdir()):
        raise ConflictError(f"{target} already exists and is not empty; choose a new folder.")
    with open_repo(workspace) as repo:
        snapshot = _require_snapshot(repo, run_id)
        git_bytes(repo, "worktree", "add", "--detach", "--quiet", str(target), snapshot)
    return target
