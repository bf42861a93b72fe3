"""Batch ingestion: one landed file -> curated Parquet, quarantined rows and a manifest, once.

A file arrives under ``landing/<contract>/``. It is spooled to local disk while its SHA-256 is
computed (the content, not the key, is its identity), then read in bounded chunks (CSV blocks,
JSON Lines line chunks, Parquet row batches), and every chunk is validated against the contract.

Rules that keep every row accounted for exactly once:

* nothing is dropped: ``rows_in == valid + rejected`` for every file; rows that cannot be parsed
  (a CSV row with the wrong number of fields, a JSON line that is not an object, bytes that are
  not UTF-8) are rejected rows like any other, with a rule and a reason;
* a file that cannot be read at all (not gzip, not Parquet, a header that is not UTF-8, columns
  the contract does not allow) is copied whole to ``quarantine/<contract>/_files/`` with its
  reason in the manifest, and what earlier chunks wrote is deleted;
* every output key is derived from the content hash and the chunk number, so a retry of the same
  file rewrites the same objects instead of adding new ones;
* the content is claimed in the state table (``FILE#<sha256>`` / ``CLAIM#<contract>``) before any
  write; a completed claim makes a re-upload a ``duplicate`` (a manifest, no data); a claim still
  in progress may be taken over by the same Lambda request (async retries keep their request id)
  or, after the function timeout, by anyone (the holder crashed);
* the claim is completed and the contract's counters are added in one DynamoDB transaction, so
  the counts move exactly once per file, however often it is processed.

Plain Python over two small ports (the lake's object store, the file claims) so it is tested
without AWS; the adapters are in ``fraudops_shared.aws``. The readers are in
``ingestion.readers``, the keys in ``lake.zones``.
"""

from __future__ import annotations

import json
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts import schema as contracts_mod
from fraudops_shared.contracts import validation
from fraudops_shared.ingestion.claims import Claim, ClaimBusyError, FileClaims
from fraudops_shared.ingestion.readers import (
    Chunk,
    FileProblem,
    detect_format,
    read_csv,
    read_jsonl,
    read_parquet,
)
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.store import ObjectStore, SourceObject
from fraudops_shared.lake.writer import jsonl, write_partitioned
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import SOURCE_S3, UNKNOWN_CONTRACT, Limits

SOURCE = SOURCE_S3
MANIFEST_VERSION = 1

Status = Literal["ingested", "quarantined_file", "duplicate", "already_ingested"]


