"""Window features at scoring time (features.online): parity with training in event-time order,
exactly which features differ when transactions arrive late, repeats, too-late and future
events, the caps, and the state's bytes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.features.online import (
    SEEN,
    CardState,
    StateError,
    apply,
    apply_batch,
    event_dtype,
    featurise,
)
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.features.window_inputs import NO_TIME, id_hashes
from fraudops_shared.features.window_spec import WindowSpec
from fraudops_shared.features.windows import window_matrix
from fraudops_shared.training.dataset import columns_of
from tests.unit.features.windows_helpers import (
    DAY,
    HOUR,
    T0,
    history,
    records,
    spec_with,
)

START = datetime(2026, 10, 1, tzinfo=UTC)
FS = feature_set("transactions")
MINI = spec_with()


def _windows() -> WindowSpec:
    assert FS.windows is not None
    return FS.windows


SPEC = _windows()


def stream(
    spec: WindowSpec, txs: list[dict[str, Any]], states: dict[str, CardState] | None = None
) -> tuple[np.ndarray, dict[str, CardState], list[bool]]:
    """Apply one transaction at a time, in the order given, as a scorer would."""
    states = {} if states is None else states
    rows, applied = [], []
    for tx in txs:
        card = tx[spec.key]
        features, states[card], done = apply(states.get(card) or CardState.empty(spec), tx)
        rows.append(features)
        applied.append(done)
    return np.array(rows).reshape(len(txs), len(spec.names)), states, applied


def generated(n: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Generated transactions (bursts of fraud on few cards) and their offline features."""
    table = generator.generate_transactions(
        n, seed=seed, start=START, days=12, n_cards=80, fraud_rate=0.05
    )
    offline = window_matrix(SPEC, columns_of(table, SPEC.input_columns))
    return table.to_pylist(), offline


def column(name: str) -> int:
    return SPEC.names.index(name)


# --- parity --------------------------------------------------------------------------------------


