"""Data contracts (fraudops_shared.contracts.schema): YAML files loaded by name, typed and raw
schemas."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pyarrow as pa
import pytest
import yaml

from fraudops_shared.contracts import (
    ContractError,
    UnknownContractError,
    available_contracts,
    load_contract,
    parse_contract,
)


def test_both_shipped_contracts_are_available() -> None:
    # Given the package, When listing contracts, Then both shipped files are found by name
    assert {"transactions", "creditcard_benchmark"} <= set(available_contracts())


def test_transactions_contract_describes_card_events() -> None:
    # Given the transactions contract, When loaded, Then its key facts are as documented
    c = load_contract("transactions")
    assert c.name == "transactions"
    assert c.version.count(".") == 2
    assert c.unique_key == "transaction_id"
    assert c.event_time == "event_time"
    assert (c.label, c.label_time, c.labels_arrive_later) == ("is_fraud", "label_time", True)
    assert set(c.pii) == {"card_id", "customer_id", "device_id"}
    assert c.partition_columns == ["event_date"]
    assert c.max_future_seconds == 300
    assert c.max_age_days == 1095
    assert c.column("mcc").pattern == "^[0-9]{4}$"
    assert c.column("amount").min == 0.01
    assert c.column("amount").max == 49999.99
    assert c.column("channel").allowed == ("pos", "ecom", "atm", "moto")
    assert c.column("is_fraud").nullable
    assert not c.column("card_present").nullable


def test_the_ids_of_transactions_are_identifiers() -> None:
    # Given the transactions contract, When loaded
    c = load_contract("transactions")
    # Then exactly its id columns are identifiers (no control, zero-width or padding characters)
    assert [col.name for col in c.columns if col.identifier] == [
        "transaction_id",
        "card_id",
        "customer_id",
        "merchant_id",
        "device_id",
    ]
    assert not any(col.identifier for col in load_contract("creditcard_benchmark").columns)


def test_a_column_is_not_an_identifier_unless_it_says_so() -> None:
    # Given a document whose string column does not mention identifier, When parsed
    doc = {
        "name": "notes",
        "version": "0.1.0",
        "event_time": "at",
        "columns": [
            {"name": "at", "type": "timestamp"},
            {"name": "note", "type": "string"},
            {"name": "ref", "type": "string", "identifier": True},
        ],
    }
    c = parse_contract(doc)
    # Then it is not one, and the one that says so is
    assert not c.column("note").identifier
    assert c.column("ref").identifier


def test_yaml_country_codes_stay_text() -> None:
    # Given YAML 1.1 reads a bare NO as False, When the country list is loaded, Then Norway is a
    # string (the files quote every code, and the loader refuses non-strings)
    allowed = load_contract("transactions").column("country").allowed
    assert allowed is not None
    assert "NO" in allowed
    assert all(isinstance(v, str) and len(v) == 2 for v in allowed)
    assert len(allowed) == 249


def test_creditcard_contract_has_no_key_and_no_freshness() -> None:
    # Given the public benchmark's shape, When loaded, Then it has 31 columns, no key, no freshness
    c = load_contract("creditcard_benchmark")
    assert c.column_names == ["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]
    assert c.unique_key is None
    assert c.max_future_seconds is None
    assert c.max_age_days is None
    assert c.label == "Class"
    assert not c.labels_arrive_later
    assert c.column("Class").allowed == (0, 1)
    assert c.partition_columns == ["event_day"]


def test_unknown_contract_lists_the_known_ones() -> None:
    # Given a name with no file, When loaded, Then the error names every known contract
    with pytest.raises(UnknownContractError) as error:
        load_contract("payments")
    assert error.value.known == available_contracts()
    assert "transactions" in str(error.value)
    assert "creditcard_benchmark" in str(error.value)


def test_unknown_column_is_a_key_error() -> None:
    # Given a contract, When asked for a column it lacks, Then KeyError names both
    with pytest.raises(KeyError, match="pan"):
        load_contract("transactions").column("pan")


def test_schemas_typed_raw_and_curated() -> None:
    # Given the transactions contract
    c = load_contract("transactions")
    # When the schemas are built
    typed, raw, curated = c.arrow_schema(), c.raw_schema(), c.curated_schema()
    # Then typed follows the contract, raw is all text (leading zeros survive readers), and
    # curated adds the partition column
    assert typed.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert typed.field("amount").type == pa.float64()
    assert typed.field("card_present").type == pa.bool_()
    assert typed.field("mcc").type == pa.string()
    assert not typed.field("amount").nullable
    assert typed.field("device_id").nullable
    assert typed.metadata[b"fraudops.contract_version"] == c.version.encode()
    assert all(f.type == pa.string() for f in raw)
    assert raw.names == c.column_names
    assert curated.names == [*c.column_names, "event_date"]
    assert curated.field("event_date").type == pa.date32()


def test_contracts_are_cached_and_immutable() -> None:
    # Given a loaded contract, When loaded again, Then it is the same frozen object
    c = load_contract("transactions")
    assert load_contract("transactions") is c
    with pytest.raises(AttributeError):
        c.version = "9.9.9"  # type: ignore[misc]


def _doc() -> dict[str, Any]:
    text = resources.files("fraudops_shared.contracts") / "specs" / "transactions.yaml"
    return yaml.safe_load(text.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version="1.0"), "semver"),
        (lambda d: d["columns"][0].update(type="uuid"), "type"),
        (lambda d: d.update(unique_key="pan"), "not a column"),
        (lambda d: d["columns"][5].update(allowed=[742]), "allowed values"),
        (lambda d: d["columns"][6].update(pattern="^x$"), "pattern"),
        (lambda d: d["columns"][0].update(colour="red"), "unknown keys"),
        (lambda d: d["columns"].append(dict(d["columns"][0])), "duplicate"),
        (lambda d: d["partition_by"][0].update(transform="hour"), "transform"),
        (lambda d: d.update(name="Transactions"), "snake_case"),
        (lambda d: d["columns"][1].update(identifier=True), "identifier needs a string"),
        (lambda d: d["columns"][0].update(identifier="yes"), "identifier must be true or false"),
    ],
)
def test_invalid_contract_documents_are_refused(change: Any, message: str) -> None:
    # Given a valid contract document with one mistake, When parsed, Then ContractError says what
    doc = copy.deepcopy(_doc())
    change(doc)
    with pytest.raises(ContractError, match=message):
        parse_contract(doc)


def test_a_new_contract_is_just_a_document() -> None:
    # Given a new document (as a new YAML file would be), When parsed, Then it is a Contract
    doc = {
        "name": "chargebacks",
        "version": "0.1.0",
        "event_time": "received_at",
        "unique_key": "case_id",
        "columns": [
            {"name": "case_id", "type": "string", "nullable": False},
            {"name": "received_at", "type": "timestamp", "nullable": False},
        ],
    }
    c = parse_contract(doc)
    assert c.column_names == ["case_id", "received_at"]
    assert c.partition_by == ()
