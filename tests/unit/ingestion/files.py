"""Landed files for the batch and dead-file tests: rows as a producer writes them, and the lake
(an in-memory versioned bucket, file claims, commit log and index) they land in."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudops_shared.contracts import load_contract
from fraudops_shared.ingestion.batch import BatchIngestor, IngestResult
from fraudops_shared.lake.store import SourceObject
from fraudops_shared.lake.zones import Zones
from fraudops_shared.runtime.settings import Limits
from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemoryKeyIndex,
)

BUCKET = "fraudops-unit-lake"
CONTRACT = "transactions"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


# --- test data ------------------------------------------------------------------------------------


def columns() -> list[str]:
    return load_contract(CONTRACT).column_names


def row(i: int, **overrides: str | None) -> dict[str, str | None]:
    """A valid transaction as text (as a CSV carries it); ``overrides`` break it in one place."""
    day = 20 + i % 3
    values: dict[str, str | None] = {
        "transaction_id": f"t-{i:06d}",
        "event_time": f"2026-11-{day:02d}T10:{i % 60:02d}:00Z",
        "card_id": f"card-{i % 7}",
        "customer_id": f"cust-{i % 5}",
        "merchant_id": f"m-{i % 11}",
        "mcc": "0742",
        "amount": f"{10 + i}.50",
        "currency": "EUR",
        "country": "FR",
        "merchant_country": "FR",
        "channel": "pos",
        "entry_mode": "chip",
        "card_present": "true",
        "device_id": None,
        "ip_country": None,
        "is_fraud": None,
        "label_time": None,
    }
    values.update(overrides)
    return {c: values.get(c) for c in columns()}


def csv_bytes(rows: list[dict[str, str | None]], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = header or columns()
    writer.writerow(names)
    for r in rows:
        writer.writerow(["" if r.get(n) is None else r.get(n) for n in names])
    return out.getvalue().encode()


def data_lines(rows: list[dict[str, str | None]]) -> bytes:
    """CSV rows without the header line."""
    return csv_bytes(rows).split(b"\n", 1)[1]


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def parquet_bytes(rows: list[dict[str, str | None]]) -> bytes:
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in columns()})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- the lake: an in-memory versioned bucket and file claims -----------------------------------


class SimulatedCrash(BaseException):
    """A kill (timeout, OOM): no except clause of ours runs, the claim stays IN_PROGRESS."""


@dataclass
class Lake:
    store: MemoryBucket
    claims: MemoryFileClaims = field(default_factory=MemoryFileClaims)
    accounts: Counters = field(default_factory=Counters)
    zones: Zones = field(default_factory=lambda: Zones(data_bucket=BUCKET))
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self.log = MemoryCommitLog(self.accounts, self.claims, {})
        self.index = MemoryKeyIndex(self.log)

    def put(self, key: str, body: bytes) -> SourceObject:
        return self.store.land(key, body)

    def ingestor(self, store: Any = None, **limits: Any) -> BatchIngestor:
        return BatchIngestor(
            store=store or self.store,
            claims=self.claims,
            log=self.log,
            index_store=self.index,
            zones=self.zones,
            limits=Limits(**limits) if limits else self.limits,
        )

    def ingest(
        self, obj: SourceObject, owner: str = "req-1", now: datetime = NOW, **kw: Any
    ) -> IngestResult:
        result = self.ingestor(**kw).ingest(obj, owner=owner, now=now)
        assert result.rows_in == result.valid + result.rejected  # the invariant, always
        return result

    def keys(self, prefix: str) -> list[str]:
        return self.store.keys(prefix)

    def body(self, key: str) -> bytes:
        return self.store.body(key)

    def json(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.body(key)))

    def curated_rows(self, prefix: str = f"curated/{CONTRACT}/") -> list[dict[str, Any]]:
        rows = []
        for key in self.keys(prefix):
            rows += pq.read_table(io.BytesIO(self.body(key))).to_pylist()
        return rows

    def quarantined(self, prefix: str = f"quarantine/{CONTRACT}/") -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for key in self.keys(prefix)
            if key.endswith(".jsonl")
            for line in self.body(key).decode().splitlines()
        ]

    def counters(self) -> dict[str, int]:
        return self.accounts.of(CONTRACT, "s3")

    def check_outputs(self, result: IngestResult) -> None:
        """What the manifest says is what the zones hold."""
        manifest = self.json(result.manifest_key)
        counts = manifest["counts"]
        assert counts == {"rows_in": result.rows_in, "valid": result.valid,
                          "rejected": result.rejected}  # fmt: skip
        assert counts["rows_in"] == counts["valid"] + counts["rejected"]
        curated = sum(
            pq.read_metadata(io.BytesIO(self.body(k))).num_rows
            for k in manifest["outputs"]["curated"]
        )
        assert curated == counts["valid"]
        lines = sum(len(self.body(k).splitlines()) for k in manifest["outputs"]["quarantine"])
        assert lines == counts["rejected"]
        assert sum(manifest["rule_counts"].values()) >= counts["rejected"]
