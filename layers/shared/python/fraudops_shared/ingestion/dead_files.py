"""Dead letters of the batch path: a landed file the batch function gave up on.

The batch function is invoked asynchronously by S3; an invocation that fails every retry (an
outage, a bug, a timeout) goes to its on-failure queue with the S3 event it was given. Here the
file is kept whole under ``quarantine/<contract>/_files/`` and counted as ``dead_lettered`` with
the rows it held, in one commit like any file's, so the accounting equation keeps balancing.
The content's claim completes as ``dead_lettered``, which lets the same bytes be landed again
after the outage and ingested (``ingestion.claims.RETRYABLE_OUTCOMES``). A file whose content
was ingested after all (a late retry won) is left as it is.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fraudops_shared.contracts import schema
from fraudops_shared.ingestion import readers
from fraudops_shared.ingestion.claims import ClaimBusyError, FileClaims
from fraudops_shared.ingestion.read_back import gave_up_reason
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.commits import Commit, CommitLog, FileCompletion, finish, promote
from fraudops_shared.lake.store import ObjectStore, SourceObject
from fraudops_shared.lake.writer import StagedOutputs
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import UNKNOWN_CONTRACT, Limits

# how long a dead file's commit record is kept (its counters are kept for ever)
COMMIT_RECORD_SECONDS = 8 * 86_400


def account_dead_files(
    message: dict[str, Any],
    *,
    claims: FileClaims,
    log: CommitLog,
    store: ObjectStore,
    zones: Zones,
    owner: str,
    now: datetime,
    limits: Limits,
) -> list[dict[str, Any]]:
    """A landed file the batch function gave up on (its async invocation failed every retry):
    the file is kept whole under ``quarantine/<contract>/_files/`` and counted as dead-lettered
    with the rows it held, unless its content was ingested after all (then nothing changes)."""
    reason = gave_up_reason(message, "batch function")
    error = (message.get("responsePayload") or {}).get("errorMessage")
    if error:
        reason += f": {str(error)[:500]}"
    out: list[dict[str, Any]] = []
    for record in (message.get("requestPayload") or {}).get("Records", []):
        obj = SourceObject.from_s3_event(record)
        contract_name, name = lake_keys.parse_landing_key(obj.key, zones.landing_prefix)
        try:
            contract = schema.load_contract(contract_name)
        except schema.UnknownContractError:  # kept, uncounted, as the batch function would
            dest = lake_keys.quarantine_file_key(
                zones, UNKNOWN_CONTRACT, f"etag-{obj.etag or obj.source_id}", name
            )
            store.copy(obj, dest)
            out.append({"key": obj.key, "status": "unknown_contract", "file": dest})
            continue
        with tempfile.TemporaryDirectory(prefix="dead-file-") as tmp:
            path = Path(tmp) / "object"
            fits = (obj.size or 0) <= limits.max_file_bytes
            sha = store.download(obj, path) if fits else f"etag-{obj.etag or obj.source_id}"
            claim = claims.claim(
                sha, contract.name, obj, owner, now.timestamp(), limits.claim_stale_after_seconds
            )
            if claim.status == "busy":
                raise ClaimBusyError(f"{obj.key} is being ingested by {claim.source_id}")
            if claim.status == "completed":
                if claim.commit_id:
                    finish(store, log, log.record(claim.commit_id))
                out.append({"key": obj.key, "status": "already_accounted"})
                continue
            held = 0
            if fits:
                try:
                    fmt, gz = readers.detect_format(name)
                    held = readers.rows_held(path, fmt, gz, limits) or 0
                except Exception:  # the count is best effort: the file is kept whatever it holds
                    held = 0
            dest = lake_keys.quarantine_file_key(zones, contract.name, sha, f"dead-letter-{name}")
            store.copy(obj, dest)
            commit_id = f"file-{sha[:32]}-{claim.attempt}"
            outputs = StagedOutputs(store, zones, contract, commit_id)
            counts = {
                "in_records": held,
                "dead_lettered": held,
                "files": 1,
                "files_dead_lettered": 1,
            }
            key = lake_keys.manifest_key(zones, contract.name, sha)
            manifest = {
                "status": "dead_lettered",
                "rule": "dead_letter",
                "reason": reason,
                "commit_id": commit_id,
                "source": {**obj.as_dict(), "kind": "s3"},
                "sha256": sha,
                "contract": {"name": contract.name, "version": contract.version},
                "counts": {"rows_in": held, "valid": 0, "rejected": 0, "dead_lettered": held},
                "outputs": {"curated": [], "quarantine": [], "file": dest},
                "ingested_at": now.isoformat(),
            }
            outputs.document(key, manifest)
            commit = Commit(
                commit_id=commit_id,
                contract=contract.name,
                source="s3",
                manifest_key=key,
                counts=counts,
                staged=dict(outputs.staged),
                completion=FileCompletion(sha, owner, "dead_lettered"),
                dead_letter=True,
            )
            try:
                log.commit(commit, expires_at=int(now.timestamp()) + COMMIT_RECORD_SECONDS)
            except BaseException:
                claims.release(sha, contract.name, owner)
                raise
            promote(store, commit.staged)
            log.mark_promoted(commit)
            out.append(
                {"key": obj.key, "status": "dead_lettered", "rows": held, "file": dest,
                 "manifest": key}
            )  # fmt: skip
    return out


def is_file_failure(message: dict[str, Any]) -> bool:
    """An async invocation's on-failure record (the batch function), not a Kinesis one."""
    return "requestPayload" in message and "KinesisBatchInfo" not in message
