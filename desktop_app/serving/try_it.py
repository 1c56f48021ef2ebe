"""The Serving panel's "Try it": one request to a running server, and the same request as a
``curl`` command, a Python ``requests`` snippet and a ``tritonclient`` snippet to copy.

Rows are dicts of column → value (the model's input example); the MLflow scoring protocol's
``dataframe_split`` carries them with their types by column name, so text columns work too.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from desktop_app.serving.http_call import NO_ANSWER, call

if TYPE_CHECKING:
    from desktop_app.registry import Registry

Row = dict[str, Any]


@dataclass(frozen=True)
class TryResult:
    """What the server answered and how long it took (status 0: no answer)."""

    status: int
    body: str
    latency_ms: float

    @property
    def ok(self) -> bool:
        """Whether the server answered 2xx."""
        return 200 <= self.status < 300


def columns_of(rows: list[Row]) -> list[str]:
    """Column names in first-seen order."""
    names: list[str] = []
    for row in rows:
        names.extend(name for name in row if name not in names)
    return names


def invocation_body(rows: list[Row]) -> dict[str, Any]:
    """An MLflow ``/invocations`` body (``dataframe_split``) for the rows."""
    columns = columns_of(rows)
    return {
        "dataframe_split": {
            "columns": columns,
            "data": [[row.get(name) for name in columns] for row in rows],
        }
    }


def send(
    url: str, rows: list[Row], *, token: str | None = None, timeout: float = 10.0
) -> TryResult:
    """POST the rows to ``url``/invocations and time the answer."""
    body = json.dumps(invocation_body(rows)).encode("utf-8")
    started = time.perf_counter()
    try:
        status, answer = call(url, "POST", "/invocations", body=body, token=token, timeout=timeout)
    except NO_ANSWER as exc:
        return TryResult(0, f"No answer from {url}: {exc}", (time.perf_counter() - started) * 1e3)
    latency_ms = (time.perf_counter() - started) * 1e3
    return TryResult(status, _pretty(answer.decode("utf-8", "replace")), latency_ms)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def parse_value(text: str, kind: str) -> Any:
    """A form field's text as the column's type ("number", "integer" or "text")."""
    text = text.strip()
    if kind == "text":
        return text
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if kind == "integer" and value.is_integer():
        return int(value)
    if math.isnan(value):
        return None
    return value


# ---- snippets ---------------------------------------------------------------------------------


def curl_snippet(url: str, rows: list[Row], *, token: str | None = None) -> str:
    """A shell command that sends the rows with curl."""
    body = json.dumps(invocation_body(rows)).replace("'", "'\\''")
    auth = f" \\\n  -H 'Authorization: Bearer {token}'" if token else ""
    return (
        f"curl -s {url}/invocations \\\n  -H 'Content-Type: application/json'{auth} \\\n"
        f"  -d '{body}'"
    )


def requests_snippet(url: str, rows: list[Row], *, token: str | None = None) -> str:
    """Python that sends the rows with requests and prints the predictions."""
    body = json.dumps(invocation_body(rows), indent=4)
    headers = f', headers={{"Authorization": "Bearer {token}"}}' if token else ""
    return (
        "import requests\n\n"
        f"body = {body}\n"
        f'response = requests.post("{url}/invocations", json=body{headers}, timeout=10)\n'
        "response.raise_for_status()\n"
        'print(response.json()["predictions"])\n'
    )


def tritonclient_snippet(
    url: str, model: str, metadata: dict[str, Any], rows: list[Row], *, token: str | None = None
) -> str:
    """Python for NVIDIA's tritonclient (V2 protocol), built from the server's model metadata."""
    inputs = metadata.get("inputs") or []
    address = urlsplit(url).netloc
    headers = f', headers={{"Authorization": "Bearer {token}"}}' if token else ""
    lines = [
        "import numpy as np",
        "import tritonclient.http as httpclient",
        "",
        f'client = httpclient.InferenceServerClient("{address}")',
    ]
    names = []
    if len(inputs) == 1 and len(inputs[0].get("shape", [])) == 2:
        spec = inputs[0]
        columns = columns_of(rows)
        values = [[row.get(name) for name in columns] for row in rows]
        dtype = "np.float32" if spec.get("datatype") == "FP32" else "np.float64"
        lines += [
            f"x = np.array({json.dumps(values)}, dtype={dtype})",
            f'inp = httpclient.InferInput("{spec["name"]}", list(x.shape), "{spec["datatype"]}")',
            "inp.set_data_from_numpy(x)",
        ]
        names.append("inp")
    else:
        for index, spec in enumerate(inputs):
            name = str(spec.get("name"))
            column = [row.get(name) for row in rows]
            two_d = len(spec.get("shape", [])) == 2
            dtype = "object" if spec.get("datatype") == "BYTES" else "np.float64"
            data = json.dumps([[v] if two_d else v for v in column])
            array = f"np.array({data}, dtype={dtype})"
            var = f"in{index}"
            lines += [
                f"{var}_data = {array}",
                f'{var} = httpclient.InferInput("{name}", list({var}_data.shape), '
                f'"{spec.get("datatype", "FP64")}")',
                f"{var}.set_data_from_numpy({var}_data)",
            ]
            names.append(var)
    lines += [
        f'result = client.infer("{model}", [{", ".join(names)}]{headers})',
        'print(result.as_numpy("predict"))',
    ]
    return "\n".join(lines) + "\n"


# ---- what to send -----------------------------------------------------------------------------


def example_rows(registry: Registry, model: str, ref: str | None) -> list[Row]:
    """Rows to prefill "Try it" with: the version's input example, else its columns, empty."""
    version = _version(registry, model, ref)
    rows = _rows_from(getattr(version, "input_example", None))
    if not rows and version.run_id:
        for artifact in registry.list_artifacts(version.run_id):
            if artifact.path == "model/input_example.json":
                try:
                    rows = _rows_from(json.loads(registry.artifacts.read_bytes(artifact.sha256)))
                except ValueError:
                    rows = []
                break
    if rows:
        return rows[:1]
    signature = version.signature or {}
    names = signature.get("feature_names_in")
    if isinstance(names, list) and names:
        return [{str(name): None for name in names}]
    count = signature.get("n_features_in")
    if isinstance(count, int) and count > 0:
        return [{f"f{index}": 0.0 for index in range(count)}]
    return []


