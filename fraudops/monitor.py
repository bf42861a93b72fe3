"""`fraudops labels FILE` and `fraudops monitor`: labels landed like any contract and joined by
the deployed quality watch; the watches run now (the same functions the schedules run, so the
figures shown are the ones published), with the alarms' states beside them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fraudops import deploy, ingest
from fraudops.clients import client
from fraudops.errors import UserError
from fraudops.paths import Layout
from fraudops_shared.aws.retrain import DynamoRetrainGuard
from fraudops_shared.monitoring.retrain import GuardState
from fraudops_shared.runtime.settings import LABELS_CONTRACT
from infra import constants as c

STREAM_CONTRACT = c.STREAM_CONTRACT


class MonitorCliError(UserError):
    """A watch that failed."""


def run_watch(layout: Layout, output: str, payload: Mapping[str, Any] | None = None) -> Any:
    """Invoke one watch function (by its stack output) and return its summary."""
    name = deploy.outputs(layout, output)[output]
    answer = client(layout, "lambda").invoke(
        FunctionName=name, Payload=json.dumps(dict(payload or {})).encode()
    )
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise MonitorCliError(f"{name} failed: {body}")
    return body


def quality(layout: Layout) -> dict[str, Any]:
    return dict(run_watch(layout, c.OUT_MONITOR_QUALITY_FN))


def drift(layout: Layout) -> dict[str, Any]:
    return dict(run_watch(layout, c.OUT_MONITOR_DRIFT_FN))


def alarms(layout: Layout) -> list[dict[str, Any]]:
    """Every alarm of the stack with its state, reason and when it last changed."""
    prefix = f"{deploy.stack_name()}-"
    cw = client(layout, "cloudwatch")
    out: list[dict[str, Any]] = []
    for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        for alarm in page.get("MetricAlarms", []):
            out.append({
                "alarm": alarm["AlarmName"].removeprefix(prefix),
                "state": alarm["StateValue"],
                "since": alarm.get("StateUpdatedTimestamp"),
                "reason": alarm.get("StateReason", ""),
            })  # fmt: skip
    return sorted(out, key=lambda a: a["alarm"])


def labels(layout: Layout, path: str, *, timeout: float = 300.0) -> dict[str, Any]:
    """Land a labels file (``landing/labels/``), wait for its manifest, then run the quality
    watch so the join's counts and the figures are published and returned now."""
    landed = ingest.ingest_file(layout, path, LABELS_CONTRACT, wait=True, timeout=timeout)
    return {"ingest": landed, "quality": quality(layout)}


def _guard(layout: Layout) -> DynamoRetrainGuard:
    table = deploy.outputs(layout, "StateTableName")["StateTableName"]
    return DynamoRetrainGuard(client(layout, "dynamodb"), table)


def retraining(layout: Layout, contract: str = STREAM_CONTRACT) -> dict[str, Any]:
    """The retraining guard of ``contract``: running run, last start, its trigger and outcome,
    today's count, paused or not."""
    return {"contract": contract, **_guard(layout).item(contract)}


def guard_state(layout: Layout, contract: str = STREAM_CONTRACT) -> GuardState:
    """The retraining guard as the alarm handler reads it (to ask whether it would start)."""
    return _guard(layout).state(contract)


def set_paused(layout: Layout, paused: bool, contract: str = STREAM_CONTRACT) -> dict[str, Any]:
    """Switch automatic retraining off (maintenance) or on again; returns the guard."""
    _guard(layout).set_paused(contract, paused)
    return retraining(layout, contract)


def monitor(layout: Layout) -> dict[str, Any]:
    return {
        "quality": quality(layout),
        "drift": drift(layout),
        "alarms": alarms(layout),
        "retraining": retraining(layout),
    }


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def drift_lines(summary: Mapping[str, Any]) -> list[str]:
    breaches: Sequence[Mapping[str, Any]] = summary.get("breaches", [])
    return [
        f"drift ({summary.get('status')}): {summary.get('decisions', 0)} decisions, score PSI "
        f"{_fmt(summary.get('score_psi'))}, alarm PSI {_fmt(summary.get('alarm_psi'))} "
        f"(threshold {summary.get('threshold')}); breaches: "
        + (", ".join(f"{b['name']} {b['psi']}" for b in breaches) or "none")
    ]


def retraining_lines(guard: Mapping[str, Any]) -> list[str]:
    trigger = guard.get("last_trigger") or {}
    running = guard.get("running")
    return [
        f"retraining ({'paused' if guard.get('paused') else 'on'}): "
        f"running {running if running and running != '-' else 'none'}; last "
        f"{guard.get('last_run_id') or 'none'} after {trigger.get('alarm') or '-'} "
        f"({trigger.get('at') or '-'}); outcome {guard.get('last_outcome') or '-'}; "
        f"today {int(guard.get('day_count') or 0)}"
    ]
