"""The Qt-free report engine: colours, smoothing, diff, brushing, evaluation data, HTML, CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import run_cli
from desktop_app.registry import Registry, RunStatus
from desktop_app.reports import (
    ReportImage,
    build_diff,
    build_report,
    decimate,
    ema,
    load_comparison,
    load_evaluation,
    metric_direction,
    render_report,
    run_colours,
    write_report,
)
from desktop_app.reports.evaluation import NO_DATA_TEXT
from desktop_app.reports.fields import Field, field_values
from desktop_app.reports.numeric import nice_ticks, x_values
from desktop_app.reports.parallel import brushed_runs, build_parallel
from desktop_app.reports.samples import add_sample_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(tmp_path / "registry")
    yield reg
    reg.close()


@pytest.fixture
def sweep(registry: Registry) -> list[str]:
    """Four classifier runs and two regressors, with curves and evaluation data."""
    ids = add_sample_runs(registry, 4, steps=60)
    ids += add_sample_runs(registry, 2, steps=60, experiment="prices", regression=True, seed=3)
    return ids


# ---- HTML checking ---------------------------------------------------------------------------


class _Collector(HTMLParser):
    """Every tag with its attributes, and whether the document nests properly."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "col", "source"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_report(html: str) -> _Collector:
    """Parse a report and assert it is self-contained: no external src/href, SVGs are XML."""
    assert html.startswith("<!DOCTYPE html>")
    parser = _Collector()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    for tag, attrs in parser.tags:
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), f"<{tag} {name}={value}>"
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,")
        assert tag not in ("script", "link", "iframe"), f"external or active content: <{tag}>"
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return parser


# ---- colours, smoothing, numbers -------------------------------------------------------------


def test_run_colours_are_stable_distinct_and_hex() -> None:
    ids = [f"run{i}" for i in range(60)]
    colours = run_colours(ids)
    assert colours == run_colours(ids)
    assert len(set(colours.values())) == 60
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in colours.values())
    # Adding runs at the end never repaints the earlier ones.
    assert run_colours(ids[:5]) == {k: colours[k] for k in ids[:5]}


def _ema_reference(values: list[float], weight: float) -> list[float]:
    out, last, count = [], 0.0, 0
    for value in values:
        if math.isnan(value):
            out.append(math.nan)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight**count))
    return out


def test_ema_is_debiased_and_keeps_gaps() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=300)
    np.testing.assert_array_equal(ema(values, 0.0), values)
    np.testing.assert_allclose(ema(values, 0.6), _ema_reference(list(values), 0.6), rtol=1e-9)
    assert ema(np.full(50, 3.0), 0.9) == pytest.approx(np.full(50, 3.0))
    gappy = np.array([np.nan, 1.0, 2.0, np.nan, 4.0])
    smooth = ema(gappy, 0.5)
    assert np.isnan(smooth[0]) and np.isnan(smooth[3])
    assert smooth[1] == pytest.approx(1.0)
    assert smooth[2] == pytest.approx((0.5 * 0.5 + 0.5 * 2.0) / (1 - 0.25))


def test_decimate_keeps_peaks_and_bounds_the_size() -> None:
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 1000)
    y[54_321] = 50.0
    dx, dy = decimate(x, y, 800)
    assert len(dx) <= 800
    assert dy.max() == 50.0 and dx[int(np.argmax(dy))] == 54_321
    assert np.all(np.diff(dx) > 0)