def test_online_equals_offline_in_event_time_order() -> None:
    # Given 3,000 generated transactions, streamed one at a time in event-time order
    txs, offline = generated(3000, seed=21)
    online, states, applied = stream(SPEC, txs)
    # Then every window feature of every transaction is the offline one (to 1e-6, in fact equal)
    np.testing.assert_allclose(online, offline, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(online, offline)
    assert all(applied) and len(states) == len({t["card_id"] for t in txs})
    # And the history was exercised: bursts, repeat merchants, gaps
    assert (offline[:, column("card_count_10m")] > 0).sum() > 50
    assert (offline[:, column("card_new_merchant")] == 0).sum() > 500
    # And batches of 700 (a scorer's micro-batches) give the same numbers and the same states
    batched: dict[str, CardState] = {}
    for i in range(0, len(txs), 700):
        batch = apply_batch(SPEC, batched, txs[i : i + 700])
        np.testing.assert_array_equal(batch.features, offline[i : i + 700])
        batched.update(batch.states)
    assert {k: s.to_bytes() for k, s in batched.items()} == {
        k: s.to_bytes() for k, s in states.items()
    }


def test_featurise_gives_the_training_rows() -> None:
    # Given generated transactions as a JSON feed carries them (text times and numbers)
    table = generator.generate_transactions(800, seed=4, start=START, days=5, n_cards=30)
    text = generator.to_text(table).to_pylist()
    # When the scorer featurises them in one batch from empty states
    x, batch = featurise(FS, {}, text)
    # Then the rows are the training rows, all columns, in FeatureSet.names order
    np.testing.assert_array_equal(x, FS.matrix(columns_of(table, FS.input_columns)))
    assert x.shape == (800, len(FS.names)) and x.dtype == np.float32
    assert batch.applied.all() and len(batch.states) == 30


def test_late_arrivals_differ_exactly_where_the_docstring_says() -> None:
    # Given 4,000 generated transactions arriving up to 300 s (the skew) after their time
    txs, offline = generated(4000, seed=7)
    rng = np.random.default_rng(1)
    t = np.array([tx["event_time"].timestamp() for tx in txs])
    arrival = np.lexsort((np.arange(len(txs)), t + rng.uniform(0, 300, len(txs))))
    # When they are applied in arrival order
    got, _, applied = stream(SPEC, [txs[i] for i in arrival])
    online = np.empty_like(got)
    online[arrival] = got
    assert all(applied)
    seen_at = np.empty(len(txs), np.int64)
    seen_at[arrival] = np.arange(len(txs))
    cards = np.array([tx["card_id"] for tx in txs])
    differ: Counter[str] = Counter()
    affected = 0
    for i in range(len(txs)):
        mine = np.flatnonzero((cards == cards[i]) & (t < t[i]))
        late = mine[seen_at[mine] > seen_at[i]]  # earlier in time, applied after i
        if not len(late):
            # Then a transaction all of whose predecessors had arrived has the offline numbers
            np.testing.assert_array_equal(online[i], offline[i])
            continue
        affected += 1
        # Then a transaction scored before a late predecessor has the offline numbers of the
        # history that had arrived: as if the late ones did not exist
        known = mine[seen_at[mine] < seen_at[i]]
        subset = [txs[j] for j in [*known.tolist(), i]]
        sub_cols = {c: [tx[c] for tx in subset] for c in SPEC.input_columns}
        np.testing.assert_array_equal(online[i], window_matrix(SPEC, sub_cols)[-1])
        # And it differs from offline only in the features the late ones fall into
        allowed = _allowed(txs, t, i, late, known)
        for j in np.flatnonzero(online[i] != offline[i]):
            assert SPEC.names[j] in allowed, (i, SPEC.names[j])
            differ[SPEC.names[j]] += 1
    # And the test met late arrivals of each kind (bursts within minutes)
    assert affected >= 20
    assert differ["card_count_10m"] and differ["card_seconds_since_previous"]
    assert differ["card_amount_vs_mean_24h"] and differ["card_new_merchant"] >= 1


def _allowed(
    txs: list[dict[str, Any]], t: np.ndarray, i: int, late: np.ndarray, known: np.ndarray
) -> set[str]:
    """online_features.docstring's list for transaction i and its late predecessors."""
    out = set()
    for f in SPEC.features:
        for label, us in f.spans:
            if (t[i] - t[late] < us / 1e6).any():
                out.add(f"{f.name}_{label}")
    latest_known = t[known].max() if len(known) else -np.inf
    if t[late].max() > latest_known and t[i] - t[late].max() < SPEC.horizon_us / 1e6:
        out.add("card_seconds_since_previous")
    for f in SPEC.features:
        if f.transform == "first_seen":
            column_ = str(f.column)
            if any(txs[j][column_] == txs[i][column_] for j in late):
                out.add(f.name)
    return out


def test_a_batch_is_applied_in_event_time_order() -> None:
    # Given transactions in a batch in shuffled order
    txs, offline = generated(1500, seed=9)
    shuffled = np.random.default_rng(2).permutation(len(txs))
    batch = apply_batch(SPEC, {}, [txs[i] for i in shuffled])
    # Then each gets its offline numbers: within a batch nothing is late
    np.testing.assert_array_equal(batch.features, offline[shuffled])
    # And the states are those of applying them one by one in event-time order
    _, states, _ = stream(SPEC, txs)
    assert {k: s.to_bytes() for k, s in batch.states.items()} == {
        k: s.to_bytes() for k, s in states.items()
    }


# --- repeats, too late, future ------------------------------------------------------------------


def test_a_repeated_transaction_changes_nothing() -> None:
    txs = records(history(t=[0, 60, 120], merchant=["m1", "m2", "m1"]))
    features, states, _ = stream(MINI, txs)
    state = states["c1"]
    # When the last transaction is applied again
    again, after, applied = apply(state, txs[-1])
    # Then it is not applied, the state is the same, and so are its features
    assert not applied and after is state
    np.testing.assert_array_equal(again, features[-1])
    # And a batch repeating one transaction applies it once, with the same numbers twice
    batch = apply_batch(MINI, {}, [txs[0], txs[1], txs[1]])
    assert batch.applied.tolist() == [True, True, False]
    np.testing.assert_array_equal(batch.features[2], batch.features[1])
    assert len(batch.states["c1"]) == 2
    # And an earlier-timed transaction applied in between counts, as offline
    late = {**txs[0], "id": "late", "t": history(t=[90])["t"][0], "merchant": "m1"}
    _, with_late, _ = apply(state, late)
    again, _, applied = apply(with_late, txs[-1])
    assert not applied and again[MINI.names.index("n_1h")] == features[-1][1] + 1


def test_a_transaction_too_late_is_scored_but_not_applied() -> None:
    # Given a card whose newest transaction is at 8 days
    txs = records(history(t=[0, 8 * DAY], merchant=["m1", "m2"]))
    _, states, _ = stream(MINI, txs)
    state = states["c1"]
    # When one arrives dated at or before newest - 7 d - 300 s
    old = {**txs[0], "id": "old", "t": history(t=[DAY - 300])["t"][0], "merchant": "m9"}
    features, after, applied = apply(state, old)
    # Then it is scored from what the state knows (the one at 0 s, now in the summary)...
    assert features[MINI.names.index("since")] == DAY - 300
    # ...and not applied: the state is unchanged, later transactions never see it
    assert not applied and after.to_bytes() == state.to_bytes()
    later = {**txs[0], "id": "later", "t": history(t=[8 * DAY + 60])["t"][0], "merchant": "m9"}
    seen, _, _ = apply(after, later)
    assert seen[MINI.names.index("new_merchant")] == 1.0  # offline would say 0
    # And one second later than that limit is applied
    _, _, applied = apply(state, {**old, "t": history(t=[DAY - 299])["t"][0]})
    assert applied


def test_a_future_event_does_not_poison_later_arrivals() -> None:
    # Given a card with a transaction 7 days minus 10 s before `now`, one 60 s before `now`,
    # and one dated 250 s in the future (the producer's clock runs ahead) applied first
    now = 10 * DAY
    cols = history(t=[now - 7 * DAY + 10, now - 60, now + 250, now], amount=[1.0, 2.0, 4.0, 8.0])
    txs = records(cols)
    offline = window_matrix(MINI, cols)
    features, _, applied = stream(MINI, [txs[0], txs[1], txs[2], txs[3]])
    # When `now` arrives after the future one, Then its numbers are the offline ones:
    assert all(applied)
    np.testing.assert_array_equal(features[3], offline[3])
    # seconds since previous is to the latest *earlier* one (60 s), not to the future one
    assert features[3][MINI.names.index("since")] == 60.0
    # and its 7-day window still holds the one from 7 days minus 10 s ago (kept: S + skew)
    assert features[3][MINI.names.index("n_7d")] == 2.0
    assert features[3][MINI.names.index("sum_7d")] == np.float32(3.0)


def test_late_by_more_than_the_skew_loses_only_dropped_window_rows() -> None:
    # Given transactions at 0 s (merchant m1) and at 7 d + 1 h (which drops the one at 0 s)
    cols = history(t=[0, 3 * DAY, 7 * DAY + HOUR], merchant=["m1", "m1", "m2"])
    txs = records(cols)
    offline = window_matrix(MINI, cols)
    # When the one at 3 d arrives last (late by more than the skew, not too late)
    features, _, applied = stream(MINI, [txs[0], txs[2], txs[1]])
    assert all(applied)
    late = features[2]
    # Then seconds since previous and first_seen are exact (the dropped summary)...
    for name in ("since", "new_merchant", "new_device"):
        assert late[MINI.names.index(name)] == offline[1][MINI.names.index(name)]
    # ...and its 7-day window misses the dropped transaction
    assert late[MINI.names.index("n_7d")] == 0.0 and offline[1][MINI.names.index("n_7d")] == 1.0


# --- caps, bytes, expiry ------------------------------------------------------------------------


def test_beyond_max_events_the_newest_are_kept_and_nothing_else_breaks() -> None:
    # Given 5,000 transactions of one card within 1,000 s (a bot), the first 50 at merchant m0
    n = 5000
    cols = history(
        t=np.arange(n) * 0.2,
        merchant=["m0"] * 50 + [f"m{i % 7 + 1}" for i in range(n - 50)],
        amount=np.arange(1, n + 1, dtype=float),
    )
    cols["t"] = (np.int64(T0 * 1_000_000) + np.arange(n) * 200_000).astype("datetime64[us]")
    txs = records(cols)
    offline = window_matrix(MINI, cols)
    states: dict[str, CardState] = {}
    online = np.zeros_like(offline)
    for i in range(0, n, 1000):
        batch = apply_batch(MINI, states, txs[i : i + 1000])
        states.update(batch.states)
        online[i : i + 1000] = batch.features
    # Then windows see the newest 4,096 both ways, and every number matches
    np.testing.assert_array_equal(online, offline)
    assert online[-1][MINI.names.index("n_7d")] == 4096
    # And the state holds 4,096 transactions, its dropped merchant m0 in the summary
    state = states["c1"]
    assert len(state) == 4096 and len(state.to_bytes()) < 400_000
    m0 = {**txs[-1], "id": "again", "t": history(t=[2000])["t"][0], "merchant": "m0"}
    assert apply(state, m0)[0][MINI.names.index("new_merchant")] == 0.0


def test_beyond_max_values_the_oldest_dropped_values_are_forgotten() -> None:
    # Given a summary of at most 2 values per column, and merchants m1..m4 dropped (8 d later)
    spec = spec_with(max_values=2)
    cols = history(
        t=[0, 60, 120, 180, 8 * DAY, 8 * DAY + 60, 8 * DAY + 120],
        merchant=["m1", "m2", "m3", "m4", "m5", "m1", "m4"],
    )
    txs = records(cols)
    features, states, _ = stream(spec, txs)
    offline = window_matrix(spec, cols)
    new = spec.names.index("new_merchant")
    # Then m3 and m4 (dropped last) are remembered, m1 and m2 forgotten
    state = states["c1"]
    assert len(state.seen) == 2
    # So m1 coming back within H is new online and seen offline (the stated difference)...
    assert features[5][new] == 1.0 and offline[5][new] == 0.0
    # ...and m4, remembered, is seen both ways
    assert features[6][new] == offline[6][new] == 0.0


def test_state_bytes_round_trip_and_are_refused_when_foreign() -> None:
    txs = records(history(t=[0, 60, 8 * DAY], merchant=["m1", "m2", "m3"], device=["d", None, "d"]))
    _, states, _ = stream(MINI, txs)
    state = states["c1"]
    data = state.to_bytes()
    # Then the bytes read back to the same state (and the same bytes)
    back = CardState.from_bytes(data, MINI)
    assert back.to_bytes() == data and back.newest == state.newest
    assert len(back) == 1 and len(back.seen) == 3  # m3 kept; m1, m2 and device d dropped
    tx = {**txs[0], "id": "next", "t": history(t=[8 * DAY + 5])["t"][0]}
    np.testing.assert_array_equal(apply(back, tx)[0], apply(state, tx)[0])
    # And another spec, another format, a wrong length are refused, never misread
    with pytest.raises(StateError, match="another window spec"):
        CardState.from_bytes(data, spec_with(max_events=100))
    with pytest.raises(StateError, match="format"):
        CardState.from_bytes(b"XXXX" + data[4:], MINI)
    with pytest.raises(StateError, match="expected"):
        CardState.from_bytes(data[:-1], MINI)
    with pytest.raises(StateError, match="shorter"):
        CardState.from_bytes(b"FOCS", MINI)
    with pytest.raises(StateError, match="another window spec"):
        apply_batch(spec_with(max_events=100), {"c1": state}, [tx])


def test_a_full_state_fits_a_dynamodb_item() -> None:
    # Given a state at both caps: 4,096 transactions, 1,024 dropped values per column
    rng = np.random.default_rng(0)
    events = np.zeros(SPEC.max_events, event_dtype(SPEC))
    events["time"] = np.sort(rng.integers(0, 10**12, SPEC.max_events))
    events["id"] = id_hashes([f"tx{i}" for i in range(SPEC.max_events)])
    seen = np.zeros(SPEC.max_values * len(SPEC.kinds), SEEN)
    seen["kind"] = np.repeat(np.arange(len(SPEC.kinds)), SPEC.max_values)
    seen["hash"] = np.tile(np.arange(1, SPEC.max_values + 1), len(SPEC.kinds))
    state = CardState(SPEC, int(events["time"][-1]), 5, events, seen)
    # Then its bytes are 171,046: under DynamoDB's 400 KB item limit with room to spare
    data = state.to_bytes()
    assert len(data) == 38 + 4096 * 32 + 3072 * 13 == 171_046
    assert CardState.from_bytes(data, SPEC).to_bytes() == data


def test_an_expired_state_is_an_unknown_card() -> None:
    txs = records(history(t=[0, 60], merchant=["m1", "m1"], device=["d", "d"]))
    _, states, _ = stream(MINI, txs)
    state = states["c1"]
    # Then the state expires H + skew after its newest transaction (the item's TTL)...
    assert state.expires_at == T0 + 60 + 30 * DAY + 300
    assert CardState.empty(MINI).expires_at is None
    # ...after which it changes no feature: the same numbers as from an empty state
    tx = {**txs[0], "id": "back", "t": history(t=[60 + 30 * DAY + 300])["t"][0]}
    np.testing.assert_array_equal(apply(state, tx)[0], apply(CardState.empty(MINI), tx)[0])


def test_transactions_without_card_or_time_are_scored_as_unknown_and_not_applied() -> None:
    txs = records(history(t=[0, 60], merchant=["m1", "m1"]))
    _, states, _ = stream(MINI, txs)
    no_card = {**txs[1], "id": "x", "card": None}
    no_time = {**txs[1], "id": "y", "t": None}
    batch = apply_batch(MINI, states, [no_card, no_time])
    assert not batch.applied.any() and batch.states == {}
    empty = apply(CardState.empty(MINI), {**txs[0], "id": "z", "card": "new"})[0]
    np.testing.assert_array_equal(batch.features, np.vstack([empty, empty]))
    assert CardState.empty(MINI).newest == NO_TIME
