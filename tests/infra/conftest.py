"""Infra tests share one synth per module; helpers live in synth_support."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from synth_support import synth

from infra.stack import FraudOpsStack


@pytest.fixture(scope="module")
def local_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[FraudOpsStack, Template]:
    return synth(tmp_path_factory.mktemp("cdk-local"), "local")


@pytest.fixture(scope="module")
def template(local_synth: tuple[FraudOpsStack, Template]) -> Template:
    return local_synth[1]
