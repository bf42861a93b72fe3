"""Uniqueness of a contract's key within a batch, and against keys an earlier batch brought.

Positional: the first row with a key wins, later rows fail `duplicate_key` whatever else is wrong
with either. Keys are hashed once (fixed-width strings straight from Arrow's buffers), sorted,
and only colliding rows are compared as Python strings, so the check is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.masks import Failure, np_mask, valid_rows

SeenKeys = Callable[[pa.Array], Any]
Repeats = tuple[np.ndarray | None, dict[int, int]]


def within_batch(keys: pa.ChunkedArray, present: np.ndarray | None = None) -> Repeats:
    """Rows whose key an earlier row of the batch has (or None), and the row each repeats.

    Independent of every other rule, so it can run alongside the column checks."""
    if present is None:
        n = len(keys)
        present = valid_rows(keys) if keys.null_count else np.ones(n, dtype=bool)
    return _repeats(keys, present)


def duplicates(
    name: str,
    keys: pa.ChunkedArray,
    failures: list[Failure],
    n: int,
    seen_keys: SeenKeys | None,
    repeats: Repeats | None = None,
) -> list[Failure]:
    present = valid_rows(keys) if keys.null_count else np.ones(n, dtype=bool)
    dup, first_row = _repeats(keys, present) if repeats is None else repeats
    out: list[Failure] = []
    if dup is not None:

        def within(rows: np.ndarray) -> list[str]:
            vals = keys.take(pa.array(rows)).to_pylist()
            return [
                f"{name}={v!r} repeats row {first_row[int(r)]} of this batch"
                for r, v in zip(rows, vals, strict=True)
            ]

        out.append(Failure("duplicate_key", dup, within))
    if seen_keys is not None:
        ask = present.copy()
        for f in [*failures, *out]:
            ask &= ~f.mask
        rows = np.flatnonzero(ask)
        if len(rows):
            answer = seen_keys(keys.take(pa.array(rows)).combine_chunks())
            if isinstance(answer, pa.Array | pa.ChunkedArray):
                answer = pc.fill_null(answer, False).to_numpy(zero_copy_only=False)
            seen = np.asarray(answer, dtype=bool)
            if len(seen) != len(rows):
                raise ValueError(f"seen_keys returned {len(seen)} flags for {len(rows)} keys")
            earlier = np.zeros(n, dtype=bool)
            earlier[rows[seen]] = True
            if earlier.any():

                def before(rows: np.ndarray) -> list[str]:
                    vals = keys.take(pa.array(rows)).to_pylist()
                    return [f"{name}={v!r} was already ingested in an earlier batch" for v in vals]

                if dup is None:
                    out.append(Failure("duplicate_key", earlier, before))
                else:  # one rule id, two stories: merge the masks, keep both explanations
                    both = dup | earlier
                    first = out.pop()

                    def either(rows: np.ndarray) -> list[str]:
                        a = rows[dup[rows]]
                        b = rows[~dup[rows]]
                        text = dict(zip(a.tolist(), first.describe(a), strict=True))
                        text.update(zip(b.tolist(), before(b), strict=True))
                        return [text[int(r)] for r in rows]

                    out.append(Failure("duplicate_key", both, either))
    return out


def _repeats(
    keys: pa.ChunkedArray, present: np.ndarray
) -> tuple[np.ndarray | None, dict[int, int]]:
    """Rows whose key appeared in an earlier row, and for each the row it repeats."""
    hashes = _hash(keys)
    if hashes is None:  # too irregular to hash cheaply: let Arrow's hash table do it
        return _repeats_arrow(keys, present)
    sorted_hashes = np.sort(hashes if present.all() else hashes[present])
    same = sorted_hashes[1:] == sorted_hashes[:-1]
    if not same.any():
        return None, {}
    colliding = np.unique(sorted_hashes[1:][same])
    # rows whose hash collides: a 64 Ki-entry table of 16 bits of the colliding hashes narrows
    # them down (one gather), an exact look-up confirms the few left
    table = np.zeros(1 << 16, dtype=bool)
    table[colliding.view(np.uint16)[::4]] = True
    maybe = np.flatnonzero(table[hashes.view(np.uint16)[::4]] & present)
    candidates = maybe[np.isin(hashes[maybe], colliding)]
    return _exact(keys, candidates, len(present))


def _repeats_arrow(
    keys: pa.ChunkedArray, present: np.ndarray
) -> tuple[np.ndarray | None, dict[int, int]]:
    codes = np_mask(pc.fill_null(pc.dictionary_encode(keys.combine_chunks()).indices, -1))
    # codes number keys in order of first appearance: a repeat is a code not above the running max
    running = np.maximum.accumulate(np.where(present, codes, -1))
    previous = np.concatenate([[-1], running[:-1]])
    repeats = present & (codes <= previous)
    if not repeats.any():
        return None, {}
    candidates = np.flatnonzero(present & np.isin(codes, codes[repeats]))
    return _exact(keys, candidates, len(present))


def _exact(
    keys: pa.ChunkedArray, candidates: np.ndarray, n: int
) -> tuple[np.ndarray | None, dict[int, int]]:
    first: dict[Any, int] = {}
    first_row: dict[int, int] = {}
    dup = np.zeros(n, dtype=bool)
    for row, value in zip(
        candidates.tolist(), keys.take(pa.array(candidates)).to_pylist(), strict=True
    ):
        if value in first:
            dup[row] = True
            first_row[row] = first[value]
        else:
            first[value] = row
    return (dup if dup.any() else None), first_row


_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)


def _hash(keys: pa.ChunkedArray) -> np.ndarray | None:
    """64-bit hash per row, vectorised; None when the strings are too irregular in length."""
    if pa.types.is_integer(keys.type):
        return np_mask(pc.fill_null(keys.cast(pa.int64()), 0)).view(np.uint64)
    parts = []
    for chunk in keys.chunks:
        h = _hash_text(chunk)
        if h is None:
            return None
        parts.append(h)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def _hash_text(chunk: pa.Array) -> np.ndarray | None:
    n = len(chunk)
    if n == 0:
        return np.zeros(0, np.uint64)
    width = np.int64 if chunk.type == pa.large_string() else np.int32
    _, offsets_buf, data = chunk.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=width, count=n + 1, offset=chunk.offset * np.dtype(width).itemsize
    ).astype(np.int64)
    lengths = np.diff(offsets)
    if data is None or lengths.max() == 0:
        return np.zeros(n, np.uint64)
    if lengths.min() == lengths.max():
        return _hash_fixed(data, int(offsets[0]), int(lengths[0]), n)
    counts = np.bincount(lengths)
    sizes = np.flatnonzero(counts)
    if len(sizes) > 32:
        return None
    out = np.zeros(n, np.uint64)
    for size in sizes.tolist():
        rows = np.flatnonzero(lengths == size)
        if size == 0:
            continue
        part = chunk.take(pa.array(rows))  # fresh, contiguous, one width
        _, part_offsets, part_data = part.buffers()
        start = int(np.frombuffer(part_offsets, dtype=width, count=1)[0])
        out[rows] = _hash_fixed(part_data, start, size, len(rows))
    return out


def _hash_fixed(data: pa.Buffer, start: int, size: int, n: int) -> np.ndarray:
    """Hash n strings of `size` bytes laid end to end, reading 8-byte words through strides."""
    out = np.empty(n, dtype=np.uint64)
    step = _HASH_ROWS
    for first in range(0, n, step):  # a block at a time: its words stay in cache
        rows = min(step, n - first)
        out[first : first + rows] = _hash_block(data, start + first * size, size, rows)
    return out


_HASH_ROWS = 1 << 15


def _hash_block(data: pa.Buffer, start: int, size: int, n: int) -> np.ndarray:
    h = np.full(n, (size * int(_MIX2)) & 0xFFFF_FFFF_FFFF_FFFF, dtype=np.uint64)
    if size < 8:
        padded = np.zeros((n, 8), np.uint8)
        padded[:, :size] = np.frombuffer(data, np.uint8, count=n * size, offset=start).reshape(
            n, size
        )
        words = [padded.view("<u8").ravel()]
    else:
        starts = list(range(0, size - 7, 8))
        if starts[-1] != size - 8:
            starts.append(size - 8)  # the last word overlaps the one before: no padding copy
        words = [
            np.ndarray((n,), "<u8", buffer=data, offset=start + k, strides=(size,)) for k in starts
        ]
    shifted = np.empty_like(h)
    for word in words:
        np.bitwise_xor(h, word, out=h)
        np.multiply(h, _MIX, out=h)
        np.right_shift(h, np.uint64(29), out=shifted)
        np.bitwise_xor(h, shifted, out=h)
    np.multiply(h, _MIX2, out=h)
    np.right_shift(h, np.uint64(32), out=shifted)
    np.bitwise_xor(h, shifted, out=h)
    return h
