"""The dedupe index: each transaction key curated once, whatever the route (files, re-uploads,
the stream), at the cost of a few calls per batch instead of one per row.

Layout (kept by a ``KeyIndexStore``; the DynamoDB one is ``aws.dynamodb.DynamoKeyIndex``):

* keys are bucketed by their event day and stored as sorted 64-bit hashes in *pages*, one page
  per (commit, day, part), each naming the commit that wrote it;
* a page counts only once its commit is committed (the commit record exists): pages are written
  before the commit, so a batch that fails after writing them leaves pages no reader trusts, and
  its re-send is curated (claims never outlive a failed batch);
* every commit bumps a version *head* per event day it touches, conditioned on the version it
  read: two writers that could both have seen a key as new cannot both commit (the second one's
  transaction fails, it reads the new pages and checks again). Heads are per day, so the stream
  (today's data) and a backfill (older days) never wait on each other; one commit holds at most
  ``MAX_DAYS_PER_COMMIT`` heads (DynamoDB's 100 items per transaction, with room for the rest);
* a hit is confirmed exactly: the first copy's commit names its curated output, whose key column
  is read back (a 64-bit hash collision is then told apart from a duplicate), and the later copy
  is quarantined as ``duplicate_key`` naming where the first came from;
* pages and heads expire (TTL) after the contract's maximum event age plus a margin: a record
  older than that is rejected by freshness anyway, so state stays bounded and no accepted
  duplicate escapes the index.

Policy for a corrected re-upload of the same key: rejected. The first copy stands; a later copy
with the same key is quarantined (its reason says whether it is identical or which columns
differ), whatever route it came by. A correction is a new transaction (or, for labels, the
labels path), never an in-place rewrite of curated data.

The hash is this module's own and fixed forever (pages written today are read in years): words
of 8 bytes of the key's UTF-8, zero-padded, mixed with two 64-bit odd constants. It is computed
vectorised over a batch (one numpy pass per distinct key length).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PAGE_MAX_KEYS = 30_000  # 240 KB of hashes: well inside DynamoDB's 400 KB item limit
MAX_DAYS_PER_COMMIT = 90  # heads of one transaction (100 items: the rest is the commit's own)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


# --- the hash -----------------------------------------------------------------------------------


def key_hashes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Stable 64-bit hashes of text keys (null keys hash to 0; callers never pass nulls)."""
    arr = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    n = len(arr)
    out = np.zeros(n, np.uint64)
    if n == 0:
        return out
    lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    for size in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == size)
        part = arr.take(pa.array(rows)) if len(rows) != n else arr
        out[rows] = _hash_width(part, int(size))
    return out


def _hash_width(part: pa.Array, size: int) -> np.ndarray:
    """Hashes of strings that all have ``size`` bytes."""
    n = len(part)
    h = np.full(n, size, np.uint64) * _M2
    if size:
        data = pc.fill_null(part, "").cast(pa.binary()).to_numpy(zero_copy_only=False)
        width = (size + 7) // 8 * 8
        buf = np.zeros((n, width), np.uint8)
        buf[:, :size] = np.frombuffer(b"".join(data), np.uint8).reshape(n, size)
        for word in buf.view("<u8").T:
            h ^= word
            h *= _M1
            h ^= h >> np.uint64(29)
    h *= _M2
    h ^= h >> np.uint64(32)
    return h


def hash_of(key: str) -> int:
    """One key's hash (the same number ``key_hashes`` gives)."""
    return int(key_hashes(pa.array([key], pa.string()))[0])


# --- the store port -----------------------------------------------------------------------------

# Pages are read incrementally by the time they were written; a page can be written long before
# its commit (a file takes up to the function's 15 minutes), so reads look back this far and skip
# the pages they already have.
LOOKBACK_MS = 20 * 60 * 1000


@dataclass(frozen=True)
class Page:
    """Sorted hashes of one commit's keys of one event day."""

    day: str
    commit_id: str
    part: int
    hashes: np.ndarray  # uint64, sorted
    written_at: int = 0  # epoch ms, orders pages for incremental reads

    @property
    def page_id(self) -> str:
        return f"{self.written_at:013d}#{self.commit_id}#{self.part:03d}"


