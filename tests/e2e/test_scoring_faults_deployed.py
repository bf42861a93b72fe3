"""Every alarm LocalStack can evaluate, driven to ALARM by its real cause and back to OK, on the
deployed stack with the local stage's 60 s periods: the batch function and the stream scorer
crashing (fault injection, ``runtime.faults``) and a tampered champion refused by the scorer.
Nothing is lost on the way: the crashed file is kept and counted, the crashed batch is decided
once the fault clears. (Drift and precision: their own modules.)

Runs after the drift tests (file order): a champion exists."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudops import ingest, scoring
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime.faults import FAULT_ENV
from infra import constants as c
from tests.e2e.ledger import CONTRACT, accounts, as_json
from tests.e2e.scoring_support import (
    register,
    scoring_counts,
    send_in_order,
    transactions,
    wait_decided,
)
from tests.unit.scoring.champions import model_bytes

PERIOD = c.ALARM_PERIOD_LOCAL_SECONDS


def alarm(aws: Any, key: str) -> dict[str, Any]:
    found = aws("cloudwatch").describe_alarms(AlarmNames=[f"{c.STACK_NAME}-{key}"])
    (props,) = found["MetricAlarms"]
    return dict(props)


def reaches(aws: Any, key: str, state: str, periods: int = 5) -> dict[str, Any]:
    found = poll(
        lambda: (a := alarm(aws, key))["StateValue"] == state and a,
        timeout=periods * PERIOD, interval=5, what=f"alarm {key} in {state}",
    )  # fmt: skip
    assert isinstance(found, dict)
    return found


@pytest.fixture
def fault(aws: Any) -> Iterator[Any]:
    """Switch fault injection on for a function (by its stack output) and off again after."""
    lam, touched = aws("lambda"), []

    def set_fault(output: str, folder: str | None, outputs: dict[str, str]) -> None:
        fn = outputs[output]
        env = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
        env = {k: v for k, v in env.items() if k != FAULT_ENV}
        if folder:
            env[FAULT_ENV] = folder
            touched.append((output, outputs))
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn)

    yield set_fault
    for output, outputs in touched:
        set_fault(output, None, outputs)


def test_a_crashing_batch_function_fires_its_alarm_keeps_the_file_and_clears(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], fault: Any, tmp_path: Path
) -> None:
    assert alarm(aws, c.ALARM_BATCH_ERRORS)["StateValue"] != "ALARM"
    rows = transactions(3, 3, seed=401, tag=f"crash-{uuid.uuid4().hex[:6]}")
    path = tmp_path / "crash.jsonl"
    path.write_bytes(b"".join(as_json(r) + b"\n" for r in rows))
    before = accounts(ls_layout, outputs, "s3")
    # Given the batch function crashes on every invocation
    fault("IngestBatchFunctionName", c.FN_INGEST_BATCH, outputs)
    # When a file lands, Then its Errors fire the alarm while Lambda retries it
    ingest.ingest_file(ls_layout, path, CONTRACT, wait=False)
    fired = reaches(aws, c.ALARM_BATCH_ERRORS, "ALARM")
    assert fired["MetricName"] == "Errors"
    # And once retries are exhausted the file is kept whole and counted (dead_lettered)
    kept = poll(
        lambda: (d := accounts(ls_layout, outputs, "s3")).get("dead_lettered", 0)
        - before.get("dead_lettered", 0) >= len(rows) and d,
        timeout=420, interval=5, what="the crashed file dead-lettered and counted",
    )  # fmt: skip
    assert kept
    # When the fault is cleared, Then a period without errors brings the alarm back to OK
    fault("IngestBatchFunctionName", None, outputs)
    reaches(aws, c.ALARM_BATCH_ERRORS, "OK")


def test_a_crashing_scorer_fires_its_alarm_and_keeps_every_record_to_decide_it_later(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], fault: Any
) -> None:
    key = f"{c.ALARM_SCORING_ERRORS}-stream"
    assert alarm(aws, key)["StateValue"] != "ALARM"
    rows = transactions(5, 5, seed=402, tag=f"scorecrash-{uuid.uuid4().hex[:6]}")
    ids = [r["transaction_id"] for r in rows]
    before = scoring_counts(ls_layout, outputs)
    # Given the stream scorer crashes on every invocation, When transactions arrive
    fault("ScoreStreamFunctionName", c.FN_SCORE_STREAM, outputs)
    send_in_order(aws, outputs, rows)
    # Then its Errors fire the alarm
    fired = reaches(aws, key, "ALARM")
    assert fired["MetricName"] == "Errors"

    # And the batch, retried then given up on, is read back and kept under parked/.../dead/,
    # counted as dead_lettered: nothing lost, the scoring ledger balanced
    terms = ("in_records", "decided", "parked", "dead_lettered")

    def kept() -> dict[str, int] | None:
        now = scoring_counts(ls_layout, outputs)
        d = {k: now.get(k, 0) - before.get(k, 0) for k in terms}
        return d if d["decided"] + d["parked"] + d["dead_lettered"] >= len(rows) else None

    counted = poll(kept, timeout=420, interval=5, what="the crashed batch kept and counted")
    assert counted is not None and counted["dead_lettered"] >= 1, counted
    assert counted["in_records"] == counted["decided"] + counted["parked"] + counted[
        "dead_lettered"]  # fmt: skip
    # When the fault is cleared, Then the operator's re-submission (the signed API) decides
    # them, each once, and a period without errors brings the alarm back to OK
    fault("ScoreStreamFunctionName", None, outputs)
    for row in rows:
        answer = scoring.call_api(ls_layout, as_json(row))
        assert answer.status == 200, answer
    decided = wait_decided(aws, outputs, ids, timeout=300)
    assert set(decided) == set(ids)
    reaches(aws, key, "OK")


def test_a_tampered_champion_fires_model_rejected_and_rolling_back_clears_it(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    key = f"{c.ALARM_MODEL_REJECTED}-stream"
    registry = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"]))
    # Given a version whose recorded hash is not its artifact's, promoted past the CLI's check
    tampered = register(ls_layout, aws, outputs, model_bytes("hist_gradient_boosting"),
                        sha=hashlib.sha256(b"other bytes").hexdigest())  # fmt: skip
    registry.promote(CONTRACT, int(tampered["version"]), reason="tampered (alarm test)")
    tag = f"tamper-{uuid.uuid4().hex[:6]}"
    send_in_order(aws, outputs, transactions(20, 10, seed=403, tag=tag))
    # Then the scorer refuses it (the last verified champion keeps deciding) and the alarm fires
    fired = reaches(aws, key, "ALARM")
    assert fired["MetricName"] == "ModelRejected"
    # When the champion is rolled back, Then no refusal in a period brings it back to OK
    registry.rollback(CONTRACT, reason="tampered version withdrawn (alarm test)")
    rows = transactions(20, 10, seed=404, tag=f"{tag}-after")
    send_in_order(aws, outputs, rows)
    wait_decided(aws, outputs, [r["transaction_id"] for r in rows])
    reaches(aws, key, "OK")