def test_x_values_and_ticks() -> None:
    steps = np.array([0, 1, 2])
    stamps = np.array([100.0, 110.0, 130.0])
    assert list(x_values(steps, stamps, "step")) == [0, 1, 2]
    assert list(x_values(steps, stamps, "wall")) == [100, 110, 130]
    assert list(x_values(steps, stamps, "relative", start_time=90.0)) == [10, 20, 40]
    assert nice_ticks(0, 1, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


@pytest.mark.parametrize(
    ("key", "direction"),
    [
        ("val/loss", "min"),
        ("rmse", "min"),
        ("fit_seconds", "min"),
        ("accuracy", "max"),
        ("val_roc_auc", "max"),
        ("r2", "max"),
        ("lr", None),
        ("accuracy_std", None),
    ],
)
def test_metric_direction(key: str, direction: str | None) -> None:
    assert metric_direction(key) == direction


# ---- diff, fields, brushing ------------------------------------------------------------------


def test_diff_marks_differences_and_the_best_value(registry: Registry) -> None:
    a = registry.create_run("e", name="a", params={"lr": 0.1, "seed": 1, "model": "rf"})
    b = registry.create_run("e", name="b", params={"lr": 0.01, "seed": 1})
    c = registry.create_run("e", name="c", params={"lr": 0.01, "seed": 1, "model": "rf"})
    for run, loss, acc in ((a, 0.5, 0.9), (b, 0.3, 0.8), (c, 0.3, 0.85)):
        registry.log_batch(run.id, metrics=[("loss", loss, 0, 1.0), ("accuracy", acc, 0, 1.0)])
    runs = registry.get_runs([a.id, b.id, c.id])
    table = build_diff(runs)
    rows = {(r.kind, r.key): r for r in table.rows}
    assert [(r.kind, r.key) for r in table.rows] == [
        ("param", "lr"), ("param", "model"), ("param", "seed"),
        ("metric", "accuracy"), ("metric", "loss"),
    ]  # fmt: skip
    assert rows[("param", "seed")].differs is False
    assert rows[("param", "model")].texts == ("rf", "", "rf")
    assert rows[("param", "model")].differs is True
    assert rows[("metric", "accuracy")].best == {0}
    assert rows[("metric", "loss")].best == {1, 2}  # a tie: both are best
    only = [(r.kind, r.key) for r in table.visible(only_differences=True)]
    assert ("param", "seed") not in only and len(only) == 4
    parsed = list(csv.reader(io.StringIO(table.to_csv(["a", "b", "c"], only_differences=True))))
    assert parsed[0] == ["kind", "key", "a", "b", "c"]
    assert parsed[1] == ["param", "lr", "0.1", "0.01", "0.01"]
    assert len(parsed) == 5


def test_fields_and_parallel_brushing(registry: Registry) -> None:
    specs = [
        ("r0", 0.1, "rf", 0.9),
        ("r1", 0.01, "svm", 0.7),
        ("r2", 0.001, "rf", 0.6),
        ("r3", 0.05, "sgd", None),
    ]
    ids = []
    for name, lr, model, f1 in specs:
        run = registry.create_run("e", name=name, params={"lr": lr, "model": model})
        if f1 is not None:
            registry.log_metric(run.id, "f1", f1)
        ids.append(run.id)
    runs = registry.get_runs(ids)
    lr = field_values(runs, Field("param", "lr"))
    assert not lr.categorical and list(lr.numbers) == [0.1, 0.01, 0.001, 0.05]
    model = field_values(runs, Field("param", "model"))
    assert model.categories == ("rf", "sgd", "svm") and list(model.numbers) == [0, 2, 0, 1]
    data = build_parallel(
        runs, [Field("param", "lr"), Field("param", "model"), Field("metric", "f1")],
        Field("metric", "f1"),
    )  # fmt: skip
    lr_axis, model_axis, f1_axis = data.axes
    assert lr_axis.positions[0] == 1.0 and lr_axis.positions[2] == 0.0
    assert list(model_axis.positions) == [0.0, 1.0, 0.0, 0.5]
    assert np.isnan(f1_axis.positions[3])
    assert brushed_runs(data, {}) == ids
    assert brushed_runs(data, {"param:lr": (lr_axis.position_of(0.04), 1.0)}) == [ids[0], ids[3]]
    both = {"param:lr": (0.0, lr_axis.position_of(0.05)), "param:model": (0.0, 0.0)}
    assert brushed_runs(data, both) == [ids[2]]
    # A run without the metric never passes a brush on that axis.
    assert brushed_runs(data, {"metric:f1": (0.0, 1.0)}) == ids[:3]
    assert [label for _, label in model_axis.ticks()] == ["rf", "sgd", "svm"]


# ---- evaluation data -------------------------------------------------------------------------


def test_evaluation_artifacts_are_read(registry: Registry, sweep: list[str]) -> None:
    classifier = load_evaluation(registry, sweep[0])
    assert len(classifier.roc) == 1 and len(classifier.pr) == 1
    assert classifier.confusion is not None and classifier.confusion.labels == ("churn", "stay")
    assert classifier.importances is not None and len(classifier.importances.features) == 6
    stored = json.loads(
        registry.artifacts.read_bytes(
            registry.get_artifact(sweep[0], "evaluation/roc_curve.json").sha256
        )
    )
    assert list(classifier.roc[0].x) == stored["curves"][0]["fpr"]
    regressor = load_evaluation(registry, sweep[4])
    assert regressor.predictions is not None and len(regressor.predictions.actual) == 300
    assert regressor.confusion is None and not regressor.roc
    bare = registry.create_run("e", name="bare")
    assert load_evaluation(registry, bare.id).empty


def test_a_damaged_evaluation_file_is_reported_not_raised(registry: Registry) -> None:
    run = registry.create_run("e", name="broken")
    registry.log_artifact_bytes(run.id, b"{not json", "evaluation/confusion_matrix.json")
    registry.log_artifact_bytes(
        run.id,
        json.dumps({"labels": ["a"], "counts": [[1, 2]]}).encode(),
        "evaluation/pr_curve.json",
    )
    evaluation = load_evaluation(registry, run.id)
    assert evaluation.empty
    assert len(evaluation.problems) == 2
    assert "evaluation/confusion_matrix.json" in evaluation.problems[0]


# ---- the HTML report -------------------------------------------------------------------------


def test_report_is_self_contained_and_holds_everything(
    registry: Registry, sweep: list[str]
) -> None:
    html = build_report(registry, sweep, smoothing=0.5, images=[ReportImage("a chart", PNG_MAGIC)])
    parser = check_report(html)
    text = " ".join(parser.text)
    comparison = load_comparison(registry, sweep, with_series=False)
    for run in comparison.runs:
        assert run.id in text and run.name in text
    for heading in ("Runs", "Params", "Final metrics", "Metric curves", "Evaluation"):
        assert heading in text
    for key in ("learning_rate", "max_depth", "val/roc_auc", "train/loss"):
        assert key in text
    assert "ROC curves" in html and "Precision-recall curves" in html
    assert "Predicted vs actual" in html and "Permutation importances" in html
    assert html.count('<table class="cm">') == 4
    assert 'class="num best"' in html
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    # A curve chart per stepwise metric, raw and smoothed: polylines in each run colour.
    curve_svgs = [s for s in svgs if 'aria-label="train/loss"' in s]
    assert len(curve_svgs) == 1
    for colour in comparison.colours.values():
        assert f'stroke="{colour}"' in curve_svgs[0]
    assert 'stroke-opacity="0.25"' in curve_svgs[0]
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == 1 and images[0]["alt"] == "a chart"


def test_report_escapes_names_and_says_when_there_is_no_evaluation(registry: Registry) -> None:
    run = registry.create_run(
        "e", name="<script>alert(1)</script>", params={"note": '"quoted" & <b>'}
    )
    registry.log_batch(run.id, metrics=[("loss", 1 / (s + 1), s, 1.0 + s) for s in range(5)])
    html = build_report(registry, [run.id[:8]], title="Weekly <review>")
    check_report(html)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>Weekly &lt;review&gt;</title>" in html
    assert NO_DATA_TEXT in html


def test_report_of_many_runs_lists_runs_as_rows(registry: Registry) -> None:
    ids = add_sample_runs(registry, 20, steps=5, evaluation=False)
    html = build_report(registry, ids)
    check_report(html)
    assert "Parallel coordinates" in html
    comparison = load_comparison(registry, ids, with_series=False)
    assert render_report(comparison).count("<tr>") >= 20


def test_write_report_is_atomic(tmp_path: Path) -> None:
    target = write_report(tmp_path / "out" / "r.html", "<!DOCTYPE html><html></html>")
    assert target.read_text() == "<!DOCTYPE html><html></html>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.html"]


