"""Dead letters of scoring: feed batches the scoring function gave up on (retries exhausted,
records too old), read back from the shard, kept and counted, so ``in = decided + parked +
dead_lettered (+ expired_unrecoverable)`` holds for scoring as it does for ingestion.

The on-failure record holds only the range; the records are read back (completely or loudly:
``ingestion.read_back``) and each feed record is accounted once, however many on-failure
records cover it (Lambda sends one per give-up, a bisected batch gives up in halves, LocalStack
also sends ranges that span batches already handled):

* records a commit covers (the scorer's, or an earlier dead-letter accounting's) are skipped;
* a record whose transactions all have a stored decision counts as decided: an invocation
  stored and published them, then died before committing (a configuration update, a timeout);
* the rest are kept under ``parked/<contract>/dead/`` with the reason Lambda gave up and counted
  as dead-lettered.

What is accounted is committed as runs of sequence numbers in the shard's commit log, with the
counters, in one transaction conditional on the shard's dead-letter version: two accountings of
overlapping ranges cannot both count a record (the loser reads again and finds it covered). They
are not replayed on their own: a batch that failed every retry has something wrong with it or
with the scorer; once fixed, an operator lands them again (their transaction ids make that
idempotent).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fraudops_shared.ingestion.read_back import check_complete, gave_up_reason
from fraudops_shared.ingestion.records import KinesisRecord, ShardReader
from fraudops_shared.ingestion.stream_records import as_text, split
from fraudops_shared.lake.commits import CommitConflict
from fraudops_shared.runtime.settings import PARKED_PREFIX
from fraudops_shared.scoring.ports import DecisionStore, ParkedStore, ScoringLog

DEAD_FOLDER = "dead/"
RUNS_PER_COMMIT = 90  # a DynamoDB transaction holds 100 items: the version, the counters, runs
MAX_ATTEMPTS = 5  # another accounting of the same shard committed meanwhile: read again


def account_scoring_dead_letters(
    message: dict[str, Any],
    *,
    contract: str,
    reader: ShardReader,
    log: ScoringLog,
    parked: ParkedStore,
    decisions: DecisionStore,
) -> dict[str, Any]:
    info = message["KinesisBatchInfo"]
    shard, first, last = info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]
    stream = info["streamArn"].rsplit("/", 1)[-1]
    size = info.get("batchSize")
    records, expired = check_complete(
        reader.read(info["streamArn"], shard, first, last), first, last, int(size) if size else None
    )
    reason = gave_up_reason(message, "scoring function")
    summary: dict[str, Any] = {"batch": f"{stream}-{shard}-{first}-{last}",
                               "read_back": len(records), "already_committed": len(records),
                               "decided": 0, "dead_lettered": 0, "expired_unrecoverable": 0,
                               "kept": []}  # fmt: skip
    for attempt in range(MAX_ATTEMPTS):
        version = log.dead_version(stream, shard)
        ranges = log.covered(stream, shard, first, last)
        lost = [r for r in records if not _inside(int(r.sequence_number), ranges)]
        summary["already_committed"] = len(records) - len(lost)
        try:
            for chunk in _chunks(_runs(records, ranges)):
                done = _account(chunk, contract=contract, stream=stream, shard=shard,
                                version=version, reason=reason, log=log, parked=parked,
                                decisions=decisions)  # fmt: skip
                version += 1
                for name in ("decided", "dead_lettered"):
                    summary[name] += done[name]
                if done["key"]:
                    summary["kept"].append(done["key"])
            break
        except CommitConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    if expired:  # counted once per on-failure record: what was trimmed cannot be told apart
        counts = {"in_records": expired, "expired_unrecoverable": expired}
        if log.commit_once(contract, f"{summary['batch']}#expired", counts):
            summary["expired_unrecoverable"] = expired
    summary["first"] = bool(summary["decided"] or summary["dead_lettered"]
                            or summary["expired_unrecoverable"])  # fmt: skip
    return summary


def _inside(seq: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= seq <= hi for lo, hi in ranges)


def _runs(
    records: Sequence[KinesisRecord], ranges: Sequence[tuple[int, int]]
) -> list[list[KinesisRecord]]:
    """The records no commit covers, as runs of neighbours on the shard: each run is a range no
    other commit reaches into, so the shard log's ranges stay disjoint."""
    runs: list[list[KinesisRecord]] = []
    current: list[KinesisRecord] = []
    for record in records:
        if _inside(int(record.sequence_number), ranges):
            if current:
                runs.append(current)
            current = []
        else:
            current.append(record)
    if current:
        runs.append(current)
    return runs


def _chunks(runs: list[list[KinesisRecord]]) -> list[list[list[KinesisRecord]]]:
    return [runs[i : i + RUNS_PER_COMMIT] for i in range(0, len(runs), RUNS_PER_COMMIT)]


def _account(
    runs: list[list[KinesisRecord]], *, contract: str, stream: str, shard: str, version: int,
    reason: str, log: ScoringLog, parked: ParkedStore, decisions: DecisionStore,
) -> dict[str, Any]:  # fmt: skip
    """Keep and commit one chunk of runs: the undecided records parked, then the runs and the
    counters in one transaction (``CommitConflict`` if another accounting went first)."""
    feed = [record for run in runs for record in run]
    parts = [(record, split(record)) for record in feed]
    ids = [tid for _, (users, _b) in parts for u in users if (tid := _transaction_id(u.data))]
    stored = decisions.get_many(ids) if ids else {}
    rows: list[dict[str, Any]] = []
    decided = 0
    for _record, (users, broken) in parts:
        tids = [_transaction_id(u.data) for u in users]
        if broken is None and users and all(t is not None and t in stored for t in tids):
            decided += 1  # stored and published by an invocation that died before committing
            continue
        if broken is not None:
            rows.append({"record_id": broken.record_id, "rule": "dead_letter", "reason": reason,
                         "replayable": False, "record": broken.record})  # fmt: skip
        rows += [
            {"record_id": u.record_id, "rule": "dead_letter", "reason": reason,
             "replayable": False, "record": as_text(u.data)}
            for u in users
        ]  # fmt: skip
    key = None
    if rows:  # named by the chunk's own records: a retry after a conflict writes the same file
        key = (f"{PARKED_PREFIX}{contract}/{DEAD_FOLDER}{stream}-{shard}-"
               f"{feed[0].sequence_number}-{feed[-1].sequence_number}.jsonl")  # fmt: skip
        parked.park(key, rows)
    counts = {"in_records": len(rows) + decided, "decided": decided, "dead_lettered": len(rows)}
    spans = [(run[0].sequence_number, run[-1].sequence_number) for run in runs]
    log.claim_dead(contract, stream, shard, version, spans, counts)
    return {"decided": decided, "dead_lettered": len(rows), "key": key}


def _transaction_id(data: bytes) -> str | None:
    """The transaction id a feed user record carries, if it can be read (never raises)."""
    try:
        value = json.loads(data)
    except Exception:  # not JSON, not text: kept as a dead letter
        return None
    tid = value.get("transaction_id") if isinstance(value, dict) else None
    return tid if isinstance(tid, str) and tid else None
