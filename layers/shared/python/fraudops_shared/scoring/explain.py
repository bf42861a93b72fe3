"""Reason codes: how much each feature pushed a score towards fraud, computed from the ONNX
model's own parameters (read by ``onnx_params``) with numpy alone, on the very float32 features
the model scored.

Everything is in the margin (logit) space, where contributions add up exactly:
``bias + contributions(x).sum(axis=1) == raw_score(x)``, and ``sigmoid(raw_score(x))`` is the
P(fraud) onnxruntime returns (to float32 rounding).

- Logistic regression (``Scaler`` then ``LinearClassifier``): the exact SHAP values of a linear
  model with independent features, in standardized space:
  ``contribution_i = coef_i * scale_i * (x_i - offset_i)``, ``bias = intercept``. The Scaler's
  offset is the training mean, so the baseline is the score of the mean transaction.
- Gradient-boosted trees (``TreeEnsembleClassifier``): TreeSHAP needs every node's cover (the
  training rows through it), which ONNX does not keep. Used instead: Saabas path attribution
  with node expectations under uniform covers. A leaf's expectation is its weight, an internal
  node's the mean of its two children's (the tree's output if every split below were a fair
  coin); ``bias`` is the base value plus the sum of the trees' root expectations, and walking a
  row's decision path, every split on feature f adds ``E[child] - E[node]`` to f. Exactly
  additive: each tree's terms telescope to its leaf weight minus its root expectation. Unlike
  TreeSHAP, a rare branch weighs as much as a common one (the baseline is not the training
  mean), and the credit of an interaction depends on the order of its splits along the path.
  Good enough to rank a decision's top reasons; not SHAP values.

Trees are walked exactly as onnxruntime walks them (first node listed per tree is its root; the
split modes; ``nodes_missing_value_tracks_true`` for NaN), all trees and all rows at once, one
depth level per numpy step; one row (the API's call) with every node's comparison at once
(``explain_walk``: the same leaves, the same contributions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fraudops_shared.scoring import explain_walk, onnx_params
from fraudops_shared.scoring.onnx_params import (
    FLOATS,
    INTS,
    STRING,
    STRINGS,
    TENSOR,
    ModelFormatError,
    Node,
)

FEATURES_KEY = "fraudops.features"  # metadata: the feature names, comma-separated, in order
INPUT, PROBABILITIES = "features", "probabilities"
ML_DOMAIN = "ai.onnx.ml"
_FLOAT_TENSOR = 1  # TensorProto.FLOAT

# onnxruntime's split rules: go to the true child when `value <op> threshold`
_LEAF = 0
_MODES: dict[bytes, int] = {
    b"LEAF": _LEAF,
    b"BRANCH_LEQ": 1,
    b"BRANCH_LT": 2,
    b"BRANCH_GTE": 3,
    b"BRANCH_GT": 4,
    b"BRANCH_EQ": 5,
    b"BRANCH_NEQ": 6,
}
# Rows walked at once: the per-step arrays stay in cache, the (trees, rows, features) gather of
# path contributions a few MB.
_CHUNK_ROWS = 256
_MAX_TABLE = 1 << 25  # leaves x features of the path table: 256 MB of float64


class Explainer(ABC):
    """Reason codes for one model; build it with ``Explainer.from_onnx``."""

    kind: ClassVar[str]  # the candidate kind (training config) this explainer is for

    def __init__(self, n_features: int, feature_names: tuple[str, ...] | None) -> None:
        self.n_features = n_features
        self.feature_names = feature_names

    @staticmethod
    def from_onnx(data: bytes) -> Explainer:
        """The explainer of the model in ``data`` (the bytes the scorer loads; their hash is the
        scorer's to check). ``ModelFormatError`` for bytes that are not one of the two kinds."""
        model = onnx_params.parse(data)
        chain, n_features = _probability_path(model.graph)
        names = _feature_names(model.metadata, n_features)
        ops = [node.op_type for node in chain]
        if ops == ["TreeEnsembleClassifier"]:
            return TreeExplainer(chain[0], n_features, names)
        if ops in (["LinearClassifier"], ["Scaler", "LinearClassifier"]):
            scaler = chain[0] if len(chain) == 2 else None
            return LinearExplainer(chain[-1], scaler, n_features, names)
        raise ModelFormatError(f"no explainer for a model computing {PROBABILITIES} with {ops}")

    @abstractmethod
    def raw_score(self, x: Any) -> np.ndarray:
        """The model's margin (logit of P(fraud)) per row, float64."""

    @abstractmethod
    def contributions(self, x: Any) -> tuple[float, np.ndarray]:
        """``(bias, contrib)``: contrib is rows x features, float64; bias plus a row's sum is
        its raw score."""

    def top_reasons(
        self, x: Any, k: int = 3, names: Sequence[str] | None = None
    ) -> list[list[dict[str, Any]]]:
        """Per row, the ``k`` features that pushed hardest towards fraud (largest contribution
        first; when fewer than k push towards fraud, the ones that pushed away least follow),
        as ``{"feature", "value", "contribution"}``."""
        labels = list(names) if names is not None else self.feature_names
        if labels is None:
            raise ValueError(f"the model has no {FEATURES_KEY!r} metadata: pass names=")
        if len(labels) != self.n_features:
            raise ValueError(f"{len(labels)} names for {self.n_features} features")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        rows = self._rows(x)
        _, contrib = self.contributions(rows)
        if rows.shape[0] == 1:
            return [explain_walk.top_of_row(rows[0], contrib[0], min(k, self.n_features), labels)]
        order = np.argsort(-contrib, axis=1, kind="stable")[:, : min(k, self.n_features)]
        values = np.take_along_axis(rows, order, axis=1).tolist()
        amounts = np.take_along_axis(contrib, order, axis=1).tolist()
        return [
            [
                {"feature": labels[j], "value": v, "contribution": c}
                for j, v, c in zip(picked, row_values, row_amounts, strict=True)
            ]
            for picked, row_values, row_amounts in zip(order.tolist(), values, amounts, strict=True)
        ]

    def _rows(self, x: Any) -> np.ndarray:
        """``x`` as the model sees it: float32, rows x features (one row may be 1-D)."""
        rows = np.asarray(x, dtype=np.float32)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected rows x {self.n_features} features, got {rows.shape}")
        return rows


class LinearExplainer(Explainer):
    """Exact SHAP values of the standardized linear model, against the training mean."""

    kind = "logistic_regression"

    def __init__(
        self, classifier: Node, scaler: Node | None, n: int, names: tuple[str, ...] | None
    ) -> None:
        _binary_logistic(classifier)
        coefficients = _reals(classifier, "coefficients")
        rows = coefficients.size // n
        if rows not in (1, 2) or coefficients.size != rows * n:
            raise ModelFormatError(f"LinearClassifier: {coefficients.size} coefficients for {n}")
        intercepts = _reals(classifier, "intercepts", np.zeros(rows))
        if intercepts.size != rows:
            raise ModelFormatError(f"LinearClassifier: {intercepts.size} intercepts, {rows} rows")
        offset, scale = np.zeros(n), np.ones(n)
        if scaler is not None:
            offset = _broadcast(_reals(scaler, "offset"), n, "Scaler offset")
            scale = _broadcast(_reals(scaler, "scale"), n, "Scaler scale")
        # P(fraud) is the logistic of the last row's score (onnxruntime, one row or two)
        self.offset = offset
        self.weights = coefficients.reshape(rows, n)[-1] * scale
        self.bias = float(intercepts[-1])
        super().__init__(n, names)

    def raw_score(self, x: Any) -> np.ndarray:
        bias, contrib = self.contributions(x)
        return np.asarray(bias + contrib.sum(axis=1))

    def contributions(self, x: Any) -> tuple[float, np.ndarray]:
        rows = self._rows(x).astype(np.float64)
        return self.bias, (rows - self.offset) * self.weights


class TreeExplainer(Explainer):
    """Saabas path attribution under uniform covers (see the module's docstring)."""

    kind = "hist_gradient_boosting"

    def __init__(self, node: Node, n_features: int, names: tuple[str, ...] | None) -> None:
        _binary_logistic(node)
        tree_ids = node.attribute("nodes_treeids", INTS)
        size = tree_ids.size
        node_ids = _sized(node, "nodes_nodeids", size)
        features = _sized(node, "nodes_featureids", size)
        thresholds = _sized(node, "nodes_values", size, real=True)
        true_ids = _sized(node, "nodes_truenodeids", size)
        false_ids = _sized(node, "nodes_falsenodeids", size)
        missing = node.attribute("nodes_missing_value_tracks_true", INTS, np.zeros(0, np.int64))
        if missing.size > size:
            raise ModelFormatError(f"{missing.size} missing-value flags for {size} nodes")
        tracks = np.zeros(size, bool)  # onnxruntime: a node without a flag does not track
        tracks[: missing.size] = missing == 1
        try:
            modes = np.array([_MODES[m] for m in node.attribute("nodes_modes", STRINGS)])
        except KeyError as err:
            raise ModelFormatError(f"unsupported tree node mode {err.args[0]!r}") from None
        if modes.size != size or size == 0:
            raise ModelFormatError(f"{modes.size} node modes for {size} nodes")

        lookup = _NodeIndex(tree_ids, node_ids)
        # onnxruntime: a tree's root is its first node listed; its nodes must be listed together
        firsts = np.flatnonzero(np.r_[True, tree_ids[1:] != tree_ids[:-1]])
        if np.unique(tree_ids[firsts]).size != firsts.size:
            raise ModelFormatError("the nodes of a tree are not listed together")
        internal = modes != _LEAF
        true_child = np.arange(size)  # leaves loop onto themselves
        false_child = np.arange(size)
        true_child[internal] = lookup.find(tree_ids[internal], true_ids[internal], "true child")
        false_child[internal] = lookup.find(tree_ids[internal], false_ids[internal], "false child")
        if np.any(true_child[internal] == np.flatnonzero(internal)) or np.any(
            false_child[internal] == np.flatnonzero(internal)
        ):
            raise ModelFormatError("a tree node is its own child")

        weights = np.zeros(size)
        class_ids = node.attribute("class_ids", INTS)
        if np.any(class_ids != 0):
            raise ModelFormatError("leaf weights for a class other than 0: not a binary model")
        where = lookup.find(
            _sized(node, "class_treeids", class_ids.size),
            _sized(node, "class_nodeids", class_ids.size),
            "weighted node",
        )
        np.add.at(weights, where, _sized(node, "class_weights", class_ids.size, real=True))
        weights[internal] = 0.0  # onnxruntime only reads the weights of the leaf it reaches
        base = _reals(node, "base_values", np.zeros(1))
        if base.size != 1:
            raise ModelFormatError(f"{base.size} base values: only one is understood")

        levels = _levels(firsts, internal, true_child, false_child)
        reached = np.concatenate(levels)
        split_on = features[reached][internal[reached]]
        if np.any((split_on < 0) | (split_on >= n_features)):
            raise ModelFormatError(f"a split on a feature outside 0..{n_features - 1}")
        # expectations under uniform covers, bottom up
        expected = weights.copy()
        for level in reversed(levels):
            split = level[internal[level]]
            expected[split] = 0.5 * (expected[true_child[split]] + expected[false_child[split]])
        table, slots = _path_table(
            levels, internal, features, (true_child, false_child), expected, n_features
        )

        # Trees deepest first: at depth step s only the first _active[s] trees still move.
        tree_of = np.cumsum(np.r_[True, tree_ids[1:] != tree_ids[:-1]]) - 1
        depths = np.zeros(firsts.size, np.intp)
        for d, level in enumerate(levels):
            np.maximum.at(depths, tree_of[level[internal[level]]], d + 1)
        by_depth = np.argsort(-depths, kind="stable")
        self.bias = float(base[0] + expected[firsts].sum())
        self.depth = int(depths.max())
        self._active = [int(np.count_nonzero(depths > s)) for s in range(self.depth)]
        self._base = float(base[0])
        # The walk's state is 2 * node: node i's parameters sit at 2i and 2i + 1, and its
        # false and true children (as 2 * child; a leaf loops onto itself) at 2i and 2i + 1, so
        # a step is `state = children[state + went_true]`.
        self._weight2 = np.repeat(weights, 2)
        self._slot2 = np.repeat(slots, 2)  # a leaf's row in the table
        self._table = table
        self._roots2 = 2 * firsts[by_depth]
        self._feature2 = np.repeat(np.where(internal, features, 0), 2).astype(np.intp)
        self._threshold2 = np.repeat(thresholds.astype(np.float32), 2)  # float32 already
        self._children2 = 2 * np.stack([false_child, true_child], axis=1).ravel()
        self._modes = sorted(set(modes[internal].tolist()))
        self._mode2 = np.repeat(modes, 2)
        self._tracks2 = np.repeat(tracks & internal, 2)
        self._one_row = explain_walk.OneRow(self)
        super().__init__(n_features, names)

    def raw_score(self, x: Any) -> np.ndarray:
        rows = self._rows(x)
        out = np.empty(rows.shape[0])
        for start in range(0, rows.shape[0], _CHUNK_ROWS):
            leaves = self._walk(rows[start : start + _CHUNK_ROWS])
            out[start : start + _CHUNK_ROWS] = self._base + self._weight2.take(leaves).sum(axis=0)
        return out

    def contributions(self, x: Any) -> tuple[float, np.ndarray]:
        rows = self._rows(x)
        if rows.shape[0] == 1:
            return self.bias, self._one_row.contributions(rows[0])
        contrib = np.empty((rows.shape[0], self.n_features))
        for start in range(0, rows.shape[0], _CHUNK_ROWS):
            slots = self._slot2.take(self._walk(rows[start : start + _CHUNK_ROWS]))
            contrib[start : start + _CHUNK_ROWS] = self._table.take(slots, axis=0).sum(axis=0)
        return self.bias, contrib

    def _walk(self, rows: np.ndarray) -> np.ndarray:
        """The leaf every row reaches in every tree (trees x rows, as 2 * node)."""
        return explain_walk.walk_rows(self, rows)


class _NodeIndex:
    """(tree id, node id) -> position in the node lists, vectorised."""

    def __init__(self, tree_ids: np.ndarray, node_ids: np.ndarray) -> None:
        if tree_ids.min() < 0 or node_ids.min() < 0:
            raise ModelFormatError("negative tree or node id")
        self._span = int(node_ids.max()) + 1
        if int(tree_ids.max()) >= (1 << 62) // self._span:
            raise ModelFormatError("tree and node ids too large")
        keys = tree_ids * self._span + node_ids
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        if np.any(self._keys[1:] == self._keys[:-1]):
            raise ModelFormatError("a (tree, node) id is listed twice")

    def find(self, tree_ids: np.ndarray, node_ids: np.ndarray, what: str) -> np.ndarray:
        keys = tree_ids * self._span + node_ids
        at = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        found = (self._keys[at] == keys) & (node_ids >= 0) & (node_ids < self._span)
        if not found.all():
            bad = int(np.argmin(found))
            raise ModelFormatError(
                f"{what} {int(node_ids[bad])} of tree {int(tree_ids[bad])}: no such node"
            )
        return np.asarray(self._order[at], dtype=np.intp)


def _levels(
    roots: np.ndarray, internal: np.ndarray, true_child: np.ndarray, false_child: np.ndarray
) -> list[np.ndarray]:
    """The nodes reachable from the roots, by depth; refuses anything but trees (a node reached
    twice, so also a cycle)."""
    seen = np.zeros(internal.size, bool)
    levels: list[np.ndarray] = []
    level = roots
    while level.size:
        if seen[level].any() or np.unique(level).size != level.size:
            raise ModelFormatError("not a tree: a node is reached twice")
        seen[level] = True
        levels.append(level)
        split = level[internal[level]]
        level = np.concatenate([true_child[split], false_child[split]])
    return levels


def _path_table(
    levels: list[np.ndarray],
    internal: np.ndarray,
    features: np.ndarray,
    children_of: tuple[np.ndarray, np.ndarray],
    expected: np.ndarray,
    n_features: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per leaf, the contributions accumulated on the path from its root (leaves x features),
    and each node's row in it (-1 for internal nodes): built level by level, top down."""
    leaves = np.concatenate([level[~internal[level]] for level in levels])
    if leaves.size * n_features > _MAX_TABLE:
        raise ModelFormatError(f"{leaves.size} leaves x {n_features} features: too large")
    true_child, false_child = children_of
    slots = np.full(internal.size, -1, np.intp)
    slots[leaves] = np.arange(leaves.size)
    table = np.zeros((leaves.size, n_features))
    along = np.zeros((levels[0].size, n_features))  # the path sums of the current level
    for level in levels:
        split_at = internal[level]
        table[slots[level[~split_at]]] = along[~split_at]
        split = level[split_at]
        parents = np.concatenate([split, split])  # the next level: true children, then false
        children = np.concatenate([true_child[split], false_child[split]])
        along = np.concatenate([along[split_at], along[split_at]])
        along[np.arange(children.size), features[parents]] += expected[children] - expected[parents]
    return table, slots


def _probability_path(graph: onnx_params.Graph) -> tuple[list[Node], int]:
    """The nodes from the input ``features`` to the output ``probabilities`` (Identity nodes
    skipped), and the number of features."""
    inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    if [v.name for v in inputs] != [INPUT] or INPUT in graph.initializers:
        raise ModelFormatError(f"expected one input {INPUT!r}, got {[v.name for v in inputs]}")
    shape = inputs[0].shape
    if inputs[0].elem_type != _FLOAT_TENSOR or shape is None or len(shape) != 2 or not shape[1]:
        raise ModelFormatError(f"input {INPUT!r} is not float rows x n features: {shape}")
    if PROBABILITIES not in {v.name for v in graph.outputs}:
        raise ModelFormatError(f"no output {PROBABILITIES!r}")
    producers = {out: node for node in graph.nodes for out in node.outputs}
    chain: list[Node] = []
    value = PROBABILITIES
    for _ in range(len(graph.nodes) + 1):
        if value == INPUT:
            return chain, int(shape[1])
        node = producers.get(value)
        if node is None or not node.inputs:
            raise ModelFormatError(f"{value!r} is computed by no node, or from no input")
        if node.op_type != "Identity":
            if node.domain != ML_DOMAIN:
                raise ModelFormatError(f"unexpected {node.domain}:{node.op_type} node")
            expected = 1 if node.op_type.endswith("Classifier") else 0
            if node.outputs.index(value) != expected:
                raise ModelFormatError(f"{node.op_type}: {value!r} is not its scores output")
            chain.insert(0, node)
        value = node.inputs[0]
    raise ModelFormatError(f"{PROBABILITIES!r} does not come from {INPUT!r} (a cycle)")


def _feature_names(metadata: Mapping[str, str], n: int) -> tuple[str, ...] | None:
    text = metadata.get(FEATURES_KEY)
    if text is None:
        return None
    names = tuple(text.split(","))
    if len(names) != n:
        raise ModelFormatError(f"{FEATURES_KEY} names {len(names)} features, the model has {n}")
    return names


def _binary_logistic(node: Node) -> None:
    """Only a two-class classifier whose P(fraud) is the logistic of one score is understood."""
    names = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")
    labels = [node.attributes[name] for name in names if name in node.attributes]
    count = len(labels[0].value) if labels and labels[0].type in (INTS, STRINGS) else 0
    if count != 2:
        raise ModelFormatError(f"{node.op_type}: {count} class labels, expected 2")
    transform = node.attribute("post_transform", STRING, b"NONE")
    if transform != b"LOGISTIC":
        raise ModelFormatError(f"{node.op_type}: post_transform {transform!r}, not LOGISTIC")


def _reals(node: Node, name: str, default: np.ndarray | None = None) -> np.ndarray:
    """A float parameter as float64: FLOATS, or the opset-3 ``<name>_as_tensor`` variant (a
    FLOAT tensor: onnxruntime refuses others for float features)."""
    if name + "_as_tensor" in node.attributes:
        values = node.attribute(name + "_as_tensor", TENSOR).values
        if values.dtype != np.float32:
            kind = "DOUBLE" if values.dtype == np.float64 else str(values.dtype)
            raise ModelFormatError(
                f"{node.op_type}: {name}_as_tensor is a {kind} tensor, not FLOAT"
            )
        return values.astype(np.float64).ravel()
    if default is None:
        return node.attribute(name, FLOATS).astype(np.float64)
    return np.asarray(node.attribute(name, FLOATS, default), dtype=np.float64)


def _sized(node: Node, name: str, size: int, real: bool = False) -> np.ndarray:
    values = _reals(node, name) if real else node.attribute(name, INTS)
    if values.size != size:
        raise ModelFormatError(f"{node.op_type}: {values.size} {name} for {size} entries")
    return values


def _broadcast(values: np.ndarray, n: int, what: str) -> np.ndarray:
    if values.size not in (1, n):
        raise ModelFormatError(f"{what}: {values.size} values for {n} features")
    return np.broadcast_to(values, (n,)).copy()


__all__ = [
    "FEATURES_KEY",
    "Explainer",
    "LinearExplainer",
    "ModelFormatError",
    "TreeExplainer",
]
