"""The model registry: versions in the registry table, artifacts in S3, changes in transactions.

Items (single-table design, see infra/constructs/registry.py):

* version — ``MODEL#<contract>`` / ``V#<000001>``: everything needed to reproduce and to trust
  the model (snapshot id and hash, dataset digest, contract and feature-set versions, code
  version, candidate, parameters, seed, config, metrics, threshold, ONNX location and SHA-256,
  baseline statistics, gate result), its ``status`` and the history of status changes;
* counter — ``MODEL#<contract>`` / ``COUNTER``: the latest version number;
* champion — ``MODEL#<contract>`` / ``CHAMPION``: which version serves, and the promotion
  history rollback walks back;
* training run — ``TRAINRUN#<contract>`` / ``<run id>``: how an execution ended (registered,
  rejected or failed, and why), so every run leaves a record even when no model came of it.

A registration is one TransactWriteItems: counter, version, run and (when promoted) the champion
pointer and the archived predecessor move together or not at all, so a failure can never leave
a half-registered model. A retried registration of the same run returns the version it made.
Nested documents are JSON strings (DynamoDB numbers would need Decimal and lose nothing here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

MODEL_PK = "MODEL#"
RUN_PK = "TRAINRUN#"
VERSION_SK = "V#"
COUNTER_SK = "COUNTER"
CHAMPION_SK = "CHAMPION"
STATUSES = ("candidate", "champion", "shadow", "archived", "rejected")
MAX_ATTEMPTS = 5  # optimistic-concurrency retries of a registration or promotion
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
)


class RegistryError(RuntimeError):
    """A registry change that cannot be made (unknown version, nothing to roll back to)."""


class ConcurrentChangeError(RegistryError):
    """Someone else changed the same contract's models at the same time; retried, then given up."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def version_sk(version: int) -> str:
    return f"{VERSION_SK}{version:06d}"


def model_id(contract: str, version: int) -> str:
    return f"{contract}-v{version}"


# --- (de)serialisation --------------------------------------------------------------------------


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


# --- reads --------------------------------------------------------------------------------------


