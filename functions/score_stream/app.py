"""The scoring feed: each validated transaction decided once by the champion (onnxruntime, no
scikit-learn), recorded, published; parked while no verified champion exists and replayed when
one is promoted (``fraudops_shared.scoring.stream`` and ``.replay``). Bad records never fail a
batch; AWS errors do (Lambda retries, bisects, then dead-letters)."""

# ruff: noqa: E402 (the clock starts before the imports: a cold start's split is logged)
from __future__ import annotations

import time

STARTED = time.perf_counter()
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraudops_shared.aws import wiring
from fraudops_shared.contracts.schema import load_contract
from fraudops_shared.features.transforms import feature_set
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.observability import logger, metrics, stream_consumer, tracer
from fraudops_shared.scoring.replay import replay_parked
from fraudops_shared.scoring.reporting import report
from fraudops_shared.scoring.stream import StreamScoring

IMPORTED = time.perf_counter()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
CONTRACT = load_contract(settings.stream_contract())
FEATURES = feature_set(CONTRACT.name)
MODELS = wiring.model_cache(CONTRACT.name, FEATURES)  # loaded on first use (logs load_ms), kept
logger.info("initialised", extra={"imports_ms": round((IMPORTED - STARTED) * 1000, 1),
            "init_ms": round((time.perf_counter() - STARTED) * 1000, 1)})  # fmt: skip


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@stream_consumer(settings.FN_SCORE_STREAM)  # how far behind; fault injection (off)
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    now, ports = datetime.now(UTC), wiring.scoring_adapters()
    parked, log = wiring.parked_store(), wiring.scoring_log()
    if "Records" not in event:  # the registry's Model Promoted event, or a manual replay
        done = replay_parked(CONTRACT, FEATURES, models=MODELS, log=log, parked=parked, now=now,
                             **ports)  # fmt: skip
        logger.info("parked records replayed", extra=done)
        return done
    stream = event["Records"][0]["eventSourceARN"].rsplit("/", 1)[-1] if event["Records"] else ""
    batch = StreamScoring(CONTRACT, FEATURES, stream=stream, models=MODELS, log=log,
                          parked=parked, now=now, **ports)  # fmt: skip
    add = lambda record: batch.add(KinesisRecord.from_lambda_event(record.raw_event))  # noqa: E731
    with processor(event["Records"], add, lambda_context=context):
        processor.process()
    result = batch.finish()
    report(CONTRACT.name, result.decisions, len(result.parked), MODELS)
    logger.info("scored", extra=result.summary())
    return processor.response()
