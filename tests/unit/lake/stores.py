"""Stores for the lake's tests: an in-memory bucket that takes concurrent calls (as the S3
adapter does), records how many ran at once, and can be killed at a given call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyarrow as pa

from tests.unit.fakes import MemoryBucket


class Killed(BaseException):
    """A kill (timeout, OOM): no except clause of ours runs."""


class ConcurrentBucket(MemoryBucket):
    """``MemoryBucket`` behind a lock, declaring ``concurrency``: calls overlap (each waits
    ``delay`` outside the lock), ``peak`` says how many ran at once, ``events`` their order."""

    concurrency = 4

    def __init__(self, bucket: str = "lake", delay: float = 0.01) -> None:
        super().__init__(bucket)
        self.lock = threading.RLock()
        self.delay = delay
        self.active = self.peak = 0
        self.events: list[tuple[str, str]] = []
        self.fail: Callable[[str, str], None] = lambda op, key: None

    def _call(self, op: str, key: str, fn: Callable[[], None]) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            self.fail(op, key)
            with self.lock:
                fn()
                self.events.append((op, key))
        finally:
            with self.lock:
                self.active -= 1

    def put_parquet(self, key: str, table: pa.Table) -> None:
        self._call("put", key, lambda: MemoryBucket.put_parquet(self, key, table))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._call("put", key, lambda: MemoryBucket.put_bytes(self, key, data, content_type))

    def copy_within(self, source_key: str, dest_key: str) -> None:
        self._call("copy", dest_key, lambda: MemoryBucket.copy_within(self, source_key, dest_key))

    def delete(self, keys: list[str]) -> None:
        with self.lock:
            MemoryBucket.delete(self, keys)
            self.events += [("delete", k) for k in keys]

    def exists(self, key: str) -> bool:
        with self.lock:
            return MemoryBucket.exists(self, key)


def kill_at(store: ConcurrentBucket, op: str, number: int) -> None:
    """The store's ``number``-th call of ``op`` (counting from 1) dies."""
    seen = [0]

    def fail(called: str, key: str) -> None:
        if called == op:
            with store.lock:
                seen[0] += 1
                hit = seen[0] == number
            if hit:
                raise Killed(f"killed at {op} {key}")

    store.fail = fail
