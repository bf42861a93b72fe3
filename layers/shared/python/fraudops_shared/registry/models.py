"""The model registry: versions, the champion pointer and its history, and training run records,
changed only in atomic groups of conditional changes.

Records (kept by a ``RegistryStore``; the DynamoDB one is ``fraudops_shared.aws.model_registry``):

* version — everything needed to reproduce and to trust a model (snapshot id and hash, dataset
  digest, contract and feature-set versions, code version, candidate, parameters, seed, config,
  metrics, threshold, ONNX location and SHA-256, baseline statistics, gate result), its
  ``status`` and the history of status changes;
* counter — the latest version number of a contract;
* champion pointer — which version serves, and the promotion history rollback walks back;
* training run — how an execution ended (registered, rejected or failed, and why), so every run
  leaves a record even when no model came of it.

A registration is one atomic group: counter, version, run and (when promoted) the champion
pointer and the archived predecessor move together or not at all, so a failure can never leave a
half-registered model. Every change carries the condition it was computed under (optimistic
concurrency): a concurrent change makes the group fail with ``ConflictError``, and the operation
reads again and retries. A retried registration of the same run returns the version it made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

STATUSES = ("candidate", "champion", "shadow", "archived", "rejected")
MAX_ATTEMPTS = 5  # optimistic-concurrency retries of a registration or promotion


class RegistryError(RuntimeError):
    """A registry change that cannot be made (unknown version, nothing to roll back to)."""


class ConcurrentChangeError(RegistryError):
    """Someone else changed the same contract's models at the same time; retried, then given up."""


class ConflictError(RuntimeError):
    """A change's condition did not hold: the group was not applied (raised by a store)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def model_id(contract: str, version: int) -> str:
    return f"{contract}-v{version}"


def run_status(model_status: str) -> str:
    """How a run that registered a model ended, by the status its model got."""
    return {"champion": "promoted", "rejected": "rejected"}.get(model_status, "registered")


# --- the changes a store applies atomically ------------------------------------------------------


@dataclass(frozen=True)
class SetCounter:
    """The contract's latest version becomes ``version``, if it still is ``expected`` (0: none)."""

    contract: str
    version: int
    expected: int


@dataclass(frozen=True)
class PutVersion:
    """A new version record; fails if that version exists."""

    record: Mapping[str, Any]


@dataclass(frozen=True)
class PutRun:
    """A run record; fails if the run already registered a model (a failure never overwrites a
    registration)."""

    run: Mapping[str, Any]


@dataclass(frozen=True)
class PutPointer:
    """The champion pointer; fails unless the current pointer names ``expected`` (None: none)."""

    contract: str
    pointer: Mapping[str, Any]
    expected: int | None


@dataclass(frozen=True)
class SetStatus:
    """A version's status (with when and why); fails if the version is missing or, when
    ``expected`` is given, its status is another."""

    contract: str
    version: int
    status: str
    at: str
    reason: str
    expected: str | None = None


Change = SetCounter | PutVersion | PutRun | PutPointer | SetStatus


class RegistryStore(Protocol):
    def version(self, contract: str, version: int) -> dict[str, Any] | None: ...

    def pointer(self, contract: str) -> dict[str, Any] | None: ...

    def counter(self, contract: str) -> int: ...

    def run(self, contract: str, run_id: str) -> dict[str, Any] | None: ...

    def versions(self, contract: str) -> list[dict[str, Any]]: ...

    def runs(self, contract: str) -> list[dict[str, Any]]: ...

    def apply(self, changes: Sequence[Change]) -> None:
        """All changes or none; raise ConflictError when a condition does not hold."""


# --- the registry ---------------------------------------------------------------------------------


