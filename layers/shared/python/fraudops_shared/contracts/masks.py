"""What every rule of a contract is made of: a `Failure` (a boolean mask over the batch, one
entry per row, and a function that words the reason of any failing row) and the row masks it is
built from, read straight from Arrow's bitmaps and buffers into numpy. The parsing
(`contracts.casts`), the text checks (`contracts.text_checks`), the time rules
(`contracts.timing`), the per-column rules (`contracts.rules`) and uniqueness all speak it;
it lives apart so that none of them has to import another only for these few helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TEXT_TYPES = (pa.string(), pa.large_string())


@dataclass
class Failure:
    rule: str
    mask: np.ndarray  # bool, one per row, True = this row fails the rule
    describe: Callable[[np.ndarray], list[str]]  # reasons for the failing row numbers given


def null_where(
    values: pa.Array | pa.ChunkedArray, mask: pa.Array | pa.ChunkedArray
) -> pa.Array | pa.ChunkedArray:
    """`values` with nulls where `mask` is true: a new validity bitmap over the same offsets
    and bytes (if_else would copy every string)."""
    if isinstance(values, pa.ChunkedArray):
        if isinstance(mask, pa.ChunkedArray):
            mask = mask.combine_chunks()
        parts, start = [], 0
        for chunk in values.chunks:
            parts.append(null_where(chunk, mask.slice(start, len(chunk))))
            start += len(chunk)
        return pa.chunked_array(parts, values.type)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if mask.null_count:
        mask = pc.and_kleene(mask, pc.is_valid(mask))  # null -> False (fill_null is slower)
    keep = pc.and_not(pc.is_valid(values), mask)
    if values.type not in TEXT_TYPES or keep.offset or keep.null_count:
        return pc.if_else(pc.invert(keep), pa.scalar(None, values.type), values)
    width = 8 if values.type == pa.large_string() else 4
    _, offsets, data = values.buffers()
    if data is None:
        return pc.if_else(pc.invert(keep), pa.scalar(None, values.type), values)
    return pa.Array.from_buffers(
        values.type,
        len(values),
        [keep.buffers()[1], offsets.slice(values.offset * width), data],
    )


def fixed_values(chunk: pa.Array, dtype: Any) -> np.ndarray:
    """The value buffer of a fixed-width chunk as numpy, zero-copy (null slots hold anything)."""
    size = np.dtype(dtype).itemsize
    buffer = chunk.buffers()[1]
    if buffer is None or len(chunk) == 0:
        return np.zeros(len(chunk), dtype)
    return np.frombuffer(buffer, dtype, count=len(chunk), offset=chunk.offset * size)


@lru_cache(maxsize=4)
def everywhere(n: int) -> np.ndarray:
    """An all-True mask of n rows, shared (read-only): most columns have no missing values."""
    mask = np.ones(n, dtype=bool)
    mask.flags.writeable = False
    return mask


def true_rows(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean array as a numpy mask, null as False, read from its bitmaps (no fill_null)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts = []
    for chunk in chunks:
        validity, values = chunk.buffers()[:2]
        bits = _bits(values, chunk.offset, len(chunk))
        if validity is not None and chunk.null_count:
            bits &= _bits(validity, chunk.offset, len(chunk))
        parts.append(bits)
    return _joined(parts)


def valid_rows(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows holding a value (not null), from the validity bitmaps."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts = []
    for chunk in chunks:
        validity = chunk.buffers()[0]
        if not chunk.null_count:
            parts.append(np.ones(len(chunk), dtype=bool))
        elif validity is None:  # the null type has no bitmap: nothing is there
            parts.append(np.zeros(len(chunk), dtype=bool))
        else:
            parts.append(_bits(validity, chunk.offset, len(chunk)))
    return _joined(parts)


def _bits(buffer: pa.Buffer | None, offset: int, n: int) -> np.ndarray:
    """n bits of an Arrow bitmap from bit `offset`, as a fresh numpy bool array."""
    if buffer is None or n == 0:
        return np.zeros(n, dtype=bool)
    skip = offset % 8
    raw = np.frombuffer(buffer, np.uint8, count=(skip + n + 7) // 8, offset=offset // 8)
    bits = np.unpackbits(raw, bitorder="little")
    return (bits[skip : skip + n] if skip or len(bits) != n else bits).view(bool)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def np_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:

    return arr.to_numpy(zero_copy_only=False)
