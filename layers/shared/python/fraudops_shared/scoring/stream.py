"""Scoring the feed: every validated transaction gets one decision, or is parked (kept, counted)
until it can get one; ``in = decided + parked + dead_lettered`` per contract (source
``scoring``), committed with the shard's checkpoint.

A batch of feed records (Kinesis records, KPL-aggregated by card slot) is split into user
records, decoded, stripped of the feed's lineage fields (``_contract``...) and validated again
with the contract's code (the feed is curated data, so this only catches a broken producer). The
valid ones are decided together (``scoring.record``: one batched state read, one onnxruntime call
per model) and recorded; the decisions go onto the decisions stream and the flagged ones to
EventBridge; then the checkpoint moves and the counters are added in one transaction.

Parked, with the reason, under ``parked/<contract>/``: records that are not valid transactions
(for good), and under ``parked/<contract>/waiting/`` every record while no verified champion
exists (``scoring.replay`` decides them once a champion is promoted). A record whose scoring raises
something no rule anticipated is parked with the exception, the rest of its batch is decided.
Records at or before the shard's checkpoint were committed by an earlier invocation: skipped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fraudops_shared.contracts.schema import Contract
from fraudops_shared.contracts.values import parse_timestamp
from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.ingestion.records import KinesisRecord
from fraudops_shared.ingestion.stream_records import as_text, decode, split
from fraudops_shared.runtime.settings import PARKED_PREFIX
from fraudops_shared.scoring.engine import Decision, as_record, flagged
from fraudops_shared.scoring.models import ModelCache
from fraudops_shared.scoring.ports import (
    CardStates,
    DecisionSink,
    DecisionStore,
    FlagEvents,
    ParkedStore,
    ScoringLog,
)
from fraudops_shared.scoring.record import StillConflicting, score_and_record

NO_CHAMPION = "no_champion"
WAITING_FOLDER = "waiting/"  # parked/<contract>/waiting/: records a champion will decide


@dataclass
class Parked:
    record_id: str
    rule: str
    reason: str
    record: Any  # the decoded value, or the raw text
    replayable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "rule": self.rule,
            "reason": self.reason,
            "replayable": self.replayable,
            "record": self.record,
        }


@dataclass
class ScoringResult:
    decisions: list[Decision] = field(default_factory=list)
    fresh: int = 0  # decided by this invocation (the rest: decided before, returned as stored)
    parked: list[Parked] = field(default_factory=list)
    skipped_committed: int = 0
    model_version: int | None = None
    parked_key: str | None = None

    def outcomes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d["outcome"]] = out.get(d["outcome"], 0) + 1
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "decided": len(self.decisions),
            "fresh": self.fresh,
            "parked": len(self.parked),
            "skipped_committed": self.skipped_committed,
            "outcomes": self.outcomes(),
            "model_version": self.model_version,
            "parked_key": self.parked_key,
        }


def transaction_of(value: Any) -> Any:
    """A feed row without the feed's own fields (``_contract``, ``_record_id``...)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not str(k).startswith("_")}
    return value


