"""Infra tests share one synth per session; helpers live in synth_support."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from infra import bundling
from infra import constants as c
from infra.stack import FraudOpsStack
from tests.infra.synth_support import synth


@pytest.fixture(scope="session")
def local_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[FraudOpsStack, Template]:
    return synth(tmp_path_factory.mktemp("cdk-local"), "local")


@pytest.fixture(scope="session")
def template(local_synth: tuple[FraudOpsStack, Template]) -> Template:
    return local_synth[1]


@pytest.fixture(scope="session")
def built_layers() -> dict[str, Path]:
    """Each layer's `python/` folder (what Lambda puts on sys.path, /opt/python), by role: the
    pip layers as the synth bundles them (pip once, then cached under .cache/layers), the shared
    layer from its source folder."""
    sources = {
        "deps": (c.DEPS_REQUIREMENTS, ()),
        "data": (c.DATA_REQUIREMENTS, c.DATA_LAYER_TRIM),
        "ml": (c.ML_REQUIREMENTS, c.ML_LAYER_TRIM),
        "onnx": (c.ONNX_REQUIREMENTS, c.ONNX_LAYER_TRIM),
    }
    return {
        "shared": c.SHARED_LAYER_DIR / "python",
        **{
            role: bundling.PipLayerBundling(requirements, trim=trim).build() / "python"
            for role, (requirements, trim) in sources.items()
        },
    }
