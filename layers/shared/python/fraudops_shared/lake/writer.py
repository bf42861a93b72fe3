"""Writing a commit's outputs: curated Parquet partitioned by the contract, quarantined rows as JSON
Lines, the manifest as JSON; all under ``_staging/<commit id>/`` until the commit, then promoted
to their final keys (``lake.commits``). The batch and the stream paths share it, so the curated
zone holds one schema whatever the source.

A store that takes concurrent calls (``concurrency`` above 1, as ``aws.s3.S3ObjectStore``)
may have the writes made in the background (``StagedOutputs(..., background=True)``): encoding
and uploading an object overlaps the work on the next chunk, at most ``MAX_PENDING`` objects
held in memory. ``staged`` waits for every write (and raises the first failure), so a commit
built from it never names an object that is not written.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.lake import zones as keys
from fraudops_shared.lake.commits import staging_key
from fraudops_shared.lake.store import ObjectStore, concurrency
from fraudops_shared.lake.zones import Zones, partition_columns

CURATED_BUFFER_BYTES = 128 << 20  # valid rows a file holds back to write fewer, larger objects
BACKGROUND_WRITERS = 2  # threads writing one commit's objects
MAX_PENDING = 4  # objects handed to them and not yet written (bounds the memory they hold)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in rows).encode("utf-8")


def partitions(contract: Any, table: pa.Table) -> list[tuple[dict[str, Any], pa.Table]]:
    """The table split by the contract's partition columns (dropped from each part: the
    partition lives in the key), in a stable order."""
    parts = partition_columns(contract)
    if not parts:
        return [({}, table)]
    out = []
    groups = table.group_by(parts, use_threads=False).aggregate([]).to_pylist()
    for group in sorted(groups, key=lambda g: [(v is None, str(v)) for v in g.values()]):
        mask = None
        for col, value in group.items():
            cond = (
                pc.is_null(table[col])
                if value is None
                else pc.equal(table[col], pa.scalar(value, table.schema.field(col).type))
            )
            mask = cond if mask is None else pc.and_(mask, cond)
        out.append((group, table.filter(mask).drop_columns(parts)))
    return out


class _Background:
    """Writes on a few threads, at most ``MAX_PENDING`` outstanding; the first failure is
    raised by the next ``submit`` or by ``wait``."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="staged-write")
        self.slots = threading.BoundedSemaphore(MAX_PENDING)
        self.futures: list[Future[None]] = []

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._raise_failed()
        self.slots.acquire()
        try:
            future = self.pool.submit(fn, *args)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(lambda _: self.slots.release())
        self.futures.append(future)

    def _raise_failed(self) -> None:
        for future in self.futures:
            if future.done() and future.exception() is not None:
                self.wait()

    def wait(self) -> None:
        futures, self.futures = self.futures, []
        error: BaseException | None = None
        for future in futures:  # every write ends before we return, failed or not
            exc = future.exception()
            error = error or exc
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop: writes not started are cancelled, running ones finish."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.futures = []


class StagedOutputs:
    """The outputs of one commit, written under staging at keys derived from the commit id (a
    retry of the same commit overwrites), and the final key each will be promoted to."""

    def __init__(
        self,
        store: ObjectStore,
        zones: Zones,
        contract: Any,
        commit_id: str,
        *,
        background: bool = False,
    ) -> None:
        self.store, self.zones, self.contract, self.commit_id = store, zones, contract, commit_id
        self._staged: dict[str, str] = {}
        self.curated_keys: list[str] = []
        workers = min(BACKGROUND_WRITERS, concurrency(store)) if background else 1
        self._background = _Background(workers) if workers > 1 else None

    @property
    def staged(self) -> dict[str, str]:
        """Staging key -> final key of every object, once all of them are written."""
        self.flush()
        return self._staged

    def _put(self, final: str) -> str:
        staged = staging_key(self.commit_id, final)
        self._staged[staged] = final
        return staged

    def _write(self, fn: Callable[..., None], *args: Any) -> None:
        if self._background is None:
            fn(*args)
            return
        try:
            self._background.submit(fn, *args)
        except BaseException:  # an earlier write failed: no more writes
            self.close()
            raise

    def curated(self, table: pa.Table, stem: str) -> list[str]:
        """One Parquet object per partition value; returns the final keys."""
        finals = []
        for group, part in partitions(self.contract, table):
            if part.num_rows:
                finals.append(self.curated_part(group, part, stem))
        return finals

    def curated_part(self, group: dict[str, Any], part: pa.Table, stem: str) -> str:
        """One Parquet object of one partition value (``part`` without the partition columns);
        returns its final key."""
        final = keys.curated_key(self.zones, self.contract.name, group, stem)
        self._write(self.store.put_parquet, self._put(final), part)
        self.curated_keys.append(final)
        return final

    def rows(self, final: str, rows: list[dict[str, Any]]) -> str:
        return self.rows_bytes(final, jsonl(rows))

    def rows_bytes(self, final: str, data: bytes) -> str:
        """Rows already encoded as JSON Lines."""
        self._write(self.store.put_bytes, self._put(final), data, "application/x-ndjson")
        return final

    def document(self, final: str, doc: dict[str, Any]) -> str:
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")
        self._write(self.store.put_bytes, self._put(final), body, "application/json")
        return final

    def flush(self) -> None:
        """Wait for every write; the first failure is raised (the invocation is retried)."""
        if self._background is not None:
            try:
                self._background.wait()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """No more writes (after ``flush``, or on the way out of a failure)."""
        if self._background is not None:
            self._background.close()
            self._background = None

    def discard(self) -> None:
        """A batch that will not commit: its staged objects go (a lifecycle rule would too)."""
        if self._background is not None:
            self.close()  # nothing may land after the delete
        if self._staged:
            self.store.delete(sorted(self._staged))
        self._staged.clear()
        self.curated_keys.clear()


class PartitionBuffer:
    """A file's valid rows, held per partition value and written as one object per value
    instead of one per chunk and value: a value is written once a chunk comes without it (a
    file in event order completes its days one after another), every value once the rows held
    pass ``max_bytes`` (memory stays bounded whatever the order), the rest at ``close``. The
    n-th object of a value is ``<stem>-<n>``: the keys follow from the content."""

    def __init__(self, outputs: StagedOutputs, stem: str, max_bytes: int | None = None) -> None:
        self.outputs, self.stem = outputs, stem
        self.max_bytes = CURATED_BUFFER_BYTES if max_bytes is None else max_bytes
        self.held: dict[tuple[Any, ...], tuple[dict[str, Any], list[pa.Table]]] = {}
        self.held_bytes = 0
        self.written: dict[tuple[Any, ...], int] = {}

    def add(self, table: pa.Table) -> None:
        present = set()
        for group, part in partitions(self.outputs.contract, table):
            if part.num_rows:
                key = tuple(group.items())
                present.add(key)
                self.held.setdefault(key, (group, []))[1].append(part)
                self.held_bytes += part.nbytes
        for key in [k for k in self.held if k not in present]:
            self._write(key)
        if self.held_bytes > self.max_bytes:
            self.close()

    def close(self) -> None:
        """Write every value still held."""
        for key in list(self.held):
            self._write(key)

    def _write(self, key: tuple[Any, ...]) -> None:
        group, parts = self.held.pop(key)
        self.held_bytes -= sum(p.nbytes for p in parts)
        number = self.written.get(key, 0)
        self.written[key] = number + 1
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        self.outputs.curated_part(group, table, f"{self.stem}-{number:05d}")
