"""The pyarrow-free record check (contracts.records) against the Arrow one (validate_records):
the same rules in the same order, the same reasons and the same typed rows, record by record, for
every shape the generator, producers and attackers send; and the grammar of values it shares
with Arrow's casts, value by value."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudops.generator import BAD_KINDS, generate_transactions, inject_bad_rows, to_text
from fraudops_shared.contracts import Contract, casts, load_contract, rules, text_checks, timing
from fraudops_shared.contracts import values as V
from fraudops_shared.contracts.records import check_record, check_records
from fraudops_shared.contracts.results import RecordResult, as_cell
from fraudops_shared.contracts.validation import validate_records

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TX = load_contract("transactions")
DC = load_contract("decisions")
CC = load_contract("creditcard_benchmark")

GOOD_TX: dict[str, Any] = {
    "transaction_id": "tx-1", "event_time": "2026-11-27T10:15:00Z", "card_id": "card_1",
    "customer_id": "cus_1", "merchant_id": "m_1", "mcc": "0742", "amount": 12.5,
    "currency": "EUR", "country": "NO", "merchant_country": "NO", "channel": "pos",
    "entry_mode": "chip", "card_present": True, "device_id": None, "ip_country": None,
    "is_fraud": None, "label_time": None,
}  # fmt: skip
GOOD_DC: dict[str, Any] = {
    "transaction_id": "tx-1", "decided_at": "2026-11-27T11:59:00Z",
    "event_time": "2026-11-27T11:58:58.5Z", "source": "stream", "model_id": "transactions-v1",
    "model_version": 1, "feature_set": "0123456789abcdef" * 4, "score": 0.62,
    "outcome": "review", "review_threshold": 0.5, "decline_threshold": 0.9,
    "reasons": json.dumps([{"feature": "amount", "contribution": 0.31}]),
    "features": json.dumps({"amount": 412.5}), "latency_ms": 4.2, "amount": 412.5,
    "shadow_model_id": None, "shadow_score": None, "shadow_outcome": None,
}  # fmt: skip
# fmt: off
NAN, INF = float("nan"), float("inf")
FLOATS = [12.5, "12.50", 0.01, "0.01", 0.0, -0.0, "-0", "-0.0", 49999.99, 50000, "1e3", "1E+03",
          ".5", "5.", "+5", 1, 10**30, 2**63, -(2**63) - 1, 5e-324, 1.7976931348623157e308, NAN,
          INF, -INF, "NaN", "nan", "Infinity", "-inf", "1e400", "1e-400", "12,50", "12.50 EUR",
          " 12.5", "0x10", "\u0661\u0662", "", True, False, "true", "1_0", "1e", ".", "-"]
INTS = [1, "1", 2, 0, -1, "0x1F", "0X1f", "0xFFFFFFFFFFFFFFFF", "+1", "-0", "007", "1.0", 1.0,
        True, 2**53, -(2**53), 2**63, "9223372036854775808", "abc", "", " 1", "0x", 1e3]
BOOLS = [True, False, "true", "false", "TRUE", "False", "1", "0", 1, 0, 2, -1, "yes", "t",
         " true", 1.0, 0.0, "01", ""]
TIMES = ["2026-11-27T10:15:00Z", "2026-11-27T11:15:00+01:00", "2026-11-27 10:15:00.123456Z",
         "2026-11-27T05:15:00-0500", "2026-11-27T10Z", "2026-11-27T10:15Z", "2026-11-27T10+01",
         "2026-11-27T10:15:00.5+05:30", "2024-02-29T00:00:00Z", "2026-11-27T12:05:00Z",
         "2026-11-27T12:05:00.000001Z", "2023-11-28T12:00:00Z", "2023-11-28T11:59:59.999999Z",
         "2026-11-27T10:15:00", "2026-11-27", "27/11/2026 10:15", "2026-02-29T00:00:00Z",
         "2026-11-27T24:00:00Z", "2026-11-27T23:59:60Z", "2026-11-27T10:15:00.1234567Z",
         "2026-11-27t10:15:00z", "2026-11-27T10:15:00+24:00", "2099-01-01T00:00:00Z",
         "1987-06-01T00:00:00Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
         "0000-01-01T00:00:00+01:00", "0000-02-29T00:00:00Z", "9999-12-31T23:59:59-01:00",
         datetime(2026, 11, 27, 10, 15, tzinfo=UTC), datetime(2026, 11, 27, 10, 15), 1795774500,
         1.5, "", " 2026-11-27T10:15:00Z"]
TEXTS = ["x", "", " ", " x", "x ", "a\u200bb", "\ufeffx", "a\x00b", "a\nb", "x\x7f", "\x85x",
         "\u00e9" * 129, "x" * 65, "d" * 200, "\ud800", "a\udfffb", "カード\u3000番号", "😀",
         "card 1", 12, 12.5, True, [1], {"a": 1}, (1,), {1}, b"x", "0742", "742", "0742\n",
         "07a2", "\u0661\u0662\u0663\u0664", "EUR", "eur", "XYZ", "NO", "pos", "web", "review",
         "0123456789abcdef" * 4, "0123456789ABCDEF" * 4, "r" * 4097, "f" * 16385]
# fmt: on
POOLS = {"float64": FLOATS, "int64": INTS, "bool": BOOLS, "timestamp": TIMES, "string": TEXTS}
UNKNOWN: list[tuple[Any, Any]] = [("pan", "4111"), ("x\n:y", 1), (1, 2), ("AMOUNT", 1)]
NOT_OBJECTS: list[Any] = [[], [GOOD_TX], "x", None, 1, 1.5, True, ("a", 1)]


def strict(row: dict[str, Any] | None) -> Any:
    """A row with every value's type and repr: -0.0 is not 0.0, a ZoneInfo is not datetime.UTC."""
    return None if row is None else [(k, type(v), repr(v)) for k, v in row.items()]


