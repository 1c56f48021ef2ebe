"""The served model: a registered version loaded after its hash check, with its input layout.

A model takes either one numeric matrix (``input-0``, shape ``[-1, n]``) or, when some of its
columns hold text or true/false values (a training-runner pipeline that one-hot encodes
categories), one column per input, matched by name. Everything a request decoder needs to know
about the model lives here; the protocols never touch scikit-learn themselves.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.errors import AppError, NotFoundError
from desktop_app.serving.errors import RequestError

if TYPE_CHECKING:
    import numpy as np

    from desktop_app.registry.entities import Artifact
    from desktop_app.registry.store import Registry
    from desktop_app.serving.fastpath import FastPath

TEXT, NUMBER, INTEGER, BOOL = "text", "number", "integer", "bool"
V2_TYPE_OF_KIND = {TEXT: "BYTES", NUMBER: "FP64", INTEGER: "INT64", BOOL: "BOOL"}
PREDICT, PREDICT_PROBA = "predict", "predict_proba"
# Input dtypes (by NumPy type code: float64, float32) the compiled fast paths take.
FAST_DTYPES = ("d", "f")

# Rows x features above which inference runs in a worker thread, so that health checks and
# small requests are answered while a large batch is computed.
BIG_BATCH_CELLS = 20_000


class ModelLoadError(AppError):
    """The registered version cannot be served (missing, tampered with, or unusable)."""

    code = "MODEL_LOAD"


@dataclass(frozen=True)
class Column:
    """One named input column of a model that takes a table."""

    name: str
    kind: str

    @property
    def v2_datatype(self) -> str:
        """The V2 datatype declared for this column."""
        return V2_TYPE_OF_KIND[self.kind]


class ServedModel:
    """A fitted estimator with what the protocols need: feature layout, outputs, predict."""

    def __init__(
        self,
        estimator: Any,
        *,
        name: str,
        version: str,
        alias: str | None = None,
        columns: list[Column] | None = None,
    ) -> None:
        import numpy as np

        self.estimator = estimator
        self.name = name
        self.version = version
        self.alias = alias
        n = getattr(estimator, "n_features_in_", None)
        if n is None:
            raise ModelLoadError(
                f"Model {name} v{version} does not say how many input features it takes "
                "(no n_features_in_); it cannot be served."
            )
        self.n_features = int(n)
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names: list[str] | None = None if names is None else [str(c) for c in names]
        if columns is None and self.feature_names is not None:
            columns = [Column(c, NUMBER) for c in self.feature_names]
        self.columns = columns
        # Mixed: some columns are text or booleans, so inputs travel per column, not as a matrix.
        self.mixed = bool(columns) and any(c.kind in (TEXT, BOOL) for c in columns or ())
        self.column_index = {c.name: i for i, c in enumerate(columns or ())}
        self.has_proba = hasattr(estimator, "predict_proba")
        classes = getattr(estimator, "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)
        self.predict_datatype = _datatype_of(self.classes)
        self.output_names = [PREDICT, PREDICT_PROBA] if self.has_proba else [PREDICT]
        self._fast: FastPath | None = None
        # The probes below hand a model fitted on named columns a bare matrix on purpose; its
        # "X does not have valid feature names" warnings would only litter the server's log.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            self.needs_frame = self.mixed or (
                self.feature_names is not None and not self._takes_plain_arrays()
            )
            if not self.needs_frame:
                from desktop_app.serving.fastpath import compile_fast

                self._fast = compile_fast(estimator)
        self.n_classes = None if self.classes is None else len(self.classes)

    def _takes_plain_arrays(self) -> bool:
        """Whether the estimator accepts a bare matrix (a column selection by name does not)."""
        import numpy as np

        try:
            self.estimator.predict(np.zeros((1, self.n_features)))
        except Exception:
            return False
        return True

    # ---- inference ---------------------------------------------------------------------------

    def frame_from_matrix(self, x: np.ndarray) -> Any:
        """A DataFrame with the model's column names over a numeric matrix."""
        import pandas as pd

        return pd.DataFrame(x, columns=self.feature_names, copy=False)

    def frame_from_columns(self, values: list[Any]) -> Any:
        """A DataFrame from one value sequence per column, in the model's column order."""
        import pandas as pd

        columns = self.columns or []
        return pd.DataFrame({c.name: v for c, v in zip(columns, values, strict=True)})

    def model_input(self, x: Any) -> Any:
        """What the estimator is given for a matrix ``x`` (a DataFrame when it needs names)."""
        if self.needs_frame and not self.mixed:
            return self.frame_from_matrix(x)
        return x

    def predict(self, x: Any) -> np.ndarray:
        """``estimator.predict`` on a prepared input (matrix or DataFrame)."""
        import numpy as np

        fast = self._fast
        if fast is not None and type(x) is np.ndarray and x.dtype.char in FAST_DTYPES:
            return fast.predict(x)
        try:
            return np.asarray(self.estimator.predict(x))
        except (ValueError, TypeError) as exc:
            raise _rejected(exc) from None

    def predict_proba(self, x: Any) -> np.ndarray:
        """``estimator.predict_proba`` on a prepared input, as float64."""
        import numpy as np

        fast = None if self._fast is None else self._fast.predict_proba
        if fast is not None and type(x) is np.ndarray and x.dtype.char in FAST_DTYPES:
            return fast(x)
        try:
            return np.asarray(self.estimator.predict_proba(x), dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise _rejected(exc) from None

    def describe(self) -> dict[str, Any]:
        """A short summary for logs and the stats endpoint."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "estimator": type(self.estimator).__name__,
            "n_features": self.n_features,
            "columns": None if self.columns is None else [c.name for c in self.columns],
            "mixed": self.mixed,
            "fast_predict": self._fast is not None,
            "fast_predict_proba": self._fast is not None and self._fast.predict_proba is not None,
        }


def _rejected(exc: Exception) -> RequestError:
    """A 400 for input the estimator itself refused (an unseen category, say)."""
    return RequestError(400, f"the model rejected the input: {exc}")


def _datatype_of(classes: Any) -> str:
    """The V2 datatype of ``predict``: by class label type, FP64 for regressors."""
    if classes is None:
        return "FP64"
    kind = classes.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    if kind == "O" and len(classes) and all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if kind == "O" and len(classes) and all(isinstance(c, int) for c in classes):
        return "INT64"
    return "BYTES"


# ---- columns of a table model ------------------------------------------------------------------


def _kind_of_dtype(text: str) -> str:
    """A column kind from a pandas/NumPy dtype name as the training runner records it."""
    text = text.lower()
    if text.startswith("bool"):
        return BOOL
    if text.startswith(("int", "uint")):
        return INTEGER
    if text.startswith(("float", "double")):
        return NUMBER
    return TEXT


def _columns_from_signature(signature: Any, names: list[str]) -> list[Column] | None:
    """Column kinds from a signature ``{"inputs": [{"name", "type"}, ...]}``, if it covers all."""
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs"), list):
        return None
    kinds: dict[str, str] = {}
    for item in signature["inputs"]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            kinds[item["name"]] = _kind_of_dtype(str(item.get("type", "float64")))
    if not all(n in kinds for n in names):
        return None
    return [Column(n, kinds[n]) for n in names]


def _columns_from_estimator(estimator: Any, names: list[str]) -> list[Column]:
    """Column kinds read off the encoders of a ColumnTransformer (numbers elsewhere)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    kinds = dict.fromkeys(names, NUMBER)
    step = estimator
    while isinstance(step, Pipeline):
        step = step.steps[0][1]
    if not isinstance(step, ColumnTransformer):
        return [Column(n, kinds[n]) for n in names]
    for _name, transformer, selected in getattr(step, "transformers_", []):
        encoder = transformer
        while isinstance(encoder, Pipeline):
            encoder = encoder.steps[-1][1]
        categories = getattr(encoder, "categories_", None)
        if categories is None or not isinstance(selected, list | tuple):
            continue
        for column, values in zip(selected, categories, strict=False):
            if not isinstance(column, str) or column not in kinds:
                continue
            dtype_kind = getattr(values, "dtype", None)
            letter = dtype_kind.kind if dtype_kind is not None else "O"
            if letter == "b" or (len(values) and all(isinstance(v, bool) for v in values)):
                kinds[column] = BOOL
            elif letter in "iu":
                kinds[column] = INTEGER
            elif letter == "f":
                kinds[column] = NUMBER
            else:
                kinds[column] = TEXT
    return [Column(n, kinds[n]) for n in names]


def model_columns(
    estimator: Any, signatures: list[Any], feature_names: list[str] | None
) -> list[Column] | None:
    """The model's named input columns with their kinds; None for a plain matrix model."""
    if feature_names is None:
        return None
    for signature in signatures:
        columns = _columns_from_signature(signature, feature_names)
        if columns is not None:
            return columns
    return _columns_from_estimator(estimator, feature_names)


# ---- loading from the registry -----------------------------------------------------------------


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION`` → (name, None | "@alias" | "version")."""
    if "@" in ref:
        name, alias = ref.rsplit("@", 1)
        return name, "@" + alias
    if ":" in ref:
        name, version = ref.rsplit(":", 1)
        if version.isdigit():
            return name, version
    return ref, None


def _model_artifact(registry: Registry, version: Any) -> Artifact:
    """The stored model file of a version (its run's artifact, or the blob itself)."""
    from desktop_app.registry.entities import Artifact

    if version.run_id and version.artifact_path:
        try:
            artifact = registry.get_artifact(version.run_id, version.artifact_path)
        except NotFoundError:
            artifact = None
        if artifact is not None and artifact.sha256 == version.artifact_sha256:
            return artifact
        if artifact is not None:
            raise ModelLoadError(
                f"Model {version.model_name} v{version.version}: the run's model file "
                f"{version.artifact_path} no longer matches the registered SHA-256 "
                f"({version.artifact_sha256[:12]}); it will not be served."
            )
    # The run may have been purged; a version keeps its artifact by hash.
    return Artifact(
        0, version.run_id or "", version.artifact_path, "model", version.artifact_sha256, 0, 0.0
    )


def _signatures(registry: Registry, version: Any) -> list[Any]:
    """The version's signature and, when present, the training runner's ``signature.json``."""
    found: list[Any] = [version.signature]
    if version.run_id:
        try:
            artifact = registry.get_artifact(version.run_id, "model/signature.json")
            found.append(json.loads(registry.artifacts.read_bytes(artifact.sha256)))
        except (AppError, ValueError):
            pass
    return found


def resolve_model_file(registry: Registry, name: str, ref: str | None) -> tuple[Any, Artifact]:
    """The version ``ref`` names (None = latest, ``"@alias"``, a number) and its model file."""
    try:
        if ref is None:
            latest = registry.get_registered_model(name).latest_version
            if latest is None:
                raise ModelLoadError(f"Model {name!r} has no versions to serve.")
            version = registry.get_model_version(name, latest)
        elif ref.startswith("@"):
            version = registry.get_model_version(name, ref[1:])
        else:
            version = registry.get_model_version(name, int(ref))
    except NotFoundError as exc:
        raise ModelLoadError(exc.message, code="NOT_FOUND") from exc
    return version, _model_artifact(registry, version)


def check_model_file(registry: Registry, name: str, ref: str | None) -> None:
    """Refuse a missing version or a model file whose SHA-256 changed, before heavy imports."""
    version, artifact = resolve_model_file(registry, name, ref)
    try:
        registry.artifacts.read_bytes(artifact.sha256, verify=True)
    except AppError as exc:
        raise ModelLoadError(
            f"Model {name} v{version.version} was not loaded: {exc.message}", code=exc.code
        ) from exc


def load_served_model(registry: Registry, name: str, ref: str | None) -> ServedModel:
    """Load a registered version (``ref``: None = latest, ``"@alias"`` or a number)."""
    from desktop_app.registry.model_files import load_trusted_model

    version, artifact = resolve_model_file(registry, name, ref)
    try:
        estimator = load_trusted_model(registry, artifact)
    except AppError as exc:
        raise ModelLoadError(
            f"Model {name} v{version.version} was not loaded: {exc.message}", code=exc.code
        ) from exc
    names = getattr(estimator, "feature_names_in_", None)
    feature_names = None if names is None else [str(c) for c in names]
    columns = model_columns(estimator, _signatures(registry, version), feature_names)
    return ServedModel(
        estimator,
        name=version.model_name,
        version=str(version.version),
        alias=ref[1:] if ref and ref.startswith("@") else None,
        columns=columns,
    )


def prepare_inference() -> None:
    """Per-thread scikit-learn settings for serving: inputs are validated by the server.

    Every value is checked (numbers, finite) before it reaches the model, so scikit-learn's own
    finiteness scan and parameter validation are skipped; that halves a one-row predict.
    """
    import sklearn

    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    warnings.filterwarnings("ignore", message="X does not have valid feature names")


def is_finite_number(value: object) -> bool:
    """Whether a JSON value is a real, finite number (bools are not numbers here)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    return kind is int
