"""The job form: a training job as a form that reads and writes the same TOML file.

Choices come from the training engine (estimators from scikit-learn itself, their typed
hyperparameters, the data file's columns); checks run in background tasks and their problems
show inline before anything is launched.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.workers import start_task

BUNDLED_DATASETS = ("", "iris", "wine", "breast_cancer", "diabetes", "digits")
_AUTO = "auto-detect"
_CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss")
_REGRESSION_METRICS = ("r2", "rmse", "mae")


def read_columns(path: str, sheet: str | None = None) -> list[str]:
    """The column names of a data file (header only; plain function for a worker)."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(path).names]
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return [str(c) for c in pd.read_excel(path, sheet_name=sheet or 0, nrows=0).columns]
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


class HyperParamEditor(QWidget):
    """One typed input per hyperparameter of the chosen estimator; unchanged ones are left out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._editors: dict[str, tuple[Any, Any, QCheckBox | None]] = {}

    def set_params(self, hyperparams: list[Any], values: dict[str, Any]) -> None:
        """Build the inputs for these hyperparameters, filled with ``values`` or defaults."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self._editors.clear()
        for hp in hyperparams:
            value = values.get(hp.name, hp.default)
            editor = self._editor_for(hp, value)
            none_box = None
            if hp.nullable and hp.kind in ("int", "float", "choice", "str"):
                none_box = QCheckBox("None")
                none_box.setChecked(value is None)
                none_box.toggled.connect(editor.setDisabled)
                editor.setDisabled(value is None)
                row = QWidget()
                row_layout = QHBoxLayout(row)
                row_layout.setContentsMargins(0, 0, 0, 0)
                row_layout.addWidget(editor, 1)
                row_layout.addWidget(none_box)
                self.layout_.addRow(hp.name, row)
            else:
                self.layout_.addRow(hp.name, editor)
            self._editors[hp.name] = (hp, editor, none_box)

    @staticmethod
    def _editor_for(hp: Any, value: Any) -> QWidget:
        if hp.kind == "bool":
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if hp.kind == "int":
            spin = QSpinBox()
            spin.setRange(-(2**31) + 1, 2**31 - 1)
            spin.setValue(int(value) if isinstance(value, int | float) else 0)
            return spin
        if hp.kind == "float":
            line = QLineEdit("" if value is None else repr(float(value)))
            line.setValidator(QDoubleValidator())
            return line
        if hp.kind == "choice" and hp.choices:
            combo = QComboBox()
            choices = list(hp.choices)
            # The default (or the job's value) may lie outside the documented choices, e.g. a
            # "deprecated" sentinel: offer it too, or the form would silently change it.
            if value not in choices:
                choices.insert(0, value)
            for choice in choices:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(choices.index(value))
            return combo
        line = QLineEdit("" if value is None or hp.kind == "other" else str(value))
        line.setPlaceholderText(f"default: {hp.default!r}")
        return line

    def values(self) -> dict[str, Any]:
        """Every hyperparameter whose value differs from scikit-learn's default."""
        result: dict[str, Any] = {}
        for name, (hp, editor, none_box) in self._editors.items():
            if none_box is not None and none_box.isChecked():
                value: Any = None
            elif isinstance(editor, QCheckBox):
                value = editor.isChecked()
            elif isinstance(editor, QSpinBox):
                value = editor.value()
            elif isinstance(editor, QComboBox):
                value = editor.currentData()
            elif hp.kind == "float":
                text = editor.text().strip()
                value = float(text) if text else hp.default
            else:
                # Free text: left empty, the parameter keeps scikit-learn's default.
                value = editor.text() if editor.text().strip() else hp.default
            if value != hp.default:
                result[name] = value
        return result

    def editor(self, name: str) -> QWidget:
        """The input of one hyperparameter (for tests and focus)."""
        return self._editors[name][1]


