"""The ingestion ledger in the registry table: claims, commit marks and accounting counters.

Keys (pk / sk):
* ``TXN#<contract>#<key>`` / ``CLAIM``: which record first brought a transaction (owner);
* ``SEQ#<shard>:<sequence>`` / ``COMMITTED``: a Kinesis record whose batch was committed, with
  the batch manifest's key. The first record's mark is kept for good (snapshots use it to tell a
  committed stream manifest from an orphan); the others expire after the stream's retention,
  when they can no longer be re-delivered;
* ``ACCOUNT#<contract>#<source>`` / ``COUNTS``: ``in_records``, ``curated``, ``quarantined``,
  ``dead_lettered`` counters, only ever changed with ADD inside the commit transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

# DynamoDB allows 100 items in a transaction: commit marks plus the counters item.
MAX_RECORDS_PER_COMMIT = 99
SEQ_TTL_SECONDS = 8 * 86_400  # longer than the stream's maximum retention of 7 days


def account_key(contract: str, source: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{contract}#{source}", "sk": "COUNTS"}


class DynamoClaims:
    """First writer wins; the same owner may claim again (a retry of the same record)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def claim(self, key: str, owner: str) -> str | None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": key}, "sk": {"S": "CLAIM"}, "owner": {"S": owner}},
                ConditionExpression="attribute_not_exists(pk) OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return str(err.response.get("Item", {}).get("owner", {}).get("S", "another record"))
        return None


class DynamoLedger:
    """Commit marks and counters for one source (``kinesis`` or ``s3``)."""

    def __init__(self, client: Any, table: str, source: str) -> None:
        self.client, self.table, self.source = client, table, source

    def committed(self, record_ids: Sequence[str]) -> set[str]:
        done: set[str] = set()
        ids = list(dict.fromkeys(record_ids))
        for start in range(0, len(ids), 100):
            keys = [
                {"pk": {"S": f"SEQ#{i}"}, "sk": {"S": "COMMITTED"}}
                for i in ids[start : start + 100]
            ]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ProjectionExpression": "pk"}}
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                done |= {item["pk"]["S"][4:] for item in resp["Responses"].get(self.table, [])}
                request = resp.get("UnprocessedKeys") or {}
        return done

    def commit(
        self, contract: str, record_ids: Sequence[str], counts: dict[str, int], manifest_key: str
    ) -> None:
        if len(record_ids) > MAX_RECORDS_PER_COMMIT:
            raise ValueError(
                f"{len(record_ids)} records in one commit; the stream batch size must be at most "
                f"{MAX_RECORDS_PER_COMMIT}"
            )
        expires = str(int(time.time()) + SEQ_TTL_SECONDS)
        items: list[dict[str, Any]] = []
        for i, rid in enumerate(record_ids):
            item = {
                "pk": {"S": f"SEQ#{rid}"},
                "sk": {"S": "COMMITTED"},
                "manifest": {"S": manifest_key},
            }
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
        items.append(self._add_counts(contract, counts))
        self.client.transact_write_items(TransactItems=items)

    def _add_counts(self, contract: str, counts: dict[str, int]) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}
        return {
            "Update": {
                "TableName": self.table,
                "Key": {k: {"S": v} for k, v in account_key(contract, self.source).items()},
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(counts))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def add_counts(self, contract: str, counts: dict[str, int]) -> None:
        """Counters alone (the dead-letter path, whose records have no commit marks)."""
        update = self._add_counts(contract, counts)["Update"]
        self.client.update_item(**update)


def read_accounts(client: Any, table: str) -> dict[str, dict[str, dict[str, int]]]:
    """All counters as ``{contract: {source: {counter: n}}}`` (for `fraudops status`)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :p) AND sk = :s",
        "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#"}, ":s": {"S": "COUNTS"}},
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
