"""Conditional writes that make re-delivered events harmless (at-least-once sources)."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"


def expires_at(ttl_days: int, now: float | None = None) -> int:
    """Epoch seconds after which DynamoDB's TTL may delete the item."""
    return int((time.time() if now is None else now) + ttl_days * 86_400)


def put_once(table: Any, item: dict[str, Any]) -> bool:
    """Write `item` unless its key exists. True if written, False if it was a duplicate."""
    try:
        table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": PK},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
