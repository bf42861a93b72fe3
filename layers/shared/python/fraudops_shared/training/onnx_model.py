"""Running an exported model: onnxruntime and numpy only, bytes checked before they are parsed.

A model is loaded only from ONNX bytes whose SHA-256 equals the one the registry recorded: an
artifact that was replaced or corrupted in storage is refused, never scored (and nothing is ever
unpickled). One thread per session: a Lambda has one or two vCPUs and scores small batches.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

INPUT_NAME = "features"
PROBABILITIES = "probabilities"


class ModelIntegrityError(RuntimeError):
    """The artifact's bytes are not the registered model's."""


def check_hash(data: bytes, expected_sha256: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"artifact SHA-256 {actual[:12]}... does not match the registered "
            f"{expected_sha256[:12]}...: refusing to load it"
        )


def load(data: bytes, expected_sha256: str) -> Any:
    """An onnxruntime session of `data`, after the hash check."""
    check_hash(data, expected_sha256)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def fraud_probability(session: Any, features: np.ndarray) -> np.ndarray:
    """P(fraud) per row as float64, from the `probabilities` output (column 1)."""
    x = np.ascontiguousarray(features, dtype=np.float32)
    (probabilities,) = session.run([PROBABILITIES], {INPUT_NAME: x})
    return np.asarray(probabilities[:, 1], dtype=np.float64)


def metadata(session: Any) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)
