"""EventBridge: model and training events put on a bus (the CLI announces a manual promotion as
the pipeline announces an automatic one)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class EventBus:
    def __init__(self, client: EventBridgeClient, bus: str = "default") -> None:
        self.client, self.bus = client, bus

    def put(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        """One event; raises if EventBridge did not accept it."""
        resp = self.client.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.bus,
                }
            ]
        )
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {resp['Entries']}")
