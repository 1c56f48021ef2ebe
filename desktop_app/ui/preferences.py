"""Edit > Preferences: how training runs (parallel jobs, a warm worker, a Dask cluster)."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui import settings
from desktop_app.ui.workers import Task, start_task


class PreferencesDialog(QDialog):
    """The user's preferences, saved when OK is pressed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(520)
        current = settings.training_preferences()

        self.parallel_jobs = QSpinBox()
        self.parallel_jobs.setRange(0, 256)
        cores = os.cpu_count() or 2
        self.parallel_jobs.setSpecialValueText(f"automatic ({max(1, cores - 1)})")
        self.parallel_jobs.setValue(current.parallel_jobs or 0)
        self.parallel_jobs.setToolTip("How many training jobs run at once on this computer")
        self.warm_worker = QCheckBox("Keep a worker ready (first metric in a blink; ~200 MB)")
        self.warm_worker.setChecked(current.warm_worker)
        self.dask_address = QLineEdit(current.dask_scheduler)
        self.dask_address.setPlaceholderText("empty: sweeps use this computer's cores")
        self.dask_address.setToolTip(
            "A Dask scheduler address such as tcp://10.0.0.5:8786: sweep trials then run on "
            "that cluster. The registry and the data must be reachable there at the same paths."
        )
        self.test_button = QPushButton("Test Connection")
        self.test_button.clicked.connect(self.test_connection)
        self.dask_status = QLabel("")
        self.dask_status.setWordWrap(True)
        address_row = QHBoxLayout()
        address_row.addWidget(self.dask_address, 1)
        address_row.addWidget(self.test_button)

        training = QGroupBox("Training")
        form = QFormLayout(training)
        form.addRow("Parallel jobs", self.parallel_jobs)
        form.addRow("", self.warm_worker)
        form.addRow("Dask scheduler", address_row)
        form.addRow("", self.dask_status)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(training)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self._probe: Task | None = None

    def chosen(self) -> settings.TrainingPreferences:
        """The preferences as the form shows them."""
        jobs = self.parallel_jobs.value()
        return settings.TrainingPreferences(
            parallel_jobs=jobs or None,
            warm_worker=self.warm_worker.isChecked(),
            dask_scheduler=self.dask_address.text().strip(),
        )

    def accept(self) -> None:
        """Save and close."""
        settings.save_training_preferences(self.chosen())
        super().accept()

    def test_connection(self) -> None:
        """Connect to the scheduler in the background and show what it offers."""
        from desktop_app.training.dask_backend import describe_cluster

        address = self.dask_address.text().strip()
        if not address:
            self.dask_status.setText("No address: sweeps run on this computer.")
            return
        self.test_button.setEnabled(False)
        self.dask_status.setText(f"Connecting to {address}…")
        self._probe = start_task(
            describe_cluster,
            address,
            timeout=5.0,
            on_returned=lambda text: self.dask_status.setText(f"Connected: {text}."),
            on_errored=lambda exc: self.dask_status.setText(
                f"<span style='color:#b00020'>{getattr(exc, 'message', str(exc))}</span>"
            ),
            on_finished=lambda: self.test_button.setEnabled(True),
        )