# ---- the command line ------------------------------------------------------------------------


def test_cli_report_writes_a_valid_file(
    registry: Registry, sweep: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    code = run_cli(
        ["--registry", str(registry.root), "runs", "report", *[i[:8] for i in sweep[:3]],
         "-o", str(out), "--metric", "val/loss", "--x", "relative", "--smoothing", "0.3"]
    )  # fmt: skip
    assert code == 0
    assert f"Wrote a report on 3 runs to {out}" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    check_report(html)
    assert 'aria-label="val/loss"' in html and 'aria-label="train/loss"' not in html
    assert "Relative time" in html


def test_cli_report_of_a_missing_run_fails_cleanly(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.create_run("e", status=RunStatus.FINISHED)
    code = run_cli(
        [
            "--registry",
            str(registry.root),
            "runs",
            "report",
            "nosuchrun",
            "-o",
            str(tmp_path / "r.html"),
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.startswith("Error: No run 'nosuchrun'")
    assert not (tmp_path / "r.html").exists()


def test_cli_report_imports_no_qt(registry: Registry, sweep: list[str], tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from desktop_app.cli import run_cli\n"
        f"code = run_cli(['--registry', {str(registry.root)!r}, 'runs', 'report', {sweep[0]!r}, "
        f"'-o', {str(tmp_path / 'r.html')!r}])\n"
        "qt = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]\n"
        "print(code, qt)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr
    check_report((tmp_path / "r.html").read_text(encoding="utf-8"))
