"""Fault injection (fraudops_shared.runtime.faults): off unless the deployment names the
function, then every invocation fails before doing anything."""

from __future__ import annotations

import pytest

from fraudops_shared.runtime.faults import FAULT_ENV, InjectedFault, inject


def test_no_fault_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULT_ENV, raising=False)
    inject("score_stream")
    monkeypatch.setenv(FAULT_ENV, "ingest_batch")
    inject("score_stream")


@pytest.mark.parametrize("asked", ["score_stream", "ingest_batch, score_stream", "all"])
def test_a_named_function_fails_every_invocation(
    monkeypatch: pytest.MonkeyPatch, asked: str
) -> None:
    monkeypatch.setenv(FAULT_ENV, asked)
    with pytest.raises(InjectedFault, match="score_stream"):
        inject("score_stream")
