"""Decoded stream values to one all-text table of the contract's columns: what a CSV gives, so
files and records share one validation (``contracts.validation.validate_batch``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.schema import Contract
from fraudops_shared.contracts.validation import as_cell


def records_table(
    contract: Contract, values: Sequence[Any]
) -> tuple[pa.Table, list[int], dict[int, tuple[list[str], list[str]]]]:
    """The decoded values as one all-text table of the contract's columns (what CSV gives), the
    position of each table row among ``values``, and the values refused before validation
    (not an object, unknown fields, nested values), by position.

    Column at a time: a column whose values are all scalars of one JSON type goes to text in one
    Arrow cast; only a column holding mixed types or nested values is walked value by value."""
    names = contract.column_names
    known = set(names)
    refused: dict[int, tuple[list[str], list[str]]] = {}
    objects: list[dict[str, Any]] = []
    where: list[int] = []
    for pos, value in enumerate(values):
        if type(value) is not dict:
            refused[pos] = (["not_an_object"], [f"a JSON {type(value).__name__}, not an object"])
        elif not known.issuperset(value):
            unknown = ", ".join(sorted(str(k) for k in value if k not in known))
            reason = f"fields not in contract {contract.name}: {unknown}"[:500]
            refused[pos] = (["unknown_field"], [reason])
        else:
            objects.append(value)
            where.append(pos)
    columns: dict[str, pa.Array] = {}
    nested: dict[int, tuple[list[str], list[str]]] = {}  # by row of ``objects``
    for name in names:
        cells = [o.get(name) for o in objects]
        columns[name] = _text_column(name, cells, nested)
    if nested:
        for row, problem in nested.items():
            refused[where[row]] = problem
        keep = pa.array([r not in nested for r in range(len(objects))])
        table = pa.table(columns).filter(keep)
        kept = [p for r, p in enumerate(where) if r not in nested]
    else:
        table = pa.table(columns) if names else pa.table({})
        kept = where
    return table, kept, refused


def _text_column(
    name: str, cells: list[Any], nested: dict[int, tuple[list[str], list[str]]]
) -> pa.Array:
    """One column's JSON values as text: ``true``/``false``, numbers as written back by Python,
    strings as they are; a list or an object is recorded in ``nested`` (its row refused)."""
    try:
        arr = pa.array(cells)
        if pa.types.is_null(arr.type):
            return pa.nulls(len(cells), pa.string())
        if pa.types.is_boolean(arr.type):
            return pc.if_else(arr, "true", "false")
        if pa.types.is_string(arr.type) or pa.types.is_integer(arr.type):
            return arr.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass  # mixed types, nested values, huge integers: value by value
    out: list[str | None] = []
    for row, value in enumerate(cells):
        if isinstance(value, dict | list):
            rules, reasons = nested.setdefault(row, ([], []))
            rules.append(f"type:{name}")
            reasons.append(f"{name} is a {type(value).__name__}, not a single value")
            out.append(None)
        else:
            out.append(as_cell(value))
    return pa.array(out, pa.string())