def same(
    contract: Contract, record: Any, now: datetime = NOW, seen: Counter[str] | None = None
) -> RecordResult:
    """check_record agrees with validate_records on one record (`seen` counts the rules met);
    the only answers allowed to differ are where validate_records raises (see
    contracts.records.check_record)."""
    seen = Counter() if seen is None else seen
    got = check_record(contract, record, now=now)
    assert len(got.reasons) == len(got.rules) and all(got.reasons), got
    assert got.ok == (got.rules == [])
    try:
        expected = validate_records(contract, [record], now=now)[0]
    except OverflowError:  # a valid row with a time pyarrow cannot give as a datetime
        assert len(got.rules) == 1 and got.rules[0].startswith("type:"), got
        assert "outside the years 0001-9999" in got.reasons[0]
        seen["<overflow>"] += 1
        return got
    except pa.ArrowInvalid as error:
        if "converting to int64" in str(error):  # a day_offset partition beyond int64
            assert len(got.rules) == 1 and "beyond an int64" in got.reasons[0], got
            seen["<day overflow>"] += 1
            return got
        assert "not in range" in str(error)  # an int64 beyond 2**53 against a float limit
        seen["<big int>"] += 1
        return _big_int(contract, record, got, now)
    assert (got.ok, sorted(got.rules)) == (expected.ok, sorted(expected.rules)), record
    assert got.rules == expected.rules  # in the same order too
    assert got.reasons == expected.reasons
    assert strict(got.valid_row) == strict(expected.valid_row)
    seen.update(got.rules or ["<valid>"])
    return got


def _big_int(contract: Contract, record: Any, got: RecordResult, now: datetime) -> RecordResult:
    """Arrow raises; the same record with 2**53 (same sign) in its place must agree on rules."""
    ranged = [c for c in contract.columns if c.type == "int64" and c.min is not None]
    stand_in = dict(record)
    for col in ranged:
        value = V.parse_int(as_cell(record.get(col.name)) or "")
        if value is not None and abs(value) > 2**53:
            stand_in[col.name] = 2**53 if value > 0 else -(2**53)
    assert stand_in != record
    expected = validate_records(contract, [stand_in], now=now)[0]
    assert got.rules == expected.rules
    return got


