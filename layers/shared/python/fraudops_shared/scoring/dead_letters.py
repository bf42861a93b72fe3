"""Dead letters of scoring: feed batches the scoring function gave up on (retries exhausted,
records too old), read back from the shard, kept and counted, so ``in = decided + parked +
dead_lettered (+ expired_unrecoverable)`` holds for scoring as it does for ingestion.

The on-failure record holds only the range; the records are read back (completely or loudly:
``ingestion.read_back``), the ones a commit covers are skipped (a bisected half may have been
decided), and the rest are kept under ``parked/<contract>/dead/`` with the reason Lambda gave
up, counted once per range (``ScoringLog.commit_once``). They are not replayed on their own: a
batch that failed every retry has something wrong with it or with the scorer; once fixed, an
operator lands them again (their transaction ids make that idempotent).
"""

from __future__ import annotations

from typing import Any

from fraudops_shared.ingestion.read_back import check_complete, gave_up_reason
from fraudops_shared.ingestion.records import ShardReader
from fraudops_shared.ingestion.stream_records import as_text, split
from fraudops_shared.runtime.settings import PARKED_PREFIX
from fraudops_shared.scoring.ports import ParkedStore, ScoringLog

DEAD_FOLDER = "dead/"


def account_scoring_dead_letters(
    message: dict[str, Any],
    *,
    contract: str,
    reader: ShardReader,
    log: ScoringLog,
    parked: ParkedStore,
) -> dict[str, Any]:
    info = message["KinesisBatchInfo"]
    shard, first, last = info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    arn = info["streamArn"]
    stream = arn.rsplit("/", 1)[-1]
    size = info.get("batchSize")
    records, expired = check_complete(
        reader.read(arn, shard, first, last), first, last, int(size) if size else None
    )
    ranges = log.covered(stream, shard, first, last)
    lost = [r for r in records if not any(lo <= int(r.sequence_number) <= hi for lo, hi in ranges)]
    reason = gave_up_reason(message, "scoring function")
    rows: list[dict[str, Any]] = []
    for record in lost:
        users, broken = split(record)
        if broken is not None:
            rows.append({"record_id": broken.record_id, "rule": "dead_letter", "reason": reason,
                         "replayable": False, "record": broken.record})  # fmt: skip
        rows += [
            {"record_id": u.record_id, "rule": "dead_letter", "reason": reason,
             "replayable": False, "record": as_text(u.data)}
            for u in users
        ]  # fmt: skip
    key = f"{PARKED_PREFIX}{contract}/{DEAD_FOLDER}{stream}-{shard}-{first}-{last}.jsonl"
    counts = {
        "in_records": len(rows) + expired,
        "dead_lettered": len(rows),
        "expired_unrecoverable": expired,
    }
    summary: dict[str, Any] = {"batch": key, "read_back": len(records),
                               "already_committed": len(records) - len(lost), **counts}  # fmt: skip
    if not rows and not expired:
        return {**summary, "first": False}
    if rows:
        parked.park(key, rows)
    summary["first"] = log.commit_once(contract, key, counts)
    return summary