class JobForm(QDialog):
    """Build, validate, save and launch a training job."""

    sig_launch_requested = Signal(object)
    """The user asked to run this job: (JobSpec)."""
    sig_checked = Signal(list)
    """Validation finished: (list of problems, empty when the job is fine)."""
    sig_sweep_requested = Signal(object, list)
    """The user asked to sweep this job's hyperparameters: (JobSpec, hyperparameters)."""

    def __init__(self, parent: QWidget | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New training job")
        self.resize(720, 760)
        self._base_dir = base_dir or Path.cwd()
        self._job_path: Path | None = None
        self._extra_model_params: dict[str, Any] = {}

        self.experiment = QLineEdit("Default")
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("(numbered automatically)")
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("CSV, Parquet or Excel file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_data)
        self.dataset = QComboBox()
        self.dataset.addItems([d or "(a file)" for d in BUNDLED_DATASETS])
        self.target = QComboBox()
        self.target.setEditable(True)
        self.features = QListWidget()
        self.features.setMaximumHeight(110)
        self.task = QComboBox()
        self.task.addItems([_AUTO, "classification", "regression"])
        self.estimator = QComboBox()
        self.estimator.setEditable(True)
        self.estimator.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.hyperparams = HyperParamEditor()
        params_scroll = QScrollArea()
        params_scroll.setWidgetResizable(True)
        params_scroll.setWidget(self.hyperparams)
        params_scroll.setMinimumHeight(180)
        self.split_kind = QComboBox()
        self.split_kind.addItems(["kfold", "holdout"])
        self.folds = QSpinBox()
        self.folds.setRange(2, 50)
        self.folds.setValue(5)
        self.test_size = QDoubleSpinBox()
        self.test_size.setRange(0.05, 0.9)
        self.test_size.setSingleStep(0.05)
        self.test_size.setValue(0.2)
        self.seed = QSpinBox()
        self.seed.setRange(0, 999_999)
        self.seed.setValue(0)  # a new spin box shows no text until a value is set
        self.metrics = QListWidget()
        self.metrics.setMaximumHeight(110)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.hide()

        data_row = QHBoxLayout()
        data_row.addWidget(self.data_path, 1)
        data_row.addWidget(browse)
        data_box = QGroupBox("Data")
        data_form = QFormLayout(data_box)
        data_form.addRow("File", data_row)
        data_form.addRow("or bundled dataset", self.dataset)
        data_form.addRow("Target column", self.target)
        data_form.addRow("Features", self.features)
        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        model_form.addRow("Task", self.task)
        model_form.addRow("Estimator", self.estimator)
        model_form.addRow("Hyperparameters", params_scroll)
        split_box = QGroupBox("Evaluation")
        split_form = QFormLayout(split_box)
        split_form.addRow("Split", self.split_kind)
        split_form.addRow("Folds", self.folds)
        split_form.addRow("Test size", self.test_size)
        split_form.addRow("Seed", self.seed)
        split_form.addRow("Metrics", self.metrics)
        hint = QLabel("None ticked: the task's usual metrics.")
        hint.setEnabled(False)
        split_form.addRow("", hint)
        top = QFormLayout()
        top.addRow("Experiment", self.experiment)
        top.addRow("Run name", self.run_name)

        self.open_button = QPushButton("Open TOML…")
        self.save_button = QPushButton("Save TOML…")
        self.check_button = QPushButton("Check")
        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip("Search hyperparameters: grid, random or Optuna")
        self.sweep_button.clicked.connect(self._request_sweep)
        self._hyperparam_list: list[Any] = []
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        self.run_button.clicked.connect(self.launch)
        self.open_button.clicked.connect(self._open_toml)
        self.save_button.clicked.connect(self._save_toml)
        self.check_button.clicked.connect(self.check)
        bottom = QHBoxLayout()
        bottom.addWidget(self.open_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.check_button)
        bottom.addWidget(self.sweep_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(top)
        layout.addWidget(data_box)
        layout.addWidget(model_box, 1)
        layout.addWidget(split_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll, 1)
        outer.addWidget(self.problems)
        outer.addLayout(bottom)

        self.data_path.editingFinished.connect(self._load_columns)
        self.target.currentTextChanged.connect(self._exclude_target)
        self.dataset.currentIndexChanged.connect(lambda _i: self._load_columns())
        self.task.currentIndexChanged.connect(lambda _i: self._load_estimators())
        self.estimator.currentTextChanged.connect(self._load_hyperparams)
        self.split_kind.currentTextChanged.connect(self._split_changed)
        self._split_changed(self.split_kind.currentText())
        self._fill_metrics()
        self._load_estimators()

    # ---- reading and writing the spec ----------------------------------------------------------

    def spec(self) -> Any:
        """The job as the form shows it."""
        from desktop_app.training.spec import DataSpec, JobSpec, ModelSpec, SplitSpec

        dataset = self.dataset.currentText() if self.dataset.currentIndex() > 0 else None
        path = self.data_path.text().strip() or None
        candidates = [
            self.features.item(i)
            for i in range(self.features.count())
            if self.features.item(i).flags() & Qt.ItemFlag.ItemIsEnabled
        ]
        features = tuple(
            item.text() for item in candidates if item.checkState() == Qt.CheckState.Checked
        )
        all_features = len(candidates) == len(features)
        task = None if self.task.currentText() == _AUTO else self.task.currentText()
        metrics = tuple(
            self.metrics.item(i).text()
            for i in range(self.metrics.count())
            if self.metrics.item(i).checkState() == Qt.CheckState.Checked
        )
        return JobSpec(
            experiment=self.experiment.text().strip() or "Default",
            name=self.run_name.text().strip() or None,
            task=task,
            data=DataSpec(
                path=None if dataset else path,
                dataset=dataset,
                target=self.target.currentText().strip() or None,
                features=None if all_features or not features else features,
            ),
            model=ModelSpec(
                estimator=self.estimator.currentText().strip(),
                params={**self._extra_model_params, **self.hyperparams.values()},
            ),
            split=SplitSpec(
                kind=self.split_kind.currentText(),
                folds=self.folds.value(),
                test_size=round(self.test_size.value(), 4),
                seed=self.seed.value(),
            ),
            metrics=metrics or None,
            base_dir=self._base_dir,
        )

    def set_spec(self, spec: Any) -> None:
        """Fill the form from a job (as read from a TOML file)."""
        self._base_dir = spec.base_dir
        self.experiment.setText(spec.experiment)
        self.run_name.setText(spec.name or "")
        data = spec.data
        if data is not None:
            self.dataset.setCurrentIndex(
                BUNDLED_DATASETS.index(data.dataset) if data.dataset in BUNDLED_DATASETS else 0
            )
            self.data_path.setText(data.path or "")
            self.target.setCurrentText(data.target or "")
        self.task.setCurrentText(spec.task or _AUTO)
        if spec.model is not None:
            self._extra_model_params = dict(spec.model.params)
            self.estimator.setCurrentText(spec.model.estimator)
        self.split_kind.setCurrentText(spec.split.kind)
        self.folds.setValue(spec.split.folds)
        self.test_size.setValue(spec.split.test_size)
        self.seed.setValue(spec.split.seed)
        if spec.metrics:
            for i in range(self.metrics.count()):
                item = self.metrics.item(i)
                checked = item.text() in spec.metrics
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self._load_columns(selected=data.features if data is not None else None)

    def load_file(self, path: Path) -> None:
        """Read a job TOML into the form (problems show inline)."""
        from desktop_app.training.spec import load_job

        try:
            spec = load_job(path)
        except Exception as exc:  # the message names the field; show it, keep the form
            self._show_problems([str(exc)])
            return
        self._job_path = path
        self.set_spec(spec)
        self._show_problems([])

    def save_file(self, path: Path) -> None:
        """Write the form as a job TOML (paths relative to the file's folder)."""
        from desktop_app.training.spec import dump_job

        spec = dataclasses.replace(self.spec(), base_dir=path.parent)
        data = spec.data
        if data is not None and data.path:
            absolute = (self._base_dir / data.path).resolve()
            try:
                relative = absolute.relative_to(path.parent.resolve())
                spec = dataclasses.replace(spec, data=dataclasses.replace(data, path=str(relative)))
            except ValueError:
                spec = dataclasses.replace(spec, data=dataclasses.replace(data, path=str(absolute)))
        path.write_text(dump_job(spec), encoding="utf-8")
        self._job_path = path
        self._base_dir = path.parent

    # ---- checks and launch --------------------------------------------------------------------

    def check(self) -> None:
        """Validate the job in the background; problems show under the form."""
        from desktop_app.training.spec import validate_job

        try:
            spec = self.spec()
        except Exception as exc:
            self._show_problems([str(exc)])
            return
        self.check_button.setEnabled(False)
        start_task(
            validate_job,
            spec,
            on_returned=self._checked,
            on_errored=lambda exc: self._checked([str(exc)]),
        )

    def _checked(self, problems: list[str]) -> None:
        self.check_button.setEnabled(True)
        self._show_problems(problems)
        self.sig_checked.emit(problems)

    def launch(self) -> None:
        """Check the job, then hand it over to be queued if it has no problems."""

        def go(problems: list[str]) -> None:
            self.sig_checked.disconnect(go)
            if not problems:
                self.sig_launch_requested.emit(self.spec())
                self.accept()

        self.sig_checked.connect(go)
        self.check()

    def _request_sweep(self) -> None:
        """Check the job, then hand it to the sweep dialog with its hyperparameters."""

        def go(problems: list[str]) -> None:
            self.sig_checked.disconnect(go)
            if not problems:
                self.sig_sweep_requested.emit(self.spec(), self._hyperparam_list)

        self.sig_checked.connect(go)
        self.check()

    def _show_problems(self, problems: list[str]) -> None:
        if problems:
            self.problems.setText("\n".join(f"• {p}" for p in problems))
            self.problems.setStyleSheet("color: #d1242f")
            self.problems.show()
        else:
            self.problems.hide()

    # ---- choices from the engine --------------------------------------------------------------

    def _browse_data(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Training data", str(self._base_dir), "Data (*.csv *.parquet *.xlsx *.xls)"
        )
        if path:
            self.data_path.setText(path)
            self.dataset.setCurrentIndex(0)
            self._load_columns()

    def _load_columns(self, selected: tuple[str, ...] | None = None) -> None:
        if self.dataset.currentIndex() > 0:
            start_task(
                _bundled_columns,
                self.dataset.currentText(),
                on_returned=lambda cols: self._columns_loaded(cols, selected),
            )
            return
        text = self.data_path.text().strip()
        if not text:
            return
        path = (self._base_dir / text) if not Path(text).is_absolute() else Path(text)
        start_task(
            read_columns,
            str(path),
            on_returned=lambda cols: self._columns_loaded(cols, selected),
            on_errored=lambda exc: self._show_problems([f"data.path: {exc}"]),
        )

    def _columns_loaded(self, columns: list[str], selected: tuple[str, ...] | None) -> None:
        target = self.target.currentText()
        self.target.clear()
        self.target.addItems(columns)
        if target in columns:
            self.target.setCurrentText(target)
        elif columns:
            self.target.setCurrentIndex(len(columns) - 1)
        self.features.clear()
        for column in columns:
            item = QListWidgetItem(column)
            on = selected is None or column in selected
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.features.addItem(item)
        self._exclude_target(self.target.currentText())

    def _exclude_target(self, target: str) -> None:
        # The target is never a feature: show it greyed out and unticked.
        for i in range(self.features.count()):
            item = self.features.item(i)
            is_target = item.text() == target
            flags = item.flags()
            if is_target:
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setFlags(flags & ~Qt.ItemFlag.ItemIsEnabled)
            elif not flags & Qt.ItemFlag.ItemIsEnabled:
                item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked)

    def _load_estimators(self) -> None:
        from desktop_app.training.catalog import estimators_for

        task = self.task.currentText()
        tasks = ["classification", "regression"] if task == _AUTO else [task]
        start_task(
            lambda: sorted({name for t in tasks for name in estimators_for(t)}),
            on_returned=self._estimators_loaded,
        )

    def _estimators_loaded(self, names: list[str]) -> None:
        current = self.estimator.currentText() or "RandomForestClassifier"
        self.estimator.blockSignals(True)
        self.estimator.clear()
        self.estimator.addItems(names)
        self.estimator.blockSignals(False)
        self.estimator.setCurrentText(current)
        self._load_hyperparams(current)
        self._fill_metrics()

    def _load_hyperparams(self, name: str) -> None:
        from desktop_app.training.catalog import hyperparameters

        if not name:
            return
        start_task(
            hyperparameters,
            name,
            on_returned=lambda hps: self._hyperparams_loaded(name, hps),
            on_errored=lambda exc: self._show_problems([f"model.estimator: {exc}"]),
        )

    def _hyperparams_loaded(self, name: str, hyperparams: list[Any]) -> None:
        if name != self.estimator.currentText():
            return
        known = {hp.name for hp in hyperparams}
        values = {k: v for k, v in self._extra_model_params.items() if k in known}
        self._extra_model_params = {
            k: v for k, v in self._extra_model_params.items() if k not in known
        }
        self.hyperparams.set_params(hyperparams, values)
        self._hyperparam_list = hyperparams

    def _fill_metrics(self) -> None:
        task = self.task.currentText()
        names = list(_CLASSIFICATION_METRICS) + list(_REGRESSION_METRICS)
        if task == "classification":
            names = list(_CLASSIFICATION_METRICS)
        elif task == "regression":
            names = list(_REGRESSION_METRICS)
        checked = {
            self.metrics.item(i).text()
            for i in range(self.metrics.count())
            if self.metrics.item(i).checkState() == Qt.CheckState.Checked
        }
        self.metrics.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setCheckState(
                Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            )
            self.metrics.addItem(item)

    def _split_changed(self, kind: str) -> None:
        self.folds.setEnabled(kind == "kfold")
        self.test_size.setEnabled(kind == "holdout")

    def _open_toml(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open job", str(self._base_dir), "Job files (*.toml)"
        )
        if path:
            self.load_file(Path(path))

    def _save_toml(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save job", str(self._job_path or self._base_dir / "job.toml"), "*.toml"
        )
        if path:
            self.save_file(Path(path))


def _bundled_columns(name: str) -> list[str]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    return [*map(str, bunch.data.columns), "target"]
