"""Writing a commit's outputs: curated Parquet partitioned by the contract, quarantined rows as JSON
Lines, the manifest as JSON; all under ``_staging/<commit id>/`` until the commit, then promoted
to their final keys (``lake.commits``). The batch and the stream paths share it, so the curated
zone holds one schema whatever the source."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.lake import zones as keys
from fraudops_shared.lake.commits import staging_key
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.zones import Zones, partition_columns


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in rows).encode("utf-8")


def partitions(contract: Any, table: pa.Table) -> list[tuple[dict[str, Any], pa.Table]]:
    """The table split by the contract's partition columns (dropped from each part: the
    partition lives in the key), in a stable order."""
    parts = partition_columns(contract)
    if not parts:
        return [({}, table)]
    out = []
    groups = table.group_by(parts, use_threads=False).aggregate([]).to_pylist()
    for group in sorted(groups, key=lambda g: [(v is None, str(v)) for v in g.values()]):
        mask = None
        for col, value in group.items():
            cond = (
                pc.is_null(table[col])
                if value is None
                else pc.equal(table[col], pa.scalar(value, table.schema.field(col).type))
            )
            mask = cond if mask is None else pc.and_(mask, cond)
        out.append((group, table.filter(mask).drop_columns(parts)))
    return out


class StagedOutputs:
    """The outputs of one commit, written under staging at keys derived from the commit id (a
    retry of the same commit overwrites), and the final key each will be promoted to."""

    def __init__(self, store: ObjectStore, zones: Zones, contract: Any, commit_id: str) -> None:
        self.store, self.zones, self.contract, self.commit_id = store, zones, contract, commit_id
        self.staged: dict[str, str] = {}
        self.curated_keys: list[str] = []

    def _put(self, final: str) -> str:
        staged = staging_key(self.commit_id, final)
        self.staged[staged] = final
        return staged

    def curated(self, table: pa.Table, stem: str) -> list[str]:
        """One Parquet object per partition value; returns the final keys."""
        finals = []
        for group, part in partitions(self.contract, table):
            if not part.num_rows:
                continue
            final = keys.curated_key(self.zones, self.contract.name, group, stem)
            self.store.put_parquet(self._put(final), part)
            self.curated_keys.append(final)
            finals.append(final)
        return finals

    def rows(self, final: str, rows: list[dict[str, Any]]) -> str:
        self.store.put_bytes(self._put(final), jsonl(rows), "application/x-ndjson")
        return final

    def document(self, final: str, doc: dict[str, Any]) -> str:
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")
        self.store.put_bytes(self._put(final), body, "application/json")
        return final

    def discard(self) -> None:
        """A batch that will not commit: its staged objects go (a lifecycle rule would too)."""
        if self.staged:
            self.store.delete(sorted(self.staged))
        self.staged.clear()
        self.curated_keys.clear()
