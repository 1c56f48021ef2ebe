"""Model cards are committed alone, politely, and make `git log` the model's history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop_app.errors import ConflictError
from desktop_app.versioning.model_cards import (
    ModelCard,
    card_history,
    card_path,
    cards_enabled,
    commit_model_card,
    set_cards_enabled,
)


def _card(version: int = 1, aliases: list[str] | None = None) -> ModelCard:
    return ModelCard(
        name="churn model",
        version=version,
        aliases=aliases or [],
        run_id="abcd1234abcd1234",
        metrics={"f1": 0.91},
        params={"n_estimators": "50"},
        artifact_sha256="f" * 64,
        signature={"inputs": [{"name": "age", "type": "float"}]},
    )


def test_card_commit_contains_only_the_card(repo: Path, git: Any) -> None:
    (repo / "train.py").write_text("uncommitted edit\n")
    (repo / "config.toml").write_text("lr = 9\n")
    git(repo, "add", "config.toml")
    (repo / "scratch.py").write_text("untracked\n")
    head_before = git(repo, "rev-parse", "HEAD")
    commit = commit_model_card(repo, _card())
    assert commit == git(repo, "rev-parse", "HEAD")
    assert git(repo, "rev-parse", "HEAD~1") == head_before
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert changed == [card_path("churn model")] == ["models/churn-model/MODEL_CARD.md"]
    status = set(git(repo, "status", "--porcelain=v1").splitlines())
    # The user's own work is exactly as it was: edited, staged and untracked.
    assert status == {" M train.py", "M  config.toml", "?? scratch.py"}
    text = (repo / "models/churn-model/MODEL_CARD.md").read_text()
    assert "version 1" in text and "| f1 | 0.91 |" in text and "f" * 64 in text


def test_history_follows_versions_and_alias_moves(repo: Path) -> None:
    commit_model_card(repo, _card(1))
    commit_model_card(repo, _card(2))
    commit_model_card(repo, _card(2, ["champion"]), message="churn model: champion -> v2")
    assert commit_model_card(repo, _card(2, ["champion"])) is None  # nothing changed
    subjects = [c.subject for c in card_history(repo, "churn model")]
    assert subjects == [
        "churn model: champion -> v2",
        "Model card: churn model v2",
        "Model card: churn model v1",
    ]


def test_refuses_politely_during_a_merge(repo: Path, git: Any) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "train.py").write_text("other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "train.py").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    with pytest.raises(Exception):  # noqa: B017 - the merge conflicts on purpose
        git(repo, "merge", "other")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ConflictError, match="middle of a merge") as refused:
        commit_model_card(repo, _card())
    assert "abort" in refused.value.detail
    assert git(repo, "rev-parse", "HEAD") == head


def test_refuses_on_detached_head(repo: Path, git: Any) -> None:
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(ConflictError, match="detached"):
        commit_model_card(repo, _card())


def test_cards_can_be_switched_off_per_workspace(repo: Path) -> None:
    assert cards_enabled(repo) is True
    set_cards_enabled(repo, False)
    assert cards_enabled(repo) is False
