"""Build the app the same way for `cdk synth` (app.py) and for tests (one code path)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra import constants as c
from infra.stack import FraudOpsStack
from infra.stage import resolve_stage


def cdk_json_context() -> dict[str, Any]:
    """The `context` block of cdk.json, so tests synthesize with the CLI's feature flags."""
    data = json.loads((c.ROOT / "cdk.json").read_text(encoding="utf-8"))
    return dict(data.get("context", {}))


def build_app(
    *, context: dict[str, Any] | None = None, outdir: str | None = None, nag: bool = True
) -> tuple[App, FraudOpsStack]:
    """The app with its one stack; cdk-nag's AwsSolutions pack checks every construct."""
    app = App(context=context, outdir=outdir)
    stack = FraudOpsStack(app, c.STACK_NAME, stage=resolve_stage(app))
    if nag:
        Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
        )
    return app, stack
