"""Pip layers built without Docker: the bundler's rules, the data layer's size against Lambda's
limit, that it imports on its own, and the stage setting that picks its source."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from synth_support import our_functions, resources, synth

from infra import bundling
from infra import constants as c
from infra.app_factory import build_app, cdk_json_context

# --- the bundler (no pip) -----------------------------------------------------------------------


def test_pip_targets_both_manylinux_platforms_wheels_only_no_deps(tmp_path: Path) -> None:
    args = bundling.pip_arguments(tmp_path / "requirements.txt", tmp_path / "out")
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms == ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]
    assert "--only-binary=:all:" in args and "--no-deps" in args
    assert args[args.index("--python-version") + 1] == c.LAYER_PYTHON_VERSION


def test_cache_key_follows_requirements_and_trim(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("a==1\n")
    base = bundling.cache_key(req)
    assert bundling.cache_key(req, ("**/tests",)) != base
    req.write_text("a==2\n")
    assert bundling.cache_key(req) != base


def test_trim_removes_matches_and_counts_bytes(tmp_path: Path) -> None:
    root = tmp_path / "python"
    for rel, size in (
        ("pkg/__init__.py", 10),
        ("pkg/tests/test_x.py", 100),
        ("pkg/sub/tests/deep/t.py", 50),
        ("pyarrow/libarrow_flight.so.2500", 1000),
        ("pyarrow/libarrow_python.so", 7),
        ("pyarrow/libarrow_python.so.2500", 7),
        ("pyarrow/libarrow_python.so.2500.1.0", 7),
        ("pyarrow/lib.cpython-312-x86_64-linux-gnu.so", 3),
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    removed = bundling.trim_tree(root, c.DATA_LAYER_TRIM)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    # Then tests and Flight are gone; the versioned libarrow_python (the SONAME) and the
    # extension module stay
    assert left == [
        "pkg/__init__.py",
        "pyarrow/lib.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/libarrow_python.so.2500",
    ]
    assert removed == 100 + 50 + 1000 + 7 + 7


def test_a_layer_over_the_limit_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("anything==1\n")

    def fake_run(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        if "pip" in args:
            target = Path(args[args.index("--target") + 1])
            target.mkdir(parents=True)
            (target / "big.bin").write_bytes(b"x" * 2048)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(bundling.subprocess, "run", fake_run)
    bundler = bundling.PipLayerBundling(req, max_bytes=1024, cache_dir=tmp_path / "cache")
    with pytest.raises(bundling.LayerTooLargeError, match="2,048 bytes"):
        bundler.build()
    assert not bundler.cached_dir().exists()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            pins[m[1].lower().replace("_", "-")] = m[2]
    return pins


def test_requirements_are_exact_pins_and_shared_packages_agree() -> None:
    deps, data = _pins(c.DEPS_REQUIREMENTS), _pins(c.DATA_REQUIREMENTS)
    assert {"awswrangler", "pandas", "pyarrow", "numpy"} <= set(data)
    assert "pyyaml" in deps  # the shared layer's contracts need it whatever the data source
    # The runtime provides the AWS SDK: no layer may ship (and shadow) it
    for pins in (deps, data):
        assert not set(pins) & {"boto3", "botocore", "s3transfer", "urllib3"}
    for name in set(deps) & set(data):
        assert deps[name] == data[name], name


# --- the real data layer (pip, cached under .cache/layers) ----------------------------------


@pytest.fixture(scope="module")
def built_layers() -> dict[str, Path]:
    return {
        "deps": bundling.PipLayerBundling(c.DEPS_REQUIREMENTS).build() / "python",
        "data": bundling.PipLayerBundling(c.DATA_REQUIREMENTS, trim=c.DATA_LAYER_TRIM).build()
        / "python",
    }


def test_ingestion_function_with_all_its_layers_fits_lambdas_limit(
    built_layers: dict[str, Path],
) -> None:
    sizes = {name: bundling.tree_size(path) for name, path in built_layers.items()}
    sizes["shared"] = bundling.tree_size(c.SHARED_LAYER_DIR)
    sizes["code"] = max(
        bundling.tree_size(c.FUNCTIONS_DIR / f) for f in (c.FN_INGEST_BATCH, c.FN_INGEST_STREAM)
    )
    total = sum(sizes.values())
    print(f"unzipped bytes: {sizes} total {total:,}")
    # Leave room for growth: at least 10% under the limit
    assert total < 0.9 * c.LAMBDA_UNZIPPED_LIMIT_BYTES, sizes


def test_data_layer_is_trimmed_and_precompiled(built_layers: dict[str, Path]) -> None:
    data = built_layers["data"]
    assert not list(data.glob("**/tests"))
    assert not list(data.glob("pyarrow/libarrow_flight*"))
    assert (data / "pyarrow" / "libarrow_python.so.2500").is_file() or list(
        data.glob("pyarrow/libarrow_python.so.[0-9]*")
    )
    if bundling.can_precompile():
        assert list((data / "pandas" / "__pycache__").glob("*.cpython-312.pyc"))


def test_data_layer_imports_in_isolation_and_writes_parquet(built_layers: dict[str, Path]) -> None:
    # Given an interpreter that sees only the layers (as the host executor runs functions)
    script = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import io, awswrangler, pandas as pd, pyarrow.parquet as pq, pyarrow.dataset, yaml\n"
        "df = pd.DataFrame({'a': [1, 2], 'b': ['x', None]})\n"
        "buf = io.BytesIO(); df.to_parquet(buf)\n"
        "assert pq.read_table(io.BytesIO(buf.getvalue())).num_rows == 2\n"
        "print(awswrangler.__file__, flush=True)\n"
        # pyarrow's thread pools can abort at interpreter teardown ("terminate called without
        # an active exception"); a Lambda process never tears down, so leave like one
        "import os; os._exit(0)\n"
    )
    runtime_sdk = c.ROOT / ".venvs" / "lambda-runtime" / "python"
    paths = [str(built_layers["data"]), str(built_layers["deps"])]
    if runtime_sdk.is_dir():
        paths.append(str(runtime_sdk))
    else:  # boto3 as the runtime provides it; the venv's copy is the same version
        import boto3

        paths.append(str(Path(boto3.__file__).parent.parent))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script, *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(built_layers["data"]))


# --- the stage setting -----------------------------------------------------------------------


def _data_layer_refs(template: Template) -> list[Any]:
    return [
        fn["Properties"]["Layers"][0]
        for lid, fn in our_functions(template).items()
        if lid.startswith("Ingestion")
    ]


def test_both_stages_build_the_data_layer_by_default(template: Template) -> None:
    layers = resources(template, "AWS::Lambda::LayerVersion")
    data_id = next(k for k in layers if k.startswith("LayersData"))
    assert _data_layer_refs(template) == [{"Ref": data_id}] * 3
    assert template.find_outputs(c.OUT_DATA_LAYER_ARN)[c.OUT_DATA_LAYER_ARN]["Value"] == {
        "Ref": data_id
    }


def test_aws_stage_can_use_the_managed_pandas_layer(tmp_path: Path) -> None:
    # Given the aws stage with the managed data layer selected
    _, template = synth(tmp_path, "aws", **{c.DATA_LAYER_CONTEXT_KEY: "managed"})
    # Then no data layer is built, and the three ingestion functions use AWS's layer
    assert not [k for k in resources(template, "AWS::Lambda::LayerVersion") if "Data" in k]
    expected = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":lambda:",
                {"Ref": "AWS::Region"},
                f":{c.AWS_SDK_PANDAS_LAYER_ACCOUNT}:layer:{c.AWS_SDK_PANDAS_LAYER_NAME}:"
                f"{c.AWS_SDK_PANDAS_LAYER_VERSION}",
            ],
        ]
    }
    assert _data_layer_refs(template) == [expected] * 3


def test_local_stage_refuses_the_managed_layer_and_unknown_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(c.STAGE_ENV_VAR, "local")
    with pytest.raises(ValueError, match="LocalStack cannot serve it"):
        build_app(
            context={**cdk_json_context(), c.DATA_LAYER_CONTEXT_KEY: "managed"},
            outdir=str(tmp_path / "a"),
        )
    with pytest.raises(ValueError, match="unknown data layer source"):
        build_app(
            context={**cdk_json_context(), c.DATA_LAYER_CONTEXT_KEY: "docker"},
            outdir=str(tmp_path / "b"),
        )
