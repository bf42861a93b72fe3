"""Ingestion's items in the state table: file claims, transaction claims, commit marks, the
accounting counters and the snapshot catalog (the model registry's items are in
``aws.model_registry``). Key design: ``infra/constructs/state.py``.

Keys (pk / sk):
* ``FILE#<sha256>`` / ``CLAIM#<contract>``: a file's content claimed by one invocation: ``status``
  IN_PROGRESS|COMPLETED, ``owner`` (Lambda request id), ``source_id``, ``source`` (map),
  ``claimed_at`` (epoch s), ``manifest``;
* ``TXN#<contract>#<key>`` / ``CLAIM``: which record first brought a transaction (``owner``);
* ``SEQ#<shard>:<sequence>`` / ``COMMITTED``: a Kinesis record whose batch was committed, with
  the batch manifest's key. The first record's mark is kept for good (snapshots use it to tell a
  committed stream manifest from an orphan); the others expire after the stream's retention,
  when they can no longer be re-delivered;
* ``ACCOUNT#<contract>#<source>`` / ``COUNTS``: ``in_records``, ``curated``, ``quarantined``,
  ``dead_lettered`` counters, only ever changed with ADD inside the transaction that commits;
* ``SNAPSHOT#<contract>`` / ``<created_at>#<snapshot_id>``: the snapshot catalog.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.ingestion.claims import Claim, ClaimLostError
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.runtime.settings import (
    COMMIT_MARK_TTL_SECONDS,
    MAX_RECORDS_PER_COMMIT,
    SOURCE_S3,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
COMMITTED_SK = "COMMITTED"
SNAPSHOT_PK = "SNAPSHOT#"
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def account_key(contract: str, source: str) -> dict[str, Any]:
    return {"pk": _s(f"ACCOUNT#{contract}#{source}"), "sk": _s("COUNTS")}


def add_counts(table: str, contract: str, source: str, counts: Mapping[str, int]) -> dict:
    """The counters update of a commit transaction: ADD each count (creating it at 0)."""
    if not counts:
        raise ValueError("a commit must add at least one counter")
    names = {f"#c{i}": name for i, name in enumerate(counts)}
    values = {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
    return {
        "Update": {
            "TableName": table,
            "Key": account_key(contract, source),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(counts))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def batch_get(
    client: DynamoDBClient, table: str, keys: Sequence[Mapping[str, Any]], **read: Any
) -> list[dict[str, Any]]:
    """Every item of ``keys`` that exists, in calls of at most 100 keys, retrying unprocessed
    keys until none is left."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: Any = {table: {"Keys": list(keys[start : start + BATCH_GET_KEYS]), **read}}
        while request:
            resp = client.batch_get_item(RequestItems=request)
            found += resp["Responses"].get(table, [])
            request = resp.get("UnprocessedKeys") or {}
    return found


