"""What checking one stream record gives (`RecordResult`) and the checks every record path makes
before any column is parsed (`record_cells`): not an object, unknown fields, nested values,
text that is not Unicode. Apart from `contracts.validation` because that imports pyarrow, and the
records path without it (`contracts.records`) must return the same results from the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fraudops_shared.contracts.schema import Contract

_NESTED = (dict, list, tuple, set, bytes)
_NAMES: dict[int, tuple[Contract, tuple[str, ...], frozenset[str]]] = {}


@dataclass(frozen=True)
class RecordResult:
    """One stream record: the typed row if valid, otherwise the failed rules and why."""

    valid_row: dict[str, Any] | None
    rules: list[str]
    reasons: list[str]

    @property
    def ok(self) -> bool:
        return self.valid_row is not None


def as_cell(value: Any) -> str | None:
    """A JSON value as the text a CSV would carry, so records and files share one parser."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record_cells(contract: Contract, record: Any) -> RecordResult | dict[str, str | None]:
    """The record's contract columns as text cells (absent: None), or its rejection.

    Rejected here, with every such problem and nothing parsed: a value that is not a JSON
    object (`not_an_object`), fields the contract does not know (`unknown_field`: the name is in
    the reason only, rule ids never hold what a producer sent), and per column (`type:<col>`) a
    nested value or text holding a lone surrogate (JSON's "\\ud800" decodes to one; it is not
    Unicode and cannot be written as UTF-8, in Arrow or anywhere else).
    """
    if not isinstance(record, dict):
        kind = type(record).__name__
        return RecordResult(None, ["not_an_object"], [f"record is a {kind}, not a JSON object"])
    names, known = _names(contract)
    rules, reasons = [], []
    if not known.issuperset(record):
        for k in record:
            if k not in known:
                rules.append("unknown_field")
                reasons.append(
                    f"field {str(k)!r} is not in contract {contract.name} v{contract.version}"
                )
    cells: dict[str, str | None] = {}
    for k in names:
        v = record.get(k)
        if type(v) is str or v is None:  # most values: as_cell would return them as they are
            cell = cells[k] = v
        elif isinstance(v, _NESTED):
            rules.append(f"type:{k}")
            reasons.append(
                f"{k} is a {type(v).__name__}, not a single {contract.column(k).type} value"
            )
            continue
        else:
            cell = cells[k] = as_cell(v)
        if cell is not None and not cell.isascii():
            surrogate = _lone_surrogate(cell)
            if surrogate is not None:
                rules.append(f"type:{k}")
                reasons.append(f"{k} holds the lone surrogate U+{ord(surrogate):04X}, not text")
    if rules:
        return RecordResult(None, rules, reasons)
    return cells


def _lone_surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _names(contract: Contract) -> tuple[tuple[str, ...], frozenset[str]]:
    """The column names of a contract, kept per contract object (which the entry keeps alive,
    so its id is not reused)."""
    entry = _NAMES.get(id(contract))
    if entry is None or entry[0] is not contract:
        names = tuple(contract.column_names)
        entry = _NAMES[id(contract)] = (contract, names, frozenset(names))
    return entry[1], entry[2]
