"""One pass over a landed file: read it in chunks, validate, dedupe and stage the outputs.

The batch use case (``ingestion.batch``) decides what a file's outcome is; this module does the
work of one attempt. Reading and validating are the file's business (any failure there becomes
the file's ``problem``, quarantined with its rule); writing is ours (an AWS error propagates so
the invocation is retried).
"""

from __future__ import annotations

import json
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
from fraudops_shared.ingestion.dedupe import DedupeIndex, check_table, day_strings, key_hashes
from fraudops_shared.ingestion.readers import Chunk, FileProblem
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.writer import StagedOutputs
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import Limits


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


class Clock:
    """Accumulates wall time per phase (download, read, validate, write)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {"download": 0.0, "read": 0.0, "validate": 0.0, "write": 0.0}
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.ms[phase] += (now - self._t) * 1000
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
    problem: FileProblem | validation.FileContractError | None = None

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
        run = Pass(StagedOutputs(self.store, self.zones, contract, commit_id))
        day_col = contract.partition_columns[0] if contract.partition_columns else None
        seen = SeenInFile()
        try:
            run.fmt, gz = readers.detect_format(name)
            chunks = enumerate(self._chunks(run.fmt, gz, path, contract))
        except FileProblem as err:
            run.problem = err
            return run
        while True:
            # Reading and validating are the file's business: any failure there is the file's,
            # quarantined with its rule. Writing is ours: an AWS error propagates (a retry).
            try:
                number, chunk = next(chunks)
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
            rejects = chunk.parse_rejects + self._rejected_rows(report, chunk)
            good = report.valid if report is not None else None
            if good is not None and good.num_rows and index is not None:
                good, dups = self._dedupe(index, good, chunk, report, day_col)
                rejects += dups
                run.duplicates += len(dups)
            n_valid = good.num_rows if good is not None else 0
            run.rows_in += n_valid + len(rejects)
            run.valid += n_valid
            run.count(rejects)
            if good is not None and n_valid:
                run.outputs.curated(good, f"{sha[:16]}-{number:05d}")
                latest = to_datetime(pc.max(good[contract.event_time]).as_py())
                if latest and (run.max_event is None or latest > run.max_event):
                    run.max_event = latest
                if index is not None:
                    self._remember(run, good, day_col)
            if rejects:
                key = lake_keys.quarantine_rows_key(self.zones, contract.name, sha, number)
                run.quarantine.append(run.outputs.rows(key, rejects))
            clock.lap("write")
        return run

    def _dedupe(
        self, index: DedupeIndex, good: pa.Table, chunk: Chunk, report: Any, day_col: str | None
    ) -> tuple[pa.Table, list[dict[str, Any]]]:
        check = check_table(index, good, day_column=day_col, reader=self.store)
        if not check.duplicate.any():
            return good, []
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
        return good.filter(pa.array(~check.duplicate)), rejects

    @staticmethod
    def _remember(run: Pass, good: pa.Table, day_col: str | None) -> None:
        """The curated keys' hashes by day: the pages the commit will write."""
        days = day_strings(good, day_col)
        hashes = key_hashes(good.column(run.outputs.contract.unique_key))
        arr = np.array(days, dtype=object)
        for day in sorted(set(days)):
            run.hashes.setdefault(day, []).append(hashes[arr == day])

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
