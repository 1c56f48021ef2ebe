"""Fast ``predict``/``predict_proba`` for common models, proven equal to scikit-learn's before use.

A one-row ``Pipeline(StandardScaler, LogisticRegression).predict`` spends nearly all of its
~0.6 ms in scikit-learn's input validation, which the server has already done (shape, dtype,
finite values), and a 100-tree random forest spends 8–26 ms on one row in joblib's ``Parallel``
machinery and in per-tree validation. For these models this module replays the NumPy
operations scikit-learn performs:

* scaled linear models: the same in-place scaling, the same ``X @ coef.T + intercept``, the
  same thresholding;
* random forests and extra trees (``n_jobs`` None or 1, one output), alone or after
  StandardScalers: the same float32 input, each tree's leaf values summed in estimator order
  from zeros, divided by the number of trees, ``classes_.take(argmax)`` for ``predict``. Large
  batches go through each tree's own ``tree_.apply``; small ones walk all trees at once in
  NumPy (the per-call overhead of 100 ``apply`` calls would dominate one row).

Only exact classes whose methods are scikit-learn's own are compiled (no subclass that
overrides them), and the compiled functions are then compared bit for bit with the estimator on
probe rows, one by one and in batches, in float64 and float32; any difference and the model is
served through scikit-learn as usual. Inputs must be finite float64 or float32 matrices (the
server refuses NaN and infinities before predicting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
Scalings = list[tuple[Any, Any]]

DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
# A batch walks all trees at once in NumPy while rows × tree depth stays under this; beyond,
# each tree's own Cython ``apply`` is cheaper (measured crossover: ~30 rows at depth 11).
_SMALL_WORK = 256
# Beyond this many nodes in all trees, the forest is not copied into flat tables (memory).
_MAX_TABLE_NODES = 2_000_000
_PROBE_ROWS = 300
# A tree sends x right when not x <= threshold; for the finite inputs served, that is x > t.
_goes_right = np.greater


@dataclass(frozen=True)
class FastPath:
    """Verified stand-ins for ``predict`` and, when the estimator has it, ``predict_proba``."""

    predict: Predict
    predict_proba: Predict | None = None


def _scaling_steps(steps: list[Any]) -> Scalings | None:
    """(mean, scale) pairs of the pipeline's StandardScalers; None if another step is there."""
    from sklearn.preprocessing import StandardScaler

    out = []
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if type(step) is not StandardScaler or getattr(step, "n_features_in_", None) is None:
            return None
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        out.append((mean, scale))
    return out


