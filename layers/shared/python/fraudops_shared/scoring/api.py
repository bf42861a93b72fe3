"""The synchronous scoring API: one transaction in, its decision out, on the stream's code path.

Answers (``ApiAnswer``):

* 200 ``{"decision": {...}, "duplicate": false}``; the same transaction again (by id, however
  many at once) answers 200 with the decision already made and ``"duplicate": true``: one
  decision, the card's state moved once;
* 400 ``{"error": {"code": "invalid_transaction", "rules": [...], "reasons": [...]}}`` for a body
  that is not a valid transaction of the contract (JSON too deep, a lone surrogate, a missing or
  out-of-range field, NaN or Infinity, a naive or future time...): the contract's rule ids, as
  ingestion would quarantine it;
* 413 for a body over ``MAX_BODY_BYTES``;
* 503 ``{"error": {"code": "no_champion", ...}}`` while no verified champion exists, and
  ``model_unavailable`` when one exists but could not be read just now (retry).

Order: the card's state first (conditional on its version; a concurrent writer makes this
request read again), then the decision (written only if none exists: concurrent duplicates all
answer with the first one stored), then the decisions stream, the flagged event and the
transactions stream (the scored transaction is ingested like any other; when it reaches the
feed its decision is found, not made again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fraudops_shared.contracts.records import check_record
from fraudops_shared.contracts.schema import Contract
from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.ingestion.records import UserRecord
from fraudops_shared.ingestion.stream_records import decode
from fraudops_shared.scoring.engine import as_record, decide, flagged
from fraudops_shared.scoring.models import ModelCache, ModelUnavailable
from fraudops_shared.scoring.ports import (
    CardStates,
    DecisionSink,
    DecisionStore,
    FlagEvents,
    StateConflict,
    StateWrite,
    TransactionSink,
)
from fraudops_shared.scoring.stream import transaction_of

MAX_BODY_BYTES = 256 * 1024  # a transaction is ~0.5 KB; the function URL's own limit is 6 MB
ATTEMPTS = 20  # state conflicts (a burst on one card) before answering 503


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: dict[str, Any]
    outcome: str | None = None  # for metrics: approve/review/decline, duplicate, invalid...


def _error(status: int, code: str, message: str, **extra: Any) -> ApiAnswer:
    return ApiAnswer(status, {"error": {"code": code, "message": message, **extra}}, code)


class ApiScoring:
    def __init__(
        self,
        contract: Contract,
        features: FeatureSet,
        *,
        models: ModelCache,
        states: CardStates,
        decisions: DecisionStore,
        sink: DecisionSink,
        flags: FlagEvents,
        transactions: TransactionSink | None,
        now: Callable[[], datetime],
    ) -> None:
        self.contract, self.features, self.models, self.now = contract, features, models, now
        self.states, self.decisions, self.sink, self.flags = states, decisions, sink, flags
        self.transactions = transactions

    def score(self, body: bytes, request_id: str = "api") -> ApiAnswer:
        started = time.perf_counter()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "too_large", f"{len(body)} bytes; at most {MAX_BODY_BYTES}")
        value, rejected = decode(UserRecord(request_id, request_id, "api", body))
        if rejected is not None:
            return _error(400, "invalid_transaction", "not a transaction",
                          rules=rejected.rules, reasons=rejected.reasons)  # fmt: skip
        row = transaction_of(value)
        now = self.now()
        verdict = check_record(self.contract, row, now=now)  # pure Python: no pyarrow here
        if verdict.valid_row is None:
            return _error(400, "invalid_transaction", "the transaction breaks the contract",
                          rules=verdict.rules, reasons=verdict.reasons)  # fmt: skip
        tid = str(row["transaction_id"])
        if (existing := self.decisions.get_many([tid]).get(tid)) is not None:
            return ApiAnswer(200, {"decision": existing, "duplicate": True}, "duplicate")
        try:
            champion, shadow = self.models.current()
        except ModelUnavailable as err:  # the champion exists but could not be read just now
            return _error(503, "model_unavailable", f"the champion could not be loaded: {err}; "
                          "retry")  # fmt: skip
        if champion is None:
            return _error(503, "no_champion", "no verified champion model yet: promote one "
                          "(fraudops models promote V) or wait for training")  # fmt: skip
        return self._decide(row, tid, champion, shadow, now, started)

    def _decide(
        self, row: dict[str, Any], tid: str, champion: Any, shadow: Any, now: datetime,
        started: float,
    ) -> ApiAnswer:  # fmt: skip
        spec = self.features.windows
        card = str(row.get(spec.key)) if spec is not None else None
        for _ in range(ATTEMPTS):
            stored = (
                self.states.get_many(self.contract.name, [card], spec)
                if spec is not None and card is not None
                else {}
            )
            scored = decide(
                [row], {c: s.state for c, s in stored.items()}, self.features, champion,
                shadow, source="api", now=now, started=started,
            )  # fmt: skip
            writes = [
                StateWrite(c, s, stored[c].version if c in stored else 0)
                for c, s in scored.batch.states.items()
            ]
            try:
                if writes:
                    self.states.put_many(self.contract.name, writes)
            except StateConflict:
                continue  # the card moved (a burst, a duplicate): read it again
            decision = scored.decisions[0]
            existing = self.decisions.put_new(decision)
            if existing is not None:
                return ApiAnswer(200, {"decision": existing, "duplicate": True}, "duplicate")
            self.sink.publish([as_record(decision)])
            if flagged(decision):
                self.flags.publish([decision])
            if self.transactions is not None:
                self.transactions.put(row)
            return ApiAnswer(200, {"decision": decision, "duplicate": False}, decision["outcome"])
        return _error(503, "busy", f"card state changed {ATTEMPTS} times during scoring: retry")


def answer_json(answer: ApiAnswer) -> str:
    return json.dumps(answer.body, separators=(",", ":"), allow_nan=False, default=str)
