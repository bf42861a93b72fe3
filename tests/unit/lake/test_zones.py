"""The lake's keys (fraudops_shared.lake.zones): zones from the environment, landing keys, and
the manifest keys the batch function writes and the CLI waits for."""

from __future__ import annotations

import pytest

from fraudops_shared.lake import zones
from fraudops_shared.runtime import settings


def test_zones_come_from_the_environment_with_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(settings.DATA_BUCKET_ENV, "lake")
    monkeypatch.setenv(settings.PREFIX_ENVS["curated_prefix"], "gold")
    z = zones.zones_from_env()
    assert (z.data_bucket, z.curated_prefix, z.landing_prefix) == ("lake", "gold/", "landing/")
    monkeypatch.delenv(settings.DATA_BUCKET_ENV)
    assert zones.zones_from_env(default_bucket="from-event").data_bucket == "from-event"


def test_landing_keys_name_their_contract() -> None:
    key = zones.landing_key("transactions", "a.csv")
    assert zones.parse_landing_key(key) == ("transactions", "a.csv")
    assert zones.parse_landing_key("landing/x.csv") == (settings.UNKNOWN_CONTRACT, "x.csv")


def test_the_cli_waits_where_the_function_writes() -> None:
    z = zones.Zones("lake")
    source = zones.source_id("lake", "landing/t/a.csv", "v1", None)
    candidates = zones.file_manifest_candidates(z, "t", "ab" * 32, source)
    assert candidates[1] == zones.manifest_key(z, "t", "ab" * 32)
    assert candidates[0] == zones.duplicate_manifest_key(z, "t", "ab" * 32, source)
    assert zones.quarantine_file_key(z, settings.UNKNOWN_CONTRACT, "ab" * 32, "x.bin") == (
        f"quarantine/{settings.UNKNOWN_CONTRACT}/{'ab' * 8}-x.bin"
    )
    assert zones.curated_key(z, "t", {"event_date": None}, "s") == (
        "curated/t/event_date=__HIVE_DEFAULT_PARTITION__/s.parquet"
    )
