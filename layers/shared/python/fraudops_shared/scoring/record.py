"""Decide a batch of validated transactions and record it: the cards' states, then the
decisions (``scoring.ports`` says why in this order). Shared by the stream and the replay of
parked records; the API decides one transaction its own way (``scoring.api``).

A transaction its card's state already holds (a re-delivery, the API's own, a retried batch)
gets the decision already stored; only when none is stored (a crash between the two writes) is
it decided again, from the same state, which gives the same features. A transaction too late for
its card's state (older than the state keeps) is not applied and is decided once: its stored
decision, if any, is returned too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.scoring.engine import Decision, decide
from fraudops_shared.scoring.models import LoadedModel
from fraudops_shared.scoring.ports import CardStates, DecisionStore, StateConflict, StateWrite

ATTEMPTS = 5  # state conflicts with concurrent writers (the API) before the batch fails


class StillConflicting(RuntimeError):
    """Cards kept changing under the batch: it fails and Lambda retries it."""


def score_and_record(
    rows: Sequence[Mapping[str, Any]],
    *,
    contract: str,
    features: FeatureSet,
    champion: LoadedModel,
    shadow: LoadedModel | None,
    states: CardStates,
    decisions: DecisionStore,
    source: str,
    now: datetime,
    started: float | None = None,
) -> tuple[list[Decision], list[bool]]:
    """(a decision per row, whether it was made now). Raises only for AWS errors and
    StillConflicting: the caller's batch is retried."""
    if not rows:
        return [], []
    started = time.perf_counter() if started is None else started
    spec = features.windows
    key = spec.key if spec is not None else None
    cards = sorted({str(r[key]) for r in rows if key and r.get(key) is not None})
    for _ in range(ATTEMPTS):
        stored = states.get_many(contract, cards, spec) if spec is not None and cards else {}
        scored = decide(
            rows,
            {c: s.state for c, s in stored.items()},
            features,
            champion,
            shadow,
            source=source,
            now=now,
            started=started,
        )
        made = list(scored.decisions)
        fresh = [True] * len(rows)
        again = np.flatnonzero(~scored.batch.applied).tolist()  # repeats and late ones
        if again:
            found = decisions.get_many([made[i]["transaction_id"] for i in again])
            first: dict[str, int] = {}
            for i, d in enumerate(made):
                first.setdefault(d["transaction_id"], i)
            for i in again:
                tid = made[i]["transaction_id"]
                old = found.get(tid)
                if old is not None:
                    made[i], fresh[i] = old, False
                elif first[tid] != i:  # twice in this batch: the first one's decision
                    made[i], fresh[i] = made[first[tid]], False
        writes = [
            StateWrite(card, state, stored[card].version if card in stored else 0)
            for card, state in sorted(scored.batch.states.items())
        ]
        try:
            if writes:
                states.put_many(contract, writes)
        except StateConflict:
            continue  # a card changed under us: read again, decide again
        new = [d for d, f in zip(made, fresh, strict=True) if f]
        if new:
            decisions.put_many(new)
        return made, fresh
    raise StillConflicting(f"card states kept changing over {ATTEMPTS} attempts")
