"""Kinesis Producer Library (KPL) record aggregation, in pure Python (no protobuf dependency).

A KPL producer may pack many user records into one Kinesis record:

    0xF3 0x89 0x9A 0xC2 | AggregatedRecord (protobuf) | MD5(AggregatedRecord) (16 bytes)

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;
    }
    message Tag { required string key = 1; optional string value = 2; }

``deaggregate`` turns a Kinesis record's data back into its user records; data without the
magic prefix is a plain record and passes through unchanged. A record that has the prefix but
is damaged (bad digest, truncated, malformed protobuf, an index outside its table, no records)
raises ``AggregateError``: silently passing it through would hand binary garbage to validation,
and dropping it would lose records from the accounting. ``aggregate`` is the encoder, for tests
and producers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from fraudops_shared.runtime.protowire import LEN, VARINT, WireError, fields

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16  # MD5

# field numbers
_AGG_PARTITION_KEYS, _AGG_HASH_KEYS, _AGG_RECORDS = 1, 2, 3
_REC_PK_INDEX, _REC_EHK_INDEX, _REC_DATA, _REC_TAGS = 1, 2, 3, 4


class AggregateError(ValueError):
    """A record that announces itself as a KPL aggregate but cannot be decoded."""


@dataclass(frozen=True)
class UserRecord:
    """One record a producer put, as the KPL packed it."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


def is_aggregated(data: bytes) -> bool:
    return data.startswith(MAGIC)


# --- decoding -------------------------------------------------------------------------------------


def _expect(number: int, wire: int, expected: int, what: str) -> None:
    if wire != expected:
        raise AggregateError(f"{what} (field {number}) has wire type {wire}, expected {expected}")


def _text(buf: bytes, span: tuple[int, int], what: str) -> str:
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError as err:
        raise AggregateError(f"{what} is not UTF-8: {err}") from None


def _record(buf: bytes, start: int, end: int, index: int) -> tuple[int, int | None, bytes]:
    pk_index: int | None = None
    ehk_index: int | None = None
    data: bytes | None = None
    for number, wire, value in fields(buf, start, end, wrap64=False):
        if number == _REC_PK_INDEX:
            _expect(number, wire, VARINT, f"record {index} partition_key_index")
            assert isinstance(value, int)
            pk_index = value
        elif number == _REC_EHK_INDEX:
            _expect(number, wire, VARINT, f"record {index} explicit_hash_key_index")
            assert isinstance(value, int)
            ehk_index = value
        elif number == _REC_DATA:
            _expect(number, wire, LEN, f"record {index} data")
            assert isinstance(value, tuple)
            data = buf[value[0] : value[1]]
        # tags (4) and unknown fields are skipped: they carry nothing a consumer needs
    if pk_index is None:
        raise AggregateError(f"record {index} has no partition_key_index")
    if data is None:
        raise AggregateError(f"record {index} has no data")
    return pk_index, ehk_index, data


