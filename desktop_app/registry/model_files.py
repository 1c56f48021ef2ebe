"""Model files in skops format: written by the registry, loaded only against trusted types."""

from __future__ import annotations

from typing import Any


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
