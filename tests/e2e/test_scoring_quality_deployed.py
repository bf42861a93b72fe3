"""Labels and live quality on the deployed stack: decisions streamed through the stack, labels
landed as files through S3 with `fraudops labels` (hostile rows quarantined by rule), joined by
the deployed quality watch exactly once; the precision alarm (LocalStack evaluates it) goes to
ALARM when the alerts turn out genuine and back to OK when chargebacks correct them; a repeated
file changes nothing, and a label that came before its decision is matched once it appears.

Runs after the drift tests (file order) and promotes its own champion, whose holdout precision
(0.9) sets the alarm's floor (0.9 - margin)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraudops import training
from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.aws.model_registry import DynamoRegistryStore
from fraudops_shared.registry.models import ModelRegistry
from fraudops_shared.runtime.settings import DECISIONS_CONTRACT, MODEL_REFRESH_SECONDS
from fraudops_shared.training import onnx_model
from infra import constants as c
from tests.e2e.ledger import curated_zone
from tests.e2e.scoring_support import (
    FEATURES,
    promote,
    register,
    send_in_order,
    transactions,
    wait_decided,
)
from tests.unit.scoring.champions import model_bytes

ROWS, CARDS = 120, 40
HOLDOUT_PRECISION = 0.9


@pytest.fixture(scope="module")
def traffic(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> dict[str, Any]:
    """A champion whose review threshold alerts on about a third of this traffic, the traffic
    streamed and decided, and its decisions curated in the decisions zone."""
    data = model_bytes("hist_gradient_boosting")
    rows = transactions(ROWS, CARDS, seed=311, tag=f"quality-{uuid.uuid4().hex[:6]}")
    late = rows.pop()  # sent only after its label arrived
    x = FEATURES.matrix({col: [r.get(col) for r in rows] for col in FEATURES.input_columns})
    session = onnx_model.load(data, hashlib.sha256(data).hexdigest())
    threshold = float(np.quantile(onnx_model.fraud_probability(session, x), 0.66))
    version = register(ls_layout, aws, outputs, data, threshold=threshold,
                       metrics={"precision": HOLDOUT_PRECISION, "recall": 0.7})  # fmt: skip
    promote(ls_layout, int(version["version"]))
    send_in_order(aws, outputs, rows)
    ids = [r["transaction_id"] for r in rows]
    decided = wait_decided(aws, outputs, ids)
    curated(aws, outputs, ids)
    alerts = [t for t, d in decided.items() if d["outcome"] in ("review", "decline")]
    assert len(alerts) >= c.MIN_LABELLED_ALERTS_LOCAL, f"{len(alerts)} alerts"
    assert all(d["model_id"] == version["model_id"] for d in decided.values())
    return {"rows": rows, "late": late, "alerts": alerts, "model": version, "decided": decided}


def curated(aws: Any, outputs: dict[str, str], ids: list[str]) -> None:
    def there() -> bool:
        zone = curated_zone(aws, outputs["DataBucketName"], contract=DECISIONS_CONTRACT)
        return set(ids) <= set(zone["transaction_id"].to_pylist())

    poll(there, timeout=240, interval=3, what="the decisions curated")


def label(row: dict[str, Any], is_fraud: bool, source: str, at: datetime, tag: str) -> dict:
    return {
        "label_id": f"{tag}-{row['transaction_id']}",
        "transaction_id": row["transaction_id"],
        "event_time": row["event_time"],
        "is_fraud": is_fraud,
        "label_time": at.isoformat(),
        "source": source,
    }


def write(path: Path, labels: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in labels))
    return str(path)


def precision_alarm(aws: Any) -> dict[str, Any]:
    (alarm,) = [
        a
        for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=c.STACK_NAME)["MetricAlarms"]
        if a["AlarmName"].endswith(f"-{c.ALARM_PRECISION}")
    ]
    return alarm


def window(report: dict[str, Any], name: str = "hourly", role: str = "champion") -> dict:
    return next(w for w in report["windows"] if (w["window"], w["role"]) == (name, role))


def alarm_reaches(aws: Any, state: str) -> dict[str, Any]:
    found = poll(
        lambda: (a := precision_alarm(aws))["StateValue"] == state and a,
        timeout=5 * c.QUALITY_ALARM_PERIOD_LOCAL_SECONDS, interval=5,
        what=f"the precision alarm in {state}",
    )  # fmt: skip
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def first_labels(traffic: dict[str, Any], tmp_path_factory: Any) -> Path:
    """Every decided transaction labelled genuine by an analyst (so every alert was a false
    alarm), a label for a transaction not decided yet, and three hostile rows."""
    now = datetime.now(UTC).replace(microsecond=0)
    labels = [label(r, False, "analyst", now - timedelta(minutes=5), "a") for r in traffic["rows"]]
    labels.append(label(traffic["late"], True, "customer_claim", now - timedelta(minutes=5), "a"))
    first = traffic["rows"][0]
    labels += [
        label(first, False, "analyst", now - timedelta(minutes=5), "a"),  # same label_id again
        label(first, True, "analyst", datetime(2000, 1, 1, tzinfo=UTC), "early"),  # before event
        label(first, True, "analyst", now + timedelta(days=3), "future"),  # in the future
    ]
    return Path(write(tmp_path_factory.mktemp("labels") / "labels-analyst.jsonl", labels))


def test_labels_land_through_s3_with_hostile_rows_quarantined_by_rule(
    traffic: dict[str, Any], first_labels: Path, fraudops_json: Any
) -> None:
    result = fraudops_json("labels", str(first_labels), "--json")
    manifest = result["ingest"]["manifest"]
    assert manifest["counts"]["valid"] == ROWS  # the decided rows and the late one
    assert manifest["rule_counts"] == {
        "duplicate_key": 1, "label_time_before_event": 1, "label_time_in_future": 1,
    }  # fmt: skip
    q = result["quality"]
    assert q["status"] == "watched" and q["champion"] == traffic["model"]["model_id"]
    assert q["labels"]["unmatched"] >= 1  # the late transaction's label waits for its decision
    hourly = window(q)
    assert hourly["decisions"] == ROWS - 1 and hourly["coverage"] == 1.0
    assert hourly["labelled_alerts"] == len(traffic["alerts"])
    assert hourly["precision"] == 0.0 and hourly["recall"] is None  # no fraud labelled
    assert hourly["floor"] == pytest.approx(HOLDOUT_PRECISION - c.PRECISION_MARGIN)
    assert hourly["shortfall"] > 0


def test_the_precision_alarm_fires_when_the_alerts_turn_out_genuine(
    first_labels: Path, aws: Any
) -> None:
    alarm = alarm_reaches(aws, "ALARM")
    assert alarm["MetricName"] == "PrecisionShortfall"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]}["role"] == "champion"


def test_chargebacks_correct_the_alerts_and_the_alarm_returns_to_ok(
    traffic: dict[str, Any], first_labels: Path, fraudops_json: Any, tmp_path: Path
) -> None:
    before = fraudops_json("monitor", "--json")["quality"]["labels"]
    now = datetime.now(UTC).replace(microsecond=0)
    rows = {r["transaction_id"]: r for r in traffic["rows"]}
    fixes = [label(rows[t], True, "chargeback", now, "cb") for t in traffic["alerts"]]
    result = fraudops_json("labels", write(tmp_path / "chargebacks.jsonl", fixes), "--json")
    assert result["ingest"]["manifest"]["counts"]["valid"] == len(fixes)
    q = result["quality"]
    assert q["labels"]["corrections"] - before["corrections"] == len(fixes)
    hourly = window(q)
    assert hourly["precision"] == 1.0 and hourly["shortfall"] < 0


def test_the_alarm_is_ok_again_after_the_corrections(aws: Any) -> None:
    alarm_reaches(aws, "OK")


def test_the_same_file_delivered_again_changes_nothing(
    first_labels: Path, fraudops_json: Any
) -> None:
    before = fraudops_json("monitor", "--json")["quality"]
    again = fraudops_json("labels", str(first_labels), "--json")
    assert again["ingest"]["manifest"]["counts"]["valid"] == 0  # every label_id known: duplicates
    after = again["quality"]
    assert after["labels"] == before["labels"]
    assert window(after) == window(before)


def test_a_label_that_came_first_is_matched_when_its_decision_appears(
    traffic: dict[str, Any], aws: Any, outputs: dict[str, str], fraudops_json: Any
) -> None:
    before = fraudops_json("monitor", "--json")["quality"]["labels"]
    late = traffic["late"]
    send_in_order(aws, outputs, [late])
    wait_decided(aws, outputs, [late["transaction_id"]])
    curated(aws, outputs, [late["transaction_id"]])
    after = fraudops_json("monitor", "--json")["quality"]["labels"]
    assert after["matched"] == before["matched"] + 1
    assert after["unmatched"] == before["unmatched"] - 1


def test_promoting_a_worse_shadow_is_refused_with_the_numbers_and_forcing_is_recorded(
    ls_layout: Layout, aws: Any, outputs: dict[str, str], traffic: dict[str, Any],
    fraudops_json: Any, tmp_path: Path,
) -> None:  # fmt: skip
    # Given the same model as shadow with a higher threshold: it alerts on fewer transactions
    data = model_bytes("hist_gradient_boosting")
    rows = transactions(ROWS, CARDS, seed=312, tag=f"shadow-{uuid.uuid4().hex[:6]}")
    x = FEATURES.matrix({col: [r.get(col) for r in rows] for col in FEATURES.input_columns})
    session = onnx_model.load(data, hashlib.sha256(data).hexdigest())
    high = float(np.quantile(onnx_model.fraud_probability(session, x), 0.85))
    shadow = register(ls_layout, aws, outputs, data, threshold=high,
                      metrics={"precision": HOLDOUT_PRECISION})  # fmt: skip
    training.promote(ls_layout, "transactions", str(shadow["version"]), reason="e2e", shadow=True)
    # scorers re-read the pointer within MODEL_REFRESH_SECONDS: wait that long, bounded
    ready = time.monotonic() + MODEL_REFRESH_SECONDS + 2
    poll(lambda: time.monotonic() >= ready, timeout=60, interval=1, what="the scorers' refresh")
    send_in_order(aws, outputs, rows)
    ids = [r["transaction_id"] for r in rows]
    decided = wait_decided(aws, outputs, ids)
    curated(aws, outputs, ids)
    assert {d.get("shadow_model_id") for d in decided.values()} == {shadow["model_id"]}
    # And every transaction the champion alerted on labelled fraud, the rest genuine
    now = datetime.now(UTC).replace(microsecond=0)
    by_id = {r["transaction_id"]: r for r in rows}
    labels = [
        label(by_id[t], d["outcome"] in ("review", "decline"), "chargeback", now, "s")
        for t, d in decided.items()
    ]
    fraudops_json("labels", write(tmp_path / "shadow-labels.jsonl", labels), "--json")
    # When the shadow is promoted: refused, with both models' numbers on the same decisions
    with pytest.raises(training.TrainingCliError) as refused:
        training.promote(ls_layout, "transactions", str(shadow["version"]), reason="e2e")
    message = str(refused.value)
    assert "the shadow is worse" in message and "--force" in message, message
    assert "shadow precision" in message and "champion precision" in message
    registry = ModelRegistry(DynamoRegistryStore(aws("dynamodb"), outputs["StateTableName"]))
    assert (registry.champion("transactions") or {})["model_id"] == traffic["model"]["model_id"]
    # And forced, it is promoted and the history records the forcing with the numbers
    record = training.promote(ls_layout, "transactions", str(shadow["version"]),
                              reason="e2e", force=True)  # fmt: skip
    assert record["status"] == "champion"
    pointer = registry.champion_pointer("transactions")
    assert pointer is not None
    assert "FORCED over live evidence: the shadow is worse" in pointer["history"][-1]["reason"]


def test_an_empty_labels_file_lands_as_an_empty_delivery_and_changes_nothing(
    fraudops_json: Any, tmp_path: Path
) -> None:
    before = fraudops_json("monitor", "--json")["quality"]
    empty = tmp_path / "labels-empty.jsonl"
    empty.write_bytes(b"")
    result = fraudops_json("labels", str(empty), "--json")
    manifest = result["ingest"]["manifest"]
    # an empty delivery is recorded (its manifest, zero rows), not an error and not a crash
    assert manifest["status"] == "ingested" and manifest["counts"]["rows_in"] == 0
    after = result["quality"]
    assert after["labels"] == before["labels"] and window(after) == window(before)
