"""The one-transaction path (features.online_single, FeatureSet.transaction_row and the one-value
readers of features.values and features.window_inputs) against the batch path it stands for:
over generated cards and histories (empty ones, repeats, late, too-late and future events,
missing devices and cards and times, first-seen values, transactions dropped into the summary,
both caps), every feature float32-equal to the bit, every new state byte-equal, the same
applied and repeat flags; and what it leaves to the batch path gets the batch path's answer."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.features import online_single
from fraudops_shared.features.online import (
    SEEN,
    Batch,
    CardState,
    apply_batch,
    apply_columns,
    event_dtype,
    featurise,
)
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.features.values import (
    Unusual,
    epoch_micro,
    epoch_micros,
    epoch_second,
    epoch_seconds,
    number,
    numbers,
    string,
    strings,
)
from fraudops_shared.features.window_inputs import (
    NO_TIME,
    cent,
    cents,
    hash64,
    hash64_one,
    id_hash,
    id_hashes,
    value_hash,
    value_hashes,
)
from fraudops_shared.features.window_spec import WindowSpec
from tests.unit.features.windows_helpers import DAY, T0, spec_with

START = datetime(2026, 10, 1, tzinfo=UTC)
FS = feature_set("transactions")
assert FS.windows is not None
SPEC: WindowSpec = FS.windows


def batch_path(spec: WindowSpec, states: dict[str, CardState], tx: dict[str, Any]) -> Batch:
    """The reference: the batch kernel on a one-row batch."""
    return apply_columns(spec, states, {c: [tx.get(c)] for c in spec.record_columns})


def assert_same(one: Batch | None, ref: Batch) -> None:
    assert one is not None
    assert one.features.dtype == ref.features.dtype == np.float32
    assert one.features.shape == ref.features.shape
    assert one.features.tobytes() == ref.features.tobytes()  # to the bit (-0.0 too)
    assert one.applied.tolist() == ref.applied.tolist()
    assert one.repeat.tolist() == ref.repeat.tolist()
    assert one.applied.dtype == one.repeat.dtype == bool
    assert {k: s.to_bytes() for k, s in one.states.items()} == {
        k: s.to_bytes() for k, s in ref.states.items()
    }


def disordered(
    txs: list[dict[str, Any]], seed: int, key: str, time: str, ident: str
) -> list[dict[str, Any]]:
    """Arrival order with jitter of up to 15 minutes (late by more than the skew), and repeats,
    too-late copies, future-dated copies, null cards and times mixed in."""
    rng = np.random.default_rng(seed)
    t = np.array([tx[time].timestamp() for tx in txs])
    order = np.argsort(t + rng.uniform(0, 900, len(txs)), kind="stable")
    out: list[dict[str, Any]] = []
    for n, i in enumerate(order.tolist()):
        tx = txs[i]
        out.append(tx)
        roll = rng.random()
        if roll < 0.05 and out:  # a repeat of something that arrived before
            out.append(dict(out[int(rng.integers(len(out)))]))
        elif roll < 0.07:  # too late: 8 days before
            out.append({**tx, ident: f"old-{n}", time: tx[time] - timedelta(days=8)})
        elif roll < 0.09:  # dated up to the skew ahead
            ahead = timedelta(seconds=float(rng.uniform(1, 300)))
            out.append({**tx, ident: f"ahead-{n}", time: tx[time] + ahead})
        elif roll < 0.10:
            out.append({**tx, ident: f"nocard-{n}", key: None})
        elif roll < 0.11:
            out.append({**tx, ident: f"notime-{n}", time: None})
    return out


def stream_both(
    spec: WindowSpec, arrivals: list[dict[str, Any]], as_bytes: bool = True
) -> Counter[str]:
    """Each transaction through both paths against the same states (read back from their bytes,
    as the scorer reads them); the states move on with the batch path's."""
    states: dict[str, CardState] = {}
    seen: Counter[str] = Counter()
    for tx in arrivals:
        one = online_single.apply_one(spec, states, tx)
        ref = batch_path(spec, states, tx)
        assert_same(one, ref)
        np.testing.assert_array_equal(apply_batch(spec, states, [tx]).features, ref.features)
        seen["applied" if ref.applied[0] else "repeat" if ref.repeat[0] else "not applied"] += 1
        for card, state in ref.states.items():
            seen["dropped"] += state.pruned_last != NO_TIME
            seen["summary"] += len(state.seen) > 0
            states[card] = CardState.from_bytes(state.to_bytes(), spec) if as_bytes else state
    return seen


