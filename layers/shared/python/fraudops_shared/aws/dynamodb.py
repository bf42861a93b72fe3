"""Ingestion's items in the state table: file claims, the accounting counters and the snapshot
catalog, and the helpers every adapter of the table shares (commits and the dedupe index are in
``aws.commit_log``, the model registry in ``aws.model_registry``). Key design:
``infra/constructs/state.py``.

Keys (pk / sk):
* ``FILE#<sha256>`` / ``CLAIM#<contract>``: a file's content claimed by one invocation: ``status``
  IN_PROGRESS|COMPLETED, ``owner`` (Lambda request id), ``source_id``, ``source`` (map),
  ``claimed_at`` (epoch s), ``manifest``;
* ``ACCOUNT#<contract>#<source>`` / ``COUNTS``: ``in_records``, ``curated``, ``quarantined``,
  ``dead_lettered``, ``expired_unrecoverable`` counters, only ever changed with ADD inside the
  transaction that commits;
* ``SNAPSHOT#<contract>`` / ``<created_at>#<snapshot_id>``: the snapshot catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.ingestion.claims import RETRYABLE_OUTCOMES, Claim
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.runtime.settings import PK_ACCOUNT, PK_FILE, PK_SNAPSHOT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
SNAPSHOT_PK = PK_SNAPSHOT
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit


def _s(value: str) -> dict[str, str]:
    return {"S": value}


SEQ_DIGITS = 64  # Kinesis sequence numbers, zero-padded so that they compare as text


def seq_key(sequence: str) -> str:
    return sequence.zfill(SEQ_DIGITS)


def ranges_reaching(
    client: DynamoDBClient, table: str, pk: str, first: str, last: str
) -> list[tuple[int, int]]:
    """The committed sequence ranges of a shard log (items ``sk`` = first, ``last``) that reach
    into ``first..last``: newest first from ``last`` down, until a range ends before ``first``
    (what a redelivered batch checks before doing anything twice)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk <= :last",
        "ExpressionAttributeValues": {":pk": _s(pk), ":last": _s(seq_key(last))},
        "ScanIndexForward": False,
        "ConsistentRead": True,
    }
    ranges: list[tuple[int, int]] = []
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            lo, hi = int(item["sk"]["S"]), int(item["last"]["S"])
            if hi < int(first):
                return ranges
            ranges.append((lo, hi))
        if "LastEvaluatedKey" not in page:
            return ranges
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def account_key(contract: str, source: str) -> dict[str, Any]:
    return {"pk": _s(f"{PK_ACCOUNT}{contract}#{source}"), "sk": _s("COUNTS")}


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


# --- files -------------------------------------------------------------------------------------


class DynamoFileClaims:
    """Claims of file contents (``ingestion.claims.FileClaims``); completed by the commit
    (``aws.commit_log.DynamoCommitLog``), in the transaction that adds the counters."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    @staticmethod
    def _key(sha256: str, contract: str) -> dict[str, Any]:
        return {"pk": _s(f"{PK_FILE}{sha256}"), "sk": _s(f"CLAIM#{contract}")}

    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        src = {k: _s(str(v)) for k, v in source.as_dict().items() if v is not None}
        old = self._get(sha256, contract)
        retry = (
            old.get("status", {}).get("S") == COMPLETED
            and old.get("outcome", {}).get("S") in RETRYABLE_OUTCOMES
            and old.get("source_id", {}).get("S") != source.source_id
        )
        attempt = int(old.get("attempt", {}).get("N", "1")) + (1 if retry else 0)
        values: dict[str, Any] = {
            ":ip": _s(IN_PROGRESS),
            ":owner": _s(owner),
            ":stale": {"N": str(int(now - stale))},
        }
        # new; or unfinished and (ours: an async retry keeps its request id, or stale); or a
        # retryable outcome landed again (conditioned on the outcome and source read)
        condition = (
            "attribute_not_exists(pk) OR (#s = :ip AND (#o = :owner OR claimed_at < :stale))"
        )
        if retry:
            condition = "#s = :done AND outcome = :outcome AND source_id = :old_source"
            values = {
                ":done": _s(COMPLETED),
                ":outcome": old["outcome"],
                ":old_source": old["source_id"],
            }
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(sha256, contract),
                    "status": _s(IN_PROGRESS),
                    "owner": _s(owner),
                    "source_id": _s(source.source_id),
                    "source": {"M": src},
                    "claimed_at": {"N": str(int(now))},
                    "attempt": {"N": str(attempt)},
                },
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", **({} if retry else {"#o": "owner"})},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            item: Any = err.response.get("Item")
            current: dict[str, Any] = item or self._get(sha256, contract)
            done = current.get("status", {}).get("S") == COMPLETED
            return Claim(
                "completed" if done else "busy",
                source_id=current.get("source_id", {}).get("S"),
                manifest_key=current.get("manifest", {}).get("S"),
                source={k: v["S"] for k, v in current.get("source", {}).get("M", {}).items()},
                attempt=int(current.get("attempt", {}).get("N", "1")),
                commit_id=current.get("commit_id", {}).get("S"),
            )
        return Claim("claimed", taken_over=bool(old) and not retry, attempt=attempt)

    def _get(self, sha256: str, contract: str) -> dict[str, Any]:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(sha256, contract), ConsistentRead=True
        )
        return dict(resp.get("Item") or {})

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


def read_accounts(client: DynamoDBClient, table: str) -> dict[str, dict[str, dict[str, int]]]:
    """All counters as ``{contract: {source: {counter: n}}}`` (for `fraudops status`)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :p) AND sk = :s",
        "ExpressionAttributeValues": {":p": _s(PK_ACCOUNT), ":s": _s("COUNTS")},
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
    """The snapshot catalog (``lake.snapshot_store.SnapshotCatalog``)."""

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
