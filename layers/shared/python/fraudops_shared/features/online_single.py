"""One transaction of one card, the API's call: what `online.apply_batch(spec, states, [record])`
gives, computed in plain Python over the card's kept transactions and dropped summary. It is
apart from `features.online` because it is a second implementation of the same definitions:
the batch path is ~100 numpy calls whatever the number of rows (~1 ms for one), while a card
keeps few transactions, so a loop over them costs tens of microseconds.

The definitions are `features.online`'s (and `features.windows`' for the numbers); the results
are the batch path's, to the bit: the same features (float32), the same new state (`to_bytes`),
the same applied and repeat flags (tests/unit/features/test_online_single.py compares the two
over generated histories, late, repeated and future transactions). `apply_one` returns None,
and the caller takes the batch path, for anything it does not mirror exactly: values of types
the one-value readers do not read (`values.Unusual`), times beyond +-2^62 us, a state of more
than `SMALL` entries or not in canonical order, a state or transaction whose (time, id) ties
another (null ids: the batch path's order of such ties is its sort's).
"""

from __future__ import annotations

import itertools
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops_shared.features.online import SEEN, Batch, CardState, StateError, event_dtype
from fraudops_shared.features.values import epoch_micro, string
from fraudops_shared.features.window_inputs import MAX_CENTS, NO_TIME, cent, id_hash, value_hash
from fraudops_shared.features.window_spec import WindowSpec

SMALL = 1024  # kept transactions, and dropped values, beyond which the batch path is faster
_LIMIT = 2**62  # times within +-2^62 us: no int64 arithmetic of the batch path can wrap


@dataclass(frozen=True)
class _Plan:
    """What one call needs of the spec, computed once per spec (its properties recompute)."""

    spans: tuple[int, ...]
    kinds: tuple[str, ...]
    reach: int  # keep + skew: how far back the state keeps transactions
    horizon: int
    forget: int  # horizon + skew
    max_events: int
    max_values: int
    dtype: np.dtype
    record: struct.Struct  # one kept transaction, packed as `event_dtype`
    steps: tuple[tuple[str, int, float], ...]  # finish: (transform, span or kind index, null_as)


_PLANS: dict[int, tuple[WindowSpec, _Plan]] = {}


def _plan(spec: WindowSpec) -> _Plan:
    held = _PLANS.get(id(spec))
    if held is not None and held[0] is spec:
        return held[1]
    spans, kinds = spec.spans, spec.kinds
    steps: list[tuple[str, int, float]] = []
    for f in spec.features:
        steps += [(f.transform, spans.index(us), f.null_as) for _, us in f.spans]
        if f.transform == "seconds_since_previous":
            steps.append((f.transform, 0, f.null_as))
        elif f.transform == "first_seen":
            steps.append((f.transform, kinds.index(str(f.column)), f.null_as))
    plan = _Plan(
        spans=spans,
        kinds=kinds,
        reach=spec.keep_us + spec.skew_us,
        horizon=spec.horizon_us,
        forget=spec.horizon_us + spec.skew_us,
        max_events=spec.max_events,
        max_values=spec.max_values,
        dtype=event_dtype(spec),
        record=struct.Struct(f"<qQI{len(kinds)}I"),
        steps=tuple(steps),
    )
    if len(_PLANS) > 64:  # specs are few and long-lived; tests make many
        _PLANS.clear()
    _PLANS[id(spec)] = (spec, plan)
    return plan


