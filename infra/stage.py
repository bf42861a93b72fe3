"""The one stage switch: `local` (LocalStack on the host) or `aws`, chosen without a code change.

Resolution order: env FRAUDOPS_STAGE, then context `fraudops:stage` (cdk.json or `-c`), then
`local`. Everything the stage changes is a field below, so differences stay few and visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from constructs import Construct

from infra import constants as c


@dataclass(frozen=True)
class StageConfig:
    """What differs between stages. Nothing else may read the stage name."""

    name: str
    # local: a throwaway emulator, delete data with the stack; aws: keep data on stack deletion.
    removal_policy: RemovalPolicy
    # No X-Ray daemon listens on a LocalStack host, so the Powertools Tracer stays quiet there.
    powertools_trace_disabled: bool

    @property
    def is_local(self) -> bool:
        return self.name == "local"


_STAGES = {
    "local": StageConfig("local", RemovalPolicy.DESTROY, powertools_trace_disabled=True),
    "aws": StageConfig("aws", RemovalPolicy.RETAIN, powertools_trace_disabled=False),
}


def stage_name(scope: Construct) -> str:
    """The selected stage name; an unknown name fails synth instead of deploying a guess."""
    raw = os.environ.get(c.STAGE_ENV_VAR) or scope.node.try_get_context(c.STAGE_CONTEXT_KEY)
    name = str(raw or "local").strip().lower()
    if name not in _STAGES:
        raise ValueError(f"unknown stage {name!r}: set {c.STAGE_ENV_VAR} to one of {c.STAGES}")
    return name


def resolve_stage(scope: Construct) -> StageConfig:
    return _STAGES[stage_name(scope)]
