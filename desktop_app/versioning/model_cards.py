"""Model cards: a small human-readable file per model, committed alone to the workspace repo.

``git log models/<name>`` is then the model's history. The commit is built from HEAD plus the
card only (through a temporary index), so nothing else the user has staged or changed is
committed; the user's index gains just the card's entry so ``git status`` stays clean for it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.errors import ConflictError
from desktop_app.versioning.gitcmd import GitCommandFailed, git_bytes, git_text, open_repo

if TYPE_CHECKING:
    import git

CARDS_FOLDER = "models"
CARD_FILENAME = "MODEL_CARD.md"
_CONFIG_SECTION = "modeldesk"
_CONFIG_KEY = "modelcards"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "ModelDesk",
    "GIT_AUTHOR_EMAIL": "modeldesk@localhost",
    "GIT_COMMITTER_NAME": "ModelDesk",
    "GIT_COMMITTER_EMAIL": "modeldesk@localhost",
}
_IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "BISECT_LOG": "a bisect",
}


@dataclass(frozen=True)
class ModelCard:
    """What a model card says about one version."""

    name: str
    version: int
    aliases: list[str] = field(default_factory=list)
    run_id: str | None = None
    run_name: str = ""
    experiment: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    dataset_sha256: list[str] = field(default_factory=list)
    artifact_sha256: str = ""
    signature: dict[str, Any] = field(default_factory=dict)
    code_snapshot: str | None = None
    description: str = ""


@dataclass(frozen=True)
class CardCommit:
    """One commit in a model card's history."""

    commit: str
    author: str
    timestamp: int
    subject: str


def card_path(name: str) -> str:
    """The card's path inside the workspace (a safe folder name derived from the model name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"
    return f"{CARDS_FOLDER}/{safe}/{CARD_FILENAME}"


def render_card(card: ModelCard) -> str:
    """The card as Markdown, stable for the same content so diffs show only real changes."""
    lines = [
        f"# {card.name} — version {card.version}",
        "",
        f"- **Aliases:** {', '.join(sorted(card.aliases)) or '—'}",
        f"- **Source run:** {card.run_id or '—'}"
        + (f" ({card.run_name}, experiment {card.experiment})" if card.run_name else ""),
        f"- **Model file SHA-256:** `{card.artifact_sha256}`",
        f"- **Code snapshot:** {card.code_snapshot or '—'}",
        f"- **Datasets (SHA-256):** {', '.join(f'`{d}`' for d in card.dataset_sha256) or '—'}",
    ]
    if card.description:
        lines += ["", card.description]
    metrics = {k: f"{v:.6g}" for k, v in card.metrics.items()}
    lines += ["", "## Metrics", "", *_table("metric", metrics)]
    lines += ["", "## Params", "", *_table("param", card.params)]
    lines += ["", "## Signature", "", "```json", json.dumps(card.signature, indent=2), "```", ""]
    return "\n".join(lines)


def _table(heading: str, values: dict[str, str]) -> list[str]:
    if not values:
        return ["—"]
    rows = [f"| {key} | {value} |" for key, value in sorted(values.items())]
    return [f"| {heading} | value |", "|---|---|", *rows]


def cards_enabled(workspace: str | os.PathLike[str]) -> bool:
    """Whether this workspace wants model cards (``git config modeldesk.modelcards``)."""
    with open_repo(workspace) as repo:
        reader = repo.config_reader("repository")
        value = reader.get_value(_CONFIG_SECTION, _CONFIG_KEY, True)
    return str(value).lower() not in ("false", "0", "no", "off")


def set_cards_enabled(workspace: str | os.PathLike[str], enabled: bool) -> None:
    """Switch model cards on or off for a workspace."""
    with open_repo(workspace) as repo, repo.config_writer("repository") as writer:
        writer.set_value(_CONFIG_SECTION, _CONFIG_KEY, "true" if enabled else "false")


def _operation_in_progress(repo: git.Repo) -> str | None:
    git_dir = Path(repo.git_dir)
    for marker, what in _IN_PROGRESS.items():
        if (git_dir / marker).exists():
            return what
    return None


def commit_model_card(
    workspace: str | os.PathLike[str], card: ModelCard, message: str | None = None
) -> str | None:
    """Write and commit the card alone; return the commit, or None if nothing changed."""
    path = card_path(card.name)
    with open_repo(workspace) as repo:
        if repo.working_tree_dir is None:
            raise ConflictError("A bare repository has no working tree for model cards.")
        what = _operation_in_progress(repo)
        if what is not None:
            raise ConflictError(
                f"The workspace repository is in the middle of {what}; the model card was "
                "not committed.",
                detail="Finish or abort it (git status says how), then register again or "
                "move the alias again.",
            )
        if repo.head.is_detached:
            raise ConflictError(
                "The workspace is on a detached HEAD; the model card was not committed.",
                detail="Check out a branch (git switch <branch>) to record model history.",
            )
        branch_ref = repo.head.reference.path
        try:
            head = repo.head.commit.hexsha
        except ValueError:
            head = None
        target = Path(repo.working_tree_dir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_card(card), encoding="utf-8")
        blob = git_text(repo, "hash-object", "-w", "--", path)
        with tempfile.TemporaryDirectory(prefix="modeldesk-card-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if head:
                git_bytes(repo, "read-tree", head, env=env)
            git_bytes(
                repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env
            )
            tree = git_text(repo, "write-tree", env=env)
        if head and tree == git_text(repo, "rev-parse", f"{head}^{{tree}}"):
            return None
        subject = message or f"Model card: {card.name} v{card.version}"
        parents = ["-p", head] if head else []
        commit = git_text(repo, "commit-tree", tree, *parents, "-m", subject, env=_IDENTITY)
        # Stage the card in the user's index too, so `git status` does not show it deleted.
        git_bytes(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
        try:
            # Compare-and-swap: if the branch moved meanwhile, nothing is overwritten.
            git_bytes(repo, "update-ref", "-m", subject, branch_ref, commit, head or "")
        except GitCommandFailed as exc:
            raise ConflictError(
                "The branch moved while the model card was being committed; try again."
            ) from exc
        return commit


def card_history(workspace: str | os.PathLike[str], name: str) -> list[CardCommit]:
    """Commits that changed a model's card, newest first."""
    with open_repo(workspace) as repo:
        try:
            raw = git_text(repo, "log", "--format=%H%x1f%an%x1f%at%x1f%s", "--", card_path(name))
        except GitCommandFailed:
            return []  # no commit yet
    history = []
    for line in raw.splitlines():
        commit, author, stamp, subject = line.split("\x1f", 3)
        history.append(CardCommit(commit, author, int(stamp), subject))
    return history
