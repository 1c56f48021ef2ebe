"""Export a registered model version as an MLflow Model directory.

The directory is what ``mlflow.sklearn.save_model(..., serialization_format="skops")`` writes,
so ``mlflow.pyfunc.load_model``, ``mlflow.sklearn.load_model`` and ``mlflow models serve``
take it unchanged: an ``MLmodel`` file with the ``python_function`` and ``sklearn`` flavors,
the model file, ``requirements.txt``, ``python_env.yaml``, ``conda.yaml`` and, when the version
has one, the input example in MLflow's ``dataframe_split`` layout.

MLflow reads skops files since its pickle-free formats arrived (MLflow 3.x), so the exported
file is the registry's own skops file, byte for byte, after its SHA-256 was checked: the
export never turns a model into a pickle. The directory is written beside the destination and
renamed into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from desktop_app.errors import AppError, ConflictError, InvalidValueError
from desktop_app.registry import Registry
from desktop_app.registry.entities import Artifact
from desktop_app.registry.model_files import load_trusted_model, untrusted_types
from desktop_app.registry.models import ModelVersion

MODEL_FILE = "model.skops"
EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"
# The MLflow release this layout (skops flavour, skops_trusted_types) was checked against.
MLFLOW_REQUIREMENT = "mlflow>=3.17"
# Packages the model needs at load time, pinned to the versions installed here (which wrote
# and just loaded it); pandas because MLflow's pyfunc feeds the model DataFrames.
_PINNED = ("scikit-learn", "numpy", "scipy", "pandas", "skops")

# pandas/NumPy dtype names (as the signature records them) → MLflow column types.
_MLFLOW_TYPES = {
    "bool": "boolean",
    "boolean": "boolean",
    "int8": "integer",
    "int16": "integer",
    "int32": "integer",
    "uint8": "integer",
    "uint16": "integer",
    "int64": "long",
    "uint32": "long",
    "uint64": "long",
    "float16": "float",
    "float32": "float",
    "float64": "double",
    "object": "string",
    "str": "string",
    "string": "string",
    "category": "string",
}


def mlflow_type(dtype: str) -> str | None:
    """The MLflow column type for a pandas dtype name, or None when there is none."""
    name = dtype.lower()
    if name.startswith("datetime64"):
        return "datetime"
    if name.startswith("string"):
        return "string"
    return _MLFLOW_TYPES.get(name)


def mlflow_signature(signature: Mapping[str, Any]) -> dict[str, str | None] | None:
    """The version's signature in MLflow's MLmodel form (column specs as JSON text).

    None when the input columns or a type is unknown (a model logged from arrays without an
    example): MLflow then loads the model without enforcing a schema.
    """
    inputs = signature.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        return None
    columns = []
    for column in inputs:
        kind = mlflow_type(str(column.get("type", "")))
        if kind is None:
            return None
        columns.append({"type": kind, "name": str(column["name"]), "required": True})
    outputs = []
    for column in signature.get("outputs") or []:
        kind = mlflow_type(str(column.get("type", ""))) or "double"
        outputs.append({"type": kind, "required": True})
    return {
        "inputs": json.dumps(columns),
        "outputs": json.dumps(outputs) if outputs else None,
        "params": None,
    }


def example_split(
    records: list[dict[str, Any]], signature: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """Example rows (records) in pandas' ``split`` layout, columns in the signature's order."""
    inputs = signature.get("inputs")
    if isinstance(inputs, list) and inputs:
        columns = [str(c["name"]) for c in inputs]
    else:
        columns = list(records[0]) if records else []
    return {"columns": columns, "data": [[row.get(c) for c in columns] for row in records]}


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def requirements() -> list[str]:
    """``requirements.txt`` lines: MLflow and the model's libraries as installed here."""
    lines = [MLFLOW_REQUIREMENT]
    for name in _PINNED:
        version = _installed(name)
        lines.append(f"{name}=={version}" if version else name)
    return lines


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a valid YAML double-quoted scalar; quoting everything keeps
    # versions such as 3.10 strings rather than numbers.
    return json.dumps(str(value))


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (all MLflow's files need)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 2))
            elif isinstance(item, Mapping):
                lines.append(f"{pad}{key}: {{}}")
            elif isinstance(item, list):
                lines.append(f"{pad}{key}: []")
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping | list) and item:
                nested = to_yaml(item, indent + 2).lstrip()
                lines.append(f"{pad}- {nested}")
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


