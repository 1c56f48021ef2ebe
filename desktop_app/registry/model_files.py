"""Model files in skops format: written by the registry, loaded only against trusted types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from desktop_app.errors import AppError

if TYPE_CHECKING:
    from desktop_app.registry.entities import Artifact
    from desktop_app.registry.store import Registry

# Packages whose types a model file the registry wrote may hold (trees, arrays, sparse
# matrices); anything else in a file is refused.
TRUSTED_PACKAGES = frozenset({"sklearn", "numpy", "scipy", "builtins", "collections"})


def dump_model(estimator: Any) -> bytes:
    """Serialise a fitted estimator with skops (no pickle)."""
    import skops.io

    return bytes(skops.io.dumps(estimator))


def describe_model(estimator: Any) -> dict[str, Any]:
    """What a reader needs to know about a model without loading it."""
    import sklearn

    description: dict[str, Any] = {
        "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "format": "skops",
        "sklearn_version": sklearn.__version__,
    }
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None:
        description["n_features_in"] = int(n_features)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        description["feature_names_in"] = [str(n) for n in names]
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        description["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    return description


def untrusted_types(data: bytes) -> list[str]:
    """Types in a skops file that skops does not trust by default."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=data))


def load_model(data: bytes, *, trusted: list[str] | None = None) -> Any:
    """Load a skops model; types beyond skops' defaults must be listed in ``trusted``."""
    import skops.io

    return skops.io.loads(data, trusted=trusted or [])


def load_trusted_model(registry: Registry, artifact: Artifact) -> Any:
    """Load a model file this registry wrote, after checking its SHA-256.

    skops refuses types it does not know by default (the trees inside a forest, say). A file
    whose content still matches the hash the registry recorded when it saved the model is the
    registry's own, so its scikit-learn, NumPy and SciPy types are trusted; any other type is
    refused, since a model file could come from a user script.
    """
    if artifact.kind != "model":
        raise AppError(
            f"Artifact {artifact.path!r} is a {artifact.kind}, not a model.", code="NOT_A_MODEL"
        )
    data = registry.artifacts.read_bytes(artifact.sha256, verify=True)
    types = untrusted_types(data)
    foreign = [t for t in types if t.split(".", 1)[0] not in TRUSTED_PACKAGES]
    if foreign:
        raise AppError(
            f"Model {artifact.path!r} holds types from outside scikit-learn "
            f"({', '.join(foreign)}); it is not loaded automatically.",
            code="UNTRUSTED_MODEL",
        )
    return load_model(data, trusted=types)
