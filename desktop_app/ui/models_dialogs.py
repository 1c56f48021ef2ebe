"""Dialogs of the Models page: choosing the alias to set on a version."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from desktop_app.reports.model_versions import SUGGESTED_ALIASES, VersionsTable


class SetAliasDialog(QDialog):
    """Type or pick an alias for a version; says which version holds it now."""

    def __init__(self, table: VersionsTable, version: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Set alias on v{version}")
        self.setMinimumWidth(380)
        self._table = table
        self._version = version
        self.alias = QComboBox()
        self.alias.setEditable(True)
        self.alias.setMinimumWidth(220)
        names = list(SUGGESTED_ALIASES) + [a for a in table.aliases() if a not in SUGGESTED_ALIASES]
        self.alias.addItems(names)
        self.alias.setCurrentIndex(0)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setMinimumHeight(self.hint.fontMetrics().height() * 2)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QFormLayout(self)
        layout.addRow("Alias:", self.alias)
        layout.addRow("", self.hint)
        layout.addRow(buttons)
        self.alias.currentTextChanged.connect(self._update_hint)
        self._update_hint(self.alias.currentText())

    def chosen(self) -> str:
        """The alias typed or picked, stripped."""
        return self.alias.currentText().strip()

    def _update_hint(self, text: str) -> None:
        alias = text.strip()
        owner = self._table.alias_owner(alias) if alias else None
        self.ok_button.setEnabled(bool(alias) and owner != self._version)
        if not alias:
            self.hint.setText("Letters, digits, '_' or '-', starting with a letter.")
        elif owner == self._version:
            self.hint.setText(f"v{self._version} already holds “{alias}”.")
        elif owner is not None:
            self.hint.setText(f"“{alias}” is on v{owner} now; it will move to v{self._version}.")
        else:
            self.hint.setText(f"A new alias for v{self._version}.")


def ask_alias(table: VersionsTable, version: int, parent: QWidget | None) -> str | None:
    """Show the Set Alias dialog; the alias chosen, or None when cancelled."""
    dialog = SetAliasDialog(table, version, parent)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    return dialog.chosen() if accepted and dialog.chosen() else None