# --- the window features and the states ----------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_transaction_equals_the_batch_path_over_generated_streams(seed: int) -> None:
    # Given generated transactions of 40 cards over 12 days (older ones drop into the summary)
    # arriving out of order, with repeats, too-late, future, card-less and time-less ones
    table = generator.generate_transactions(
        1500, seed=seed, start=START, days=12, n_cards=40, fraud_rate=0.05
    )
    arrivals = disordered(table.to_pylist(), seed, "card_id", "event_time", "transaction_id")
    # When each is applied alone, Then the one-transaction path is the batch path, exactly
    seen = stream_both(SPEC, arrivals)
    # And every case was met
    assert seen["applied"] > 1400 and seen["repeat"] > 40 and seen["not applied"] > 40
    assert seen["dropped"] > 100 and seen["summary"] > 100


@pytest.mark.parametrize("form", ["iso_z", "isoformat", "seconds"])
def test_times_as_text_and_numbers_take_the_same_path(form: str) -> None:
    # Given generated transactions whose times are ISO text (a JSON feed, an API request) or
    # epoch seconds, and amounts as text for some
    table = generator.generate_transactions(600, seed=8, start=START, days=9, n_cards=15)
    txs = table.to_pylist()
    arrivals = disordered(txs, 8, "card_id", "event_time", "transaction_id")
    for i, tx in enumerate(arrivals):
        at = tx["event_time"]
        if at is not None:
            text = at.isoformat()
            tx = {**tx, "event_time": {
                "iso_z": text.replace("+00:00", "Z"), "isoformat": text,
                "seconds": at.timestamp(),
            }[form]}  # fmt: skip
        if i % 3 == 0:
            tx = {**tx, "amount": str(tx["amount"])}
        arrivals[i] = tx
    seen = stream_both(SPEC, arrivals, as_bytes=False)
    assert seen["applied"] > 550 and seen["repeat"] > 10


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_events", [6, 4096])
def test_caps_and_boundaries_exactly_as_the_batch_path(seed: int, max_events: int) -> None:
    # Given a spec keeping at most 6 (or 4,096) transactions and 3 dropped values per column,
    # and random histories of 3 cards over 40 days on a 5-minute grid (so that transactions
    # tie in time and sit exactly a span, the keep reach or the horizon apart): merchants from
    # 12, devices from 4 or none, amounts with ties, arriving in random order
    spec = spec_with(max_events=max_events, max_values=3)
    rng = np.random.default_rng(seed)
    n = 400
    times = T0 + 300 * np.sort(rng.integers(0, 40 * 288, n))
    txs = [
        {
            "id": f"tx{i}",
            "t": datetime.fromtimestamp(int(times[i]), UTC),
            "card": f"c{rng.integers(3)}",
            "amount": float(rng.choice([0.0, 1.0, 9.99, 250.0, 1e9])),
            "merchant": f"m{rng.integers(12)}",
            "device": None if rng.random() < 0.4 else f"d{rng.integers(4)}",
        }
        for i in range(n)
    ]
    arrivals = [txs[i] for i in np.argsort(times + rng.uniform(0, 2 * DAY, n))]
    arrivals += [dict(txs[i]) for i in rng.integers(0, n, 20)]  # repeats (some dropped)
    # Then every transaction matches the batch path, the caps having been met
    seen = stream_both(spec, arrivals)
    assert seen["dropped"] > 50 and seen["not applied"] > 5