# ----------------------------------------------------------------------------- corpora


def generated() -> list[dict[str, Any]]:
    """Generator transactions as CSV text, as JSON (numbers, booleans), with offsets, bool
    spellings and datetime objects."""
    table = generate_transactions(
        300, 11, NOW - timedelta(days=30), 30, fraud_rate=0.05, label_delay=timedelta(days=2)
    )
    text, typed = to_text(table).to_pylist(), table.to_pylist()
    out = list(text)
    spell = ["1", "0", "TRUE", "False", True, False, 1, 0]
    zones = [timezone(timedelta(hours=h, minutes=m)) for h, m in [(5, 30), (-8, 0), (0, 0)]]
    for i, (row, raw) in enumerate(zip(text, typed, strict=True)):
        as_json = {k: (row[k] if k in ("event_time", "label_time") else v) for k, v in raw.items()}
        out.append(json.loads(json.dumps(as_json)))
        shifted = {**as_json, "card_present": spell[i % len(spell)]}
        for k in ("event_time", "label_time"):
            if raw[k] is not None:
                shifted[k] = raw[k].astimezone(zones[i % 3]).isoformat()
        out.append(shifted)
        label = raw["is_fraud"] is not None
        out.append({**raw, "is_fraud": spell[(i + 3) % len(spell)] if label else None})
    return out


def injected() -> list[tuple[str | None, dict[str, Any]]]:
    """Every kind of bad row the generator plants, three of each, with the rule it must fail
    (found by comparing with the clean rows; None for rows left clean)."""
    clean = generate_transactions(400, 3, NOW - timedelta(days=30), 30)
    table, counts = inject_bad_rows(clean, per_kind=3, seed=4)
    out: list[tuple[str | None, dict[str, Any]]] = []
    for before, row in zip(to_text(clean).to_pylist(), table.to_pylist(), strict=True):
        changed = {k for k in row if row[k] != before[k]}
        kinds = [
            rule
            for kind, (column, bad, rule) in BAD_KINDS.items()
            if column in changed and (row[column] == bad or kind == "duplicate_id")
        ]
        assert len(kinds) <= 1
        out.append((kinds[0] if kinds else None, row))
    assert Counter(rule for rule, _ in out if rule) == counts
    return out


def hostile(good: dict[str, Any], contract: Contract) -> list[Any]:
    """Each column given every value of its type's pool and of the text pool, nulls, absence,
    unknown fields, and the label rules' combinations."""
    out: list[Any] = list(NOT_OBJECTS)
    for col in contract.columns:
        for value in [*POOLS[col.type], *TEXTS[::3], None]:
            out.append({**good, col.name: value})
        out.append({k: v for k, v in good.items() if k != col.name})
    out += [{**good, k: v} for k, v in UNKNOWN]
    out.append({**good, **dict(UNKNOWN), "amount": [1], "card_id": "\ud800"})
    if contract.label is None or contract.label_time is None:
        return out
    labels = [None, True, False, "true", "0", "yes", 2, ""]
    times = ["2026-11-27T10:00:00Z", "2026-11-27T10:15:00Z", "2026-11-27T11:00:00Z",
             "2026-11-27T12:05:00Z", "2026-11-27T12:06:00Z", "yesterday", "", None,
             "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"]  # fmt: skip
    for label in labels:  # the event is at 10:15, now is 12:00, 300 s of skew are allowed
        for known in times:
            spoiled = {**good, contract.label: label, contract.label_time: known}
            out += [spoiled, {**spoiled, contract.event_time: "x"}]
    return out


