"""The OpenAPI 3 document of both protocols, and the local docs page that renders it.

The docs page is one HTML file in this package (``static/docs.html``, its script inline): no
CDN, nothing fetched from the internet, so it works offline and on air-gapped machines.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from desktop_app import APP_NAME, __version__
from desktop_app.serving.model import PREDICT, ServedModel
from desktop_app.serving.v2 import model_metadata

_STATIC = Path(__file__).with_name("static")


@functools.cache
def docs_page() -> bytes:
    """The HTML of ``/docs``."""
    return (_STATIC / "docs.html").read_bytes()


def _json(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"application/json": content}


def _v2_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json({"$ref": "#/components/schemas/V2Error"})}


def _mlflow_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": _json({"$ref": "#/components/schemas/MlflowError"}),
    }


def _example_row(model: ServedModel) -> list[Any]:
    if model.columns:
        return [{"text": "a", "bool": True}.get(c.kind, 0.0) for c in model.columns]
    return [0.0] * model.n_features


def openapi_document(model: ServedModel) -> dict[str, Any]:
    """An OpenAPI 3.0 description of every route this server answers."""
    name = model.name
    row = _example_row(model)
    names = model.feature_names or [f"f{i}" for i in range(model.n_features)]
    metadata = model_metadata(model)
    if model.mixed:
        v2_example: dict[str, Any] = {
            "id": "1",
            "inputs": [
                {"name": i["name"], "datatype": i["datatype"], "shape": [1, 1], "data": [v]}
                for i, v in zip(metadata["inputs"], row, strict=True)
            ],
        }
    else:
        v2_example = {
            "id": "1",
            "inputs": [
                {"name": "input-0", "datatype": "FP64", "shape": [1, model.n_features], "data": row}
            ],
            "outputs": [{"name": n} for n in model.output_names],
        }
    ok_empty = {"description": "OK"}
    v2_model = {
        "get": {
            "tags": ["V2"],
            "summary": "Model metadata: inputs and outputs",
            "responses": {
                "200": {"description": "Model metadata", "content": _json({}, metadata)},
                "404": _v2_error("Unknown model or version"),
            },
        }
    }
    v2_ready = {
        "get": {
            "tags": ["V2"],
            "summary": "Whether the model is ready",
            "responses": {"200": ok_empty, "404": _v2_error("Unknown model or version")},
        }
    }
    v2_infer = {
        "post": {
            "tags": ["V2"],
            "summary": "Inference (JSON, or JSON + binary tensors)",
            "description": (
                "Send `Inference-Header-Content-Length: L` to append binary tensors after the "
                "first L bytes of JSON (Triton's binary tensor data extension)."
            ),
            "parameters": [
                {
                    "name": "Inference-Header-Content-Length",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "integer"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": _json({"$ref": "#/components/schemas/V2Request"}, v2_example),
            },
            "responses": {
                "200": {
                    "description": f"Outputs ({', '.join(model.output_names)})",
                    "content": _json({"$ref": "#/components/schemas/V2Response"}),
                },
                "400": _v2_error("Malformed request"),
                "404": _v2_error("Unknown model or version"),
                "413": _v2_error("Body over the size limit"),
            },
        }
    }
    paths: dict[str, Any] = {
        "/v2/health/live": {
            "get": {"tags": ["V2"], "summary": "Server is live", "responses": {"200": ok_empty}}
        },
        "/v2/health/ready": {
            "get": {
                "tags": ["V2"],
                "summary": "Server is ready (model loaded)",
                "responses": {"200": ok_empty, "400": _v2_error("Not ready")},
            }
        },
        "/v2": {
            "get": {
                "tags": ["V2"],
                "summary": "Server metadata",
                "responses": {"200": {"description": "Name, version, extensions"}},
            }
        },
        f"/v2/models/{name}": v2_model,
        f"/v2/models/{name}/versions/{model.version}": v2_model,
        f"/v2/models/{name}/ready": v2_ready,
        f"/v2/models/{name}/versions/{model.version}/ready": v2_ready,
        f"/v2/models/{name}/infer": v2_infer,
        f"/v2/models/{name}/versions/{model.version}/infer": v2_infer,
        "/ping": {
            "get": {"tags": ["MLflow"], "summary": "Model loaded", "responses": {"200": ok_empty}}
        },
        "/health": {
            "get": {"tags": ["MLflow"], "summary": "Model loaded", "responses": {"200": ok_empty}}
        },
        "/version": {
            "get": {
                "tags": ["MLflow"],
                "summary": "Server version (plain text)",
                "responses": {"200": {"description": "Version", "content": {"text/plain": {}}}},
            }
        },
        "/invocations": {
            "post": {
                "tags": ["MLflow"],
                "summary": "Predict (dataframe_split, dataframe_records, instances, inputs, CSV)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/MlflowRequest"},
                            "examples": {
                                "dataframe_split": {
                                    "value": {"dataframe_split": {"columns": names, "data": [row]}}
                                },
                                "dataframe_records": {
                                    "value": {
                                        "dataframe_records": [dict(zip(names, row, strict=True))]
                                    }
                                },
                                "instances": {"value": {"instances": [row]}},
                                "inputs": {"value": {"inputs": [row]}},
                            },
                        },
                        "text/csv": {
                            "schema": {"type": "string"},
                            "example": ",".join(names) + "\n" + ",".join(map(str, row)) + "\n",
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "One prediction per row",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {"predictions": {"type": "array", "items": {}}},
                            }
                        ),
                    },
                    "400": _mlflow_error("Malformed request"),
                    "413": _mlflow_error("Body over the size limit"),
                    "415": _mlflow_error("Unsupported Content-Type"),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["Monitoring"],
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Prometheus text format"}},
            }
        },
        "/modeldesk/stats": {
            "get": {
                "tags": ["Monitoring"],
                "summary": "Requests, errors, requests/s over 1 min, latency percentiles",
                "responses": {"200": {"description": "Statistics", "content": _json({})}},
            }
        },
        "/modeldesk/recording": {
            "get": {
                "tags": ["Monitoring"],
                "summary": "Input recording state",
                "responses": {"200": {"description": "State", "content": _json({})}},
            },
            "put": {
                "tags": ["Monitoring"],
                "summary": "Switch input recording",
                "requestBody": {
                    "content": _json(
                        {
                            "type": "object",
                            "properties": {
                                "enabled": {"type": "boolean"},
                                "fraction": {"type": "number", "minimum": 0, "maximum": 1},
                            },
                        },
                        {"enabled": True, "fraction": 0.1},
                    )
                },
                "responses": {"200": {"description": "New state"}},
            },
        },
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string", "enum": ["FP64", "FP32", "INT64", "BYTES", "BOOL"]},
            "parameters": {"type": "object"},
            "data": {"type": "array", "items": {}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{APP_NAME} model server: {name} v{model.version}",
            "version": __version__,
            "description": (
                "Open Inference Protocol (KServe V2, with Triton's binary tensor extension) and "
                f"MLflow's scoring protocol on one port. Outputs: {PREDICT}"
                + (", predict_proba." if model.has_proba else ".")
            ),
        },
        "tags": [{"name": "V2"}, {"name": "MLflow"}, {"name": "Monitoring"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "V2Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "MlflowError": {
                    "type": "object",
                    "required": ["error_code", "message"],
                    "properties": {
                        "error_code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
                "V2Request": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object"},
                        "inputs": {"type": "array", "items": tensor},
                        "outputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "enum": model.output_names},
                                    "parameters": {"type": "object"},
                                },
                            },
                        },
                    },
                },
                "V2Response": {
                    "type": "object",
                    "properties": {
                        "model_name": {"type": "string"},
                        "model_version": {"type": "string"},
                        "id": {"type": "string"},
                        "outputs": {"type": "array", "items": tensor},
                    },
                },
                "MlflowRequest": {
                    "type": "object",
                    "description": "Exactly one of the four keys, plus optional params.",
                    "properties": {
                        "dataframe_split": {"type": "object"},
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array", "items": {"type": "array", "items": {}}},
                        "inputs": {"type": "array", "items": {"type": "array", "items": {}}},
                        "params": {"type": "object"},
                    },
                },
            },
        },
    }
