"""The models a scorer serves: the champion (decides) and the shadow (scored beside it, never
decides), loaded from the registry only as verified ONNX, cached across invocations, refreshed.

Loading fails closed. A version is served only when its artifact's bytes hash to the SHA-256 the
registry recorded (``training.artifacts``: a reference without one is refused before reading),
onnxruntime can open it, its feature set is the one this deployment computes (the contract's
digest: a model trained on other features is never given a mismatched vector), and its
explainer can be built. A refused version is remembered with its reason (metric and alarm:
``ModelRejected``) and not retried until the pointer names another version; the last verified
model keeps serving meanwhile; an environment started after the refusal, which holds none, serves
the newest earlier champion of the promotion history that verifies. No verified champion at all:
the stream parks, the API answers 503.

Refresh: the pointer (one GetItem) is re-read at most every ``refresh_seconds``, so a promotion
reaches every warm environment within that bound plus one batch. An environment that holds no
champion reads it at every call: "no champion" is never cached, so the first promotion is served
by the next call, not up to a bound later.

A failure to *read* a version (the registry or the artifact store unreachable, throttled, timed
out: anything but an ``ArtifactError``) is not a verdict on the model. It is not remembered, and
the next refresh tries again; an environment that holds no champion raises ``ModelUnavailable``
instead of answering "no champion", so the stream retries its batch (nothing is parked for want
of a model that exists) and the API answers 503 ``model_unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fraudops_shared.features.transforms import FeatureSet
from fraudops_shared.runtime.observability import logger
from fraudops_shared.scoring.explain import Explainer
from fraudops_shared.training import onnx_model
from fraudops_shared.training.artifacts import ArtifactError

# earlier champions a cold environment tries when the pointer names a refused version
FALLBACK_DEPTH = 3
# without a decline threshold a model never declines on its own: review is its strongest outcome
NEVER = float("inf")


class ModelSource(Protocol):
    """The registry, read-only: the champion pointer, a version's record, an artifact's bytes."""

    def pointer(self, contract: str) -> Mapping[str, Any] | None: ...

    def version(self, contract: str, version: int) -> Mapping[str, Any] | None: ...

    def artifact(self, ref: Mapping[str, Any]) -> bytes:
        """The bytes, checked against ``ref["sha256"]`` (``ArtifactError`` otherwise)."""


class ModelRefused(RuntimeError):
    """A registered version that will not be served, and why."""


class ModelUnavailable(RuntimeError):
    """The pointer names a champion this environment could not read (a transient failure) and it
    holds none: retry, do not treat the record as having no model."""


@dataclass(frozen=True)
class Thresholds:
    review: float
    decline: float  # NEVER when the model has no decline threshold

    def outcomes(self, scores: np.ndarray) -> np.ndarray:
        if len(scores) == 1:  # the API's one score: the same comparisons without three arrays
            score = float(scores[0])
            review = "review" if score >= self.review else "approve"
            return np.array(["decline" if score >= self.decline else review], dtype=object)
        out = np.full(len(scores), "approve", dtype=object)
        out[scores >= self.review] = "review"
        out[scores >= self.decline] = "decline"
        return out


@dataclass
class LoadedModel:
    """A verified model, ready to score: the onnxruntime session and the explainer."""

    contract: str
    version: int
    model_id: str
    sha256: str
    feature_set: str  # digest
    thresholds: Thresholds
    session: Any
    explainer: Explainer
    names: list[str]

    def scores(self, x: np.ndarray) -> np.ndarray:
        """P(fraud) per row: one onnxruntime call for the whole batch."""
        if not len(x):
            return np.zeros(0, np.float64)
        return onnx_model.fraud_probability(self.session, x)


def load(
    contract: str, record: Mapping[str, Any], data: bytes, features: FeatureSet
) -> LoadedModel:
    """A version's record and artifact bytes as a servable model, or ModelRefused."""
    version = int(record["version"])
    digest = str(record.get("feature_set") or "")
    if digest != features.digest:
        raise ModelRefused(
            f"v{version} was trained on feature set {digest[:12] or '(none)'}..., this deployment "
            f"computes {features.digest[:12]}... (feature set version {features.version}): "
            "refusing to score it with another vector"
        )
    sha = str((record.get("onnx") or {}).get("sha256") or "")
    try:
        session = onnx_model.load(data, sha)
        explainer = Explainer.from_onnx(data)
        if explainer.n_features != len(features.names):
            raise ValueError(f"{explainer.n_features} inputs for {len(features.names)} features")
    except Exception as err:  # any failure to open or explain it: not served
        raise ModelRefused(f"v{version}: {type(err).__name__}: {err}") from None
    metrics = record.get("metrics") or {}
    decline = metrics.get("decline_threshold")
    return LoadedModel(
        contract=contract,
        version=version,
        model_id=str(record.get("model_id") or f"{contract}-v{version}"),
        sha256=sha,
        feature_set=digest,
        thresholds=Thresholds(
            review=float(record["threshold"]),
            decline=float(decline) if decline is not None else NEVER,
        ),
        session=session,
        explainer=explainer,
        names=list(features.names),
    )