class ModelRegistry:
    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    # reads

    def get_version(self, contract: str, version: int) -> dict[str, Any] | None:
        return self.store.version(contract, version)

    def champion_pointer(self, contract: str) -> dict[str, Any] | None:
        return self.store.pointer(contract)

    def champion(self, contract: str) -> dict[str, Any] | None:
        """The serving version's full record, or None before the first promotion."""
        pointer = self.store.pointer(contract)
        if pointer is None:
            return None
        record = self.store.version(contract, int(pointer["version"]))
        if record is None:
            raise RegistryError(f"champion pointer names v{pointer['version']}, which is missing")
        return record

    def list_versions(self, contract: str) -> list[dict[str, Any]]:
        return self.store.versions(contract)

    def get_run(self, contract: str, run_id: str) -> dict[str, Any] | None:
        return self.store.run(contract, run_id)

    def list_runs(self, contract: str) -> list[dict[str, Any]]:
        return self.store.runs(contract)

    # writes

    def register(self, record: Mapping[str, Any], *, promote: bool) -> dict[str, Any]:
        """Give `record` (a trained, evaluated model of one run) the next version number and
        write it with its run record; with `promote`, make it the champion and archive the
        previous one, in the same group. `record["status"]` is "rejected" or "candidate"."""
        contract, run_id = record["contract"], record["run_id"]
        for _ in range(MAX_ATTEMPTS):
            existing = self.store.run(contract, run_id)
            if existing and existing.get("version") is not None:
                found = self.store.version(contract, int(existing["version"]))
                if found is not None:
                    return found  # a retry of a registration that already happened
            latest = self.store.counter(contract)
            version = latest + 1
            at = now_iso()
            status = "champion" if promote else str(record["status"])
            doc = {
                **record,
                "version": version,
                "model_id": model_id(contract, version),
                "status": status,
                "created_at": at,
                "updated_at": at,
                "history": [
                    {"status": status, "at": at, "reason": record.get("status_reason", "")}
                ],
            }
            run = {
                "run_id": run_id,
                "contract": contract,
                "status": run_status(status),
                "version": version,
                "model_id": doc["model_id"],
                "reason": record.get("status_reason", ""),
                "finished_at": at,
                "execution_arn": record.get("execution_arn"),
                **({"trigger": record["trigger"]} if record.get("trigger") else {}),
            }
            changes: list[Change] = [
                SetCounter(contract, version, latest),
                PutVersion(doc),
                PutRun(run),
            ]
            if promote:
                previous = self.store.pointer(contract)
                changes += _handover(contract, doc, previous, at, "gates passed")
            try:
                self.store.apply(changes)
            except ConflictError:
                continue  # a concurrent registration or promotion: read again, retry
            return doc
        raise ConcurrentChangeError(f"could not register run {run_id}: concurrent changes")

    def record_failure(
        self,
        *,
        contract: str,
        run_id: str,
        error: str,
        reason: str,
        execution_arn: str | None = None,
        trigger: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The run's failure and why (and the alarm that started it, if one did); never
        overwrites a run that registered a model."""
        run = {
            "run_id": run_id,
            "contract": contract,
            "status": "failed",
            "error": error,
            "reason": reason,
            "finished_at": now_iso(),
            "execution_arn": execution_arn,
            **({"trigger": dict(trigger)} if trigger else {}),
        }
        try:
            self.store.apply([PutRun(run)])
        except ConflictError:
            return self.store.run(contract, run_id) or run
        return run

    def promote(
        self,
        contract: str,
        version: int,
        *,
        reason: str,
        shadow: bool = False,
        rolling_back: bool = False,
    ) -> dict[str, Any]:
        """Make `version` the champion (archiving the current one), or with `shadow` mark it to
        be scored alongside the champion without serving decisions."""
        for _ in range(MAX_ATTEMPTS):
            target = self.store.version(contract, version)
            if target is None:
                raise RegistryError(f"{model_id(contract, version)} is not registered")
            at = now_iso()
            if shadow:
                try:
                    self.store.apply(self._shadow_changes(contract, target, at, reason))
                except ConflictError:
                    continue
                return {**target, "status": "shadow", "updated_at": at, "status_reason": reason}
            previous = self.store.pointer(contract)
            if previous is not None and int(previous["version"]) == version:
                raise RegistryError(f"{target['model_id']} is already the champion")
            history = None
            if rolling_back:  # walk back: drop the current champion's entry, do not add one
                history = list((previous or {}).get("history") or [])[:-1]
                if not history or int(history[-1]["version"]) != version:
                    raise ConcurrentChangeError("the promotion history changed during the rollback")
            changes: list[Change] = [
                SetStatus(contract, version, "champion", at, reason, expected=target["status"]),
                *_handover(contract, target, previous, at, reason, history),
            ]
            try:
                self.store.apply(changes)
            except ConflictError:
                continue
            return {**target, "status": "champion", "updated_at": at, "status_reason": reason}
        raise ConcurrentChangeError(f"could not promote v{version}: concurrent changes")

    def _shadow_changes(
        self, contract: str, target: Mapping[str, Any], at: str, reason: str
    ) -> list[Change]:
        """The version becomes the shadow: its status, and the champion pointer's ``shadow``
        (where scorers look), replacing any earlier shadow (back to candidate)."""
        version = int(target["version"])
        if target["status"] == "champion":
            raise RegistryError(f"{target['model_id']} is the champion, not a shadow")
        if target["status"] == "rejected":
            raise RegistryError(f"{target['model_id']} was rejected by its gate: not a shadow")
        pointer = self.store.pointer(contract)
        if pointer is None:
            raise RegistryError(f"{contract} has no champion yet: a shadow is scored beside one")
        changes: list[Change] = [
            SetStatus(contract, version, "shadow", at, reason, expected=target["status"]),
            PutPointer(
                contract,
                {**pointer, "shadow": version, "shadow_since": at},
                int(pointer["version"]),
            ),
        ]
        previous = pointer.get("shadow")
        if previous is not None and int(previous) != version:
            changes.append(
                SetStatus(contract, int(previous), "candidate", at, f"v{version} is the shadow")
            )
        return changes

    def rollback(self, contract: str, *, reason: str) -> dict[str, Any]:
        """The champion before the current one serves again and the current one is archived; a
        second rollback goes one further back (the promotion history is a stack)."""
        pointer = self.store.pointer(contract)
        if pointer is None:
            raise RegistryError(f"{contract} has no champion to roll back")
        history = pointer.get("history") or []
        if len(history) < 2:
            raise RegistryError(
                f"{model_id(contract, int(pointer['version']))} is the first champion: "
                "nothing earlier"
            )
        target = int(history[-2]["version"])
        return self.promote(contract, target, reason=reason, rolling_back=True)


def _handover(
    contract: str,
    record: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    at: str,
    reason: str,
    history: list[dict[str, Any]] | None = None,
) -> list[Change]:
    """The champion pointer moves to `record` (conditional on the champion read before) and the
    previous champion is archived."""
    if history is None:
        history = list((previous or {}).get("history") or [])
        history.append({"version": record["version"], "at": at, "reason": reason})
    pointer: dict[str, Any] = {
        "version": record["version"],
        "model_id": record["model_id"],
        "promoted_at": at,
        "history": history,
    }
    kept = (previous or {}).get("shadow")  # the shadow stays, unless it is the new champion
    if kept is not None and int(kept) != int(record["version"]):
        pointer["shadow"] = int(kept)
        pointer["shadow_since"] = (previous or {}).get("shadow_since")
    expected = None if previous is None else int(previous["version"])
    changes: list[Change] = [PutPointer(contract, pointer, expected)]
    if previous is not None:
        changes.append(
            SetStatus(
                contract,
                int(previous["version"]),
                "archived",
                at,
                f"replaced by v{record['version']}",
            )
        )
    return changes
