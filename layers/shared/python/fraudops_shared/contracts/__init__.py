"""Data contracts: the YAML specs (`specs/`), their schema (`schema`) and the vectorised
validation every ingestion path shares (`validation`)."""

from fraudops_shared.contracts.schema import (
    Column,
    Contract,
    ContractError,
    Partition,
    UnknownContractError,
    available_contracts,
    load_contract,
    parse_contract,
)

__all__ = [
    "Column",
    "Contract",
    "ContractError",
    "Partition",
    "UnknownContractError",
    "available_contracts",
    "load_contract",
    "parse_contract",
]
