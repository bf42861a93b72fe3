"""DynamoDB served by moto, selected with ``PROVIDER_OVERRIDE_DYNAMODB=fraudops``.

Stock LocalStack forwards DynamoDB to DynamoDB Local, which needs Java and a download from the
internet; neither is available here. moto implements the API in-process, so every operation
falls through to it. What moto lacks is added:

* a lock around every operation, because moto's backends are plain dicts: concurrent requests
  could interleave a condition check with another write, or a transaction's rollback copy could
  drop a concurrent write, which real DynamoDB never does;
* transactions that back up only the items they name (``ddb_transactions``): moto copies
  every table a transaction names, so a commit's cost grew with the table;
* a TTL sweeper, because real DynamoDB deletes expired items in the background and apps rely on
  it (idempotency keys, short-lived cases); moto only stores the TTL setting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from localstack.aws.api import (
    CommonServiceException,
    RequestContext,
    ServiceRequest,
    ServiceResponse,
)
from localstack.aws.api.dynamodb import (
    BatchWriteItemOutput,
    BatchWriteItemRequestMap,
    DynamodbApi,
)
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

if TYPE_CHECKING:
    from localstack.aws.skeleton import DispatchTable
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

LOG = logging.getLogger(__name__)

TTL_SWEEP_ENV = "FRAUDOPS_DDB_TTL_SWEEP_SECONDS"
DEFAULT_TTL_SWEEP_S = 5.0

# One lock for all of DynamoDB: moto operations take micro- to milliseconds, and a single lock
# also makes TransactWriteItems atomic across tables, as it is in AWS. Re-entrant so that a
# sweep or an operation can nest another call safely.
BACKEND_LOCK = threading.RLock()

BATCH_WRITE_MAX_ITEMS = 25


def sweep_period_s() -> float:
    """The sweep period from the environment; a bad value falls back to the default, loudly."""
    raw = os.environ.get(TTL_SWEEP_ENV, "")
    if not raw:
        return DEFAULT_TTL_SWEEP_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        LOG.warning(
            "%s=%r is not a positive number, using %ss", TTL_SWEEP_ENV, raw, DEFAULT_TTL_SWEEP_S
        )
        return DEFAULT_TTL_SWEEP_S
    return value


def _expiry(item: Any, attribute: str) -> Decimal | None:
    """The item's expiry in epoch seconds; None when DynamoDB would ignore it (absent or not N)."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return None
    try:
        return Decimal(value.value)
    except (InvalidOperation, TypeError):
        return None


def _ttl_tables() -> Iterator[tuple[str, str, Table]]:
    """Every table with TTL enabled in every account and region, snapshotted under the lock."""
    from moto.dynamodb.models import dynamodb_backends

    with BACKEND_LOCK:
        backends = cast(
            "list[tuple[str, str, DynamoDBBackend]]", list(dynamodb_backends.iter_backends())
        )
        tables = [
            (account, region, table)
            for account, region, backend in backends
            for table in list(backend.tables.values())
            if table.ttl.get("TimeToLiveStatus") == "ENABLED" and table.ttl.get("AttributeName")
        ]
    yield from tables


def sweep_expired_items(now: float | None = None) -> int:
    """Delete every item whose TTL attribute is in the past; return how many were deleted.

    A table that fails is logged and skipped so that one odd table cannot stop expiry elsewhere.
    Deleting through ``Table.delete_item`` keeps indexes consistent and records a REMOVE record
    on the table's stream, as the TTL process does in AWS.
    """
    cutoff = Decimal(str(time.time() if now is None else now))
    deleted = 0
    for account, region, table in _ttl_tables():
        try:
            with BACKEND_LOCK:
                if table.ttl.get("TimeToLiveStatus") != "ENABLED":
                    continue  # disabled since the snapshot
                attribute = table.ttl["AttributeName"]
                for item in table.all_items():
                    expiry = _expiry(item, attribute)
                    if expiry is not None and expiry < cutoff:
                        table.delete_item(item.hash_key, item.range_key)
                        deleted += 1
        except Exception:
            LOG.exception("TTL sweep of table %s (%s/%s) failed", table.name, account, region)
    return deleted


class TtlSweeper:
    """A daemon thread that runs ``sweep_expired_items`` every period until stopped."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fraudops-ddb-ttl", daemon=True)

    def start(self) -> None:
        self._thread.start()
        LOG.info("DynamoDB TTL sweeper started, period %ss", self.period_s)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                if deleted := sweep_expired_items():
                    LOG.debug("TTL sweep deleted %d expired items", deleted)
            except Exception:  # never let the thread die: expiry would silently stop
                LOG.exception("TTL sweep failed")


class FraudopsDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Every operation not defined here raises NotImplementedError and so falls through to moto."""

    def __init__(self) -> None:
        from fraudops_emulator import ddb_transactions

        ddb_transactions.install()
        self.sweeper = TtlSweeper(sweep_period_s())
        self.sweeper.start()

    def on_before_stop(self) -> None:
        self.sweeper.stop()

    def batch_write_item(
        self,
        context: RequestContext,
        request_items: BatchWriteItemRequestMap,
        *args: Any,
        **kwargs: Any,
    ) -> BatchWriteItemOutput:
        """Refuse batches over 25 requests as AWS does (moto accepts any size), so that code
        which forgets to chunk fails here rather than in AWS; then fall through to moto."""
        if any(len(requests) > BATCH_WRITE_MAX_ITEMS for requests in request_items.values()):
            raise CommonServiceException(
                "ValidationException",
                "1 validation error detected: Value at 'requestItems' failed to satisfy "
                "constraint: Map value must satisfy constraint: [Member must have length less "
                f"than or equal to {BATCH_WRITE_MAX_ITEMS}, Member must have length greater "
                "than or equal to 1]",
            )
        if sum(len(requests) for requests in request_items.values()) > BATCH_WRITE_MAX_ITEMS:
            raise CommonServiceException(
                "ValidationException", "Too many items requested for the BatchWriteItem call"
            )
        raise NotImplementedError


def _locked(handler: Any) -> Any:
    """Serialise a dispatch-table handler on the backend lock."""

    def call(context: RequestContext, request: ServiceRequest) -> ServiceResponse:
        with BACKEND_LOCK:
            return handler(context, request)

    return call


def locked_moto_dispatcher(provider: object) -> DispatchTable:
    """``MotoFallbackDispatcher`` with every operation under ``BACKEND_LOCK``."""
    from localstack.services.moto import MotoFallbackDispatcher

    table = MotoFallbackDispatcher(provider)
    return {operation: _locked(handler) for operation, handler in table.items()}


@aws_provider(api="dynamodb", name="fraudops")
def dynamodb_fraudops() -> Service:
    provider = FraudopsDynamoDBProvider()
    return Service.for_provider(provider, dispatch_table_factory=locked_moto_dispatcher)
