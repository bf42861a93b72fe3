"""Configuration read from the environment the stack sets; a missing name fails loudly."""

from __future__ import annotations

import os

TABLE_NAME_ENV = "REGISTRY_TABLE_NAME"
RECORD_TTL_DAYS_ENV = "RECORD_TTL_DAYS"
LANDING_PREFIX_ENV = "LANDING_PREFIX"


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def table_name() -> str:
    return required(TABLE_NAME_ENV)


def record_ttl_days() -> int:
    return int(os.environ.get(RECORD_TTL_DAYS_ENV, "30"))


def landing_prefix() -> str:
    return os.environ.get(LANDING_PREFIX_ENV, "landing/")
