"""The model registry's store in the state table (``registry.models.RegistryStore``).

Items (single-table design, see infra/constructs/state.py):

* version — ``MODEL#<contract>`` / ``V#<000001>``;
* counter — ``MODEL#<contract>`` / ``COUNTER`` (``latest``);
* champion pointer — ``MODEL#<contract>`` / ``CHAMPION``;
* training run — ``TRAINRUN#<contract>`` / ``<run id>``.

A group of changes is one TransactWriteItems, each change with its condition; a cancelled
transaction is a ``ConflictError``. Nested documents are JSON strings (DynamoDB numbers would
need Decimal and add nothing here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.aws.dynamodb import query_all
from fraudops_shared.registry.models import (
    Change,
    ConflictError,
    PutPointer,
    PutRun,
    PutVersion,
    SetCounter,
    SetStatus,
)
from fraudops_shared.runtime.settings import PK_MODEL, PK_TRAINRUN

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MODEL_PK = PK_MODEL
RUN_PK = PK_TRAINRUN
VERSION_SK = "V#"
COUNTER_SK = "COUNTER"
CHAMPION_SK = "CHAMPION"
_JSON_FIELDS = (
    "metrics",
    "params",
    "config",
    "onnx",
    "baseline",
    "gate",
    "champion_comparison",
    "candidates",
    "lineage",
    "history",
    "dataset",
    "trigger",  # the alarm that started a retraining (run and version records)
)
_CONFLICTS = ("TransactionCanceledException", "ConditionalCheckFailedException")


def version_sk(version: int) -> str:
    return f"{VERSION_SK}{version:06d}"


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if value is None:
        return {"NULL": True}
    return {"S": str(value)}


def to_item(doc: Mapping[str, Any]) -> dict[str, Any]:
    item = {}
    for key, value in doc.items():
        if key in _JSON_FIELDS:
            item[key] = {"S": json.dumps(value, sort_keys=True, separators=(",", ":"))}
        else:
            item[key] = _attr(value)
    return item


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, attr in item.items():
        ((kind, value),) = attr.items()
        if key in _JSON_FIELDS and kind == "S":
            doc[key] = json.loads(value)
        elif kind == "N":
            number = float(value)
            doc[key] = int(number) if number.is_integer() and "." not in value else number
        elif kind == "NULL":
            doc[key] = None
        else:
            doc[key] = value
    return doc


def _record(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item as the registry's document: its keys are the store's business."""
    return {k: v for k, v in from_item(item).items() if k not in ("pk", "sk")}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoRegistryStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    # --- reads --------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key=_key(pk, sk), ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def version(self, contract: str, version: int) -> dict[str, Any] | None:
        return self._get(f"{MODEL_PK}{contract}", version_sk(version))

    def pointer(self, contract: str) -> dict[str, Any] | None:
        return self._get(f"{MODEL_PK}{contract}", CHAMPION_SK)

    def counter(self, contract: str) -> int:
        item = self._get(f"{MODEL_PK}{contract}", COUNTER_SK)
        return int(item["latest"]) if item else 0

    def run(self, contract: str, run_id: str) -> dict[str, Any] | None:
        return self._get(f"{RUN_PK}{contract}", run_id)

    def versions(self, contract: str) -> list[dict[str, Any]]:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
            ExpressionAttributeValues={
                ":pk": {"S": f"{MODEL_PK}{contract}"},
                ":v": {"S": VERSION_SK},
            },
            ConsistentRead=True,
        )
        return [_record(i) for i in items]

    def runs(self, contract: str) -> list[dict[str, Any]]:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{RUN_PK}{contract}"}},
        )
        return [_record(i) for i in items]

    # --- writes -------------------------------------------------------------------------------

    def apply(self, changes: Sequence[Change]) -> None:
        items = [self._item(change) for change in changes]
        try:
            if len(items) == 1 and "Put" in items[0]:
                self.client.put_item(**items[0]["Put"])
            else:
                self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as err:
            if error_code(err) in _CONFLICTS:
                raise ConflictError(str(err)) from err
            raise

    def _item(self, change: Change) -> dict[str, Any]:
        if isinstance(change, SetCounter):
            update: dict[str, Any] = {
                "TableName": self.table,
                "Key": _key(f"{MODEL_PK}{change.contract}", COUNTER_SK),
                "UpdateExpression": "SET latest = :v",
                "ExpressionAttributeValues": {":v": {"N": str(change.version)}},
            }
            if change.expected:
                update["ConditionExpression"] = "latest = :prev"
                update["ExpressionAttributeValues"][":prev"] = {"N": str(change.expected)}
            else:
                update["ConditionExpression"] = "attribute_not_exists(latest)"
            return {"Update": update}
        if isinstance(change, PutVersion):
            doc = change.record
            item = to_item(
                {"pk": f"{MODEL_PK}{doc['contract']}", "sk": version_sk(doc["version"]), **doc}
            )
            return {
                "Put": {
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        if isinstance(change, PutRun):
            run = change.run
            item = to_item({"pk": f"{RUN_PK}{run['contract']}", "sk": run["run_id"], **run})
            return {
                "Put": {
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(version)",
                }
            }
        if isinstance(change, PutPointer):
            pointer = {"pk": f"{MODEL_PK}{change.contract}", "sk": CHAMPION_SK, **change.pointer}
            put: dict[str, Any] = {"TableName": self.table, "Item": to_item(pointer)}
            if change.expected is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "version = :expected"
                put["ExpressionAttributeValues"] = {":expected": {"N": str(change.expected)}}
            return {"Put": put}
        status: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(f"{MODEL_PK}{change.contract}", version_sk(change.version)),
            "UpdateExpression": "SET #s = :s, updated_at = :at, status_reason = :r",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":s": {"S": change.status},
                ":at": {"S": change.at},
                ":r": {"S": change.reason},
            },
            "ConditionExpression": "attribute_exists(pk)",
        }
        if change.expected:
            status["ConditionExpression"] += " AND #s = :expected"
            status["ExpressionAttributeValues"][":expected"] = {"S": change.expected}
        assert isinstance(change, SetStatus)
        return {"Update": status}
