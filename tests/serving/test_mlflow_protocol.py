"""MLflow's scoring protocol on the same port: every request shape of SERVING_PROTOCOL.md §2."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests

from tests.serving.serving_helpers import Models, ServerProcess, json_of


def test_health_and_version(bc_url: str, http: requests.Session) -> None:
    assert http.get(bc_url + "/ping").status_code == 200
    assert http.get(bc_url + "/health").status_code == 200
    version = http.get(bc_url + "/version")
    assert version.status_code == 200 and version.text.strip()


def test_every_json_format_and_csv(bc_url: str, models: Models, http: requests.Session) -> None:
    rows = models.bc_x[:4]
    expected = models.bc.predict(rows).tolist()
    columns = [f"c{i}" for i in range(30)]  # no feature names: taken by position
    bodies = [
        {"dataframe_split": {"columns": columns, "data": rows.tolist()}},
        {"dataframe_split": {"data": rows.tolist(), "index": [5, 6, 7, 8]}},
        {"dataframe_records": [dict(zip(columns, r, strict=True)) for r in rows.tolist()]},
        {"instances": rows.tolist()},
        {"inputs": rows.tolist(), "params": {"ignored": 1}},
    ]
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; charset=UTF-8",
    ):
        for body in bodies:
            response = http.post(
                bc_url + "/invocations", json=body, headers={"Content-Type": content_type}
            )
            assert response.status_code == 200, response.text
            assert json_of(response) == {"predictions": expected}
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", header=",".join(columns), comments="")
    for content_type in ("text/csv", "text/csv; charset=utf-8"):
        response = http.post(
            bc_url + "/invocations", data=buffer.getvalue(), headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, response.text
        assert json_of(response) == {"predictions": expected}


def test_columns_are_matched_by_name(servers: dict[str, ServerProcess], models: Models) -> None:
    url = servers["named"].url + "/invocations"
    frame = models.named_frame.iloc[:5]
    expected = models.named.predict(frame).tolist()
    shuffled = frame[list(reversed(frame.columns))]
    for body in (
        {"dataframe_split": shuffled.to_dict(orient="split")},
        {"dataframe_records": shuffled.to_dict(orient="records")},
    ):
        response = requests.post(url, json=body)
        assert response.status_code == 200, response.text
        assert json_of(response)["predictions"] == expected
    response = requests.post(
        url, data=shuffled.to_csv(index=False), headers={"Content-Type": "text/csv"}
    )
    assert json_of(response)["predictions"] == expected
    wrong = frame.rename(columns={frame.columns[0]: "other"})
    response = requests.post(url, json={"dataframe_split": wrong.to_dict(orient="split")})
    assert response.status_code == 400
    assert "missing" in json_of(response)["message"]


def test_mixed_types_by_column_name(servers: dict[str, ServerProcess], models: Models) -> None:
    url = servers["mixed"].url + "/invocations"
    frame = models.mixed_frame.iloc[:6]
    expected = list(models.mixed.predict(frame))
    for body in (
        {"dataframe_split": frame.to_dict(orient="split")},
        {"dataframe_records": frame.to_dict(orient="records")},
        {"instances": frame.to_numpy().tolist()},
    ):
        response = requests.post(url, json=body)
        assert response.status_code == 200, response.text
        assert json_of(response)["predictions"] == expected
    csv = frame.to_csv(index=False)
    response = requests.post(url, data=csv, headers={"Content-Type": "text/csv"})
    assert json_of(response)["predictions"] == expected
    bad = frame.to_dict(orient="records")
    bad[0]["size"] = "big"
    response = requests.post(url, json={"dataframe_records": bad})
    assert response.status_code == 400 and "size" in json_of(response)["message"]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("application/json; format=pandas-split", 415),
        ("application/json; charset=latin-1", 415),
        ("application/x-www-form-urlencoded", 415),
    ],
)
def test_content_type_rules(bc_url: str, content_type: str | None, status: int) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.post(bc_url + "/invocations", data=b'{"instances": [[0]]}', headers=headers)
    assert response.status_code == status
    document = json_of(response)
    assert document["error_code"] == "BAD_REQUEST" and document["message"]


def test_unknown_path_and_method(bc_url: str) -> None:
    response = requests.get(bc_url + "/predict")
    assert response.status_code == 404
    assert json_of(response)["error_code"] == "ENDPOINT_NOT_FOUND"
    response = requests.get(bc_url + "/invocations")
    assert response.status_code == 405 and json_of(response)["message"]
