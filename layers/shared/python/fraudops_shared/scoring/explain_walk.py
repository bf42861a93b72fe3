"""The walks of `explain.TreeExplainer` down its trees to the leaf each row reaches, with
onnxruntime's comparisons: many rows at once, one depth level per numpy step (`walk_rows`), and
one row, the API's call (`OneRow`): every node's comparison for the row in one numpy step, then
one gather per depth level, ~3x fewer numpy calls than a level-by-level walk of one row. Apart
from explain.py for its size, and side by side because they must reach the same leaves and give
the same contributions to the bit (tests/unit/scoring/test_explain_single.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fraudops_shared.scoring.explain import TreeExplainer

# onnxruntime's split rules (by `explain._MODES` code): go to the true child when `value <op>
# threshold`
COMPARE: dict[int, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    1: np.less_equal,
    2: np.less,
    3: np.greater_equal,
    4: np.greater,
    5: np.equal,
    6: np.not_equal,
}


def walk_rows(tree: TreeExplainer, rows: np.ndarray) -> np.ndarray:
    """The leaf every row reaches in every tree (trees x rows, as 2 * node, the trees in an
    order of their own), with onnxruntime's comparisons: the float32 value against the
    threshold, NaN to the side its node's flag says (without a flag, where the comparison,
    false for NaN except with BRANCH_NEQ, sends it)."""
    n = rows.shape[0]
    flat = rows.ravel()
    offsets = (np.arange(n, dtype=np.intp) * tree.n_features)[None, :]
    nan_rows = bool(tree._tracks2.any()) and bool(np.isnan(flat).any())
    state = np.repeat(tree._roots2[:, None], n, axis=1)
    for active in tree._active:
        at = state[:active]  # the trees still walking: contiguous
        where = tree._feature2.take(at)
        if n > 1:
            where += offsets
        value = flat.take(where)
        threshold = tree._threshold2.take(at)
        if len(tree._modes) == 1:
            went_true = COMPARE[tree._modes[0]](value, threshold)
        else:
            mode = tree._mode2.take(at)
            went_true = np.zeros(at.shape, bool)
            for code in tree._modes:
                went_true |= (mode == code) & COMPARE[code](value, threshold)
        if nan_rows:
            went_true |= tree._tracks2.take(at) & np.isnan(value)
        at += went_true
        tree._children2.take(at, out=at, mode="clip")  # in place: element i reads at[i] only
    return state


class OneRow:
    """`walk_rows` and `TreeExplainer.contributions` for one row, from node arrays built once
    per model: the nodes renumbered, those with a split (or unreachable) first, then the leaves
    in their path-table order, so that a leaf's number minus the split count is its table row."""

    def __init__(self, tree: TreeExplainer) -> None:
        slots = tree._slot2[::2]  # a reachable leaf's row in the path table, else -1
        inner = np.flatnonzero(slots < 0)
        leaves = np.flatnonzero(slots >= 0)[np.argsort(slots[slots >= 0])]
        number = np.empty(slots.size, np.intp)
        number[inner] = np.arange(inner.size)
        number[leaves] = inner.size + np.arange(leaves.size)
        children = tree._children2.reshape(-1, 2) // 2  # (false, true) per node
        self._feature = tree._feature2[::2][inner]
        self._threshold = tree._threshold2[::2][inner]
        self._false, self._true = number[children[inner, 0]], number[children[inner, 1]]
        modes = tree._mode2[::2][inner]
        self._tests = [(modes == code, COMPARE[code]) for code in tree._modes]
        self._tracks = tree._tracks2[::2][inner]
        self._any_tracks = bool(self._tracks.any())
        self._leaves = number[leaves]  # they stay where they are
        self._first_leaf = inner.size
        self._roots = number[tree._roots2 // 2]  # the batch's tree order
        self._steps = len(tree._active)  # the deepest path's splits
        self._table = tree._table

    def slots(self, row: np.ndarray) -> np.ndarray:
        """The path-table row of the leaf `row` (float32, 1-D) reaches in every tree, in the
        batch's tree order. The direction at every split first (the comparisons `walk_rows`
        makes at the nodes it reaches, made at all of them), then the walk is gathers only."""
        value = row.take(self._feature, mode="wrap")  # the features are checked when loaded
        if len(self._tests) == 1:
            went_true = self._tests[0][1](value, self._threshold)
        else:
            went_true = np.zeros(value.shape, bool)
            for mode, compare in self._tests:
                went_true |= mode & compare(value, self._threshold)
        if self._any_tracks and np.isnan(row).any():
            went_true |= self._tracks & np.isnan(value)
        step = np.concatenate((np.where(went_true, self._true, self._false), self._leaves))
        state = self._roots
        for _ in range(self._steps):
            state = step.take(state)
        return state - self._first_leaf

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """(1, features): the sum of the leaves' path-table rows, in the batch's tree order
        (so the same float64 sums)."""
        return self._table.take(self.slots(row), axis=0).sum(axis=0)[None, :]


def top_of_row(
    row: np.ndarray, contrib: np.ndarray, k: int, labels: Sequence[str]
) -> list[dict[str, Any]]:
    """`Explainer.top_reasons` of one row (1-D values and contributions): the same stable
    order of the contributions, the same values."""
    order = np.argsort(-contrib, kind="stable")[:k]
    values, amounts = row.take(order).tolist(), contrib.take(order).tolist()
    return [
        {"feature": labels[j], "value": v, "contribution": c}
        for j, v, c in zip(order.tolist(), values, amounts, strict=True)
    ]
