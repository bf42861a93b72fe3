"""The per-column rules of a contract, each a boolean mask over a batch with a function that
words the reason of any failing row: parsing text into the contract's types (`not_null`,
`type`), value rules (`range`, `allowed`, `pattern`, `max_length`, `identifier`), freshness
(`event_time_in_future`, `event_time_too_old`) and label timing (`label_time_before_event`,
`label_time_in_future`, `label_without_time`). Rules per value are exclusive in order: a
missing value fails `not_null` only, an unparseable one `type` only; the others apply to parsed
values.

`check_column` is here with the value rules and the wording of reasons; the parts with their own
machinery are in their own modules: the masks and `Failure` every rule is made of
(`contracts.masks`), parsing text into types (`contracts.casts`), the byte-level text rules
(`contracts.text_checks`) and the rules over times (`contracts.timing`). The names this module
had before they moved are still importable from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.casts import TYPE_WORDS, direct, parse
from fraudops_shared.contracts.masks import (
    TEXT_TYPES,
    Failure,
    everywhere,
    np_mask,
    null_where,
    true_rows,
    valid_rows,
)
from fraudops_shared.contracts.schema import Column
from fraudops_shared.contracts.text_checks import (
    CONTROL,
    WHITESPACE,
    ZERO_WIDTH,
    empty_rows,
    identifier_problem,
    identifier_reasons,
    identifier_rows,
    long_rows,
    matches,
)
from fraudops_shared.contracts.timing import freshness, labels

__all__ = [
    "CONTROL",
    "TEXT_TYPES",
    "WHITESPACE",
    "ZERO_WIDTH",
    "Checked",
    "Failure",
    "check_column",
    "everywhere",
    "freshness",
    "identifier_problem",
    "iso",
    "labels",
    "np_mask",
    "null_where",
    "true_rows",
    "valid_rows",
]


@dataclass
class Checked:
    """One column after its rules: typed values, the text it came from (None when it came
    typed), which rows carried a value at all, and the failures."""

    typed: pa.ChunkedArray
    text: pa.ChunkedArray | None
    present: np.ndarray
    failures: list[Failure]


def check_column(col: Column, raw: pa.ChunkedArray | pa.Array | None, n: int) -> Checked:
    """Parse one column and check its rules."""
    failures: list[Failure] = []
    target = col.arrow_type()
    if raw is None:
        raw = pa.chunked_array([pa.nulls(n, target)])
    elif isinstance(raw, pa.Array):
        raw = pa.chunked_array([raw])
    if pa.types.is_dictionary(raw.type):
        raw = raw.cast(raw.type.value_type)
    typed, text = (None, None) if col.type == "string" else direct(raw, target)
    if typed is None:
        text = raw if raw.type in TEXT_TYPES else raw.cast(pa.string())
        empty = empty_rows(text)
        if empty is not None:  # "" is a missing value in text files, not a value
            text = null_where(text, pa.array(empty))
    values = typed if typed is not None else text
    assert values is not None  # one of them is set above
    # null_count is free metadata: skip the mask when nothing is missing
    present = valid_rows(values) if values.null_count else everywhere(n)
    if not col.nullable and values.null_count:
        failures.append(Failure(f"not_null:{col.name}", ~present, _missing(col.name)))
    parsed = present
    if typed is None:
        assert text is not None
        typed, unparsed = parse(text, col, present)
        if unparsed is not None:
            parsed = present & ~unparsed
            failures.append(
                Failure(f"type:{col.name}", unparsed, _values(col.name, text, TYPE_WORDS[col.type]))
            )
    _value_rules(col, typed, text, parsed, failures)
    return Checked(typed, text, present, failures)


# ----------------------------------------------------------------------------- value rules


def _value_rules(
    col: Column,
    typed: pa.ChunkedArray,
    text: pa.ChunkedArray | None,
    parsed: np.ndarray,
    failures: list[Failure],
) -> None:
    name = col.name
    if col.min is not None:
        below = true_rows(pc.less(typed, col.min))
        if below.any():
            failures.append(
                Failure(
                    f"range:{name}",
                    below,
                    _values(name, typed, f"is below the minimum {_num(col.min)}", raw=False),
                )
            )
    if col.max is not None:
        above = true_rows(pc.greater(typed, col.max))
        if above.any():
            rule = Failure(
                f"range:{name}",
                above,
                _values(name, typed, f"is above the maximum {_num(col.max)}", raw=False),
            )
            _merge(failures, rule)
    if col.allowed is not None:
        values = typed if col.type != "string" or text is None else text
        value_set = pa.array(col.allowed, type=values.type)
        # is_in(null) is False, not null: only values that are there can be outside the set
        outside = parsed & ~true_rows(pc.is_in(values, value_set=value_set))
        if outside.any():
            shown = (
                ", ".join(map(str, col.allowed))
                if len(col.allowed) <= 10
                else f"the {len(col.allowed)} allowed values of {name}"
            )
            failures.append(
                Failure(f"allowed:{name}", outside, _values(name, values, f"is not one of {shown}"))
            )
    if col.type != "string" or text is None:
        return
    if col.pattern is not None:
        unmatched = parsed & ~matches(text, col.pattern)
        if unmatched.any():
            failures.append(
                Failure(
                    f"pattern:{name}",
                    unmatched,
                    _values(name, text, f"does not match {col.pattern}"),
                )
            )
    if col.max_length is not None:
        too_long = long_rows(text, col.max_length)
        if too_long is not None:
            failures.append(
                Failure(f"max_length:{name}", too_long, _lengths(name, text, col.max_length))
            )
    if col.identifier:
        odd = identifier_rows(text)
        if odd is not None:
            failures.append(Failure(f"identifier:{name}", odd, identifier_reasons(name, text)))


def _merge(failures: list[Failure], new: Failure) -> None:
    """Join a second mask into an existing rule id (range below + range above)."""
    for i, old in enumerate(failures):
        if old.rule == new.rule:

            def describe(rows: np.ndarray, a: Failure = old, b: Failure = new) -> list[str]:
                in_a = a.mask[rows]
                text = dict(zip(rows[in_a].tolist(), a.describe(rows[in_a]), strict=True))
                text.update(zip(rows[~in_a].tolist(), b.describe(rows[~in_a]), strict=True))
                return [text[int(r)] for r in rows]

            failures[i] = Failure(old.rule, old.mask | new.mask, describe)
            return
    failures.append(new)


# ----------------------------------------------------------------------------- reasons


def _missing(name: str) -> Callable[[np.ndarray], list[str]]:
    return lambda rows: [f"{name} is required but missing or empty"] * len(rows)


def _values(
    name: str, values: pa.ChunkedArray, words: str, *, raw: bool = True
) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        vals = values.take(pa.array(rows, pa.int64())).to_pylist()
        return [f"{name}={_show(v, raw)} {words}" for v in vals]

    return describe


def _lengths(name: str, text: pa.ChunkedArray, limit: int) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        vals = text.take(pa.array(rows, pa.int64())).to_pylist()
        return [f"{name} has {len(v)} characters, more than the maximum {limit}" for v in vals]

    return describe


def _show(value: Any, raw: bool) -> str:
    if isinstance(value, datetime):
        return iso(value)
    if raw and isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return repr(value)


def _num(value: float) -> str:
    return (
        str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    )


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