@dataclass(frozen=True)
class CommitRef:
    """What a committed commit tells a reader of its pages: where its curated rows are."""

    commit_id: str
    manifest_key: str
    source: str  # "s3" or "kinesis"
    curated: tuple[str, ...] = ()


class KeyIndexStore(Protocol):
    def heads(self, contract: str, days: Sequence[str]) -> dict[str, int]:
        """Each day's head version (0: no commit touched it yet)."""

    def pages(self, contract: str, day: str, since_ms: int) -> list[Page]:
        """The pages of ``day`` written at or after ``since_ms``."""

    def put_pages(self, contract: str, pages: Sequence[Page], expires_at: int) -> None:
        """Write pages (before the commit that makes them count)."""

    def commits(self, commit_ids: Sequence[str]) -> dict[str, CommitRef]:
        """The ones of ``commit_ids`` that are committed."""


class CuratedReader(Protocol):
    def read_curated(self, key: str) -> pa.Table:
        """A curated Parquet object of the lake."""


# --- the index ----------------------------------------------------------------------------------


@dataclass
class _Day:
    """What a reader knows of one day: trusted hashes (sorted) and their commits."""

    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    commits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    read_once: bool = False
    watermark: int = 0  # the newest page's written_at seen
    seen: set[str] = field(default_factory=set)  # page ids already taken in
    pending: list[Page] = field(default_factory=list)  # pages whose commit is not known yet

    def add(self, hashes: np.ndarray, slot: int) -> None:
        self.hashes = np.concatenate([self.hashes, hashes])
        self.commits = np.concatenate([self.commits, np.full(len(hashes), slot, np.int32)])
        order = np.argsort(self.hashes, kind="stable")
        self.hashes, self.commits = self.hashes[order], self.commits[order]


@dataclass(frozen=True)
class Hit:
    """A key already curated by another commit, confirmed exactly."""

    key: str
    commit: CommitRef
    first: dict[str, Any] | None  # the first copy's curated row


