"""The V2 / Open Inference Protocol as stock tritonclient and raw HTTP clients see it."""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.serving.serving_helpers import Models, ServerProcess, assert_alive, json_of


def _client(url: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=url.removeprefix("http://"))


def test_tritonclient_health_and_metadata(bc_url: str) -> None:
    client = _client(bc_url)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("bc") and client.is_model_ready("bc", "1")
    assert not client.is_model_ready("bc", "7")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata("bc", "1")
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 30]}]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["outputs"][0]["datatype"] == "INT64"
    with pytest.raises(InferenceServerException, match="not served"):
        client.get_model_metadata("other")


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infer_matches_sklearn(
    bc_url: str, models: Models, datatype: str, binary: bool
) -> None:
    rows = models.bc_x[:7].astype(np.float32 if datatype == "FP32" else np.float64)
    tensor = triton.InferInput("input-0", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=binary),
        triton.InferRequestedOutput("predict_proba", binary_data=binary),
    ]
    result = _client(bc_url).infer("bc", [tensor], outputs=outputs, request_id="req-42")
    assert result.get_response()["id"] == "req-42"
    np.testing.assert_array_equal(result.as_numpy("predict"), models.bc.predict(rows))
    np.testing.assert_allclose(
        result.as_numpy("predict_proba"), models.bc.predict_proba(rows), rtol=1e-12
    )


def test_tritonclient_default_outputs_are_binary_predict(bc_url: str, models: Models) -> None:
    rows = models.bc_x[10:13]
    tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    result = _client(bc_url).infer("bc", [tensor], model_version="1")
    np.testing.assert_array_equal(result.as_numpy("predict"), models.bc.predict(rows))
    assert result.as_numpy("predict_proba") is None


def test_tritonclient_text_columns_as_bytes(
    servers: dict[str, ServerProcess], models: Models
) -> None:
    client = _client(servers["mixed"].url)
    meta = client.get_model_metadata("mixed")
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "city": "BYTES",
        "size": "FP64",
        "rooms": "FP64",  # a scaled number: its integer type is not recorded without a signature
    }
    frame = models.mixed_frame.iloc[:9]
    inputs = []
    for name, datatype, values in (
        ("city", "BYTES", frame["city"].to_numpy(dtype=object).reshape(-1, 1)),
        ("size", "FP64", frame["size"].to_numpy().reshape(-1, 1)),
        ("rooms", "INT64", frame["rooms"].to_numpy().astype(np.int64).reshape(-1, 1)),
    ):
        tensor = triton.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=name != "size")
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    result = client.infer("mixed", inputs, outputs=outputs)
    got = [v.decode() for v in result.as_numpy("predict")]
    assert got == list(models.mixed.predict(frame))
    np.testing.assert_allclose(result.as_numpy("predict_proba"), models.mixed.predict_proba(frame))


def test_json_request_shapes(bc_url: str, models: Models, http: requests.Session) -> None:
    rows = models.bc_x[:3]
    expected = models.bc.predict(rows).tolist()
    bodies = [
        {
            "inputs": [
                {"name": "x", "shape": [3, 30], "datatype": "FP64", "data": rows.ravel().tolist()}
            ]
        },
        {"inputs": [{"name": "x", "shape": [3, 30], "datatype": "FP64", "data": rows.tolist()}]},
        {
            "inputs": [
                {"name": "x", "shape": [-1, 30], "datatype": "FP64", "data": rows.ravel().tolist()}
            ]
        },
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [3, 30],
                    "datatype": "INT64",
                    "data": rows.astype(int).ravel().tolist(),
                }
            ]
        },
    ]
    for body in bodies[:3]:
        for path in ("/v2/models/bc/infer", "/v2/models/bc/versions/1/infer"):
            response = http.post(bc_url + path, data=json.dumps(body))
            document = json_of(response)
            assert response.status_code == 200, document
            assert document["model_name"] == "bc" and document["model_version"] == "1"
            assert document["id"]
            assert document["outputs"] == [
                {"name": "predict", "datatype": "INT64", "shape": [3], "data": expected}
            ]
    response = http.post(bc_url + "/v2/models/bc/infer", data=json.dumps(bodies[3]))
    assert response.status_code == 200
    ints = rows.astype(int).astype(float)
    assert json_of(response)["outputs"][0]["data"] == models.bc.predict(ints).tolist()


