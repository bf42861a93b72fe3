"""Settings (fraudops_shared.runtime.settings): a missing name fails loudly, limits follow the
function's timeout unless configured."""

from __future__ import annotations

import pytest

from fraudops_shared.runtime import settings


def test_a_missing_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.STATE_TABLE_ENV, raising=False)
    with pytest.raises(settings.ConfigurationError, match=settings.STATE_TABLE_ENV):
        settings.table_name()
    monkeypatch.setenv(settings.STATE_TABLE_ENV, "  t  ")
    assert settings.table_name() == "t"


def test_a_claim_is_stale_a_minute_after_the_function_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(settings.CLAIM_STALE_SECONDS_ENV, raising=False)
    monkeypatch.delenv(settings.CSV_BLOCK_BYTES_ENV, raising=False)
    assert settings.limits_from_env(900).claim_stale_after_seconds == 960
    assert settings.limits_from_env(None) == settings.Limits()
    monkeypatch.setenv(settings.CLAIM_STALE_SECONDS_ENV, "30")
    monkeypatch.setenv(settings.CSV_BLOCK_BYTES_ENV, "1024")
    limits = settings.limits_from_env(900)
    assert (limits.claim_stale_after_seconds, limits.csv_block_bytes) == (30, 1024)


def test_without_a_feed_the_setting_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.SCORING_FEED_ENV, " ")
    assert settings.scoring_feed() is None
    monkeypatch.setenv(settings.SCORING_FEED_ENV, "feed")
    assert settings.scoring_feed() == "feed"
