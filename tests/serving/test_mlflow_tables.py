"""MLflow's /invocations tables (CSV, dataframe_records): read by column, bad rows named."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from desktop_app.serving import mlflow_protocol
from desktop_app.serving.errors import RequestError
from desktop_app.serving.model import ServedModel


@pytest.fixture(scope="module")
def named_model() -> ServedModel:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    estimator = LinearRegression().fit(frame, rng.normal(size=50))
    return ServedModel(estimator, name="m", version="1")


# The server filters this warning (prepare_inference): it hands named models a bare matrix.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_a_numeric_csv_batch_predicts_as_the_same_frame_does(named_model: ServedModel) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(500, 3)) * 1e3, columns=["c", "a", "b"])
    header, *lines = frame.to_csv(index=False).splitlines()
    body = "\n".join([header, *(line.replace(",", " , ") for line in lines)]).encode()
    decoded = mlflow_protocol.decode(named_model, b"text/csv", body)
    in_model_order = frame[["a", "b", "c"]]
    # Every value read back exactly (pandas writes floats so that they round-trip).
    np.testing.assert_array_equal(np.asarray(decoded, dtype=float), in_model_order.to_numpy())
    expected = named_model.estimator.predict(in_model_order)
    np.testing.assert_allclose(named_model.predict(decoded), expected, rtol=1e-12)


@pytest.mark.parametrize("cell", ["abc", "", "1.5.2"])
def test_a_bad_cell_is_named_by_line_and_column(named_model: ServedModel, cell: str) -> None:
    body = f"a,b,c\n1,2,3\n4,5,6\n7,{cell},9\n".encode()
    with pytest.raises(RequestError) as refused:
        mlflow_protocol.decode(named_model, b"text/csv", body)
    assert refused.value.status == 400
    assert refused.value.message.startswith("CSV line 4, 'b':")
    assert "is not a number" in refused.value.message


def test_records_in_any_key_order_predict_as_the_frame_does(named_model: ServedModel) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    records = frame.to_dict(orient="records")
    records[7] = {"c": records[7]["c"], "a": records[7]["a"], "b": records[7]["b"]}
    body = orjson.dumps({"dataframe_records": records})
    decoded = mlflow_protocol.decode(named_model, b"application/json", body)
    np.testing.assert_array_equal(np.asarray(decoded, dtype=float), frame.to_numpy())


@pytest.mark.parametrize(
    "odd",
    [
        {"a": 1.0, "b": 2.0},
        {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0},
        {"a": 1.0, "b": 2.0, "x": 3.0},
    ],
)
def test_a_record_with_other_columns_is_named(named_model: ServedModel, odd: dict) -> None:
    records = [{"a": 1.0, "b": 2.0, "c": 3.0}] * 4 + [odd] + [{"a": 0.0, "b": 0.0, "c": 0.0}]
    with pytest.raises(RequestError) as refused:
        mlflow_protocol.decode(
            named_model, b"application/json", orjson.dumps({"dataframe_records": records})
        )
    assert refused.value.status == 400
    assert refused.value.message == "dataframe_records[4] has other columns than the first record"
