#!/usr/bin/env python3
"""CDK entry point (`cdk synth`/`deploy`): one stack, its stage from FRAUDOPS_STAGE or cdk.json."""

from __future__ import annotations

from infra.app_factory import build_app

app, _ = build_app()
app.synth()
