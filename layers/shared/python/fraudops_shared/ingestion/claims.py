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
    attempt: int = 1  # a renamed copy of a file quarantined for a fixable cause is attempt 2...
    commit_id: str | None = None  # the completed claim's commit (to finish its promotion)


# The outcomes of a completed claim whose content may be claimed again from another landing:
# the bytes were fine, their name was not (a plain CSV named .csv.gz, an unsupported suffix).
RETRYABLE_OUTCOMES = (
    "quarantined_file:not_gzip",
    "quarantined_file:unsupported_format",
    "dead_lettered",  # the batch function gave up (an outage): the same bytes may come again
)


class FileClaims(Protocol):
    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        """Claim the content for ``owner``: new content, an unfinished claim of the same owner
        or gone stale, or a completed one with a retryable outcome landed again under another
        key (the next attempt); otherwise say who has it (busy) or that it is done (completed).
        The claim is completed by the commit (``lake.commits.FileCompletion``)."""

    def release(self, sha256: str, contract: str, owner: str) -> None:
        """Give an unfinished claim back (an error we report, not a crash)."""
