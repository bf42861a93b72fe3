"""`fraudops ingest FILE --contract NAME`: land a file and (optionally) wait for its manifest.

The manifest key is known before the upload: the content's SHA-256 names it. A re-upload of
content already ingested gets a ``duplicate`` manifest beside the first one, named by the new
object's key and version, so the command can wait for exactly the answer to its own upload.
"""

from __future__ import annotations

import errno
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from fraudops import deploy
from fraudops.clients import client
from fraudops.paths import Layout
from fraudops_shared.lake import zones

READ_BLOCK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _get_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return dict(json.loads(body))


def _is_ours(manifest: dict[str, Any], key: str, version: str | None) -> bool:
    src = manifest.get("source") or {}
    return bool(src.get("key") == key and (version is None or src.get("version_id") == version))


def ingest_file(
    layout: Layout,
    path: str | Path,
    contract: str,
    *,
    wait: bool = True,
    timeout: float = 120.0,
    bucket: str | None = None,
    s3: Any = None,
) -> dict[str, Any]:
    """Upload ``path`` to ``landing/<contract>/<name>``; with ``wait``, return its manifest.

    ``bucket`` and ``s3`` default to the deployed stack's data bucket and a LocalStack client."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(file))
    bucket = bucket or deploy.outputs(layout, "DataBucketName")["DataBucketName"]
    sha = sha256_of(file)
    key = zones.landing_key(contract, file.name)
    s3 = s3 or client(layout, "s3")
    started = time.monotonic()
    with file.open("rb") as fh:
        put = s3.put_object(Bucket=bucket, Key=key, Body=fh)
    version, etag = put.get("VersionId"), str(put.get("ETag", "")).strip('"') or None
    result: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "version_id": version,
        "sha256": sha,
        "size": file.stat().st_size,
    }
    if not wait:
        return result
    source = zones.source_id(bucket, key, version, etag)
    candidates = zones.file_manifest_candidates(zones.Zones(bucket), contract, sha, source)
    deadline = started + timeout
    while True:
        for mkey in candidates:
            manifest = _get_json(s3, bucket, mkey)
            if manifest is not None and _is_ours(manifest, key, version):
                return {
                    **result,
                    "manifest_key": mkey,
                    "manifest": manifest,
                    "seconds": round(time.monotonic() - started, 2),
                }
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"no manifest for s3://{bucket}/{key} within {timeout:.0f} s "
                f"(looked for {', '.join(candidates)})"
            )
        time.sleep(0.5)


def summary_line(result: dict[str, Any]) -> str:
    """One human line for the CLI."""
    manifest = result.get("manifest")
    if not manifest:
        return f"uploaded s3://{result['bucket']}/{result['key']} (sha256 {result['sha256'][:16]})"
    counts = manifest.get("counts", {})
    line = (
        f"{manifest['status']}: {counts.get('rows_in', 0)} rows in, {counts.get('valid', 0)} "
        f"valid, {counts.get('rejected', 0)} rejected ({result['seconds']} s); "
        f"manifest s3://{result['bucket']}/{result['manifest_key']}"
    )
    if manifest.get("reason"):
        line += f"\n  reason: {manifest['reason']}"
    if manifest.get("rule_counts"):
        line += "\n  rules: " + ", ".join(f"{k}={v}" for k, v in manifest["rule_counts"].items())
    return line
