"""Window features at scoring time: a small per-card state, applied one transaction (or one
batch) at a time, that gives the numbers training computed offline (`features.windows`).

The scorer keeps one `CardState` per card (one DynamoDB binary attribute, `to_bytes`), loads
the states of a batch's cards, calls `apply_batch` (or `featurise` for whole model rows) and
writes back the states it returns. Everything is numpy; the same kernel and the same
integer-to-float step as offline run here, over what the state knows.

The state (S = the longest span, 7 d; skew = the contract's max_future_seconds, 300 s;
H = horizon_days, 30 d):

* ``newest``: the latest event time applied;
* the card's transactions with event time after ``newest - S - skew``, at most ``max_events``
  (4,096; the newest by (time, id hash) are kept): time (us), transaction id hash (64 bit),
  amount in cents (32 bit), a 32-bit hash per first_seen column (merchant, country, device);
* what was dropped, as a summary: the latest dropped time (for seconds_since_previous) and, per
  first_seen column, up to ``max_values`` (1,024) values with their latest dropped time (the
  values last seen longest ago are forgotten first); both forget what is at or before
  ``newest - H - skew``.

Serialised (`to_bytes`): a 38-byte header (format, the spec's tag, newest, latest dropped,
sizes), then packed little-endian records in canonical order: each kept transaction (time, id
hash, cents, value hashes: 32 bytes) and each remembered value (time, hash, column: 13 bytes).
171,046 bytes at both caps, well under DynamoDB's 400 KB item limit. `from_bytes` refuses
bytes of another format or spec. ``expires_at`` (newest + H + skew) is when the state no
longer changes any feature: the item's TTL.

`apply(state, transaction) -> (features, new_state, applied)`:

* **Features** follow the offline definitions over what the state knows: the kept
  transactions strictly earlier in event time (windows, seconds_since_previous, first_seen) and
  the dropped summary (seconds_since_previous, first_seen).
* **A repeat** (its transaction id hash is kept, or came earlier in the same batch) changes
  nothing: ``applied`` is False, the state is returned as is, and the features are recomputed
  from the state, which gives the first answer again unless an earlier-timed transaction of
  the card was applied in between (then it counts, as it does offline). Ids are kept as long
  as their transaction: a repeat older than ``newest - S - skew`` is too late (below); one of
  a transaction already dropped by the ``max_events`` cap is not recognised and counts twice.
* **Too late** (event time at or before ``newest - S - skew``): scored from the state, not
  applied (``applied`` False, state unchanged); later transactions never see it.
* Otherwise it is **applied**: added, then transactions at or before the new
  ``newest - S - skew`` and beyond ``max_events`` move to the summary.

When online equals offline, for a transaction T of a card:

1. every transaction of the card with an earlier event time was applied before T, and
2. T's event time is at least ``newest - skew`` (newest as applied before T), and
3. the caps hold: at most ``max_values`` dropped values per column within H (the event cap
   needs no condition in event-time order: offline applies the same limit).

Then every feature is equal (the parity test checks float32 equality). In an event-time-ordered
stream 1 and 2 hold for every transaction. Otherwise:

* **Late arrival** (1 fails for T: a transaction L with t_L < t_T arrives after T was scored).
  T's score is not revised. Offline, which sees L, can differ for T in exactly: count, sums,
  mean, max and amount_ratio of the spans W with t_T - W < t_L; seconds_since_previous when L
  is later than T's latest earlier transaction (or T had none within H); first_seen of a
  column when L has T's value and is the card's only earlier one within H (online 1, offline
  0). Nothing else. L itself is scored against what was applied before it and is added, so
  transactions after it see it.
* **Future times** (within the skew). A transaction dated up to 300 s ahead moves ``newest``
  ahead; transactions then arriving with earlier times still satisfy 2: kept transactions
  reach back S + skew, so their 7-day windows are whole, and seconds_since_previous is t minus
  the latest *earlier* transaction, never minus ``newest``, so it cannot be poisoned. (Times
  further ahead are refused upstream by the contract's freshness rule.)
* **Late by more than the skew** but not too late (2 fails): seconds_since_previous and
  first_seen stay exact (the summary); windows whose start t - W is at or before
  ``newest - S - skew`` miss the dropped transactions (the 7-day ones).
* **Caps**: beyond ``max_events`` in S, windows see the newest ``max_events`` before T, online
  and offline (online can see fewer when some of the kept ones are tied with T or later);
  seconds_since_previous and first_seen stay exact through the summary. A value forgotten
  from a full summary that comes back within H is new (1) online, seen (0) offline.

`apply_batch` gives what applying its transactions one by one in event-time order (ties by id
hash) gives: within a batch nothing is late. It runs the kernel once over the batch's cards'
kept transactions and the batch, with no Python loop per transaction. One transaction alone
(the API's call) takes `features.online_single` instead: the same results to the bit, in plain
Python over the card's few kept entries (~50 us instead of ~1 ms of numpy calls).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudops_shared.features.values import epoch_micros, strings
from fraudops_shared.features.window_inputs import NO_TIME, cents, codes, id_hashes, value_hashes
from fraudops_shared.features.window_kernel import Raw, empty_raw, sort_order, window_stats
from fraudops_shared.features.window_spec import WindowSpec
from fraudops_shared.features.windows import finish

if TYPE_CHECKING:
    from fraudops_shared.features.transforms import FeatureSet

MAGIC = b"FOCS"
FORMAT = 1
_HEADER = struct.Struct("<4sBB8sqqII")  # magic, format, kinds, spec tag, newest, last, n, m
SEEN = np.dtype([("time", "<i8"), ("hash", "<u4"), ("kind", "u1")])  # 13 bytes, packed


def event_dtype(spec: WindowSpec) -> np.dtype:
    """A kept transaction, packed little-endian: 20 bytes + 4 per first_seen column."""
    return np.dtype(
        [("time", "<i8"), ("id", "<u8"), ("cents", "<u4"), ("values", "<u4", (len(spec.kinds),))]
    )


class StateError(ValueError):
    """State bytes that cannot be read under this spec (another format or feature spec, or
    corrupt): the scorer must not guess."""


@dataclass(frozen=True, eq=False)
class CardState:
    """One card's history, immutable (`apply` returns a new one). Compare with `to_bytes`."""

    spec: WindowSpec
    newest: int  # us, NO_TIME for an unknown card
    pruned_last: int  # the latest dropped time, NO_TIME if none (or forgotten)
    events: np.ndarray  # event_dtype(spec), ascending by (time, id)
    seen: np.ndarray  # SEEN: dropped values, by (kind, hash)

    @classmethod
    def empty(cls, spec: WindowSpec) -> CardState:
        return cls(spec, NO_TIME, NO_TIME, np.zeros(0, event_dtype(spec)), np.zeros(0, SEEN))

    def __len__(self) -> int:
        return len(self.events)

    @property
    def expires_at(self) -> int | None:
        """Epoch seconds after which the state changes no feature (a DynamoDB TTL)."""
        if self.newest == NO_TIME:
            return None
        return -(-(self.newest + self.spec.horizon_us + self.spec.skew_us) // 1_000_000)

    def to_bytes(self) -> bytes:
        """Canonical bytes: equal states, equal bytes."""
        header = _HEADER.pack(
            MAGIC,
            FORMAT,
            len(self.spec.kinds),
            self.spec.tag,
            int(self.newest),
            int(self.pruned_last),
            len(self.events),
            len(self.seen),
        )
        return header + self.events.tobytes() + self.seen.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, spec: WindowSpec) -> CardState:
        if len(data) < _HEADER.size:
            raise StateError(f"card state of {len(data)} bytes: shorter than its header")
        magic, fmt, k, tag, newest, pruned_last, n, m = _HEADER.unpack_from(data)
        if magic != MAGIC or fmt != FORMAT:
            raise StateError(f"not a card state of format {FORMAT} ({magic!r}, {fmt})")
        if tag != spec.tag or k != len(spec.kinds):
            raise StateError("card state written under another window spec")
        if n > spec.max_events or m > spec.max_values * k:
            raise StateError(f"card state over its caps ({n} events, {m} values)")
        dtype = event_dtype(spec)
        expected = _HEADER.size + n * dtype.itemsize + m * SEEN.itemsize
        if len(data) != expected:
            raise StateError(f"card state of {len(data)} bytes, {expected} expected")
        events = np.frombuffer(data, dtype, n, _HEADER.size)
        seen = np.frombuffer(data, SEEN, m, _HEADER.size + n * dtype.itemsize)
        return cls(spec, newest, pruned_last, events, seen)