def _get(ddb: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = ddb.get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")
    return from_item(item) if item else None


def get_version(ddb: Any, table: str, contract: str, version: int) -> dict[str, Any] | None:
    return _get(ddb, table, f"{MODEL_PK}{contract}", version_sk(version))


def champion_pointer(ddb: Any, table: str, contract: str) -> dict[str, Any] | None:
    return _get(ddb, table, f"{MODEL_PK}{contract}", CHAMPION_SK)


def champion(ddb: Any, table: str, contract: str) -> dict[str, Any] | None:
    """The serving version's full record, or None before the first promotion."""
    pointer = champion_pointer(ddb, table, contract)
    if pointer is None:
        return None
    record = get_version(ddb, table, contract, int(pointer["version"]))
    if record is None:
        raise RegistryError(f"champion pointer names v{pointer['version']}, which is missing")
    return record


def _query_all(ddb: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a Query, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = ddb.query(**kwargs)
        items += [from_item(i) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def list_versions(ddb: Any, table: str, contract: str) -> list[dict[str, Any]]:
    return _query_all(
        ddb,
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={
            ":pk": {"S": f"{MODEL_PK}{contract}"},
            ":v": {"S": VERSION_SK},
        },
        ConsistentRead=True,
    )


def get_run(ddb: Any, table: str, contract: str, run_id: str) -> dict[str, Any] | None:
    return _get(ddb, table, f"{RUN_PK}{contract}", run_id)


def list_runs(ddb: Any, table: str, contract: str) -> list[dict[str, Any]]:
    return _query_all(
        ddb,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{RUN_PK}{contract}"}},
    )


# --- writes -------------------------------------------------------------------------------------


def _counter(ddb: Any, table: str, contract: str) -> int:
    item = _get(ddb, table, f"{MODEL_PK}{contract}", COUNTER_SK)
    return int(item["latest"]) if item else 0


def _cancelled(err: ClientError) -> bool:
    """A condition of ours failed: someone changed the same items since we read them."""
    code = err.response["Error"]["Code"]
    return code in ("TransactionCanceledException", "ConditionalCheckFailedException")


def _pointer_put(
    table: str,
    contract: str,
    record: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    at: str,
    reason: str,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The champion pointer's Put, conditional on the champion read before (optimistic)."""
    if history is None:
        history = list((previous or {}).get("history") or [])
        history.append({"version": record["version"], "at": at, "reason": reason})
    pointer = {
        "pk": f"{MODEL_PK}{contract}",
        "sk": CHAMPION_SK,
        "version": record["version"],
        "model_id": record["model_id"],
        "promoted_at": at,
        "history": history,
    }
    put: dict[str, Any] = {"TableName": table, "Item": to_item(pointer)}
    if previous is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :expected"
        put["ExpressionAttributeValues"] = {":expected": {"N": str(previous["version"])}}
    return {"Put": put}


def _handover(
    table: str,
    contract: str,
    record: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    at: str,
    reason: str,
    history: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The champion pointer moves to `record` and the previous champion is archived."""
    items = [_pointer_put(table, contract, record, previous, at, reason, history)]
    if previous is not None:
        items.append(
            _status_update(
                table,
                contract,
                int(previous["version"]),
                "archived",
                at,
                f"replaced by v{record['version']}",
            )
        )
    return items


def _status_update(
    table: str,
    contract: str,
    version: int,
    status: str,
    at: str,
    reason: str,
    expected: str | None = None,
) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": f"{MODEL_PK}{contract}"}, "sk": {"S": version_sk(version)}},
        "UpdateExpression": "SET #s = :s, updated_at = :at, status_reason = :r",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": status}, ":at": {"S": at}, ":r": {"S": reason}},
        "ConditionExpression": "attribute_exists(pk)",
    }
    if expected:
        update["ConditionExpression"] += " AND #s = :expected"
        update["ExpressionAttributeValues"][":expected"] = {"S": expected}
    return {"Update": update}


def run_status(model_status: str) -> str:
    """How a run that registered a model ended, by the status its model got."""
    return {"champion": "promoted", "rejected": "rejected"}.get(model_status, "registered")


def register(ddb: Any, table: str, record: Mapping[str, Any], *, promote: bool) -> dict[str, Any]:
    """Give `record` (a trained, evaluated model of one run) the next version number and write
    it with its run item; with `promote`, make it the champion and archive the previous one, in
    the same transaction. `record["status"]` is "rejected" or "candidate" on the way in."""
    contract, run_id = record["contract"], record["run_id"]
    for _ in range(MAX_ATTEMPTS):
        existing = get_run(ddb, table, contract, run_id)
        if existing and existing.get("version") is not None:
            found = get_version(ddb, table, contract, int(existing["version"]))
            if found is not None:
                return found  # a retry of a registration that already happened
        latest = _counter(ddb, table, contract)
        version = latest + 1
        at = now_iso()
        status = "champion" if promote else str(record["status"])
        doc = {
            **record,
            "pk": f"{MODEL_PK}{contract}",
            "sk": version_sk(version),
            "version": version,
            "model_id": model_id(contract, version),
            "status": status,
            "created_at": at,
            "updated_at": at,
            "history": [{"status": status, "at": at, "reason": record.get("status_reason", "")}],
        }
        counter: dict[str, Any] = {
            "TableName": table,
            "Key": {"pk": {"S": f"{MODEL_PK}{contract}"}, "sk": {"S": COUNTER_SK}},
            "UpdateExpression": "SET latest = :v",
            "ExpressionAttributeValues": {":v": {"N": str(version)}},
        }
        if latest:
            counter["ConditionExpression"] = "latest = :prev"
            counter["ExpressionAttributeValues"][":prev"] = {"N": str(latest)}
        else:
            counter["ConditionExpression"] = "attribute_not_exists(latest)"
        run = {
            "pk": f"{RUN_PK}{contract}",
            "sk": run_id,
            "run_id": run_id,
            "contract": contract,
            "status": run_status(status),
            "version": version,
            "model_id": doc["model_id"],
            "reason": record.get("status_reason", ""),
            "finished_at": at,
            "execution_arn": record.get("execution_arn"),
        }
        items: list[dict[str, Any]] = [
            {"Update": counter},
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(doc),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(run),
                    "ConditionExpression": "attribute_not_exists(version)",
                }
            },
        ]
        if promote:
            previous = champion_pointer(ddb, table, contract)
            items += _handover(table, contract, doc, previous, at, "gates passed")
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as err:
            if _cancelled(err):
                continue  # a concurrent registration or promotion: read again, retry
            raise
        return doc
    raise ConcurrentChangeError(f"could not register run {run_id}: concurrent changes")


def record_failure(
    ddb: Any,
    table: str,
    *,
    contract: str,
    run_id: str,
    error: str,
    reason: str,
    execution_arn: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """The run's failure and why; never overwrites a run that registered a model."""
    run = {
        "pk": f"{RUN_PK}{contract}",
        "sk": run_id,
        "run_id": run_id,
        "contract": contract,
        "status": "failed",
        "error": error,
        "reason": reason,
        "finished_at": now_iso(),
        "execution_arn": execution_arn,
    }
    try:
        ddb.put_item(
            TableName=table, Item=to_item(run), ConditionExpression="attribute_not_exists(version)"
        )
    except ClientError as err:
        if not _cancelled(err):
            raise
        existing = get_run(ddb, table, contract, run_id)
        return existing or run
    return run


def promote(
    ddb: Any,
    table: str,
    contract: str,
    version: int,
    *,
    reason: str,
    shadow: bool = False,
    rolling_back: bool = False,
) -> dict[str, Any]:
    """Make `version` the champion (archiving the current one), or with `shadow` mark it to be
    scored alongside the champion without serving decisions."""
    for _ in range(MAX_ATTEMPTS):
        target = get_version(ddb, table, contract, version)
        if target is None:
            raise RegistryError(f"{model_id(contract, version)} is not registered")
        at = now_iso()
        if shadow:
            if target["status"] == "champion":
                raise RegistryError(f"{target['model_id']} is the champion, not a shadow")
            ddb.transact_write_items(
                TransactItems=[
                    _status_update(
                        table, contract, version, "shadow", at, reason, expected=target["status"]
                    )
                ]
            )
            return {**target, "status": "shadow", "updated_at": at, "status_reason": reason}
        previous = champion_pointer(ddb, table, contract)
        if previous is not None and int(previous["version"]) == version:
            raise RegistryError(f"{target['model_id']} is already the champion")
        history = None
        if rolling_back:  # walk back: drop the current champion's entry, do not add one
            history = list((previous or {}).get("history") or [])[:-1]
            if not history or int(history[-1]["version"]) != version:
                raise ConcurrentChangeError("the promotion history changed during the rollback")
        items = [
            _status_update(
                table, contract, version, "champion", at, reason, expected=target["status"]
            ),
            *_handover(table, contract, target, previous, at, reason, history),
        ]
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as err:
            if _cancelled(err):
                continue
            raise
        return {**target, "status": "champion", "updated_at": at, "status_reason": reason}
    raise ConcurrentChangeError(f"could not promote v{version}: concurrent changes")


def rollback(ddb: Any, table: str, contract: str, *, reason: str) -> dict[str, Any]:
    """The champion before the current one serves again and the current one is archived; a
    second rollback goes one further back (the promotion history is a stack)."""
    pointer = champion_pointer(ddb, table, contract)
    if pointer is None:
        raise RegistryError(f"{contract} has no champion to roll back")
    history = pointer.get("history") or []
    if len(history) < 2:
        raise RegistryError(
            f"{model_id(contract, int(pointer['version']))} is the first champion: nothing earlier"
        )
    target = int(history[-2]["version"])
    return promote(ddb, table, contract, target, reason=reason, rolling_back=True)
