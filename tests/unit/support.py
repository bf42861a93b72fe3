"""Helpers of the unit tests: a Lambda context, loading a handler through its file (every handler
is called app.py), and wiring a handler to in-memory adapters."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.fakes import (
    Counters,
    MemoryBucket,
    MemoryCommitLog,
    MemoryFileClaims,
    MemoryKeyIndex,
    MemoryRecordSink,
    MemoryRegistryStore,
    MemoryShardReader,
    MemorySnapshotCatalog,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeLambdaContext:
    function_name: str = "unit-test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:unit-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(folder: str) -> ModuleType:
    """Import functions/<folder>/app.py as `handler_<folder>`."""
    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{folder}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeAws:
    """Every port a handler wires, in memory (``fraudops_shared.aws.wiring`` swapped for these)."""

    bucket: MemoryBucket = field(default_factory=MemoryBucket)
    counters: Counters = field(default_factory=Counters)
    registry: MemoryRegistryStore = field(default_factory=MemoryRegistryStore)
    catalog: MemorySnapshotCatalog = field(default_factory=MemorySnapshotCatalog)
    shard: MemoryShardReader = field(default_factory=MemoryShardReader)
    sinks: dict[str, MemoryRecordSink] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.file_claims = MemoryFileClaims()
        self.log = MemoryCommitLog(self.counters, self.file_claims, {})
        self.index = MemoryKeyIndex(self.log)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from fraudops_shared.aws import wiring
        from fraudops_shared.registry.models import ModelRegistry

        def object_store(bucket: str) -> Any:
            assert bucket == self.bucket.bucket, f"wired to bucket {bucket!r}"
            return self.bucket

        def sink(stream: str) -> MemoryRecordSink:
            return self.sinks.setdefault(stream, MemoryRecordSink())

        replacements: dict[str, Any] = {
            "data_bucket": lambda: self.bucket,
            "object_store": object_store,
            "model_registry": lambda: ModelRegistry(self.registry),
            "snapshot_catalog": lambda: self.catalog,
            "file_claims": lambda: self.file_claims,
            "commit_log": lambda: self.log,
            "key_index": lambda: self.index,
            "shard_reader": lambda: self.shard,
            "record_sink": sink,
        }
        for name, fn in replacements.items():
            monkeypatch.setattr(wiring, name, fn)
