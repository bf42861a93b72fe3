"""The window kernel: integer statistics of the history before each row (counts, sums and
maxima per span, seconds since the previous transaction, first_seen per column), for the rows
of many cards at once, with no Python loop per row. Offline (`features.windows`) and online
(`features.online`) both call `window_stats` and turn its `Raw` result into features with one
function, so their numbers agree by construction; it is apart from both so that neither holds
the other's code. How the time axis is compressed is in the `features.windows` docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudops_shared.features.window_inputs import MAX_CENTS
from fraudops_shared.features.window_spec import WindowSpec


@dataclass(frozen=True)
class Raw:
    """Integer statistics per row, in input order (spans in `WindowSpec.spans` order)."""

    count: np.ndarray  # (spans, n) int64
    total: np.ndarray  # (spans, n) int64 cents
    peak: np.ndarray  # (spans, n) int64 cents, 0 when empty
    gap_us: np.ndarray  # (n,) int64, -1 when no previous transaction within the horizon
    new: np.ndarray  # (kinds, n) int8: 1 new, 0 seen, -1 null value
    cents: np.ndarray  # (n,) int64, the row's own amount

    def take(self, rows: np.ndarray) -> Raw:
        return Raw(
            self.count[:, rows],
            self.total[:, rows],
            self.peak[:, rows],
            self.gap_us[rows],
            self.new[:, rows],
            self.cents[rows],
        )


def empty_raw(spec: WindowSpec, amount_cents: np.ndarray, hashes: np.ndarray) -> Raw:
    """Statistics of rows without history (an unknown card, a null key or time)."""
    n, s = len(amount_cents), len(spec.spans)
    zeros = np.zeros((s, n), np.int64)
    new = np.where(hashes.T != 0, 1, -1).astype(np.int8).reshape(len(spec.kinds), n)
    return Raw(zeros, zeros.copy(), zeros.copy(), np.full(n, -1, np.int64), new, amount_cents)


def window_stats(
    spec: WindowSpec,
    group: np.ndarray,
    time: np.ndarray,
    amount_cents: np.ndarray,
    hashes: np.ndarray,
    history: np.ndarray,
    previous_only: np.ndarray | None = None,
    seen_only: np.ndarray | None = None,
    wanted: np.ndarray | None = None,
) -> Raw:
    """Statistics of the `wanted` rows (a mask; default all), in input order, over the rows of
    their group that are `history` and strictly earlier. Online adds rows that are not history:
    transactions only scored (repeats, too late), `previous_only` rows (the time of the newest
    dropped transaction, for seconds_since_previous) and `seen_only` rows (a dropped value and
    its last time, its hash in one kind's column, for first_seen). `group` is >= 0."""
    n = len(group)
    rows = np.arange(n) if wanted is None else np.flatnonzero(wanted)
    if not len(rows):
        return empty_raw(spec, amount_cents[rows], hashes[rows])
    previous_only = np.zeros(n, bool) if previous_only is None else previous_only
    seen_only = np.zeros(n, bool) if seen_only is None else seen_only
    order = sort_order(group, time)
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    q = pos[rows]  # where the wanted rows are in (group, time) order
    g, t, hist = group[order], time[order], history[order]
    idx = np.arange(n)
    new_group = np.ones(n, bool)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.copy()
    new_run[1:] |= t[1:] != t[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))[q]
    hi = np.maximum.accumulate(np.where(new_run, idx, 0))[q]  # the first row of t's run

    # windows: compressed time (see the module docstring), cumulative counts and sums
    keep = spec.keep_us
    step = np.minimum(np.diff(t), keep + 1)
    step[new_group[1:]] = keep + 1
    c = np.zeros(n, np.int64)
    np.cumsum(step, out=c[1:])
    amounts = amount_cents[order]
    hc = np.zeros(n + 1, np.int64)
    np.cumsum(hist, out=hc[1:])
    sc = np.zeros(n + 1, np.int64)
    np.cumsum(np.where(hist, amounts, 0), out=sc[1:])
    hist_pos = np.flatnonzero(hist)
    los, counts = [], []
    for span in spec.spans:
        lo = np.searchsorted(c, c[q] - span, side="right")
        count = hc[hi] - hc[lo]
        over = count > spec.max_events
        if over.any():  # the newest max_events before t
            lo = np.where(over, hist_pos[np.maximum(hc[hi] - spec.max_events, 0)], lo)
            count = np.minimum(count, spec.max_events)
        los.append(lo)
        counts.append(count)
    m = len(rows)
    count_s = np.array(counts, np.int64).reshape(len(spec.spans), m)
    total_s = np.array([sc[hi] - sc[lo] for lo in los], np.int64).reshape(len(spec.spans), m)
    values = np.where(hist, np.minimum(amounts, MAX_CENTS), -1).astype(np.int32)
    peak_s = _range_max(values, los, hi).reshape(len(spec.spans), m)

    # seconds since previous: the latest earlier history (or previous_only) row of the group
    eligible = hist | previous_only[order]
    ec = np.zeros(n + 1, np.int64)
    np.cumsum(eligible, out=ec[1:])
    e_pos = np.flatnonzero(eligible)
    k = ec[hi]
    has = k > ec[group_start]
    prev = e_pos[np.maximum(k - 1, 0)] if len(e_pos) else np.zeros(m, np.int64)
    gap = t[q] - t[prev]
    gap_s = np.where(has & (gap < spec.horizon_us), gap, -1)

    # first seen: per kind, sorted by (value hash, card, time)
    occurs = history | seen_only
    new_rows = np.empty((len(spec.kinds), m), np.int8)
    for j in range(len(spec.kinds)):
        new_rows[j] = _first_seen(spec, group, time, hashes[:, j], occurs, pos, rows)
    return Raw(count_s, total_s, peak_s, gap_s, new_rows, amount_cents[rows])


