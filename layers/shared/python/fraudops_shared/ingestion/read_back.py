"""Reading a given-up Kinesis batch back from its shard, completely or loudly: shared by the
dead letters of ingestion (``ingestion.dead_letters``) and of scoring (``scoring.dead_letters``).
No pyarrow here: the scoring side ships without it."""

from __future__ import annotations

from typing import Any

from fraudops_shared.ingestion.records import KinesisRecord


class IncompleteReadError(RuntimeError):
    """The shard returned fewer records than the batch held, and not because they expired."""


def gave_up_reason(message: dict[str, Any], function: str = "stream function") -> str:
    """Why Lambda gave up, from its on-failure record (condition, error, attempts)."""
    ctx = message.get("requestContext", {})
    resp = message.get("responseContext", {})
    parts = [ctx.get("condition", "unknown condition")]
    if resp.get("functionError"):
        parts.append(f"function error {resp['functionError']}")
    if ctx.get("approximateInvokeCount"):
        parts.append(f"after {ctx['approximateInvokeCount']} attempts")
    return f"{function} gave up: " + ", ".join(parts)


def check_complete(
    records: list[KinesisRecord], first: str, last: str, size: int | None
) -> tuple[list[KinesisRecord], int]:
    """(the records of the batch, how many expired). Expired records are the batch's oldest
    ones: the read starts past ``first``. Anything else missing is an IncompleteReadError."""
    batch = [r for r in records if int(first) <= int(r.sequence_number) <= int(last)]
    if size is None:
        if not batch or batch[0].sequence_number != first:
            raise IncompleteReadError(f"range {first}..{last}: no batch size to check against")
        return batch, 0
    if len(batch) == size:
        return batch, 0
    reached_end = bool(batch) and batch[-1].sequence_number == last
    started_late = not batch or batch[0].sequence_number != first
    if len(batch) < size and started_late and (reached_end or not batch):
        return batch, size - len(batch)
    raise IncompleteReadError(
        f"range {first}..{last}: read {len(batch)} of {size} records "
        f"({'from the first' if not started_late else 'not from the first'}, "
        f"{'to the last' if reached_end else 'not to the last'})"
    )