def _environment_files(python_version: str, pins: list[str]) -> dict[str, str]:
    build = [f"pip=={v}" if (v := _installed("pip")) else "pip"]
    build.append(f"setuptools=={v}" if (v := _installed("setuptools")) else "setuptools")
    build.append("wheel")
    python_env = {
        "python": python_version,
        "build_dependencies": build,
        "dependencies": ["-r requirements.txt"],
    }
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python_version}", "pip", {"pip": pins}],
        "name": "mlflow-env",
    }
    return {
        "requirements.txt": "\n".join(pins) + "\n",
        "python_env.yaml": to_yaml(python_env) + "\n",
        "conda.yaml": to_yaml(conda) + "\n",
    }


def _verified_model(registry: Registry, version: ModelVersion) -> tuple[Any, bytes]:
    """The version's model object and file bytes, both checked against the registry's hash."""
    artifact = Artifact(
        id=0,
        run_id=version.run_id or "",
        path=version.artifact_path or MODEL_FILE,
        kind="model",
        sha256=version.artifact_sha256,
        size=0,
        created_at=version.created_at,
    )
    label = f"{version.model_name} v{version.version}"
    try:
        estimator = load_trusted_model(registry, artifact)
        # Read again for writing, checked again: the bytes written are exactly the ones the
        # registry recorded, whatever happened to the file since the load above.
        data = registry.artifacts.read_bytes(version.artifact_sha256, verify=True)
    except AppError as exc:
        raise AppError(
            f"{label} was not exported: {exc.message}", detail=exc.detail, code=exc.code
        ) from exc
    if not callable(getattr(estimator, "predict", None)):
        raise InvalidValueError(
            f"{label} was not exported: its model has no predict(), which MLflow's "
            "python_function flavor needs."
        )
    return estimator, data


def _mlmodel(version: ModelVersion, data: bytes, python_version: str) -> dict[str, Any]:
    import sklearn

    trusted = sorted(untrusted_types(data))
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
                "python_version": python_version,
            },
            "sklearn": {
                "code": None,
                "pickled_model": MODEL_FILE,
                "serialization_format": "skops",
                "sklearn_version": sklearn.__version__,
                "skops_trusted_types": trusted,
            },
        },
        "metadata": {
            "modeldesk_model": version.model_name,
            "modeldesk_version": version.version,
            "modeldesk_run_id": version.run_id,
            "modeldesk_artifact_sha256": version.artifact_sha256,
        },
        "model_size_bytes": len(data),
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": str(datetime.now(UTC).replace(tzinfo=None)),
    }
    mlflow_version = _installed("mlflow") or _installed("mlflow-skinny")
    if mlflow_version:
        mlmodel["mlflow_version"] = mlflow_version
    signature = mlflow_signature(version.signature)
    if signature is not None:
        mlmodel["signature"] = signature
        mlmodel["is_signature_from_type_hint"] = False
        mlmodel["type_hint_from_example"] = False
    if version.input_example:
        mlmodel["saved_input_example_info"] = {
            "artifact_path": EXAMPLE_FILE,
            "pandas_orient": "split",
            "serving_input_path": SERVING_EXAMPLE_FILE,
            "type": "dataframe",
        }
    return mlmodel


def _check_destination(destination: Path) -> None:
    if destination.is_file():
        raise ConflictError(f"{destination} is a file; give a new or empty folder.")
    if destination.is_dir() and any(destination.iterdir()):
        raise ConflictError(f"{destination} is not empty; give a new or empty folder.")


def export_mlflow_model(
    registry: Registry, version: ModelVersion, destination: str | os.PathLike[str]
) -> Path:
    """Write ``version`` as an MLflow Model directory at ``destination`` (new or empty)."""
    target = Path(destination).expanduser().absolute()
    _check_destination(target)
    _estimator, data = _verified_model(registry, version)
    python_version = platform.python_version()
    pins = requirements()
    files: dict[str, str] = {
        "MLmodel": to_yaml(_mlmodel(version, data, python_version)) + "\n",
        **_environment_files(python_version, pins),
    }
    if version.input_example:
        split = example_split(version.input_example, version.signature)
        files[EXAMPLE_FILE] = json.dumps(split)
        files[SERVING_EXAMPLE_FILE] = json.dumps({"dataframe_split": split}, indent=2)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # mkdtemp makes a private (0700) folder; the export is meant to be shared and served.
        staging.chmod(0o755)
        (staging / MODEL_FILE).write_bytes(data)
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        _check_destination(target)
        if target.is_dir():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
