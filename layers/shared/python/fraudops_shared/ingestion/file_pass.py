"""One pass over a landed file: read it in chunks, validate, dedupe and stage the outputs.

The batch use case (``ingestion.batch``) decides what a file's outcome is; this module does the
work of one attempt. Reading and validating are the file's business (any failure there becomes
the file's ``problem``, quarantined with its rule); writing is ours (an AWS error propagates so
the invocation is retried).

Each key is hashed once (by the dedupe check; its new keys' hashes are the pages the commit
writes). Valid rows are held back per event day (``lake.writer.PartitionBuffer``: about one
object per day, not one per chunk and day) and rejected rows per file (one object per
``QUARANTINE_PART_BYTES``); the objects are written in the background while the next chunks
are read, on a store that takes concurrent calls.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts import validation
from fraudops_shared.ingestion import readers
from fraudops_shared.ingestion.dedupe import DedupeIndex, check_table
from fraudops_shared.ingestion.readers import Chunk, FileProblem
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.writer import PartitionBuffer, StagedOutputs, jsonl
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import Limits

# Rejected rows are written once per file, in parts of about this size (not one per chunk).
QUARANTINE_PART_BYTES = 32 << 20


class SeenInFile:
    """Unique keys across the chunks of one file (validation asks about each chunk's new keys).

    Exact, so it holds every key of the file: ~80 bytes a key, the one part of the memory that
    grows with the file (3 M rows ~ 250 MB)."""

    def __init__(self) -> None:
        self.keys: set[Any] = set()

    def __call__(self, keys: pa.Array) -> list[bool]:
        values = keys.to_pylist()
        answer = [v in self.keys for v in values]
        self.keys.update(values)
        return answer


class Prefetched:
    """Chunks read one ahead on a thread of their own (the reader parses while the last chunk
    is validated and written); whatever the reader raises is raised by ``next`` in its place.
    ``close`` stops the reader (the pass ends early on a file problem)."""

    _END = object()

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._chunks = chunks
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="prefetch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._offer((chunk, None)):
                    return
            self._offer((self._END, None))
        except BaseException as err:  # handed to the reading side, raised there
            self._offer((None, err))
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def _offer(self, item: tuple[Any, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Prefetched:
        return self

    def __next__(self) -> Chunk:
        chunk, err = self._queue.get()
        if err is not None:
            raise err
        if chunk is self._END:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Clock:
    """Accumulates wall time per phase (download, read, validate, write)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {"download": 0.0, "read": 0.0, "validate": 0.0, "write": 0.0}
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.ms[phase] = self.ms.get(phase, 0.0) + (now - self._t) * 1000
        self._t = now

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.ms.items()}


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@dataclass
class Pass:
    """One pass over the file: what it found and staged."""

    outputs: StagedOutputs
    fmt: str = "unknown"
    rows_in: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    quarantine: list[str] = field(default_factory=list)
    max_event: datetime | None = None
    hashes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    # each day's index version when its first rows were checked: what the commit must still find
    heads: dict[str, int] = field(default_factory=dict)
    problem: FileProblem | validation.FileContractError | None = None
    rejects: list[bytes] = field(default_factory=list)  # JSON Lines not yet written
    rejects_bytes: int = 0

    def count(self, rejects: list[dict[str, Any]]) -> None:
        self.rejected += len(rejects)
        for rej in rejects:
            for rule in rej["rules"]:
                self.rule_counts[rule] = self.rule_counts.get(rule, 0) + 1

    def pages_by_day(self) -> dict[str, np.ndarray]:
        return {d: np.concatenate(h) for d, h in self.hashes.items()}