@dataclass
class IngestResult:
    """What one file did; the manifest is the durable form of the same facts."""

    status: Status
    contract: str
    sha256: str
    manifest_key: str
    manifest: dict[str, Any]
    rows_in: int = 0
    valid: int = 0
    rejected: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    max_event_time: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The result in one log line (the manifest holds the rest)."""
        return {
            "contract": self.contract,
            "status": self.status,
            "sha256": self.sha256,
            "manifest": self.manifest_key,
            "rows_in": self.rows_in,
            "valid": self.valid,
            "rejected": self.rejected,
            "rule_counts": self.rule_counts,
        }


# --- the use case -----------------------------------------------------------------------------


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


class _Clock:
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


def _to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class BatchIngestor:
    """Ingests one landed object at a time; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        claims: FileClaims,
        zones: Zones,
        limits: Limits | None = None,
    ) -> None:
        self.store, self.claims, self.zones = store, claims, zones
        self.limits = limits or Limits()

    def ingest(self, obj: SourceObject, *, owner: str, now: datetime) -> IngestResult:
        """Raises only for infrastructure problems (the invocation should be retried)."""
        clock = _Clock()
        contract_name, name = lake_keys.parse_landing_key(obj.key, self.zones.landing_prefix)
        with tempfile.TemporaryDirectory(prefix="ingest-", dir=self.limits.tmp_dir) as tmp:
            path = Path(tmp) / "object"
            sha = self.store.download(obj, path)
            clock.lap("download")
            try:
                contract = contracts_mod.load_contract(contract_name)
            except contracts_mod.UnknownContractError as err:
                known = ", ".join(sorted(contracts_mod.available_contracts()))
                reason = f"unknown contract {contract_name!r} ({err}); known contracts: {known}"
                return self._quarantine_unknown(obj, sha, name, reason, now, clock)
            claim = self.claims.claim(
                sha,
                contract.name,
                obj,
                owner,
                now.timestamp(),
                self.limits.claim_stale_after_seconds,
            )
            if claim.status == "busy":
                raise ClaimBusyError(
                    f"content {sha[:16]} of {obj.key} is being ingested by {claim.source_id}"
                )
            if claim.status == "completed":
                return self._duplicate(obj, sha, contract, claim, now, clock)
            try:
                result = self._ingest_claimed(obj, sha, name, contract, path, now, clock, claim)
            except Exception:
                self.claims.release(sha, contract.name, owner)
                raise
            counts = {
                "in_records": result.rows_in,
                "curated": result.valid,
                "quarantined": result.rejected,
                "files": 1,
                "files_quarantined": int(result.status == "quarantined_file"),
            }
            self.claims.complete(sha, contract.name, owner, result.manifest_key, counts)
            return result

    # -- the paths a file can take --------------------------------------------------------------

    def _ingest_claimed(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        path: Path,
        now: datetime,
        clock: _Clock,
        claim: Claim,
    ) -> IngestResult:
        z = self.zones
        written: list[str] = []
        curated: list[str] = []
        quarantined: list[str] = []
        rows_in = valid = rejected = 0
        rule_counts: dict[str, int] = {}
        max_event: datetime | None = None
        fmt = "unknown"
        try:
            fmt, gz = detect_format(name)
            seen = SeenInFile()
            for index, chunk in enumerate(self._chunks(fmt, gz, path, contract)):
                clock.lap("read")
                report = self._validate(contract, chunk, now, seen)
                clock.lap("validate")
                rejects = chunk.parse_rejects + self._rejected_rows(report, chunk)
                good = report.valid if report is not None else None
                n_valid = good.num_rows if good is not None else 0
                rows_in += n_valid + len(rejects)
                valid += n_valid
                rejected += len(rejects)
                for rej in rejects:
                    for rule in rej["rules"]:
                        rule_counts[rule] = rule_counts.get(rule, 0) + 1
                if good is not None and n_valid:
                    keys = self._write_curated(contract, sha, index, good)
                    curated += keys
                    written += keys
                    latest = _to_datetime(pc.max(good[contract.event_time]).as_py())
                    if latest and (max_event is None or latest > max_event):
                        max_event = latest
                if rejects:
                    key = lake_keys.quarantine_rows_key(z, contract.name, sha, index)
                    self.store.put_bytes(key, jsonl(rejects), "application/x-ndjson")
                    quarantined.append(key)
                    written.append(key)
                clock.lap("write")
        except (FileProblem, validation.FileContractError) as err:
            reason = str(getattr(err, "reason", None) or err)
            return self._quarantine_file(
                obj, sha, name, contract, fmt, reason, written, now, clock, claim
            )
        manifest = self._manifest(
            obj, sha, contract, fmt, "ingested", now, clock, claim,
            counts={"rows_in": rows_in, "valid": valid, "rejected": rejected},
            rule_counts=rule_counts,
            outputs={"curated": curated, "quarantine": quarantined, "file": None},
            max_event_time=max_event,
        )  # fmt: skip
        key = lake_keys.manifest_key(z, contract.name, sha)
        self._put_json(key, manifest)
        clock.lap("write")
        return IngestResult(
            "ingested", contract.name, sha, key, manifest, rows_in, valid, rejected,
            rule_counts, max_event,
        )  # fmt: skip

    def _chunks(self, fmt: str, gz: bool, path: Path, contract: Any) -> Iterator[Chunk]:
        lim = self.limits
        try:
            if fmt == "csv":
                yield from read_csv(path, gz, lim.csv_block_bytes)
            elif fmt == "jsonl":
                names = [c.name for c in contract.columns]
                yield from read_jsonl(path, gz, names, lim.jsonl_chunk_lines)
            else:
                yield from read_parquet(path, lim.parquet_batch_rows)
        except (pa.ArrowInvalid, OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            # mid-file: corrupt gzip, a malformed row that is not UTF-8 either, ...
            raise FileProblem(f"unreadable {fmt}{' (gzip)' if gz else ''}: {err}") from err

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
            rules = list(rej.get("rules") or [])
            reasons = list(rej.get("reasons") or [])
            rows.append(
                {
                    "row_number": number,
                    "line": None,
                    "rules": rules,
                    "reasons": reasons,
                    "record": rej.get("record"),
                }
            )
        return rows

    def _write_curated(self, contract: Any, sha: str, index: int, table: pa.Table) -> list[str]:
        return write_partitioned(self.store, self.zones, contract, table, f"{sha[:16]}-{index:05d}")

    def _quarantine_file(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        fmt: str,
        reason: str,
        written: list[str],
        now: datetime,
        clock: _Clock,
        claim: Claim,
    ) -> IngestResult:
        if written:  # what earlier chunks wrote: the file is quarantined as a whole instead
            self.store.delete(written)
        dest = lake_keys.quarantine_file_key(self.zones, contract.name, sha, name)
        self.store.copy(obj, dest)
        manifest = self._manifest(
            obj, sha, contract, fmt, "quarantined_file", now, clock, claim,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": dest},
            reason=reason,
        )  # fmt: skip
        key = lake_keys.manifest_key(self.zones, contract.name, sha)
        self._put_json(key, manifest)
        clock.lap("write")
        return IngestResult("quarantined_file", contract.name, sha, key, manifest)

    def _quarantine_unknown(
        self, obj: SourceObject, sha: str, name: str, reason: str, now: datetime, clock: _Clock
    ) -> IngestResult:
        """No contract, no claim and no counters: keys from the content make it idempotent."""
        dest = lake_keys.quarantine_file_key(self.zones, UNKNOWN_CONTRACT, sha, name)
        self.store.copy(obj, dest)
        manifest = self._manifest(
            obj, sha, None, "unknown", "quarantined_file", now, clock, None,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": dest},
            reason=reason,
        )  # fmt: skip
        key = lake_keys.manifest_key(self.zones, UNKNOWN_CONTRACT, sha)
        self._put_json(key, manifest)
        return IngestResult("quarantined_file", UNKNOWN_CONTRACT, sha, key, manifest)

    def _duplicate(
        self, obj: SourceObject, sha: str, contract: Any, claim: Claim, now: datetime, clock: _Clock
    ) -> IngestResult:
        if claim.source_id == obj.source_id:
            # the same S3 event again: its manifest exists; write nothing
            key = claim.manifest_key or lake_keys.manifest_key(self.zones, contract.name, sha)
            return IngestResult("already_ingested", contract.name, sha, key, {})
        manifest = self._manifest(
            obj, sha, contract, "unknown", "duplicate", now, clock, claim,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": None},
            reason="the same content was already ingested",
            duplicate_of={"source": claim.source, "manifest": claim.manifest_key},
        )  # fmt: skip
        key = lake_keys.duplicate_manifest_key(self.zones, contract.name, sha, obj.source_id)
        self._put_json(key, manifest)
        return IngestResult("duplicate", contract.name, sha, key, manifest)

    # -- helpers ---------------------------------------------------------------------------------

    def _manifest(
        self,
        obj: SourceObject,
        sha: str,
        contract: Any,
        fmt: str,
        status: Status,
        now: datetime,
        clock: _Clock,
        claim: Claim | None,
        *,
        counts: dict[str, int],
        rule_counts: dict[str, int],
        outputs: dict[str, Any],
        max_event_time: datetime | None = None,
        reason: str | None = None,
        duplicate_of: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "status": status,
            "reason": reason,
            "duplicate_of": duplicate_of,
            "source": {**obj.as_dict(), "kind": SOURCE},
            "sha256": sha,
            "contract": {
                "name": contract.name if contract else None,
                "version": str(contract.version) if contract else None,
            },
            "format": fmt,
            "counts": counts,
            "rule_counts": dict(sorted(rule_counts.items())),
            "outputs": outputs,
            "max_event_time": max_event_time.isoformat() if max_event_time else None,
            "taken_over": bool(claim and claim.taken_over),
            "timings_ms": clock.as_dict(),
            "ingested_at": now.isoformat(),
        }

    def _put_json(self, key: str, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")
        self.store.put_bytes(key, body, "application/json")
