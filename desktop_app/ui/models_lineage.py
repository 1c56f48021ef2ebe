"""The Lineage panel of the Models page: run → datasets → code snapshot → artifact of a version,
with its signature, registered metrics and params."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop_app.reports.model_versions import ModelSignature, VersionLineage
from desktop_app.ui.formatting import format_full_time, format_number
from desktop_app.ui.models_table import AliasChipDelegate

RUN_SCHEME = "run"
_STYLE = (
    "<style>"
    "td { padding: 2px 10px 2px 0; vertical-align: top; }"
    "td.k { color: #5f6368; white-space: nowrap; }"
    "code { font-family: monospace; }"
    ".muted { color: #5f6368; }"
    ".warn { color: #842029; }"
    "</style>"
)


def _chip(alias: str) -> str:
    background, text = AliasChipDelegate.colours(alias)
    return (
        f'<span style="background:{background}; color:{text}; font-weight:bold;">'
        f"&nbsp;{escape(alias)}&nbsp;</span>"
    )


def _row(key: str, value: str) -> str:
    return f'<tr><td class="k">{escape(key)}</td><td>{value}</td></tr>'


def _pairs(values: dict[str, str]) -> str:
    if not values:
        return '<span class="muted">none</span>'
    return ", ".join(f"{escape(k)} = <b>{escape(v)}</b>" for k, v in sorted(values.items()))


def _signature_html(signature: ModelSignature) -> str:
    parts = []
    if signature.inputs:
        columns = ", ".join(
            f"{escape(c.name)} <span class='muted'>{escape(c.dtype)}</span>"
            if c.dtype
            else escape(c.name)
            for c in signature.inputs
        )
        parts.append(f"in ({len(signature.inputs)}): {columns}")
    elif signature.unnamed_inputs:
        parts.append(f"in: {signature.unnamed_inputs} unnamed columns (fitted on an array)")
    else:
        parts.append('<span class="muted">inputs not recorded</span>')
    if signature.outputs:
        outputs = ", ".join(
            f"{escape(c.name)} <span class='muted'>{escape(c.dtype)}</span>"
            for c in signature.outputs
        )
        parts.append(f"out: {outputs}")
    if signature.classes:
        parts.append(f"classes: {escape(', '.join(signature.classes))}")
    if signature.model_class:
        parts.append(f"<code>{escape(signature.model_class)}</code>")
    return "<br>".join(parts)


def lineage_html(lineage: VersionLineage) -> str:
    """The lineage of a version as the panel's HTML (links: ``run:<id>``)."""
    version = lineage.version
    title = f"{escape(version.model_name)} v{version.version}"
    chips = " ".join(_chip(a) for a in version.aliases)
    status = " <span class='muted'>(archived)</span>" if version.status == "archived" else ""
    rows = []
    run = lineage.run
    if run is not None:
        rows.append(
            _row(
                "Source run",
                f'<a href="{RUN_SCHEME}:{escape(run.id)}">{escape(run.name or run.id)}</a> '
                f"<span class='muted'>· {escape(run.experiment_name)} · {escape(run.status)}"
                f"</span><br><code>{escape(run.id)}</code>",
            )
        )
    else:
        run_id = f"<code>{escape(version.run_id)}</code> " if version.run_id else ""
        rows.append(_row("Source run", f"{run_id}<span class='muted'>{lineage.run_note}</span>"))
    if lineage.datasets:
        datasets = "<br>".join(
            f"{escape(d.name or d.path)} <span class='muted'>({escape(d.role or 'data')}"
            + (f", {d.rows}×{d.columns}" if d.rows is not None and d.columns is not None else "")
            + f")</span><br><code>{escape(d.sha256)}</code>"
            for d in lineage.datasets
        )
    else:
        datasets = '<span class="muted">none recorded (run.log_dataset)</span>'
    rows.append(_row("Datasets", datasets))
    rows.append(_row("Code", _code_html(lineage)))
    stored = "" if lineage.artifact_stored else " <span class='warn'>missing from the store</span>"
    rows.append(
        _row(
            "Artifact",
            f"{escape(version.artifact_path or 'model')}{stored}<br>"
            f"<code>{escape(version.artifact_sha256)}</code>",
        )
    )
    rows.append(_row("Signature", _signature_html(lineage.signature)))
    metrics = {k: format_number(float(v)) for k, v in version.metrics.items()}
    rows.append(_row("Metrics", _pairs(metrics)))
    rows.append(_row("Params", _pairs(dict(version.params))))
    if version.tags:
        rows.append(_row("Tags", _pairs(dict(version.tags))))
    rows.append(_row("Registered", escape(format_full_time(version.created_at))))
    description = (
        f"<p>{escape(version.description)}</p>"
        if version.description
        else "<p class='muted'>No description.</p>"
    )
    return (
        f"{_STYLE}<p><b style='font-size:large'>{title}</b> {chips}{status}</p>"
        f"{description}<table>{''.join(rows)}</table>"
    )


def _code_html(lineage: VersionLineage) -> str:
    code = lineage.code
    if code is None:
        return '<span class="muted">no code snapshot</span>'
    if not code.snapshot:
        reason = escape(code.reason or "no snapshot")
        return f'<span class="muted">no snapshot: {reason}</span>'
    dirty = {True: "with uncommitted edits", False: "clean", None: ""}[code.dirty]
    branch = f" on {escape(code.branch)}" if code.branch else ""
    return (
        f"commit <code>{escape(code.commit[:12])}</code>{branch} "
        f"<span class='muted'>{dirty}</span><br>snapshot <code>{escape(code.snapshot)}</code>"
        f"<br><span class='muted'>{escape(code.workspace)}</span>"
    )


class LineagePanel(QTextBrowser):
    """Where the selected version came from; the source run's name links to it."""

    sig_show_run = Signal(str)
    """The user clicked the source run: ``(run id)``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_link)
        self.show_placeholder("Select a version to see its lineage.")

    def show_lineage(self, lineage: VersionLineage) -> None:
        """Show one version's lineage."""
        self.setHtml(lineage_html(lineage))

    def show_placeholder(self, text: str) -> None:
        """Show a grey hint instead of a lineage."""
        self.setHtml(f"{_STYLE}<p class='muted'>{escape(text)}</p>")

    def _on_link(self, url: QUrl) -> None:
        if url.scheme() == RUN_SCHEME and url.path():
            self.sig_show_run.emit(url.path())