def test_binary_request_and_response_raw(bc_url: str, models: Models) -> None:
    rows = models.bc_x[:2]
    raw = rows.astype("<f8").tobytes()
    head = json.dumps(
        {
            "id": "bin",
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 30],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "outputs": [
                {"name": "predict_proba", "parameters": {"binary_data": True}},
                {"name": "predict"},
            ],
        }
    ).encode()
    response = requests.post(
        bc_url + "/v2/models/bc/infer",
        data=head + raw,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    document = json.loads(response.content[:length])
    proba_entry, predict_entry = document["outputs"]
    assert proba_entry["parameters"]["binary_data_size"] == 2 * 2 * 8 and "data" not in proba_entry
    proba = np.frombuffer(response.content[length:], dtype="<f8").reshape(2, 2)
    np.testing.assert_allclose(proba, models.bc.predict_proba(rows), rtol=1e-12)
    assert predict_entry["data"] == models.bc.predict(rows).tolist()


def test_bytes_tensor_raw_length_prefixed(
    servers: dict[str, ServerProcess], models: Models
) -> None:
    frame = models.mixed_frame.iloc[:2]
    cities = b"".join(struct.pack("<I", len(c)) + c.encode() for c in frame["city"])
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "city",
                    "shape": [2, 1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(cities)},
                },
                {"name": "size", "shape": [2], "datatype": "FP64", "data": frame["size"].tolist()},
                {
                    "name": "rooms",
                    "shape": [2, 1],
                    "datatype": "INT64",
                    "data": frame["rooms"].tolist(),
                },
            ]
        }
    ).encode()
    response = requests.post(
        servers["mixed"].url + "/v2/models/mixed/infer",
        data=head + cities,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    document = json_of(response)
    assert response.status_code == 200, document
    assert document["outputs"][0]["datatype"] == "BYTES"
    assert document["outputs"][0]["data"] == list(models.mixed.predict(frame))


def test_unknown_model_or_version_is_404(bc_url: str, http: requests.Session) -> None:
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [0.0] * 30}]}
    )
    for path in (
        "/v2/models/nope/infer",
        "/v2/models/bc/versions/2/infer",
        "/v2/models/nope",
        "/v2/models/bc/versions/9/ready",
        "/v2/models/bc/config",
        "/v2/other",
    ):
        response = (
            http.post(bc_url + path, data=body) if "infer" in path else http.get(bc_url + path)
        )
        assert response.status_code == 404, path
        assert json_of(response)["error"]


def test_wrong_method_is_405(bc_url: str, http: requests.Session) -> None:
    for method, path in (
        ("GET", "/v2/models/bc/infer"),
        ("POST", "/v2/health/live"),
        ("DELETE", "/v2/models/bc"),
    ):
        response = http.request(method, bc_url + path)
        assert response.status_code == 405
        assert json_of(response)["error"]


def test_eight_clients_200_requests_equal_sklearn(bc_url: str, models: Models) -> None:
    x = models.bc_x
    expected = models.bc.predict(x)

    def call(i: int) -> tuple[int, str, list[int]]:
        row = x[i % len(x)]
        with requests.Session() as session:
            if i % 2:
                body = {
                    "id": f"r{i}",
                    "inputs": [
                        {"name": "x", "shape": [1, 30], "datatype": "FP64", "data": row.tolist()}
                    ],
                }
                document = session.post(bc_url + "/v2/models/bc/infer", json=body).json()
                return i, document["id"], document["outputs"][0]["data"]
            document = session.post(bc_url + "/invocations", json={"inputs": [row.tolist()]}).json()
            return i, f"r{i}", document["predictions"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(200)))
    for i, request_id, predictions in results:
        assert request_id == f"r{i}"
        assert predictions == [expected[i % len(x)]]
    assert_alive(bc_url)


def test_five_mib_batch(bc_url: str, models: Models) -> None:
    rows = np.tile(models.bc_x, (45, 1))[:24_000]
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
    )
    assert len(body) > 5 * 2**20
    response = requests.post(bc_url + "/v2/models/bc/infer", data=body, timeout=120)
    assert response.status_code == 200
    assert json_of(response)["outputs"][0]["data"] == models.bc.predict(rows).tolist()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_tritonclient_compressed_requests(bc_url: str, models: Models, algorithm: str) -> None:
    rows = models.bc_x[:4]
    tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    result = _client(bc_url).infer("bc", [tensor], request_compression_algorithm=algorithm)
    np.testing.assert_array_equal(result.as_numpy("predict"), models.bc.predict(rows))
