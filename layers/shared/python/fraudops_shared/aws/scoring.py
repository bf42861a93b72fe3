"""The scorers' adapters (``fraudops_shared.scoring.ports``): card states in the state table,
decisions in the decisions table, the decisions stream, flagged events, the scoring checkpoint
and counters, parked records in S3, and the registry as a verified model source.

Card states are keyed by a hash of the card id (``card_key``), never the id itself: the table,
its backups and anyone allowed to read them see no card numbers. Batched calls run a few at a
time on a small pool (boto3 clients are thread-safe), so a 10,000-record batch's reads and writes
cost round trips in parallel, not one after another.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.aws.dynamodb import (
    account_key,
    add_counts,
    batch_get,
    ranges_reaching,
    seq_key,
)
from fraudops_shared.aws.s3 import S3Bucket
from fraudops_shared.features.online import CardState
from fraudops_shared.features.windows import WindowSpec
from fraudops_shared.ingestion.scoring_feed import aggregate_entries, put_entries
from fraudops_shared.lake.commits import CommitConflict
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime.settings import (
    COMMIT_MARK_TTL_SECONDS,
    PARKED_PREFIX,
    PK_CARD,
    PK_SCORING,
    SOURCE_SCORING,
)
from fraudops_shared.scoring.ports import StateConflict, StateWrite, StoredState
from fraudops_shared.training.artifacts import Artifacts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_s3 import S3Client

WORKERS = 8
TRANSACT_ITEMS = 100
TRANSACT_BYTES = 3_500_000  # under DynamoDB's 4 MB per transaction, with room for the keys
BATCH_WRITE_ITEMS = 25
EVENTS_PER_CALL = 10
STATE_TTL_MARGIN_SECONDS = 86_400
DECISION_TTL_SECONDS = 400 * 86_400
FLAGGED = "Transaction Flagged"


def card_key(contract: str, card: str) -> str:
    return f"{PK_CARD}{contract}#{hashlib.sha256(card.encode('utf-8')).hexdigest()[:32]}"


def _parallel[T](fn: Callable[[T], Any], parts: Sequence[T], workers: int) -> list[Any]:
    if len(parts) <= 1 or workers <= 1:
        return [fn(p) for p in parts]
    with ThreadPoolExecutor(min(workers, len(parts))) as pool:
        return list(pool.map(fn, parts))


class DynamoCardStates:
    def __init__(self, client: DynamoDBClient, table: str, workers: int = WORKERS) -> None:
        self.client, self.table, self.workers = client, table, workers

    def get_many(
        self, contract: str, cards: Sequence[str], spec: WindowSpec
    ) -> dict[str, StoredState]:
        by_key = {card_key(contract, c): c for c in cards}
        keys = [{"pk": {"S": k}, "sk": {"S": "STATE"}} for k in by_key]
        chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        found = _parallel(
            lambda part: batch_get(self.client, self.table, part, ConsistentRead=True),
            chunks,
            self.workers,
        )
        out = {}
        for items in found:
            for item in items:
                state = CardState.from_bytes(bytes(item["state"]["B"]), spec)
                out[by_key[item["pk"]["S"]]] = StoredState(state, int(item["v"]["N"]))
        return out

    def put_many(self, contract: str, writes: Sequence[StateWrite]) -> None:
        chunks: list[list[dict[str, Any]]] = [[]]
        size = 0
        for w in writes:
            data = w.state.to_bytes()
            if chunks[-1] and (
                len(chunks[-1]) == TRANSACT_ITEMS or size + len(data) > TRANSACT_BYTES
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(self._put(contract, w, data))
            size += len(data) + 200
        done = _parallel(self._transact, [c for c in chunks if c], self.workers)
        conflicts = [c for c in done if c]
        if conflicts:
            raise StateConflict(f"{sum(conflicts)} card state(s) changed since they were read")

    def _put(self, contract: str, w: StateWrite, data: bytes) -> dict[str, Any]:
        expires = (w.state.expires_at or int(time.time())) + STATE_TTL_MARGIN_SECONDS
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": card_key(contract, w.card)},
                "sk": {"S": "STATE"},
                "state": {"B": data},
                "v": {"N": str(w.expected + 1)},
                "expires_at": {"N": str(expires)},
            },
        }
        if w.expected == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "v = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(w.expected)}}
        return {"Put": put}

    def _transact(self, items: list[dict[str, Any]]) -> int:
        """How many of the chunk's conditions failed (0: written)."""
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
            failed = sum(1 for r in reasons if r == "ConditionalCheckFailed")
            if not failed:
                raise  # cancelled for another reason (a conflict in flight): retried by Lambda
            return failed
        return 0


