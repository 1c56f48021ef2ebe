"""Serving: decoding a 1,000-row batch in each request format, in the server's own code.

No HTTP and no prediction: only what turns a request body into the model's input, which is
where the formats differ. The model is a small forest on breast-cancer data with named columns,
like the demo's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from tests.benchmarks.bench_common import Context, Result, repeat, say

TITLE = "Serving: decode a 1,000 × 30 batch in each request format (in process)"
ROWS = 1_000
REPEATS = 50


def _bodies(frame: Any) -> dict[str, tuple[bytes | None, bytes]]:
    """Each format's body for the same rows: (content type or None for V2, body)."""
    import orjson

    columns = [str(c) for c in frame.columns]
    rows = frame.to_numpy().tolist()
    v2 = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": [len(rows), len(columns)],
                "data": frame.to_numpy().ravel().tolist(),
            }
        ]
    }
    json_type = b"application/json"
    return {
        "V2 JSON tensor": (None, orjson.dumps(v2)),
        "dataframe_split": (
            json_type,
            orjson.dumps({"dataframe_split": {"columns": columns, "data": rows}}),
        ),
        "dataframe_records": (
            json_type,
            orjson.dumps({"dataframe_records": frame.to_dict(orient="records")}),
        ),
        "instances": (json_type, orjson.dumps({"instances": rows})),
        "CSV": (b"text/csv", frame.to_csv(index=False).encode()),
    }


def _median_ms(call: Callable[[], object]) -> tuple[float, float]:
    times = sorted(repeat(call, REPEATS, warmup=3))
    return statistics.median(times) * 1000, times[int(len(times) * 0.9)] * 1000


def run(ctx: Context) -> list[Result]:
    """Median and p90 decode time of each format, on the same 1,000 rows."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from desktop_app.serving import mlflow_protocol, v2
    from desktop_app.serving.model import ServedModel

    data = load_breast_cancer(as_frame=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(data.data, data.target)
    model = ServedModel(forest, name="bc", version="1")
    frame = data.data.sample(ROWS, replace=True, random_state=0)
    figures: list[str] = []
    medians: list[float] = []
    for name, (content_type, body) in _bodies(frame).items():
        if content_type is None:
            median, p90 = _median_ms(lambda body=body: v2.decode_infer(model, body, None))
        else:
            median, p90 = _median_ms(
                lambda body=body, kind=content_type: mlflow_protocol.decode(model, kind, body)
            )
        say(f"  {name:<18} {median:6.2f} ms median, {p90:6.2f} ms p90 ({len(body):,} bytes)")
        figures.append(f"{name} {median:.1f} ms")
        medians.append(median)
    return [
        Result(
            "D",
            f"decode {ROWS:,} rows × 30 columns (fastest–slowest format)",
            f"{min(medians):.1f}–{max(medians):.1f} ms",
            "—",
            "INFO",
            notes=["; ".join(figures)],
        )
    ]
