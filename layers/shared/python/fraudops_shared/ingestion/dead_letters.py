"""Dead letters of the stream: keep the records, not only the pointers, and count them.

When the stream function gives up on a batch, Lambda's on-failure destination receives only
metadata (shard, first and last sequence number). The records themselves expire with the
stream's retention, so this reads them back from the shard, writes them under
``quarantine/_dead_letter/`` with the failure reason, and commits them in the ledger as
``dead_lettered``, skipping records an earlier delivery already committed (the handler commits
the good records of a partly failed batch). Processing the same message twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fraudops_shared.ingestion.records import Ledger, ShardReader, ZoneWriter
from fraudops_shared.ingestion.stream import split
from fraudops_shared.runtime.settings import DEAD_LETTER_BATCH_PREFIX


def _reason(message: dict[str, Any]) -> str:
    ctx = message.get("requestContext", {})
    resp = message.get("responseContext", {})
    parts = [ctx.get("condition", "unknown condition")]
    if resp.get("functionError"):
        parts.append(f"function error {resp['functionError']}")
    if ctx.get("approximateInvokeCount"):
        parts.append(f"after {ctx['approximateInvokeCount']} attempts")
    return "stream function gave up: " + ", ".join(parts)


def account_dead_letters(
    message: dict[str, Any],
    *,
    contract_name: str,
    reader: ShardReader,
    ledger: Ledger,
    zones: ZoneWriter,
    now: datetime,
) -> dict[str, Any]:
    info = message["KinesisBatchInfo"]
    shard, first, last = info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    records = reader.read(info["streamArn"], shard, first, last)
    done = ledger.committed([r.record_id for r in records])
    lost = [r for r in records if r.record_id not in done]
    summary: dict[str, Any] = {
        "batch": f"{shard}-{first}-{last}",
        "batch_size": info.get("batchSize"),
        "read_back": len(records),
        "already_committed": len(done),
        "dead_lettered": 0,
    }
    if not lost:
        return summary
    reason = _reason(message)
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
    batch_id = f"{DEAD_LETTER_BATCH_PREFIX}{summary['batch']}"
    key = zones.write_quarantine(contract_name, batch_id, rows)
    counts = {"in_records": len(rows), "dead_lettered": len(rows)}
    manifest: dict[str, Any] = {
        "source": "kinesis-dead-letter",
        "batch_id": batch_id,
        "contract": contract_name,
        "kinesis_records": [r.record_id for r in lost],
        "counts": counts,
        "reason": reason,
        "outputs": {"quarantine": key},
        "ingested_at": now.isoformat(),
    }
    manifest_key = zones.write_manifest(contract_name, batch_id, manifest)
    ids: Sequence[str] = [r.record_id for r in lost]
    ledger.commit(contract_name, ids, counts, manifest_key)
    summary["dead_lettered"] = len(rows)
    return summary
