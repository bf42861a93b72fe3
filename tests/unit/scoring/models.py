"""Models for the scoring tests: small real ones (trainers.fit, trainers.to_onnx) on a synthetic
dataset where three features carry the fraud signal, and hand-made ONNX ensembles (onnx.helper)
whose every split mode, missing-value flag and node order is chosen, with a brute-force
reference of the path attribution."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from fraudops_shared.training import trainers

NAMES = ("amount_z", "noise_a", "merchant_risk", "noise_b", "velocity_1h", "noise_c")
INFORMATIVE = frozenset({"amount_z", "merchant_risk", "velocity_1h"})
PARAMS = {
    "hist_gradient_boosting": {"max_iter": 60, "max_leaf_nodes": 15, "learning_rate": 0.1},
    "logistic_regression": {"C": 1.0, "max_iter": 1000},
}


def dataset(n: int, seed: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rows x 6 float32 features and labels: fraud follows amount_z, merchant_risk and
    velocity_1h (a logistic of them); the noise features carry nothing. ``missing``: the share
    of values set to NaN (in the informative features too)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    logit = -3.5 + 2.0 * x[:, 0] + 1.5 * x[:, 2] + 1.8 * x[:, 4]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return x, y


@cache
def trained(kind: str, missing: float = 0.0) -> tuple[Any, bytes]:
    """A fitted candidate and its ONNX bytes (feature names in the metadata, as training
    writes them)."""
    x, y = dataset(6000, seed=11, missing=missing)
    fit = trainers.fit(kind, kind, PARAMS[kind], 7, x, y)
    data = trainers.to_onnx(fit.model, len(NAMES), {"fraudops.features": ",".join(NAMES)})
    return fit.model, data


def graph_model(node: Any, n_features: int, metadata: dict[str, str] | None = None) -> bytes:
    """One ai.onnx.ml node from `features` (float, rows x n) to `label` and `probabilities`."""
    graph = helper.make_graph(
        [node],
        "hand-made",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    return bytes(model.SerializeToString())


def linear_model(
    coefficients: Sequence[float],
    intercepts: Sequence[float],
    n_features: int,
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> bytes:
    node = helper.make_node(
        "LinearClassifier",
        ["features"],
        ["label", "probabilities"],
        domain="ai.onnx.ml",
        coefficients=list(coefficients),
        intercepts=list(intercepts),
        classlabels_ints=[0, 1],
        post_transform=extra.pop("post_transform", "LOGISTIC"),
        **extra,
    )
    return graph_model(node, n_features, metadata)


# --- hand-made tree ensembles ------------------------------------------------------------------

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "BRANCH_LEQ": operator.le,
    "BRANCH_LT": operator.lt,
    "BRANCH_GTE": operator.ge,
    "BRANCH_GT": operator.gt,
    "BRANCH_EQ": operator.eq,
    "BRANCH_NEQ": operator.ne,
}
GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)  # thresholds and feature values: ties happen


@dataclass
class HandNode:
    mode: str = "LEAF"
    feature: int = 0
    threshold: float = 0.0
    missing_true: int = 0
    true: int = -1
    false: int = -1
    weights: list[float] = field(default_factory=list)  # a leaf may have several entries


@dataclass
class HandTree:
    root: int
    nodes: dict[int, HandNode]

    def expected(self, node_id: int) -> float:
        """A node's expectation under uniform covers, by plain recursion."""
        node = self.nodes[node_id]
        if node.mode == "LEAF":
            return sum(node.weights)
        return 0.5 * (self.expected(node.true) + self.expected(node.false))