@dataclass(frozen=True)
class Batch:
    features: np.ndarray  # (transactions, len(spec.names)) float32, in the order given
    states: dict[str, CardState]  # the new state of every card whose history changed
    applied: np.ndarray  # (transactions,) bool: added to its card's history
    repeat: np.ndarray  # (transactions,) bool: its id was already applied (kept, or earlier here)


def apply(state: CardState, transaction: Mapping[str, Any]) -> tuple[np.ndarray, CardState, bool]:
    """One transaction of the state's card: (window features, new state, applied)."""
    card = strings([transaction.get(state.spec.key)])[0]
    batch = apply_batch(state.spec, {} if card is None else {card: state}, [transaction])
    new = batch.states.get(card, state) if card is not None else state
    return batch.features[0], new, bool(batch.applied[0])


def apply_batch(
    spec: WindowSpec, states: Mapping[str, CardState], transactions: Sequence[Mapping[str, Any]]
) -> Batch:
    """Many transactions of many cards, applied in event-time order. `states` holds the cards'
    current states (a card not in it is unknown: an empty state). One transaction (the API)
    takes `online_single`, the same results in plain Python, when it can."""
    if len(transactions) == 1:
        from fraudops_shared.features.online_single import apply_one  # it imports this module

        one = apply_one(spec, states, transactions[0])
        if one is not None:
            return one
    columns = {c: [r.get(c) for r in transactions] for c in spec.record_columns}
    return apply_columns(spec, states, columns)