@dataclass
class Refusal:
    version: int
    reason: str


@dataclass
class ModelCache:
    """The champion and the shadow of one contract, per process (module level in a handler)."""

    source: ModelSource
    contract: str
    features: FeatureSet
    refresh_seconds: float = 15.0
    clock: Callable[[], float] = time.monotonic
    champion: LoadedModel | None = None
    shadow: LoadedModel | None = None
    refusals: list[Refusal] = field(default_factory=list)  # since the last drain (metrics)
    loads: int = 0  # models loaded (metrics: a load is a cold-start cost)
    load_ms: float | None = None  # the last model load: artifact read, checks, session, explainer
    _checked_at: float | None = None
    _refused: dict[tuple[int, str], str] = field(default_factory=dict)
    _unreadable: str | None = None  # the champion's read failure at the last refresh

    def current(self) -> tuple[LoadedModel | None, LoadedModel | None]:
        """(champion, shadow), re-reading the pointer when it is older than the bound, or at
        every call while no champion is held."""
        now = self.clock()
        stale = self._checked_at is None or now - self._checked_at >= self.refresh_seconds
        if stale or self.champion is None:
            self.refresh()
            self._checked_at = now
        if self.champion is None and self._unreadable:
            raise ModelUnavailable(self._unreadable)
        return self.champion, self.shadow

    def refresh(self) -> None:
        self._unreadable = None
        pointer = self.source.pointer(self.contract)
        if pointer is None:
            return  # nothing promoted yet (or the pointer was removed): keep what we had
        version = int(pointer["version"])
        try:
            chosen = self._resolve(version, self.champion)
            if chosen is None and self.champion is None:
                chosen = self._last_verified(pointer, version)  # a refused champion only
        except ModelUnavailable as err:  # never an older one instead: retried next time
            chosen, self._unreadable = None, str(err)
        self.champion = chosen or self.champion
        shadow = pointer.get("shadow")
        try:
            self.shadow = None if shadow is None else self._resolve(int(shadow), self.shadow)
        except ModelUnavailable:  # a shadow that cannot be read waits for the next refresh
            self.shadow = None

    def drain_refusals(self) -> list[Refusal]:
        out, self.refusals = self.refusals, []
        return out

    def _last_verified(self, pointer: Mapping[str, Any], refused: int) -> LoadedModel | None:
        """A cold environment has no model of its own to keep serving when the pointer names a
        refused version: the newest earlier champion of the promotion history that verifies
        serves instead (what the warm environments still serve), never an unverified one."""
        tried = {refused}
        for entry in reversed(list(pointer.get("history") or [])):
            version = int(entry["version"])
            if version in tried:
                continue
            tried.add(version)
            loaded = self._resolve(version, None)
            if loaded is not None:
                return loaded
            if len(tried) > FALLBACK_DEPTH:
                break
        return None

    def _resolve(self, version: int, held: LoadedModel | None) -> LoadedModel | None:
        if held is not None and held.version == version:
            return held
        record = self.source.version(self.contract, version)
        if record is None:
            self._refuse(version, "", f"v{version} is named by the pointer but not registered")
            return None
        sha = str((record.get("onnx") or {}).get("sha256") or "")
        if (version, sha) in self._refused:
            return None  # refused before: not retried until the pointer names another version
        started = time.perf_counter()
        try:
            data = self.source.artifact(record.get("onnx") or {})
        except ArtifactError as err:  # missing, no hash, other bytes: refused, fail closed
            self._refuse(version, sha, f"{type(err).__name__}: {err}")
            return None
        except Exception as err:  # could not read it now: not a verdict, tried again next time
            reason = f"v{version} could not be read: {type(err).__name__}: {err}"
            logger.warning("model unreadable: retried at the next refresh",
                           extra={"version": version, "reason": reason[:1000]})  # fmt: skip
            raise ModelUnavailable(reason[:300]) from err
        try:
            loaded = load(self.contract, record, data, self.features)
        except Exception as err:  # verified bytes that will not open or explain: refused
            self._refuse(version, sha, f"{type(err).__name__}: {err}")
            return None
        self.loads += 1
        self.load_ms = round((time.perf_counter() - started) * 1000, 1)
        logger.info("model loaded", extra={"model_id": loaded.model_id, "load_ms": self.load_ms,
                                           "bytes": len(data)})  # fmt: skip
        return loaded

    def _refuse(self, version: int, sha: str, reason: str) -> None:
        self._refused[(version, sha)] = reason
        self.refusals.append(Refusal(version, reason[:1000]))