def mutated(good: dict[str, Any], contract: Contract, n: int, seed: int) -> list[Any]:
    """Seeded random records: up to four columns spoiled from the pools, some dropped, some
    unknown fields, now and then not an object."""
    rng = random.Random(seed)
    out: list[Any] = []
    columns = contract.columns
    for _ in range(n):
        if rng.random() < 0.02:
            out.append(rng.choice(NOT_OBJECTS))
            continue
        record = dict(good)
        for col in rng.sample(columns, rng.randint(0, 4)):
            pool = POOLS[col.type] if rng.random() < 0.7 else TEXTS
            record[col.name] = rng.choice([*pool, None])
        for col in rng.sample(columns, rng.choice([0, 0, 0, 1])):
            record.pop(col.name, None)
        if rng.random() < 0.05:
            record.update([rng.choice(UNKNOWN)])
        out.append(record)
    return out


# ----------------------------------------------------------------------------- records


def test_generated_transactions_in_every_valid_shape_agree() -> None:
    results = [same(TX, record) for record in generated()]
    # Then all are valid (the generator writes good data), typed alike in every shape
    assert len(results) == 1200 and all(r.ok for r in results)


def test_every_bad_kind_the_generator_plants_agrees_and_fails_its_rule() -> None:
    # Given the generator's bad rows, each checked alone, When checked both ways
    for rule, row in injected():
        result = same(TX, row)
        # Then they agree, and each fails the one rule planted (a copied id is no fault alone)
        if rule == "duplicate_key":
            assert result.ok
        elif rule is not None:
            assert result.rules == [rule], (rule, row)


def rule_ids(contract: Contract) -> set[str]:
    """Every rule id a record can fail against `contract` (no duplicate_key: records alone)."""
    ids = {"<valid>", "not_an_object", "unknown_field"}
    for c in contract.columns:
        ranged, limited = (c.min, c.max) != (None, None), c.max_length is not None
        has = [("type", True), ("not_null", not c.nullable), ("range", ranged),
               ("max_length", limited), ("allowed", c.allowed is not None),
               ("pattern", c.pattern is not None), ("identifier", c.identifier)]  # fmt: skip
        ids |= {f"{rule}:{c.name}" for rule, on in has if on}
    ids |= {"event_time_in_future"} if contract.max_future_seconds is not None else set()
    ids |= {"event_time_too_old"} if contract.max_age_days is not None else set()
    if contract.label_time is not None:
        ids |= {"label_time_before_event", "label_time_in_future", "label_without_time"}
    return ids


@pytest.mark.parametrize(("contract", "good"), [(TX, GOOD_TX), (DC, GOOD_DC)])
def test_hostile_and_random_records_agree(contract: Contract, good: dict[str, Any]) -> None:
    # Given every hostile value per column and 1,500 random spoilings, as given and after JSON
    records = hostile(good, contract) + mutated(good, contract, 1500, seed=len(contract.name))
    decoded = json.loads(json.dumps(records[::8], default=repr))
    # When each is checked both ways, Then they agree, and every rule id was met
    seen: Counter[str] = Counter()
    for record in records + decoded:
        same(contract, record, seen=seen)
    assert rule_ids(contract) - set(seen) == set()


def test_the_benchmark_contract_agrees_too() -> None:
    # Given the benchmark's contract (float event time, day_offset partition, int label)
    good = {n: 0.5 for n in CC.column_names} | {"Time": 90000.0, "Class": 0, "Amount": 0.0}
    seen: Counter[str] = Counter()
    for record in hostile(good, CC)[::2] + mutated(good, CC, 200, seed=3):
        same(CC, record, seen=seen)
    assert rule_ids(CC) - set(seen) == set()
    assert same(CC, {**good, "Time": "1e30"}).rules == ["type:Time"]  # Arrow: cast overflow