def _linear_kind(final: Any) -> str | None:
    """``classifier`` or ``regressor`` for scikit-learn's plain linear models, else None."""
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    cls = type(final)
    if not cls.__module__.startswith("sklearn.linear_model"):
        return None
    coef = getattr(final, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.dtype != np.float64:
        return None
    if (
        _owner(cls, "predict") is LinearClassifierMixin
        and _owner(cls, "decision_function") is LinearClassifierMixin
        and getattr(final, "classes_", None) is not None
    ):
        return "classifier"
    if _owner(cls, "predict") is LinearModel and _owner(cls, "_decision_function") is LinearModel:
        return "regressor"
    return None


def _forest_kind(final: Any) -> str | None:
    """``classifier`` or ``regressor`` for a plain single-output forest that runs serially."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )
    from sklearn.tree._tree import Tree

    cls = type(final)
    if cls in (RandomForestClassifier, ExtraTreesClassifier):
        kind, tree_types = "classifier", (DecisionTreeClassifier, ExtraTreeClassifier)
    elif cls in (RandomForestRegressor, ExtraTreesRegressor):
        kind, tree_types = "regressor", (DecisionTreeRegressor, ExtraTreeRegressor)
    else:
        return None
    # Other n_jobs sum the trees from several threads, in an order that varies between calls.
    if final.n_jobs not in (None, 1) or getattr(final, "n_outputs_", None) != 1:
        return None
    if any(name in vars(final) for name in ("predict", "predict_proba")):
        return None
    trees = getattr(final, "estimators_", None)
    if not isinstance(trees, list) or not trees:
        return None
    for tree in trees:
        if type(tree) not in tree_types or type(getattr(tree, "tree_", None)) is not Tree:
            return None
        if tree.n_outputs_ != 1 or tree.tree_.n_outputs != 1:
            return None
    if kind == "classifier":
        classes = getattr(final, "classes_", None)
        if not isinstance(classes, np.ndarray) or classes.ndim != 1:
            return None
        n_classes = len(classes)
        if any(int(np.asarray(t.n_classes_)) != n_classes for t in trees):
            return None
    return kind


def _owner(cls: type, name: str) -> type | None:
    """The class in ``cls``'s MRO that defines ``name`` (so overrides are noticed)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def compile_fast(estimator: Any) -> FastPath | None:
    """Verified fast ``predict`` (and ``predict_proba``) for a matrix input, or None."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        if type(estimator) is not Pipeline:
            return None
        steps = [s for _, s in estimator.steps]
    else:
        steps = [estimator]
    scalings = _scaling_steps(steps[:-1])
    if scalings is None:
        return None
    final = steps[-1]
    kind = _linear_kind(final)
    if kind is not None:
        fast = FastPath(_build_linear(scalings, final, kind))
        probes = _linear_probes(int(estimator.n_features_in_), scalings)
        return fast if _agrees(estimator, fast, probes, singles=16) else None
    kind = _forest_kind(final)
    if kind is None:
        return None
    forest = _Forest(final, kind)
    fast = _build_forest(scalings, forest, kind, final)
    probes = _unscale(forest.probes(np.random.default_rng(20240521), _PROBE_ROWS), scalings)
    return fast if _agrees(estimator, fast, probes, singles=4, by_row=True) else None


def compile_predict(estimator: Any) -> Predict | None:
    """A verified fast ``predict`` for a matrix input, or None when not applicable."""
    fast = compile_fast(estimator)
    return None if fast is None else fast.predict


def _scaler(scalings: Scalings) -> Callable[[np.ndarray], np.ndarray]:
    """StandardScaler.transform as scikit-learn does it: a copy, scaled in its own dtype."""
    casts = {
        dtype: [
            (None if m is None else m.astype(dtype), None if s is None else s.astype(dtype))
            for m, s in scalings
        ]
        for dtype in DTYPES
    }

    def scale(x: np.ndarray) -> np.ndarray:
        steps = casts[x.dtype]
        if steps:
            x = x.copy()
            for mean, std in steps:
                if mean is not None:
                    x -= mean
                if std is not None:
                    x /= std
        return x

    return scale


def _build_linear(scalings: Scalings, final: Any, kind: str) -> Predict:
    scale = _scaler(scalings)
    coef = final.coef_
    weights = coef if coef.ndim == 1 else coef.T
    intercept = final.intercept_
    classes: Any = getattr(final, "classes_", None)

    def predict(x: np.ndarray) -> np.ndarray:
        scores = scale(x) @ weights + intercept
        if kind == "regressor":
            return scores
        if scores.ndim > 1 and scores.shape[1] == 1:
            scores = scores.reshape(-1)
        if scores.ndim == 1:
            indices = (scores > 0).astype(np.intp)
        else:
            indices = scores.argmax(axis=1)
        return np.take(classes, indices, axis=0)

    return predict


class _Forest:
    """A fitted forest's trees, per tree and as flat tables over all nodes, and its mean."""

    def __init__(self, final: Any, kind: str) -> None:
        from sklearn.tree._tree import TREE_LEAF

        self.trees = [e.tree_ for e in final.estimators_]
        self.n_features = int(final.n_features_in_)
        width = len(final.classes_) if kind == "classifier" else 1
        self.width = width
        # What each tree's predict_proba(X, check_input=False) / predict returns, by leaf.
        self.values = [t.value[:, 0, :width] for t in self.trees]
        self.depth = max(1, max(int(t.max_depth) for t in self.trees))
        sizes = [int(t.node_count) for t in self.trees]
        self.starts = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        self.tables = sum(sizes) <= _MAX_TABLE_NODES
        features, thresholds, children = [], [], []
        for tree, start in zip(self.trees, self.starts, strict=True):
            own = np.arange(tree.node_count, dtype=np.intp)
            leaf = tree.children_left == TREE_LEAF
            features.append(np.where(leaf, 0, tree.feature).astype(np.intp))
            thresholds.append(np.asarray(tree.threshold, dtype=np.float64))
            # A leaf is its own child, so every tree can take ``depth`` steps.
            left = np.where(leaf, own, tree.children_left) + start
            right = np.where(leaf, own, tree.children_right) + start
            children.append(np.stack([left, right], axis=1).ravel())
        self.feature = np.concatenate(features)
        self.threshold = np.concatenate(thresholds)
        # The nodes that test a feature (their thresholds make probes).
        self.split = np.concatenate([t.feature >= 0 for t in self.trees])
        if self.tables:
            self.children = np.concatenate(children).astype(np.intp)
            self.table = np.ascontiguousarray(np.concatenate(self.values), dtype=np.float64)
            # Contiguous per-tree views of the table gather faster than the strided originals.
            self.values = [
                self.table[start : start + size]
                for start, size in zip(self.starts.tolist(), sizes, strict=True)
            ]

    def mean(self, x: np.ndarray) -> np.ndarray:
        """The trees' leaf values for float32 rows ``x``, summed in tree order, divided by T."""
        rows = x.shape[0]
        if self.tables and rows * self.depth <= _SMALL_WORK:
            flat = x.ravel()
            base = (np.arange(rows, dtype=np.intp) * self.n_features)[:, None]
            node = np.broadcast_to(self.starts, (rows, len(self.trees)))
            for _ in range(self.depth):
                # Left when x <= threshold (x float32, threshold float64, compared in float64).
                right = _goes_right(
                    flat.take(base + self.feature.take(node)), self.threshold.take(node)
                )
                node = self.children.take(2 * node + right)
            leaves = self.table.take(node.T, axis=0)  # trees × rows × width
            # A running sum is sequential, as scikit-learn's ``out += tree`` loop is; + 0.0
            # turns an all -0.0 sum into the +0.0 a sum started from zeros gives.
            total = np.cumsum(leaves, axis=0)[-1] + 0.0
        else:
            total = np.zeros((rows, self.width), dtype=np.float64)
            for tree, value in zip(self.trees, self.values, strict=True):
                total += value.take(tree.apply(x), axis=0)
        total /= len(self.trees)
        return total

    def probes(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Rows in the forest's input space spanning its thresholds, many exactly on them."""
        tested = self.feature[self.split]
        cuts = self.threshold[self.split]
        rows = np.empty((count, self.n_features))
        # In half of the rows, a quarter of the values sit on one of their column's thresholds or
        # a float32 neighbour of it: the ties and near-ties where a walk could go astray.
        on = rng.random(rows.shape) < 0.25
        on[count // 2 :] = False
        for f in range(self.n_features):
            own = cuts[tested == f]
            low, high = (own.min(), own.max()) if own.size else (0.0, 1.0)
            margin = 0.25 * (high - low) + 1e-3
            rows[:, f] = rng.uniform(low - margin, high + margin, size=count)
            if own.size:
                chosen = rng.choice(own, size=count)
                ties = chosen.astype(np.float32)
                sides = rng.choice(np.array([-np.inf, np.inf], dtype=np.float32), size=count)
                away = np.nextafter(ties, sides)  # float32 neighbours
                chosen = np.select(
                    [rng.random(count) < 0.5, rng.random(count) < 0.5], [chosen, ties], away
                )
                rows[:, f] = np.where(on[:, f], chosen, rows[:, f])
        return rows


def _build_forest(scalings: Scalings, forest: _Forest, kind: str, final: Any) -> FastPath:
    scale = _scaler(scalings)

    def mean(x: np.ndarray) -> np.ndarray:
        # The forest validates its input to float32, C-ordered (a copy when float64).
        return forest.mean(np.ascontiguousarray(scale(x), dtype=np.float32))

    if kind == "regressor":

        def predict_value(x: np.ndarray) -> np.ndarray:
            return mean(x).reshape(-1)

        return FastPath(predict_value)
    classes = final.classes_

    def predict(x: np.ndarray) -> np.ndarray:
        return classes.take(np.argmax(mean(x), axis=1), axis=0)

    return FastPath(predict, mean)


def _linear_probes(n: int, scalings: Scalings) -> np.ndarray:
    """Rows around the first scaler's mean, within a few standard deviations."""
    rng = np.random.default_rng(20240521)
    center = np.zeros(n)
    spread = np.ones(n)
    if scalings:
        mean, scale = scalings[0]
        center = np.zeros(n) if mean is None else np.asarray(mean, dtype=np.float64)
        spread = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
    probes = center + spread * rng.normal(0.0, 1.5, size=(64, n))
    return np.vstack([probes, np.zeros((1, n)), center[None, :]])


def _unscale(rows: np.ndarray, scalings: Scalings) -> np.ndarray:
    """Raw inputs that the scalers map (about) onto ``rows``."""
    for mean, scale in reversed(scalings):
        if scale is not None:
            rows = rows * scale
        if mean is not None:
            rows = rows + mean
    return rows


def _agrees(
    estimator: Any, fast: FastPath, probes: np.ndarray, *, singles: int, by_row: bool = False
) -> bool:
    """Whether the fast methods equal the estimator's, bit for bit, on probe rows.

    Each dtype is checked on the whole batch, on ``singles`` single rows and on two small
    batches, so that both of a forest's strategies (all trees at once, or tree by tree) are.
    ``by_row``: the estimator computes each row on its own (a forest: per-row tree walks and
    element-wise sums), so the small parts are compared with slices of its batch answer; only
    the first single row of the last method (``predict_proba`` when there is one, from which
    ``predict`` takes its argmax) costs a call of its own, ~10–40 ms for a 100-tree forest.
    """
    methods: list[tuple[Predict, Any]] = [(fast.predict, estimator.predict)]
    if fast.predict_proba is not None:
        methods.append((fast.predict_proba, estimator.predict_proba))
    parts = [slice(singles, singles + 7), slice(singles + 7, singles + 40)]
    parts += [slice(i, i + 1) for i in range(singles)]
    try:
        for dtype in DTYPES:
            batch = np.ascontiguousarray(probes, dtype=dtype)
            for mine, theirs in methods:
                expected = np.asarray(theirs(batch))
                if not _same(mine(batch), expected):
                    return False
                for part in parts:
                    rows = np.ascontiguousarray(batch[part])
                    if not len(rows):
                        continue
                    direct = not by_row or (part.start == 0 and theirs is methods[-1][1])
                    wanted = theirs(rows) if direct else expected[part]
                    if not _same(mine(rows), wanted):
                        return False
    except Exception:
        return False
    return True


def _same(a: np.ndarray, b: Any) -> bool:
    """Same dtype, shape and values; floats compared by their bits (so -0.0 is not 0.0)."""
    b = np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    return bool(np.array_equal(a, b))
