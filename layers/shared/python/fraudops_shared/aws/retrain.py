"""Retraining's AWS adapters: the loop guard as one state-table item per contract, changed only by
conditional writes (``monitoring.retrain.RetrainGuard``), and the trainer: a fresh snapshot
(``lake.snapshot_store``) and the training state machine (``monitoring.retrain.Trainer``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fraudops_shared.aws.clients import error_code
from fraudops_shared.monitoring.retrain import GuardState
from fraudops_shared.runtime.settings import PK_RETRAIN

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

GUARD_SK = "GUARD"
FREE = "-"  # `running` of a free guard


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


class DynamoRetrainGuard:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def _key(self, contract: str) -> dict[str, Any]:
        return {"pk": {"S": f"{PK_RETRAIN}{contract}"}, "sk": {"S": GUARD_SK}}

    def acquire(self, contract: str, run_id: str, now: float, *, cooldown: int, cap: int,
                trigger: Mapping[str, Any]) -> GuardState | None:  # fmt: skip
        free = (
            "(attribute_not_exists(running) OR running = :free) "
            "AND (attribute_not_exists(paused) OR paused = :no) "
            "AND (attribute_not_exists(last_started) OR last_started <= :cutoff)"
        )
        values: dict[str, Any] = {
            ":free": {"S": FREE}, ":no": {"BOOL": False}, ":cutoff": {"N": str(now - cooldown)},
            ":run": {"S": run_id}, ":now": {"N": str(now)}, ":today": {"S": _day(now)},
            ":trigger": {"S": json.dumps(dict(trigger), sort_keys=True)}, ":one": {"N": "1"},
        }  # fmt: skip
        sets = "running = :run, last_started = :now, last_run_id = :run, last_trigger = :trigger"
        attempts: tuple[tuple[str, str, dict[str, Any]], ...] = (
            # the same UTC day: under the cap, one more
            (f"{free} AND #day = :today AND day_count < :cap",
             f"SET {sets}, day_count = day_count + :one", {":cap": {"N": str(cap)}}),
            # a new day (or the first start): the count starts again
            (f"{free} AND (attribute_not_exists(#day) OR #day <> :today)",
             f"SET {sets}, #day = :today, day_count = :one", {}),
        )  # fmt: skip
        for condition, update, extra in attempts:
            try:
                self.client.update_item(
                    TableName=self.table, Key=self._key(contract), ConditionExpression=condition,
                    UpdateExpression=update, ExpressionAttributeNames={"#day": "day"},
                    ExpressionAttributeValues={**values, **extra},
                )  # fmt: skip
                return None
            except ClientError as err:
                if error_code(err) != "ConditionalCheckFailedException":
                    raise
        return self.state(contract)

    def release(self, contract: str, run_id: str, outcome: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table, Key=self._key(contract),
                ConditionExpression="running = :run",
                UpdateExpression="SET running = :free, last_outcome = :outcome",
                ExpressionAttributeValues={":run": {"S": run_id}, ":free": {"S": FREE},
                                           ":outcome": {"S": f"{run_id}: {outcome}"[:1000]}},
            )  # fmt: skip
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def refused(self, contract: str, reason: str, trigger: Mapping[str, Any]) -> None:
        self.client.update_item(
            TableName=self.table, Key=self._key(contract),
            UpdateExpression="SET last_refusal = :r ADD refusals :one",
            ExpressionAttributeValues={
                ":r": {"S": json.dumps({"reason": reason, "trigger": dict(trigger)})[:2000]},
                ":one": {"N": "1"},
            },
        )  # fmt: skip

    def set_paused(self, contract: str, paused: bool) -> None:
        self.client.update_item(
            TableName=self.table, Key=self._key(contract), UpdateExpression="SET paused = :p",
            ExpressionAttributeValues={":p": {"BOOL": paused}},
        )  # fmt: skip

    def item(self, contract: str) -> dict[str, Any]:
        """The guard item as plain values (for reports)."""
        got = self.client.get_item(TableName=self.table, Key=self._key(contract),
                                   ConsistentRead=True).get("Item") or {}  # fmt: skip
        out: dict[str, Any] = {}
        for name, value in got.items():
            if name in ("pk", "sk"):
                continue
            kind, raw = next(iter(value.items()))
            out[name] = float(str(raw)) if kind == "N" else raw
        for name in ("last_trigger", "last_refusal"):
            if isinstance(out.get(name), str):
                out[name] = json.loads(out[name])
        return out

    def state(self, contract: str) -> GuardState:
        doc = self.item(contract)
        running = doc.get("running")
        return GuardState(
            running=running if isinstance(running, str) and running != FREE else None,
            last_started=doc.get("last_started"),
            day=doc.get("day"),
            day_count=int(doc.get("day_count") or 0),
            paused=bool(doc.get("paused")),
        )


class StepFunctionsTrainer:
    """Snapshots with the lake's own code; executions of the training state machine."""

    def __init__(self, sfn: SFNClient, state_machine_arn: str, snapshot: Any) -> None:
        self.sfn, self.arn, self._snapshot = sfn, state_machine_arn, snapshot

    def snapshot(self, contract: str) -> str:
        return str(self._snapshot(contract)["snapshot_id"])

    def start(self, run_id: str, request: Mapping[str, Any]) -> str:
        resp = self.sfn.start_execution(stateMachineArn=self.arn, name=run_id,
                                        input=json.dumps(dict(request)))  # fmt: skip
        return str(resp["executionArn"])

    def _execution_arn(self, run_id: str) -> str:
        # arn:aws:states:region:account:stateMachine:name -> ...:execution:name:run_id
        return self.arn.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"

    def is_running(self, run_id: str) -> bool:
        try:
            found = self.sfn.describe_execution(executionArn=self._execution_arn(run_id))
        except ClientError as err:
            if error_code(err) == "ExecutionDoesNotExist":
                return False
            raise
        return found["status"] == "RUNNING"
