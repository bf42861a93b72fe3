"""The pipeline probe: checks that the registry table is reachable and reports a summary the
state machine branches on. It grows into the training pipeline's pre-flight check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def run_probe(table: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Describe the table; healthy when it is ACTIVE. Errors propagate to the state machine."""
    status = table.table_status
    return {
        "healthy": status == "ACTIVE",
        "table": table.name,
        "table_status": status,
        "request_keys": sorted(request) if isinstance(request, dict) else [],
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
