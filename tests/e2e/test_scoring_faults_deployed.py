"""Every alarm LocalStack can evaluate, driven to ALARM by its real cause and back to OK, on the
deployed stack with the local stage's 60 s periods: the batch function and the stream scorer
crashing, the API scorer crashing (fault injection, ``runtime.faults``) and a tampered champion
refused by both scorers.
Nothing is lost on the way: the crashed file is kept and counted, the crashed batch is decided
once the fault clears. (Drift and precision: their own modules.)

Runs after the drift tests (file order): a champion exists."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from fraudops import ingest, scoring
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.registry.models import ModelRegistry
from infra import constants as c
from tests.e2e.alarm_support import PERIOD, Faults, alarm, all_reach, reaches
from tests.e2e.ledger import CONTRACT, accounts, as_json
from tests.e2e.scoring_support import (
    register,
    scoring_counts,
    send_in_order,
    transactions,
    wait_decided,
)
from tests.unit.scoring.champions import model_bytes


def test_a_crashing_batch_function_fires_its_alarm_keeps_the_file_and_clears(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], fault: Faults, tmp_path: Path
) -> None:
    assert alarm(aws, c.ALARM_BATCH_ERRORS)["StateValue"] != "ALARM"
    rows = transactions(3, 3, seed=401, tag=f"crash-{uuid.uuid4().hex[:6]}")
    path = tmp_path / "crash.jsonl"
    path.write_bytes(b"".join(as_json(r) + b"\n" for r in rows))
    before = accounts(ls_layout, outputs, "s3")
    # Given the batch function crashes on every invocation
    fault.on(c.OUT_INGEST_BATCH_FN)
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
    fault.off(c.OUT_INGEST_BATCH_FN)
    reaches(aws, c.ALARM_BATCH_ERRORS, "OK")


def test_a_crashing_scorer_fires_its_alarm_and_keeps_every_record_to_decide_it_later(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], fault: Faults
) -> None:
    key = f"{c.ALARM_SCORING_ERRORS}-stream"
    assert alarm(aws, key)["StateValue"] != "ALARM"
    rows = transactions(5, 5, seed=402, tag=f"scorecrash-{uuid.uuid4().hex[:6]}")
    ids = [r["transaction_id"] for r in rows]
    before = scoring_counts(ls_layout, outputs)
    # Given the stream scorer crashes on every invocation, When transactions arrive
    fault.on(c.OUT_SCORE_STREAM_FN)
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
    fault.off(c.OUT_SCORE_STREAM_FN)
    for row in rows:
        answer = scoring.call_api(ls_layout, as_json(row))
        assert answer.status == 200, answer
    decided = wait_decided(aws, outputs, ids, timeout=300)
    assert set(decided) == set(ids)
    reaches(aws, key, "OK")


def test_a_crashing_api_scorer_fires_its_alarm_and_answers_again_once_cleared(
    ls_layout: Layout, aws: Any, fault: Faults
) -> None:
    key = f"{c.ALARM_SCORING_ERRORS}-api"
    assert alarm(aws, key)["StateValue"] != "ALARM"
    rows = transactions(3, 3, seed=405, tag=f"apicrash-{uuid.uuid4().hex[:6]}")
    # Given the API function crashes on every invocation (a crash, not an answer)
    fault.on(c.OUT_SCORE_API_FN)
    # When callers post transactions, Then they get a server error and the alarm fires
    for row in rows[:2]:
        assert scoring.call_api(ls_layout, as_json(row)).status >= 500
    fired = reaches(aws, key, "ALARM")
    assert fired["MetricName"] == "Errors"
    # When the fault is cleared, Then calls are answered and a period without errors clears it
    fault.off(c.OUT_SCORE_API_FN)
    answer = scoring.call_api(ls_layout, as_json(rows[2]))
    assert answer.status == 200, answer
    reaches(aws, key, "OK")


def test_a_tampered_champion_fires_model_rejected_and_rolling_back_clears_it(
    ls_layout: Layout, aws: Any, outputs: dict[str, str]
) -> None:
    keys = [f"{c.ALARM_MODEL_REJECTED}-{scorer}" for scorer in ("stream", "api")]
    registry = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"]))
    # Given a version whose recorded hash is not its artifact's, promoted past the CLI's check
    tampered = register(ls_layout, aws, outputs, model_bytes("hist_gradient_boosting"),
                        sha=hashlib.sha256(b"other bytes").hexdigest())  # fmt: skip
    registry.promote(CONTRACT, int(tampered["version"]), reason="tampered (alarm test)")
    tag = f"tamper-{uuid.uuid4().hex[:6]}"
    rows = transactions(100, 40, seed=403, tag=tag)
    send_in_order(aws, outputs, rows[:20])
    # Then both scorers refuse it (the last verified champion keeps deciding, the API still
    # answers: callers keep calling while the API's cached pointer, re-read every 15 s, moves
    # on to the tampered version) and both alarms fire
    calls = iter(rows[20:])

    def api_refused() -> bool:
        answer = scoring.call_api(ls_layout, as_json(next(calls)))
        assert answer.status == 200, answer
        return alarm(aws, keys[1])["StateValue"] == "ALARM"

    poll(api_refused, timeout=5 * PERIOD, interval=5, what="the API's model-rejected alarm")
    for key in keys:
        assert reaches(aws, key, "ALARM")["MetricName"] == "ModelRejected"
    # When the champion is rolled back, Then no refusal in a period brings both back to OK
    registry.rollback(CONTRACT, reason="tampered version withdrawn (alarm test)")
    rows = transactions(22, 10, seed=404, tag=f"{tag}-after")
    send_in_order(aws, outputs, rows[:20])
    for row in rows[20:]:
        assert scoring.call_api(ls_layout, as_json(row)).status == 200
    wait_decided(aws, outputs, [r["transaction_id"] for r in rows])
    all_reach(aws, keys, "OK")
