"""Artifacts are read back only when their bytes are the ones recorded: fail closed."""

from __future__ import annotations

import pytest

from fraudops_shared.training.artifacts import ArtifactError, Artifacts
from tests.unit.fakes import MemoryBucket


def test_an_artifact_reads_back_as_written_at_its_version() -> None:
    bucket = MemoryBucket()
    artifacts = Artifacts(bucket)
    ref = artifacts.put("training/run/model.onnx", b"first", "application/octet-stream")
    artifacts.put("training/run/model.onnx", b"second", "application/octet-stream")
    assert artifacts.get(ref) == b"first"


def test_bytes_changed_under_a_reference_are_refused() -> None:
    bucket = MemoryBucket()
    artifacts = Artifacts(bucket)
    ref = dict(artifacts.put("m.onnx", b"model", "application/octet-stream"))
    ref["version_id"] = bucket.put("m.onnx", b"tampered")
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        artifacts.get(ref)


@pytest.mark.parametrize("sha", [None, "", "abc", 42])
def test_a_reference_without_a_usable_hash_is_refused_before_reading(sha: object) -> None:
    bucket = MemoryBucket()
    artifacts = Artifacts(bucket)
    ref = dict(artifacts.put("m.onnx", b"model", "application/octet-stream"))
    ref["sha256"] = sha
    reads = bucket.calls.get("get", 0)
    with pytest.raises(ArtifactError, match="no SHA-256"):
        artifacts.get(ref)
    assert bucket.calls.get("get", 0) == reads


def test_a_missing_artifact_is_an_artifact_error() -> None:
    artifacts = Artifacts(MemoryBucket())
    ref = {"key": "gone.onnx", "version_id": None, "sha256": "0" * 64}
    with pytest.raises(ArtifactError):
        artifacts.get(ref)
