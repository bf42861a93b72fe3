"""Dead letters of the stream: keep the records, not only the pointers, and count them; read
back completely or say loudly what could not be.

When the stream function gives up on a batch, Lambda's on-failure destination receives only
metadata (shard, first and last sequence number, batch size). The records themselves expire with
the stream's retention, so this reads them back from the shard and commits them as
``dead_lettered`` (kept under ``quarantine/<contract>/stream/dlq-...``), skipping the records an
earlier commit covers (a bisected half of the batch may have committed).

The read-back must be exactly the batch: ``batchSize`` Kinesis records from its first sequence
number to its last. Records already trimmed from the shard (the message was handled after the
stream's retention) cannot be kept: they are counted as ``expired_unrecoverable`` (and alarmed),
so ``in = curated + quarantined + dead_lettered + expired_unrecoverable`` still balances. A read
that stops short for any other reason raises: the message stays in the queue and is retried,
and after the queue's receive limit it moves to the "unaccounted" queue, which is alarmed.
Processing the same message twice changes nothing: the dead-letter commit is keyed by the range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fraudops_shared.ingestion.read_back import check_complete, gave_up_reason
from fraudops_shared.ingestion.records import ShardReader
from fraudops_shared.ingestion.stream_records import split
from fraudops_shared.lake import zones as lake_keys
from fraudops_shared.lake.commits import Commit, CommitConflict, CommitLog, promote
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.writer import StagedOutputs
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import DEAD_LETTER_BATCH_PREFIX, SOURCE_KINESIS


def account_dead_letters(
    message: dict[str, Any],
    *,
    contract: Any,
    reader: ShardReader,
    log: CommitLog,
    store: ObjectStore,
    zones: Zones,
    now: datetime,
    index_ttl_seconds: int,
) -> dict[str, Any]:
    info = message["KinesisBatchInfo"]
    shard, first, last = info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    stream_arn = info["streamArn"]
    stream = stream_arn.rsplit("/", 1)[-1]
    size = info.get("batchSize")
    records, expired = check_complete(
        reader.read(stream_arn, shard, first, last), first, last, int(size) if size else None
    )
    ranges = log.covered(stream, shard, first, last)
    lost = [r for r in records if not any(lo <= int(r.sequence_number) <= hi for lo, hi in ranges)]
    summary: dict[str, Any] = {
        "batch": f"{shard}-{first}-{last}",
        "batch_size": size,
        "read_back": len(records),
        "already_committed": len(records) - len(lost),
        "expired_unrecoverable": expired,
        "dead_lettered": 0,
    }
    if not lost and not expired:
        return summary
    reason = gave_up_reason(message)
    rows: list[dict[str, Any]] = []
    for record in lost:
        parts, broken = split(record)
        if broken:
            rows.append({**broken.as_dict(), "rules": ["dead_letter"], "reasons": [reason]})
        rows.extend(
            {
                "record_id": part.record_id,
                "rules": ["dead_letter"],
                "reasons": [reason],
                "record": part.data.decode("utf-8", "backslashreplace"),
            }
            for part in parts
        )
    commit_id = f"{DEAD_LETTER_BATCH_PREFIX}{stream}-{shard}-{first}-{last}"  # unique per stream
    outputs = StagedOutputs(store, zones, contract, commit_id)
    quarantine = None
    if rows:
        quarantine = outputs.rows(
            lake_keys.stream_quarantine_key(zones, contract.name, commit_id), rows
        )
    counts = {"in_records": len(rows) + expired, "dead_lettered": len(rows)}
    if expired:
        counts["expired_unrecoverable"] = expired
    manifest = {
        "source": "kinesis-dead-letter",
        "commit_id": commit_id,
        "batch_id": commit_id,
        "contract": contract.name,
        "kinesis_records": [r.record_id for r in lost],
        "counts": counts,
        "reason": reason,
        "outputs": {"curated": [], "quarantine": quarantine},
        "ingested_at": now.isoformat(),
    }
    manifest_key = outputs.document(
        lake_keys.stream_manifest_key(zones, contract.name, commit_id), manifest
    )
    commit = Commit(
        commit_id=commit_id,
        contract=contract.name,
        source=SOURCE_KINESIS,
        manifest_key=manifest_key,
        counts=counts,
        staged=dict(outputs.staged),
        dead_letter=True,
    )
    try:
        log.commit(commit, expires_at=int(now.timestamp()) + index_ttl_seconds)
    except CommitConflict as err:
        if getattr(err, "already_committed", False):
            return {**summary, "already_accounted": True}
        raise
    promote(store, commit.staged)
    log.mark_promoted(commit)
    summary["dead_lettered"] = len(rows)
    return summary


# --- files: the batch function's on-failure destination ------------------------------------------