def test_where_validate_records_raises_check_record_answers() -> None:
    # Given an int64 beyond 2**53 under a float minimum: Arrow will not compare it
    big = {**GOOD_DC, "model_version": 2**60}
    with pytest.raises(pa.ArrowInvalid):
        validate_records(DC, [big], now=NOW)
    # Then check_record compares exactly
    assert check_record(DC, big, now=NOW).ok
    small = check_record(DC, {**big, "model_version": -(2**60)}, now=NOW)
    assert small.rules == ["range:model_version"]
    # Given a valid row whose time has no datetime (year 0): pyarrow's to_pylist overflows
    old = {**GOOD_DC, "event_time": "0000-01-01T00:00:00Z"}
    with pytest.raises(OverflowError):
        validate_records(DC, [old], now=NOW)
    # Then check_record refuses it as not a timestamp it can give
    why = "event_time=0000-01-01T00:00:00Z is outside the years 0001-9999 a datetime holds"
    assert check_record(DC, old, now=NOW) == RecordResult(None, ["type:event_time"], [why])


def test_a_lone_surrogate_is_a_type_error_both_ways() -> None:
    # Given JSON text escaping half a surrogate pair (it decodes to a str UTF-8 cannot write)
    record = {**GOOD_TX, "card_id": json.loads('"c\\ud800"')}
    # When checked both ways, Then both refuse it by its column, naming the code point
    assert same(TX, record).reasons == ["card_id holds the lone surrogate U+D800, not text"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([(TX, GOOD_TX), (DC, GOOD_DC)]),
    st.dictionaries(
        st.sampled_from(sorted(set(GOOD_TX) | set(GOOD_DC) | {"pan"})),
        st.one_of(
            st.sampled_from([*FLOATS, *INTS, *BOOLS, *TIMES, *TEXTS, None]),
            st.floats(),
            st.integers(),
            st.text(alphabet="0123456789-+.:eEZT xabc\u200b\x00\ud800é", max_size=30),
            st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))])),
        ),
        max_size=6,
    ),
)
def test_any_record_agrees(case: tuple[Contract, dict[str, Any]], change: dict[str, Any]) -> None:
    contract, good = case
    same(contract, {**good, **change})


def test_records_are_independent() -> None:
    # Given two records with one key, When checked together, Then both are valid (no batch)
    results = check_records(TX, [GOOD_TX, GOOD_TX, "x"], now=NOW)
    assert [r.ok for r in results] == [True, True, False]
    assert validate_records(TX, [GOOD_TX, GOOD_TX], now=NOW)[1].rules == ["duplicate_key"]


@pytest.mark.parametrize("now", [NOW.replace(tzinfo=None), NOW.astimezone(timezone.max)])
def test_a_naive_now_is_utc_and_an_aware_one_any_zone(now: datetime) -> None:
    record = {**GOOD_TX, "event_time": "2026-11-27T12:06:00Z"}
    assert same(TX, record, now=now).rules == ["event_time_in_future"]


IMPORT_BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pyarrow", "pandas", "numpy"}:
            raise ImportError(f"{name} is blocked")
        return None