def query_all(client: DynamoDBClient, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a Query, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def commit_marks(client: DynamoDBClient, table: str, record_ids: Iterable[str]) -> dict[str, str]:
    """Kinesis record id -> the manifest key of its ``COMMITTED`` mark (absent: uncommitted)."""
    ids = list(dict.fromkeys(record_ids))
    keys = [{"pk": _s(f"SEQ#{i}"), "sk": _s(COMMITTED_SK)} for i in ids]
    items = batch_get(
        client,
        table,
        keys,
        ProjectionExpression="pk, #m",
        ExpressionAttributeNames={"#m": "manifest"},
    )
    return {item["pk"]["S"][4:]: item.get("manifest", {}).get("S", "") for item in items}


# --- files -------------------------------------------------------------------------------------


class DynamoFileClaims:
    """Claims of file contents and the s3 counters of each contract (``ingestion.batch``)."""

    def __init__(self, client: DynamoDBClient, table: str, source: str = SOURCE_S3) -> None:
        self.client, self.table, self.source = client, table, source

    @staticmethod
    def _key(sha256: str, contract: str) -> dict[str, Any]:
        return {"pk": _s(f"FILE#{sha256}"), "sk": _s(f"CLAIM#{contract}")}

    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        src = {k: _s(str(v)) for k, v in source.as_dict().items() if v is not None}
        try:
            resp = self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(sha256, contract),
                    "status": _s(IN_PROGRESS),
                    "owner": _s(owner),
                    "source_id": _s(source.source_id),
                    "source": {"M": src},
                    "claimed_at": {"N": str(int(now))},
                },
                # new, or unfinished and (ours: an async retry keeps its request id, or stale)
                ConditionExpression=(
                    "attribute_not_exists(pk) OR "
                    "(#s = :ip AND (#o = :owner OR claimed_at < :stale))"
                ),
                ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                ExpressionAttributeValues={
                    ":ip": _s(IN_PROGRESS),
                    ":owner": _s(owner),
                    ":stale": {"N": str(int(now - stale))},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            item: Any = err.response.get("Item")
            old: dict[str, Any] = item or self._get(sha256, contract)
            done = old.get("status", {}).get("S") == COMPLETED
            return Claim(
                "completed" if done else "busy",
                source_id=old.get("source_id", {}).get("S"),
                manifest_key=old.get("manifest", {}).get("S"),
                source={k: v["S"] for k, v in old.get("source", {}).get("M", {}).items()},
            )
        return Claim("claimed", taken_over=bool(resp.get("Attributes")))

    def _get(self, sha256: str, contract: str) -> dict[str, Any]:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(sha256, contract), ConsistentRead=True
        )
        return dict(resp.get("Item") or {})

    def complete(
        self, sha256: str, contract: str, owner: str, manifest_key: str, counts: dict[str, int]
    ) -> None:
        completion = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(sha256, contract),
                "UpdateExpression": "SET #s = :done, manifest = :m, counts = :c",
                "ConditionExpression": "#s = :ip AND #o = :owner",
                "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
                "ExpressionAttributeValues": {
                    ":done": _s(COMPLETED),
                    ":ip": _s(IN_PROGRESS),
                    ":owner": _s(owner),
                    ":m": _s(manifest_key),
                    ":c": {"M": {k: {"N": str(v)} for k, v in counts.items()}},
                },
            }
        }
        items: Any = [completion, add_counts(self.table, contract, self.source, counts)]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if error_code(err) == "TransactionCanceledException":
                raise ClaimLostError(
                    f"claim FILE#{sha256[:16]} of {contract} is no longer held by {owner}"
                ) from err
            raise

    def release(self, sha256: str, contract: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(sha256, contract),
                ConditionExpression="#s = :ip AND #o = :owner",
                ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                ExpressionAttributeValues={":ip": _s(IN_PROGRESS), ":owner": _s(owner)},
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise


# --- stream ------------------------------------------------------------------------------------


class DynamoTransactionClaims:
    """First writer wins; the same owner may claim again (a retry of the same record)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def claim(self, key: str, owner: str) -> str | None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": _s(key), "sk": _s("CLAIM"), "owner": _s(owner)},
                ConditionExpression="attribute_not_exists(pk) OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": _s(owner)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            item: Any = err.response.get("Item", {})
            return str(item.get("owner", {}).get("S", "another record"))
        return None


class DynamoLedger:
    """Commit marks and counters for one source (``kinesis`` or ``s3``)."""

    def __init__(self, client: DynamoDBClient, table: str, source: str) -> None:
        self.client, self.table, self.source = client, table, source

    def committed(self, record_ids: Sequence[str]) -> set[str]:
        return set(commit_marks(self.client, self.table, record_ids))

    def commit(
        self, contract: str, record_ids: Sequence[str], counts: dict[str, int], manifest_key: str
    ) -> None:
        if len(record_ids) > MAX_RECORDS_PER_COMMIT:
            raise ValueError(
                f"{len(record_ids)} records in one commit; the stream batch size must be at most "
                f"{MAX_RECORDS_PER_COMMIT}"
            )
        expires = str(int(time.time()) + COMMIT_MARK_TTL_SECONDS)
        items: list[Any] = []
        for i, rid in enumerate(record_ids):
            item = {"pk": _s(f"SEQ#{rid}"), "sk": _s(COMMITTED_SK), "manifest": _s(manifest_key)}
            if i:  # the first mark proves the manifest committed: it must not expire
                item["expires_at"] = {"N": expires}
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        items.append(add_counts(self.table, contract, self.source, counts))
        self.client.transact_write_items(TransactItems=items)


def read_accounts(client: DynamoDBClient, table: str) -> dict[str, dict[str, dict[str, int]]]:
    """All counters as ``{contract: {source: {counter: n}}}`` (for `fraudops status`)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :p) AND sk = :s",
        "ExpressionAttributeValues": {":p": _s("ACCOUNT#"), ":s": _s("COUNTS")},
    }
    while True:
        resp = client.scan(**kwargs)
        for item in resp["Items"]:
            _, contract, source = item["pk"]["S"].split("#", 2)
            out.setdefault(contract, {})[source] = {
                k: int(v["N"]) for k, v in item.items() if "N" in v
            }
        if "LastEvaluatedKey" not in resp:
            return out
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


# --- snapshots -----------------------------------------------------------------------------------


class DynamoSnapshotCatalog:
    """The snapshot catalog (``lake.snapshots.SnapshotCatalog``) and the stream commit marks a
    snapshot checks (``lake.snapshots.CommitMarks``)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def register(self, contract: str, created_at: str, summary: Mapping[str, Any]) -> None:
        snapshot_id = summary["snapshot_id"]
        item: dict[str, Any] = {
            "pk": _s(f"{SNAPSHOT_PK}{contract}"),
            "sk": _s(f"{created_at}#{snapshot_id}"),
        }
        for name, value in summary.items():
            if value is None:
                continue
            item[name] = {"N": str(value)} if isinstance(value, int) else _s(str(value))
        self.client.put_item(TableName=self.table, Item=item)

    def latest(self, contract: str) -> dict[str, Any] | None:
        resp = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"{SNAPSHOT_PK}{contract}")},
            ScanIndexForward=False,
            Limit=1,
        )
        items = resp.get("Items") or []
        if not items:
            return None
        return {
            name: int(value["N"]) if "N" in value else value.get("S")
            for name, value in items[0].items()
            if name not in ("pk", "sk")
        }

    def manifests_of(self, record_ids: Iterable[str]) -> dict[str, str]:
        return commit_marks(self.client, self.table, record_ids)
