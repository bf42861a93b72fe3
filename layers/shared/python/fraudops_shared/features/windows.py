"""Per-card history features: what the card did before this transaction, offline (training, from
a snapshot's columns) and online (scoring, from a per-card state: `features.online`), with the
same numbers.

Velocity is most of what separates card fraud from a card holder's habits (ten payments in ten
minutes, a first payment from a new device), and none of it is in one transaction alone. The
contract's ``features.windows`` section names it (read by `features.window_spec`); both paths
compute integer statistics with one kernel (`features.window_kernel.window_stats`) and turn them
into float32 with one function (`finish`, below), so parity is by construction, not by
tolerance.

Semantics (``key`` card_id, ``time`` event_time, H = ``horizon_days``, S = the longest span):

* **Strictly before.** A transaction sees the card's transactions whose event time is strictly
  earlier than its own. Equal event times never see each other (ties excluded): no order
  among them has to be agreed on, and an online state can apply them in any order.
* **Windows** are in event time, open at both ends: a span W covers (t - W, t). ``count`` is
  the number of transactions in it; ``amount_sum`` / ``amount_mean`` / ``amount_max`` are over
  their amounts taken in whole cents (rounded; a null or negative amount is 0), summed as
  integers so the sum is exact whatever the order; an empty window has mean and max 0.
  ``amount_ratio`` is amount / (mean over the span) = cents * count / sum, ``null_as``
  (default -1) when the span holds nothing (no history, or only zero amounts).
* **At most ``max_events``** (4,096) transactions are seen: beyond it a window holds the newest
  ``max_events`` before t (online keeps only those; offline applies the same limit; which of
  several transactions tied in time at that boundary are in is unspecified).
* **seconds_since_previous**: t minus the event time of the latest earlier transaction, if that
  is less than H before; otherwise ``null_as`` (default -1): an unknown card, or one idle for
  H or more (an online state expires H + skew after its newest transaction: both agree).
* **first_seen** (of a column, e.g. merchant_id): 1 when the card has no earlier transaction
  with this value less than H before, else 0; ``null_as`` (default -1) when the value is null
  (a card-present payment has no device: that is not a new device). Values are compared by a
  32-bit hash (`hash64` of the UTF-8 text, folded; both paths use the same), so two values of
  one card that collide count as one (odds about n^2 / 2^33 for n distinct values of a card).
* **An unknown card**: counts and sums 0, means and max 0, ratios and seconds-since-previous
  ``null_as``, first_seen 1 (or ``null_as`` for a null value).
* **A null key or time**: no history (as an unknown card) and never history for another row.

Online (`features.online`) applies the same definitions to what its state knows; what it can
know, and when it can differ from this offline computation, is stated there.

The offline computation sorts by (card, time) once, compresses the time axis (gaps longer than S
are shortened to S + 1 us, and cards are S + 1 us apart), so one `searchsorted` finds every
window's start for every row; sums are differences of cumulative sums, maxima come from a
sparse table, first_seen from a sort by (card, value hash, time). No Python loop per row.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from fraudops_shared.features.values import epoch_micros
from fraudops_shared.features.window_inputs import (
    MAX_CENTS,
    NO_TIME,
    cents,
    codes,
    hash64,
    id_hashes,
    value_hashes,
)
from fraudops_shared.features.window_kernel import Raw, empty_raw, sort_order, window_stats
from fraudops_shared.features.window_spec import (
    WINDOW_TRANSFORMS,
    WindowFeature,
    WindowSpec,
    parse_windows,
)

# The section (`window_spec`), the integers (`window_inputs`) and the kernel (`window_kernel`)
# live in their own modules; their names stay importable from here.
__all__ = [
    "FEATURE_DTYPE",
    "MAX_CENTS",
    "NO_TIME",
    "WINDOW_TRANSFORMS",
    "Raw",
    "WindowFeature",
    "WindowSpec",
    "cents",
    "codes",
    "empty_raw",
    "finish",
    "hash64",
    "id_hashes",
    "inputs",
    "offline_stats",
    "parse_windows",
    "sort_order",
    "value_hashes",
    "window_matrix",
    "window_stats",
]

FEATURE_DTYPE = np.float32
_CHUNK_ROWS = 2_000_000  # offline rows per kernel call (memory; the compressed time's range)


# --- from statistics to features -----------------------------------------------------------------


def finish(spec: WindowSpec, raw: Raw) -> np.ndarray:
    """(rows, len(spec.names)) float32: the one place integers become features."""
    n = len(raw.cents)
    span_index = {us: i for i, us in enumerate(spec.spans)}
    kind_index = {k: i for i, k in enumerate(spec.kinds)}
    cols: list[np.ndarray] = []
    for f in spec.features:
        for _, us in f.spans:
            i = span_index[us]
            count, total = raw.count[i], raw.total[i]
            if f.transform == "count":
                cols.append(count.astype(np.float64))
            elif f.transform == "amount_sum":
                cols.append(total / 100.0)
            elif f.transform == "amount_mean":
                cols.append(np.where(count > 0, total / np.maximum(count, 1) / 100.0, 0.0))
            elif f.transform == "amount_max":
                cols.append(raw.peak[i] / 100.0)
            else:  # amount_ratio
                live = (count > 0) & (total > 0)
                ratio = raw.cents * count.astype(np.float64) / np.where(live, total, 1)
                cols.append(np.where(live, ratio, f.null_as))
        if f.transform == "seconds_since_previous":
            cols.append(np.where(raw.gap_us >= 0, raw.gap_us / 1e6, f.null_as))
        elif f.transform == "first_seen":
            new = raw.new[kind_index[str(f.column)]]
            cols.append(np.where(new < 0, f.null_as, new.astype(np.float64)))
    if not cols:
        return np.zeros((n, 0), FEATURE_DTYPE)
    return np.ascontiguousarray(np.column_stack(cols), dtype=FEATURE_DTYPE)


# --- offline -------------------------------------------------------------------------------------


def window_matrix(
    spec: WindowSpec, columns: Mapping[str, Any], rows: np.ndarray | None = None
) -> np.ndarray:
    """Training: the window features of `rows` (default all, in order) of a snapshot's columns,
    every row with a key and a time being history (unlabelled rows too)."""
    group, time, amount_cents, hashes, known = inputs(spec, columns)
    raw = offline_stats(spec, group, time, amount_cents, hashes, known)
    return finish(spec, raw if rows is None else raw.take(np.asarray(rows, np.int64)))


def inputs(
    spec: WindowSpec, columns: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(card index, time in us, cents, value hashes (rows, kinds), key-and-time-known mask)."""
    group, _ = codes(columns[spec.key])
    time, has_time = epoch_micros(columns[spec.time])
    amount_cents = cents(columns[spec.amount])
    n = len(group)
    hashes = np.zeros((n, len(spec.kinds)), np.uint32)
    for j, column in enumerate(spec.kinds):
        hashes[:, j] = value_hashes(columns[column])
    return group, time, amount_cents, hashes, (group >= 0) & has_time