def apply_columns(
    spec: WindowSpec, states: Mapping[str, CardState], columns: Mapping[str, Any]
) -> Batch:
    """`apply_batch` on columns (lists or arrays of `spec.record_columns`)."""
    key_idx, cards = codes(columns[spec.key])
    n = len(key_idx)
    k = len(spec.kinds)
    t, has_time = epoch_micros(columns[spec.time])
    amount = cents(columns[spec.amount])
    ids = id_hashes(columns[spec.id])
    hashes = np.zeros((n, k), np.uint32)
    for j, column in enumerate(spec.kinds):
        hashes[:, j] = value_hashes(columns[column])
    valid = (key_idx >= 0) & has_time
    g_b = np.maximum(key_idx, 0)

    old = [states.get(card) for card in cards]
    if any(s is not None and s.spec.tag != spec.tag for s in old):
        raise StateError("a card state of another window spec")
    known = [(i, s) for i, s in enumerate(old) if s is not None]
    dtype = event_dtype(spec)
    ev = _join([s.events for _, s in known], dtype)
    s_g = np.repeat([i for i, _ in known], [len(s.events) for _, s in known]).astype(np.int64)
    s_t = ev["time"].astype(np.int64)
    s_id = ev["id"].astype(np.uint64)
    s_c = ev["cents"].astype(np.int64)
    s_v = ev["values"].astype(np.uint32).reshape(len(ev), k)
    sm = _join([s.seen for _, s in known], SEEN)
    m_g = np.repeat([i for i, _ in known], [len(s.seen) for _, s in known]).astype(np.int64)
    newest = np.full(len(cards), NO_TIME, np.int64)
    pruned_last = np.full(len(cards), NO_TIME, np.int64)
    for i, s in known:
        newest[i], pruned_last[i] = s.newest, s.pruned_last

    # too late: before anything the card keeps (newest as before the batch: see the docstring)
    reach = spec.keep_us + spec.skew_us
    nb = newest[g_b] if len(cards) else np.full(n, NO_TIME)
    late = valid & (nb != NO_TIME) & (t <= np.where(nb != NO_TIME, nb, 0) - reach)

    # repeats: an id the card keeps, or that came earlier in event-time order in this batch
    cand = np.flatnonzero(valid & ~late & (ids != 0))
    kept = np.flatnonzero(np.isin(s_id, ids[cand]))  # only ids the batch carries can repeat
    e_g = np.concatenate([s_g[kept], g_b[cand]])
    e_id = np.concatenate([s_id[kept], ids[cand]])
    e_t = np.concatenate([np.full(len(kept), NO_TIME), t[cand]])
    e_row = np.concatenate([np.full(len(kept), -1), cand])
    o = np.lexsort((e_row, e_t, e_id, e_g))  # the first of each (card, id): kept, then by time
    again = np.zeros(len(o), bool)
    again[1:] = (e_g[o][1:] == e_g[o][:-1]) & (e_id[o][1:] == e_id[o][:-1])
    repeated = e_row[o][again]
    repeat = np.zeros(n, bool)
    repeat[repeated[repeated >= 0]] = True
    applied = valid & ~late & ~repeat

    # one timeline: kept transactions, the batch, and the dropped summary as marker rows
    b_rows = np.flatnonzero(valid)
    p_groups = np.flatnonzero(pruned_last != NO_TIME)
    m_hashes = np.zeros((len(sm), k), np.uint32)
    m_hashes[np.arange(len(sm)), sm["kind"].astype(np.int64)] = sm["hash"]
    parts_n = [len(s_g), len(b_rows), len(p_groups), len(sm)]
    raw_batch = window_stats(
        spec,
        np.concatenate([s_g, g_b[b_rows], p_groups, m_g]),
        np.concatenate([s_t, t[b_rows], pruned_last[p_groups], sm["time"].astype(np.int64)]),
        np.concatenate([s_c, amount[b_rows], np.zeros(parts_n[2] + parts_n[3], np.int64)]),
        np.concatenate([s_v, hashes[b_rows], np.zeros((parts_n[2], k), np.uint32), m_hashes]),
        np.concatenate(
            [np.ones(parts_n[0], bool), applied[b_rows], np.zeros(parts_n[2] + parts_n[3], bool)]
        ),
        previous_only=np.repeat([False, False, True, False], parts_n),
        seen_only=np.repeat([False, False, False, True], parts_n),
        wanted=np.repeat([False, True, False, False], parts_n),
    )
    raw = empty_raw(spec, amount, hashes)
    _put(raw, b_rows, raw_batch)
    features = finish(spec, raw)

    new_states = _new_states(
        spec,
        cards,
        applied,
        (g_b, t, ids, amount, hashes),
        (s_g, s_t, s_id, s_c, s_v),
        (m_g, sm),
        newest,
        pruned_last,
    )
    return Batch(features=features, states=new_states, applied=applied, repeat=repeat)