class StreamScoring:
    """One invocation's batch of feed records (one shard)."""

    def __init__(
        self,
        contract: Contract,
        features: FeatureSet,
        *,
        stream: str,
        models: ModelCache,
        states: CardStates,
        decisions: DecisionStore,
        sink: DecisionSink,
        flags: FlagEvents,
        log: ScoringLog,
        parked: ParkedStore,
        now: datetime,
    ) -> None:
        self.contract, self.features, self.stream, self.now = contract, features, stream, now
        self.models, self.states, self.decisions = models, states, decisions
        self.sink, self.flags, self.log, self.parked_store = sink, flags, log, parked
        self.started = time.perf_counter()
        self.kinesis: list[KinesisRecord] = []
        self.values: list[tuple[str, Any]] = []  # (record id, decoded value)
        self.copies: list[tuple[str, str, Any]] = []  # (record id, transaction id, value)
        self.result = ScoringResult()
        self.checkpoints: dict[str, str | None] = {}

    def add(self, record: KinesisRecord) -> None:
        """Decode one feed record; never raises for its content."""
        shard = record.shard_id
        if shard not in self.checkpoints:
            self.checkpoints[shard] = self.log.checkpoint(self.stream, shard)
        done = self.checkpoints[shard]
        if done is not None and int(record.sequence_number) <= int(done):
            self.result.skipped_committed += 1
            return
        self.kinesis.append(record)
        users, broken = split(record)
        if broken is not None:
            self._park(broken.record_id, broken.rules[0], broken.reasons[0], broken.record)
        for user in users:
            value, rejected = decode(user)
            if rejected is not None:
                self._park(user.record_id, rejected.rules[0], rejected.reasons[0], rejected.record)
            else:
                self.values.append((user.record_id, value))

    def finish(self) -> ScoringResult:
        if not self.kinesis:
            return self.result
        shards = {r.shard_id for r in self.kinesis}
        if len(shards) != 1:  # an event source mapping sends one shard per invocation
            raise ValueError(f"records of {len(shards)} shards in one batch: {sorted(shards)}")
        shard = self.kinesis[0].shard_id
        first, last = self.kinesis[0].sequence_number, self.kinesis[-1].sequence_number
        valid = self._validate()
        champion, shadow = self.models.current()
        if champion is None:
            for record_id, row in valid:
                reason = "no verified champion can score it yet: kept until one is promoted"
                self._park(record_id, NO_CHAMPION, reason, row, replayable=True)
            valid = []
        else:
            self.result.model_version = champion.version
            self._decide(valid, champion, shadow)
        self._copies()
        batch_id = f"{shard}-{first}-{last}"
        for replayable, folder in ((False, ""), (True, WAITING_FOLDER)):
            rows = [p.as_dict() for p in self.result.parked if p.replayable == replayable]
            if rows:
                key = f"{PARKED_PREFIX}{self.contract.name}/{folder}{batch_id}.jsonl"
                self.parked_store.park(key, rows)
                self.result.parked_key = key
        if self.result.decisions:
            self.sink.publish([as_record(d) for d in self.result.decisions])
            self.flags.publish([d for d in self.result.decisions if flagged(d)])
        counts = {
            "in_records": len(self.result.decisions) + len(self.result.parked),
            "decided": len(self.result.decisions),
            "parked": len(self.result.parked),
        }
        # CommitConflict: another invocation committed this range; Lambda retries and skips it
        self.log.commit(
            self.contract.name, self.stream, shard, self.checkpoints.get(shard), first, last,
            counts,
        )  # fmt: skip
        return self.result

    # --- steps ---------------------------------------------------------------------------------

    def _validate(self) -> list[tuple[str, dict[str, Any]]]:
        """The valid transactions, each once: a copy of one already in this batch (the feed is
        at least once) waits for the first one's fate (``_copies``)."""
        firsts: dict[str, int] = {}
        values: list[tuple[str, Any]] = []
        for record_id, value in self.values:
            tid = value.get("transaction_id") if isinstance(value, dict) else None
            if isinstance(tid, str) and tid in firsts:
                self.copies.append((record_id, tid, value))
                continue
            if isinstance(tid, str):
                firsts[tid] = len(values)
            values.append((record_id, value))
        self.values = values
        valid = []
        for record_id, value in self.values:
            problem = self._problem(value)
            if problem is not None:
                self._park(record_id, problem[0], problem[1], value)
            else:
                valid.append((record_id, transaction_of(value)))
        return valid

    def _problem(self, value: Any) -> tuple[str, str] | None:
        """Why a feed value is not a transaction of this contract, or None. The feed carries
        curated rows (validated by ingestion, and only ingestion may write it), so this checks
        what it says it is; a value scoring cannot use still ends parked (``_decide``)."""
        if not isinstance(value, dict):
            return "not_an_object", f"a JSON {type(value).__name__}, not a transaction"
        said = value.get("_contract")
        if said is not None and said != self.contract.name:
            return "wrong_contract", f"a {said!r} row on the {self.contract.name!r} feed"
        tid = value.get("transaction_id")
        if not isinstance(tid, str) or not tid:
            return "not_null:transaction_id", "no transaction_id"
        when = value.get(self.contract.event_time)
        if not isinstance(when, str) or parse_timestamp(when) is None:
            col = self.contract.event_time
            return f"type:{col}", f"{col} {when!r} is not an ISO-8601 time with its offset"
        return None

    def _copies(self) -> None:
        """A transaction's copies in this batch share its first delivery's fate."""
        decided = {d["transaction_id"]: d for d in self.result.decisions}
        parked = {
            str(p.record.get("transaction_id")): p
            for p in self.result.parked
            if isinstance(p.record, dict)
        }
        for record_id, tid, value in self.copies:
            if tid in decided:
                self.result.decisions.append(decided[tid])
            elif (first := parked.get(tid)) is not None:
                self._park(record_id, first.rule, first.reason, value, replayable=first.replayable)
            else:  # the first one was parked before it had an id we could read
                self._park(record_id, "duplicate", f"a copy of {tid} in the same batch", value)

    def _decide(
        self, valid: Sequence[tuple[str, dict[str, Any]]], champion: Any, shadow: Any
    ) -> None:
        try:
            self._record([r for _, r in valid], champion, shadow)
        except Exception:
            if len(valid) <= 1:
                raise
            for record_id, row in valid:  # find the record that cannot be scored, keep the rest
                try:
                    self._record([row], champion, shadow)
                except Exception as err:
                    if _is_ours(err):
                        raise
                    reason = f"{type(err).__name__}: {err}"[:1000]
                    self._park(record_id, "unprocessable", reason, row)

    def _record(self, rows: list[dict[str, Any]], champion: Any, shadow: Any) -> None:
        made, fresh = score_and_record(
            rows,
            contract=self.contract.name,
            features=self.features,
            champion=champion,
            shadow=shadow,
            states=self.states,
            decisions=self.decisions,
            source="stream",
            now=self.now,
            started=self.started,
        )
        self.result.decisions += made
        self.result.fresh += sum(fresh)

    def _park(
        self, record_id: str, rule: str, reason: str, record: Any, *, replayable: bool = False
    ) -> None:
        kept = as_text(record) if isinstance(record, bytes) else record
        self.result.parked.append(Parked(record_id, rule, reason, kept, replayable))


def _is_ours(err: BaseException) -> bool:
    """AWS and concurrency failures are the invocation's (retried), not the record's."""
    return isinstance(err, StillConflicting) or type(err).__module__.startswith("botocore")