class DedupeIndex:
    """One contract's index as seen by one process. Warm processes keep what they read (the
    index only grows), so a batch reads only the pages written since; a day whose head has not
    moved since is not read at all."""

    def __init__(self, store: KeyIndexStore, contract: str, key_column: str) -> None:
        self.store, self.contract, self.key_column = store, contract, key_column
        self.days: dict[str, _Day] = {}
        self.refs: list[CommitRef] = []
        self.slots: dict[str, int] = {}
        self.known_heads: dict[str, int] = {}
        self._curated: dict[str, dict[str, dict[str, Any]]] = {}

    def read(self, days: Iterable[str]) -> dict[str, int]:
        """Bring the given days up to date; return their heads as read: the versions a commit of
        these days must still find (``lake.commits.CommitConflict`` otherwise)."""
        wanted = sorted(set(days))
        heads = self.store.heads(self.contract, wanted) if wanted else {}
        for day in wanted:
            state = self.days.setdefault(day, _Day())
            moved = heads.get(day, 0) != self.known_heads.get(day, -1)
            if state.read_once and not moved and not state.pending:
                continue  # nobody committed keys of this day since we read it
            if heads.get(day, 0) == 0 and not state.read_once:
                # no commit ever held keys of this day: any page there is of an uncommitted
                # attempt, untrusted anyway (and a commit since fails our conditional commit)
                state.read_once = True
                continue
            since = max(0, state.watermark - LOOKBACK_MS) if state.read_once else 0
            for page in self.store.pages(self.contract, day, since):
                if page.page_id not in state.seen:
                    state.seen.add(page.page_id)
                    state.pending.append(page)
                    state.watermark = max(state.watermark, page.written_at)
            state.seen = {p for p in state.seen if int(p[:13]) >= state.watermark - LOOKBACK_MS}
            state.read_once = True
        self._trust_committed()
        # a day without a head is known too (version 0): not read again until one appears
        self.known_heads.update({day: heads.get(day, 0) for day in wanted})
        return heads

    def _trust_committed(self) -> None:
        unknown = sorted({p.commit_id for d in self.days.values() for p in d.pending})
        found = self.store.commits(unknown) if unknown else {}
        for state in self.days.values():
            still = []
            for page in state.pending:
                ref = found.get(page.commit_id)
                if ref is None:
                    still.append(page)  # not (yet) committed: not trusted
                else:
                    state.add(page.hashes, self._slot(ref))
            state.pending = still

    def _slot(self, ref: CommitRef) -> int:
        if ref.commit_id not in self.slots:
            self.slots[ref.commit_id] = len(self.refs)
            self.refs.append(ref)
        return self.slots[ref.commit_id]

    def candidates(self, day: str, hashes: np.ndarray) -> tuple[np.ndarray, list[list[CommitRef]]]:
        """(mask of the hashes already trusted for ``day``, every commit that holds each hit:
        a hash can be in several pages, a collision or a stale page of a retried commit)."""
        state = self.days.get(day)
        if state is None or not len(state.hashes) or not len(hashes):
            return np.zeros(len(hashes), bool), []
        left = np.searchsorted(state.hashes, hashes, side="left")
        right = np.searchsorted(state.hashes, hashes, side="right")
        hit = right > left
        refs = [
            [self.refs[int(c)] for c in dict.fromkeys(state.commits[lo:hi].tolist())]
            for lo, hi in zip(left[hit].tolist(), right[hit].tolist(), strict=True)
        ]
        return hit, refs

    def confirm(
        self, keys: Sequence[str], refs: Sequence[Sequence[CommitRef]], reader: CuratedReader
    ) -> list[Hit | None]:
        """Exact confirmation of hash hits: the first copy must be in one of the commits'
        curated output (a 64-bit collision with another key is not a duplicate)."""
        out: list[Hit | None] = []
        for key, candidates in zip(keys, refs, strict=True):
            found = None
            for ref in candidates:
                first = self._curated_rows(ref, reader).get(key)
                if first is not None:
                    found = Hit(key, ref, first)
                    break
            out.append(found)
        return out

    def _curated_rows(self, ref: CommitRef, reader: CuratedReader) -> dict[str, dict[str, Any]]:
        if ref.commit_id not in self._curated:
            rows: dict[str, dict[str, Any]] = {}
            for key in ref.curated:
                for row in reader.read_curated(key).to_pylist():
                    rows.setdefault(str(row.get(self.key_column)), row)
            self._curated[ref.commit_id] = rows
        return self._curated[ref.commit_id]

    def learn(self, ref: CommitRef, pages: Sequence[Page], heads: Mapping[str, int]) -> None:
        """Our own pages, once our commit went through: trusted without reading them back, and
        the heads we moved known, so the next batch does not read our own commit again."""
        slot = self._slot(ref)
        for page in pages:
            state = self.days.setdefault(page.day, _Day())
            state.add(page.hashes, slot)
            state.seen.add(page.page_id)
        self.known_heads.update(heads)

    def forget_heads(self) -> None:
        """After a commit conflict: every day is read again."""
        self.known_heads.clear()


def pages_for(
    commit_id: str, hashes_by_day: Mapping[str, np.ndarray], written_at: int
) -> list[Page]:
    """The pages a commit writes: per day, sorted hashes in parts of at most PAGE_MAX_KEYS."""
    pages = []
    for day, hashes in sorted(hashes_by_day.items()):
        ordered = np.sort(np.asarray(hashes, np.uint64))
        for part, start in enumerate(range(0, len(ordered), PAGE_MAX_KEYS)):
            pages.append(
                Page(day, commit_id, part, ordered[start : start + PAGE_MAX_KEYS], written_at)
            )
    return pages


def ttl_seconds(contract: Any) -> int:
    """How long the index remembers a key of ``contract``: as long as its freshness rule
    accepts the event (``max_age_days``), plus a margin; older copies are rejected anyway."""
    from fraudops_shared.runtime.settings import INDEX_TTL_DEFAULT_DAYS, INDEX_TTL_MARGIN_DAYS

    days = float(getattr(contract, "max_age_days", None) or INDEX_TTL_DEFAULT_DAYS)
    return int((days + INDEX_TTL_MARGIN_DAYS) * 86_400)


def bumped(heads: Mapping[str, int], days: Iterable[str]) -> dict[str, int]:
    """The head versions after a commit of ``days``: each one further."""
    return {d: heads.get(d, 0) + 1 for d in sorted(set(days))}