class DynamoDecisionStore:
    """One item per transaction: the decision document as JSON, plus its outcome for queries."""

    def __init__(self, client: DynamoDBClient, table: str, workers: int = WORKERS) -> None:
        self.client, self.table, self.workers = client, table, workers

    def get_many(self, transaction_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(transaction_ids))
        keys = [{"transaction_id": {"S": t}} for t in ids]
        chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        found = _parallel(
            lambda part: batch_get(self.client, self.table, part, ConsistentRead=True),
            chunks,
            self.workers,
        )
        return {
            item["transaction_id"]["S"]: json.loads(item["doc"]["S"])
            for items in found
            for item in items
        }

    def put_many(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": self._item(d)}} for d in decisions]
        chunks = [requests[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(requests), 25)]
        _parallel(self._write, chunks, self.workers)

    def put_new(self, decision: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._item(decision),
                ConditionExpression="attribute_not_exists(transaction_id)",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            tid = str(decision["transaction_id"])
            return self.get_many([tid]).get(tid)
        return None

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: Any = {self.table: requests}
        for attempt in range(8):
            if attempt:
                time.sleep(min(2.0, 0.05 * 2**attempt))
            pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if not pending:
                return
        raise RuntimeError(f"decisions not written after retries: {len(pending[self.table])}")

    @staticmethod
    def _item(d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "transaction_id": {"S": str(d["transaction_id"])},
            "doc": {"S": json.dumps(d, separators=(",", ":"), default=str)},
            "outcome": {"S": str(d["outcome"])},
            "model_version": {"N": str(d["model_version"])},
            "decided_at": {"S": str(d["decided_at"])},
            "expires_at": {"N": str(int(time.time()) + DECISION_TTL_SECONDS)},
        }


class KinesisDecisionSink:
    """The decisions stream: KPL-aggregated entries keyed by transaction id."""

    def __init__(self, client: KinesisClient, stream: str) -> None:
        from fraudops_shared.aws.kinesis import KinesisRecordSink

        self.sink = KinesisRecordSink(client, stream)

    def publish(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        entries = [
            {
                "Data": json.dumps(d, separators=(",", ":"), default=str).encode(),
                "PartitionKey": str(d["transaction_id"]),
            }
            for d in decisions
        ]
        if entries:
            put_entries(self.sink, aggregate_entries(entries))


class KinesisTransactionSink:
    def __init__(self, client: KinesisClient, stream: str) -> None:
        self.client, self.stream = client, stream

    def put(self, record: Mapping[str, Any]) -> None:
        self.client.put_record(
            StreamName=self.stream,
            Data=json.dumps(record, separators=(",", ":"), default=str).encode(),
            PartitionKey=str(record.get("card_id") or record.get("transaction_id")),
        )


class EventBridgeFlags:
    """``Transaction Flagged`` events: what a case-management consumer needs to open a case
    (no card or customer id: it looks the transaction up by id)."""

    FIELDS = ("transaction_id", "outcome", "score", "model_id", "model_version", "reasons",
              "decided_at", "source")  # fmt: skip

    def __init__(self, client: EventBridgeClient, source: str, bus: str = "default") -> None:
        self.client, self.source, self.bus = client, source, bus

    def publish(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        entries = [
            {
                "Source": self.source,
                "DetailType": FLAGGED,
                "EventBusName": self.bus,
                "Detail": json.dumps({k: d.get(k) for k in self.FIELDS}, default=str),
            }
            for d in decisions
        ]
        for i in range(0, len(entries), EVENTS_PER_CALL):
            pending: list[Any] = entries[i : i + EVENTS_PER_CALL]
            for attempt in range(5):
                if attempt:
                    time.sleep(0.1 * 2**attempt)
                resp = self.client.put_events(Entries=pending)
                if not resp.get("FailedEntryCount"):
                    break
                results = resp["Entries"]
                pending = [e for e, r in zip(pending, results, strict=True) if r.get("ErrorCode")]
            else:
                raise RuntimeError(f"{len(pending)} flagged event(s) refused by EventBridge")


class DynamoScoringLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def checkpoint(self, stream: str, shard: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"{PK_SCORING}{stream}#{shard}"}, "sk": {"S": "CHECKPOINT"}},
            ConsistentRead=True,
        ).get("Item")
        return (item["last"]["S"].lstrip("0") or "0") if item else None

    def commit(
        self, contract: str, stream: str, shard: str, expected: str | None, first: str,
        last: str, counts: Mapping[str, int],
    ) -> None:  # fmt: skip
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": f"{PK_SCORING}{stream}#{shard}"},
                "sk": {"S": "CHECKPOINT"},
                "last": {"S": seq_key(last)},
            },
        }
        if expected is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#l = :expected"
            put["ExpressionAttributeNames"] = {"#l": "last"}
            put["ExpressionAttributeValues"] = {":expected": {"S": seq_key(expected)}}
        committed_range = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": f"{PK_SCORING}log#{stream}#{shard}"},
                    "sk": {"S": seq_key(first)},
                    "last": {"S": seq_key(last)},
                    "expires_at": {"N": str(int(time.time()) + COMMIT_MARK_TTL_SECONDS)},
                },
            }
        }
        counters = add_counts(self.table, contract, SOURCE_SCORING, counts)
        self._transact([{"Put": put}, committed_range, counters])

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        """Newest first from ``last`` down, until a commit ends before ``first``."""
        pk = f"{PK_SCORING}log#{stream}#{shard}"
        return ranges_reaching(self.client, self.table, pk, first, last)

    def commit_once(self, contract: str, key: str, counts: Mapping[str, int]) -> bool:
        done = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": f"{PK_SCORING}done#{key}"},
                    "sk": {"S": "DONE"},
                    "at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._transact([done, add_counts(self.table, contract, SOURCE_SCORING, counts)])
        except CommitConflict:
            return False
        return True

    def dead_version(self, stream: str, shard: str) -> int:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"{PK_SCORING}{stream}#{shard}"}, "sk": {"S": "DEADLOG"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["version"]["N"]) if item else 0

    def claim_dead(
        self, contract: str, stream: str, shard: str, version: int,
        runs: Sequence[tuple[str, str]], counts: Mapping[str, int],
    ) -> None:  # fmt: skip
        lock: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": f"{PK_SCORING}{stream}#{shard}"},
                "sk": {"S": "DEADLOG"},
                "version": {"N": str(version + 1)},
            },
        }
        if version == 0:
            lock["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            lock["ConditionExpression"] = "version = :v"
            lock["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        expires = str(int(time.time()) + COMMIT_MARK_TTL_SECONDS)
        marks = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": {"S": f"{PK_SCORING}log#{stream}#{shard}"},
                        "sk": {"S": seq_key(lo)},
                        "last": {"S": seq_key(hi)},
                        "dead_letter": {"BOOL": True},
                        "expires_at": {"N": expires},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for lo, hi in runs
        ]
        counters = add_counts(self.table, contract, SOURCE_SCORING, counts)
        self._transact([{"Put": lock}, *marks, counters])

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as err:
            reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                raise CommitConflict(str(err)) from None
            raise

    def counts(self, contract: str) -> dict[str, int]:
        item = (
            self.client.get_item(
                TableName=self.table, Key=account_key(contract, SOURCE_SCORING), ConsistentRead=True
            ).get("Item")
            or {}
        )
        return {k: int(v["N"]) for k, v in item.items() if "N" in v}


class S3ParkedStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.s3, self.bucket = client, bucket

    def park(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        body = "".join(json.dumps(r, default=str) + "\n" for r in rows).encode()
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )

    def keys(self, contract: str) -> list[str]:
        prefix = f"{PARKED_PREFIX}{contract}/waiting/"
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def read(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def retire(self, key: str) -> None:
        dest = key.replace("/waiting/", "/replayed/", 1)
        self.s3.copy_object(
            Bucket=self.bucket, Key=dest, CopySource={"Bucket": self.bucket, "Key": key}
        )
        self.s3.delete_object(Bucket=self.bucket, Key=key)


class RegistryModelSource:
    """The registry's pointer and records, and artifacts read at their exact version and
    checked against their SHA-256 (a reference without one is refused)."""

    def __init__(self, registry: ModelRegistry, s3: S3Client) -> None:
        self.registry, self.s3 = registry, s3

    def pointer(self, contract: str) -> Mapping[str, Any] | None:
        return self.registry.champion_pointer(contract)

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None:
        return self.registry.get_version(contract, version)

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        return Artifacts(S3Bucket(self.s3, str(ref.get("bucket") or ""))).get(ref)
