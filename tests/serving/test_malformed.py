"""Bad requests get a 4xx JSON error of the path's protocol, and the server keeps serving."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.serving.serving_helpers import assert_alive, json_of

ROW = [0.5] * 30


def _v2(**tensor: object) -> bytes:
    base: dict[str, object] = {"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ROW}
    base.update(tensor)
    return json.dumps({"inputs": [base]}).encode()


V2_CASES = {
    "empty": (b"", {}),
    "not json": (b"{inputs:", {}),
    "truncated": (_v2()[:-5], {}),
    "array body": (b"[1, 2]", {}),
    "no inputs": (b'{"id": "a"}', {}),
    "inputs not list": (b'{"inputs": {}}', {}),
    "empty inputs": (b'{"inputs": []}', {}),
    "two inputs": (json.dumps({"inputs": [json.loads(_v2())["inputs"][0]] * 2}).encode(), {}),
    "tensor not object": (b'{"inputs": [1]}', {}),
    "name missing": (
        json.dumps({"inputs": [{"shape": [1, 30], "datatype": "FP64", "data": ROW}]}).encode(),
        {},
    ),
    "id not string": (json.dumps({"id": 5, **json.loads(_v2())}).encode(), {}),
    "shape not list": (_v2(shape="1,30"), {}),
    "shape rank 1": (_v2(shape=[30]), {}),
    "shape strings": (_v2(shape=["1", "30"]), {}),
    "wrong features": (_v2(shape=[1, 29], data=ROW[:29]), {}),
    "count mismatch": (_v2(data=ROW[:29]), {}),
    "zero rows": (_v2(shape=[0, 30], data=[]), {}),
    "ragged": (_v2(shape=[2, 15], data=[ROW[:15], ROW[:14]]), {}),
    "too deep": (_v2(data=[[[v] for v in ROW]]), {}),
    "string value": (_v2(data=["a", *ROW[1:]]), {}),
    "null value": (_v2(data=[None, *ROW[1:]]), {}),
    "bool value": (_v2(data=[True, *ROW[1:]]), {}),
    "nan literal": (_v2().replace(b"0.5", b"NaN", 1), {}),
    "huge number": (_v2().replace(b"0.5", b"1e999", 1), {}),
    "bytes datatype": (_v2(datatype="BYTES", data=["a"] * 30), {}),
    "bool datatype": (_v2(datatype="BOOL", data=[True] * 30), {}),
    "unknown datatype": (_v2(datatype="FP128"), {}),
    "unknown output": (json.dumps({**json.loads(_v2()), "outputs": [{"name": "x"}]}).encode(), {}),
    "outputs not list": (json.dumps({**json.loads(_v2()), "outputs": "predict"}).encode(), {}),
    "header length too big": (_v2(), {"Inference-Header-Content-Length": "99999"}),
    "header length junk": (_v2(), {"Inference-Header-Content-Length": "abc"}),
    "binary size wrong": (
        (lambda h: h + b"\0" * 16)(
            _v2(data=None, parameters={"binary_data_size": 16}).replace(b', "data": null', b"")
        ),
        {"Inference-Header-Content-Length": "auto"},
    ),
    "binary leftover": (_v2() + b"\0" * 8, {"Inference-Header-Content-Length": "auto"}),
    "binary missing": (
        _v2(data=None, parameters={"binary_data_size": 240}).replace(b', "data": null', b""),
        {"Inference-Header-Content-Length": "auto"},
    ),
    "nan binary": (
        (lambda h: h + bytes.fromhex("000000000000f87f") + b"\0" * 232)(
            _v2(data=None, parameters={"binary_data_size": 240}).replace(b', "data": null', b"")
        ),
        {"Inference-Header-Content-Length": "auto"},
    ),
}


@pytest.mark.parametrize("case", list(V2_CASES))
def test_malformed_v2_is_400(bc_url: str, case: str) -> None:
    body, headers = V2_CASES[case]
    headers = dict(headers)
    if headers.get("Inference-Header-Content-Length") == "auto":
        headers["Inference-Header-Content-Length"] = str(body.index(b"}]}") + 3)
    response = requests.post(bc_url + "/v2/models/bc/infer", data=body, headers=headers)
    assert response.status_code == 400, (case, response.text)
    assert json_of(response)["error"]
    assert_alive(bc_url)


MLFLOW_CASES = {
    "empty": b"",
    "not json": b"{",
    "truncated": json.dumps({"instances": [ROW]}).encode()[:-3],
    "not object": b"[[0.5]]",
    "no key": b'{"data": [[1]]}',
    "two keys": json.dumps({"instances": [ROW], "inputs": [ROW]}).encode(),
    "unknown extra key": json.dumps({"instances": [ROW], "rows": 1}).encode(),
    "split not object": b'{"dataframe_split": [[1]]}',
    "split without data": b'{"dataframe_split": {"columns": ["a"]}}',
    "records not list": b'{"dataframe_records": {"a": 1}}',
    "records not objects": b'{"dataframe_records": [[1]]}',
    "instances not list": b'{"instances": 5}',
    "instances flat": json.dumps({"instances": ROW}).encode(),
    "inputs empty": b'{"inputs": []}',
    "ragged": json.dumps({"instances": [ROW, ROW[:29]]}).encode(),
    "wrong width": json.dumps({"inputs": [ROW[:29]]}).encode(),
    "string": json.dumps({"instances": [["a", *ROW[1:]]]}).encode(),
    "null": json.dumps({"instances": [[None, *ROW[1:]]]}).encode(),
    "bool": json.dumps({"instances": [[False, *ROW[1:]]]}).encode(),
    "nan": json.dumps({"instances": [ROW]}).replace("0.5", "NaN", 1).encode(),
    "split wrong columns": json.dumps(
        {"dataframe_split": {"columns": ["a"], "data": [ROW]}}
    ).encode(),
}
CSV_CASES = {
    "csv empty": b"",
    "csv header only": b"a,b\n",
    "csv ragged": (",".join(f"c{i}" for i in range(30)) + "\n" + "1," * 28 + "1\n").encode(),
    "csv text": (",".join(f"c{i}" for i in range(30)) + "\nx" + ",1" * 29 + "\n").encode(),
    "csv nan": (",".join(f"c{i}" for i in range(30)) + "\nnan" + ",1" * 29 + "\n").encode(),
    "csv empty cell": (",".join(f"c{i}" for i in range(30)) + "\n" + ",1" * 29 + "\n").encode(),
}


@pytest.mark.parametrize("case", list(MLFLOW_CASES) + list(CSV_CASES))
def test_malformed_mlflow_is_400(bc_url: str, case: str) -> None:
    is_csv = case in CSV_CASES
    body = CSV_CASES[case] if is_csv else MLFLOW_CASES[case]
    content_type = "text/csv" if is_csv else "application/json"
    response = requests.post(
        bc_url + "/invocations", data=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400, (case, response.text)
    document = json_of(response)
    assert document["error_code"] == "BAD_REQUEST" and document["message"]
    assert_alive(bc_url)


@pytest.mark.parametrize("path", ["/v2/models/bc/infer", "/invocations"])
def test_oversized_body_gets_a_readable_413(bc_url: str, path: str) -> None:
    body = b"[" + b"0.5," * (50 * 2**20 // 4) + b"0]"
    response = requests.post(
        bc_url + path, data=body, headers={"Content-Type": "application/json"}, timeout=120
    )
    assert response.status_code == 413
    assert json_of(response)["error" if path.startswith("/v2") else "message"]
    assert_alive(bc_url)


def test_garbage_and_half_requests_do_not_hurt(bc_url: str) -> None:
    parts = urlsplit(bc_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.connect()
    conn.sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert conn.sock.recv(100).startswith(b"HTTP/1.1 400")
    conn.close()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.connect()
    conn.sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    conn.close()
    assert_alive(bc_url)
