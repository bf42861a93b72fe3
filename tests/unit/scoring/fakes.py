"""In-memory adapters of ``fraudops_shared.scoring.ports`` with the conditions of the DynamoDB,
Kinesis, EventBridge and S3 adapters (``fraudops_shared.aws.scoring``), and hooks to inject a
concurrent writer or a failure."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fraudops_shared.features.online import CardState
from fraudops_shared.features.windows import WindowSpec
from fraudops_shared.lake.commits import CommitConflict
from fraudops_shared.scoring.ports import StateConflict, StateWrite, StoredState


class MemoryCardStates:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[bytes, int]] = {}
        self.reads = 0
        self.writes = 0
        self.before_put: Callable[[], None] | None = None  # a concurrent writer, injected

    def get_many(
        self, contract: str, cards: Sequence[str], spec: WindowSpec
    ) -> dict[str, StoredState]:
        self.reads += 1
        out = {}
        for card in cards:
            if (contract, card) in self.items:
                data, version = self.items[(contract, card)]
                out[card] = StoredState(CardState.from_bytes(data, spec), version)
        return out

    def put_many(self, contract: str, writes: Sequence[StateWrite]) -> None:
        if self.before_put is not None:
            hook, self.before_put = self.before_put, None
            hook()
        conflicts = []
        for w in writes:
            current = self.items.get((contract, w.card), (b"", 0))[1]
            if current != w.expected:
                conflicts.append(w.card)
                continue
            self.items[(contract, w.card)] = (w.state.to_bytes(), current + 1)
            self.writes += 1
        if conflicts:
            raise StateConflict(f"changed: {conflicts}")

    def state(self, contract: str, card: str, spec: WindowSpec) -> CardState | None:
        item = self.items.get((contract, card))
        return CardState.from_bytes(item[0], spec) if item else None


class MemoryDecisionStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.puts = 0

    def get_many(self, transaction_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {t: copy.deepcopy(self.items[t]) for t in transaction_ids if t in self.items}

    def put_many(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        for d in decisions:  # decisions are not changed once made: a shallow copy is the item
            self.items[str(d["transaction_id"])] = dict(d)
            self.puts += 1

    def put_new(self, decision: Mapping[str, Any]) -> dict[str, Any] | None:
        tid = str(decision["transaction_id"])
        if tid in self.items:
            return copy.deepcopy(self.items[tid])
        self.items[tid] = copy.deepcopy(dict(decision))
        self.puts += 1
        return None


class MemoryPublisher:
    """The decisions stream, the flagged events or the transactions stream."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def publish(self, items: Sequence[Mapping[str, Any]]) -> None:
        self.items += [dict(i) for i in items]

    def put(self, record: Mapping[str, Any]) -> None:
        self.items.append(dict(record))


class MemoryScoringLog:
    def __init__(self) -> None:
        self.checkpoints: dict[tuple[str, str], str] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.replays: set[str] = set()
        self.ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self.dead_versions: dict[tuple[str, str], int] = {}
        self.fail_next: Exception | None = None

    def checkpoint(self, stream: str, shard: str) -> str | None:
        return self.checkpoints.get((stream, shard))

    def commit(
        self, contract: str, stream: str, shard: str, expected: str | None, first: str,
        last: str, counts: Mapping[str, int],
    ) -> None:  # fmt: skip
        if self.fail_next is not None:
            err, self.fail_next = self.fail_next, None
            raise err
        if self.checkpoints.get((stream, shard)) != expected:
            raise CommitConflict(f"{shard} moved")
        self.checkpoints[(stream, shard)] = last
        self.ranges.setdefault((stream, shard), []).append((int(first), int(last)))
        self._add(contract, counts)

    def covered(self, stream: str, shard: str, first: str, last: str) -> list[tuple[int, int]]:
        return [
            (lo, hi)
            for lo, hi in self.ranges.get((stream, shard), [])
            if hi >= int(first) and lo <= int(last)
        ]

    def commit_once(self, contract: str, key: str, counts: Mapping[str, int]) -> bool:
        if key in self.replays:
            return False
        self.replays.add(key)
        self._add(contract, counts)
        return True

    def dead_version(self, stream: str, shard: str) -> int:
        return self.dead_versions.get((stream, shard), 0)

    def claim_dead(
        self, contract: str, stream: str, shard: str, version: int,
        runs: Sequence[tuple[str, str]], counts: Mapping[str, int],
    ) -> None:  # fmt: skip
        if self.dead_version(stream, shard) != version:
            raise CommitConflict(f"{shard}: another dead-letter accounting went first")
        mine = self.ranges.setdefault((stream, shard), [])
        if any(int(lo) in (r[0] for r in mine) for lo, _ in runs):
            raise CommitConflict(f"{shard}: a run is already recorded")
        self.dead_versions[(stream, shard)] = version + 1
        mine += [(int(lo), int(hi)) for lo, hi in runs]
        self._add(contract, counts)

    def _add(self, contract: str, counts: Mapping[str, int]) -> None:
        mine = self.counts.setdefault(contract, {})
        for k, v in counts.items():
            mine[k] = mine.get(k, 0) + v


class MemoryParked:
    def __init__(self) -> None:
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.retired: dict[str, list[dict[str, Any]]] = {}

    def park(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.files[key] = [copy.deepcopy(dict(r)) for r in rows]

    def keys(self, contract: str) -> list[str]:
        return sorted(k for k in self.files if k.startswith(f"parked/{contract}/waiting/"))

    def read(self, key: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.files[key])

    def retire(self, key: str) -> None:
        self.retired[key] = self.files.pop(key)
