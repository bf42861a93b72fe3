"""The rules over text values: empty text (`empty_rows`, which is missing, not a value),
`pattern` (`matches`), `max_length` (`long_rows`) and `identifier` (`identifier_rows`, worded
by `identifier_problem`). They are apart because they read the string buffers themselves: the
offsets and bytes go through numpy, and only the few rows whose bytes can fail are looked at
closer, so clean text costs a couple of reductions per column; patterns over low-cardinality
text are matched once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.masks import fixed_values, np_mask, true_rows, valid_rows

_SCAN_BYTES = 1 << 12  # byte scans find odd bytes per 4 KiB block, then look inside those only

# Identifiers: Unicode control characters (Cc), the zero-width characters, and whitespace at
# either end of the value as Python's str.isspace sees it (Unicode White_Space, plus the
# separators U+001C..U+001F). _IDENTIFIER_BAD is the same as a regular expression (RE2).
CONTROL = "".join(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0)]))
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = (
    r"[\t-\r\x1c- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
_IDENTIFIER_BAD = (
    r"[\x00-\x1f\x7f-\x{9f}\x{200b}-\x{200d}\x{2060}\x{feff}]"
    rf"|^{_SPACE_CLASS}|{_SPACE_CLASS}$"
)


def matches(text: pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Rows matching `pattern` (null: False); once per distinct value when values repeat."""
    parts = []
    for chunk in text.chunks:
        sample = chunk.slice(0, 4096)
        if len(chunk) > 8192 and pc.count_distinct(sample).as_py() * 8 < len(sample):
            encoded = pc.dictionary_encode(chunk)
            hits = np_mask(
                pc.fill_null(pc.match_substring_regex(encoded.dictionary, pattern), False)
            )
            indices = fixed_values(encoded.indices, np.int32)
            mask = hits[indices] if len(hits) else np.zeros(len(chunk), bool)
            if chunk.null_count:
                mask &= valid_rows(chunk)
            parts.append(mask)
        else:
            parts.append(true_rows(pc.match_substring_regex(chunk, pattern)))
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


@dataclass
class _Strings:
    """A string chunk's buffers as numpy: offsets relative to the first byte, and the bytes."""

    row: int  # the chunk's first row within the column
    chunk: pa.Array
    offsets: np.ndarray  # int32 or int64 as stored, len(chunk) + 1, from `start`
    start: int  # offsets[0]: data[0] is the byte at that offset
    data: np.ndarray  # uint8


def _strings(text: pa.ChunkedArray) -> Iterator[_Strings]:
    row = 0
    for chunk in text.chunks:
        n = len(chunk)
        if n:
            width = np.int64 if chunk.type == pa.large_string() else np.int32
            _, offsets_buf, data = chunk.buffers()
            offsets = np.frombuffer(
                offsets_buf, width, count=n + 1, offset=chunk.offset * np.dtype(width).itemsize
            )
            start, end = int(offsets[0]), int(offsets[-1])
            raw = (
                np.frombuffer(data, np.uint8, count=end - start, offset=start)
                if data is not None and end > start
                else np.zeros(0, np.uint8)
            )
            yield _Strings(row, chunk, offsets, start, raw)
        row += n


def empty_rows(text: pa.ChunkedArray) -> np.ndarray | None:
    """Rows holding "" (not null), read from the offsets; None when there are none."""
    rows = []
    for part in _strings(text):
        empty = part.offsets[1:] == part.offsets[:-1]
        if part.chunk.null_count and empty.any():
            empty &= valid_rows(part.chunk)
        rows.append(np.flatnonzero(empty) + part.row)
    return _rows_mask(rows, len(text))


def long_rows(text: pa.ChunkedArray, limit: int) -> np.ndarray | None:
    """Rows with more than `limit` characters. Bytes >= characters: only values with more
    bytes than the limit are counted in characters."""
    rows = []
    for part in _strings(text):
        offsets = part.offsets
        if int(offsets[-1]) - int(offsets[0]) <= limit:
            continue  # not even all bytes together are too many
        over = np.flatnonzero(np.subtract(offsets[1:], offsets[:-1]) > limit)
        if len(over):
            chars = pc.utf8_length(part.chunk.take(pa.array(over)))
            rows.append(over[true_rows(pc.greater(chars, limit))] + part.row)
    return _rows_mask(rows, len(text))


def identifier_rows(text: pa.ChunkedArray) -> np.ndarray | None:
    """Rows holding a control or zero-width character or whitespace at either end.

    Only rows with a byte outside printable ASCII, or a space at an end, can fail: the bytes
    are scanned through numpy (per 4 KiB block first, so clean data costs two reductions), and
    those few rows are checked exactly with one regular expression.
    """
    rows = []
    for part in _strings(text):
        candidates = _odd_rows(part)
        if len(candidates):
            values = part.chunk.take(pa.array(candidates))
            bad = true_rows(pc.match_substring_regex(values, _IDENTIFIER_BAD))
            rows.append(candidates[bad] + part.row)
    return _rows_mask(rows, len(text))


def _odd_rows(part: _Strings) -> np.ndarray:
    """Rows of the chunk with a byte below 0x20 or above 0x7E, or a space first or last."""
    data = part.data
    if not len(data):
        return np.zeros(0, np.int64)
    # positions of bytes that are not printable ASCII other than space, or are a space
    full = len(data) // _SCAN_BYTES * _SCAN_BYTES
    blocks = data[:full].reshape(-1, _SCAN_BYTES)
    odd_blocks = np.flatnonzero((blocks.min(axis=1) <= 0x20) | (blocks.max(axis=1) >= 0x7F))
    positions = []
    if len(odd_blocks):
        inside = blocks[odd_blocks]
        hit = np.flatnonzero((inside <= 0x20) | (inside >= 0x7F))
        positions.append(odd_blocks[hit // _SCAN_BYTES] * _SCAN_BYTES + hit % _SCAN_BYTES)
    tail = data[full:]
    positions.append(np.flatnonzero((tail <= 0x20) | (tail >= 0x7F)) + full)
    where = np.concatenate(positions)
    if not len(where):
        return np.zeros(0, np.int64)
    where += part.start  # as offsets count
    ends = part.offsets[1:]
    rows = np.searchsorted(ends, where, side="right")
    # a space only matters at an end of its value
    space = data[where - part.start] == 0x20
    edge = (where == part.offsets[rows]) | (where == ends[rows] - 1)
    return np.unique(rows[~space | edge])


def identifier_reasons(name: str, text: pa.ChunkedArray) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        return [identifier_problem(name, v) for v in text.take(pa.array(rows)).to_pylist()]

    return describe


def identifier_problem(name: str, value: str) -> str:
    """Why `value` is not an identifier: each kind of problem, the first character of each."""
    problems = []
    control = next((c for c in value if c in CONTROL), None)
    if control is not None:
        problems.append(f"contains the control character U+{ord(control):04X}")
    zero_width = next((c for c in value if c in ZERO_WIDTH), None)
    if zero_width is not None:
        problems.append(f"contains the zero-width character U+{ord(zero_width):04X}")
    if value[:1] in WHITESPACE or value[-1:] in WHITESPACE:
        problems.append("has leading or trailing whitespace")
    return f"{name} {' and '.join(problems)}"


def _rows_mask(rows: list[np.ndarray], n: int) -> np.ndarray | None:
    found = [r for r in rows if len(r)]
    if not found:
        return None
    mask = np.zeros(n, dtype=bool)
    for r in found:
        mask[r] = True
    return mask
