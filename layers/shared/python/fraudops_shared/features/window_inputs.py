"""The integers both window paths compute from, the same offline and online: amounts in whole
cents (`cents`), values as indexes among the distinct ones (`codes`), and the fixed 64-bit hash of
a text (`hash64`) that transaction ids (`id_hashes`) and first_seen values (`value_hashes`) are
compared by. It is apart because states and datasets hold these numbers: they must never drift
between the offline computation (`features.windows`) and the online one (`features.online`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from fraudops_shared.features.values import number, numbers, string, strings

MAX_CENTS = 2**31 - 1  # amounts are clipped to this many cents (int32 state, exact sums)
NO_TIME = np.iinfo(np.int64).min  # "no such time" in states

_SEED = np.uint64(0x6672617564)  # "fraud"
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
_K3 = np.uint64(0x94D049BB133111EB)


def cents(values: Any) -> np.ndarray:
    """Amounts in whole cents, int64, clipped to [0, MAX_CENTS]; null is 0."""
    x = numbers(values)
    x = np.where(np.isfinite(x), x, 0.0)
    return np.rint(np.clip(x, 0.0, MAX_CENTS / 100.0) * 100.0).astype(np.int64)


def codes(values: Any) -> tuple[np.ndarray, list[str]]:
    """(index of each value among the distinct ones, -1 for null; the distinct values)."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    fast = _arrow_codes(arr)
    if fast is not None:
        return fast
    seen: dict[str, int] = {}
    out = np.fromiter(
        (-1 if s is None else seen.setdefault(s, len(seen)) for s in strings(arr)),
        dtype=np.int64,
        count=len(arr),
    )
    return out, list(seen)


def _arrow_codes(arr: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """pyarrow's dictionary encoding when it is installed (training; ~20x faster than a dict
    per row); the scoring function has no pyarrow and takes the numpy path, same result."""
    if len(arr) < 10_000:
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - the scoring Lambda
        return None
    try:
        encoded = pc.dictionary_encode(pa.array(arr, type=pa.string(), from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # values that are not text: the generic path turns them into text
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    uniques = encoded.dictionary.to_pylist()
    out = encoded.indices.to_numpy(zero_copy_only=False)
    out = np.where(np.isnan(out), -1, out).astype(np.int64) if out.dtype.kind == "f" else out
    out = out.astype(np.int64)
    if "" in uniques:  # empty text is null, as everywhere in the features
        out[out == uniques.index("")] = -1
    return out, uniques


def hash64(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each text's UTF-8 bytes, vectorised over the texts: the length, then
    8-byte little-endian words (zero-padded) each xored in and mixed by a multiply-xorshift,
    then the splitmix64 finaliser. Fixed here forever (states and datasets hold its values)."""
    encoded = [t.encode() for t in texts]
    n = len(encoded)
    if not n:
        return np.zeros(0, np.uint64)
    lengths = np.fromiter(map(len, encoded), np.int64, n)
    words = (lengths + 7) // 8
    width = max(1, int(words.max()))
    mat = np.frombuffer(b"".join(b.ljust(width * 8, b"\0") for b in encoded), "<u8")
    order = np.argsort(-words, kind="stable")  # longest first: word j is live in a prefix
    mat = mat.reshape(n, width)[order]
    live = n - np.searchsorted(words[order][::-1], np.arange(width), side="right")
    h = (lengths[order].astype(np.uint64) * _K1) ^ _SEED
    for j in range(width):
        c = int(live[j])
        x = (h[:c] ^ mat[:c, j]) * _K2
        h[:c] = x ^ (x >> np.uint64(29))
    h ^= h >> np.uint64(30)
    h *= _K2
    h ^= h >> np.uint64(27)
    h *= _K3
    h ^= h >> np.uint64(31)
    out = np.empty(n, np.uint64)
    out[order] = h
    return out


def id_hashes(values: Any) -> np.ndarray:
    """uint64 per value (transaction ids: what a state remembers to ignore a repeat); 0 for
    null (never a repeat)."""
    idx, uniques = codes(values)
    h = hash64(uniques)
    h = np.where(h == 0, np.uint64(1), h)
    return np.where(idx >= 0, h[np.maximum(idx, 0)] if len(h) else 0, 0).astype(np.uint64)


def value_hashes(values: Any) -> np.ndarray:
    """uint32 per value (merchant, country, device: what first_seen compares); 0 for null."""
    idx, uniques = codes(values)
    h = hash64(uniques)
    folded = ((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))).astype(np.uint32)
    folded = np.where(folded == 0, np.uint32(1), folded)
    return np.where(idx >= 0, folded[np.maximum(idx, 0)] if len(folded) else 0, 0).astype(np.uint32)


# --- one value (the API's one transaction): `f([v])[0]` of the functions above, in plain Python;
# values of other types raise `values.Unusual` (the caller takes the array path) ---------------

_MASK = 2**64 - 1
_WORDS = struct.Struct("<Q")


def cent(v: Any) -> int:
    """`cents([v])[0]`."""
    x = number(v)
    x = x if np.isfinite(x) else 0.0
    return round(min(max(x, 0.0), MAX_CENTS / 100.0) * 100.0)


def hash64_one(text: str) -> int:
    """`hash64([text])[0]`: the same words, multiplies and shifts on Python ints mod 2^64."""
    data = text.encode()
    h = ((len(data) * int(_K1)) & _MASK) ^ int(_SEED)
    k2 = int(_K2)
    for (word,) in _WORDS.iter_unpack(data.ljust(-(-len(data) // 8) * 8, b"\0")):
        x = ((h ^ word) * k2) & _MASK
        h = x ^ (x >> 29)
    h ^= h >> 30
    h = (h * k2) & _MASK
    h ^= h >> 27
    h = (h * int(_K3)) & _MASK
    return h ^ (h >> 31)


def id_hash(v: Any) -> int:
    """`id_hashes([v])[0]`."""
    text = string(v)
    return 0 if text is None else (hash64_one(text) or 1)


def value_hash(v: Any) -> int:
    """`value_hashes([v])[0]`."""
    text = string(v)
    if text is None:
        return 0
    h = hash64_one(text)
    return ((h >> 32) ^ (h & 0xFFFFFFFF)) or 1
