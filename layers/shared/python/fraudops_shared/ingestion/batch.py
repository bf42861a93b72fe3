"""Batch ingestion: one landed file -> curated Parquet, quarantined rows and a manifest, once.

A file arrives under ``landing/<contract>/``. Its size is checked before anything is read; it is
spooled to local disk while its SHA-256 is computed (the content, not the key, is its identity),
then read in bounded chunks (``ingestion.readers``), and every chunk is validated against the
contract and checked against the dedupe index (``ingestion.dedupe``).

Rules that keep every row accounted for exactly once:

* nothing is dropped: ``rows_in == valid + rejected`` for every file; rows that cannot be parsed
  are rejected rows like any other, with a rule and a reason; a transaction whose key was already
  curated (by another file, a re-upload, the stream) is rejected as ``duplicate_key`` naming
  where the first copy is;
* a file that cannot be read at all is copied whole to ``quarantine/<contract>/_files/`` with its
  rule and reason in the manifest, and counted with the rows it held (``readers.rows_held``), so
  the rejection-rate alarm sees it; a *fixable* cause (a plain CSV named ``.csv.gz``, an
  unsupported name) lets the same content be landed again under another name and ingested;
* outputs are staged under ``_staging/<commit>/`` and promoted to ``curated/`` only after the
  commit (``lake.commits``); a failed attempt leaves nothing in ``curated/``;
* the content is claimed in the state table (``FILE#<sha256>`` / ``CLAIM#<contract>``) before any
  write; a completed claim makes a re-upload a ``duplicate`` (a manifest, no data); a claim still
  in progress may be taken over by the same Lambda request (async retries keep their request id)
  or, after the function timeout, by anyone (the holder crashed);
* the claim is completed, the counters added, the dedupe index's heads moved and the commit
  recorded in one DynamoDB transaction, so the counts move exactly once per file.

Plain Python over small ports (the lake's object store, the file claims, the commit log, the
index store) so it is tested without AWS; the adapters are in ``fraudops_shared.aws``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fraudops_shared.contracts import schema as contracts_mod
from fraudops_shared.contracts import validation
from fraudops_shared.ingestion import readers
from fraudops_shared.ingestion.claims import Claim, ClaimBusyError, FileClaims
from fraudops_shared.ingestion.dedupe import (
    MAX_DAYS_PER_COMMIT,
    CommitRef,
    DedupeIndex,
    KeyIndexStore,
    bumped,
    pages_for,
)
from fraudops_shared.ingestion.file_pass import Clock, FilePass
from fraudops_shared.ingestion.readers import FileProblem
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.commits import (
    Commit,
    CommitConflict,
    CommitLog,
    FileCompletion,
    finish,
    promote,
)
from fraudops_shared.lake.store import ObjectStore, SourceObject
from fraudops_shared.lake.writer import StagedOutputs
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import SOURCE_S3, UNKNOWN_CONTRACT, Limits

SOURCE = SOURCE_S3
MANIFEST_VERSION = 2
COMMIT_ATTEMPTS = 5
# Causes a renamed copy of the same bytes can fix: the content is fine, its name was not.
FIXABLE = ("not_gzip", "unsupported_format")

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
    timings_ms: dict[str, float] = field(default_factory=dict)  # also after the manifest

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
            "timings_ms": self.timings_ms,
        }


class BatchIngestor:
    """Ingests one landed object at a time; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        claims: FileClaims,
        log: CommitLog,
        zones: Zones,
        index_store: KeyIndexStore | None = None,
        limits: Limits | None = None,
        index_ttl_seconds: int = 400 * 86_400,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.store, self.claims, self.log, self.zones = store, claims, log, zones
        self.index_store = index_store
        self.limits = limits or Limits()
        self.ttl = index_ttl_seconds
        self.clock_ms = clock_ms
        self.indexes: dict[str, DedupeIndex] = {}
        self.reader = FilePass(store, zones, self.limits)

    def _index(self, contract: Any) -> DedupeIndex | None:
        if self.index_store is None or not contract.unique_key:
            return None
        if contract.name not in self.indexes:
            self.indexes[contract.name] = DedupeIndex(
                self.index_store, contract.name, contract.unique_key
            )
        return self.indexes[contract.name]

    def ingest(self, obj: SourceObject, *, owner: str, now: datetime) -> IngestResult:
        """Raises only for infrastructure problems (the invocation should be retried)."""
        clock = Clock()
        contract_name, name = lake_keys.parse_landing_key(obj.key, self.zones.landing_prefix)
        with tempfile.TemporaryDirectory(prefix="ingest-", dir=self.limits.tmp_dir) as tmp:
            path = Path(tmp) / "object"
            too_large = self._size_problem(obj)
            sha = self._identity(obj, path, too_large)
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
                if claim.commit_id:  # a crash between its commit and its promotion: finish it
                    finish(self.store, self.log, self.log.record(claim.commit_id))
                return self._duplicate(obj, sha, contract, claim, now, clock)
            try:
                if too_large is not None:
                    return self._quarantine_file(
                        obj, sha, name, contract, too_large, None, None, now, clock, claim, owner
                    )
                return self._ingest_claimed(
                    obj, sha, name, contract, path, now, clock, claim, owner
                )
            except (
                Exception
            ):  # an error we report; a kill (timeout, OOM) leaves the claim to go stale
                self.claims.release(sha, contract.name, owner)
                raise

    def _size_problem(self, obj: SourceObject) -> FileProblem | None:
        try:
            readers.check_size(obj.size or 0, self.limits)
        except FileProblem as problem:
            return problem
        return None

    def _identity(self, obj: SourceObject, path: Path, too_large: FileProblem | None) -> str:
        """The content's SHA-256; a file too large to download is named by its ETag instead
        (it is quarantined by a copy inside S3, never read)."""
        if too_large is not None:
            return f"etag-{obj.etag or obj.source_id}"
        return self.store.download(obj, path)

    # -- the paths a file can take --------------------------------------------------------------

    def _ingest_claimed(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        path: Path,
        now: datetime,
        clock: Clock,
        claim: Claim,
        owner: str,
    ) -> IngestResult:
        index = self._index(contract)
        commit_id = f"file-{sha[:32]}-{claim.attempt}"
        written_at = self.clock_ms()
        for _ in range(COMMIT_ATTEMPTS):
            run = self.reader.run(sha, name, contract, path, now, clock, commit_id, index)
            try:  # whatever the outcome, the pass's background writers stop
                if run.problem is not None:
                    run.outputs.discard()
                    return self._quarantine_file(
                        obj, sha, name, contract, run.problem, run.fmt, path, now, clock, claim,
                        owner,
                    )  # fmt: skip
                by_day = run.pages_by_day()
                if len(by_day) > MAX_DAYS_PER_COMMIT:
                    run.outputs.discard()
                    problem = FileProblem(
                        f"the file's valid rows span {len(by_day)} event days; one file may span "
                        f"at most {MAX_DAYS_PER_COMMIT} (its commit moves one index head per "
                        "day): split it by event date",
                        rule="too_many_days",
                    )
                    return self._quarantine_file(
                        obj, sha, name, contract, problem, run.fmt, path, now, clock, claim, owner
                    )
                heads = {d: run.heads.get(d, 0) for d in by_day} if index else {}
                run.outputs.flush()  # curated and quarantined objects written (or the first error)
                clock.lap("write")
                manifest = self._manifest(
                    obj, sha, contract, run.fmt, "ingested", now, clock, claim,
                    counts={"rows_in": run.rows_in, "valid": run.valid, "rejected": run.rejected},
                    rule_counts=run.rule_counts,
                    outputs={"curated": list(run.outputs.curated_keys),
                             "quarantine": run.quarantine, "file": None},
                    max_event_time=run.max_event, commit_id=commit_id, duplicates=run.duplicates,
                )  # fmt: skip
                key = lake_keys.manifest_key(self.zones, contract.name, sha)
                run.outputs.document(key, manifest)
                pages = pages_for(commit_id, by_day, written_at) if index else []
                if pages and self.index_store is not None:
                    self.index_store.put_pages(contract.name, pages, self._expires(now))
                staged = dict(run.outputs.staged)  # the manifest written too (or the first error)
                commit = Commit(
                    commit_id=commit_id,
                    contract=contract.name,
                    source=SOURCE,
                    manifest_key=key,
                    counts=self._counts(
                        run.rows_in, run.valid, run.rejected, quarantined_file=False
                    ),
                    staged=staged,
                    curated=tuple(run.outputs.curated_keys),
                    heads=heads,
                    completion=FileCompletion(sha, owner, "ingested"),
                )
                try:
                    self.log.commit(commit, expires_at=self._expires(now))
                except CommitConflict:
                    if index is None:
                        raise
                    index.forget_heads()  # another writer committed keys of the same days: again
                    continue
                clock.lap("commit")
                if index is not None:
                    ref = CommitRef(commit_id, key, SOURCE, commit.curated)
                    index.learn(ref, pages, bumped(heads, by_day))
                promote(self.store, commit.staged)
                self.log.mark_promoted(commit)
                clock.lap("promote")
                return IngestResult(
                    "ingested", contract.name, sha, key, manifest, run.rows_in, run.valid,
                    run.rejected, run.rule_counts, run.max_event, clock.as_dict(),
                )  # fmt: skip
            finally:
                run.outputs.close()
        raise CommitConflict(f"{obj.key}: still conflicting after {COMMIT_ATTEMPTS} attempts")

    @staticmethod
    def _counts(rows_in: int, valid: int, rejected: int, *, quarantined_file: bool) -> dict:
        return {
            "in_records": rows_in,
            "curated": valid,
            "quarantined": rejected,
            "files": 1,
            "files_quarantined": int(quarantined_file),
        }

    def _expires(self, now: datetime) -> int:
        return int(now.timestamp()) + self.ttl

    def _quarantine_file(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        problem: Exception,
        fmt: str | None,
        path: Path | None,
        now: datetime,
        clock: Clock,
        claim: Claim,
        owner: str,
    ) -> IngestResult:
        """The whole file to quarantine, counted with the rows it held, committed like any file
        (claim completed with the outcome: a fixable one lets a renamed copy retry)."""
        rule = str(getattr(problem, "rule", None) or "unreadable")
        if isinstance(problem, validation.FileContractError):
            rule = "columns"
        reason = str(getattr(problem, "reason", None) or problem)
        # a file too large to inflate is not inflated again to count its rows
        held = 0 if rule == "too_large" else self._rows_held(path, fmt, name)
        dest = lake_keys.quarantine_file_key(self.zones, contract.name, sha, name)
        self.store.copy(obj, dest)
        commit_id = f"file-{sha[:32]}-{claim.attempt}"
        key = lake_keys.manifest_key(self.zones, contract.name, sha)
        outputs = StagedOutputs(self.store, self.zones, contract, commit_id)
        manifest = self._manifest(
            obj, sha, contract, fmt or "unknown", "quarantined_file", now, clock, claim,
            counts={"rows_in": held, "valid": 0, "rejected": held},
            rule_counts={rule: held} if held else {}, outputs={"curated": [], "quarantine": [],
                                                               "file": dest},
            reason=reason, rule=rule, commit_id=commit_id, retryable=rule in FIXABLE,
        )  # fmt: skip
        outputs.document(key, manifest)
        commit = Commit(
            commit_id=commit_id,
            contract=contract.name,
            source=SOURCE,
            manifest_key=key,
            counts=self._counts(held, 0, held, quarantined_file=True),
            staged=dict(outputs.staged),
            completion=FileCompletion(sha, owner, f"quarantined_file:{rule}"),
        )
        self.log.commit(commit, expires_at=self._expires(now))
        promote(self.store, commit.staged)
        self.log.mark_promoted(commit)
        clock.lap("write")
        return IngestResult(
            "quarantined_file", contract.name, sha, key, manifest, held, 0, held,
            {rule: held} if held else {},
        )  # fmt: skip

    def _rows_held(self, path: Path | None, fmt: str | None, name: str) -> int:
        """A best-effort count of the rows a file quarantined whole held (a plain file named
        .gz is counted as what it is); 0 when even that cannot be read."""
        if path is None or not fmt or fmt == "unknown":
            return 0
        gz = name.lower().endswith(".gz")
        for compressed in (gz, False) if gz else (False,):
            try:
                held = readers.rows_held(path, fmt, compressed, self.limits)
            except Exception:  # the file is kept whatever it holds
                held = None
            if held is not None:
                return held
        return 0

    def _quarantine_unknown(
        self, obj: SourceObject, sha: str, name: str, reason: str, now: datetime, clock: Clock
    ) -> IngestResult:
        """No contract, no claim and no counters: keys from the content make it idempotent."""
        dest = lake_keys.quarantine_file_key(self.zones, UNKNOWN_CONTRACT, sha, name)
        self.store.copy(obj, dest)
        manifest = self._manifest(
            obj, sha, None, "unknown", "quarantined_file", now, clock, None,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": dest},
            reason=reason, rule="unknown_contract",
        )  # fmt: skip
        key = lake_keys.manifest_key(self.zones, UNKNOWN_CONTRACT, sha)
        self._put_json(key, manifest)
        return IngestResult("quarantined_file", UNKNOWN_CONTRACT, sha, key, manifest)

    def _duplicate(
        self, obj: SourceObject, sha: str, contract: Any, claim: Claim, now: datetime, clock: Clock
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
        clock: Clock,
        claim: Claim | None,
        *,
        counts: dict[str, int],
        rule_counts: dict[str, int],
        outputs: dict[str, Any],
        max_event_time: datetime | None = None,
        reason: str | None = None,
        duplicate_of: dict[str, Any] | None = None,
        rule: str | None = None,
        commit_id: str | None = None,
        duplicates: int = 0,
        retryable: bool = False,
    ) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "status": status,
            "rule": rule,
            "reason": reason,
            "retryable": retryable,
            "duplicate_of": duplicate_of,
            "commit_id": commit_id,
            "source": {**obj.as_dict(), "kind": SOURCE},
            "sha256": sha,
            "contract": {
                "name": contract.name if contract else None,
                "version": str(contract.version) if contract else None,
            },
            "format": fmt,
            "counts": counts,
            "duplicates": duplicates,
            "rule_counts": dict(sorted(rule_counts.items())),
            "outputs": outputs,
            "max_event_time": max_event_time.isoformat() if max_event_time else None,
            "taken_over": bool(claim and claim.taken_over),
            "attempt": claim.attempt if claim else 0,
            "timings_ms": clock.as_dict(),
            "ingested_at": now.isoformat(),
        }

    def _put_json(self, key: str, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")
        self.store.put_bytes(key, body, "application/json")
