"""Lambda building blocks: the two layers every function gets, and a function with its own log
group and role, so each function's permissions are only what its construct grants it."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.bundling import deps_layer_code
from infra.stage import StageConfig

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch accepts only some retention periods; a constant outside them fails synth."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(
            f"unsupported log retention {days} days: use {sorted(_RETENTION)}"
        ) from None


class SharedLayers(Construct):
    """`shared`: fraudops_shared (Powertools setup, domain code). `deps`: third-party packages
    the runtime lacks (Powertools), built with the host's pip, no Docker. Code, not data: old
    versions are deleted on every stage."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            code=lambda_.Code.from_asset(str(c.SHARED_LAYER_DIR), exclude=list(c.ASSET_EXCLUDES)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="fraudops_shared: observability setup and domain code",
        )
        self.deps = lambda_.LayerVersion(
            self,
            "Deps",
            code=deps_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Third-party packages: aws-lambda-powertools and its closure",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.deps, self.shared]


class PythonFunction(Construct):
    """A thin handler from `functions/<folder>/app.py` with both layers, an explicit log group
    (no Node.js log-retention custom resource) and a role that starts with only log writes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        memory_mb: int,
        timeout_seconds: int,
        layers: SharedLayers,
        stage: StageConfig,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(c.LAMBDA_LOG_RETENTION_DAYS),
            removal_policy=stage.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"fraudops {folder}: log writes plus what its construct grants",
        )
        self.log_group.grant_write(self.role)
        env = {
            "POWERTOOLS_SERVICE_NAME": folder,
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": c.LOG_LEVEL,
            "POWERTOOLS_TRACE_DISABLED": str(stage.powertools_trace_disabled).lower(),
            **(environment or {}),
        }
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=c.LAMBDA_HANDLER,
            code=lambda_.Code.from_asset(
                str(c.FUNCTIONS_DIR / folder), exclude=list(c.ASSET_EXCLUDES)
            ),
            description=description,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            layers=layers.all,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=env,
        )
