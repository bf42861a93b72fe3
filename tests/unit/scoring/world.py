"""A scorer's world in memory: the registry, the card states, the decisions and everything
the scorers publish to, wired into the stream, replay and API use cases."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.scoring.api import ApiScoring
from fraudops_shared.scoring.models import ModelCache
from fraudops_shared.scoring.replay import replay_parked
from fraudops_shared.scoring.stream import ScoringResult, StreamScoring
from tests.unit.scoring.champions import (
    CONTRACT,
    START,
    MemoryModelSource,
    features,
    model_bytes,
    record,
)
from tests.unit.scoring.fakes import (
    MemoryCardStates,
    MemoryDecisionStore,
    MemoryParked,
    MemoryPublisher,
    MemoryScoringLog,
)

NOW = START + timedelta(days=6, hours=12)
SHARD = "shardId-000000000000"


@dataclass
class Clock:
    t: float = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    registry: MemoryModelSource = field(default_factory=MemoryModelSource)
    states: MemoryCardStates = field(default_factory=MemoryCardStates)
    decisions: MemoryDecisionStore = field(default_factory=MemoryDecisionStore)
    sink: MemoryPublisher = field(default_factory=MemoryPublisher)
    flags: MemoryPublisher = field(default_factory=MemoryPublisher)
    transactions: MemoryPublisher = field(default_factory=MemoryPublisher)
    log: MemoryScoringLog = field(default_factory=MemoryScoringLog)
    parked: MemoryParked = field(default_factory=MemoryParked)
    clock: Clock = field(default_factory=Clock)
    now: datetime = NOW
    seq: int = 0

    def __post_init__(self) -> None:
        self.contract = load_contract(CONTRACT)
        self.features = features()
        self.models = ModelCache(
            self.registry, CONTRACT, self.features, refresh_seconds=15, clock=self.clock
        )

    # --- the registry ----------------------------------------------------------------------

    def champion(self, version: int = 1, kind: str = "logistic_regression", **kw: Any) -> None:
        data = model_bytes(kind)
        self.registry.add(record(version, data, **kw), data)
        shadow = (self.registry.pointer_doc or {}).get("shadow")
        self.registry.promote(version, shadow)
        self.clock.t += 60  # past the refresh bound

    # --- the feed --------------------------------------------------------------------------

    def kinesis(self, rows: list[Any]) -> list[KinesisRecord]:
        out = []
        for row in rows:
            self.seq += 1
            data = row if isinstance(row, bytes) else json.dumps(row).encode()
            out.append(KinesisRecord(SHARD, str(1000 + self.seq), "slot-01", data))
        return out

    def score(self, records: list[KinesisRecord]) -> ScoringResult:
        batch = StreamScoring(
            self.contract, self.features, stream="feed", models=self.models,
            states=self.states, decisions=self.decisions, sink=self.sink, flags=self.flags,
            log=self.log, parked=self.parked, now=self.now,
        )  # fmt: skip
        for r in records:
            batch.add(r)
        return batch.finish()

    def replay(self) -> dict[str, Any]:
        return replay_parked(
            self.contract, self.features, models=self.models, states=self.states,
            decisions=self.decisions, sink=self.sink, flags=self.flags, log=self.log,
            parked=self.parked, now=self.now,
        )  # fmt: skip

    def api(self) -> ApiScoring:
        return ApiScoring(
            self.contract, self.features, models=self.models, states=self.states,
            decisions=self.decisions, sink=self.sink, flags=self.flags,
            transactions=self.transactions, now=lambda: self.now,
        )  # fmt: skip

    def counts(self) -> dict[str, int]:
        return self.log.counts.get(CONTRACT, {})

    def card(self, card: str) -> Any:
        assert self.features.windows is not None
        return self.states.state(CONTRACT, card, self.features.windows)
