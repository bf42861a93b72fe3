"""Claims of landed file contents: the port the batch use case takes (``FileClaims``; the
DynamoDB adapter is ``fraudops_shared.aws.dynamodb.DynamoFileClaims``) and its value types.
No third-party import: the adapters load it without pyarrow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fraudops_shared.lake.store import SourceObject


class ClaimBusyError(RuntimeError):
    """Another invocation is processing the same content right now: fail so Lambda retries."""


class ClaimLostError(RuntimeError):
    """Our claim was taken over (we were presumed dead); the new holder's result stands."""


@dataclass(frozen=True)
class Claim:
    status: Literal["claimed", "completed", "busy"]
    source_id: str | None = None  # who first claimed (completed) or holds (busy) the content
    manifest_key: str | None = None
    source: dict[str, Any] | None = None
    taken_over: bool = False


class FileClaims(Protocol):
    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        """Claim the content for ``owner``; see the module rules."""

    def complete(
        self, sha256: str, contract: str, owner: str, manifest_key: str, counts: dict[str, int]
    ) -> None:
        """Mark the claim done and ADD ``counts`` to the contract's s3 counters, atomically."""

    def release(self, sha256: str, contract: str, owner: str) -> None:
        """Give an unfinished claim back (an error we report, not a crash)."""
