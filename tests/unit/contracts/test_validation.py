"""Batch and record validation (fraudops_shared.contracts.validation): every rule, its reason,
no loss."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudops.generator import generate_transactions, inject_bad_rows
from fraudops_shared.contracts import Column, casts, load_contract, validation
from fraudops_shared.contracts.rules import check_column
from fraudops_shared.contracts.text_checks import CONTROL, WHITESPACE, ZERO_WIDTH
from fraudops_shared.contracts.validation import (
    REJECTED_SCHEMA,
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
    "customer_id": " cus_1",
    "merchant_id": "m\u200b1",
    "is_fraud": "true",  # without a label_time: label_without_time
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


# ----------------------------------------------------------------------------- identifiers


def only_rule(report: ValidationReport) -> tuple[list[str], list[str]]:
    """The rules and reasons of the one rejected row of a two-row batch (the second row)."""
    rejected = report.rejected.to_pylist()
    assert [r["row_number"] for r in rejected] == [1]
    return rejected[0]["rules"], rejected[0]["reasons"]


def test_an_identifier_with_a_zero_width_space_is_rejected() -> None:
    # Given a card id with a zero-width space inside (it looks like card_1 on every screen)
    report = check(rows({}, {"card_id": "card_\u200b1"}))
    # When validated, Then it is rejected by the identifier rule, saying which character
    assert only_rule(report) == (
        ["identifier:card_id"],
        ["card_id contains the zero-width character U+200B"],
    )
    assert report.rule_counts == {"identifier:card_id": 1}


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("card_id", "card\x00_1", "card_id contains the control character U+0000"),
        ("card_id", "card\x07_1", "card_id contains the control character U+0007"),
        ("card_id", "card_1\x7f", "card_id contains the control character U+007F"),
        ("card_id", "card\x9b_1", "card_id contains the control character U+009B"),
        ("card_id", "card\n1", "card_id contains the control character U+000A"),
        ("customer_id", "cus\u200c1", "customer_id contains the zero-width character U+200C"),
        ("customer_id", "cus\u200d1", "customer_id contains the zero-width character U+200D"),
        ("merchant_id", "\u2060m_1", "merchant_id contains the zero-width character U+2060"),
        ("merchant_id", "\ufeffm_1", "merchant_id contains the zero-width character U+FEFF"),
        ("transaction_id", " tx-9", "transaction_id has leading or trailing whitespace"),
        ("transaction_id", "tx-9 ", "transaction_id has leading or trailing whitespace"),
        ("device_id", "\u00a0dev", "device_id has leading or trailing whitespace"),
        ("device_id", "dev\u3000", "device_id has leading or trailing whitespace"),
        ("device_id", "\u2007dev", "device_id has leading or trailing whitespace"),
        ("device_id", "dev\u2028", "device_id has leading or trailing whitespace"),
        (
            "card_id",
            "card_1\t",
            "card_id contains the control character U+0009 and has leading or trailing whitespace",
        ),
        (
            "card_id",
            "\u200bcard\x01 ",
            "card_id contains the control character U+0001 and contains the zero-width character "
            "U+200B and has leading or trailing whitespace",
        ),
    ],
)
def test_identifiers_with_control_zero_width_or_padding_characters_are_rejected(
    column: str, value: str, reason: str
) -> None:
    # Given a good row and one whose identifier hides or pads its characters, When validated
    report = check(rows({}, {column: value}))
    # Then that row fails the identifier rule of that column, with a reason naming what it is
    assert only_rule(report) == ([f"identifier:{column}"], [reason])


@pytest.mark.parametrize(
    "value", ["card 1", "café-ß-Ω", "карта_1", "カード\u3000番号", "a", "x" * 64, "\u200e1"]
)
def test_identifiers_may_hold_inner_spaces_and_any_visible_text(value: str) -> None:
    # Given identifiers with spaces inside and non-ASCII letters (and a mark the rule does not
    # name), When validated, Then they pass
    assert check(rows({"card_id": value})).rule_counts == {}


def test_whitespace_is_pythons_unicode_whitespace() -> None:
    # Given every code point, Then the whitespace the identifier rule refuses at the ends is
    # exactly what str.isspace calls whitespace, and control characters are Unicode's Cc
    every = [chr(c) for c in range(0x110000)]
    assert set(WHITESPACE) == {c for c in every if c.isspace()}
    assert set(CONTROL) == {c for c in every if unicodedata.category(c) == "Cc"}


def reference_identifier_rows(values: list[str | None]) -> list[int]:
    """The identifier rule, one value at a time in plain Python."""
    return [
        i
        for i, v in enumerate(values)
        if v
        and (
            any(c in CONTROL or c in ZERO_WIDTH for c in v)
            or v[0] in WHITESPACE
            or v[-1] in WHITESPACE
        )
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(
                alphabet=st.sampled_from(
                    [
                        "a",
                        "Z",
                        "-",
                        " ",
                        "\t",
                        "\x00",
                        "\x1f",
                        "\x7f",
                        "\x85",
                        "\x9f",
                        "\xa0",
                        "é",
                        "\u200b",
                        "\u200e",
                        "\u2028",
                        "\u2060",
                        "\u3000",
                        "\ufeff",
                        "😀",
                    ]
                ),
                max_size=12,
            ),
        ),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=7),
)
def test_the_identifier_rule_agrees_with_plain_python(values: list[str | None], chunk: int) -> None:
    # Given random values over tricky characters, in chunks, When the identifier rule runs
    text = pa.chunked_array(
        [pa.array(values[i : i + chunk], pa.string()) for i in range(0, len(values), chunk)]
        or [pa.array([], pa.string())],
        pa.string(),
    )
    column = Column(name="ref", type="string", identifier=True)
    checked = check_column(column, text, len(values))
    # Then it rejects exactly the values plain Python refuses ("" is missing, not an identifier)
    found = [f for f in checked.failures if f.rule == "identifier:ref"]
    rows_found = np.flatnonzero(found[0].mask).tolist() if found else []
    assert rows_found == reference_identifier_rows(values)


def test_identifier_problems_are_found_anywhere_in_a_large_chunked_batch() -> None:
    # Given 20,000 ids (over 4 KiB blocks of bytes) in uneven chunks, spoiled at the edges of
    # the batch, of its chunks and of the byte blocks, by each kind of problem
    ids = [f"card_{i:05d}" for i in range(20_000)]  # 10 bytes each: 4 KiB ends mid-value
    spoiled = {0: " card", 409: "card\x00", 410: "c\u200bard", 7_000: "card ", 7_001: "\tcard"}
    spoiled |= {12_345: "card\ufeff", 19_999: "card\x7f"}
    for row, value in spoiled.items():
        ids[row] = value
    table = rows({}).take(pa.array(np.zeros(len(ids), dtype=np.int64)))
    table = table.set_column(2, "card_id", pa.array(ids))
    table = table.set_column(0, "transaction_id", pa.array([f"tx-{i}" for i in range(len(ids))]))
    table = pa.Table.from_batches(table.to_batches(max_chunksize=7_000))
    # When validated
    report = check(table)
    # Then exactly those rows are rejected, each by the identifier rule
    assert report.rule_counts == {"identifier:card_id": len(spoiled)}
    assert report.rejected.column("row_number").to_pylist() == sorted(spoiled)


# ----------------------------------------------------------------------------- labels


def test_a_label_known_before_its_event_is_rejected() -> None:
    # Given a label time 15 minutes before the event, When validated
    report = check(rows({}, {"is_fraud": "true", "label_time": "2026-11-27T10:00:00Z"}))
    # Then the row fails label_time_before_event, with both times in the reason
    assert only_rule(report) == (
        ["label_time_before_event"],
        ["label_time=2026-11-27T10:00:00Z is before event_time=2026-11-27T10:15:00Z"],
    )


def test_a_label_time_in_the_future_is_rejected() -> None:
    # Given a label time 10 minutes after now (5 allowed for clock skew), When validated
    report = check(rows({}, {"is_fraud": "false", "label_time": "2026-11-27T12:10:00Z"}))
    # Then the row fails label_time_in_future, saying by how much
    assert only_rule(report) == (
        ["label_time_in_future"],
        ["label_time=2026-11-27T12:10:00Z is 600 s in the future (at most 300 s allowed)"],
    )


def test_a_label_without_its_time_is_rejected() -> None:
    # Given a label whose time is missing (null, or empty in a text file), When validated
    report = check(rows({}, {"is_fraud": "false"}, {"is_fraud": "1", "label_time": ""}))
    # Then both rows fail label_without_time, naming the label
    rejected = report.rejected.to_pylist()
    assert [(r["row_number"], r["rules"], r["reasons"]) for r in rejected] == [
        (1, ["label_without_time"], ["is_fraud=False is set but label_time is missing"]),
        (2, ["label_without_time"], ["is_fraud=True is set but label_time is missing"]),
    ]


def test_a_label_in_a_file_without_the_label_time_column_has_no_time() -> None:
    # Given a file that carries is_fraud but not label_time, When validated
    report = check(rows({}, {"is_fraud": "true"}).drop_columns(["label_time"]))
    # Then the labelled row fails label_without_time
    assert only_rule(report)[0] == ["label_without_time"]


def test_label_timing_edges_are_inclusive() -> None:
    # Given a label known at the event time and one known at the very end of the clock skew
    at_event = {"is_fraud": "true", "label_time": GOOD["event_time"]}
    at_limit = {"is_fraud": "false", "label_time": (NOW + timedelta(seconds=300)).isoformat()}
    # When validated, Then both pass
    assert check(rows(at_event, at_limit)).rule_counts == {}


def test_an_unparseable_label_time_is_a_type_error_only() -> None:
    # Given a label whose time is not a timestamp, When validated
    report = check(rows({}, {"is_fraud": "true", "label_time": "yesterday"}))
    # Then it fails type:label_time only: the time is there, just unreadable
    assert only_rule(report)[0] == ["type:label_time"]


def test_label_rules_apply_to_typed_input_too() -> None:
    # Given typed columns (as Parquet gives them) with a label before its event
    good = check(rows({}, {})).valid.drop_columns(["event_date"])
    early = datetime(2026, 11, 27, 9, tzinfo=UTC)
    typed = good.set_column(15, "is_fraud", pa.array([None, True], pa.bool_()))
    typed = typed.set_column(16, "label_time", pa.array([None, early], pa.timestamp("us", "UTC")))
    # When validated, Then the second row fails label_time_before_event
    assert check(typed).rule_counts == {"label_time_before_event": 1}


# ----------------------------------------------------------------------------- speed-ups


def test_rejected_records_are_built_once_when_first_read() -> None:
    # Given a report with a rejected row, When its rejected table is read twice
    report = check(rows({}, {"amount": "-1"}))
    assert report.rows_rejected == 1
    first = report.rejected
    # Then it is built once, with the documented schema
    assert report.rejected is first
    assert first.schema.equals(REJECTED_SCHEMA)
    assert json.loads(first.column("record")[0].as_py())["amount"] == "-1"


def test_every_control_character_survives_in_the_record() -> None:
    # Given a rejected row whose merchant id holds every C0 control character, quotes, a
    # backslash and non-ASCII text
    value = "".join(map(chr, range(0x20))) + '"\\é\u200b'
    report = check(rows({"merchant_id": value}))
    # When its record is read, Then it is JSON holding the exact value
    record = report.rejected.column("record")[0].as_py()
    assert json.loads(record)["merchant_id"] == value


def test_bad_values_are_found_in_every_block_and_beyond_the_learned_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given casts that run over blocks of 8 rows, and columns with repeated bad values, more
    # distinct ones than are learned from cast errors, and good spellings in between
    monkeypatch.setattr(casts, "_BLOCK_ROWS", 8)
    amounts = [f"{i}.25" for i in range(120)]
    bools = ["true", "FALSE", "1", "0", "True"] * 24
    times = ["2026-11-27T10:15:00Z"] * 120
    for i in range(3, 120, 7):
        amounts[i] = "12,50 EUR" if i % 2 else f"x{i}"
        bools[i] = "yes" if i % 2 else f"no{i}"
        times[i] = "27/11/2026" if i % 2 else f"day {i}"
    changes = [
        {"amount": a, "card_present": b, "event_time": t}
        for a, b, t in zip(amounts, bools, times, strict=True)
    ]
    # When validated
    report = check(rows(*changes))
    # Then exactly the bad values fail, each naming its value, and good ones parse as before
    bad = list(range(3, 120, 7))
    assert report.rule_counts == {
        "type:amount": len(bad),
        "type:card_present": len(bad),
        "type:event_time": len(bad),
    }
    rejected = report.rejected.to_pylist()
    assert [r["row_number"] for r in rejected] == bad
    assert rejected[1]["reasons"][1:] == [
        "amount='x10' is not a number",
        "card_present='no10' is not a boolean (true/false/1/0)",
    ]
    assert rejected[0]["reasons"][0] == (
        "event_time='27/11/2026' is not an ISO-8601 timestamp with a UTC offset "
        "(e.g. 2026-11-27T10:15:00Z)"
    )
    valid = report.valid.to_pylist()
    assert valid[0]["amount"] == 0.25
    kept = [b.lower() in ("true", "1") for i, b in enumerate(bools) if i not in bad]
    assert [v["card_present"] for v in valid] == kept


def test_chunked_and_sliced_input_gives_the_same_report() -> None:
    # Given one batch with every kind of problem, as one chunk, in chunks of 3, and sliced
    # out of a longer table
    changes = [
        {},
        {"amount": "abc"},
        {"device_id": ""},
        {"card_id": " c"},
        {"mcc": "12"},
        {"device_id": "é" * 129},
        {"card_present": "maybe", "ip_country": ""},
        {"is_fraud": "true"},
        {"currency": "XYZ", "merchant_id": "m\x00"},
        {},
    ]
    table = rows(*changes)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=3))
    longer = pa.concat_tables([rows({}, {}), table, rows({})]).combine_chunks()
    sliced = longer.slice(2, table.num_rows)
    # When each is validated
    reports = [check(t) for t in (table, chunked, sliced)]
    # Then all three say the same, row for row
    first = reports[0]
    assert first.rows_rejected == 7
    for other in reports[1:]:
        assert other.rule_counts == first.rule_counts
        assert other.rejected.to_pylist() == first.rejected.to_pylist()
        assert other.valid.to_pylist() == first.valid.to_pylist()


def test_one_and_two_threads_give_the_same_report(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a batch large enough to be checked on threads, with every kind of bad row
    clean = generate_transactions(60_000, 5, datetime(2026, 10, 1, tzinfo=UTC), 30)
    table, expected = inject_bad_rows(clean, per_kind=3, seed=5)
    now = datetime(2026, 10, 31, tzinfo=UTC)
    # When validated on one thread and on two
    reports = []
    for workers in (1, 2):
        monkeypatch.setattr(validation, "_WORKERS", workers)
        reports.append(validate_batch(TX, table, now=now))
    # Then the reports are the same, and count what was injected
    one, two = reports
    assert one.rule_counts == two.rule_counts == expected
    assert one.valid.equals(two.valid)
    assert one.rejected.equals(two.rejected)


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
        ({**GOOD, "pan": "4111"}, ["unknown_field"]),
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


def test_an_unknown_field_is_named_in_the_reason_never_in_the_rule() -> None:
    # Given records with fields the contract does not know, one named with odd characters
    record = {**GOOD, "pan": "4111", "x\n:y": 1}
    # When validated
    result = validate_record(TX, record, now=NOW)
    # Then the rule id is fixed (metric names are built from it), and the reasons name each field
    assert result.rules == ["unknown_field", "unknown_field"]
    assert result.reasons == [
        f"field 'pan' is not in contract transactions v{TX.version}",
        f"field 'x\\n:y' is not in contract transactions v{TX.version}",
    ]


def test_records_in_one_batch_keep_their_order() -> None:
    # Given a mix of records, When validated together, Then results line up with the input
    records = [GOOD, "x", {**GOOD, "transaction_id": "tx-2", "amount": -1}, GOOD]
    results = validate_records(TX, records, now=NOW)
    assert [r.ok for r in results] == [True, False, False, False]
    assert results[3].rules == ["duplicate_key"]
