"""The filter bar: one line of the filter language, with completion, history and inline errors.

A query is checked with the registry's own parser before it is applied, so a syntax error is
shown under the field (``column 17: expected a value after '>'``) and never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import QuerySyntaxError
from desktop_app.registry.entities import METRIC_AGGREGATES, RunStatus
from desktop_app.registry.query import FIELDS, Ref, compile_query, format_ref
from desktop_app.ui import settings

DEBOUNCE_MS = 600
KEYWORDS = ("and", "or", "not", "in", "like", "is null", "is not null", "order by", "asc", "desc")
ERROR_STYLE = (
    "QLabel { color: #d9473f; background-color: rgba(217, 71, 63, 0.12);"
    " border-radius: 3px; padding: 2px 6px; }"
)
_TOKEN_CHARS = frozenset("_-/:.")
PLACEHOLDER = 'Filter runs, e.g.  metrics.accuracy > 0.9 and params.model = "rf"   (Ctrl+F)'


def _is_token_char(ch: str) -> bool:
    return ch.isalnum() or ch in _TOKEN_CHARS


def completion_words(
    metrics: Iterable[str] = (), params: Iterable[str] = (), tags: Iterable[str] = ()
) -> list[str]:
    """Everything worth completing: fields, keywords, statuses and the known keys."""
    words: list[str] = [*FIELDS, *KEYWORDS, *(s.value for s in RunStatus)]
    words += ["metrics.", "params.", "tags."]
    for key in metrics:
        words.append(format_ref(Ref("metric", key)))
        words += [format_ref(Ref("metric", key, agg)) for agg in METRIC_AGGREGATES if agg != "last"]
    words += [format_ref(Ref("param", key)) for key in params]
    words += [format_ref(Ref("tag", key)) for key in tags]
    return sorted(set(words), key=str.lower)


class FilterBar(QWidget):
    """A query field that applies on Enter or after a pause, with completion and history."""

    sig_query_applied = Signal(str)
    """A valid query (possibly empty) was applied: ``(query text)``."""

    def __init__(self, parent: QWidget | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._applied = ""
        self._history = settings.recent_queries()
        self._history_pos = -1
        self._completion_span = (0, 0, "")

        self.line_edit = QLineEdit()
        self.line_edit.setObjectName("filterEdit")
        self.line_edit.setPlaceholderText(PLACEHOLDER)
        self.line_edit.setClearButtonEnabled(True)
        self.line_edit.setAccessibleName("Run filter")
        self.line_edit.installEventFilter(self)
        self.line_edit.returnPressed.connect(self._on_return)
        self.line_edit.textEdited.connect(self._on_text_edited)
        warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self._error_action = QAction(warning_icon, "Query error", self.line_edit)
        self._error_action.setVisible(False)
        self.line_edit.addAction(self._error_action, QLineEdit.ActionPosition.TrailingPosition)

        self._words = QStringListModel(completion_words(), self)
        self.completer = QCompleter(self._words, self)
        self.completer.setWidget(self.line_edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setMaxVisibleItems(12)
        self.completer.activated[str].connect(self._insert_completion)

        self.history_button = QToolButton()
        self.history_button.setText("Recent")
        self.history_button.setToolTip("Recent queries (Up/Down in the field)")
        self.history_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.history_button.setAutoRaise(True)
        self._history_menu = QMenu(self)
        self._history_menu.aboutToShow.connect(self._fill_history_menu)
        self.history_button.setMenu(self._history_menu)

        self.error_label = QLabel()
        self.error_label.setObjectName("filterError")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        self._debounce = QTimer(self)
        self._debounce.setObjectName("filterDebounceTimer")
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(lambda: self.apply(move_cursor=False))

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.line_edit, 1)
        row.addWidget(self.history_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(row)
        layout.addWidget(self.error_label)

    # ---- public ------------------------------------------------------------------------------

    def query(self) -> str:
        """The query last applied."""
        return self._applied

    def set_keys(self, metrics: Iterable[str], params: Iterable[str], tags: Iterable[str]) -> None:
        """Refresh the completion list from the registry's keys."""
        self._words.setStringList(completion_words(metrics, params, tags))

    def set_query(self, text: str, *, apply: bool = True) -> None:
        """Put a query in the field (and apply it)."""
        self.line_edit.setText(text)
        if apply:
            self.apply(move_cursor=False)

    def focus_filter(self) -> None:
        """Put the keyboard in the field with its text selected."""
        self.line_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.line_edit.selectAll()

    def error_text(self) -> str:
        """The error shown under the field, or an empty string."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_error(
        self, message: str, column: int | None = None, *, move_cursor: bool = True
    ) -> None:
        """Show an error under the field and, given a 1-based column, put the cursor there."""
        self.error_label.setText(message)
        self.error_label.show()
        self._error_action.setToolTip(message)
        self._error_action.setVisible(True)
        if column is not None and move_cursor:
            self.line_edit.setCursorPosition(max(0, min(column - 1, len(self.line_edit.text()))))

    def clear_error(self) -> None:
        """Hide the error (done by the next good query)."""
        self.error_label.clear()
        self.error_label.hide()
        self._error_action.setVisible(False)

    def stop(self) -> None:
        """Stop pending timers (the window calls this when it closes)."""
        self._debounce.stop()
        self.completer.popup().hide()

    def apply(self, *, move_cursor: bool = True, remember: bool = False) -> bool:
        """Check the field's query and apply it when valid; False when it has an error."""
        self._debounce.stop()
        text = self.line_edit.text().strip()
        try:
            compile_query(text)
        except QuerySyntaxError as exc:
            self.show_error(str(exc), exc.column, move_cursor=move_cursor)
            return False
        except ValueError as exc:
            self.show_error(str(exc), move_cursor=move_cursor)
            return False
        self.clear_error()
        if remember and text:
            self._history = settings.add_recent_query(text)
        self._history_pos = -1
        if text != self._applied:
            self._applied = text
            self.sig_query_applied.emit(text)
        return True

    # ---- typing ------------------------------------------------------------------------------

    @Slot()
    def _on_return(self) -> None:
        self.completer.popup().hide()
        self.apply(move_cursor=True, remember=True)

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        self._history_pos = -1
        if not text.strip():
            self.completer.popup().hide()
            self.apply(move_cursor=False)
            return
        self._debounce.start()
        self._update_completion()

    def _token_bounds(self) -> tuple[int, int]:
        """Start and end (the cursor) of the word being typed."""
        text = self.line_edit.text()
        end = self.line_edit.cursorPosition()
        start = end
        while start > 0 and _is_token_char(text[start - 1]):
            start -= 1
        return start, end

    def _inside_string(self, position: int) -> bool:
        text = self.line_edit.text()[:position]
        quote = ""
        escaped = False
        for ch in text:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif quote and ch == quote:
                quote = ""
            elif not quote and ch in "\"'":
                quote = ch
        return bool(quote)

    def _update_completion(self) -> None:
        start, end = self._token_bounds()
        token = self.line_edit.text()[start:end]
        popup = self.completer.popup()
        if not token or self._inside_string(start) or token[0].isdigit() or token[0] in "-.":
            popup.hide()
            return
        self._completion_span = (start, end, self.line_edit.text())
        self.completer.setCompletionPrefix(token)
        count = self.completer.completionCount()
        if count == 0 or (count == 1 and self.completer.currentCompletion() == token):
            popup.hide()
            return
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.line_edit.cursorRect()
        rect.setWidth(
            popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 16
        )
        self.completer.complete(rect)

    @Slot(str)
    def _insert_completion(self, word: str) -> None:
        # The span noted when the popup opened: the cursor may have moved since.
        start, end, noted = self._completion_span
        text = self.line_edit.text()
        if text != noted:
            start, end = self._token_bounds()
        self.line_edit.setText(text[:start] + word + text[end:])
        self.line_edit.setCursorPosition(start + len(word))
        self._debounce.start()

    # ---- history -----------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.line_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and not self.completer.popup().isVisible()
            and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down)
        ):
            self._step_history(1 if event.key() == Qt.Key.Key_Up else -1)
            return True
        return super().eventFilter(watched, event)

    def _step_history(self, step: int) -> None:
        if not self._history:
            return
        position = max(-1, min(self._history_pos + step, len(self._history) - 1))
        if position == self._history_pos:
            return
        self._history_pos = position
        self.line_edit.setText("" if position < 0 else self._history[position])
        self.line_edit.end(False)

    @Slot()
    def _fill_history_menu(self) -> None:
        self._history_menu.clear()
        if not self._history:
            empty = self._history_menu.addAction("No recent queries")
            empty.setEnabled(False)
            return
        for query in self._history:
            shown = query if len(query) <= 80 else query[:77] + "…"
            action = self._history_menu.addAction(shown)
            action.setToolTip(query)
            action.triggered.connect(lambda _=False, q=query: self._use_history(q))

    def _use_history(self, query: str) -> None:
        self.line_edit.setText(query)
        self.apply(move_cursor=True, remember=True)
        self.line_edit.setFocus()