# --- checking a validated table ----------------------------------------------------------------


@dataclass
class TableCheck:
    """A validated table checked against the index: which rows repeat a curated key, why, and
    the hashes of the rest by day (the pages their commit writes)."""

    duplicate: np.ndarray
    reasons: dict[int, str]
    hashes: np.ndarray
    day_names: list[str]  # the table's distinct days
    day_codes: np.ndarray  # each row's day, as an index into day_names

    @property
    def days(self) -> list[str]:
        """Each row's day."""
        return [self.day_names[c] for c in self.day_codes.tolist()]

    def kept_by_day(self) -> dict[str, np.ndarray]:
        """The hashes of the rows that are not duplicates, by day (in row order)."""
        keep = ~self.duplicate
        hashes, codes = self.hashes[keep], self.day_codes[keep]
        return {self.day_names[c]: hashes[codes == c] for c in np.unique(codes).tolist()}


def day_codes(table: pa.Table, day_column: str | None) -> tuple[list[str], np.ndarray]:
    """The index bucket of each row (its event date, the contract's partition column), as the
    distinct days' names and one index into them per row: one dictionary encoding instead of
    a Python object per row (the name of a null day is ``"None"``, as ``str`` makes it)."""
    if not day_column or day_column not in table.column_names:
        return ["all"], np.zeros(table.num_rows, np.int32)
    column = table.column(day_column).combine_chunks()
    encoded = column.dictionary_encode(null_encoding="encode")
    names = [str(d) for d in encoded.dictionary.to_pylist()]
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return names, codes


def day_strings(table: pa.Table, day_column: str | None) -> list[str]:
    """The index bucket of each row: its event date (the contract's partition column)."""
    names, codes = day_codes(table, day_column)
    return [names[c] for c in codes.tolist()]


def check_table(
    index: DedupeIndex,
    table: pa.Table,
    *,
    day_column: str | None,
    reader: CuratedReader,
    known: Collection[str] = (),
) -> TableCheck:
    """Read the index for the table's days and find the rows whose key another commit curated
    (hash hits confirmed exactly). Days in ``known`` are not read again: a batch checked in
    parts (a file's chunks) checks every part of a day against the version it first read, the
    version its commit is conditioned on."""
    key = index.key_column
    names, codes = day_codes(table, day_column)
    hashes = key_hashes(table.column(key)) if table.num_rows else np.zeros(0, np.uint64)
    duplicate = np.zeros(table.num_rows, bool)
    reasons: dict[int, str] = {}
    if not table.num_rows:
        return TableCheck(duplicate, reasons, hashes, names, codes)
    present = np.unique(codes).tolist()
    index.read(names[c] for c in present if names[c] not in known)
    for code in sorted(present, key=lambda c: names[c]):
        rows = np.flatnonzero(codes == code)
        hit, refs = index.candidates(names[code], hashes[rows])
        hit_rows = rows[hit]
        if not len(hit_rows):
            continue
        # only the hits' keys become Python strings
        keys = [str(k) for k in table.column(key).take(pa.array(hit_rows)).to_pylist()]
        confirmed = index.confirm(keys, refs, reader)
        for row, value, found in zip(hit_rows.tolist(), keys, confirmed, strict=True):
            if found is not None:
                duplicate[row] = True
                reasons[row] = duplicate_reason(key, value, found, table, row)
    return TableCheck(duplicate, reasons, hashes, names, codes)


def duplicate_reason(key: str, value: str, hit: Hit, table: pa.Table, row: int) -> str:
    """Where the first copy came from, and whether this copy is identical or would correct it."""
    ref = hit.commit
    origin = f"{ref.source} commit {ref.commit_id} (manifest {ref.manifest_key})"
    this = table.slice(row, 1).to_pylist()[0]
    first = hit.first or {}
    differs = sorted(c for c in this if c in first and _plain(first[c]) != _plain(this[c]))
    verdict = "an identical copy" if not differs else f"a copy that differs in {', '.join(differs)}"
    return (
        f"{key}={value!r} was already curated by {origin}; this is {verdict}. The first copy "
        "stands: a correction is a new transaction"
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