def featurise(
    features: FeatureSet, states: Mapping[str, CardState], records: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, Batch]:
    """Whole model rows (`features.names` order) for a batch of records, and the batch (new
    states, applied). The per-transaction part is `FeatureSet.transaction_matrix`."""
    if features.windows is None:
        no = np.zeros(len(records), bool)
        none = Batch(np.zeros((len(records), 0), np.float32), {}, no, no.copy())
        return features.matrix_from_records(records), none
    batch = apply_batch(features.windows, states, records)
    own = features.transaction_row(records[0]) if len(records) == 1 else None
    if own is not None:  # one transaction: the same numbers without numpy per column
        x = np.empty((1, len(own) + batch.features.shape[1]), np.float32)
        x[0, : len(own)] = own
        x[0, len(own) :] = batch.features[0]
        return x, batch
    cols = {c: [r.get(c) for r in records] for c in features.transaction_columns}
    x = np.hstack([features.transaction_matrix(cols), batch.features])
    return np.ascontiguousarray(x), batch


def _join(arrays: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """np.concatenate of packed records, ~10x faster for thousands of small states."""
    data = b"".join([a.data if a.flags.c_contiguous else a.tobytes() for a in arrays])
    return np.frombuffer(data, dtype)


def _put(raw: Raw, rows: np.ndarray, sub: Raw) -> None:
    raw.count[:, rows] = sub.count
    raw.total[:, rows] = sub.total
    raw.peak[:, rows] = sub.peak
    raw.gap_us[rows] = sub.gap_us
    raw.new[:, rows] = sub.new


def _new_states(
    spec: WindowSpec,
    cards: list[str],
    applied: np.ndarray,
    batch: tuple[np.ndarray, ...],
    kept: tuple[np.ndarray, ...],
    summary: tuple[np.ndarray, np.ndarray],
    newest: np.ndarray,
    pruned_last: np.ndarray,
) -> dict[str, CardState]:
    """The states of the cards with an applied transaction, all of them at once."""
    b_g, b_t, b_id, b_c, b_v = batch
    s_g, s_t, s_id, s_c, s_v = kept
    m_g, sm = summary
    if not applied.any():
        return {}
    changed = np.zeros(len(cards), bool)
    changed[b_g[applied]] = True
    own = changed[s_g]
    g = np.concatenate([s_g[own], b_g[applied]])
    t = np.concatenate([s_t[own], b_t[applied]])
    ids = np.concatenate([s_id[own], b_id[applied]])
    o = _event_order(g, t, ids)
    g, t, ids = g[o], t[o], ids[o]
    amount = np.concatenate([s_c[own], b_c[applied]])[o]
    values = np.concatenate([s_v[own], b_v[applied]])[o]

    newest = newest.copy()
    np.maximum.at(newest, g, t)
    ends = np.searchsorted(g, g, side="right")
    from_end = ends - 1 - np.arange(len(g))
    reach = spec.keep_us + spec.skew_us
    dropped = (t <= newest[g] - reach) | (from_end >= spec.max_events)
    safe = np.where(changed, newest, 0)  # NO_TIME - x would wrap
    forget = safe - (spec.horizon_us + spec.skew_us)
    pruned_last = pruned_last.copy()
    np.maximum.at(pruned_last, g[dropped], t[dropped])
    pruned_last = np.where(changed & (pruned_last <= forget), NO_TIME, pruned_last)

    # the dropped-values summary: (card, kind, hash) -> latest time, within H, newest first
    kinds = len(spec.kinds)
    mine = changed[m_g]
    parts_g = [m_g[mine]]
    parts_k = [sm["kind"][mine].astype(np.int64)]
    parts_h = [sm["hash"][mine].astype(np.int64)]
    parts_t = [sm["time"][mine].astype(np.int64)]
    for j in range(kinds):
        r = dropped & (values[:, j] != 0)
        parts_g.append(g[r])
        parts_k.append(np.full(int(r.sum()), j, np.int64))
        parts_h.append(values[r, j].astype(np.int64))
        parts_t.append(t[r])
    packed = (np.concatenate(parts_g) * kinds + np.concatenate(parts_k)) * 2**32
    packed += np.concatenate(parts_h)  # canonical order: (card, kind, hash)
    et = np.concatenate(parts_t)
    o = np.argsort(packed)
    packed, et = packed[o], et[o]
    first = np.ones(len(packed), bool)
    first[1:] = packed[1:] != packed[:-1]
    starts = np.flatnonzero(first)
    latest = np.maximum.reduceat(et, starts) if len(starts) else et[:0]
    packed = packed[starts]
    live = latest > forget[packed // (kinds * 2**32)] if len(packed) else np.zeros(0, bool)
    packed, latest = _cap_values(spec, packed[live], latest[live])
    eg, rest = np.divmod(packed, kinds * 2**32)
    seen = np.empty(len(packed), SEEN)
    seen["time"] = latest
    seen["kind"], seen["hash"] = np.divmod(rest, 2**32)

    keep = ~dropped
    g = g[keep]
    events = np.empty(int(keep.sum()), event_dtype(spec))
    events["time"], events["id"], events["cents"] = t[keep], ids[keep], amount[keep]
    events["values"] = values[keep]
    groups = np.flatnonzero(changed)
    lo, hi = np.searchsorted(g, groups).tolist(), np.searchsorted(g, groups, "right").tolist()
    mlo, mhi = np.searchsorted(eg, groups).tolist(), np.searchsorted(eg, groups, "right").tolist()
    newest_l, last_l = newest[groups].tolist(), pruned_last[groups].tolist()
    return {
        cards[grp]: CardState(
            spec, newest_l[i], last_l[i], events[lo[i] : hi[i]], seen[mlo[i] : mhi[i]]
        )
        for i, grp in enumerate(groups.tolist())
    }


def _event_order(g: np.ndarray, t: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Order by (card, time, id hash): the canonical order of kept transactions (ties in time
    are rare; only they are sorted by id)."""
    o = sort_order(g, t)
    gs, ts = g[o], t[o]
    tied = np.zeros(len(o), bool)
    tied[1:] = (gs[1:] == gs[:-1]) & (ts[1:] == ts[:-1])
    tied[:-1] |= tied[1:]
    if tied.any():
        at = np.flatnonzero(tied)
        sub = o[at]
        o[at] = sub[np.lexsort((ids[sub], t[sub], g[sub]))]
    return o


def _cap_values(
    spec: WindowSpec, packed: np.ndarray, latest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """At most max_values per (card, kind): the values dropped longest ago are forgotten."""
    run = packed >> 32  # card * kinds + kind
    first = np.ones(len(run), bool)
    first[1:] = run[1:] != run[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, len(run)))
    over = sizes > spec.max_values
    if not over.any():
        return packed, latest
    keep = np.ones(len(run), bool)
    for start, size in zip(starts[over], sizes[over], strict=True):
        part = np.arange(start, start + size)
        newest_first = part[np.lexsort((-packed[part], -latest[part]))]
        keep[newest_first[spec.max_values :]] = False
    return packed[keep], latest[keep]
