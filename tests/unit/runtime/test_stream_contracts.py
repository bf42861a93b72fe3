"""Which contract a stream carries (settings.contract_of_stream): its entry in STREAM_CONTRACTS,
else STREAM_CONTRACT; by name, or by the ARN an event or an on-failure record names it by."""

from __future__ import annotations

import json

import pytest

from fraudops_shared.runtime import settings

DECISIONS_STREAM = "FraudOps-IngestionDecisionsStream-ABC123"
ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv(settings.STREAM_CONTRACT_ENV, settings.DEFAULT_STREAM_CONTRACT)
    monkeypatch.setenv(
        settings.STREAM_CONTRACTS_ENV,
        json.dumps({DECISIONS_STREAM: settings.DECISIONS_CONTRACT}),
    )
    return monkeypatch


def test_a_mapped_stream_carries_its_contract(env: pytest.MonkeyPatch) -> None:
    assert settings.contract_of_stream(DECISIONS_STREAM) == settings.DECISIONS_CONTRACT


def test_a_stream_not_in_the_mapping_carries_the_stream_contract(env: pytest.MonkeyPatch) -> None:
    assert settings.contract_of_stream("FraudOps-TransactionStream") == "transactions"


@pytest.mark.parametrize("mapping", [None, "", "  ", "{}"])
def test_without_a_mapping_every_stream_carries_the_stream_contract(
    env: pytest.MonkeyPatch, mapping: str | None
) -> None:
    if mapping is None:
        env.delenv(settings.STREAM_CONTRACTS_ENV)
    else:
        env.setenv(settings.STREAM_CONTRACTS_ENV, mapping)
    assert settings.contract_of_stream(DECISIONS_STREAM) == "transactions"


def test_an_unmapped_stream_without_a_stream_contract_fails_loudly(
    env: pytest.MonkeyPatch,
) -> None:
    env.delenv(settings.STREAM_CONTRACT_ENV)
    assert settings.contract_of_stream(DECISIONS_STREAM) == settings.DECISIONS_CONTRACT
    with pytest.raises(settings.ConfigurationError, match=settings.STREAM_CONTRACT_ENV):
        settings.contract_of_stream("other")


def test_the_contract_of_a_stream_arn_is_the_contract_of_its_name(
    env: pytest.MonkeyPatch,
) -> None:
    assert settings.stream_name_of(ARN + DECISIONS_STREAM) == DECISIONS_STREAM
    assert settings.contract_of_stream_arn(ARN + DECISIONS_STREAM) == settings.DECISIONS_CONTRACT
    assert settings.contract_of_stream_arn(ARN + "tx") == "transactions"


def test_the_decisions_contract_is_a_shipped_contract_keyed_by_transaction() -> None:
    from fraudops_shared.contracts import load_contract

    spec = load_contract(settings.DECISIONS_CONTRACT)
    assert (spec.name, spec.unique_key, spec.event_time) == (
        "decisions",
        "transaction_id",
        "decided_at",
    )
