"""Batch and record validation (fraudops_shared.contracts.validation): every rule, its reason,
no loss."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudops_shared.contracts import load_contract
from fraudops_shared.contracts.validation import (
    FileContractError,
    ValidationReport,
    validate_batch,
    validate_record,
    validate_records,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TX = load_contract("transactions")
CC = load_contract("creditcard_benchmark")

GOOD: dict[str, str | None] = {
    "transaction_id": "tx-1",
    "event_time": "2026-11-27T10:15:00Z",
    "card_id": "card_1",
    "customer_id": "cus_1",
    "merchant_id": "m_1",
    "mcc": "0742",
    "amount": "12.50",
    "currency": "EUR",
    "country": "NO",
    "merchant_country": "NO",
    "channel": "pos",
    "entry_mode": "chip",
    "card_present": "true",
    "device_id": None,
    "ip_country": None,
    "is_fraud": None,
    "label_time": None,
}


def rows(*changes: dict[str, Any]) -> pa.Table:
    """A text table (as read from CSV with the raw schema), one row per change of GOOD."""
    out = []
    for i, change in enumerate(changes):
        out.append({**GOOD, "transaction_id": f"tx-{i}", **change})
    return pa.Table.from_pylist(out, schema=TX.raw_schema())


def check(table: pa.Table, **kwargs: Any) -> ValidationReport:
    report = validate_batch(TX, table, now=NOW, **kwargs)
    assert report.rows_in == report.valid.num_rows + report.rejected.num_rows
    return report


def test_a_good_row_is_typed_and_partitioned() -> None:
    # Given one good text row, When validated
    report = check(rows({}))
    # Then it is valid, typed per the contract, with its event_date, and mcc keeps its zero
    assert report.rejected.num_rows == 0
    assert report.rule_counts == {}
    assert report.valid.schema.equals(TX.curated_schema())
    row = report.valid.to_pylist()[0]
    assert row["mcc"] == "0742"
    assert row["amount"] == 12.5
    assert row["card_present"] is True
    assert row["event_time"] == datetime(2026, 11, 27, 10, 15, tzinfo=UTC)
    assert row["event_date"] == date(2026, 11, 27)
    assert row["device_id"] is None


@pytest.mark.parametrize(
    ("change", "rule", "reason"),
    [
        ({"card_id": None}, "not_null:card_id", "card_id is required but missing or empty"),
        ({"card_id": ""}, "not_null:card_id", "card_id is required but missing or empty"),
        ({"amount": "abc"}, "type:amount", "amount='abc' is not a number"),
        ({"amount": "nan"}, "type:amount", "amount='nan' is not a number"),
        ({"amount": "inf"}, "type:amount", "amount='inf' is not a number"),
        ({"amount": "12,50"}, "type:amount", "amount='12,50' is not a number"),
        (
            {"event_time": "2026-11-27T10:15:00"},
            "type:event_time",
            "event_time='2026-11-27T10:15:00' is not an ISO-8601 timestamp with a UTC offset",
        ),
        (
            {"event_time": "2026-13-01T00:00:00Z"},
            "type:event_time",
            "event_time='2026-13-01T00:00:00Z' is not an ISO-8601 timestamp",
        ),
        (
            {"card_present": "yes"},
            "type:card_present",
            "card_present='yes' is not a boolean (true/false/1/0)",
        ),
        ({"amount": "-5.0"}, "range:amount", "amount=-5.0 is below the minimum 0.01"),
        ({"amount": "0"}, "range:amount", "amount=0.0 is below the minimum 0.01"),
        ({"amount": "50000"}, "range:amount", "amount=50000.0 is above the maximum 49999.99"),
        (
            {"currency": "XYZ"},
            "allowed:currency",
            "currency='XYZ' is not one of the 154 allowed values of currency",
        ),
        ({"channel": "web"}, "allowed:channel", "channel='web' is not one of pos, ecom, atm, moto"),
        (
            {"ip_country": "XX"},
            "allowed:ip_country",
            "ip_country='XX' is not one of the 249 allowed values of ip_country",
        ),
        ({"mcc": "742"}, "pattern:mcc", "mcc='742' does not match ^[0-9]{4}$"),
        ({"mcc": "07a2"}, "pattern:mcc", "mcc='07a2' does not match ^[0-9]{4}$"),
        (
            {"device_id": "é" * 129},
            "max_length:device_id",
            "device_id has 129 characters, more than the maximum 128",
        ),
        (
            {"event_time": "2026-11-27T12:10:00Z"},
            "event_time_in_future",
            "event_time=2026-11-27T12:10:00Z is 600 s in the future (at most 300 s allowed)",
        ),
        (
            {"event_time": "1990-01-01T00:00:00Z"},
            "event_time_too_old",
            "event_time=1990-01-01T00:00:00Z is 13479 days old (at most 1095 days allowed)",
        ),
    ],
)
def test_each_rule_rejects_with_a_specific_reason(
    change: dict[str, Any], rule: str, reason: str
) -> None:
    # Given a good row and one bad one, When validated
    report = check(rows({}, change))
    # Then only the bad row is rejected, with exactly that rule and a reason that says why
    assert report.valid.num_rows == 1
    rejected = report.rejected.to_pylist()
    assert len(rejected) == 1
    assert rejected[0]["row_number"] == 1
    assert rejected[0]["rules"] == [rule]
    assert rejected[0]["reasons"][0].startswith(reason)
    assert report.rule_counts == {rule: 1}


def test_multibyte_text_within_the_limit_passes() -> None:
    # Given 128 two-byte characters (256 bytes), When validated, Then the limit counts characters
    assert check(rows({"device_id": "é" * 128})).rejected.num_rows == 0


def test_freshness_edges_are_inclusive() -> None:
    # Given events exactly at the limits, When validated, Then both pass
    future = (NOW + timedelta(seconds=300)).isoformat()
    old = (NOW - timedelta(days=1095)).isoformat()
    assert check(rows({"event_time": future}, {"event_time": old})).rejected.num_rows == 0


def test_offsets_and_fractions_are_accepted_and_normalised() -> None:
    # Given ISO-8601 with an offset and a fraction, When validated, Then it is UTC
    report = check(rows({"event_time": "2026-11-27T11:15:00.250+01:00"}))
    assert report.valid.column("event_time")[0].as_py() == datetime(
        2026, 11, 27, 10, 15, 0, 250000, tzinfo=UTC
    )


def test_nullable_empty_values_are_null_not_failures() -> None:
    # Given empty text in nullable columns (CSV writes null as ""), When validated
    report = check(rows({"device_id": "", "ip_country": "", "is_fraud": "", "label_time": ""}))
    # Then the row is valid and the values are null, not "" (is_in(null) would say False)
    assert report.rejected.num_rows == 0
    row = report.valid.to_pylist()[0]
    assert row["device_id"] is None and row["ip_country"] is None and row["is_fraud"] is None


def test_bool_spellings() -> None:
    # Given the accepted spellings of booleans, When validated, Then each parses
    report = check(*[rows(*[{"card_present": v} for v in ["TRUE", "False", "1", "0", "true"]])])
    assert report.valid.column("card_present").to_pylist() == [True, False, True, False, True]


def test_one_value_one_rule_and_several_columns_several_rules() -> None:
    # Given a row with three problems in three columns, When validated
    report = check(rows({"amount": "abc", "card_id": "", "mcc": "1"}))
    # Then each is reported once (a missing value is not also a type error), in column order
    (row,) = report.rejected.to_pylist()
    assert row["rules"] == ["not_null:card_id", "pattern:mcc", "type:amount"]
    assert len(row["reasons"]) == 3
    assert report.rule_counts == {"not_null:card_id": 1, "pattern:mcc": 1, "type:amount": 1}


def test_duplicate_keys_within_the_batch() -> None:
    # Given three rows sharing one key and one with another key
    table = rows({}, {}, {}, {})
    ids = pa.array(["a", "b", "a", "a"])
    table = table.set_column(0, "transaction_id", ids)
    # When validated
    report = check(table)
    # Then the first "a" wins and later copies are rejected, naming the row they repeat
    assert report.valid.column("transaction_id").to_pylist() == ["a", "b"]
    rejected = report.rejected.to_pylist()
    assert [r["row_number"] for r in rejected] == [2, 3]
    assert rejected[0]["reasons"] == ["transaction_id='a' repeats row 0 of this batch"]
    assert report.rule_counts == {"duplicate_key": 2}


def test_duplicate_keys_of_varied_lengths() -> None:
    # Given keys of many lengths (the hash reads fixed-width groups) with repeats
    ids = [f"k{i}" * (1 + i % 5) for i in range(300)] + ["k7" * 3, "k1" * 2, "k0"]
    table = rows(*[{} for _ in ids]).set_column(0, "transaction_id", pa.array(ids))
    # When validated, Then exactly the three repeats are found
    report = check(table)
    assert report.rejected.column("row_number").to_pylist() == [300, 301, 302]


def test_duplicate_keys_when_strings_are_irregular() -> None:
    # Given more than 32 different key lengths (Arrow's hash table does the work then)
    ids = ["x" * (i % 40 + 1) + str(i) for i in range(200)]
    ids.append(ids[1])
    table = rows(*[{} for _ in ids]).set_column(0, "transaction_id", pa.array(ids))
    # When validated, Then the repeat is found, exactly
    report = check(table)
    assert report.rejected.column("row_number").to_pylist() == [200]
    assert report.rejected.column("reasons")[0].as_py() == [
        "transaction_id='xx1' repeats row 1 of this batch"
    ]


def test_keys_seen_in_earlier_batches() -> None:
    # Given a store that already holds tx-1, and a batch with tx-0, tx-1 and a bad row
    asked: list[list[str]] = []

    def seen(keys: pa.Array) -> pa.Array:
        asked.append(keys.to_pylist())
        return pa.array([k == "tx-1" for k in keys.to_pylist()])

    # When validated with the callback
    report = check(rows({}, {}, {"amount": "-1"}), seen_keys=seen)
    # Then tx-1 is a duplicate from an earlier batch, and only valid rows' keys were asked about
    assert asked == [["tx-0", "tx-1"]]
    assert report.valid.column("transaction_id").to_pylist() == ["tx-0"]
    rejected = report.rejected.to_pylist()
    assert rejected[0]["rules"] == ["duplicate_key"]
    assert rejected[0]["reasons"] == [
        "transaction_id='tx-1' was already ingested in an earlier batch"
    ]


def test_seen_keys_and_batch_duplicates_share_one_rule() -> None:
    # Given a key repeated in the batch and another seen before
    table = rows({}, {}, {}).set_column(0, "transaction_id", pa.array(["a", "a", "b"]))
    report = check(table, seen_keys=lambda keys: [k == "b" for k in keys.to_pylist()])
    # Then both are duplicate_key, each with its own story
    reasons = [r["reasons"][0] for r in report.rejected.to_pylist()]
    assert reasons == [
        "transaction_id='a' repeats row 0 of this batch",
        "transaction_id='b' was already ingested in an earlier batch",
    ]
    assert report.rule_counts == {"duplicate_key": 2}


def test_rejected_rows_keep_the_original_record() -> None:
    # Given a rejected row with quotes, backslashes and non-ASCII text
    report = check(rows({"merchant_id": 'Caf\u00e9 "Bar" \\ 1', "amount": "-1"}))
    # Then its record is JSON with every original value, untouched
    record = json.loads(report.rejected.column("record")[0].as_py())
    assert record["merchant_id"] == 'Caf\u00e9 "Bar" \\ 1'
    assert record["amount"] == "-1"
    assert record["mcc"] == "0742"
    assert record["device_id"] is None


def test_rejected_records_with_control_characters_are_still_json() -> None:
    report = check(rows({"merchant_id": "a\nb\x01", "amount": "-1"}))
    assert json.loads(report.rejected.column("record")[0].as_py())["merchant_id"] == "a\nb\x01"


@pytest.mark.parametrize(
    ("table", "missing", "unknown"),
    [
        (rows({}).drop_columns(["amount", "mcc"]), ["mcc", "amount"], []),
        (rows({}).append_column("pan", pa.array(["4111"])), [], ["pan"]),
        (
            rows({}).drop_columns(["card_id"]).append_column("card", pa.array(["c"])),
            ["card_id"],
            ["card"],
        ),
    ],
)
def test_file_level_problems_raise(table: pa.Table, missing: list[str], unknown: list[str]) -> None:
    # Given a file whose columns do not fit, When validated, Then the whole file is refused
    with pytest.raises(FileContractError) as error:
        validate_batch(TX, table, now=NOW)
    assert error.value.missing == missing
    assert error.value.unknown == unknown
    assert "transactions v1.0.0" in error.value.reason


def test_duplicate_column_names_raise() -> None:
    table = rows({})
    table = pa.Table.from_arrays(
        [*table.columns, table.column("amount")], [*table.column_names, "amount"]
    )
    with pytest.raises(FileContractError, match="duplicate columns: amount"):
        validate_batch(TX, table, now=NOW)


def test_optional_columns_may_be_absent() -> None:
    # Given a file without the nullable label columns, When validated, Then they are null
    report = check(rows({}).drop_columns(["is_fraud", "label_time", "device_id"]))
    assert report.valid.num_rows == 1
    assert report.valid.column("is_fraud").null_count == 1


def test_empty_inputs() -> None:
    # Given an empty file (no columns) and a header-only file, When validated, Then 0 rows each
    for table in (pa.table({}), TX.raw_schema().empty_table()):
        report = check(table)
        assert (report.rows_in, report.valid.num_rows, report.rejected.num_rows) == (0, 0, 0)
        assert report.valid.schema.equals(TX.curated_schema())


def test_typed_input_from_parquet() -> None:
    # Given typed columns (as Parquet gives them), naive times in ns, ints for a float
    good = check(rows({}, {"amount": "-3"}))
    typed = good.valid.drop_columns(["event_date"])
    typed = typed.set_column(
        1, "event_time", pa.array([datetime(2026, 11, 27, 10)], pa.timestamp("ns"))
    )
    typed = typed.set_column(6, "amount", pa.array([-3], pa.int64()))
    # When validated, Then types are accepted and rules still apply
    report = check(typed)
    assert report.rule_counts == {"range:amount": 1}
    assert report.rejected.to_pylist()[0]["reasons"] == ["amount=-3.0 is below the minimum 0.01"]


def test_mcc_read_as_a_number_is_caught() -> None:
    # Given a reader that typed mcc as an integer (0742 became 742), When validated
    table = rows({}).set_column(5, "mcc", pa.array([742], pa.int64()))
    # Then the lost zero is a pattern failure, not a silent change
    assert check(table).rule_counts == {"pattern:mcc": 1}


def test_dictionary_encoded_input() -> None:
    table = rows({}, {"currency": "XYZ"})
    table = table.set_column(7, "currency", table.column("currency").dictionary_encode())
    assert check(table).rule_counts == {"allowed:currency": 1}


def test_creditcard_rows() -> None:
    # Given benchmark rows as text: one good, one with a bad class, one with a negative amount
    names = CC.column_names
    good = {n: "0.5" for n in names} | {"Time": "90000", "Class": "0", "Amount": "0"}
    table = pa.Table.from_pylist(
        [good, good | {"Class": "2"}, good | {"Amount": "-1"}, good], schema=CC.raw_schema()
    )
    # When validated
    report = validate_batch(CC, table, now=NOW)
    # Then exact duplicates are fine (no key), rules apply, and the day is derived from Time
    assert report.rule_counts == {"allowed:Class": 1, "range:Amount": 1}
    assert report.valid.column("event_day").to_pylist() == [1, 1]
    assert report.rejected.column("reasons").to_pylist()[0] == ["Class=2 is not one of 0, 1"]


SPOILERS: dict[str, str | None] = {
    "amount": "x",
    "mcc": "12",
    "card_id": "",
    "currency": "ABC",
    "event_time": "2099-01-01T00:00:00Z",
    "card_present": "maybe",
    "label_time": "yesterday",
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["tx-a", "tx-b", "tx-c", "tx-d", "tx-e"]),
            st.sets(st.sampled_from(sorted(SPOILERS))),
        ),
        max_size=40,
    )
)
def test_nothing_is_lost(spec: list[tuple[str, set[str]]]) -> None:
    # Given random rows with random keys and random spoiled columns
    table = rows(*[{"transaction_id": key, **{c: SPOILERS[c] for c in bad}} for key, bad in spec])
    # When validated
    report = check(table)
    # Then every row is either valid or rejected, exactly once, and counts add up
    rejected = report.rejected.column("row_number").to_pylist()
    assert len(set(rejected)) == len(rejected)
    assert sum(report.rule_counts.values()) == sum(
        len(r) for r in report.rejected.column("rules").to_pylist()
    )
    seen: set[str] = set()
    for i, (key, bad) in enumerate(spec):
        expected_bad = bool(bad) or key in seen
        seen.add(key)
        assert (i in rejected) == expected_bad


# ----------------------------------------------------------------------------- records


def test_a_good_record_with_json_types() -> None:
    # Given a record as decoded from JSON (numbers and booleans), When validated
    record = {**GOOD, "amount": 12.5, "card_present": True, "is_fraud": None}
    result = validate_record(TX, record, now=NOW)
    # Then it is valid and typed
    assert result.ok and result.rules == []
    assert result.valid_row is not None
    assert result.valid_row["amount"] == 12.5
    assert result.valid_row["event_date"] == date(2026, 11, 27)


@pytest.mark.parametrize(
    ("record", "rules"),
    [
        ([1, 2], ["not_an_object"]),
        ("text", ["not_an_object"]),
        (None, ["not_an_object"]),
        ({**GOOD, "pan": "4111"}, ["unknown_field:pan"]),
        ({**GOOD, "amount": {"value": 1}}, ["type:amount"]),
        ({**GOOD, "amount": True}, ["type:amount"]),
        ({**GOOD, "amount": "-2"}, ["range:amount"]),
        ({**GOOD, "mcc": 742}, ["pattern:mcc"]),
        ({k: v for k, v in GOOD.items() if k != "card_id"}, ["not_null:card_id"]),
        (
            {**GOOD, "card_present": "yes", "currency": "ABC"},
            ["allowed:currency", "type:card_present"],
        ),
    ],
)
def test_bad_records_say_why(record: Any, rules: list[str]) -> None:
    # Given a malformed record, When validated, Then it is rejected with the expected rules
    result = validate_record(TX, record, now=NOW)
    assert not result.ok
    assert result.rules == rules
    assert len(result.reasons) == len(rules)


def test_records_in_one_batch_keep_their_order() -> None:
    # Given a mix of records, When validated together, Then results line up with the input
    records = [GOOD, "x", {**GOOD, "transaction_id": "tx-2", "amount": -1}, GOOD]
    results = validate_records(TX, records, now=NOW)
    assert [r.ok for r in results] == [True, False, False, False]
    assert results[3].rules == ["duplicate_key"]
