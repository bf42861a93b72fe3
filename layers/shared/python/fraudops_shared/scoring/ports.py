"""What scoring needs from the outside world, as small protocols (adapters in
``fraudops_shared.aws.scoring``, in-memory ones in the unit tests' fakes).

Write order, which makes every retry safe (at least once everywhere, exactly once where it
matters): card states first (conditional on the version read: a concurrent writer of the same
card makes the batch read again and recompute), then the decisions (a repeat of a transaction
whose state already holds it returns the decision stored, or is decided again from the same
state when a crash came between the two writes), then the decisions stream and the flagged
events (at least once: their consumers dedupe by transaction id), then the checkpoint and the
counters in one transaction (exactly once per feed record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fraudops_shared.features.online import CardState
from fraudops_shared.features.windows import WindowSpec


@dataclass(frozen=True)
class StoredState:
    state: CardState
    version: int  # the item's version: a write must find it unchanged


@dataclass(frozen=True)
class StateWrite:
    card: str
    state: CardState
    expected: int  # 0: the card had no state


class StateConflict(RuntimeError):
    """Another writer changed some of these cards since they were read: read again."""


class CardStates(Protocol):
    def get_many(
        self, contract: str, cards: Sequence[str], spec: WindowSpec
    ) -> dict[str, StoredState]:
        """The states of the cards that have one (batched reads)."""

    def put_many(self, contract: str, writes: Sequence[StateWrite]) -> None:
        """All, each conditional on its expected version; StateConflict if any was changed
        (writes already made stay: they are idempotent under the transaction ids they hold)."""


class DecisionStore(Protocol):
    def get_many(self, transaction_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def put_many(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        """Unconditional, idempotent by transaction id (batched writes)."""

    def put_new(self, decision: Mapping[str, Any]) -> dict[str, Any] | None:
        """Write unless one exists; the existing decision if there was one."""


class DecisionSink(Protocol):
    def publish(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        """Onto the decisions stream (the decisions contract's rows), at least once."""


class FlagEvents(Protocol):
    def publish(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        """``Transaction Flagged`` events for review and decline decisions, at least once."""


class ScoringLog(Protocol):
    def checkpoint(self, stream: str, shard: str) -> str | None:
        """The last sequence number committed for the shard."""

    def commit(
        self,
        contract: str,
        stream: str,
        shard: str,
        expected: str | None,
        first: str,
        last: str,
        counts: Mapping[str, int],
    ) -> None:
        """Move the checkpoint from ``expected`` to ``last``, record the range ``first..last``
        and add the counters, in one transaction; ``lake.commits.CommitConflict`` when the
        checkpoint moved meanwhile."""

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        """The sequence ranges of the shard's commits that overlap ``first..last`` (what the
        dead-letter read-back must not count again)."""

    def commit_once(self, contract: str, key: str, counts: Mapping[str, int]) -> bool:
        """Record ``key`` done (a parked file replayed, a range's expired records) and add its
        counters, once; False if it was done already."""

    def dead_version(self, stream: str, shard: str) -> int:
        """How many dead-letter accountings the shard has committed (read before ``covered``)."""

    def claim_dead(
        self,
        contract: str,
        stream: str,
        shard: str,
        version: int,
        runs: Sequence[tuple[str, str]],
        counts: Mapping[str, int],
    ) -> None:
        """Record ``runs`` (first, last sequence numbers of records no commit covered) in the
        shard's log, so ``covered`` returns them, move the shard's dead-letter version from
        ``version`` and add the counters, in one transaction; ``lake.commits.CommitConflict``
        when another accounting moved the version meanwhile."""


class ParkedStore(Protocol):
    """Feed records kept while they cannot be scored, one JSON Lines object per batch."""

    def park(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def keys(self, contract: str) -> list[str]: ...

    def read(self, key: str) -> list[dict[str, Any]]: ...

    def retire(self, key: str) -> None:
        """Move a replayed file out of the way (kept, under the replayed folder)."""


class TransactionSink(Protocol):
    def put(self, record: Mapping[str, Any]) -> None:
        """A transaction the API scored, onto the transactions stream (ingested like any)."""