def apply_one(
    spec: WindowSpec, states: Mapping[str, CardState], record: Mapping[str, Any]
) -> Batch | None:
    """`apply_batch(spec, states, [record])`, or None: take the batch path."""
    plan = _plan(spec)
    try:
        card = string(record.get(spec.key))
        t, has_time = epoch_micro(record.get(spec.time))
        amount = cent(record.get(spec.amount))
        rid = id_hash(record.get(spec.id))
        hashes = [value_hash(record.get(c)) for c in plan.kinds]
    except Exception:  # anything unusual: the batch path gives its answer (or its error)
        return None
    state = states.get(card) if card is not None else None
    if state is not None and state.spec.tag != spec.tag:
        raise StateError("a card state of another window spec")
    spans = len(plan.spans)
    no = np.zeros(1, bool)
    if card is None or not has_time:  # no history, never history
        new = [1 if h else -1 for h in hashes]
        row = _finish(plan, [0] * spans, [0] * spans, [0] * spans, -1, new, amount)
        return Batch(row, {}, no, no.copy())
    state = CardState.empty(spec) if state is None else state
    card_state = _read(plan, state)
    if card_state is None:
        return None
    ts, ids, cs, vs, sk, st = card_state

    late = state.newest != NO_TIME and t <= state.newest - plan.reach
    repeat = not late and rid != 0 and rid in ids
    applied = not late and not repeat

    # the statistics of the kept transactions strictly earlier (windows: t - W < time < t)
    hi = bisect_left(ts, t)
    counts, totals, peaks = [], [], []
    for span in plan.spans:
        lo = bisect_right(ts, t - span, 0, hi)
        counts.append(hi - lo)
        totals.append(sum(cs[lo:hi]))
        peaks.append(min(max(cs[lo:hi]), MAX_CENTS) if hi > lo else 0)
    prev = ts[hi - 1] if hi else NO_TIME
    if state.pruned_last != NO_TIME and prev < state.pruned_last < t:
        prev = state.pruned_last
    gap = t - prev if prev != NO_TIME and t - prev < plan.horizon else -1
    new = []
    for j, h in enumerate(hashes):
        new.append(-1 if not h else 0 if _seen_before(plan, j, h, t, hi, ts, vs, sk, st) else 1)
    row = _finish(plan, counts, totals, peaks, gap, new, amount)
    if not applied:
        return Batch(row, {}, no, np.array([repeat]))
    after = _applied(spec, plan, state, card_state, (t, rid, amount, hashes))
    if after is None:
        return None
    return Batch(row, {str(card): after}, np.ones(1, bool), no)


_Lists = tuple[list[int], list[int], list[int], list[list[int]], list[int], list[int]]


def _read(plan: _Plan, state: CardState) -> _Lists | None:
    """The state as lists: times, ids, cents, value hashes of the kept transactions; kind << 32
    | hash and time of the dropped values. None when it is large, foreign or not canonical."""
    ev, seen = state.events, state.seen
    if len(ev) > min(SMALL, plan.max_events) or len(seen) > SMALL:
        return None
    if ev.dtype != plan.dtype or seen.dtype != SEEN:
        return None
    ts, ids = ev["time"].tolist(), ev["id"].tolist()
    keys = list(zip(ts, ids, strict=True))
    if any(a >= b for a, b in itertools.pairwise(keys)):  # (time, id) ascending, no ties
        return None
    if ts and (state.newest == NO_TIME or ts[-1] > state.newest):  # newest is the latest kept
        return None
    kinds = len(plan.kinds)
    sk = [(k << 32) | h for k, h in zip(seen["kind"].tolist(), seen["hash"].tolist(), strict=True)]
    if any(a >= b for a, b in itertools.pairwise(sk)) or (sk and sk[-1] >> 32 >= kinds):
        return None
    st = seen["time"].tolist()
    times = [state.newest, state.pruned_last, *ts[:1], *ts[-1:], *st]
    if any(not -_LIMIT < x < _LIMIT for x in times if x != NO_TIME):
        return None
    return ts, ids, ev["cents"].tolist(), ev["values"].tolist(), sk, st


def _seen_before(
    plan: _Plan,
    kind: int,
    h: int,
    t: int,
    hi: int,
    ts: list[int],
    vs: list[list[int]],
    sk: list[int],
    st: list[int],
) -> bool:
    """first_seen is 0: the value occurs in a kept transaction or the summary, t - H < time < t."""
    floor = t - plan.horizon
    for i in range(hi - 1, -1, -1):  # newest first
        if ts[i] <= floor:
            break
        if vs[i][kind] == h:
            return True
    key = (kind << 32) | h
    at = bisect_left(sk, key)
    return at < len(sk) and sk[at] == key and floor < st[at] < t


