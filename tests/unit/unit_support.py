"""Helpers of the unit tests: a fake Lambda context, handler loading, table reads."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeLambdaContext:
    function_name: str = "unit-test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:unit-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def load_handler(folder: str) -> ModuleType:
    """Import functions/<folder>/app.py as `handler_<folder>`."""
    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{folder}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_items(table: Any) -> list[dict[str, Any]]:
    return list(table.scan()["Items"])