def _version(registry: Registry, model: str, ref: str | None) -> Any:
    if ref is None:
        latest = registry.get_registered_model(model).latest_version
        return registry.get_model_version(model, latest or 0)
    return registry.get_model_version(model, ref[1:] if ref.startswith("@") else int(ref))


def _rows_from(example: Any) -> list[Row]:
    """Rows from an input example stored as records, or as MLflow's split/records forms."""
    if isinstance(example, str):
        try:
            example = json.loads(example)
        except ValueError:
            return []
    if isinstance(example, dict):
        for key in ("dataframe_split", "dataframe_records"):
            if key in example:
                return _rows_from(example[key])
        columns, data = example.get("columns"), example.get("data")
        if isinstance(columns, list) and isinstance(data, list):
            return [dict(zip(map(str, columns), row, strict=False)) for row in data]
        return []
    if isinstance(example, list):
        return [dict(row) for row in example if isinstance(row, dict)]
    return []


def model_metadata(url: str, model: str, *, token: str | None = None) -> dict[str, Any]:
    """The server's V2 metadata of the model (its inputs and outputs); {} when unavailable."""
    from urllib.parse import quote

    try:
        status, body = call(url, "GET", f"/v2/models/{quote(model, safe='')}", token=token)
        data = json.loads(body) if status == 200 else {}
    except (*NO_ANSWER, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
