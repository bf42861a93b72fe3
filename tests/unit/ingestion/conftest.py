"""The lake the ingestion tests land files in (``tests.unit.ingestion.files``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.fakes import MemoryBucket
from tests.unit.ingestion.files import BUCKET, Lake


@pytest.fixture
def lake() -> Iterator[Lake]:
    """A versioned data bucket (files land in it) and the file claims, in memory."""
    yield Lake(store=MemoryBucket(BUCKET))