class FilePass:
    """Reads, validates, dedupes and stages one file; one instance serves many files."""

    def __init__(self, store: ObjectStore, zones: Zones, limits: Limits) -> None:
        self.store, self.zones, self.limits = store, zones, limits

    def run(
        self,
        sha: str,
        name: str,
        contract: Any,
        path: Path,
        now: datetime,
        clock: Clock,
        commit_id: str,
        index: DedupeIndex | None,
    ) -> Pass:
        run = Pass(StagedOutputs(self.store, self.zones, contract, commit_id, background=True))
        curated = PartitionBuffer(run.outputs, sha[:16])
        seen = SeenInFile()
        try:
            run.fmt, gz = readers.detect_format(name)
        except FileProblem as err:
            run.problem = err
            return run
        chunks = Prefetched(self._chunks(run.fmt, gz, path, contract))
        try:
            while True:
                # Reading and validating are the file's business: any failure there is the
                # file's, quarantined with its rule. Writing is ours: an AWS error propagates.
                try:
                    chunk = next(chunks)
                    clock.lap("read")
                    report = self._validate(contract, chunk, now, seen)
                    clock.lap("validate")
                except StopIteration:
                    break
                except (FileProblem, validation.FileContractError) as err:
                    run.problem = err
                    break
                except Exception as err:  # any other failure to read or validate the file
                    run.problem = FileProblem(
                        f"unreadable: {type(err).__name__}: {err}"[:2000], rule="unreadable"
                    )
                    break
                self._take(run, sha, contract, chunk, report, index, curated)
                clock.lap("write")
        finally:
            chunks.close()
        if run.problem is None:
            curated.close()
            self._write_rejects(run, sha, contract)
        return run

    def _take(
        self,
        run: Pass,
        sha: str,
        contract: Any,
        chunk: Chunk,
        report: Any,
        index: DedupeIndex | None,
        curated: PartitionBuffer,
    ) -> None:
        """One validated chunk: deduped, counted, its rows handed to the writers."""
        rejects = chunk.parse_rejects + self._rejected_rows(report, chunk)
        good = report.valid if report is not None else None
        kept: dict[str, np.ndarray] = {}
        if good is not None and good.num_rows and index is not None:
            day_col = contract.partition_columns[0] if contract.partition_columns else None
            good, dups, kept = self._dedupe(run, index, good, day_col)
            rejects += dups
            run.duplicates += len(dups)
        n_valid = good.num_rows if good is not None else 0
        run.rows_in += n_valid + len(rejects)
        run.valid += n_valid
        run.count(rejects)
        if good is not None and n_valid:
            curated.add(good)
            latest = to_datetime(pc.max(good[contract.event_time]).as_py())
            if latest and (run.max_event is None or latest > run.max_event):
                run.max_event = latest
            for day, hashes in kept.items():  # the pages the commit will write
                run.hashes.setdefault(day, []).append(hashes)
        if rejects:
            run.rejects.append(jsonl(rejects))
            run.rejects_bytes += len(run.rejects[-1])
            if run.rejects_bytes >= QUARANTINE_PART_BYTES:
                self._write_rejects(run, sha, contract)

    def _write_rejects(self, run: Pass, sha: str, contract: Any) -> None:
        """The rejected rows so far as one quarantine object (not one per chunk)."""
        if not run.rejects:
            return
        part = len(run.quarantine)
        key = lake_keys.quarantine_rows_key(self.zones, contract.name, sha, part)
        run.quarantine.append(run.outputs.rows_bytes(key, b"".join(run.rejects)))
        run.rejects, run.rejects_bytes = [], 0

    def _dedupe(
        self, run: Pass, index: DedupeIndex, good: pa.Table, day_col: str | None
    ) -> tuple[pa.Table, list[dict[str, Any]], dict[str, np.ndarray]]:
        """The rows whose key is new, the duplicates (rejected) and the new keys' hashes by
        day (hashed once, by the check)."""
        check = check_table(index, good, day_column=day_col, reader=self.store, known=run.heads)
        for day in check.day_names:  # the version of each day its first rows were checked at
            run.heads.setdefault(day, index.known_heads.get(day, 0))
        if not check.duplicate.any():
            return good, [], check.kept_by_day()
        dup_rows = good.filter(pa.array(check.duplicate)).to_pylist()
        rejects = [
            {
                "row_number": None,
                "line": None,
                "rules": ["duplicate_key"],
                "reasons": [check.reasons[r]],
                "record": json.dumps(row, default=str, ensure_ascii=False),
            }
            for r, row in zip(np.flatnonzero(check.duplicate).tolist(), dup_rows, strict=True)
        ]
        return good.filter(pa.array(~check.duplicate)), rejects, check.kept_by_day()

    def _chunks(self, fmt: str, gz: bool, path: Path, contract: Any) -> Iterator[Chunk]:
        lim = self.limits
        if fmt == "csv":
            yield from readers.read_csv(path, gz, lim.csv_block_bytes, limits=lim)
        elif fmt == "jsonl":
            names = [c.name for c in contract.columns]
            yield from readers.read_jsonl(path, gz, names, lim.jsonl_chunk_lines, limits=lim)
        else:
            yield from readers.read_parquet(path, lim.parquet_batch_rows, limits=lim)

    def _validate(self, contract: Any, chunk: Chunk, now: datetime, seen: SeenInFile) -> Any:
        if chunk.table is None:
            return None
        return validation.validate_batch(contract, chunk.table, now=now, seen_keys=seen)

    @staticmethod
    def _rejected_rows(report: Any, chunk: Chunk) -> list[dict[str, Any]]:
        """Validation rejects, renumbered from the chunk's rows to the file's rows."""
        if report is None or report.rejected.num_rows == 0:
            return []
        rows = []
        for rej in report.rejected.to_pylist():
            index = int(rej["row_number"])  # 0-based within the chunk's table
            number = chunk.row_numbers[index] if 0 <= index < len(chunk.row_numbers) else None
            rows.append(
                {
                    "row_number": number,
                    "line": None,
                    "rules": list(rej.get("rules") or []),
                    "reasons": list(rej.get("reasons") or []),
                    "record": rej.get("record"),
                }
            )
        return rows
