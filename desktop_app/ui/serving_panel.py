"""The Serving dock: model servers of this session (and those left running by an earlier one),
their state, live request rate and latency, log tail, and "Try it".

The engine is ``desktop_app.serving.launcher.ServerManager``; a driver thread polls it (health
checks and stats are HTTP calls, never made on the GUI thread) and hands changes over as
signals.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.registry import Registry
from desktop_app.serving.launcher import (
    LOOPBACK,
    ServeRequest,
    ServerInfo,
    ServerManager,
    ServerState,
    is_loopback,
)
from desktop_app.ui.metric_chart import pg
from desktop_app.ui.workers import start_task

POLL_SECONDS = 0.5
STATS_SECONDS = 1.0
CHART_SECONDS = 150.0
"""The live charts' time window."""
# Figures arrive about once per STATS_SECONDS (a little later under load): enough to fill it.
HISTORY_POINTS = int(CHART_SECONDS / STATS_SECONDS) + 30
EMPTY_TEXT = (
    "No model servers yet.\n\nServe… starts one for a registered model version or alias;"
    " Models on the toolbar lists them."
)
COLUMNS = ["Model", "Version", "URL", "State", "Uptime", "Req/s", "p50 ms", "p99 ms", "Errors"]
(
    _MODEL,
    _VERSION,
    _URL,
    _STATE,
    _UPTIME,
    _RPS,
    _P50,
    _P99,
    _ERRORS,
) = range(len(COLUMNS))
_STATE_COLORS = {
    ServerState.STARTING: "#b26a00",
    ServerState.READY: "#1b7f3b",
    ServerState.STOPPING: "#b26a00",
    ServerState.STOPPED: "#666666",
    ServerState.FAILED: "#b00020",
}


