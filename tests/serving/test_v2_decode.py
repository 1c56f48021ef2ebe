"""The vectorised conversion of JSON numbers gives what the element-by-element walk gives.

The walk stays as the reference: every request is decoded twice, once as served and once with
the fast conversion switched off, and the two must agree on the values (bit for bit, dtype and
shape) or on the exact 400 message.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from desktop_app.serving import inputs, v2
from desktop_app.serving.errors import RequestError
from desktop_app.serving.inputs import matrix_from_rows, numeric_array
from desktop_app.serving.model import ServedModel

N_FEATURES = 3


@pytest.fixture(scope="module")
def model() -> ServedModel:
    """A plain matrix model with three features."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, N_FEATURES))
    return ServedModel(LinearRegression().fit(x, x.sum(axis=1)), name="m", version="1")


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        result = call()
    except RequestError as exc:
        return "error", (exc.status, exc.message)
    array = np.asarray(result)
    return "ok", (array.dtype.str, array.shape, np.ascontiguousarray(array).tobytes())


def _both_ways(monkeypatch: pytest.MonkeyPatch, call: Any) -> tuple[Any, Any]:
    fast = _outcome(call)
    with monkeypatch.context() as patch:
        patch.setattr(v2, "_numeric_values", lambda *args: None)
        patch.setattr(inputs, "numeric_array", lambda data: None)
        slow = _outcome(call)
    return fast, slow


def _v2_body(data: Any, shape: Any, datatype: str = "FP64") -> bytes:
    tensor = {"name": "input-0", "shape": shape, "datatype": datatype, "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


def _decode(model: ServedModel, body: bytes) -> Any:
    return v2.decode_infer(model, body, None).model_input


ROW = [0.5, -2, 3.25]
MALFORMED = {
    "bool first": [True, *ROW[1:]],
    "bool as one": [*ROW[:2], True],
    "false as zero": [0, 0.0, False],
    "null": [None, *ROW[1:]],
    "string": ["a", *ROW[1:]],
    "numeric string": ["1.5", *ROW[1:]],
    "object": [{"a": 1}, *ROW[1:]],
    "nested bool": [ROW, [1.0, True, 2.0]],
    "nested null": [ROW, [1.0, None, 2.0]],
    "ragged": [ROW, ROW[:2]],
    "too deep": [[[v] for v in ROW]],
    "mixed nesting": [ROW, 1.0, 2.0, 3.0],
    "value then list": [1.0, ROW, 2.0],
    "empty rows": [[], []],
    "huge int": [2**70, *ROW[1:]],
    "huge int with floats": [2**70, 0.5, 1.5],
    "all bools": [True, False, True],
    "wrong count": ROW[:2],
    "empty": [],
}


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.parametrize("shape", [[1, 3], [-1, 3], [2, 3], [3], [1, 1, 3]])
@pytest.mark.parametrize("datatype", ["FP64", "FP32", "INT64"])
def test_malformed_data_gets_the_walks_message(
    model: ServedModel,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    shape: list[int],
    datatype: str,
) -> None:
    body = _v2_body(MALFORMED[name], shape, datatype)
    fast, slow = _both_ways(monkeypatch, lambda: _decode(model, body))
    assert fast == slow
    # Integers beyond int64 are numbers still (the walk converts them to float).
    assert fast[0] == "error" or (name.startswith("huge int") and datatype != "INT64")


_numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**64 - 1),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 0.0, 1.0, -0.0, -1, 2**53 + 1, 2**63 - 1]),
)
_values = st.one_of(_numbers, _numbers, _numbers, st.booleans(), st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 4),
    data=st.data(),
    nested=st.booleans(),
    free=st.booleans(),
    datatype=st.sampled_from(["FP64", "FP32", "INT64", "UINT8", "FP16"]),
)
def test_any_data_decodes_as_the_walk_decodes(
    model: ServedModel,
    rows: int,
    data: st.DataObject,
    nested: bool,
    free: bool,
    datatype: str,
) -> None:
    """Valid or not, flat or nested: the same values or the same 400 message."""
    clean = data.draw(st.booleans())
    element = _numbers if clean else _values
    matrix = data.draw(
        st.lists(
            st.lists(element, min_size=N_FEATURES, max_size=N_FEATURES),
            min_size=rows,
            max_size=rows,
        )
    )
    payload: Any = matrix if nested else [v for row in matrix for v in row]
    body = _v2_body(payload, [-1 if free else rows, N_FEATURES], datatype)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = _both_ways(monkeypatch, lambda: _decode(model, body))
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(
    matrix=st.lists(
        st.lists(_values, min_size=N_FEATURES - 1, max_size=N_FEATURES + 1),
        min_size=1,
        max_size=4,
    )
)
def test_mlflow_rows_convert_as_the_walk_converts(
    model: ServedModel, matrix: list[list[Any]]
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = _both_ways(monkeypatch, lambda: matrix_from_rows(model, matrix, "rows"))
    assert fast == slow


def test_numeric_array_accepts_plain_numbers_only() -> None:
    assert numeric_array([1, 2.5, -0.0]).dtype == np.float64
    assert numeric_array([[1, 2], [3, 4]]).shape == (2, 2)
    assert numeric_array([0, 1, 1, 0] * 100).dtype == np.int64
    refused: list[Any] = [
        [1, True],
        [[0.0, 1.0], [1.0, False]],
        [[0, 1]] * 50 + [[1, True]],
        [1, None],
        [1, "2"],
        [[1, 2], [3]],
        [],
        [[]],
        [2**70],
        "123",
        None,
    ]
    for bad in refused:
        assert numeric_array(bad) is None, bad


def test_a_thousand_row_batch_is_one_array(model: ServedModel) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, N_FEATURES))
    for payload in (x.ravel().tolist(), x.tolist()):
        got = _decode(model, _v2_body(payload, [1000, N_FEATURES]))
        assert got.dtype == np.float64 and np.array_equal(got, x)
        got32 = _decode(model, _v2_body(payload, [-1, N_FEATURES], "FP32"))
        assert got32.dtype == np.float32 and np.array_equal(got32, x.astype(np.float32))