def _applied(
    spec: WindowSpec,
    plan: _Plan,
    state: CardState,
    lists: _Lists,
    event: tuple[int, int, int, list[int]],
) -> CardState | None:
    """The state with `event` added; the oldest moved to the summary (`online._new_states`)."""
    ts, ids, _, vs, sk, st = lists
    t, rid, amount, hashes = event
    start, end = bisect_left(ts, t), bisect_right(ts, t)
    if rid in ids[start:end]:  # a tie in (time, id): null ids
        return None
    pos = start + bisect_left(ids[start:end], rid)
    newest = t if state.newest == NO_TIME else max(state.newest, t)
    times = [*ts[:pos], t, *ts[pos:]]
    drop = max(bisect_right(times, newest - plan.reach), len(times) - plan.max_events, 0)
    forget = newest - plan.forget
    last = max(state.pruned_last, times[drop - 1]) if drop else state.pruned_last
    last = NO_TIME if last <= forget else last

    size = plan.dtype.itemsize
    data = state.events.tobytes()
    if drop <= pos:  # the kept ones: the old ones from drop, the new one at pos
        one = plan.record.pack(t, rid, amount, *hashes)
        events = np.frombuffer(
            data[drop * size : pos * size] + one + data[pos * size :], plan.dtype
        )
    else:  # the new one is among the dropped
        events = np.frombuffer(data[(drop - 1) * size :], plan.dtype)

    if not drop and (not st or min(st) > forget) and len(st) <= plan.max_values:
        return CardState(spec, newest, last, events, state.seen)  # the summary as it was
    latest = dict(zip(sk, st, strict=True))
    values = [*vs[:pos], hashes, *vs[pos:]]
    for i in range(drop):
        for j, h in enumerate(values[i]):
            key = (j << 32) | h
            if h and latest.get(key, NO_TIME) < times[i]:
                latest[key] = times[i]
    live = sorted((key, at) for key, at in latest.items() if at > forget)
    if len(live) > plan.max_values:
        live = _cap(plan, live)
    seen = np.array([(at, key & 0xFFFFFFFF, key >> 32) for key, at in live], SEEN)
    return CardState(spec, newest, last, events, seen)


def _cap(plan: _Plan, live: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most max_values per kind: the values dropped longest ago are forgotten (ties: the
    smaller hash), as `online._cap_values`."""
    by_kind: dict[int, list[tuple[int, int]]] = {}
    for key, at in live:
        by_kind.setdefault(key >> 32, []).append((key, at))
    out: list[tuple[int, int]] = []
    for items in by_kind.values():
        if len(items) > plan.max_values:
            items = sorted(items, key=lambda kv: (-kv[1], -kv[0]))[: plan.max_values]
        out += items
    return sorted(out)


def _finish(
    plan: _Plan,
    counts: list[int],
    totals: list[int],
    peaks: list[int],
    gap: int,
    new: list[int],
    amount: int,
) -> np.ndarray:
    """`windows.finish` of one row: the same float64 operations, then float32."""
    out: list[float] = []
    for transform, i, null_as in plan.steps:
        if transform == "count":
            out.append(float(counts[i]))
        elif transform == "amount_sum":
            out.append(float(totals[i]) / 100.0)
        elif transform == "amount_mean":
            count = counts[i]
            out.append(float(totals[i]) / float(max(count, 1)) / 100.0 if count > 0 else 0.0)
        elif transform == "amount_max":
            out.append(float(peaks[i]) / 100.0)
        elif transform == "amount_ratio":
            live = counts[i] > 0 and totals[i] > 0
            out.append(float(amount) * float(counts[i]) / float(totals[i]) if live else null_as)
        elif transform == "seconds_since_previous":
            out.append(float(gap) / 1e6 if gap >= 0 else null_as)
        else:  # first_seen
            out.append(null_as if new[i] < 0 else float(new[i]))
    return np.array(out, np.float32).reshape(1, len(out))