@dataclass
class HandEnsemble:
    trees: list[HandTree]
    base: float
    n_features: int

    def brute_force(self, row: Sequence[float]) -> tuple[float, list[float], float]:
        """(bias, contributions, raw score) of one row, walking every tree node by node."""
        bias = self.base + sum(tree.expected(tree.root) for tree in self.trees)
        contrib = [0.0] * self.n_features
        raw = self.base
        for tree in self.trees:
            at = tree.root
            while tree.nodes[at].mode != "LEAF":
                node = tree.nodes[at]
                value = row[node.feature]
                went_true = COMPARE[node.mode](value, node.threshold) or (
                    node.missing_true == 1 and math.isnan(value)
                )
                child = node.true if went_true else node.false
                contrib[node.feature] += tree.expected(child) - tree.expected(at)
                at = child
            raw += sum(tree.nodes[at].weights)
        return bias, contrib, raw

    def to_onnx(self, tensors: int | None = None) -> bytes:
        """The ensemble as a TreeEnsembleClassifier (each tree's root listed first, the other
        nodes in the order they were made); with ``tensors`` (a TensorProto data type), its
        thresholds, leaf weights and base value as the opset-3 ``*_as_tensor`` attributes."""
        lists: dict[str, list[Any]] = {}
        for tree_id, tree in enumerate(self.trees):
            order = [tree.root] + [n for n in tree.nodes if n != tree.root]
            for node_id in order:
                node = tree.nodes[node_id]
                for key, value in (
                    ("nodes_treeids", tree_id),
                    ("nodes_nodeids", node_id),
                    ("nodes_modes", node.mode),
                    ("nodes_featureids", node.feature),
                    ("nodes_values", node.threshold),
                    ("nodes_missing_value_tracks_true", node.missing_true),
                    ("nodes_truenodeids", max(node.true, 0)),
                    ("nodes_falsenodeids", max(node.false, 0)),
                ):
                    lists.setdefault(key, []).append(value)
                for weight in node.weights:
                    for key, value in (
                        ("class_treeids", tree_id),
                        ("class_nodeids", node_id),
                        ("class_ids", 0),
                        ("class_weights", weight),
                    ):
                        lists.setdefault(key, []).append(value)
        attributes: dict[str, Any] = dict(lists, base_values=[self.base])
        if tensors is not None:
            for name in ("nodes_values", "class_weights", "base_values"):
                values = np.asarray(attributes.pop(name), dtype=np.float64)
                attributes[name + "_as_tensor"] = helper.make_tensor(
                    name, tensors, values.shape, values
                )
        node = helper.make_node(
            "TreeEnsembleClassifier",
            ["features"],
            ["label", "probabilities"],
            domain="ai.onnx.ml",
            classlabels_int64s=[0, 1],
            post_transform="LOGISTIC",
            **attributes,
        )
        return graph_model(node, self.n_features)


def random_ensemble(
    seed: int, modes: Sequence[str], n_trees: int = 4, n_features: int = 3, depth: int = 4
) -> HandEnsemble:
    """Random trees: random split modes (from ``modes``), features, grid thresholds and
    missing-value flags, node ids shuffled (a root is seldom node 0, children seldom follow
    their parent), leaves of uneven depth, some with their weight split over two entries."""
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(n_trees):
        nodes: list[HandNode] = []

        def grow(level: int, nodes: list[HandNode] = nodes) -> int:
            if level == 0 or (level < depth and rng.random() < 0.3):
                weight = float(np.float32(rng.normal()))  # as the ONNX attribute keeps it
                split = rng.random() < 0.3
                nodes.append(HandNode(weights=[weight / 2, weight / 2] if split else [weight]))
                return len(nodes) - 1
            node = HandNode(
                mode=str(rng.choice(list(modes))),
                feature=int(rng.integers(n_features)),
                threshold=float(rng.choice(GRID)),
                missing_true=int(rng.integers(2)),
            )
            nodes.append(node)
            index = len(nodes) - 1
            node.true, node.false = grow(level - 1), grow(level - 1)
            return index

        root = grow(depth)
        # onnxruntime wants ids below the node count; which id is the root is free
        ids = rng.permutation(len(nodes)).tolist()
        for node in nodes:
            if node.mode != "LEAF":
                node.true, node.false = ids[node.true], ids[node.false]
        trees.append(HandTree(ids[root], {ids[i]: node for i, node in enumerate(nodes)}))
    return HandEnsemble(trees, float(np.float32(rng.normal())), n_features)


def grid_rows(n: int, n_features: int, seed: int) -> np.ndarray:
    """Rows whose values sit on the thresholds, between them, and are NaN."""
    rng = np.random.default_rng(seed)
    values = np.array([*GRID, -0.75, 0.25, 2.0, np.nan], dtype=np.float32)
    return rng.choice(values, size=(n, n_features))
