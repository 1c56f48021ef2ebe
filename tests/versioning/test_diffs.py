"""Parsing real git diffs into files, hunks and side-by-side rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.versioning.diffs import parse_unified_diff, side_by_side
from desktop_app.versioning.snapshots import run_code_diff, take_snapshot


def test_real_diff_of_edits_additions_deletions_renames_and_binaries(repo: Path, git: Any) -> None:
    (repo / "train.py").write_text("print('train')\nprint('more')\n")
    (repo / "config.toml").unlink()
    (repo / "new.py").write_text("x = 1\n")
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02")
    git(repo, "mv", ".gitignore", "ignore-rules")
    take_snapshot(repo, "r")
    _, text = run_code_diff(repo, "r")
    files = {f.path: f for f in parse_unified_diff(text)}
    assert files["train.py"].status == "M" and files["train.py"].counts == (1, 0)
    assert files["config.toml"].status == "D" and files["config.toml"].counts == (0, 1)
    assert files["new.py"].status == "A"
    assert files["blob.bin"].binary
    assert files["ignore-rules"].status == "R" and files["ignore-rules"].old_path == ".gitignore"


def test_side_by_side_pairs_removed_and_added_lines() -> None:
    diff = (
        "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,4 +1,4 @@\n"
        " keep\n-old1\n-old2\n+new1\n same\n+tail\n"
    )
    rows = side_by_side(parse_unified_diff(diff)[0])
    assert [(r.old_text, r.new_text, r.kind) for r in rows[1:]] == [
        ("keep", "keep", "context"),
        ("old1", "new1", "change"),
        ("old2", None, "change"),
        ("same", "same", "context"),
        (None, "tail", "change"),
    ]
    assert [(r.old_number, r.new_number) for r in rows[1:]] == [
        (1, 1),
        (2, 2),
        (3, None),
        (4, 3),
        (None, 4),
    ]
