"""One stream record against its data contract in plain Python: the real-time scorer's check.

The scoring Lambda ships onnxruntime and numpy, not pyarrow, yet must accept and refuse exactly
what ingestion does. So this is `contracts.validation.validate_records` for one record without
Arrow: the same `Contract`, the same pre-checks (`contracts.results.record_cells`: not an object,
unknown fields, nested values, lone surrogates), the same grammar of values as Arrow's casts and
the same words (`contracts.values`), the same rules in the same order with the same reasons, and
the same `RecordResult`, whose `valid_row` holds what pyarrow's `to_pylist` gives (str, float,
int, bool, datetimes in the zoneinfo UTC, the partition columns). tests/unit/contracts/
test_records.py holds the two to each other record by record. Importing this module imports
neither pyarrow, pandas nor numpy.

Each record stands alone: there is no `duplicate_key` here, neither within a batch nor against
keys already ingested (that needs the batch, or a store: the caller's). Where validate_records
raises instead of answering, this answers (see `check_record`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudops_shared.contracts.results import RecordResult, record_cells
from fraudops_shared.contracts.schema import Contract, ContractError
from fraudops_shared.contracts.values import (
    PARSERS,
    TYPE_WORDS,
    as_date,
    as_datetime,
    hidden_characters,
    identifier_problem,
    iso,
    micros,
    number,
    python_pattern,
    show,
)


@dataclass(frozen=True)
class _Column:
    """One column's rules, compiled once per contract."""

    name: str
    type: str
    nullable: bool
    parse: Callable[[str], Any] | None  # None: text is the value
    min: float | None
    max: float | None
    allowed: frozenset[Any] | None
    allowed_words: str
    pattern: re.Pattern[str] | None
    pattern_words: str
    max_length: int | None
    identifier: bool
    checked: bool  # has any value rule at all


@dataclass(frozen=True)
class _Plan:
    columns: tuple[_Column, ...]
    event_time: str
    timed: bool  # the event time is a timestamp: freshness and label timing apply
    future: timedelta | None
    max_future_seconds: float | None
    oldest: timedelta | None
    max_age_days: float | None
    label: str | None
    label_time: str | None
    skew: float
    partitions: tuple[tuple[str, str, str], ...]  # (name, source, transform)


_PLANS: dict[int, tuple[Contract, _Plan]] = {}


def check_records(
    contract: Contract, values: Iterable[Any], *, now: datetime
) -> list[RecordResult]:
    """`check_record` for each value, independently: no `duplicate_key`, even for two records
    of this call with one key (validate_records would refuse the second)."""
    return [check_record(contract, value, now=now) for value in values]


def check_record(contract: Contract, value: Any, *, now: datetime) -> RecordResult:
    """One decoded JSON value against `contract`, as `validate_records` judges it alone.

    `now` without a time zone is taken as UTC (as validate_batch takes it). Where
    validate_records raises rather than answers, this answers: an int64 beyond 2**53 checked
    against a float limit is compared exactly (Arrow refuses to convert it); a row otherwise
    valid fails `type:<col>` when a value cannot be given typed: a timestamp outside years
    1-9999, which a datetime cannot hold (pyarrow's to_pylist raises OverflowError), or a
    `day_offset` partition beyond int64 (Arrow's cast raises).
    """
    cells = record_cells(contract, value)
    if isinstance(cells, RecordResult):
        return cells
    plan = _plan(contract)
    rules: list[str] = []
    reasons: list[str] = []
    typed: dict[str, Any] = {}
    for col in plan.columns:
        name = col.name
        text = cells[name]
        if not text:  # "" is a missing value in text files, not a value
            typed[name] = None
            if not col.nullable:
                rules.append(f"not_null:{name}")
                reasons.append(f"{name} is required but missing or empty")
            continue
        if col.parse is None:
            v: Any = text
        else:
            v = col.parse(text)
            if v is None:
                typed[name] = None
                rules.append(f"type:{name}")
                reasons.append(f"{name}={show(text)} {TYPE_WORDS[col.type]}")
                continue
        typed[name] = v
        if col.checked:
            _value_rules(col, v, text, rules, reasons)
    now_utc = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    if plan.timed:
        _freshness(plan, typed, now_utc, rules, reasons)
    if plan.label is not None and plan.label_time is not None:
        _labels(plan, typed, not cells[plan.label_time], now_utc, rules, reasons)
    if rules:
        return RecordResult(None, rules, reasons)
    return _valid(plan, typed)


def _value_rules(col: _Column, v: Any, text: str, rules: list[str], reasons: list[str]) -> None:
    """range, allowed, pattern, max_length, identifier: in contracts.rules' order."""
    name = col.name
    if col.min is not None and v < col.min:
        rules.append(f"range:{name}")
        reasons.append(f"{name}={show(v, False)} is below the minimum {number(col.min)}")
    elif col.max is not None and v > col.max:
        rules.append(f"range:{name}")
        reasons.append(f"{name}={show(v, False)} is above the maximum {number(col.max)}")
    if col.allowed is not None and v not in col.allowed:
        rules.append(f"allowed:{name}")
        reasons.append(f"{name}={show(v)} {col.allowed_words}")
    if col.type != "string":
        return
    if col.pattern is not None and col.pattern.search(text) is None:
        rules.append(f"pattern:{name}")
        reasons.append(f"{name}={show(text)} {col.pattern_words}")
    if col.max_length is not None and len(text) > col.max_length:
        rules.append(f"max_length:{name}")
        reasons.append(f"{name} has {len(text)} characters, more than the maximum {col.max_length}")
    if col.identifier and hidden_characters(text):
        rules.append(f"identifier:{name}")
        reasons.append(identifier_problem(name, text))