def sort_order(group: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Row order by (group, time), ties in any (deterministic) order: one argsort of a packed
    int64 key (np.lexsort is ~10x slower), dense time ranks when the key would not fit."""
    n = len(group)
    if n == 0:
        return np.zeros(0, np.int64)
    groups = int(group.max()) + 1
    low = int(time.min())
    width = int(time.max()) - low + 1
    if groups * width < 2**62:
        return np.argsort(group.astype(np.int64) * width + (time - low))
    _, rank = np.unique(time, return_inverse=True)
    width = int(rank.max()) + 1
    if groups * width < 2**62:
        return np.argsort(group.astype(np.int64) * width + rank)
    return np.lexsort((time, group))  # pragma: no cover - beyond 2^62 (group, time) pairs


def _range_max(values: np.ndarray, los: list[np.ndarray], hi: np.ndarray) -> np.ndarray:
    """max(values[lo:hi]) per query and per lo array (0 when empty or no history), from one
    sparse table (level j holds the max of 2^j values) over the longest range."""
    longest = max((int((hi - lo).max()) for lo in los), default=0)
    n = len(values)
    depth = max(1, longest.bit_length())
    table = np.full((depth, n), -1, np.int32)
    table[0] = values
    for j in range(1, depth):
        half = 1 << (j - 1)
        table[j, : n - half] = np.maximum(table[j - 1, : n - half], table[j - 1, half:])
    out = []
    for lo in los:
        length = hi - lo
        live = length > 0
        level = np.zeros(len(hi), np.int64)
        level[live] = np.log2(length[live]).astype(np.int64)
        a = table[level, np.minimum(lo, n - 1)]
        b = table[level, np.maximum(hi - (1 << level), 0)]
        out.append(np.where(live, np.maximum(np.maximum(a, b), 0), 0).astype(np.int64))
    return np.array(out, np.int64)


def _first_seen(
    spec: WindowSpec,
    group: np.ndarray,
    time: np.ndarray,
    h: np.ndarray,
    occurs: np.ndarray,
    pos: np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:
    out = np.where(h[rows] != 0, 1, -1).astype(np.int8)
    some = np.flatnonzero(h != 0)
    if not len(some):
        return out
    n = len(h)
    # (hash, position in (group, time) order): rows of one (group, hash) together, by time
    order = some[np.argsort(h[some].astype(np.int64) * n + pos[some])]
    hk, gk, t, occ = h[order], group[order], time[order], occurs[order]
    m = len(order)
    idx = np.arange(m)
    new_key = np.ones(m, bool)
    new_key[1:] = (hk[1:] != hk[:-1]) | (gk[1:] != gk[:-1])
    new_run = new_key.copy()
    new_run[1:] |= t[1:] != t[:-1]
    key_start = np.maximum.accumulate(np.where(new_key, idx, 0))
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    oc = np.zeros(m + 1, np.int64)
    np.cumsum(occ, out=oc[1:])
    o_pos = np.flatnonzero(occ)
    k = oc[run_start]
    has = k > oc[key_start]
    prev = o_pos[np.maximum(k - 1, 0)] if len(o_pos) else np.zeros(m, np.int64)
    seen = has & (t - t[prev] < spec.horizon_us)
    where = np.empty(n, np.int64)
    where[order] = idx
    mine = h[rows] != 0
    out[mine] = np.where(seen[where[rows[mine]]], 0, 1)
    return out
