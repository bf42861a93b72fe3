"""Model features: every transform, nulls, vocabularies from the contract, the same numbers for
columns (training) and records (scoring), the feature-set digest, and refused specs."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from fraudops import generator
from fraudops_shared.contracts import load_contract, parse_contract
from fraudops_shared.features.transforms import (
    FEATURE_DTYPE,
    FeatureSet,
    FeatureSpecError,
    NotTrainableError,
    feature_set,
    parse_feature_set,
)
from fraudops_shared.training.dataset import columns_of

START = datetime(2026, 10, 1, tzinfo=UTC)
COLUMNS: list[dict[str, Any]] = [
    {"name": "t", "type": "timestamp", "nullable": False},
    {"name": "secs", "type": "float64"},
    {"name": "amount", "type": "float64"},
    {"name": "fee", "type": "float64"},
    {"name": "kind", "type": "string", "allowed": ["a", "b", "c"]},
    {"name": "code", "type": "string"},
    {"name": "flag", "type": "bool"},
    {"name": "home", "type": "string", "allowed": ["DE", "FR", "NL"]},
    {"name": "away", "type": "string", "allowed": ["DE", "FR", "NL"]},
    {"name": "note", "type": "string"},
    {"name": "label", "type": "bool"},
]


def mini(
    features: list[dict[str, Any]] | None,
    *,
    label: str | None = "label",
    version: Any = 1,
    columns: list[dict[str, Any]] | None = None,
) -> Any:
    """A small contract (parse_contract on a dict) with the given features list."""
    doc: dict[str, Any] = {
        "name": "mini",
        "version": "1.0.0",
        "event_time": "t",
        "columns": columns or COLUMNS,
    }
    if label:
        doc["label"] = {"column": label}
    if features is not None:
        doc["features"] = {"version": version, "list": features}
    return parse_contract(doc)


def one(entry: dict[str, Any]) -> FeatureSet:
    return parse_feature_set(mini([entry]))


def column(fs: FeatureSet, **columns: Any) -> np.ndarray:
    """The feature matrix of `columns`, checked to be float32 and C-contiguous."""
    out = fs.matrix(columns)
    assert out.dtype == FEATURE_DTYPE and out.flags["C_CONTIGUOUS"]
    return out


# --- transforms ----------------------------------------------------------------------------------


def test_number_keeps_values_and_maps_nulls_to_null_as() -> None:
    # Given one `number` feature over two columns and one with its own null_as
    fs = parse_feature_set(
        mini(
            [
                {"name": "raw", "transform": "number", "columns": ["amount", "fee"]},
                {"name": "fee0", "transform": "number", "column": "fee", "null_as": 0},
            ]
        )
    )
    # Then a multi-column number feature is named by its columns
    assert fs.names == ["amount", "fee", "fee0"]
    # When values (floats, NaN, None, numeric text, booleans as text) are featurised
    out = column(
        fs,
        amount=[1.5, None, "2.25", "true", "x"],
        fee=np.array([0.0, np.nan, 3.0, -4.0, 5.0]),
    )
    # Then numbers pass through and every null becomes null_as (-1 by default), never NaN
    assert out[:, 0].tolist() == [1.5, -1.0, 2.25, 1.0, -1.0]
    assert out[:, 1].tolist() == [0.0, -1.0, 3.0, -4.0, 5.0]
    assert out[:, 2].tolist() == [0.0, 0.0, 3.0, -4.0, 5.0]
    assert np.isfinite(out).all()


def test_log1p_clips_negatives_and_maps_nulls() -> None:
    fs = one({"name": "log_amount", "transform": "log1p", "column": "amount"})
    # When amounts, a negative one and nulls are featurised
    out = column(fs, amount=[0.0, 9.0, 99.99, -5.0, None, float("nan")])[:, 0]
    # Then it is log(1 + max(x, 0)), and null is -1
    expected = [0.0, math.log(10.0), math.log1p(99.99), 0.0, -1.0, -1.0]
    np.testing.assert_allclose(out, np.array(expected, dtype=np.float32), rtol=1e-6)


def test_is_multiple_flags_round_amounts_to_the_cent() -> None:
    fs = parse_feature_set(
        mini(
            [
                {"name": "whole", "transform": "is_multiple", "column": "amount", "of": 1},
                {"name": "tens", "transform": "is_multiple", "column": "amount", "of": 10},
                {"name": "halves", "transform": "is_multiple", "column": "amount", "of": 0.5},
            ]
        )
    )
    # Given amounts, one of them with float noise (0.1 * 3 * 100 is 30.000000000000004)
    amounts = [12.0, 12.5, 20.0, 20.01, 0.1 * 3 * 100, None]
    out = column(fs, amount=amounts)
    # Then each is compared in whole cents, and null is -1
    assert out[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, -1.0]
    assert out[:, 1].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, -1.0]
    assert out[:, 2].tolist() == [1.0, 1.0, 1.0, 0.0, 1.0, -1.0]


def test_hour_of_day_from_datetime64_with_nat() -> None:
    fs = one({"name": "hour", "transform": "hour_of_day", "column": "t"})
    # Given datetime64 values (what a Parquet snapshot gives), one of them NaT
    times = np.array(
        ["2026-11-27T10:15:00", "2026-11-27T23:59:24", "2026-11-28T00:00:00", "NaT"],
        dtype="datetime64[us]",
    )
    # Then the UTC hour with its fraction, and NaT as -1
    out = column(fs, t=times)[:, 0]
    np.testing.assert_allclose(out, [10.25, 23.99, 0.0, -1.0], rtol=1e-6)


def test_hour_of_day_from_iso_strings_and_datetimes() -> None:
    fs = one({"name": "hour", "transform": "hour_of_day", "column": "t"})
    # Given ISO-8601 text with Z, with an offset, without one, Python datetimes, and nulls
    values = [
        "2026-11-27T10:15:00Z",
        "2026-11-27T12:15:00+02:00",
        "2026-11-27T10:15:00.000000Z",
        datetime(2026, 11, 27, 10, 15, tzinfo=UTC),
        datetime(2026, 11, 27, 5, 15, tzinfo=timezone(timedelta(hours=-5))),
        None,
        "",
        "not a time",
    ]
    # Then every time is converted to UTC first; nulls and garbage become -1
    out = column(fs, t=values)[:, 0]
    assert out.tolist() == [10.25, 10.25, 10.25, 10.25, 10.25, -1.0, -1.0, -1.0]


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process's local time zone is not UTC (a laptop, a container without TZ=UTC)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_naive_times_are_utc_whatever_the_local_time_zone(new_york: None) -> None:
    fs = one({"name": "hour", "transform": "hour_of_day", "column": "t"})
    # Given naive times in a process whose local zone is New York
    naive_text = ["2026-11-27T10:15:00"]
    naive_datetime = [datetime(2026, 11, 27, 10, 15)]
    as_datetime64 = np.array(["2026-11-27T10:15:00"], dtype="datetime64[us]")
    # Then they are all taken as UTC, like datetime64 values and the validator take them
    assert column(fs, t=naive_text)[0, 0] == 10.25
    assert column(fs, t=naive_datetime)[0, 0] == 10.25
    assert column(fs, t=as_datetime64)[0, 0] == 10.25


def test_hour_of_day_from_seconds_offsets() -> None:
    fs = one({"name": "hour", "transform": "hour_of_day", "column": "secs"})
    # Given seconds from a midnight (the benchmark's Time), as floats, ints and with nulls
    assert column(fs, secs=np.array([0.0, 5400.0, 86400.0 + 9000.0]))[:, 0].tolist() == [
        0.0,
        1.5,
        2.5,
    ]
    assert column(fs, secs=np.array([3600, 90000]))[:, 0].tolist() == [1.0, 1.0]
    # And beside nulls in an object array, and as text (a CSV or a JSON string)
    assert column(fs, secs=[3600.0, None, 7200])[:, 0].tolist() == [1.0, -1.0, 2.0]
    assert column(fs, secs=["3600", "5400.0", "soon"])[:, 0].tolist() == [1.0, 1.5, -1.0]


def test_bool_is_one_zero_or_null_as() -> None:
    fs = one({"name": "flag", "transform": "bool", "column": "flag"})
    # Given booleans as bools, numbers and text, and nulls
    out = column(fs, flag=[True, False, None, "true", "FALSE", 1, 0, 2])[:, 0]
    # Then 1/0, non-zero numbers are true, and null is -1
    assert out.tolist() == [1.0, 0.0, -1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert column(fs, flag=np.array([True, False]))[:, 0].tolist() == [1.0, 0.0]


def test_one_hot_uses_the_contract_vocabulary() -> None:
    fs = one({"name": "kind", "transform": "one_hot", "column": "kind"})
    # Then one feature per allowed value, in the contract's order
    assert fs.names == ["kind=a", "kind=b", "kind=c"]
    # When known, unknown and null values are featurised
    out = column(fs, kind=np.array(["b", "a", "zzz", None, "c"], dtype=object))
    # Then a known value sets its column; an unknown or null value sets none
    assert out.tolist() == [
        [0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
    ]


def test_category_index_unknown_and_null_are_minus_one() -> None:
    fs = one({"name": "home", "transform": "category_index", "column": "home"})
    out = column(fs, home=["DE", "FR", "NL", "XX", None, "", float("nan")])[:, 0]
    assert out.tolist() == [0.0, 1.0, 2.0, -1.0, -1.0, -1.0, -1.0]


def test_category_index_of_an_integer_vocabulary() -> None:
    # Given a column whose allowed values are integers (like the benchmark's Class)
    cols = [*COLUMNS, {"name": "level", "type": "int64", "allowed": [0, 1, 5]}]
    fs = parse_feature_set(
        mini([{"name": "level", "transform": "category_index", "column": "level"}], columns=cols)
    )
    # Then values are looked up by their text, unknown ones are -1
    assert column(fs, level=np.array([5, 0, 1, 7]))[:, 0].tolist() == [2.0, 0.0, 1.0, -1.0]


def test_digits_keep_leading_zeros_meaningless_and_refuse_non_digits() -> None:
    fs = one({"name": "mcc", "transform": "digits", "column": "code"})
    out = column(fs, code=["0742", "5411", "54a1", "", None, "-12"])[:, 0]
    assert out.tolist() == [742.0, 5411.0, -1.0, -1.0, -1.0, -1.0]


def test_not_equal_compares_two_columns_and_nulls_are_null_as() -> None:
    fs = one({"name": "abroad", "transform": "not_equal", "columns": ["home", "away"]})
    out = column(fs, home=["DE", "DE", None, "FR"], away=["DE", "FR", "DE", None])[:, 0]
    assert out.tolist() == [0.0, 1.0, -1.0, -1.0]
    fs0 = one(
        {"name": "abroad", "transform": "not_equal", "columns": ["home", "away"], "null_as": 0}
    )
    assert column(fs0, home=[None], away=["DE"])[:, 0].tolist() == [0.0]


def test_not_null_counts_empty_text_as_null() -> None:
    fs = one({"name": "has_note", "transform": "not_null", "column": "note"})
    out = column(fs, note=["dev-1", "", None, float("nan"), "0"])[:, 0]
    assert out.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_matrix_shapes_inputs_and_errors() -> None:
    fs = parse_feature_set(
        mini(
            [
                {"name": "abroad", "transform": "not_equal", "columns": ["home", "away"]},
                {"name": "home", "transform": "category_index", "column": "home"},
                {"name": "log_amount", "transform": "log1p", "column": "amount"},
            ]
        )
    )
    # Then the scorer's inputs are the columns read, each once, in first-use order
    assert fs.input_columns == ["home", "away", "amount"]
    # When there are no rows, Then the matrix has the right width and no rows
    empty = fs.matrix({"home": [], "away": [], "amount": []})
    assert empty.shape == (0, 3) and empty.dtype == FEATURE_DTYPE
    transactions = feature_set("transactions")
    assert transactions.matrix_from_records([]).shape == (0, len(transactions.names)) == (0, 44)
    # When an input column is missing, or lengths differ, Then it is refused
    with pytest.raises(KeyError, match="amount"):
        fs.matrix({"home": ["DE"], "away": ["DE"]})
    with pytest.raises(ValueError, match="differ in length"):
        fs.matrix({"home": ["DE"], "away": ["DE", "FR"], "amount": [1.0]})
    # And records with missing keys are nulls, not errors
    assert fs.matrix_from_records([{"home": "DE"}]).tolist() == [[-1.0, 0.0, -1.0]]


# --- training and scoring compute the same numbers ----------------------------------------------


def test_columns_and_records_give_identical_rows_for_transactions() -> None:
    # Given generated transactions (nulls in device_id and ip_country, booleans, timestamps)
    table = generator.generate_transactions(1500, seed=11, start=START, fraud_rate=0.05)
    fs = feature_set("transactions")
    # When training featurises the snapshot's columns and a scorer featurises each event
    from_columns = fs.matrix(columns_of(table, fs.input_columns))
    from_records = fs.matrix_from_records(table.to_pylist())
    # And a scorer receives the same events as text (ISO times, "true"/"false"), as in JSON
    from_text = fs.matrix_from_records(generator.to_text(table).to_pylist())
    # Then every number is the same, bit for bit
    assert from_columns.shape == (1500, len(fs.names))
    np.testing.assert_array_equal(from_columns, from_records)
    np.testing.assert_array_equal(from_columns, from_text)
    # And the data exercised the null paths
    ip = fs.names.index("ip_country")
    assert (from_columns[:, ip] == -1).any() and (from_columns[:, ip] >= 0).any()
    # And one event alone gives the same row as in the batch
    event = table.slice(7, 1).to_pylist()[0]
    np.testing.assert_array_equal(fs.matrix_from_records([event])[0], from_columns[7])


def test_columns_and_records_give_identical_rows_for_the_benchmark() -> None:
    table = generator.generate_creditcard_benchmark(800, seed=5, fraud_rate=0.05)
    fs = feature_set("creditcard_benchmark")
    from_columns = fs.matrix(columns_of(table, fs.input_columns))
    from_records = fs.matrix_from_records(table.to_pylist())
    from_text = fs.matrix_from_records(generator.to_text(table).to_pylist())
    np.testing.assert_array_equal(from_columns, from_records)
    np.testing.assert_array_equal(from_columns, from_text)
    assert (from_columns[:, -1] > 0).any()  # the hour of the capture day is a real hour
    assert fs.names[:2] == ["V1", "V2"] and fs.names[-2:] == ["log_amount", "hour_of_capture_day"]
    assert not fs.event_time_is_timestamp and feature_set("transactions").event_time_is_timestamp


# --- the digest ----------------------------------------------------------------------------------


BASE: list[dict[str, Any]] = [
    {"name": "log_amount", "transform": "log1p", "column": "amount"},
    {"name": "whole", "transform": "is_multiple", "column": "amount", "of": 1},
    {"name": "kind", "transform": "one_hot", "column": "kind"},
]


def test_the_digest_is_stable() -> None:
    # Given the same spec parsed twice, Then the digest is the same (and a SHA-256 hex)
    a, b = parse_feature_set(mini(BASE)), parse_feature_set(mini([dict(e) for e in BASE]))
    assert a.digest == b.digest and len(a.digest) == 64
    # And the shipped contract's digest does not depend on the cache
    assert (
        feature_set("transactions").digest
        == parse_feature_set(load_contract("transactions")).digest
    )
    # And column descriptions are not part of it (they do not change a number)
    described = [{**c, "description": "changed"} for c in COLUMNS]
    assert parse_feature_set(mini(BASE, columns=described)).digest == a.digest


@pytest.mark.parametrize(
    "change",
    [
        "version",
        "of",
        "null_as",
        "order",
        "vocabulary",
        "transform",
        "dropped",
    ],
)
def test_the_digest_changes_with_the_spec(change: str) -> None:
    base = parse_feature_set(mini(BASE)).digest
    spec = [dict(e) for e in BASE]
    columns = COLUMNS
    version = 1
    if change == "version":
        version = 2
    elif change == "of":
        spec[1]["of"] = 10
    elif change == "null_as":
        spec[0]["null_as"] = 0
    elif change == "order":
        spec = list(reversed(spec))
    elif change == "vocabulary":
        columns = [
            {**c, "allowed": ["a", "b", "c", "d"]} if c["name"] == "kind" else c for c in COLUMNS
        ]
    elif change == "transform":
        spec[0]["transform"] = "number"
    elif change == "dropped":
        spec = spec[:2]
    assert parse_feature_set(mini(spec, version=version, columns=columns)).digest != base


# --- refused specs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "x", "transform": "square", "column": "amount"}], "transform 'square'"),
        ([{"name": "leak", "transform": "bool", "column": "label"}], "reads the label"),
        (
            [{"name": "x", "transform": "number", "columns": ["amount", "label"]}],
            "reads the label",
        ),
        ([{"name": "c", "transform": "one_hot", "column": "code"}], "needs an allowed list"),
        (
            [{"name": "c", "transform": "category_index", "column": "note"}],
            "needs an allowed list",
        ),
        ([{"name": "w", "transform": "is_multiple", "column": "amount"}], "positive `of`"),
        ([{"name": "w", "transform": "is_multiple", "column": "amount", "of": 0}], "positive"),
        ([{"name": "n", "transform": "not_equal", "column": "home"}], "exactly two columns"),
        ([{"name": "n", "transform": "log1p", "columns": ["amount", "fee"]}], "reads one column"),
        ([{"name": "n", "transform": "log1p"}], "names no column"),
        ([{"name": "n", "transform": "log1p", "column": "amount", "scale": 2}], "unknown feature"),
        (["amount"], "is a mapping"),
        (
            [
                {"name": "a", "transform": "log1p", "column": "amount"},
                {"name": "a", "transform": "number", "column": "fee"},
            ],
            "duplicate feature names",
        ),
    ],
)
def test_bad_specs_are_refused(entries: list[Any], message: str) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        parse_feature_set(mini(entries))


def test_a_feature_of_an_unknown_column_is_refused() -> None:
    with pytest.raises(KeyError, match="no column 'nope'"):
        parse_feature_set(mini([{"name": "x", "transform": "number", "column": "nope"}]))


@pytest.mark.parametrize("version", [0, -1, "1", True, None])
def test_the_features_version_must_be_a_positive_integer(version: Any) -> None:
    with pytest.raises(FeatureSpecError, match=r"features\.version"):
        parse_feature_set(mini(BASE, version=version))


def test_a_contract_without_label_or_features_is_not_trainable() -> None:
    # Given a contract with features but no label
    with pytest.raises(NotTrainableError, match="no label"):
        parse_feature_set(mini(BASE, label=None))
    # Given a contract with a label but no features section, or an empty list
    with pytest.raises(NotTrainableError, match=r"no features\.list"):
        parse_feature_set(mini(None))
    with pytest.raises(NotTrainableError, match=r"no features\.list"):
        parse_feature_set(mini([]))
    # And NotTrainableError is not a spec error (the pipeline reports it as NOT_TRAINABLE)
    assert not issubclass(NotTrainableError, FeatureSpecError)