def _freshness(
    plan: _Plan, typed: dict[str, Any], now: datetime, rules: list[str], reasons: list[str]
) -> None:
    """event_time_in_future, event_time_too_old (contracts.timing.freshness)."""
    at = typed[plan.event_time]
    if at is None:
        return
    name = plan.event_time
    if plan.future is not None and at > micros(now + plan.future):
        rules.append("event_time_in_future")
        reasons.append(_ahead(name, at, now, plan.max_future_seconds or 0.0))
    if plan.oldest is not None and at < micros(now - plan.oldest):
        age = (micros(now) - at) // 86_400_000_000
        rules.append("event_time_too_old")
        reasons.append(
            f"{name}={iso(at)} is {age} days old (at most {plan.max_age_days:.0f} days allowed)"
        )


def _labels(
    plan: _Plan,
    typed: dict[str, Any],
    time_missing: bool,
    now: datetime,
    rules: list[str],
    reasons: list[str],
) -> None:
    """label_time_before_event, label_time_in_future, label_without_time (contracts.timing)."""
    label, label_time = plan.label, plan.label_time
    assert label is not None and label_time is not None
    known = typed[label_time]
    at = typed[plan.event_time]
    if known is not None and plan.timed and at is not None and known < at:
        rules.append("label_time_before_event")
        reasons.append(f"{label_time}={iso(known)} is before {plan.event_time}={iso(at)}")
    if known is not None and known > micros(now + timedelta(seconds=plan.skew)):
        rules.append("label_time_in_future")
        reasons.append(_ahead(label_time, known, now, plan.skew))
    # a label that did not parse is no label; a label time that did not parse is still there
    if typed[label] is not None and time_missing:
        shown = _column_value(plan, label, typed[label])
        rules.append("label_without_time")
        reasons.append(f"{label}={shown!r} is set but {label_time} is missing")


def _ahead(name: str, at: int, now: datetime, allowed: float) -> str:
    seconds = (at - micros(now)) / 1e6
    return f"{name}={iso(at)} is {seconds:.0f} s in the future (at most {allowed:.0f} s allowed)"


def _valid(plan: _Plan, typed: dict[str, Any]) -> RecordResult:
    """The typed row as validate_records gives it: columns, then the partition columns."""
    row: dict[str, Any] = {}
    for col in plan.columns:
        v = typed[col.name]
        if col.type == "timestamp" and v is not None:
            moment = as_datetime(v)
            if moment is None:
                reason = f"{col.name}={iso(v)} is outside the years 0001-9999 a datetime holds"
                return RecordResult(None, [f"type:{col.name}"], [reason])
            v = moment
        row[col.name] = v
    for name, source, transform in plan.partitions:
        v = typed[source]
        if v is None:
            row[name] = None
        elif transform == "date":
            row[name] = as_date(v)
        else:  # day_offset, an int64 in the curated table
            day = row[name] = math.floor(float(v) / 86400.0)
            if not -(2**63) <= day < 2**63:
                reason = f"{source}={show(v, False)} is day {day}, beyond an int64 {name}"
                return RecordResult(None, [f"type:{source}"], [reason])
    return RecordResult(row, [], [])


def _column_value(plan: _Plan, name: str, v: Any) -> Any:
    col = next(c for c in plan.columns if c.name == name)
    return as_datetime(v) if col.type == "timestamp" else v


# ----------------------------------------------------------------------------- plans


def _plan(contract: Contract) -> _Plan:
    """The contract's rules compiled once per contract object (the entry keeps it alive, so
    its id is not reused)."""
    entry = _PLANS.get(id(contract))
    if entry is None or entry[0] is not contract:
        entry = _PLANS[id(contract)] = (contract, _compile(contract))
    return entry[1]


def _compile(contract: Contract) -> _Plan:
    columns = []
    for c in contract.columns:
        allowed = c.allowed
        if allowed is not None and len(allowed) <= 10:
            shown = ", ".join(map(str, allowed))
        else:
            shown = f"the {len(allowed or ())} allowed values of {c.name}"
        columns.append(
            _Column(
                name=c.name,
                type=c.type,
                nullable=c.nullable,
                parse=PARSERS.get(c.type),
                min=c.min,
                max=c.max,
                allowed=frozenset(allowed) if allowed is not None else None,
                allowed_words=f"is not one of {shown}",
                pattern=python_pattern(c.pattern) if c.pattern is not None else None,
                pattern_words=f"does not match {c.pattern}",
                max_length=c.max_length,
                identifier=c.identifier,
                checked=c.identifier
                or any(x is not None for x in (c.min, c.max, allowed, c.pattern, c.max_length)),
            )
        )
    types = {c.name: c.type for c in contract.columns}
    for p in contract.partition_by:
        wanted = ("timestamp",) if p.transform == "date" else ("int64", "float64")
        if types[p.source] not in wanted:
            raise ContractError(
                f"{contract.name}: partition {p.name} ({p.transform}) of a {types[p.source]} "
                "column: neither validation nor check_record derives it"
            )
    future, age = contract.max_future_seconds, contract.max_age_days
    return _Plan(
        columns=tuple(columns),
        event_time=contract.event_time,
        timed=types[contract.event_time] == "timestamp",
        future=timedelta(seconds=future) if future is not None else None,
        max_future_seconds=future,
        oldest=timedelta(days=age) if age is not None else None,
        max_age_days=age,
        label=contract.label,
        label_time=contract.label_time,
        skew=contract.max_future_seconds or 0.0,
        partitions=tuple((p.name, p.source, p.transform) for p in contract.partition_by),
    )