sys.meta_path.insert(0, Block())
import json
from datetime import datetime
from fraudops_shared.contracts.schema import load_contract
from fraudops_shared.contracts.records import check_record
record, now = json.loads(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
assert check_record(load_contract("transactions"), record, now=now).ok
assert check_record(load_contract("decisions"), record, now=now).rules
assert not {"pyarrow", "pandas", "numpy"} & {m.split(".")[0] for m in sys.modules}
"""


def test_records_and_schema_import_without_pyarrow_pandas_or_numpy() -> None:
    args = [sys.executable, "-c", IMPORT_BLOCKED, json.dumps(GOOD_TX), NOW.isoformat()]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-1500:]


# ----------------------------------------------------------------------------- values


def arrow(text: str, kind: str) -> Any:
    """What Arrow's cast makes of one text value for the contract type (None: refused)."""
    target = {"float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}.get(kind)
    try:
        cast = pc.cast(pa.array([text], pa.string()), target or pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    value = cast[0].value if kind == "timestamp" else cast[0].as_py()
    return None if kind == "float64" and not math.isfinite(value) else value


NUMBERS = st.one_of(
    st.from_regex(r"[+-]?[0-9]{0,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
    st.from_regex(r"-?[0-9]{1,22}|0[xX][0-9a-fA-F]{0,18}", fullmatch=True),
    st.floats().map(repr),
    st.integers().map(str),
    st.text(alphabet="0123456789+-.eExXaAfFnNiItTyY_, \u0661", max_size=12),
)
STAMPS = st.builds(
    lambda y, mo, d, sep, h, rest, frac, zone: f"{y}-{mo}-{d}{sep}{h}{rest}{frac}{zone}",
    st.sampled_from(["2026", "2024", "0000", "9999", "1900", "2000", "026"]),
    st.sampled_from(["01", "02", "11", "12", "13", "00", "1"]),
    st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]),
    st.sampled_from(["T", " ", "t", ""]),
    st.sampled_from(["00", "10", "23", "24", "1"]),
    st.sampled_from(["", ":15", ":15:00", ":59:59", ":60", ":15:60", "15", ":1500", ":15:0"]),
    st.sampled_from(["", ".5", ".123456", ".1234567", ".", ".000000"]),
    st.sampled_from(["Z", "z", "", "+01:00", "-0130", "+05", "+23:59", "+24:00", "+01:60", "+1"]),
)


@settings(max_examples=1500, deadline=None)
@given(NUMBERS)
def test_numbers_parse_as_arrow_casts_them(text: str) -> None:
    assert repr(V.parse_float(text)) == repr(arrow(text, "float64"))
    assert V.parse_int(text) == arrow(text, "int64")


@settings(max_examples=800, deadline=None)
@given(st.one_of(STAMPS, st.text(alphabet="0123456789-:TZ+. ", max_size=26)))
def test_timestamps_parse_as_arrow_casts_them(text: str) -> None:
    assert V.parse_timestamp(text) == arrow(text, "timestamp")


@pytest.mark.parametrize("text", [*BOOLS[2:], "TrUe", "FALSE", "tru", "truee", "K", "\u0131"])
def test_booleans_parse_as_arrow_casts_them(text: Any) -> None:
    assert V.parse_bool(str(text)) == arrow(str(text), "bool")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789af$]\n\u0661 x", max_size=8))
def test_patterns_match_as_arrow_matches_them(text: str) -> None:
    patterns = [c.pattern for c in TX.columns + DC.columns if c.pattern]
    patterns += ["^[0-9]+$", r"^\d{2}$", "[$]", "^[]$]+$", "x$|^a", r"[^\]$]$"]
    for pattern in patterns:
        found = pc.match_substring_regex(pa.array([text]), pattern)[0].as_py()
        assert bool(V.python_pattern(pattern).search(text)) == found, pattern


def test_the_words_are_the_arrow_paths_words() -> None:
    assert V.TYPE_WORDS == casts.TYPE_WORDS
    assert (V.CONTROL, V.ZERO_WIDTH, V.WHITESPACE) == (
        text_checks.CONTROL, text_checks.ZERO_WIDTH, text_checks.WHITESPACE
    )  # fmt: skip
    for value in ["a", " a", "a\x00\u200b ", "\ufeff", "x\u3000", "\u200e1"]:
        assert V.identifier_problem("c", value) == text_checks.identifier_problem("c", value)
    for limit in [0.01, 1.0, 0.0, 49999.99, 1e15, 1e300, -3.0]:
        assert V.number(limit) == rules._num(limit)
    for shown in ["x" * 81, "x" * 80, 1.5, -0.0, 3, True]:
        assert V.show(shown) == rules._show(shown, True)
        assert V.show(shown, False) == rules._show(shown, False)


def test_times_are_worded_as_arrow_words_them() -> None:
    rng = np.random.default_rng(7)
    lo, hi = V.parse_timestamp("0000-01-01T00:00:00+23:59"), V.parse_timestamp("9999-12-31T23Z")
    assert lo is not None and hi is not None
    stamps = np.concatenate([rng.integers(lo, hi, 2000), [lo, hi, 0, -1, 1, 10**6]])
    times = pa.chunked_array([pa.array(stamps, pa.timestamp("us", tz="UTC"))])
    shown, _ = timing._times(times, np.arange(len(stamps)))
    assert [V.iso(int(s)) for s in stamps] == shown
