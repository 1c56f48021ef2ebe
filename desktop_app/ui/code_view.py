"""The Code tab and the code comparison: what code a run ran, as a highlighted diff.

Git work runs in background tasks; this module only lays out what the versioning engine says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QSyntaxHighlighter,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Run
from desktop_app.ui.workers import start_task
from desktop_app.versioning.diffs import FileDiff, parse_unified_diff, side_by_side

_ADDED = QColor(46, 160, 67, 60)
_REMOVED = QColor(248, 81, 73, 60)
_HEADER = QColor(56, 139, 253, 45)
_STATUS_NAMES = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed"}


def _monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class _TokenColours:
    """Pygments token styles as Qt formats, for code inside diffs."""

    def __init__(self) -> None:
        from pygments.token import Comment, Keyword, Name, Number, String

        def fmt(colour: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            result = QTextCharFormat()
            result.setForeground(QColor(colour))
            if bold:
                result.setFontWeight(QFont.Weight.Bold)
            result.setFontItalic(italic)
            return result

        # Mid-tone colours that stay readable on light and dark palettes.
        self.styles = [
            (Comment, fmt("#8b949e", italic=True)),
            (Keyword, fmt("#d2691e", bold=True)),
            (String, fmt("#3fa34d")),
            (Number, fmt("#3b8eea")),
            (Name.Builtin, fmt("#b36bd9")),
            (Name.Function, fmt("#3b8eea")),
            (Name.Class, fmt("#3b8eea", bold=True)),
        ]

    def format_for(self, token: Any) -> QTextCharFormat | None:
        """The format of a token type, or None for plain text."""
        for kind, style in self.styles:
            if token in kind:
                return style
        return None


class DiffHighlighter(QSyntaxHighlighter):
    """Colours the code inside diff lines; line backgrounds are painted by :func:`paint_lines`."""

    def __init__(self, document: Any, *, prefix_width: int) -> None:
        super().__init__(document)
        self._prefix_width = prefix_width
        self._lexer: Any = None
        self._colours = _TokenColours()

    def set_path(self, path: str) -> None:
        """Pick the code lexer from the file name (no colouring when unknown)."""
        from pygments.lexers import get_lexer_for_filename
        from pygments.util import ClassNotFound

        try:
            self._lexer = get_lexer_for_filename(path, stripnl=False)
        except ClassNotFound:
            self._lexer = None

    def highlightBlock(self, text: str) -> None:
        """Colour the code of one line (not its diff marker or line number)."""
        if self._lexer is None or text.startswith("@@"):
            return
        position = self._prefix_width
        for token, value in self._lexer.get_tokens(text[self._prefix_width :]):
            style = self._colours.format_for(token)
            if style is not None:
                self.setFormat(position, len(value), style)
            position += len(value)


def paint_lines(editor: QPlainTextEdit, kinds: dict[int, str]) -> None:
    """Give whole lines a background: '+' added, '-' removed, '@' hunk header."""
    document = editor.document()
    cursor = QTextCursor(document)
    for number, kind in kinds.items():
        colour = {"+": _ADDED, "-": _REMOVED, "@": _HEADER}.get(kind)
        block = document.findBlockByNumber(number)
        if colour is None or not block.isValid():
            continue
        cursor.setPosition(block.position())
        block_format = QTextBlockFormat()
        block_format.setBackground(colour)
        cursor.setBlockFormat(block_format)


class DiffView(QWidget):
    """Changed files on the left, their diff on the right, unified or side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._files: list[FileDiff] = []
        self.file_list = QListWidget()
        self.file_list.setMinimumWidth(160)
        self.unified_button = QToolButton(text="Unified", checkable=True, checked=True)
        self.split_button = QToolButton(text="Side by side", checkable=True)
        modes = QButtonGroup(self)
        modes.addButton(self.unified_button)
        modes.addButton(self.split_button)
        self.unified = self._editor()
        self.old_side = self._editor()
        self.new_side = self._editor()
        self.unified_highlighter = DiffHighlighter(self.unified.document(), prefix_width=1)
        self.old_highlighter = DiffHighlighter(self.old_side.document(), prefix_width=7)
        self.new_highlighter = DiffHighlighter(self.new_side.document(), prefix_width=7)
        # Scroll both sides together.
        self.old_side.verticalScrollBar().valueChanged.connect(
            self.new_side.verticalScrollBar().setValue
        )
        self.new_side.verticalScrollBar().valueChanged.connect(
            self.old_side.verticalScrollBar().setValue
        )
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.old_side)
        split.addWidget(self.new_side)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.unified)
        self.pages.addWidget(split)
        self.empty_label = QLabel("No differences.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages.addWidget(self.empty_label)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Changed files"))
        bar.addStretch(1)
        bar.addWidget(self.unified_button)
        bar.addWidget(self.split_button)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.file_list)
        body.addWidget(self.pages)
        body.setStretchFactor(1, 3)
        body.setSizes([200, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(body, 1)
        self.file_list.currentRowChanged.connect(self._show_file)
        self.unified_button.toggled.connect(lambda _checked: self._show_file())
        self.split_button.toggled.connect(lambda _checked: self._show_file())

    @staticmethod
    def _editor() -> QPlainTextEdit:
        editor = QPlainTextEdit(readOnly=True)
        editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        editor.setFont(_monospace())
        return editor

    def set_diff(self, text: str) -> None:
        """Show a unified diff (the text of ``git diff``)."""
        self._files = parse_unified_diff(text)
        self.file_list.clear()
        for file_diff in self._files:
            added, removed = file_diff.counts
            moved = f" ← {file_diff.old_path}" if file_diff.status == "R" else ""
            label = f"{file_diff.status}  {file_diff.path}{moved}"
            label += "  (binary)" if file_diff.binary else f"  +{added} −{removed}"
            item = QListWidgetItem(label)
            item.setToolTip(f"{_STATUS_NAMES.get(file_diff.status, '')}: {file_diff.path}")
            self.file_list.addItem(item)
        if self._files:
            self.file_list.setCurrentRow(0)
        self._show_file()

    def file_paths(self) -> list[str]:
        """The files listed, in order."""
        return [f.path for f in self._files]

    def _show_file(self, _row: int | None = None) -> None:
        row = self.file_list.currentRow()
        if not self._files or row < 0:
            self.pages.setCurrentWidget(self.empty_label)
            return
        file_diff = self._files[row]
        if file_diff.binary:
            self.empty_label.setText(f"{file_diff.path} is a binary file; no text to compare.")
            self.pages.setCurrentWidget(self.empty_label)
            return
        if self.split_button.isChecked():
            self._show_side_by_side(file_diff)
        else:
            self._show_unified(file_diff)

    def _show_unified(self, file_diff: FileDiff) -> None:
        lines = []
        kinds: dict[int, str] = {}
        for hunk in file_diff.hunks:
            kinds[len(lines)] = "@"
            lines.append(hunk.header)
            for line in hunk.lines:
                if line.kind != " ":
                    kinds[len(lines)] = line.kind
                lines.append(line.kind + line.text)
        self.unified_highlighter.set_path(file_diff.path)
        self.unified.setPlainText("\n".join(lines))
        paint_lines(self.unified, kinds)
        self.pages.setCurrentWidget(self.unified)

    def _show_side_by_side(self, file_diff: FileDiff) -> None:
        rows = side_by_side(file_diff)
        old_kinds: dict[int, str] = {}
        new_kinds: dict[int, str] = {}
        old_lines, new_lines = [], []
        for index, row in enumerate(rows):
            if row.kind == "header":
                old_kinds[index] = new_kinds[index] = "@"
            elif row.kind == "change":
                if row.old_text is not None:
                    old_kinds[index] = "-"
                if row.new_text is not None:
                    new_kinds[index] = "+"
            old_lines.append(_numbered(row.old_number, row.old_text, row.kind))
            new_lines.append(_numbered(row.new_number, row.new_text, row.kind))
        self.old_highlighter.set_path(file_diff.path)
        self.new_highlighter.set_path(file_diff.path)
        self.old_side.setPlainText("\n".join(old_lines))
        self.new_side.setPlainText("\n".join(new_lines))
        paint_lines(self.old_side, old_kinds)
        paint_lines(self.new_side, new_kinds)
        self.pages.setCurrentIndex(1)


def _numbered(number: int | None, text: str | None, kind: str) -> str:
    if kind == "header":
        return text or ""
    if text is None:
        return ""
    return f"{number:>5}  {text}"  # 7 characters before the code: DiffHighlighter skips them


class CodePanel(QWidget):
    """A run's code: commit, branch, dirty flag, changed files and the diff; restore button."""

    sig_loaded = Signal()
    """The diff of the shown run arrived (or the reason there is none was shown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run: Run | None = None
        self._generation = 0
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.restore_button = QPushButton("Restore this run's code…")
        self.restore_button.clicked.connect(self._restore)
        self.diff_view = DiffView()
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.restore_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.diff_view, 1)

    def show_run(self, run: Run | None) -> None:
        """Show the code of ``run`` (loaded in the background)."""
        self._run = run
        self._generation += 1
        generation = self._generation
        self.diff_view.set_diff("")
        self.notice.hide()
        if run is None:
            self.summary.setText("")
            self.restore_button.setEnabled(False)
            return
        git = run.git
        info = git.get("info") if isinstance(git.get("info"), dict) else {}
        if not git.get("snapshot"):
            reason = (info or {}).get("reason") or "the run was not logged from a Git workspace"
            self.summary.setText(f"<b>No code snapshot</b> for this run: {reason}.")
            self.restore_button.setEnabled(False)
            self.sig_loaded.emit()
            return
        commit = str(git.get("commit") or "")
        rows = [
            ("Workspace", str(git.get("workspace", ""))),
            ("Commit", commit[:12] if commit else "(no commit yet)"),
            ("Branch", str(git.get("branch") or "(detached HEAD)")),
            ("Uncommitted changes", "yes" if git.get("dirty") else "no"),
            ("Snapshot", str(git.get("snapshot", ""))[:12]),
        ]
        if git.get("remote"):
            rows.append(("Remote", str(git["remote"])))
        self.summary.setText(
            "<table>"
            + "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
        large = (info or {}).get("large_files") or []
        if large:
            names = ", ".join(f"{f['path']} ({f['size']:,} bytes)" for f in large)
            self.notice.setText(f"Large files recorded by hash and size, not copied: {names}")
            self.notice.show()
        self.restore_button.setEnabled(True)
        from desktop_app.versioning.snapshots import run_code_diff

        start_task(
            run_code_diff,
            str(git["workspace"]),
            run.id,
            on_returned=lambda result: self._loaded(generation, result),
            on_errored=lambda exc: self._failed(generation, exc),
        )

    def _loaded(self, generation: int, result: tuple[Any, str]) -> None:
        if generation != self._generation:
            return
        _changed, diff = result
        self.diff_view.set_diff(diff)
        self.sig_loaded.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.notice.setText(f"The code could not be read: {exc}")
        self.notice.show()
        self.sig_loaded.emit()

    def _restore(self) -> None:
        if self._run is None:
            return
        RestoreCodeDialog(self._run, self).open()


class RestoreCodeDialog(QDialog):
    """Ask where to restore a run's code: a new branch, or a new worktree folder."""

    sig_restored = Signal(str)
    """Restored: a message saying where the code now is."""

    def __init__(self, run: Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore the code of a run")
        self.setMinimumWidth(560)
        self._run = run
        self.branch_choice = QRadioButton("Into a new branch, checked out in the workspace")
        self.worktree_choice = QRadioButton(
            "Into a new folder (a Git worktree); nothing else changes"
        )
        self.branch_choice.setChecked(True)
        self.branch_name = QLineEdit(f"run-{run.id[:8]}")
        self.folder = QLineEdit(
            str(Path(str(run.git.get("workspace", ""))).parent / f"run-{run.id[:8]}")
        )
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d1242f")
        self.message.hide()
        form = QFormLayout()
        form.addRow(self.branch_choice)
        form.addRow("Branch name", self.branch_name)
        form.addRow(self.worktree_choice)
        form.addRow("Folder", folder_row)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Restore")
        self.buttons.accepted.connect(self._start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Run <b>{run.name}</b> ({run.id})"))
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the run's code")
        if folder:
            self.folder.setText(folder)

    def _start(self) -> None:
        from desktop_app.versioning.snapshots import restore_to_branch, restore_to_worktree

        workspace = str(self._run.git["workspace"])
        self.buttons.setEnabled(False)
        self.message.hide()
        if self.branch_choice.isChecked():
            branch = self.branch_name.text().strip()
            done = f"The workspace is now on branch {branch!r} with this run's code."
            start_task(
                restore_to_branch,
                workspace,
                self._run.id,
                branch,
                on_returned=lambda _r: self._done(done),
                on_errored=self._refused,
            )
        else:
            start_task(
                restore_to_worktree,
                workspace,
                self._run.id,
                self.folder.text().strip(),
                on_returned=lambda path: self._done(f"The run's code is in {path}."),
                on_errored=self._refused,
            )

    def _done(self, message: str) -> None:
        self.sig_restored.emit(message)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        detail = getattr(exc, "detail", "")
        self.message.setText(f"{exc} {detail}".strip())
        self.message.show()
        self.buttons.setEnabled(True)


class CompareCodeDialog(QDialog):
    """The code difference between two runs."""

    sig_loaded = Signal()
    """The comparison arrived (or its error was shown)."""

    def __init__(self, run_a: Run, run_b: Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Code: {run_a.name} → {run_b.name}")
        self.resize(1000, 650)
        self.status = QLabel("Comparing…")
        self.status.setWordWrap(True)
        self.diff_view = DiffView()
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.diff_view, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        workspace_a, workspace_b = run_a.git.get("workspace"), run_b.git.get("workspace")
        if not run_a.git.get("snapshot") or not run_b.git.get("snapshot"):
            missing = run_a if not run_a.git.get("snapshot") else run_b
            self.status.setText(f"Run {missing.name} has no code snapshot to compare.")
            return
        if workspace_a != workspace_b:
            self.status.setText(
                f"The runs come from different workspaces ({workspace_a} and {workspace_b})."
            )
            return
        from desktop_app.versioning.snapshots import compare_runs

        start_task(
            compare_runs,
            str(workspace_a),
            run_a.id,
            run_b.id,
            on_returned=self._loaded,
            on_errored=self._failed,
        )

    def _loaded(self, result: tuple[list[Any], str]) -> None:
        changed, diff = result
        self.status.setText(
            f"{len(changed)} file(s) differ." if changed else "The two runs ran the same code."
        )
        self.diff_view.set_diff(diff)
        self.sig_loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"The code could not be compared: {exc}")
        self.sig_loaded.emit()
