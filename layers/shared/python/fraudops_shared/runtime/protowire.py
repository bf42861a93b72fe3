"""Reading the protobuf wire format, in pure Python: varints and the fields of a message.

Two readers of protobuf bytes run where no protobuf library is installed: KPL aggregates in the
stream functions (`ingestion.kpl`) and ONNX models in the scorer (`scoring.onnx_params`). They
walk messages the same way, so the walking is here, once; what the fields mean stays with each.
Errors are `WireError`, which each reader turns into its own (``AggregateError``,
``ModelFormatError``) at its entry point. Stdlib only: the scoring function imports it too.
"""

from __future__ import annotations

from collections.abc import Iterator

# wire types
VARINT, I64, LEN, I32 = 0, 1, 2, 5
MAX_VARINT_BYTES = 10
UINT64 = (1 << 64) - 1

Span = tuple[int, int]  # (start, end) of a field's bytes within the buffer


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message (truncated, a bad key or wire type)."""


def varint(buf: bytes, pos: int, end: int, wrap64: bool = True) -> tuple[int, int]:
    """(value, next position) of the unsigned varint at ``pos``, at most 10 bytes. The value
    keeps its low 64 bits, as protobuf reads a uint64; with ``wrap64=False`` the bits past 64
    that a malformed tenth byte carries are kept (`ingestion.kpl`: an index that large is
    outside its table, not wrapped into it)."""
    result = shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise WireError(f"truncated varint at byte {pos}")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result & UINT64 if wrap64 else result), pos + i + 1
        shift += 7
    raise WireError(f"varint longer than {MAX_VARINT_BYTES} bytes at byte {pos}")


def field(buf: bytes, pos: int, end: int, wrap64: bool = True) -> tuple[int, int, int | Span, int]:
    """(field number, wire type, value, next position) of the field at ``pos``: the value is an
    int for a varint, the (start, end) of its bytes for the other wire types (length-delimited,
    fixed 64 and 32 bits). Groups (wire types 3 and 4) are refused."""
    key, pos = varint(buf, pos, end, wrap64)
    number, wire = key >> 3, key & 0x7
    if number == 0:
        raise WireError(f"field number 0 at byte {pos}")
    if wire == VARINT:
        value, pos = varint(buf, pos, end, wrap64)
        return number, wire, value, pos
    if wire == LEN:
        size, pos = varint(buf, pos, end, wrap64)
    elif wire in (I64, I32):
        size = 8 if wire == I64 else 4
    else:
        raise WireError(f"field {number}: unsupported wire type {wire}")
    if pos + size > end:
        raise WireError(f"field {number}: {size} bytes announced, {end - pos} left (truncated)")
    return number, wire, (pos, pos + size), pos + size


def fields(
    buf: bytes, start: int, end: int, wrap64: bool = True
) -> Iterator[tuple[int, int, int | Span]]:
    """(field number, wire type, value) of each field of the message in ``buf[start:end]``, as
    `field` reads them."""
    pos = start
    while pos < end:
        number, wire, value, pos = field(buf, pos, end, wrap64)
        yield number, wire, value
