"""Commits and the dedupe index in the state table (``lake.commits.CommitLog``,
``ingestion.dedupe.KeyIndexStore``).

Items (pk / sk):
* ``COMMIT#<commit id>`` / ``COMMIT``: what a commit staged where, its manifest, whether it was
  promoted; expires with the index pages that name it;
* ``COMMITTED#<contract>`` / ``<manifest key>``: the committed manifests snapshots may read;
* ``CHECKPOINT#<stream>#<shard>`` / ``CHECKPOINT``: the last sequence number committed;
* ``SHARDLOG#<stream>#<shard>`` / ``<first sequence>``: each commit's range (the dead-letter
  path asks which commit covers a record); expires after the stream's maximum retention;
* ``KEYS#<contract>#<day>`` / ``HEAD``: the day's index version; ``P#<page id>``: one page of
  sorted 64-bit key hashes (binary, little endian) and the commit that wrote it.

Sequence numbers are compared as numbers: they are stored zero-padded to 64 digits (Kinesis
sequence numbers have up to 56), so DynamoDB's string order is their order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.aws.dynamodb import (
    add_counts,
    batch_get,
    query_all,
    ranges_reaching,
    seq_key,
)
from fraudops_shared.ingestion.claims import ClaimLostError
from fraudops_shared.ingestion.dedupe import CommitRef, Page
from fraudops_shared.lake.commits import (
    Checkpoint,
    Commit,
    CommitConflict,
    CommitRecord,
)
from fraudops_shared.runtime.settings import (
    COMMIT_MARK_TTL_SECONDS,
    PK_CHECKPOINT,
    PK_COMMIT,
    PK_COMMITTED,
    PK_FILE,
    PK_KEYS,
    PK_SHARDLOG,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE = 25  # BatchWriteItem's limit
WRITE_ATTEMPTS = 8


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


class DynamoCommitLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    # --- the commit -----------------------------------------------------------------------------

    def commit(self, commit: Commit, *, expires_at: int) -> None:
        items: list[Any] = [self._record_put(commit, expires_at)]
        items.append(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        **_key(f"{PK_COMMITTED}{commit.contract}", commit.manifest_key),
                        "commit_id": _s(commit.commit_id),
                        "source": _s(commit.source),
                    },
                }
            }
        )
        items.append(add_counts(self.table, commit.contract, commit.source, commit.counts))
        for day, version in sorted(commit.heads.items()):
            items.append(self._head_update(commit.contract, day, version, expires_at))
        if commit.position is not None:
            items += self._position(commit)
        if commit.completion is not None:
            items.append(self._completion(commit))
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "") for r in err.response.get("CancellationReasons", [])]
            if (
                commit.completion is not None
                and reasons
                and reasons[-1] == "ConditionalCheckFailed"
            ):
                raise ClaimLostError(
                    f"claim FILE#{commit.completion.sha256[:16]} of {commit.contract} is no longer "
                    f"held by {commit.completion.owner}"
                ) from err
            conflict = CommitConflict(f"commit {commit.commit_id} not applied: {reasons}")
            conflict.already_committed = bool(reasons) and reasons[0] == "ConditionalCheckFailed"  # type: ignore[attr-defined]
            raise conflict from err

    def _record_put(self, commit: Commit, expires_at: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_key(f"{PK_COMMIT}{commit.commit_id}", "COMMIT"),
            "contract": _s(commit.contract),
            "source": _s(commit.source),
            "manifest": _s(commit.manifest_key),
            "staged": _s(json.dumps(dict(commit.staged), sort_keys=True)),
            "curated": _s(json.dumps(list(commit.curated))),
            "promoted": {"BOOL": not commit.staged},
            "dead_letter": {"BOOL": commit.dead_letter},
            "committed_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(expires_at)},
        }
        if commit.position is not None:
            item["first"] = _s(commit.position.first)
            item["last"] = _s(commit.position.last)
            item["stream"] = _s(commit.position.stream)
            item["shard"] = _s(commit.position.shard)
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _head_update(self, contract: str, day: str, expected: int, expires_at: int) -> Any:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(f"{PK_KEYS}{contract}#{day}", "HEAD"),
            "UpdateExpression": "SET ver = :new, expires_at = :exp",
            "ExpressionAttributeValues": {
                ":new": {"N": str(expected + 1)},
                ":exp": {"N": str(expires_at)},
            },
        }
        if expected:
            update["ConditionExpression"] = "ver = :expected"
            update["ExpressionAttributeValues"][":expected"] = {"N": str(expected)}
        else:
            update["ConditionExpression"] = "attribute_not_exists(ver)"
        return {"Update": update}

    def _position(self, commit: Commit) -> list[Any]:
        pos = commit.position
        assert pos is not None
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(f"{PK_CHECKPOINT}{pos.stream}#{pos.shard}", "CHECKPOINT"),
            "UpdateExpression": "SET #l = :last, commit_id = :id, promoted = :p",
            "ExpressionAttributeNames": {"#l": "last"},
            "ExpressionAttributeValues": {
                ":last": _s(seq_key(pos.last)),
                ":id": _s(commit.commit_id),
                ":p": {"BOOL": not commit.staged},
            },
        }
        if pos.expected is None:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            update["ConditionExpression"] = "#l = :expected"
            update["ExpressionAttributeValues"][":expected"] = _s(seq_key(pos.expected))
        log = {
            **_key(f"{PK_SHARDLOG}{pos.stream}#{pos.shard}", seq_key(pos.first)),
            "last": _s(seq_key(pos.last)),
            "commit_id": _s(commit.commit_id),
            "expires_at": {"N": str(int(time.time()) + COMMIT_MARK_TTL_SECONDS)},
        }
        return [{"Update": update}, {"Put": {"TableName": self.table, "Item": log}}]

    def _completion(self, commit: Commit) -> Any:
        done = commit.completion
        assert done is not None
        return {
            "Update": {
                "TableName": self.table,
                "Key": _key(f"{PK_FILE}{done.sha256}", f"CLAIM#{commit.contract}"),
                "UpdateExpression": "SET #s = :done, manifest = :m, counts = :c, commit_id = :id, "
                "outcome = :o",
                "ConditionExpression": "#s = :ip AND #o = :owner",
                "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
                "ExpressionAttributeValues": {
                    ":done": _s("COMPLETED"),
                    ":ip": _s("IN_PROGRESS"),
                    ":owner": _s(done.owner),
                    ":m": _s(commit.manifest_key),
                    ":c": {"M": {k: {"N": str(v)} for k, v in commit.counts.items()}},
                    ":id": _s(commit.commit_id),
                    ":o": _s(done.outcome),
                },
            }
        }

    # --- after the commit -------------------------------------------------------------------------

    def mark_promoted(self, commit: CommitRecord | Commit) -> None:
        """The commit, and the shard's checkpoint if it is still this commit's: one call."""
        commit_key = _key(f"{PK_COMMIT}{commit.commit_id}", "COMMIT")
        promoted = {":t": {"BOOL": True}}
        stream, shard = _position_of(commit)
        if not (stream and shard):
            self._mark(commit_key)
            return
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": commit_key,
                            "UpdateExpression": "SET promoted = :t",
                            "ExpressionAttributeValues": promoted,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(f"{PK_CHECKPOINT}{stream}#{shard}", "CHECKPOINT"),
                            "UpdateExpression": "SET promoted = :t",
                            "ConditionExpression": "commit_id = :id",
                            "ExpressionAttributeValues": {
                                **promoted,
                                ":id": _s(commit.commit_id),
                            },
                        }
                    },
                ]
            )
        except ClientError as err:  # a later commit moved the checkpoint: mark the commit alone
            reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
            if reasons[1:2] != ["ConditionalCheckFailed"]:
                raise
            self._mark(commit_key)

    def _mark(self, key: dict[str, Any]) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET promoted = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    # --- reads ------------------------------------------------------------------------------------

    def record(self, commit_id: str) -> CommitRecord | None:
        item = self.client.get_item(
            TableName=self.table, Key=_key(f"{PK_COMMIT}{commit_id}", "COMMIT"), ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def checkpoint(self, stream: str, shard: str) -> Checkpoint | None:
        item = self.client.get_item(
            TableName=self.table,
            Key=_key(f"{PK_CHECKPOINT}{stream}#{shard}", "CHECKPOINT"),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return Checkpoint(
            last=item["last"]["S"].lstrip("0") or "0",
            commit_id=item["commit_id"]["S"],
            promoted=bool(item.get("promoted", {}).get("BOOL", True)),
        )

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        """Newest first from ``last`` down, until a commit ends before ``first``."""
        pk = f"{PK_SHARDLOG}{stream}#{shard}"
        return ranges_reaching(self.client, self.table, pk, first, last)

    def committed(self, contract: str) -> dict[str, str]:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"{PK_COMMITTED}{contract}")},
            ProjectionExpression="sk, commit_id",
            ConsistentRead=True,
        )
        return {i["sk"]["S"]: i["commit_id"]["S"] for i in items}


def _position_of(commit: CommitRecord | Commit) -> tuple[str | None, str | None]:
    if isinstance(commit, Commit):
        pos = commit.position
        return (pos.stream, pos.shard) if pos else (None, None)
    return commit.stream, commit.shard


def _record(item: Mapping[str, Any]) -> CommitRecord:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    first, last = text("first"), text("last")
    return CommitRecord(
        commit_id=item["pk"]["S"].removeprefix(PK_COMMIT),
        contract=text("contract") or "",
        source=text("source") or "",
        manifest_key=text("manifest") or "",
        staged=json.loads(text("staged") or "{}"),
        promoted=bool(item.get("promoted", {}).get("BOOL", False)),
        curated=tuple(json.loads(text("curated") or "[]")),
        first=first,
        last=last,
        stream=text("stream"),
        shard=text("shard"),
        dead_letter=bool(item.get("dead_letter", {}).get("BOOL", False)),
    )


# --- the dedupe index -----------------------------------------------------------------------------


class DynamoKeyIndex:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def heads(self, contract: str, days: Sequence[str]) -> dict[str, int]:
        keys = [_key(f"{PK_KEYS}{contract}#{d}", "HEAD") for d in days]
        found = batch_get(self.client, self.table, keys, ConsistentRead=True)
        return {i["pk"]["S"].rsplit("#", 1)[1]: int(i.get("ver", {}).get("N", "0")) for i in found}

    def pages(self, contract: str, day: str, since_ms: int) -> list[Page]:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": _s(f"{PK_KEYS}{contract}#{day}"),
                ":lo": _s(f"P#{since_ms:013d}"),
                ":hi": _s("P#~"),
            },
            ConsistentRead=True,
        )
        pages = []
        for item in items:
            written, commit_id, part = item["sk"]["S"][2:].split("#", 2)
            hashes = np.frombuffer(bytes(item["h"]["B"]), dtype="<u8").astype(np.uint64)
            pages.append(Page(day, commit_id, int(part), hashes, int(written)))
        return pages

    def put_pages(self, contract: str, pages: Sequence[Page], expires_at: int) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **_key(f"{PK_KEYS}{contract}#{p.day}", f"P#{p.page_id}"),
                        "commit_id": _s(p.commit_id),
                        "h": {"B": np.asarray(p.hashes, "<u8").tobytes()},
                        "expires_at": {"N": str(expires_at)},
                    }
                }
            }
            for p in pages
        ]
        for start in range(0, len(requests), BATCH_WRITE):
            pending: Any = {self.table: requests[start : start + BATCH_WRITE]}
            for attempt in range(WRITE_ATTEMPTS):
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off, then resend
            if pending:
                raise RuntimeError(f"index pages not written after {WRITE_ATTEMPTS} attempts")

    def commits(self, commit_ids: Sequence[str]) -> dict[str, CommitRef]:
        keys = [_key(f"{PK_COMMIT}{c}", "COMMIT") for c in commit_ids]
        found = batch_get(self.client, self.table, keys, ConsistentRead=True)
        refs = {}
        for item in found:
            record = _record(item)
            if record.dead_letter:
                continue
            refs[record.commit_id] = CommitRef(
                record.commit_id, record.manifest_key, record.source, record.curated
            )
        return refs