def test_exact_boundaries_of_spans_reach_horizon_and_forgetting() -> None:
    # Given a spec with spans 10m, 1h and 7d, a 30-day horizon and a 300 s skew, and histories
    # whose transactions sit exactly at (and 1 s either side of) each boundary from a probe:
    # a span, the keep reach (too late; dropped), the horizon (seconds since previous,
    # first_seen from a kept transaction or from the summary), horizon + skew (forgotten)
    spec = spec_with()
    reach, horizon = (spec.keep_us + spec.skew_us) // 10**6, spec.horizon_us // 10**6
    skew = spec.skew_us // 10**6
    marks = [600, 3600, 7 * DAY, reach, horizon, horizon + skew, horizon - reach]
    cases = 0
    for mark in marks:
        for delta in (-1, 0, 1):
            d = mark + delta
            patterns = [
                [0, d],  # the probe d after a kept transaction
                [0, 8 * DAY, d + 8 * DAY],  # the one at 0 dropped into the summary first
                [0, 8 * DAY, d],  # the same, the probe in between
                [0, d, d + reach],  # what the probe's own transaction becomes
                [d, d + 8 * DAY, 8 * DAY],  # too late, or not, by the new newest
                [0, 3 * DAY, 8 * DAY, d + 8 * DAY],
            ]
            for at in patterns:
                ends = (0, len(at) - 1)  # the first and the last share a merchant, a device
                txs = [{"id": f"tx{i}", "t": datetime.fromtimestamp(T0 + s, UTC), "card": "c",
                        "amount": 10.0 + i, "merchant": "m" if i in ends else f"x{i}",
                        "device": "d" if i in ends else None}
                       for i, s in enumerate(at)]  # fmt: skip
                stream_both(spec, txs)
                cases += 1
    assert cases == len(marks) * 3 * 6


def test_a_state_holding_amounts_beyond_the_clip_is_read_as_the_batch_reads_it() -> None:
    # Given a hand-built state whose amounts exceed what `cents` clips to (uint32 holds more)
    events = np.zeros(3, event_dtype(SPEC))
    events["time"] = (T0 + np.array([0, 60, 120])) * 10**6
    events["id"] = [11, 12, 13]
    events["cents"] = [4_000_000_000, 5, 3_000_000_000]
    state = CardState(SPEC, int(events["time"][-1]), NO_TIME, events, np.zeros(0, SEEN))
    tx = {"transaction_id": "t", "event_time": datetime.fromtimestamp(T0 + 180, UTC),
          "card_id": "c", "amount": 1.0}  # fmt: skip
    # Then the maxima are clipped as the batch kernel clips them, the sums are not
    assert_same(online_single.apply_one(SPEC, {"c": state}, tx), batch_path(SPEC, {"c": state}, tx))


def test_a_transaction_older_than_every_kept_one_can_be_dropped_at_once() -> None:
    # Given a card keeping 3 transactions, newer than the next one (late, not too late)
    spec = spec_with(max_events=3)
    at = [T0 + 100, T0 + 200, T0 + 300, T0 + 50]
    txs = [{"id": f"tx{i}", "t": datetime.fromtimestamp(s, UTC), "card": "c", "amount": 1.0,
            "merchant": f"m{i}", "device": None} for i, s in enumerate(at)]  # fmt: skip
    states: dict[str, CardState] = {}
    for tx in txs[:3]:
        states.update(batch_path(spec, states, tx).states)
    # When it is applied, Then it goes straight to the summary, as in the batch path
    one = online_single.apply_one(spec, states, txs[3])
    assert_same(one, batch_path(spec, states, txs[3]))
    assert one is not None and len(one.states["c"]) == 3 and len(one.states["c"].seen) == 1


# --- the per-transaction features and whole rows -------------------------------------------------

ODD: dict[str, list[Any]] = {
    "amount": [None, "", "12.345", " true ", "False", "abc", float("nan"), float("inf"), -5.0,
               1e300, 7, True, 0.005, 0.015, 1234567.891, "1e400", 2**62, np.float64(2.5)],
    "mcc": ["5411", "", None, "54a1", "007", 5411],
    "channel": ["pos", "ECOM", None, "", "atm", 3],
    "entry_mode": ["chip", None, "manual", "tap"],
    "card_present": [True, False, None, "true", "0", 1, 0.0, "yes"],
    "country": [None, "DE", "XX", "", "FR"],
    "merchant_country": [None, "DE", "FR"],
    "ip_country": [None, "DE", "US", ""],
    "currency": ["EUR", None, "XYZ"],
    "device_id": [None, "", "dev1", "dev2", 42],
    "merchant_id": ["m1", "m2", None, "é€😀"],
    "event_time": [datetime(2026, 10, 3, 4, 5, 6, 789, UTC), datetime(2026, 10, 3, 4, 5, 7),
                   "2026-10-03T04:05:08.123456Z", "2026-10-03T06:05:09+02:00", "1790000000",
                   1790000000, 1.79e9 + 0.5, None, "garbage", "2026-10-03", "2026-10-03T04Z",
                   np.datetime64("2026-10-03T04:05:10.5"), "NaTZ", 1e13, float("nan")],
}  # fmt: skip


