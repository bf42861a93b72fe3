"""Deciding the records parked while no champion could score them, once one can.

Runs when a model is promoted (the registry's ``Model Promoted`` event) and on demand. Each
waiting file (``parked/<contract>/waiting/``) is decided like a feed batch (source ``replay``),
its decisions published, and its replay committed once (``ScoringLog.commit_replay``: parked
-n, decided +n, so the accounting equation still balances); then the file moves to the replayed
folder. A replay interrupted anywhere is safe to run again: its transactions are repeats by
then, and get the decisions already stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fraudops_shared.contracts.schema import Contract
from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.scoring.engine import as_record, flagged
from fraudops_shared.scoring.models import ModelCache
from fraudops_shared.scoring.ports import (
    CardStates,
    DecisionSink,
    DecisionStore,
    FlagEvents,
    ParkedStore,
    ScoringLog,
)
from fraudops_shared.scoring.record import score_and_record


def replay_parked(
    contract: Contract,
    features: FeatureSet,
    *,
    models: ModelCache,
    states: CardStates,
    decisions: DecisionStore,
    sink: DecisionSink,
    flags: FlagEvents,
    log: ScoringLog,
    parked: ParkedStore,
    now: datetime,
) -> dict[str, Any]:
    """Decide every waiting parked record; what was done, per file."""
    models.refresh()  # the promotion that triggered this is news: never wait for the bound
    champion, shadow = models.champion, models.shadow
    keys = parked.keys(contract.name)
    if champion is None:
        return {"champion": None, "waiting_files": len(keys), "replayed": []}
    done = []
    for key in keys:
        rows = [r["record"] for r in parked.read(key) if r.get("replayable")]
        made, fresh = score_and_record(
            rows,
            contract=contract.name,
            features=features,
            champion=champion,
            shadow=shadow,
            states=states,
            decisions=decisions,
            source="replay",
            now=now,
        )
        if made:
            sink.publish([as_record(d) for d in made])
            flags.publish([d for d in made if flagged(d)])
        first = log.commit_once(contract.name, key, {"parked": -len(rows), "decided": len(made)})
        parked.retire(key)
        done.append({"key": key, "decided": len(made), "fresh": sum(fresh), "first": first})
    return {"champion": champion.version, "waiting_files": len(keys), "replayed": done}
