"""The layout rules, checked: only `fraudops_shared.aws` imports boto3 or botocore, handlers stay
thin, modules stay small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "python" / "fraudops_shared"
MAX_HANDLER_LINES = 60
MAX_MODULE_LINES = 500
AWS_SDK = ("boto3", "botocore")


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "module", sorted(LAYER.rglob("*.py")), ids=lambda p: str(p.relative_to(LAYER))
)
def test_only_the_aws_adapters_import_the_aws_sdk(module: Path) -> None:
    uses_sdk = imported_roots(module) & set(AWS_SDK)
    if module.relative_to(LAYER).parts[0] == "aws":
        return
    assert not uses_sdk, f"{module.relative_to(LAYER)} imports {sorted(uses_sdk)}"


def test_every_module_of_the_layer_is_small_enough_to_read() -> None:
    sizes = {p.relative_to(LAYER): len(p.read_text().splitlines()) for p in LAYER.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_handlers_are_thin() -> None:
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert handlers
    lengths = {h.parent.name: len(h.read_text().splitlines()) for h in handlers}
    assert {name: n for name, n in lengths.items() if n > MAX_HANDLER_LINES} == {}