class ServingDriver(QObject):
    """Owns a ``ServerManager`` and follows it from a background thread."""

    sig_changed = Signal(list)
    """Servers whose state, port or version changed: (list of ServerInfo)."""
    sig_stats = Signal(dict)
    """Fresh figures of ready servers: ({server id: stats dict})."""
    sig_alias_moved = Signal(str, str)
    """A served alias now points at another version: (server id, new version)."""

    def __init__(self, registry: Registry, *, warm_spare: bool = True) -> None:
        super().__init__()
        self.manager = ServerManager(registry, warm_spare=warm_spare)
        self.registry = registry
        self._stop = threading.Event()
        self._asked: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._loop, name="modeldesk-serving", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last_stats = 0.0
        while not self._stop.wait(POLL_SECONDS):
            try:
                changed = self.manager.poll()
                if changed:
                    self.sig_changed.emit(changed)
                if time.monotonic() - last_stats >= STATS_SECONDS:
                    last_stats = time.monotonic()
                    self._emit_stats()
            except Exception:  # a registry hiccup must not end the watch
                continue

    def _emit_stats(self) -> None:
        figures = {}
        for info in self.manager.servers():
            if info.state != ServerState.READY:
                continue
            figures[info.id] = self.manager.stats(info.id)
            self._check_alias(info)
        if figures:
            self.sig_stats.emit(figures)

    def _check_alias(self, info: ServerInfo) -> None:
        alias = info.request.alias
        if not alias or info.version is None:
            return
        target = self.registry.get_registered_model(info.request.model).aliases.get(alias)
        if target is None or str(target) == info.version:
            return
        key = (info.id, str(target))
        if key not in self._asked:
            self._asked.add(key)
            self.sig_alias_moved.emit(info.id, str(target))

    def stop(self, *, keep_running: bool) -> None:
        """Stop following; stop every server, or leave them running on their own."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self.manager.shutdown(keep_running=keep_running)

    def live(self) -> list[ServerInfo]:
        """Servers that run (or are starting or stopping)."""
        return [info for info in self.manager.servers() if info.state.is_live]


class ServeDialog(QDialog):
    """Choose a model, a version or alias, the address and port, and request recording."""

    def __init__(
        self,
        registry: Registry,
        model: str = "",
        ref: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Serve Model")
        self.setMinimumWidth(460)
        self.registry = registry
        self.model = QComboBox()
        self.version = QComboBox()
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("any free port")
        self.host = QComboBox()
        self.host.setEditable(True)
        self.host.addItems([LOOPBACK, "0.0.0.0"])
        self.token = QLineEdit()
        self.token.setPlaceholderText("made for you when the server is reachable from outside")
        self.warning = QLabel(
            "<b>Reachable from other computers.</b> Every request must carry the token "
            "(<code>Authorization: Bearer …</code>); anyone with it can use the model."
        )
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b00020;")
        self.record = QCheckBox("Record a sample of served inputs (for drift charts)")
        self.fraction = QDoubleSpinBox()
        self.fraction.setRange(0.001, 1.0)
        self.fraction.setSingleStep(0.05)
        self.fraction.setDecimals(3)
        self.fraction.setValue(0.1)
        self.fraction.setEnabled(False)
        self.record.toggled.connect(self.fraction.setEnabled)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Version or alias", self.version)
        form.addRow("Address", self.host)
        form.addRow("Port", self.port)
        form.addRow("Token", self.token)
        form.addRow("", self.warning)
        form.addRow("", self.record)
        form.addRow("Fraction recorded", self.fraction)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Serve")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.host.currentTextChanged.connect(self._host_changed)
        self.model.currentTextChanged.connect(self._model_changed)
        self._wanted_ref = ref
        names = [m.name for m in registry.list_registered_models()]
        self.model.addItems(names)
        if model in names:
            self.model.setCurrentText(model)
        self._host_changed(self.host.currentText())
        if not names:
            self.problem.setText("No registered models yet: register a run's model first.")
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)

    def _model_changed(self, name: str) -> None:
        self.version.clear()
        if not name:
            return
        model = self.registry.get_registered_model(name)
        self.version.addItem("latest version", None)
        for alias, number in sorted(model.aliases.items()):
            self.version.addItem(f"@{alias}  (now v{number})", f"@{alias}")
        for version in self.registry.list_model_versions(name):
            self.version.addItem(f"v{version.version}", str(version.version))
        if self._wanted_ref is not None:
            index = self.version.findData(self._wanted_ref)
            if index >= 0:
                self.version.setCurrentIndex(index)

    def _host_changed(self, host: str) -> None:
        outside = not is_loopback(host.strip())
        self.warning.setVisible(outside)
        self.token.setEnabled(outside)

    def request(self) -> ServeRequest:
        """The request the dialog describes."""
        host = self.host.currentText().strip() or LOOPBACK
        token = self.token.text().strip() or None
        return ServeRequest(
            model=self.model.currentText(),
            ref=self.version.currentData(),
            host=host,
            port=self.port.value(),
            token=token if not is_loopback(host) else None,
            record_fraction=self.fraction.value() if self.record.isChecked() else 0.0,
        )


class TryItPanel(QWidget):
    """A form from the model's input example; Send shows the answer and its latency."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.server: ServerInfo | None = None
        self.registry: Registry | None = None
        self.fields: dict[str, tuple[QLineEdit, str]] = {}
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.copy_curl = QToolButton(text="Copy curl")
        self.copy_requests = QToolButton(text="Copy Python (requests)")
        self.copy_triton = QToolButton(text="Copy tritonclient")
        self.copy_curl.clicked.connect(lambda: self._copy("curl"))
        self.copy_requests.clicked.connect(lambda: self._copy("requests"))
        self.copy_triton.clicked.connect(lambda: self._copy("triton"))
        self.latency = QLabel("")
        self.response = QPlainTextEdit(readOnly=True)
        self.response.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.response.setPlaceholderText("The server's answer appears here.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.latency, 1)
        for button in (self.copy_curl, self.copy_requests, self.copy_triton):
            buttons.addWidget(button)
        # A model with dozens of columns gets a form that scrolls, not a dock taller than the
        # screen with Send pushed out of sight.
        self.form_scroll = QScrollArea()
        self.form_scroll.setWidget(self.form_host)
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.form_scroll)
        split.addWidget(self.response)
        split.setSizes([360, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.last_copied = ""
        self._set_enabled(False)

    def show_server(self, registry: Registry, server: ServerInfo | None) -> None:
        """Build the form for a server's model (prefilled with its input example)."""
        from desktop_app.serving.try_it import example_rows

        if server is not None and self.server is not None and server.id == self.server.id:
            self.server = server
            self._set_enabled(server.state == ServerState.READY)
            return
        self.server, self.registry = server, registry
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        self.response.clear()
        self.latency.clear()
        self._set_enabled(server is not None and server.state == ServerState.READY)
        if server is None:
            return
        ref = server.version or server.request.ref
        start_task(
            example_rows,
            registry,
            server.request.model,
            ref,
            on_returned=lambda rows, sid=server.id: self._fill(sid, rows),
            on_errored=lambda exc: self.response.setPlainText(str(exc)),
        )

    def _fill(self, server_id: str, rows: list[dict[str, Any]]) -> None:
        if self.server is None or self.server.id != server_id:
            return
        example = rows[0] if rows else {}
        for name, value in example.items():
            kind = "text" if isinstance(value, str) else "number"
            edit = QLineEdit("" if value is None else str(value))
            self.fields[name] = (edit, kind)
            self.form.addRow(name, edit)
        if not example:
            self.form.addRow(QLabel("This version has no input example or column names."))

    def _set_enabled(self, ready: bool) -> None:
        for widget in (self.send_button, self.copy_curl, self.copy_requests, self.copy_triton):
            widget.setEnabled(ready)

    def rows(self) -> list[dict[str, Any]]:
        """The form's values as one row (raises ValueError naming a bad field)."""
        from desktop_app.serving.try_it import parse_value

        row = {}
        for name, (edit, kind) in self.fields.items():
            try:
                row[name] = parse_value(edit.text(), kind)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return [row]

    def send(self) -> None:
        """Send the form's row to the server in the background."""
        from desktop_app.serving.try_it import send

        if self.server is None:
            return
        try:
            rows = self.rows()
        except ValueError as exc:
            self.latency.setText(f"<span style='color:#b00020'>{exc}</span>")
            return
        self.send_button.setEnabled(False)
        self.latency.setText("Sending…")
        start_task(
            send,
            self.server.url,
            rows,
            token=self.server.request.token,
            on_returned=self._answered,
            on_finished=lambda: self.send_button.setEnabled(True),
        )

    def _answered(self, result: Any) -> None:
        color = "#1b7f3b" if result.ok else "#b00020"
        status = f"HTTP {result.status}" if result.status else "no answer"
        self.latency.setText(
            f"<span style='color:{color}'>{status}</span> in {result.latency_ms:.1f} ms"
        )
        self.response.setPlainText(result.body)

    def _copy(self, kind: str) -> None:
        from desktop_app.serving import try_it

        if self.server is None:
            return
        try:
            rows = self.rows()
        except ValueError as exc:
            self.latency.setText(f"<span style='color:#b00020'>{exc}</span>")
            return
        server = self.server
        token = server.request.token
        if kind == "curl":
            self._to_clipboard(try_it.curl_snippet(server.url, rows, token=token))
        elif kind == "requests":
            self._to_clipboard(try_it.requests_snippet(server.url, rows, token=token))
        else:
            start_task(
                try_it.model_metadata,
                server.url,
                server.request.model,
                token=token,
                on_returned=lambda metadata: self._to_clipboard(
                    try_it.tritonclient_snippet(
                        server.url, server.request.model, metadata, rows, token=token
                    )
                ),
            )

    def _to_clipboard(self, text: str) -> None:
        self.last_copied = text
        QGuiApplication.clipboard().setText(text)
        self.latency.setText("Copied to the clipboard.")


class DriftPanel(QWidget):
    """Input recording for the selected server, and drift of recorded inputs vs training data."""

    def __init__(self, manager: ServerManager, registry: Registry) -> None:
        super().__init__()
        self.manager = manager
        self.registry = registry
        self.server: ServerInfo | None = None
        self.report: Any = None
        self.record = QCheckBox("Record served inputs")
        self.record.setToolTip("Keep a sample of the rows this server receives, for drift")
        self.fraction = QDoubleSpinBox()
        self.fraction.setRange(0.001, 1.0)
        self.fraction.setDecimals(3)
        self.fraction.setSingleStep(0.05)
        self.fraction.setValue(0.1)
        self.fraction.setPrefix("fraction ")
        self.refresh_button = QPushButton("Compute Drift")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Column", "Kind", "PSI", "Verdict", "Live rows"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.chart = pg.PlotWidget()
        self.chart.setBackground("w")
        self.chart.setLabel("left", "share of rows")
        self.chart.setMouseEnabled(x=False, y=False)
        self.training_bars = pg.BarGraphItem(
            x=[], height=[], width=0.38, brush="#9ecae1", name="training"
        )
        self.live_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush="#e6550d", name="live")
        self.chart.addItem(self.training_bars)
        self.chart.addItem(self.live_bars)
        controls = QHBoxLayout()
        controls.addWidget(self.record)
        controls.addWidget(self.fraction)
        controls.addStretch(1)
        controls.addWidget(self.refresh_button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setSizes([380, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.record.clicked.connect(self._switch_recording)
        self.fraction.editingFinished.connect(self._fraction_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.itemSelectionChanged.connect(self._draw)
        self._set_enabled(False)

    def show_server(self, server: ServerInfo | None, stats: dict[str, Any] | None) -> None:
        """Follow another server (or the same one's new figures)."""
        same = server is not None and self.server is not None and server.id == self.server.id
        self.server = server
        ready = server is not None and server.state == ServerState.READY
        self._set_enabled(ready)
        recording = (stats or {}).get("recording") or {}
        if recording:
            self.record.blockSignals(True)
            self.record.setChecked(bool(recording.get("enabled")))
            self.record.blockSignals(False)
            if not same and recording.get("fraction"):
                self.fraction.setValue(float(recording["fraction"]))
            self.status.setText(f"{recording.get('recorded', 0):,} rows recorded by this server.")
        if not same:
            self.table.setRowCount(0)
            self._draw()

    def _set_enabled(self, ready: bool) -> None:
        for widget in (self.record, self.fraction, self.refresh_button):
            widget.setEnabled(ready)

    def _switch_recording(self, checked: bool) -> None:
        if self.server is None:
            return
        start_task(
            self.manager.set_recording,
            self.server.id,
            checked,
            self.fraction.value(),
            on_returned=lambda state: self.status.setText(
                f"Recording on: a sample of inputs is kept (fraction {state.get('fraction', 0):g})."
                if state.get("enabled")
                else "Recording off."
            ),
            on_errored=lambda exc: self.status.setText(getattr(exc, "message", str(exc))),
        )

    def _fraction_changed(self) -> None:
        if self.record.isChecked():
            self._switch_recording(True)

    def refresh(self) -> None:
        """Compare the recorded inputs of the server's version with its training data."""
        from desktop_app.reports.drift import drift_report

        if self.server is None or self.server.version is None:
            return
        self.refresh_button.setEnabled(False)
        self.status.setText("Comparing…")
        start_task(
            drift_report,
            self.registry,
            self.server.request.model,
            int(self.server.version),
            on_returned=self._show_report,
            on_errored=lambda exc: self.status.setText(getattr(exc, "message", str(exc))),
            on_finished=lambda: self.refresh_button.setEnabled(True),
        )

    def _show_report(self, report: Any) -> None:
        self.report = report
        self.table.setRowCount(len(report.columns))
        colors = {"stable": "#1b7f3b", "moderate": "#b26a00", "shifted": "#b00020"}
        for row, column in enumerate(report.columns):
            values = [
                column.column,
                column.kind,
                f"{column.psi:.3f}",
                column.verdict,
                f"{column.live_rows:,}",
            ]
            for index, value in enumerate(values):
                item = QTableWidgetItem(value)
                if index == 3:
                    item.setForeground(pg.mkColor(colors[column.verdict]))
                self.table.setItem(row, index, item)
        summary = (
            f"{report.live_rows:,} recorded rows against {report.training_rows:,} training rows."
        )
        self.status.setText(" ".join([summary, *report.notes]))
        if report.columns:
            self.table.selectRow(0)
        self._draw()

    def _draw(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.report is None or not rows or rows[0].row() >= len(self.report.columns):
            self.training_bars.setOpts(x=[], height=[])
            self.live_bars.setOpts(x=[], height=[])
            return
        column = self.report.columns[rows[0].row()]
        positions = list(range(len(column.bins)))
        self.training_bars.setOpts(x=[p - 0.2 for p in positions], height=column.training)
        self.live_bars.setOpts(x=[p + 0.2 for p in positions], height=column.live)
        axis = self.chart.getAxis("bottom")
        # Numeric bins are labelled by their lower edge, so ten labels fit under the bars.
        labels = [b.split("–")[0] for b in column.bins] if column.kind == "numeric" else column.bins
        step = max(1, len(labels) // 10)
        axis.setTicks([[(i, labels[i]) for i in range(0, len(labels), step)]])
        axis.setLabel("from" if column.kind == "numeric" else "")
        self.chart.setTitle(
            f"{column.column}: PSI {column.psi:.3f} ({column.verdict}) — "
            "<span style='color:#3182bd'>training</span> vs "
            "<span style='color:#e6550d'>live</span>",
            size="9pt",
        )
        self.chart.autoRange()


class ServingPanel(QWidget):
    """Servers with state and live figures; Live, Try it and Log tabs for the selected one."""

    sig_serve_requested = Signal()
    """The user clicked Serve…."""

    def __init__(
        self, registry: Registry, parent: QWidget | None = None, *, warm_spare: bool = True
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.driver = ServingDriver(registry, warm_spare=warm_spare)
        self.driver.sig_changed.connect(self._on_changed)
        self.driver.sig_stats.connect(self._on_stats)
        self.driver.sig_alias_moved.connect(self._on_alias_moved)
        self._rows: dict[str, int] = {}
        self._infos: dict[str, ServerInfo] = {}
        self._history: dict[str, deque[tuple[float, float, float, float]]] = {}
        self._stats: dict[str, dict[str, Any]] = {}
        self.confirm_alias_move = self._ask_alias_move

        self.serve_button = QToolButton(text="Serve…")
        self.stop_button = QToolButton(text="Stop")
        self.restart_button = QToolButton(text="Restart")
        self.docs_button = QToolButton(text="Open Docs")
        self.copy_url_button = QToolButton(text="Copy URL")
        self.serve_button.clicked.connect(self.sig_serve_requested)
        self.stop_button.clicked.connect(self.stop_selected)
        self.restart_button.clicked.connect(self.restart_selected)
        self.docs_button.clicked.connect(self.open_docs)
        self.copy_url_button.clicked.connect(self.copy_url)
        bar = QHBoxLayout()
        for button in (
            self.serve_button,
            self.stop_button,
            self.restart_button,
            self.docs_button,
            self.copy_url_button,
        ):
            bar.addWidget(button)
        bar.addStretch(1)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_URL, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty_label = QLabel(EMPTY_TEXT, self.table.viewport())
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text);")
        self.table.viewport().installEventFilter(self)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #b00020;")
        self.reason.hide()

        self.rate_plot = pg.PlotWidget()
        self.rate_plot.setLabel("left", "requests/s")
        self.rate_plot.setLabel("bottom", "seconds ago")
        self.rate_curve = self.rate_plot.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.latency_plot = pg.PlotWidget()
        self.latency_plot.setLabel("left", "latency (ms)")
        self.latency_plot.setLabel("bottom", "seconds ago")
        self.latency_plot.addLegend(offset=(8, 8))
        self.p50_curve = self.latency_plot.plot(pen=pg.mkPen("#2ca02c", width=1), name="p50")
        self.p99_curve = self.latency_plot.plot(pen=pg.mkPen("#d62728", width=1), name="p99")
        for plot in (self.rate_plot, self.latency_plot):
            plot.setBackground("w")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMinimumHeight(140)
            # A fixed time window, as a monitor shows it; y is fitted in _draw, from zero up.
            plot.disableAutoRange()
            plot.setXRange(-CHART_SECONDS, 0, padding=0)
            plot.setYRange(0, 1, padding=0)
        live = QWidget()
        live_layout = QHBoxLayout(live)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.rate_plot)
        live_layout.addWidget(self.latency_plot)
        self.try_it = TryItPanel()
        self.drift = DriftPanel(self.driver.manager, registry)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("The selected server's output appears here.")
        self.tabs = QTabWidget()
        self.tabs.addTab(live, "Live")
        self.tabs.addTab(self.try_it, "Try it")
        self.tabs.addTab(self.drift, "Drift")
        self.tabs.addTab(self.log, "Log")

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.reason)
        split.addWidget(top)
        split.addWidget(self.tabs)
        split.setSizes([160, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self._clock = QTimer(self)
        self._clock.setObjectName("servingClockTimer")
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        self._update_buttons()

    # ---- servers ----------------------------------------------------------------------------

    def serve(self, request: ServeRequest) -> ServerInfo:
        """Start a server (a warm standby takes it when one waits) and list it as starting."""
        info = self.driver.manager.start(request)
        self._show(info)
        self.table.selectRow(self._rows[info.id])
        return info

    def adopt_running(self) -> list[ServerInfo]:
        """List the servers an earlier session left running."""
        found = self.driver.manager.adopt_running()
        for info in found:
            self._show(info)
        return found

    def selected_id(self) -> str | None:
        """The id of the selected server."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return str(self.table.item(rows[0].row(), _MODEL).data(Qt.ItemDataRole.UserRole))

    def server(self, server_id: str) -> ServerInfo:
        """What the panel shows for a server."""
        return self._infos[server_id]

    def stop_selected(self) -> None:
        """Stop the selected server gracefully (in the background)."""
        server_id = self.selected_id()
        if server_id is None:
            return
        self._set_state_text(server_id, ServerState.STOPPING)
        start_task(self.driver.manager.stop, server_id, on_returned=self._show)

    def restart_selected(self) -> None:
        """Restart the selected server on the same port."""
        server_id = self.selected_id()
        if server_id is None:
            return
        self._restart(server_id)

    def _restart(self, server_id: str) -> None:
        self._set_state_text(server_id, ServerState.STOPPING)
        start_task(
            self.driver.manager.restart,
            server_id,
            on_returned=lambda info, old=server_id: self._replaced(old, info),
        )

    def _replaced(self, old_id: str, info: ServerInfo) -> None:
        row = self._rows.pop(old_id, None)
        self._infos.pop(old_id, None)
        if row is not None:
            self._rows[info.id] = row
        self._show(info)
        self.table.selectRow(self._rows[info.id])

    def open_docs(self) -> None:
        """Open the selected server's API docs page in the browser."""
        server_id = self.selected_id()
        if server_id is not None and self._infos[server_id].url:
            QDesktopServices.openUrl(QUrl(self._infos[server_id].url + "/docs"))

    def copy_url(self) -> None:
        """Copy the selected server's URL."""
        server_id = self.selected_id()
        if server_id is not None:
            QGuiApplication.clipboard().setText(self._infos[server_id].url)

    def live_servers(self) -> list[ServerInfo]:
        """Servers still running."""
        return self.driver.live()

    def shutdown(self, *, keep_running: bool) -> None:
        """Stop following; stop the servers unless they are to keep running."""
        self._clock.stop()
        self.driver.stop(keep_running=keep_running)

    # ---- display ----------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keep the empty-table hint as large as the table's viewport."""
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.empty_label.resize(self.table.viewport().size())
        return super().eventFilter(watched, event)

    def _show(self, info: ServerInfo) -> None:
        self._infos[info.id] = info
        row = self._rows.get(info.id)
        if row is None:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.empty_label.hide()
            self._rows[info.id] = row
            for column in range(len(COLUMNS)):
                self.table.setItem(row, column, QTableWidgetItem(""))
            self.table.item(row, _MODEL).setData(Qt.ItemDataRole.UserRole, info.id)
        version = f"v{info.version}" if info.version else "…"
        if info.request.alias:
            version += f"  (@{info.request.alias})"
        texts = {
            _MODEL: info.request.model + ("  (earlier session)" if info.adopted else ""),
            _VERSION: version,
            _URL: info.url or "…",
        }
        for column, text in texts.items():
            self.table.item(row, column).setText(text)
        self._set_state_text(info.id, info.state)
        if info.state == ServerState.FAILED:
            self.table.item(row, _STATE).setToolTip(info.reason)
        if self.selected_id() == info.id:
            self._selection_changed()

    def _set_state_text(self, server_id: str, state: ServerState) -> None:
        row = self._rows.get(server_id)
        if row is None:
            return
        item = self.table.item(row, _STATE)
        item.setText(state.value.capitalize())
        item.setForeground(pg.mkColor(_STATE_COLORS[state]))

    def _on_changed(self, infos: list[ServerInfo]) -> None:
        for info in infos:
            if info.id in self._rows:
                self._show(info)
        self._update_buttons()

    def _on_stats(self, figures: dict[str, dict[str, Any]]) -> None:
        now = time.monotonic()
        for server_id, stats in figures.items():
            row = self._rows.get(server_id)
            if row is None or not stats:
                continue
            self._stats[server_id] = stats
            latency = stats.get("latency_ms") or {}
            rps = float(stats.get("rps_1m") or stats.get("rps") or 0.0)
            # Percentiles are None while no request came in the last minute.
            p50, p99 = latency.get("p50"), latency.get("p99")
            self.table.item(row, _RPS).setText(f"{rps:.2f}" if rps < 10 else f"{rps:.0f}")
            self.table.item(row, _P50).setText("—" if p50 is None else f"{p50:.2f}")
            self.table.item(row, _P99).setText("—" if p99 is None else f"{p99:.2f}")
            self.table.item(row, _ERRORS).setText(str(stats.get("errors", 0)))
            history = self._history.setdefault(server_id, deque(maxlen=HISTORY_POINTS))
            history.append((now, rps, float(p50 or 0.0), float(p99 or 0.0)))
        selected = self.selected_id()
        if selected in figures:
            self.drift.show_server(self._infos.get(selected), figures[selected])
        self._draw()

    def _draw(self) -> None:
        server_id = self.selected_id()
        history = self._history.get(server_id or "", deque())
        now = history[-1][0] if history else 0.0
        # Only what the window shows: an old burst must not keep the scale up.
        shown = [point for point in history if point[0] - now >= -CHART_SECONDS]
        ago = [point[0] - now for point in shown]
        rates = [point[1] for point in shown]
        p99 = [point[3] for point in shown]
        self.rate_curve.setData(ago, rates)
        self.p50_curve.setData(ago, [point[2] for point in shown])
        self.p99_curve.setData(ago, p99)
        _fit_from_zero(self.rate_plot, rates)
        _fit_from_zero(self.latency_plot, p99)

    def _tick(self) -> None:
        now = time.time()
        for server_id, info in self._infos.items():
            row = self._rows.get(server_id)
            if row is None:
                continue
            if info.state == ServerState.READY and info.ready_at is None:
                info.ready_at = now
            uptime = info.uptime(now)
            self.table.item(row, _UPTIME).setText(_duration(uptime) if uptime else "")
        server_id = self.selected_id()
        if server_id is not None and self.tabs.currentWidget() is self.log:
            start_task(
                self.driver.manager.log_tail,
                server_id,
                on_returned=self._show_log,
            )

    def _show_log(self, text: str) -> None:
        if text != self.log.toPlainText():
            self.log.setPlainText(text)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def _selection_changed(self) -> None:
        server_id = self.selected_id()
        info = self._infos.get(server_id or "")
        self.reason.setVisible(bool(info and info.state == ServerState.FAILED))
        self.reason.setText(f"Failed: {info.reason}" if info else "")
        self.try_it.show_server(self.registry, info)
        self.drift.show_server(info, self._stats.get(server_id or ""))
        self._draw()
        self._update_buttons()
        if server_id is not None:
            start_task(self.driver.manager.log_tail, server_id, on_returned=self._show_log)

    def _update_buttons(self) -> None:
        server_id = self.selected_id()
        info = self._infos.get(server_id or "")
        live = bool(info and info.state.is_live)
        self.stop_button.setEnabled(live)
        self.restart_button.setEnabled(info is not None and not info.adopted)
        ready = bool(info and info.state == ServerState.READY)
        self.docs_button.setEnabled(ready)
        self.copy_url_button.setEnabled(ready)

    # ---- a served alias moved ---------------------------------------------------------------

    def _on_alias_moved(self, server_id: str, version: str) -> None:
        info = self._infos.get(server_id)
        if info is None or info.state != ServerState.READY:
            return
        if self.confirm_alias_move(info, version):
            self._restart(server_id)

    def _ask_alias_move(self, info: ServerInfo, version: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Served alias moved",
            f"@{info.request.alias} of {info.request.model} now points at v{version} "
            f"(the server at {info.url} serves v{info.version}). Restart it on v{version}?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def status_text(self, server_id: str) -> str:
        """The state shown for a server."""
        row = self._rows.get(server_id)
        return "" if row is None else self.table.item(row, _STATE).text()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _fit_from_zero(plot: pg.PlotWidget, values: list[float]) -> None:
    """Show 0 up to a little above the highest value, and at least 0 to 1 while idle."""
    top = max((v for v in values if math.isfinite(v)), default=0.0)
    plot.setYRange(0, max(top * 1.15, 1.0), padding=0)