def offline_stats(
    spec: WindowSpec,
    group: np.ndarray,
    time: np.ndarray,
    amount_cents: np.ndarray,
    hashes: np.ndarray,
    known: np.ndarray,
) -> Raw:
    """Every row's statistics; rows without key or time get no history and are none."""
    raw = empty_raw(spec, amount_cents, hashes)
    rows = np.flatnonzero(known)
    if not len(rows):
        return raw
    g = group[rows]
    # chunks of whole cards: bounded memory, and the compressed time stays far below 2^63
    sizes = np.bincount(g)
    ends = np.cumsum(sizes)
    cut = np.searchsorted(ends, np.arange(1, ends[-1] // _CHUNK_ROWS + 1) * _CHUNK_ROWS)
    edges = np.unique(np.concatenate([[0], cut + 1, [len(sizes)]]))
    for first, last in itertools.pairwise(edges.tolist()):
        part = rows[(g >= first) & (g < last)] if len(edges) > 2 else rows
        sub = window_stats(
            spec,
            group[part] - first,
            time[part],
            amount_cents[part],
            hashes[part],
            np.ones(len(part), bool),
        )
        raw.count[:, part] = sub.count
        raw.total[:, part] = sub.total
        raw.peak[:, part] = sub.peak
        raw.gap_us[part] = sub.gap_us
        raw.new[:, part] = sub.new
    return raw