def decode(data: bytes) -> list[UserRecord]:
    """All user records of an aggregate (with explicit hash keys); raises ``AggregateError``."""
    if not is_aggregated(data):
        raise AggregateError("not a KPL aggregate: the magic prefix is missing")
    if len(data) < len(MAGIC) + DIGEST_SIZE:
        raise AggregateError(
            f"truncated aggregate: {len(data)} bytes, less than magic and digest "
            f"({len(MAGIC) + DIGEST_SIZE})"
        )
    body_end = len(data) - DIGEST_SIZE
    body = data[len(MAGIC) : body_end]
    if hashlib.md5(body, usedforsecurity=False).digest() != data[body_end:]:
        raise AggregateError("MD5 digest does not match the aggregate (corrupted or truncated)")

    keys: list[str] = []
    hash_keys: list[str] = []
    raw: list[tuple[int, int | None, bytes]] = []
    try:
        for number, wire, value in fields(body, 0, len(body), wrap64=False):
            if number in (_AGG_PARTITION_KEYS, _AGG_HASH_KEYS, _AGG_RECORDS):
                _expect(number, wire, LEN, "aggregate field")
                assert isinstance(value, tuple)
                if number == _AGG_PARTITION_KEYS:
                    keys.append(_text(body, value, f"partition key {len(keys)}"))
                elif number == _AGG_HASH_KEYS:
                    hash_keys.append(_text(body, value, f"explicit hash key {len(hash_keys)}"))
                else:
                    raw.append(_record(body, value[0], value[1], len(raw)))
    except WireError as err:  # the protobuf reader's errors, as this module's
        raise AggregateError(str(err)) from None
    if not raw:
        raise AggregateError("aggregate holds no records")

    out: list[UserRecord] = []
    for i, (pk_index, ehk_index, payload) in enumerate(raw):
        if pk_index >= len(keys):
            raise AggregateError(
                f"record {i}: partition_key_index {pk_index} outside the table of {len(keys)}"
            )
        ehk: str | None = None
        if ehk_index is not None:
            if ehk_index >= len(hash_keys):
                raise AggregateError(
                    f"record {i}: explicit_hash_key_index {ehk_index} outside the table of "
                    f"{len(hash_keys)}"
                )
            ehk = hash_keys[ehk_index]
        out.append(UserRecord(keys[pk_index], payload, ehk))
    return out


def deaggregate(data: bytes, partition_key: str) -> list[tuple[str, bytes]]:
    """The user records of a Kinesis record as ``(partition key, data)``, in order.

    Data without the KPL prefix is one plain record: ``[(partition_key, data)]``."""
    if not is_aggregated(data):
        return [(partition_key, data)]
    return [(r.partition_key, r.data) for r in decode(data)]


# --- encoding -------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _encode_varint(value: int) -> bytes:
    """A protobuf varint (cached: lengths and indexes repeat across an aggregate's records)."""
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _encode_varint((number << 3) | wire_type)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _encode_varint(len(payload)) + payload


def aggregate(
    records: Iterable[tuple[str, bytes] | tuple[str, bytes, str | None] | UserRecord],
) -> bytes:
    """Encode user records as one KPL aggregated record (partition and hash keys deduplicated
    into their tables, as the KPL does). Built as one join of byte strings: ~10x faster than
    appending field by field, which mattered at 10,000 records a batch."""
    items: list[UserRecord] = []
    for rec in records:
        if isinstance(rec, UserRecord):
            items.append(rec)
        else:
            items.append(UserRecord(*rec))
    if not items:
        raise ValueError("an aggregate needs at least one record")

    pk_table: dict[str, int] = {}
    ehk_table: dict[str, int] = {}
    pk_tag, ehk_tag = _tag(_REC_PK_INDEX, VARINT), _tag(_REC_EHK_INDEX, VARINT)
    data_tag, record_tag = _tag(_REC_DATA, LEN), _tag(_AGG_RECORDS, LEN)
    parts: list[bytes] = []
    for rec in items:
        body = pk_tag + _encode_varint(pk_table.setdefault(rec.partition_key, len(pk_table)))
        if rec.explicit_hash_key is not None:
            index = ehk_table.setdefault(rec.explicit_hash_key, len(ehk_table))
            body += ehk_tag + _encode_varint(index)
        body += _field(data_tag, bytes(rec.data))
        parts.append(_field(record_tag, body))

    keys_tag, hashes_tag = _tag(_AGG_PARTITION_KEYS, LEN), _tag(_AGG_HASH_KEYS, LEN)
    header = [_field(keys_tag, k.encode("utf-8")) for k in pk_table]  # insertion order: index
    header += [_field(hashes_tag, k.encode("utf-8")) for k in ehk_table]
    payload = b"".join(header + parts)
    return MAGIC + payload + hashlib.md5(payload, usedforsecurity=False).digest()


__all__ = [
    "DIGEST_SIZE",
    "MAGIC",
    "AggregateError",
    "UserRecord",
    "aggregate",
    "deaggregate",
    "decode",
    "is_aggregated",
]