def odd_records(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    base = generator.generate_transactions(n, seed=seed, start=START, days=3, n_cards=5)
    out = []
    for tx in base.to_pylist():
        for column, values in ODD.items():
            if rng.random() < 0.5:
                tx[column] = values[int(rng.integers(len(values)))]
        out.append(tx)
    return out


def test_whole_rows_of_odd_values_are_the_batch_rows() -> None:
    # Given records with odd values in every column the features read (nulls, text numbers,
    # unknown categories, naive and offset times, numpy scalars, garbage)
    states: dict[str, CardState] = {}
    fast = fast_windows = 0
    for tx in odd_records(1500, seed=4):
        # When one is featurised, Then its row and its batch are the batch path's
        x, batch = featurise(FS, states, [tx])
        ref = batch_path(SPEC, states, tx)
        own = FS.transaction_matrix({c: [tx.get(c)] for c in FS.transaction_columns})
        want = np.ascontiguousarray(np.hstack([own, ref.features]))
        assert x.dtype == np.float32 and x.tobytes() == want.tobytes() and x.shape == want.shape
        assert_same(batch, ref)
        row = FS.transaction_row(tx)
        if row is not None:
            fast += 1
            assert np.array(row, np.float32).reshape(1, -1).tobytes() == own.tobytes()
        windows = online_single.apply_one(SPEC, states, tx)
        if windows is not None:
            fast_windows += 1
            assert_same(windows, ref)
        states.update(ref.states)
    # And most of them took the one-transaction paths
    assert fast > 1000 and fast_windows > 1000


def test_what_the_fast_paths_leave_to_the_arrays_still_gets_the_batch_answer() -> None:
    table = generator.generate_transactions(50, seed=2, start=START, days=2, n_cards=1)
    txs = table.to_pylist()
    states: dict[str, CardState] = {}
    for tx in txs[:-1]:
        states.update(batch_path(SPEC, states, tx).states)
    tx = txs[-1]
    # Values of types the one-value readers do not read, and times beyond +-2^62 us
    for odd in ({"amount": Decimal("12.5")}, {"device_id": ["a"]}, {"event_time": 1e13},
                {"card_id": np.str_("x")}, {"amount": 10**30}, {"amount": "1\0"}):  # fmt: skip
        record = {**tx, **odd}
        assert online_single.apply_one(SPEC, states, record) is None
        assert_same(apply_batch(SPEC, states, [record]), batch_path(SPEC, states, record))
    assert FS.transaction_row({**tx, "amount": Decimal("1")}) is None
    # A state larger than SMALL, a state whose null ids tie in time, a state out of order
    card = tx["card_id"]
    many = [{**tx, "transaction_id": f"b{i}", "event_time": tx["event_time"]
             - timedelta(seconds=i + 1)} for i in range(online_single.SMALL + 5)]  # fmt: skip
    big = apply_columns(SPEC, {}, {c: [r.get(c) for r in many] for c in SPEC.record_columns})
    ties = [{**tx, "transaction_id": None}, {**tx, "transaction_id": None, "amount": 3.0}]
    tied = apply_columns(SPEC, {}, {c: [r.get(c) for r in ties] for c in SPEC.record_columns})
    state = states[card]
    backwards = CardState(SPEC, state.newest, state.pruned_last, state.events[::-1], state.seen)
    behind = CardState(SPEC, state.newest - 10**9, state.pruned_last, state.events, state.seen)
    later = {**tx, "transaction_id": "later", "event_time": tx["event_time"] + timedelta(hours=1)}
    for odd_state in (big.states[card], tied.states[card], backwards, behind):
        assert online_single.apply_one(SPEC, {card: odd_state}, later) is None
        ref = batch_path(SPEC, {card: odd_state}, later)
        assert_same(apply_batch(SPEC, {card: odd_state}, [later]), ref)
    # A null id tying a kept null id at the same time: the batch path's order, not ours
    null = {**ties[0], "amount": 7.0}
    assert online_single.apply_one(SPEC, {card: tied.states[card]}, null) is None
    # And a state a little under SMALL takes the one-transaction path, exactly
    under = [r for r in many if r["transaction_id"] != "b0"][: online_single.SMALL - 1]
    held = apply_columns(SPEC, {}, {c: [r.get(c) for r in under] for c in SPEC.record_columns})
    assert_same(
        online_single.apply_one(SPEC, held.states, later), batch_path(SPEC, held.states, later)
    )


def test_an_unknown_card_and_an_empty_history() -> None:
    tx = generator.generate_transactions(1, seed=1, start=START, days=1).to_pylist()[0]
    for states in ({}, {tx["card_id"]: CardState.empty(SPEC)}):
        one = online_single.apply_one(SPEC, states, tx)
        assert_same(one, batch_path(SPEC, states, tx))
        assert one is not None and one.applied[0] and len(one.states[tx["card_id"]]) == 1
    spec = spec_with()
    other = {tx["card_id"]: CardState.empty(spec_with(max_events=100))}
    with pytest.raises(ValueError, match="another window spec"):
        online_single.apply_one(spec, other, {"card": tx["card_id"], "t": tx["event_time"]})


# --- the one-value readers -----------------------------------------------------------------------

VALUES: list[Any] = [
    None, "", " ", "0", "12.5", " TRUE ", "false", "nan", "inf", "-1e3", "abc", "1\0", "é€😀",
    0, 1, -7, 2**62, 2**63 - 1, -(2**63), 2**63, 10**30, True, False, 0.0, -0.0, 1.5,
    float("nan"), float("inf"), -float("inf"), 1e300, np.float64(2.5), np.int64(3),
    np.float32(1.5), np.bool_(True), np.str_("x"), Decimal("1.5"), b"bytes",
    datetime(2026, 10, 3, 4, 5, 6, 789, UTC), datetime(2026, 10, 3, 4, 5, 6),
    datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    "2026-10-03T04:05:06Z", "2026-10-03T04:05:06.5Z", "2026-10-03T04:05:06+02:00",
    "2026-10-03 04:05:06", "2026-10-03T04Z", "NaTZ", "TZ", "1790000000", "1.79e9",
    np.datetime64("2026-10-03T04:05:06.123456789"), np.datetime64("NaT", "us"),
    np.datetime64("2026-10-03"), 1.79e9, 1e13, -1e13, 9e12,
]  # fmt: skip


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize(
    ("one", "arrays"),
    [
        (number, lambda v: float(numbers([v])[0])),
        (string, lambda v: strings([v])[0]),
        (epoch_second, lambda v: float(epoch_seconds([v])[0])),
        (epoch_micro, lambda v: tuple(x.item() for x in epoch_micros([v]))),
        (cent, lambda v: int(cents([v])[0])),
        (id_hash, lambda v: int(id_hashes([v])[0])),
        (value_hash, lambda v: int(value_hashes([v])[0])),
    ],
    ids=lambda f: getattr(f, "__name__", ""),
)
def test_each_one_value_reader_is_its_array_reader_or_unusual(one: Any, arrays: Any) -> None:
    read = 0
    for v in VALUES:
        try:
            got = one(v)
        except Unusual:
            continue  # the caller takes the array path
        except Exception as err:  # then the array reader fails the same way
            with pytest.raises(type(err)):
                arrays(v)
            continue
        want = arrays(v)
        if isinstance(got, tuple):
            got, want = got if got[1] else (0, False), want if want[1] else (0, False)
        assert same(got, want), (v, got, want)
        read += 1
    assert read > len(VALUES) // 2


def test_the_one_text_hash_is_the_array_hash() -> None:
    rng = np.random.default_rng(0)
    alphabet = [*"abcXYZ019-_ .:/", "é", "€", "😀", "\0", "ß"]
    texts = [""] + [
        "".join(rng.choice(alphabet, size=n)) for n in list(range(1, 40)) * 20 + [200, 1000]
    ]
    assert [hash64_one(t) for t in texts] == hash64(texts).tolist()


def test_the_state_layout_the_fast_path_packs_is_the_state_dtype() -> None:
    for spec in (SPEC, spec_with(), spec_with(max_events=3)):
        plan = online_single._plan(spec)
        assert plan.record.size == event_dtype(spec).itemsize
