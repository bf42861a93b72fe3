"""Writing into the zones: curated Parquet partitioned by the contract, quarantined rows as JSON
Lines, manifests as JSON. The batch and the stream paths share it, so the curated zone holds one
schema whatever the source."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.lake import zones as keys
from fraudops_shared.lake.store import ObjectStore
from fraudops_shared.lake.zones import Zones, partition_columns


def write_partitioned(
    store: ObjectStore, zones: Zones, contract: Any, table: pa.Table, stem: str
) -> list[str]:
    """One Parquet object per partition value, the partition in the key only; the key is a
    function of ``stem``, so a retry overwrites instead of duplicating."""
    parts = partition_columns(contract)
    if not parts:
        key = keys.curated_key(zones, contract.name, {}, stem)
        store.put_parquet(key, table)
        return [key]
    written = []
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
        subset = table.filter(mask).drop_columns(parts)
        key = keys.curated_key(zones, contract.name, group, stem)
        store.put_parquet(key, subset)
        written.append(key)
    return written


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in rows).encode("utf-8")


class ZoneWriter:
    """The stream's outputs at keys derived from the batch id (a retry overwrites), in the same
    curated schema as files, so one dataset holds both sources."""

    def __init__(self, store: ObjectStore, zones: Zones, contract: Any) -> None:
        self.store, self.zones, self.contract = store, zones, contract
        self.schema = contract.arrow_schema()
        for part in partition_columns(contract):
            if part not in self.schema.names:
                self.schema = self.schema.append(pa.field(part, pa.date32()))

    def write_curated(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> list[str]:
        names = self.schema.names
        table = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows], self.schema)
        return write_partitioned(self.store, self.zones, self.contract, table, f"stream-{batch_id}")

    def write_quarantine(self, contract: str, batch_id: str, rows: list[dict[str, Any]]) -> str:
        key = keys.stream_quarantine_key(self.zones, contract, batch_id)
        self.store.put_bytes(key, jsonl(rows), "application/x-ndjson")
        return key

    def write_manifest(self, contract: str, batch_id: str, manifest: dict[str, Any]) -> str:
        key = keys.stream_manifest_key(self.zones, contract, batch_id)
        self.store.put_bytes(key, json.dumps(manifest, default=str).encode(), "application/json")
        return key
