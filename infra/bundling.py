"""Build pip layers (one per requirements file) with the host's pip, never Docker, cached by
content.

pip downloads wheels for the Lambda platform (`--platform/--python-version/--implementation`,
binary only), so the result is what the `python3.12` x86_64 runtime needs whatever the host is.
A layer may then be trimmed (glob patterns of files it does not need) and is refused when it
alone exceeds Lambda's unzipped limit. The cache key covers the requirements file, every pip
argument and the trim patterns, so re-synth is a copy and the asset hash changes with any of
them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingFileAccess,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    DockerVolume,
    ILocalBundling,
)
from aws_cdk import aws_lambda as lambda_

from infra import constants as c

_COMPLETE_MARKER = ".complete"


def pip_arguments(requirements: Path, target: Path) -> list[str]:
    """The pip command line: wheels only, for the Lambda platform, no resolver surprises."""
    platforms = [arg for p in c.LAYER_PLATFORMS for arg in ("--platform", p)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--no-deps",  # requirements.txt pins the full closure; the runtime provides boto3.
        "--only-binary=:all:",
        *platforms,
        "--python-version",
        c.LAYER_PYTHON_VERSION,
        "--implementation",
        c.LAYER_IMPLEMENTATION,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


def can_precompile() -> bool:
    """Bytecode is only worth shipping when this interpreter is the runtime's version (the .pyc
    magic number changes with every minor version)."""
    return c.LAYER_PRECOMPILE and f"{sys.version_info[0]}.{sys.version_info[1]}" == (
        c.LAYER_PYTHON_VERSION
    )


def compile_arguments(target: Path) -> list[str]:
    """Byte-compile the layer; unchecked-hash .pyc files do not depend on file times."""
    return [
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        str(target),
    ]


def cache_key(requirements: Path, trim: Sequence[str] = ()) -> str:
    """Hash of the requirements, the pip arguments (without paths), the trim patterns and
    whether bytecode is shipped."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join(pip_arguments(Path("req"), Path("out"))[3:]).encode())
    digest.update(("\0trim:" + "\0".join(trim)).encode())
    digest.update(f"\0pyc:{can_precompile()}".encode())
    return digest.hexdigest()[:32]


def tree_size(root: Path) -> int:
    """Bytes of the regular files under `root` (what Lambda counts, unzipped)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def trim_tree(root: Path, patterns: Sequence[str]) -> int:
    """Delete what the glob patterns match under `root`; returns the bytes removed."""
    removed = 0
    for pattern in patterns:
        for path in sorted(root.glob(pattern), key=lambda p: len(p.parts)):
            if not path.exists() and not path.is_symlink():
                continue  # already gone with a parent folder matched earlier
            if path.is_dir() and not path.is_symlink():
                removed += tree_size(path)
                shutil.rmtree(path)
            else:
                removed += 0 if path.is_symlink() else path.stat().st_size
                path.unlink()
    return removed


class LayerTooLargeError(RuntimeError):
    """The layer alone exceeds Lambda's unzipped limit: trim it or take another source."""


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """`ILocalBundling` that pip-installs a requirements file into `<output>/python`, trims it
    and checks its unzipped size."""

    def __init__(
        self,
        requirements: Path,
        *,
        trim: Sequence[str] = (),
        max_bytes: int = c.LAMBDA_UNZIPPED_LIMIT_BYTES,
        cache_dir: Path = c.BUNDLING_CACHE_DIR,
    ) -> None:
        self._requirements = requirements
        self._trim = tuple(trim)
        self._max_bytes = max_bytes
        self._cache_dir = cache_dir

    def cache_key(self) -> str:
        return cache_key(self._requirements, self._trim)

    def cached_dir(self) -> Path:
        return self._cache_dir / self.cache_key()

    def build(self) -> Path:
        """Install into the cache once (atomically) and return the cached layer root."""
        final = self.cached_dir()
        if (final / _COMPLETE_MARKER).is_file():
            return final
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=self._cache_dir))
        try:
            done = subprocess.run(
                pip_arguments(self._requirements, work / "python"),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"pip could not build the layer from {self._requirements}:\n{done.stderr}"
                )
            for junk in (work / "python").glob("**/__pycache__"):
                shutil.rmtree(junk, ignore_errors=True)
            trim_tree(work / "python", self._trim)
            if can_precompile():
                subprocess.run(
                    compile_arguments(work / "python"), capture_output=True, text=True, check=True
                )
            size = tree_size(work / "python")
            if size > self._max_bytes:
                raise LayerTooLargeError(
                    f"the layer of {self._requirements} is {size:,} bytes unzipped, over the "
                    f"{self._max_bytes:,} Lambda allows a function and all its layers"
                )
            (work / _COMPLETE_MARKER).write_text(self.cache_key())
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final

    def try_bundle(  # the ILocalBundling signature, fixed by jsii
        self,
        output_dir: str,
        *,
        image: DockerImage,
        bundling_file_access: BundlingFileAccess | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        local: ILocalBundling | None = None,
        network: str | None = None,
        output_type: BundlingOutput | None = None,
        platform: str | None = None,
        security_opt: str | None = None,
        user: str | None = None,
        volumes: Sequence[DockerVolume | dict[str, Any]] | None = None,
        volumes_from: Sequence[str] | None = None,
        working_directory: str | None = None,
    ) -> bool:
        """Called by CDK instead of Docker; True means the output is ready. The Docker options
        are only for the fallback CDK would use if this returned False, so they are ignored."""
        shutil.copytree(self.build() / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


def pip_layer_code(requirements: Path, *, trim: Sequence[str] = ()) -> lambda_.Code:
    """Layer code for one requirements file. The asset hash is the cache key (requirements, pip
    arguments, trim patterns), so an unchanged layer reuses the staged asset without pip."""
    bundler = PipLayerBundling(requirements, trim=trim)
    return lambda_.Code.from_asset(
        str(requirements.parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundler.cache_key(),
        exclude=list(c.ASSET_EXCLUDES),
        bundling=BundlingOptions(
            # Docker fallback, never used: try_bundle always succeeds or raises.
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            command=[
                "bash",
                "-c",
                "pip install --no-deps -r requirements.txt -t /asset-output/python",
            ],
            local=bundler,
        ),
    )


def tree_digest(root: Path, excludes: Sequence[str] = c.ASSET_EXCLUDES) -> str:
    """SHA-256 of a folder's files (relative paths and bytes), skipping excluded names."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or any(
            fnmatch.fnmatch(part, pat) for part in rel.parts for pat in excludes
        ):
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def deps_layer_code() -> lambda_.Code:
    """Powertools and what the shared layer imports (PyYAML): every function."""
    return pip_layer_code(c.DEPS_REQUIREMENTS)


def data_layer_code() -> lambda_.Code:
    """awswrangler, pandas, pyarrow, numpy: the ingestion functions only."""
    return pip_layer_code(c.DATA_REQUIREMENTS, trim=c.DATA_LAYER_TRIM)


def ml_layer_code() -> lambda_.Code:
    """scikit-learn, scipy, skl2onnx, onnx: the training function only."""
    return pip_layer_code(c.ML_REQUIREMENTS, trim=c.ML_LAYER_TRIM)


def onnx_layer_code() -> lambda_.Code:
    """onnxruntime and numpy: model evaluation (and scoring)."""
    return pip_layer_code(c.ONNX_REQUIREMENTS, trim=c.ONNX_LAYER_TRIM)
