"""Synthetic data (fraudops.generator): deterministic, valid, realistic enough to learn."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from fraudops.generator import (
    BAD_KINDS,
    fraud_patterns,
    generate_creditcard_benchmark,
    generate_transactions,
    generate_transactions_with_patterns,
    inject_bad_rows,
    to_text,
    write_table,
)
from fraudops_shared.contracts import load_contract
from fraudops_shared.contracts.validation import validate_batch

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
TX = load_contract("transactions")
CC = load_contract("creditcard_benchmark")


@cache
def sample() -> tuple[pa.Table, pa.Array]:
    return generate_transactions_with_patterns(30_000, 11, START, 30, fraud_rate=0.005)


def test_same_seed_same_table_other_seed_other_table() -> None:
    # Given two runs with one seed and one with another, When compared
    a = generate_transactions(2_000, 3, START, 10)
    b = generate_transactions(2_000, 3, START, 10)
    c = generate_transactions(2_000, 4, START, 10)
    # Then the first two are identical and the third differs
    assert a.equals(b)
    assert not a.equals(c)
    x, y = generate_creditcard_benchmark(2_000, 3), generate_creditcard_benchmark(2_000, 3)
    assert x.equals(y)
    assert not x.equals(generate_creditcard_benchmark(2_000, 4))


def test_generated_transactions_pass_their_contract_typed_and_as_text() -> None:
    # Given generated transactions, When validated typed (Parquet) and as text (CSV)
    table, _ = sample()
    for form in (table, to_text(table)):
        report = validate_batch(TX, form, now=END)
        # Then every row is valid, in order, with unique UUID keys
        assert report.rule_counts == {}
        assert report.valid.num_rows == table.num_rows
    assert table.schema.equals(TX.arrow_schema())
    assert pc.count_distinct(table.column("transaction_id")).as_py() == table.num_rows
    assert pc.all(
        pc.greater_equal(
            pc.pairwise_diff(table.column("event_time").combine_chunks()),
            pa.scalar(0, pa.duration("us")),
        )
    ).as_py()


def test_generated_benchmark_passes_its_contract() -> None:
    # Given benchmark-shaped rows, When validated, Then all pass, with the expected fraud rate
    table = generate_creditcard_benchmark(50_000, 5)
    report = validate_batch(CC, table, now=END)
    assert report.rule_counts == {}
    assert table.column_names == CC.column_names
    rate = pc.mean(table.column("Class")).as_py()
    assert 0.0008 < rate < 0.003
    time = table.column("Time").to_numpy()
    assert time.min() >= 0 and time.max() < 2 * 86400


def test_fraud_rate_and_all_four_patterns() -> None:
    # Given 30,000 rows at a 0.5 % fraud rate, When patterns are counted
    _, patterns = sample()
    counts = fraud_patterns(patterns)
    # Then the rate holds and each pattern is present
    assert sum(counts.values()) == 150
    assert set(counts) == {"account_takeover", "card_testing", "cash_out_abroad", "stealth"}
    assert all(v >= 30 for v in counts.values())


def _rows(table: pa.Table, patterns: pa.Array, name: str) -> pa.Table:
    return table.filter(pc.equal(patterns, name))


def test_fraud_patterns_look_like_their_names() -> None:
    table, patterns = sample()
    genuine = table.filter(pc.equal(patterns, ""))
    median_genuine = float(np.median(genuine.column("amount").to_numpy()))
    known_devices = set(genuine.column("device_id").drop_null().to_pylist())

    # Then account takeover: ecom, unknown device, IP abroad, big amounts
    ato = _rows(table, patterns, "account_takeover")
    assert set(ato.column("channel").to_pylist()) == {"ecom"}
    assert not set(ato.column("device_id").to_pylist()) & known_devices
    assert pc.all(pc.not_equal(ato.column("ip_country"), ato.column("country"))).as_py()
    assert np.median(ato.column("amount").to_numpy()) > 5 * median_genuine
    # card testing: tiny ecom amounts in bursts at few merchants, many cards
    testing = _rows(table, patterns, "card_testing")
    assert pc.max(testing.column("amount")).as_py() <= 2.0
    assert pc.count_distinct(testing.column("merchant_id")).as_py() <= testing.num_rows / 5
    assert pc.count_distinct(testing.column("card_id")).as_py() > testing.num_rows / 2
    # cash-out: ATM abroad, swiped (cloned magstripe), large round sums
    cash = _rows(table, patterns, "cash_out_abroad")
    assert set(cash.column("channel").to_pylist()) == {"atm"}
    assert set(cash.column("entry_mode").to_pylist()) == {"swipe"}
    assert set(cash.column("country").to_pylist()).isdisjoint(
        {"DE", "FR", "NL", "GB", "ES", "IT", "BE"}
    )
    assert all(a % 20 == 0 and a >= 200 for a in cash.column("amount").to_pylist())
    # stealth: inside the card's habits: home country, everyday MCCs
    stealth = _rows(table, patterns, "stealth")
    assert set(stealth.column("mcc").to_pylist()) <= set(genuine.column("mcc").to_pylist())
    assert set(stealth.column("country").to_pylist()) <= {"DE", "FR", "NL", "GB", "ES", "IT", "BE"}


def test_cards_have_habits_and_days_have_a_cycle() -> None:
    table, _ = sample()
    # Then there are a few hundred cards, each using few MCCs, and nights are quiet
    cards = pc.count_distinct(table.column("card_id")).as_py()
    assert 100 <= cards <= 5_000
    hours = pc.hour(table.column("event_time")).to_numpy()
    assert (hours == 3).sum() * 4 < (hours == 19).sum()
    assert "0742" in set(table.column("mcc").to_pylist()) or "0780" in set(
        table.column("mcc").to_pylist()
    )


def test_labels_arrive_later() -> None:
    # Given 30 days with labels ~21 days late, When labels are inspected
    table, patterns = sample()
    is_fraud = table.column("is_fraud")
    label_time = table.column("label_time")
    event_time = table.column("event_time")
    # Then recent rows are unlabelled, old rows labelled, labels come after the event and by now
    assert is_fraud.null_count == label_time.null_count
    assert 0.3 < is_fraud.null_count / table.num_rows < 0.8
    share = is_fraud.null_count / table.num_rows
    assert is_fraud.slice(0, 2_000).null_count < 0.2 * 2_000 < share * 2_000  # old: labelled
    assert is_fraud.slice(table.num_rows - 500).null_count == 500
    labelled = pc.is_valid(label_time)
    assert pc.all(pc.greater(label_time.filter(labelled), event_time.filter(labelled))).as_py()
    assert pc.max(label_time).as_py() <= END
    # and with a shorter delay, more is labelled; a known label is the truth
    quick = generate_transactions(5_000, 11, START, 30, label_delay=timedelta(days=2))
    assert quick.column("is_fraud").slice(0, 4_000).null_count == 0
    truth = pc.not_equal(patterns, "")
    assert pc.all(
        pc.equal(is_fraud.filter(labelled), pa.chunked_array([truth]).filter(labelled))
    ).as_py()


def test_drift_moves_spend_channels_and_countries() -> None:
    # Given the same seed with and without drift
    base = generate_transactions(20_000, 8, START, 30)
    drifted = generate_transactions(20_000, 8, START, 30, drift=1.0)

    def stats(t: pa.Table) -> tuple[float, float, float]:
        amount = float(np.median(t.column("amount").to_numpy()))
        ecom = pc.mean(pc.equal(t.column("channel"), "ecom")).as_py()
        foreign = pc.mean(
            pc.not_equal(t.column("country"), t.column("ip_country")).fill_null(False)
        ).as_py()
        abroad = pc.mean(
            pc.is_in(
                t.column("country"), value_set=pa.array(["DE", "FR", "NL", "GB", "ES", "IT", "BE"])
            )
        ).as_py()
        return amount, ecom, foreign + (1 - abroad)

    # Then spend, ecom share and cross-border share all rise
    a, b = stats(base), stats(drifted)
    assert b[0] > a[0] * 1.3
    assert b[1] > a[1] + 0.1
    assert b[2] > a[2]
    assert validate_batch(TX, drifted, now=END).rule_counts == {}


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("t.csv", False),
        ("t.csv.gz", True),
        ("t.jsonl", False),
        ("t.jsonl.gz", True),
        ("t.parquet", False),
    ],
)
def test_files_round_trip_through_validation(tmp_path: Path, name: str, compress: bool) -> None:
    # Given a small table written in each format
    table = generate_transactions(300, 2, START, 5)
    path = write_table(table, tmp_path / name, compress=compress)
    # When read back as an ingestion reader would (text for CSV/JSONL, so 0742 stays 0742)
    if name.startswith("t.parquet"):
        back = pq.read_table(path)
    elif ".csv" in name:
        back = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types=TX.raw_schema())
        )
    else:
        opener = gzip.open if compress else open
        with opener(path, "rt") as f:
            records = [json.loads(line) for line in f]
        assert isinstance(records[0]["amount"], float) and isinstance(records[0]["mcc"], str)
        from fraudops_shared.contracts.validation import validate_records

        results = validate_records(TX, records, now=START + timedelta(days=5))
        assert all(r.ok for r in results)
        return
    # Then everything is valid, with the same rows
    report = validate_batch(TX, back, now=START + timedelta(days=5))
    assert report.rule_counts == {}
    assert (
        report.valid.column("transaction_id").to_pylist()
        == table.column("transaction_id").to_pylist()
    )
    assert report.valid.column("mcc").to_pylist() == table.column("mcc").to_pylist()


def test_write_table_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        write_table(generate_transactions(10, 1, START, 1), tmp_path / "t.xlsx")


def test_injected_bad_rows_fail_exactly_the_expected_rules() -> None:
    # Given every kind of bad row, three of each, in a clean table
    clean = generate_transactions(3_000, 4, START, 30)
    spoiled, expected = inject_bad_rows(clean, per_kind=3, seed=1)
    # When validated
    report = validate_batch(TX, spoiled, now=END)
    # Then the rule counts are exactly the expected ones, covering every kind
    assert report.rule_counts == expected
    assert sum(expected.values()) == 3 * len(BAD_KINDS)
    assert report.rejected.num_rows == 3 * len(BAD_KINDS)
    assert report.valid.num_rows == clean.num_rows - 3 * len(BAD_KINDS)


def test_inject_selected_kinds_only() -> None:
    clean = generate_transactions(500, 4, START, 30)
    spoiled, expected = inject_bad_rows(clean, ["negative_amount", "duplicate_id"], per_kind=5)
    assert expected == {"duplicate_key": 5, "range:amount": 5}
    assert validate_batch(TX, spoiled, now=END).rule_counts == expected
    with pytest.raises(ValueError, match="unknown kinds"):
        inject_bad_rows(clean, ["bogus"])
