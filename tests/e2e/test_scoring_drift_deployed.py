"""The drift watch on the deployed stack: a champion whose training baseline is the distribution
of ordinary traffic; ordinary traffic streamed through the stack is watched and does not breach;
traffic drifted as `fraudops generate --drift` makes is watched, breaches on a feature the model
leans on, and the drift alarm (LocalStack evaluates it) goes to ALARM.

Runs after the scoring tests (file order): it promotes its own champion, so the decisions it
watches are its own (other models' decisions in the window are counted apart)."""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from typing import Any

import pytest

from fraudops.clients import poll
from fraudops.paths import Layout
from fraudops_shared.runtime.settings import DECISIONS_CONTRACT
from fraudops_shared.training import onnx_model
from fraudops_shared.training.evaluation import baseline_statistics
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

# 1,200 transactions of 300 cards a phase: card-level features are correlated within a card, so
# fewer cards make PSI noisy (60 cards gave 0.26 on ordinary traffic; 300 give <= 0.06)
ROWS, CARDS = 1_200, 300


@pytest.fixture(scope="module")
def champion(ls_layout: Layout, aws: Any, outputs: dict[str, str]) -> dict[str, Any]:
    """A champion whose baseline is ordinary traffic's offline features and scores (what
    training stores: quantile bins per feature, the score distribution)."""
    data = model_bytes("hist_gradient_boosting")
    reference = transactions(8_000, 2_000, seed=301, tag=f"ref-{uuid.uuid4().hex[:6]}")
    x = FEATURES.matrix({col: [r.get(col) for r in reference] for col in FEATURES.input_columns})
    session = onnx_model.load(data, hashlib.sha256(data).hexdigest())
    scores = onnx_model.fraud_probability(session, x)
    baseline = baseline_statistics(x, FEATURES.names, scores, threshold=0.5, bins=10)
    version = register(ls_layout, aws, outputs, data, baseline=baseline)
    promote(ls_layout, int(version["version"]))
    # the earlier modules' traffic, watched against their champions' baselines, may have left
    # the alarm in ALARM; from the promotion on the watch reads only this champion's decisions
    # (none yet: it publishes nothing, which the alarm treats as not breaching), so it clears
    poll(
        lambda: drift_alarm(aws)["StateValue"] != "ALARM",
        timeout=c.DRIFT_WINDOW_LOCAL_SECONDS + 4 * c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS,
        interval=5,
        what="the drift alarm left by earlier modules to clear",
    )
    return version


# The watch's window is time-based (the last N seconds of decisions): a phase starts this long
# after the previous phase's last decision, and its window reaches back 1-2 s before its send,
# so that no decision of the previous phase falls in it (a 5 s margin did, once the stack got
# fast enough to decide 1,200 transactions and curate them in ~13 s).
PHASE_GAP_S = 3.0
last_decided = [0.0]


def stream_and_watch(aws: Any, outputs: dict[str, str], rows: list[dict[str, Any]]) -> dict:
    """Send ``rows``, wait until each is decided and its decision curated in the decisions
    zone, then run the watch over exactly the time since the send."""
    poll(lambda: time.time() - last_decided[0] > PHASE_GAP_S, timeout=PHASE_GAP_S + 1,
         interval=0.2, what="the previous phase's decisions out of the window")  # fmt: skip
    started = time.time()
    send_in_order(aws, outputs, rows)
    ids = [r["transaction_id"] for r in rows]
    wait_decided(aws, outputs, ids)
    last_decided[0] = time.time()
    bucket = outputs["DataBucketName"]

    def curated() -> bool:
        zone = curated_zone(aws, bucket, contract=DECISIONS_CONTRACT)
        return set(ids) <= set(zone["transaction_id"].to_pylist())

    poll(curated, timeout=240, interval=3, what="the decisions curated")
    window = math.ceil(time.time() - started) + 1
    answer = aws("lambda").invoke(
        FunctionName=outputs[c.OUT_MONITOR_DRIFT_FN],
        Payload=json.dumps({"window_seconds": window}).encode(),
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    report: dict[str, Any] = json.loads(answer["Payload"].read())
    return report


def drift_alarm(aws: Any) -> dict[str, Any]:
    (alarm,) = [
        a
        for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=c.STACK_NAME)["MetricAlarms"]
        if a["AlarmName"].endswith(f"-{c.ALARM_DRIFT}")
    ]
    return alarm


def test_ordinary_traffic_is_watched_and_does_not_breach(
    champion: dict[str, Any], aws: Any, outputs: dict[str, str]
) -> None:
    rows = transactions(ROWS, CARDS, seed=302, tag=f"calm-{uuid.uuid4().hex[:6]}")
    report = stream_and_watch(aws, outputs, rows)
    assert report["status"] == "watched" and report["model_id"] == champion["model_id"]
    assert report["decisions"] == ROWS
    # every feature the decisions carry was binned (none read as null)
    assert {n for n, f in report["features"].items() if f["psi"] is not None} == set(FEATURES.names)
    assert report["breaches"] == [] and report["alarm_psi"] < c.DRIFT_PSI_THRESHOLD
    # the important features are the model's own (its explainer over the champion's ONNX)
    assert report["importance_from"] == "model", report
    assert len(report["important"]) == 10 and set(report["important"]) <= set(FEATURES.names)
    alarm = drift_alarm(aws)
    assert alarm["StateValue"] != "ALARM", alarm["StateReason"]


def test_drifted_traffic_breaches_and_the_drift_alarm_fires(
    champion: dict[str, Any], aws: Any, outputs: dict[str, str]
) -> None:
    rows = transactions(ROWS, CARDS, seed=303, tag=f"drift-{uuid.uuid4().hex[:6]}", drift=1.0)
    report = stream_and_watch(aws, outputs, rows)
    assert report["status"] == "watched" and report["decisions"] == ROWS
    shown = {k: v for k, v in report.items() if k != "features"}
    shown["psi"] = {n: f["psi"] for n, f in report["features"].items() if (f["psi"] or 0) > 0.05}
    print(json.dumps(shown, indent=1, default=str))  # shown with a failure
    assert report["alarm_psi"] > c.DRIFT_PSI_THRESHOLD, shown
    breached = {b["name"] for b in report["breaches"]}
    assert breached and breached <= {*report["important"], "score"}
    # LocalStack evaluates the alarm on its period (60 s on the local stage)
    alarm = poll(
        lambda: (a := drift_alarm(aws))["StateValue"] == "ALARM" and a,
        timeout=4 * c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS, interval=5, what="the drift alarm",
    )  # fmt: skip
    assert alarm["MetricName"] == "DriftPSI"


def test_the_drift_alarm_clears_once_the_drifted_decisions_leave_the_window(aws: Any) -> None:
    # the scheduled watch looks at the last DRIFT_WINDOW_LOCAL_SECONDS of decisions: without
    # new drifted traffic it soon publishes no breach (an empty window publishes nothing)
    timeout = c.DRIFT_WINDOW_LOCAL_SECONDS + 4 * c.DRIFT_ALARM_PERIOD_LOCAL_SECONDS
    alarm = poll(
        lambda: (a := drift_alarm(aws))["StateValue"] == "OK" and a,
        timeout=timeout, interval=5, what="the drift alarm back to OK",
    )  # fmt: skip
    assert alarm["StateValue"] == "OK"
