"""Configuration read from the environment the stack sets; a missing name fails loudly."""

from __future__ import annotations

import os

TABLE_NAME_ENV = "REGISTRY_TABLE_NAME"


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def table_name() -> str:
    return required(TABLE_NAME_ENV)


DATA_BUCKET_ENV = "DATA_BUCKET"
CODE_VERSION_ENV = "CODE_VERSION"


def data_bucket() -> str:
    return required(DATA_BUCKET_ENV)


def code_version() -> str:
    """The git commit the stack was synthesized from (lineage of every trained model)."""
    return required(CODE_VERSION_ENV)
