"""The V2 / Open Inference Protocol: metadata documents and inference, JSON or binary tensors.

Plain functions over bytes, no sockets: the ASGI layer hands over the body and the
``Inference-Header-Content-Length`` header and gets back a status, headers and a body.
Binary tensors follow Triton's extension: the JSON header first, then each tensor's raw
little-endian bytes (``BYTES`` elements as 4-byte length + data), in input or output order.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from desktop_app import APP_NAME, __version__
from desktop_app.serving.inputs import (
    RequestError,
    bad_request,
    check_finite,
    check_numbers,
    numeric_array,
)
from desktop_app.serving.model import (
    BOOL,
    INTEGER,
    NUMBER,
    PREDICT,
    PREDICT_PROBA,
    TEXT,
    ServedModel,
)

JSON_CT = b"application/json"
BINARY_CT = b"application/octet-stream"
HEADER_LENGTH = b"inference-header-content-length"

# V2 datatype -> NumPy little-endian dtype string (BYTES is variable-length, handled apart).
DTYPES = {
    "BOOL": "|b1",
    "UINT8": "|u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "|i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
NUMERIC = frozenset(DTYPES) - {"BOOL"}
_INT_TYPES = frozenset(t for t in NUMERIC if "INT" in t)

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def server_metadata() -> dict[str, Any]:
    """``GET /v2``."""
    return {"name": APP_NAME.lower(), "version": __version__, "extensions": ["binary_tensor_data"]}


def model_metadata(model: ServedModel) -> dict[str, Any]:
    """``GET /v2/models/{name}``: one matrix input, or one input per column of a table model."""
    if model.mixed:
        inputs = [
            {"name": c.name, "datatype": c.v2_datatype, "shape": [-1, 1]}
            for c in model.columns or []
        ]
    else:
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, model.n_features]}]
    outputs = [{"name": PREDICT, "datatype": model.predict_datatype, "shape": [-1]}]
    if model.has_proba:
        outputs.append(
            {"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, model.n_classes or -1]}
        )
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "sklearn",
        "inputs": inputs,
        "outputs": outputs,
    }


# ---- request decoding ----------------------------------------------------------------------


def _string_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise bad_request(f"{where}: '{key}' must be a string")
    return value


def _shape(tensor: dict[str, Any], where: str) -> list[int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= -1 for d in shape):
        raise bad_request(f"{where}: 'shape' must be a list of whole numbers ≥ 0 (or one -1)")
    if shape.count(-1) > 1:
        raise bad_request(f"{where}: 'shape' may hold at most one -1")
    return shape


def _resolve(shape: list[int], count: int, where: str) -> list[int]:
    """The shape with a single -1 inferred from the element count; the count must match."""
    if -1 in shape:
        known = 1
        for d in shape:
            if d != -1:
                known *= d
        if known == 0 or count % known:
            raise bad_request(f"{where}: {count} elements do not fit shape {shape}")
        shape = [count // known if d == -1 else d for d in shape]
    total = 1
    for d in shape:
        total *= d
    if total != count:
        raise bad_request(f"{where}: shape {shape} holds {total} elements but {count} were sent")
    return shape


def _flatten(data: Any, shape: list[int], where: str) -> list[Any]:
    """Row-major values of ``data``: already flat, or nested exactly as ``shape`` says."""
    if not isinstance(data, list):
        raise bad_request(f"{where}: 'data' must be a list")
    if not data or not isinstance(data[0], list):
        for value in data:
            if isinstance(value, list):
                raise bad_request(f"{where}: 'data' mixes lists and values (ragged)")
        return data
    flat: list[Any] = []
    dims = len(shape)

    def walk(node: Any, depth: int) -> None:
        if depth == dims - 1:
            if not isinstance(node, list):
                raise bad_request(f"{where}: 'data' is nested deeper or shallower than its shape")
            if shape[depth] != -1 and len(node) != shape[depth]:
                raise bad_request(f"{where}: 'data' does not match shape {shape} (ragged rows)")
            for value in node:
                if isinstance(value, list):
                    raise bad_request(f"{where}: 'data' is nested deeper than its shape")
            flat.extend(node)
            return
        if not isinstance(node, list):
            raise bad_request(f"{where}: 'data' is nested less deeply than its shape {shape}")
        if shape[depth] != -1 and len(node) != shape[depth]:
            raise bad_request(f"{where}: 'data' does not match shape {shape} (ragged rows)")
        for child in node:
            walk(child, depth + 1)

    if dims < 2:
        raise bad_request(f"{where}: 'data' is nested but the shape has one dimension")
    walk(data, 0)
    if -1 in shape:
        # With a free dimension, every nested row still has to be the same length.
        lengths = {len(r) for r in data if isinstance(r, list)}
        if len(lengths) > 1:
            raise bad_request(f"{where}: 'data' has rows of different lengths (ragged)")
    return flat


def _bytes_elements(raw: memoryview, count: int, where: str) -> list[bytes]:
    """``count`` length-prefixed elements that fill ``raw`` exactly."""
    out: list[bytes] = []
    pos, end = 0, len(raw)
    for _ in range(count):
        if pos + 4 > end:
            raise bad_request(f"{where}: binary BYTES data ends early")
        size = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if pos + size > end:
            raise bad_request(f"{where}: binary BYTES data ends early")
        out.append(bytes(raw[pos : pos + size]))
        pos += size
    if pos != end:
        raise bad_request(f"{where}: binary_data_size holds more bytes than {count} elements")
    return out


class _Tensor:
    """A decoded input tensor: its name, datatype, resolved shape and flat values."""

    __slots__ = ("datatype", "name", "shape", "values")

    def __init__(self, name: str, datatype: str, shape: list[int], values: Any) -> None:
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.values = values


def _decode_tensor(tensor: Any, index: int, binary: memoryview, offset: int) -> tuple[_Tensor, int]:
    """One input tensor (values as a NumPy array, or a list for BYTES); the new offset."""
    import numpy as np

    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise bad_request(f"{where} must be an object")
    name = _string_field(tensor, "name", where)
    where = f"input {name!r}"
    datatype = _string_field(tensor, "datatype", where)
    if datatype not in DTYPES and datatype != "BYTES":
        raise bad_request(f"{where}: unknown datatype {datatype!r}")
    shape = _shape(tensor, where)
    params = tensor.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise bad_request(f"{where}: 'parameters' must be an object")
    size = (params or {}).get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0:
            raise bad_request(f"{where}: binary_data_size must be a whole number")
        if "data" in tensor:
            raise bad_request(f"{where}: has both 'data' and binary_data_size")
        if offset + size > len(binary):
            raise bad_request(
                f"{where}: binary_data_size {size} runs past the end of the request body"
            )
        raw = binary[offset : offset + size]
        if datatype == "BYTES":
            if -1 in shape:
                raise bad_request(f"{where}: binary BYTES tensors need a full shape")
            count = 1
            for d in shape:
                count *= d
            values: Any = _bytes_elements(raw, count, where)
        else:
            item = np.dtype(DTYPES[datatype]).itemsize
            if size % item:
                raise bad_request(f"{where}: binary_data_size is not a multiple of {item}")
            count = size // item
            values = np.frombuffer(raw, dtype=DTYPES[datatype])
        shape = _resolve(shape, count, where)
        return _Tensor(name, datatype, shape, values), offset + size
    if "data" not in tensor:
        raise bad_request(f"{where}: no 'data' (and no binary_data_size)")
    if datatype in NUMERIC:
        fast = _numeric_values(tensor["data"], shape, name, datatype, where)
        if fast is not None:
            return fast, offset
    flat = _flatten(tensor["data"], shape, where)
    shape = _resolve(shape, len(flat), where)
    if datatype == "BYTES":
        for i, value in enumerate(flat):
            if not isinstance(value, str):
                raise bad_request(f"{where}: element {i} of a BYTES tensor must be a string")
        return _Tensor(name, datatype, shape, flat), offset
    if datatype == "BOOL":
        for i, value in enumerate(flat):
            if type(value) is not bool:
                raise bad_request(f"{where}: element {i} of a BOOL tensor must be true/false")
        return _Tensor(name, datatype, shape, np.array(flat, dtype=bool)), offset
    check_numbers(flat, where)
    if datatype in _INT_TYPES and any(type(v) is not int for v in flat):
        raise bad_request(f"{where}: an {datatype} tensor takes whole numbers only")
    try:
        array = np.array(flat, dtype=np.float32 if datatype == "FP32" else np.float64)
    except (OverflowError, ValueError) as exc:
        raise bad_request(f"{where}: {exc}") from exc
    return _Tensor(name, datatype, shape, array), offset


def _numeric_values(
    data: Any, shape: list[int], name: str, datatype: str, where: str
) -> _Tensor | None:
    """A numeric tensor from plain JSON numbers in one NumPy pass; None to take the slow walk.

    It gives exactly what the walk gives for valid data (flat float64 or float32 values, ints
    converted through float64 as ``np.array(values, dtype)`` converts them); anything the walk
    would refuse, or that needs a closer look, returns None so its message stays the same.
    """
    import numpy as np

    array = numeric_array(data)
    if array is None:
        return None
    # Nested data: exactly as deep as the shape, each known dimension matching.
    if array.ndim > 1 and (
        array.ndim != len(shape)
        or any(d != -1 and d != a for d, a in zip(shape, array.shape, strict=True))
    ):
        return None
    if datatype in _INT_TYPES and array.dtype.kind not in "iu":
        return None
    shape = _resolve(shape, array.size, where)
    values = array.reshape(-1).astype(np.float64, copy=False)
    if datatype == "FP32":
        values = values.astype(np.float32)
    return _Tensor(name, datatype, shape, values)


def _matrix_input(model: ServedModel, tensors: list[_Tensor]) -> Any:
    """The model input for a plain matrix model: one numeric [N, n] tensor."""
    import numpy as np

    if len(tensors) != 1:
        raise bad_request(
            f"the model takes exactly one input tensor of shape [N, {model.n_features}], "
            f"got {len(tensors)}"
        )
    tensor = tensors[0]
    where = f"input {tensor.name!r}"
    if tensor.datatype not in NUMERIC:
        raise bad_request(
            f"{where}: datatype {tensor.datatype} is not accepted; send FP64 or FP32 numbers"
        )
    shape = tensor.shape
    if len(shape) != 2 or shape[1] != model.n_features:
        raise bad_request(
            f"{where}: shape {shape} does not match the model's [N, {model.n_features}]"
        )
    if shape[0] < 1:
        raise bad_request(f"{where}: the batch is empty")
    array = tensor.values
    if tensor.datatype == "FP32":
        array = array.astype(np.float32, copy=False)
    elif array.dtype != np.float64:
        array = array.astype(np.float64)
    check_finite(array, where)
    return model.model_input(array.reshape(shape))


def _table_input(model: ServedModel, tensors: list[_Tensor]) -> Any:
    """The model input for a table model: one [N] or [N, 1] tensor per column, by name."""
    import numpy as np

    by_name: dict[str, _Tensor] = {}
    for tensor in tensors:
        if tensor.name in by_name:
            raise bad_request(f"input {tensor.name!r} is sent twice")
        by_name[tensor.name] = tensor
    columns = model.columns or []
    missing = [c.name for c in columns if c.name not in by_name]
    extra = [name for name in by_name if name not in model.column_index]
    if missing or extra:
        detail = []
        if missing:
            detail.append("missing " + ", ".join(repr(c) for c in missing[:10]))
        if extra:
            detail.append("unknown " + ", ".join(repr(c) for c in extra[:10]))
        raise bad_request(f"inputs do not match the model's columns ({'; '.join(detail)})")
    rows: int | None = None
    values: list[Any] = []
    for column in columns:
        tensor = by_name[column.name]
        where = f"input {column.name!r}"
        shape = tensor.shape
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] < 1:
            raise bad_request(f"{where}: shape {shape} must be [N] or [N, 1] with N ≥ 1")
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            raise bad_request(f"{where}: {shape[0]} rows, other inputs have {rows}")
        if column.kind == TEXT:
            if tensor.datatype != "BYTES":
                raise bad_request(f"{where}: a text column takes BYTES, not {tensor.datatype}")
            try:
                text = [v.decode("utf-8") if isinstance(v, bytes) else v for v in tensor.values]
            except UnicodeDecodeError as exc:
                raise bad_request(f"{where}: text is not valid UTF-8") from exc
            values.append(np.array(text, dtype=object))
        elif column.kind == BOOL:
            if tensor.datatype != "BOOL":
                raise bad_request(f"{where}: a true/false column takes BOOL, not {tensor.datatype}")
            values.append(np.asarray(tensor.values, dtype=bool))
        else:
            if tensor.datatype not in NUMERIC:
                raise bad_request(f"{where}: a numeric column takes numbers, not {tensor.datatype}")
            array = np.asarray(tensor.values)
            check_finite(array, where)
            wanted = np.int64 if column.kind == INTEGER and array.dtype.kind in "iu" else np.float64
            values.append(array.astype(wanted))
        assert column.kind in (TEXT, BOOL, NUMBER, INTEGER)
    return model.frame_from_columns(values)


class InferRequest:
    """A decoded inference request: the model input, its id and the outputs asked for."""

    __slots__ = ("id", "model_input", "outputs", "rows")

    def __init__(self, request_id: str, model_input: Any, outputs: list[tuple[str, bool]]) -> None:
        self.id = request_id
        self.model_input = model_input
        self.outputs = outputs
        self.rows = len(model_input)


def decode_infer(model: ServedModel, body: bytes, header_length: bytes | None) -> InferRequest:
    """Parse and check an inference request body (JSON, or JSON + binary tensors)."""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            raise bad_request("Inference-Header-Content-Length is not a number") from None
        if length < 0 or length > len(body):
            raise bad_request(
                f"Inference-Header-Content-Length {length} is larger than the body "
                f"({len(body)} bytes)"
            )
        head, binary = body[:length], memoryview(body)[length:]
    else:
        head, binary = body, memoryview(b"")
    if not head.strip():
        raise bad_request("the request body is empty; send a JSON inference request")
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise bad_request("the request body must be a JSON object")
    request_id = request.get("id")
    if request_id is None:
        request_id = uuid.uuid4().hex
    elif not isinstance(request_id, str):
        raise bad_request("'id' must be a string")
    params = request.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise bad_request("'parameters' must be an object")
    binary_default = (params or {}).get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise bad_request("parameters.binary_data_output must be true or false")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("'inputs' must be a non-empty list of tensors")
    tensors = []
    offset = 0
    for index, tensor in enumerate(inputs):
        decoded, offset = _decode_tensor(tensor, index, binary, offset)
        tensors.append(decoded)
    if offset != len(binary):
        raise bad_request(
            f"the body holds {len(binary) - offset} bytes after the binary tensors it declares"
        )
    outputs = _requested_outputs(model, request.get("outputs"), binary_default)
    model_input = _table_input(model, tensors) if model.mixed else _matrix_input(model, tensors)
    return InferRequest(request_id, model_input, outputs)


def _requested_outputs(
    model: ServedModel, requested: Any, binary_default: bool
) -> list[tuple[str, bool]]:
    if requested is None:
        return [(PREDICT, binary_default)]
    if not isinstance(requested, list):
        raise bad_request("'outputs' must be a list")
    outputs = []
    for index, item in enumerate(requested):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request(f"outputs[{index}] must be an object with a 'name'")
        name = item["name"]
        if name not in model.output_names:
            raise bad_request(
                f"unknown output {name!r}; this model has {', '.join(model.output_names)}"
            )
        params = item.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise bad_request(f"outputs[{index}].parameters must be an object")
        binary = (params or {}).get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise bad_request(f"outputs[{index}].parameters.binary_data must be true or false")
        outputs.append((name, binary))
    if not outputs:
        return [(PREDICT, binary_default)]
    return outputs


# ---- response encoding ---------------------------------------------------------------------


def _typed(array: Any, datatype: str) -> Any:
    import numpy as np

    if datatype == "INT64":
        return np.ascontiguousarray(array, dtype="<i8")
    if datatype == "FP64":
        return np.ascontiguousarray(array, dtype="<f8")
    if datatype == "BOOL":
        return np.ascontiguousarray(array, dtype=bool)
    return array


def encode_outputs(model: ServedModel, request: InferRequest, results: dict[str, Any]) -> Response:
    """The inference response: JSON, or JSON header + binary outputs when asked."""
    outputs = []
    chunks: list[bytes] = []
    for name, binary in request.outputs:
        array = results[name]
        datatype = model.predict_datatype if name == PREDICT else "FP64"
        typed = _typed(array, datatype)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            if datatype == "BYTES":
                data = b"".join(
                    len(b).to_bytes(4, "little") + b
                    for b in (str(v).encode("utf-8") for v in typed.ravel().tolist())
                )
            else:
                data = typed.tobytes()
            entry["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        elif datatype == "BYTES":
            entry["data"] = [str(v) for v in typed.ravel().tolist()]
        else:
            entry["data"] = typed.ravel()
        outputs.append(entry)
    document = {
        "model_name": model.name,
        "model_version": model.version,
        "id": request.id,
        "outputs": outputs,
    }
    head = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return 200, [(b"content-type", JSON_CT)], head
    headers = [
        (b"content-type", BINARY_CT),
        (HEADER_LENGTH, str(len(head)).encode()),
    ]
    return 200, headers, head + b"".join(chunks)


def infer(
    model: ServedModel, body: bytes, header_length: bytes | None
) -> tuple[InferRequest, Response]:
    """Decode, predict and encode one inference request."""
    request = decode_infer(model, body, header_length)
    results: dict[str, Any] = {}
    for name, _binary in request.outputs:
        if name in results:
            continue
        if name == PREDICT:
            results[name] = model.predict(request.model_input)
        else:
            results[name] = model.predict_proba(request.model_input)
    return request, encode_outputs(model, request, results)


def error_body(message: str) -> bytes:
    """A V2 error document."""
    return orjson.dumps({"error": message or "error"})


__all__ = ["RequestError", "decode_infer", "encode_outputs", "infer", "model_metadata"]
