"""Unified diffs as data: files, hunks and lines, and the rows of a side-by-side view."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``kind`` is ' ' (context), '-' (removed) or '+' (added)."""

    kind: str
    old_number: int | None
    new_number: int | None
    text: str


@dataclass
class Hunk:
    """A block of changes with its ``@@`` header."""

    header: str
    lines: list[DiffLine] = field(default_factory=list)


@dataclass
class FileDiff:
    """The changes to one file."""

    old_path: str | None
    new_path: str | None
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The path to show: the new one, or the old one for a deletion."""
        return self.new_path or self.old_path or "?"

    @property
    def status(self) -> str:
        """A added, D deleted, R renamed, M modified."""
        if self.old_path is None:
            return "A"
        if self.new_path is None:
            return "D"
        return "R" if self.old_path != self.new_path else "M"

    @property
    def counts(self) -> tuple[int, int]:
        """Lines added and removed."""
        added = sum(1 for h in self.hunks for line in h.lines if line.kind == "+")
        removed = sum(1 for h in self.hunks for line in h.lines if line.kind == "-")
        return added, removed


@dataclass(frozen=True)
class SideBySideRow:
    """One row of a side-by-side view; a missing side is None."""

    old_number: int | None
    old_text: str | None
    new_number: int | None
    new_text: str | None
    kind: str  # "context", "change", "header"


def _strip_prefix(path: str) -> str | None:
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def parse_unified_diff(text: str) -> list[FileDiff]:
    """Parse ``git diff`` output into files and hunks."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    old_no = new_no = 0
    for raw in text.splitlines():
        if raw.startswith("diff --git "):
            parts = raw[len("diff --git ") :].split(" b/", 1)
            old = _strip_prefix(parts[0])
            new = parts[1] if len(parts) > 1 else old
            current = FileDiff(old, new)
            files.append(current)
            hunk = None
            continue
        if current is None:
            continue
        if hunk is None:
            if raw.startswith("new file mode"):
                current.old_path = None
            elif raw.startswith("deleted file mode"):
                current.new_path = None
            elif raw.startswith("rename from "):
                current.old_path = raw[len("rename from ") :]
            elif raw.startswith("rename to "):
                current.new_path = raw[len("rename to ") :]
            elif raw.startswith("Binary files ") or raw.startswith("GIT binary patch"):
                current.binary = True
            elif raw.startswith("--- "):
                current.old_path = _strip_prefix(raw[4:])
            elif raw.startswith("+++ "):
                current.new_path = _strip_prefix(raw[4:])
        match = _HUNK.match(raw)
        if match:
            old_no, new_no = int(match.group(1)), int(match.group(3))
            hunk = Hunk(raw)
            current.hunks.append(hunk)
            continue
        if hunk is None or not raw or raw.startswith("\\"):
            continue
        kind, body = raw[0], raw[1:]
        if kind == " ":
            hunk.lines.append(DiffLine(" ", old_no, new_no, body))
            old_no += 1
            new_no += 1
        elif kind == "-":
            hunk.lines.append(DiffLine("-", old_no, None, body))
            old_no += 1
        elif kind == "+":
            hunk.lines.append(DiffLine("+", None, new_no, body))
            new_no += 1
    return files


def _paired(removed: list[DiffLine], added: list[DiffLine]) -> list[SideBySideRow]:
    rows = []
    for index in range(max(len(removed), len(added))):
        old = removed[index] if index < len(removed) else None
        new = added[index] if index < len(added) else None
        rows.append(
            SideBySideRow(
                old.old_number if old else None,
                old.text if old else None,
                new.new_number if new else None,
                new.text if new else None,
                "change",
            )
        )
    return rows


def side_by_side(file_diff: FileDiff) -> list[SideBySideRow]:
    """Rows pairing each removed block with the added block that follows it."""
    rows: list[SideBySideRow] = []
    for hunk in file_diff.hunks:
        rows.append(SideBySideRow(None, hunk.header, None, hunk.header, "header"))
        removed: list[DiffLine] = []
        added: list[DiffLine] = []
        for line in hunk.lines:
            if line.kind == "-":
                if added:
                    rows += _paired(removed, added)
                    removed, added = [], []
                removed.append(line)
            elif line.kind == "+":
                added.append(line)
            else:
                rows += _paired(removed, added)
                removed, added = [], []
                rows.append(
                    SideBySideRow(line.old_number, line.text, line.new_number, line.text, "context")
                )
        rows += _paired(removed, added)
    return rows
