"""A scored batch's metrics, from its decisions and the model cache (``emit_scoring_metrics``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fraudops_shared.runtime.observability import emit_refusals, emit_scoring_metrics, logger
from fraudops_shared.scoring.models import ModelCache, Refusal


def report(
    contract: str, decisions: Sequence[Mapping[str, Any]], parked: int, models: ModelCache
) -> None:
    outcomes: dict[str, int] = {}
    for d in decisions:
        outcomes[d["outcome"]] = outcomes.get(d["outcome"], 0) + 1
    refused = models.drain_refusals()
    warn(refused)
    emit_scoring_metrics(
        contract,
        outcomes=outcomes,
        parked=parked,
        latency_ms=max((float(d["latency_ms"]) for d in decisions), default=None),
        champion=models.champion.version if models.champion else None,
        shadow=models.shadow.version if models.shadow else None,
        refused=len(refused),
        loads=models.loads,
    )
    models.loads = 0


def report_refusals(contract: str, models: ModelCache) -> None:
    """The API's share of the model-rejected alarm: the versions its own cache refused."""
    refused = models.drain_refusals()
    warn(refused)
    if refused:
        emit_refusals(contract, len(refused))


def warn(refused: Sequence[Refusal]) -> None:
    for r in refused:
        logger.warning("model refused: the last verified champion keeps serving",
                       extra={"version": r.version, "reason": r.reason})  # fmt: skip
