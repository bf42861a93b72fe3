"""The synchronous scoring API behind a function URL (AWS_IAM): one transaction in, its
decision out, on the stream's code path (``fraudops_shared.scoring.api``): 200, 400 with the
contract's rule ids, 413, 503 while no verified champion exists; never a 500 for a body."""

# ruff: noqa: E402 (the clock starts before the imports: a cold start's split is logged)
from __future__ import annotations

import time

STARTED = time.perf_counter()
import base64
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.contracts.schema import load_contract
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.faults import inject
from fraudops_shared.runtime.observability import emit_api_metrics, logger, metrics, tracer
from fraudops_shared.scoring.api import ApiScoring, answer_json
from fraudops_shared.scoring.reporting import report_refusals

IMPORTED = time.perf_counter()
CONTRACT = load_contract(settings.stream_contract())
FEATURES = feature_set(CONTRACT.name)
MODELS = wiring.model_cache(CONTRACT.name, FEATURES)  # loaded on first use (logs load_ms), kept
API = ApiScoring(
    CONTRACT, FEATURES, models=MODELS, transactions=wiring.transaction_sink(),
    now=lambda: datetime.now(UTC), **wiring.scoring_adapters(),
)  # fmt: skip
logger.info("initialised", extra={"imports_ms": round((IMPORTED - STARTED) * 1000, 1),
            "init_ms": round((time.perf_counter() - STARTED) * 1000, 1)})  # fmt: skip


def body_of(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    inject(settings.FN_SCORE_API)  # off unless the deployment asks: a crash, not an answer
    started = time.perf_counter()
    answer = API.score(body_of(event), request_id=context.aws_request_id)
    latency = (time.perf_counter() - started) * 1000
    emit_api_metrics(CONTRACT.name, outcome=answer.outcome, latency_ms=latency)
    report_refusals(CONTRACT.name, MODELS)
    logger.info("scored", extra={"status": answer.status, "outcome": answer.outcome,
                                 "latency_ms": round(latency, 2)})  # fmt: skip
    return {
        "statusCode": answer.status,
        "headers": {"content-type": "application/json"},
        "body": answer_json(answer),
    }
