"""Kinesis records to one all-text table of the contract's columns: KPL de-aggregation, JSON
decoding and the checks that come before validation, each record contained on its own.

Whatever a record holds (bytes that are not UTF-8, JSON nested thousands deep, a lone surrogate,
a number where an object was expected, a corrupted aggregate), it ends as a row of the table or
as a ``Rejected`` with a fixed rule id and the reason; nothing here raises for a record's sake.
No pyarrow here: the scorer decodes its feed with the same code and ships without it. The table
that validation reads is built by ``ingestion.stream_table``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fraudops_shared.ingestion import kpl
from fraudops_shared.ingestion.records import KinesisRecord, Rejected, UserRecord

MAX_RECORD_BYTES = 1 << 20  # Kinesis' own limit: a larger user record is a broken aggregate
MAX_DEPTH = 64  # a transaction is flat JSON; deeper nesting is refused before parsing


def as_text(data: bytes) -> str:
    """The record as text for the quarantine: UTF-8 if it is, else base64 with a prefix."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Nesting deeper than ``limit``, counted on the bytes (brackets outside strings) before any
    parser recurses into it."""
    depth, in_string, escaped = 0, False, False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def decode(record: UserRecord) -> tuple[Any, Rejected | None]:
    """One user record's JSON value, or why it has none. Never raises."""
    data = record.data
    try:
        if len(data) > MAX_RECORD_BYTES:
            reason = f"{len(data)} bytes, more than {MAX_RECORD_BYTES}"
            return None, Rejected(record.record_id, ["record_too_large"], [reason], as_text(data))
        # deeper than the limit needs more openers than the limit (counted in C first)
        if data.count(b"{") + data.count(b"[") > MAX_DEPTH and too_deep(data):
            reason = f"JSON nested more than {MAX_DEPTH} levels deep"
            return None, Rejected(record.record_id, ["too_deep"], [reason], as_text(data))
        text = data.decode("utf-8")
        value = json.loads(text)
        if b"\\ud" in data or b"\\uD" in data:
            # a lone surrogate (``"\\ud800"``) parses but is not text: it cannot be stored
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeError as err:
        return None, Rejected(
            record.record_id, ["encoding"], [f"not UTF-8 text: {err}"], as_text(data)
        )
    except ValueError as err:
        return None, Rejected(
            record.record_id, ["malformed_json"], [f"not JSON: {err}"], as_text(data)
        )
    except Exception as err:
        return None, unprocessable(record.record_id, err, data)
    return value, None


def unprocessable(record_id: str, err: BaseException, data: bytes) -> Rejected:
    reason = f"{type(err).__name__}: {err}"[:1000]
    return Rejected(record_id, ["unprocessable"], [reason], as_text(data))


def split(record: KinesisRecord) -> tuple[list[UserRecord], Rejected | None]:
    """KPL de-aggregation; a corrupted aggregate is kept whole as one rejected record."""
    if not kpl.is_aggregated(record.data):
        return [
            UserRecord(record.record_id, record.record_id, record.partition_key, record.data)
        ], None
    try:
        parts = kpl.deaggregate(record.data, record.partition_key)
    except kpl.AggregateError as err:
        return [], Rejected(record.record_id, ["kpl_aggregate"], [str(err)], as_text(record.data))
    except Exception as err:
        return [], unprocessable(record.record_id, err, record.data)
    return [
        UserRecord(f"{record.record_id}:{i}", record.record_id, key, data)
        for i, (key, data) in enumerate(parts)
    ], None
