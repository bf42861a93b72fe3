"""TransactWriteItems whose cost does not grow with the table (moto's grows with it).

moto backs a transaction up by deep-copying every table it names, on every call, to restore the
whole table if one of its items fails. The fraudops state table keeps one idempotency and
ledger item per record ingested or scored, so each commit copied tens of thousands of items
while holding the backend lock: on a soak run every DynamoDB call queued behind seconds-long
copies, and ingestion and scoring stopped. Measured on moto-ext 5.1.28 with ``benchmarks.soak``.

``install`` makes moto's copy of a table return the table itself and restores, on failure, only
the items the transaction names, from copies taken before it ran: at most 100 items, whatever
the table's size. It relies on the backend lock (``dynamodb.BACKEND_LOCK``) that serialises
every operation, as moto's own table swap did: nothing else writes between the backup and the
restore. The restore writes the items back without stream records; the whole-table swap it
replaces dropped them too.
"""

from __future__ import annotations

import copy
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

Saved = tuple["Table", "DynamoType", "DynamoType | None", "Item | None"]


def _deepcopy_but_tables(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    from moto.dynamodb.models.table import Table

    return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


def saved_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Saved]:
    """A copy of every item the transaction names, as it is before the transaction (None when
    absent). An operation moto will refuse (unknown table, malformed key) is skipped here."""
    from moto.dynamodb.exceptions import MockValidationException

    saved: list[Saved] = []
    seen: set[tuple[str, Any, Any]] = set()
    for entry in transact_items[:100]:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(str(op.get("TableName"))) if isinstance(op, dict) else None
        key = (op.get("Item") if op_type == "Put" else op.get("Key")) if table else None
        if table is None or not isinstance(key, dict):
            continue
        try:
            hash_key, range_key = backend.get_keys_value(table, key)
        except MockValidationException:  # a key without the table's attributes: moto refuses it
            continue
        if (table.name, hash_key, range_key) in seen:
            continue
        seen.add((table.name, hash_key, range_key))
        current = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def restore(saved: list[Saved]) -> None:
    """Put every saved item back as it was; remove those that did not exist."""
    for table, hash_key, range_key, item in saved:
        if range_key is not None:
            bucket = table.items[hash_key]
            if item is None:
                bucket.pop(range_key, None)
                if not bucket:
                    table.items.pop(hash_key, None)
            else:
                bucket[range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item  # type: ignore[assignment]  # moto types items as dicts


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    import moto.dynamodb.models as models

    backend_cls = models.DynamoDBBackend
    if getattr(backend_cls.transact_write_items, "_fraudops", False):
        return
    moto_transact = backend_cls.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = saved_items(self, transact_items)
        try:
            moto_transact(self, transact_items)
        except BaseException:
            restore(saved)
            raise

    transact_write_items._fraudops = True  # type: ignore[attr-defined]
    setattr(models, "copy", types.SimpleNamespace(deepcopy=_deepcopy_but_tables))  # noqa: B010
    backend_cls.transact_write_items = transact_write_items  # type: ignore[method-assign]
