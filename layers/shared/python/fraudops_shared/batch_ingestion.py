"""Batch ingestion: one landed file -> curated Parquet, quarantined rows and a manifest, once.

A file arrives under ``landing/<contract>/``. It is spooled to local disk while its SHA-256 is
computed (the content, not the key, is its identity), then read in bounded chunks (CSV blocks,
JSON Lines line chunks, Parquet row batches), and every chunk is validated against the contract.

Rules that keep every row accounted for exactly once:

* nothing is dropped: ``rows_in == valid + rejected`` for every file; rows that cannot be parsed
  (a CSV row with the wrong number of fields, a JSON line that is not an object, bytes that are
  not UTF-8) are rejected rows like any other, with a rule and a reason;
* a file that cannot be read at all (not gzip, not Parquet, a header that is not UTF-8, columns
  the contract does not allow) is copied whole to ``quarantine/<contract>/_files/`` with its
  reason in the manifest, and what earlier chunks wrote is deleted;
* every output key is derived from the content hash and the chunk number, so a retry of the same
  file rewrites the same objects instead of adding new ones;
* the content is claimed in the registry (``FILE#<sha256>`` / ``CLAIM#<contract>``) before any
  write; a completed claim makes a re-upload a ``duplicate`` (a manifest, no data); a claim still
  in progress may be taken over by the same Lambda request (async retries keep their request id)
  or, after the function timeout, by anyone (the holder crashed);
* the claim is completed and the contract's counters are added in one DynamoDB transaction, so
  the counts move exactly once per file, however often it is processed.

Plain Python over three small ports (object store, zone writer, file registry) so it is tested
without AWS; the adapters are in ``fraudops_shared.adapters``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from fraudops_shared import contracts as contracts_mod
from fraudops_shared import validation

SOURCE = "s3"
UNKNOWN_CONTRACT = "_unknown"
MANIFEST_VERSION = 1
HEADER_LIMIT_BYTES = 1 << 20  # a CSV header longer than 1 MiB is not a header
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# Rules of rows rejected before validation (the contract's own rules come from validation).
RULE_MALFORMED_ROW = "malformed_row"
RULE_MALFORMED_JSON = "malformed_json"
RULE_NOT_AN_OBJECT = "not_an_object"
RULE_UNKNOWN_FIELD = "unknown_field"  # + ":<name>", as validation names it for records
RULE_ENCODING = "encoding"

Status = Literal["ingested", "quarantined_file", "duplicate", "already_ingested"]


class FileProblem(Exception):
    """The file as a whole cannot be read; it is quarantined whole with this reason."""


class ClaimBusyError(RuntimeError):
    """Another invocation is processing the same content right now: fail so Lambda retries."""


class ClaimLostError(RuntimeError):
    """Our claim was taken over (we were presumed dead); the new holder's result stands."""


# --- configuration and value types ------------------------------------------------------------


@dataclass(frozen=True)
class Zones:
    """Where things go; prefixes end with '/'."""

    data_bucket: str
    landing_prefix: str = "landing/"
    curated_prefix: str = "curated/"
    quarantine_prefix: str = "quarantine/"
    manifest_prefix: str = "manifests/"


@dataclass(frozen=True)
class Limits:
    """Chunk sizes bound memory; the stale time is how long a claim may look abandoned."""

    csv_block_bytes: int = 8 << 20
    jsonl_chunk_lines: int = 50_000
    parquet_batch_rows: int = 65_536
    claim_stale_after_seconds: float = 900.0
    tmp_dir: str | None = None


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    version_id: str | None = None
    size: int | None = None
    etag: str | None = None

    @property
    def source_id(self) -> str:
        """What one S3 event points at: a re-delivered event has the same id."""
        return f"s3://{self.bucket}/{self.key}#{self.version_id or self.etag or ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "size": self.size,
            "etag": self.etag,
        }


@dataclass(frozen=True)
class Claim:
    status: Literal["claimed", "completed", "busy"]
    source_id: str | None = None  # who first claimed (completed) or holds (busy) the content
    manifest_key: str | None = None
    source: dict[str, Any] | None = None
    taken_over: bool = False


@dataclass
class IngestResult:
    """What one file did; the manifest is the durable form of the same facts."""

    status: Status
    contract: str
    sha256: str
    manifest_key: str
    manifest: dict[str, Any]
    rows_in: int = 0
    valid: int = 0
    rejected: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    max_event_time: datetime | None = None


# --- ports ------------------------------------------------------------------------------------


class ObjectStore(Protocol):
    def download(self, obj: SourceObject, dest: Path) -> str:
        """Stream the object to ``dest``; return the SHA-256 (hex) of its bytes."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Write an object in the data bucket."""

    def put_parquet(self, key: str, table: pa.Table) -> None:
        """Write ``table`` as one Parquet object at ``key`` (overwrites)."""

    def copy(self, obj: SourceObject, dest_key: str) -> None:
        """Copy the source object (its exact version) into the data bucket."""

    def delete(self, keys: list[str]) -> None:
        """Delete objects of the data bucket (missing ones are fine)."""


class FileRegistry(Protocol):
    def claim(
        self, sha256: str, contract: str, source: SourceObject, owner: str, now: float, stale: float
    ) -> Claim:
        """Claim the content for ``owner``; see the module rules."""

    def complete(
        self, sha256: str, contract: str, owner: str, manifest_key: str, counts: dict[str, int]
    ) -> None:
        """Mark the claim done and ADD ``counts`` to the contract's s3 counters, atomically."""

    def release(self, sha256: str, contract: str, owner: str) -> None:
        """Give an unfinished claim back (an error we report, not a crash)."""


# --- keys -------------------------------------------------------------------------------------


def parse_landing_key(key: str, landing_prefix: str = "landing/") -> tuple[str, str]:
    """``landing/<contract>/<...>/<name>`` -> (contract, name); anything else is unknown."""
    rest = key[len(landing_prefix) :] if key.startswith(landing_prefix) else key
    contract, sep, tail = rest.partition("/")
    if not sep or not contract or not tail:
        return UNKNOWN_CONTRACT, PurePosixPath(key).name or "object"
    return contract, PurePosixPath(tail).name or "object"


def partition_columns(contract: Any) -> list[str]:
    """The contract's partition column names (``partition_by`` holds Partition objects)."""
    return [p if isinstance(p, str) else p.name for p in contract.partition_by or ()]


def quarantine_rows_key(z: Zones, contract: str, sha: str, chunk: int) -> str:
    return f"{z.quarantine_prefix}{contract}/{sha[:16]}/part-{chunk:05d}.jsonl"


def quarantine_file_key(z: Zones, contract: str, sha: str, name: str) -> str:
    return f"{z.quarantine_prefix}{contract}/_files/{sha[:16]}-{name}"


def manifest_key(z: Zones, contract: str, sha: str) -> str:
    return f"{z.manifest_prefix}{contract}/{sha}.json"


def duplicate_manifest_key(z: Zones, contract: str, sha: str, source: SourceObject) -> str:
    """A re-upload gets its own manifest beside the first one's, named by its own source."""
    src = hashlib.sha256(source.source_id.encode()).hexdigest()[:16]
    return f"{z.manifest_prefix}{contract}/{sha}.duplicate-{src}.json"


# --- formats ----------------------------------------------------------------------------------

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(name: str) -> tuple[str, bool]:
    """(format, gzipped) from the file name; an unsupported name is a whole-file problem."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    stem = lower[:-3] if gz else lower
    fmt = _FORMATS.get(PurePosixPath(stem).suffix)
    if fmt is None or (gz and fmt == "parquet"):
        raise FileProblem(
            f"unsupported file name {name!r}: expected .csv, .jsonl/.ndjson/.json (optionally "
            ".gz) or .parquet"
        )
    return fmt, gz


def _open_binary(path: Path, gz: bool) -> io.BufferedIOBase:
    if gz:
        with path.open("rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                raise FileProblem("the name ends in .gz but the content is not gzip")
        return gzip.open(path, "rb")
    return path.open("rb")


# --- readers: bounded chunks of raw rows plus the rows that failed to parse ---------------------


@dataclass
class Chunk:
    """A raw (all-text) table, the file row number of each of its rows, and parse rejects."""

    table: pa.Table | None
    row_numbers: list[int]
    parse_rejects: list[dict[str, Any]]


def _reject(
    row_number: int | None, line: int | None, rule: str, reason: str, record: str
) -> dict[str, Any]:
    return {
        "row_number": row_number,
        "line": line,
        "rules": [rule],
        "reasons": [reason],
        "record": record,
    }


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _decode_columns(
    table: pa.Table, row_numbers: list[int]
) -> tuple[pa.Table, list[int], list[dict[str, Any]]]:
    """Binary columns -> UTF-8 text; rows with bytes that are not UTF-8 are rejected.

    The fast path is one cast per column; only a column that fails is walked row by row."""
    bad: dict[int, list[str]] = {}
    columns: list[pa.Array] = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        try:
            columns.append(col.cast(pa.string()))
            continue
        except (pa.ArrowInvalid, UnicodeDecodeError):
            pass
        decoded: list[str | None] = []
        for i, value in enumerate(col.to_pylist()):
            if value is None:
                decoded.append(None)
                continue
            try:
                decoded.append(value.decode("utf-8"))
            except UnicodeDecodeError as err:
                bad.setdefault(i, []).append(f"column {name!r} is not valid UTF-8: {err}")
                decoded.append(None)
        columns.append(pa.array(decoded, pa.string()))
    text = pa.table(dict(zip(table.column_names, columns, strict=True)))
    if not bad:
        return text, row_numbers, []
    rejects = []
    raw_rows = table.to_pylist()
    for i in sorted(bad):
        record = json.dumps({k: None if v is None else _text(v) for k, v in raw_rows[i].items()})
        rejects.append(_reject(row_numbers[i], None, RULE_ENCODING, "; ".join(bad[i]), record))
    keep = [i for i in range(table.num_rows) if i not in bad]
    mask = pa.array([i not in bad for i in range(table.num_rows)])
    return text.filter(mask), [row_numbers[i] for i in keep], rejects


def _csv_header(path: Path, gz: bool) -> list[str] | None:
    """The header row, parsed with the csv module; None for an empty file."""
    try:
        with _open_binary(path, gz) as fh:
            first = fh.readline(HEADER_LIMIT_BYTES)
    except (OSError, EOFError, zlib.error) as err:
        raise FileProblem(f"cannot decompress: {err}") from err
    if not first.strip():
        return None
    if b"\x00" in first:
        raise FileProblem("the header contains NUL bytes: not a text file")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileProblem(f"the header is not UTF-8: {err}") from err
    header = next(csv.reader([line.rstrip("\r\n")]))
    if len(set(header)) != len(header) or any(not h.strip() for h in header):
        raise FileProblem(f"the header has empty or repeated column names: {header}")
    return [h.strip() for h in header]


def read_csv(path: Path, gz: bool, block_bytes: int) -> Iterator[Chunk]:
    """Stream CSV blocks; every column as text (leading zeros survive), "" as null."""
    header = _csv_header(path, gz)
    if header is None:
        return
    malformed: list[dict[str, Any]] = []

    def on_invalid(row: Any) -> str:
        line = row.number
        malformed.append(
            _reject(
                None,
                line,
                RULE_MALFORMED_ROW,
                f"line {line}: expected {row.expected_columns} columns, got {row.actual_columns}",
                row.text,
            )
        )
        return "skip"

    # A Python file object, not pa.input_stream: pyarrow's pool then peaks near one block
    # (measured 58 MB vs 240 MB on a 300 MB file).
    with _open_binary(path, gz) as stream:
        reader = pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(
                column_names=header, skip_rows=1, block_size=block_bytes, use_threads=False
            ),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                # binary first: a bad byte then rejects one row instead of failing the read
                column_types={name: pa.binary() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        next_row = 1
        for batch in reader:
            raw = pa.Table.from_batches([batch])
            numbers = list(range(next_row, next_row + raw.num_rows))
            next_row += raw.num_rows
            table, numbers, encoding_rejects = _decode_columns(raw, numbers)
            rejects = malformed + encoding_rejects
            malformed.clear()
            yield Chunk(table, numbers, rejects)
    if next_row == 1:  # header only: still an (empty) table, so the columns get checked
        yield Chunk(pa.table({n: pa.array([], pa.string()) for n in header}), [], malformed[:])
    elif malformed:
        yield Chunk(None, [], malformed[:])


def _json_text(value: Any) -> str | None:
    """JSON values as the text a CSV would carry (numbers keep their literal digits)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def read_jsonl(path: Path, gz: bool, columns: list[str], chunk_lines: int) -> Iterator[Chunk]:
    """Line chunks; each line must be a JSON object whose keys are contract columns."""
    allowed = set(columns)
    with _open_binary(path, gz) as fh:
        line_no, next_row = 0, 1
        while True:
            rows: list[dict[str, Any]] = []
            numbers: list[int] = []
            rejects: list[dict[str, Any]] = []
            eof = True
            for raw in fh:
                line_no += 1
                eof = False
                data = raw.strip()
                if data:
                    _classify_json_line(data, line_no, allowed, rows, rejects)
                    if len(rows) > len(numbers):
                        numbers.append(next_row)
                        next_row += 1
                if line_no % chunk_lines == 0:
                    break
            if rows or rejects:
                table = pa.table(
                    {c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns}
                )
                yield Chunk(table, numbers, rejects)
            if eof:
                return


def _classify_json_line(
    data: bytes,
    line_no: int,
    allowed: set[str],
    rows: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        rejects.append(
            _reject(None, line_no, RULE_ENCODING, f"line {line_no}: not UTF-8: {err}", _text(data))
        )
        return
    try:
        # parse_float/int=str: amounts keep their exact digits, like a CSV field
        obj = json.loads(text, parse_float=str, parse_int=str)
    except ValueError as err:
        rejects.append(_reject(None, line_no, RULE_MALFORMED_JSON, f"line {line_no}: {err}", text))
        return
    if not isinstance(obj, dict):
        reason = f"line {line_no}: a JSON {type(obj).__name__}, not an object"
        rejects.append(_reject(None, line_no, RULE_NOT_AN_OBJECT, reason, text))
        return
    unknown = sorted(set(obj) - allowed)
    if unknown:
        rejects.append(
            {
                "row_number": None,
                "line": line_no,
                "rules": [f"{RULE_UNKNOWN_FIELD}:{k}" for k in unknown],
                "reasons": [f"line {line_no}: field {k!r} is not in the contract" for k in unknown],
                "record": text,
            }
        )
        return
    rows.append({k: _json_text(v) for k, v in obj.items()})


def read_parquet(path: Path, batch_rows: int) -> Iterator[Chunk]:
    """Row batches of a local Parquet file (Parquet needs random access, hence the download)."""
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise FileProblem(f"not a readable Parquet file: {err}") from err
    next_row = 1
    produced = False
    for batch in pf.iter_batches(batch_size=batch_rows):
        produced = True
        table = pa.Table.from_batches([batch])
        numbers = list(range(next_row, next_row + table.num_rows))
        next_row += table.num_rows
        yield Chunk(table, numbers, [])
    if not produced:
        yield Chunk(pf.schema_arrow.empty_table(), [], [])


# --- the use case -----------------------------------------------------------------------------


class SeenInFile:
    """Unique keys across the chunks of one file (validation asks about each chunk's new keys).

    Exact, so it holds every key of the file: ~80 bytes a key, the one part of the memory that
    grows with the file (3 M rows ~ 250 MB)."""

    def __init__(self) -> None:
        self.keys: set[Any] = set()

    def __call__(self, keys: pa.Array) -> list[bool]:
        values = keys.to_pylist()
        answer = [v in self.keys for v in values]
        self.keys.update(values)
        return answer


class _Clock:
    """Accumulates wall time per phase (download, read, validate, write)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {"download": 0.0, "read": 0.0, "validate": 0.0, "write": 0.0}
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.ms[phase] += (now - self._t) * 1000
        self._t = now

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.ms.items()}


def _to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _partition_value(value: Any) -> str:
    if value is None:
        return HIVE_NULL_PARTITION
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def write_partitioned(
    store: ObjectStore, zones: Zones, contract: Any, table: pa.Table, stem: str
) -> list[str]:
    """One Parquet object per partition value, the partition in the key only; the key is a
    function of ``stem``, so a retry overwrites instead of duplicating. Shared by the batch and
    stream paths so that the curated zone holds one schema."""
    parts = partition_columns(contract)
    if not parts:
        key = f"{zones.curated_prefix}{contract.name}/{stem}.parquet"
        store.put_parquet(key, table)
        return [key]
    keys = []
    groups = table.group_by(parts, use_threads=False).aggregate([]).to_pylist()
    for group in sorted(groups, key=lambda g: [(v is None, str(v)) for v in g.values()]):
        mask = None
        for col, value in group.items():
            cond = (
                pc.is_null(table[col])
                if value is None
                else pc.equal(table[col], pa.scalar(value, table.schema.field(col).type))
            )
            mask = cond if mask is None else pc.and_(mask, cond)
        subset = table.filter(mask).drop_columns(parts)
        path = "/".join(f"{col}={_partition_value(v)}" for col, v in group.items())
        key = f"{zones.curated_prefix}{contract.name}/{path}/{stem}.parquet"
        store.put_parquet(key, subset)
        keys.append(key)
    return keys


class BatchIngestor:
    """Ingests one landed object at a time; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        registry: FileRegistry,
        zones: Zones,
        limits: Limits | None = None,
    ) -> None:
        self.store, self.registry, self.zones = store, registry, zones
        self.limits = limits or Limits()

    def ingest(self, obj: SourceObject, *, owner: str, now: datetime) -> IngestResult:
        """Raises only for infrastructure problems (the invocation should be retried)."""
        clock = _Clock()
        contract_name, name = parse_landing_key(obj.key, self.zones.landing_prefix)
        with tempfile.TemporaryDirectory(prefix="ingest-", dir=self.limits.tmp_dir) as tmp:
            path = Path(tmp) / "object"
            sha = self.store.download(obj, path)
            clock.lap("download")
            try:
                contract = contracts_mod.load_contract(contract_name)
            except contracts_mod.UnknownContractError as err:
                known = ", ".join(sorted(contracts_mod.available_contracts()))
                reason = f"unknown contract {contract_name!r} ({err}); known contracts: {known}"
                return self._quarantine_unknown(obj, sha, name, reason, now, clock)
            claim = self.registry.claim(
                sha,
                contract.name,
                obj,
                owner,
                now.timestamp(),
                self.limits.claim_stale_after_seconds,
            )
            if claim.status == "busy":
                raise ClaimBusyError(
                    f"content {sha[:16]} of {obj.key} is being ingested by {claim.source_id}"
                )
            if claim.status == "completed":
                return self._duplicate(obj, sha, contract, claim, now, clock)
            try:
                result = self._ingest_claimed(obj, sha, name, contract, path, now, clock, claim)
            except Exception:
                self.registry.release(sha, contract.name, owner)
                raise
            counts = {
                "in_records": result.rows_in,
                "curated": result.valid,
                "quarantined": result.rejected,
                "files": 1,
                "files_quarantined": int(result.status == "quarantined_file"),
            }
            self.registry.complete(sha, contract.name, owner, result.manifest_key, counts)
            return result

    # -- the paths a file can take --------------------------------------------------------------

    def _ingest_claimed(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        path: Path,
        now: datetime,
        clock: _Clock,
        claim: Claim,
    ) -> IngestResult:
        z = self.zones
        written: list[str] = []
        curated: list[str] = []
        quarantined: list[str] = []
        rows_in = valid = rejected = 0
        rule_counts: dict[str, int] = {}
        max_event: datetime | None = None
        fmt = "unknown"
        try:
            fmt, gz = detect_format(name)
            seen = SeenInFile()
            for index, chunk in enumerate(self._chunks(fmt, gz, path, contract)):
                clock.lap("read")
                report = self._validate(contract, chunk, now, seen)
                clock.lap("validate")
                rejects = chunk.parse_rejects + self._rejected_rows(report, chunk)
                good = report.valid if report is not None else None
                n_valid = good.num_rows if good is not None else 0
                rows_in += n_valid + len(rejects)
                valid += n_valid
                rejected += len(rejects)
                for rej in rejects:
                    for rule in rej["rules"]:
                        rule_counts[rule] = rule_counts.get(rule, 0) + 1
                if good is not None and n_valid:
                    keys = self._write_curated(contract, sha, index, good)
                    curated += keys
                    written += keys
                    latest = _to_datetime(pc.max(good[contract.event_time]).as_py())
                    if latest and (max_event is None or latest > max_event):
                        max_event = latest
                if rejects:
                    key = quarantine_rows_key(z, contract.name, sha, index)
                    body = "".join(json.dumps(r, default=str) + "\n" for r in rejects)
                    self.store.put_bytes(key, body.encode("utf-8"), "application/x-ndjson")
                    quarantined.append(key)
                    written.append(key)
                clock.lap("write")
        except (FileProblem, validation.FileContractError) as err:
            reason = str(getattr(err, "reason", None) or err)
            return self._quarantine_file(
                obj, sha, name, contract, fmt, reason, written, now, clock, claim
            )
        manifest = self._manifest(
            obj, sha, contract, fmt, "ingested", now, clock, claim,
            counts={"rows_in": rows_in, "valid": valid, "rejected": rejected},
            rule_counts=rule_counts,
            outputs={"curated": curated, "quarantine": quarantined, "file": None},
            max_event_time=max_event,
        )  # fmt: skip
        key = manifest_key(z, contract.name, sha)
        self._put_json(key, manifest)
        clock.lap("write")
        return IngestResult(
            "ingested", contract.name, sha, key, manifest, rows_in, valid, rejected,
            rule_counts, max_event,
        )  # fmt: skip

    def _chunks(self, fmt: str, gz: bool, path: Path, contract: Any) -> Iterator[Chunk]:
        lim = self.limits
        try:
            if fmt == "csv":
                yield from read_csv(path, gz, lim.csv_block_bytes)
            elif fmt == "jsonl":
                names = [c.name for c in contract.columns]
                yield from read_jsonl(path, gz, names, lim.jsonl_chunk_lines)
            else:
                yield from read_parquet(path, lim.parquet_batch_rows)
        except (pa.ArrowInvalid, OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            # mid-file: corrupt gzip, a malformed row that is not UTF-8 either, ...
            raise FileProblem(f"unreadable {fmt}{' (gzip)' if gz else ''}: {err}") from err

    def _validate(self, contract: Any, chunk: Chunk, now: datetime, seen: SeenInFile) -> Any:
        if chunk.table is None:
            return None
        return validation.validate_batch(contract, chunk.table, now=now, seen_keys=seen)

    @staticmethod
    def _rejected_rows(report: Any, chunk: Chunk) -> list[dict[str, Any]]:
        """Validation rejects, renumbered from the chunk's rows to the file's rows."""
        if report is None or report.rejected.num_rows == 0:
            return []
        rows = []
        for rej in report.rejected.to_pylist():
            index = int(rej["row_number"])  # 0-based within the chunk's table
            number = chunk.row_numbers[index] if 0 <= index < len(chunk.row_numbers) else None
            rules = list(rej.get("rules") or [])
            reasons = list(rej.get("reasons") or [])
            rows.append(
                {
                    "row_number": number,
                    "line": None,
                    "rules": rules,
                    "reasons": reasons,
                    "record": rej.get("record"),
                }
            )
        return rows

    def _write_curated(self, contract: Any, sha: str, index: int, table: pa.Table) -> list[str]:
        return write_partitioned(self.store, self.zones, contract, table, f"{sha[:16]}-{index:05d}")

    def _quarantine_file(
        self,
        obj: SourceObject,
        sha: str,
        name: str,
        contract: Any,
        fmt: str,
        reason: str,
        written: list[str],
        now: datetime,
        clock: _Clock,
        claim: Claim,
    ) -> IngestResult:
        if written:  # what earlier chunks wrote: the file is quarantined as a whole instead
            self.store.delete(written)
        dest = quarantine_file_key(self.zones, contract.name, sha, name)
        self.store.copy(obj, dest)
        manifest = self._manifest(
            obj, sha, contract, fmt, "quarantined_file", now, clock, claim,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": dest},
            reason=reason,
        )  # fmt: skip
        key = manifest_key(self.zones, contract.name, sha)
        self._put_json(key, manifest)
        clock.lap("write")
        return IngestResult("quarantined_file", contract.name, sha, key, manifest)

    def _quarantine_unknown(
        self, obj: SourceObject, sha: str, name: str, reason: str, now: datetime, clock: _Clock
    ) -> IngestResult:
        """No contract, no claim and no counters: keys from the content make it idempotent."""
        dest = quarantine_file_key(self.zones, UNKNOWN_CONTRACT, sha, name)
        dest = dest.replace("/_files/", "/", 1)
        self.store.copy(obj, dest)
        manifest = self._manifest(
            obj, sha, None, "unknown", "quarantined_file", now, clock, None,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": dest},
            reason=reason,
        )  # fmt: skip
        key = manifest_key(self.zones, UNKNOWN_CONTRACT, sha)
        self._put_json(key, manifest)
        return IngestResult("quarantined_file", UNKNOWN_CONTRACT, sha, key, manifest)

    def _duplicate(
        self, obj: SourceObject, sha: str, contract: Any, claim: Claim, now: datetime, clock: _Clock
    ) -> IngestResult:
        if claim.source_id == obj.source_id:
            # the same S3 event again: its manifest exists; write nothing
            key = claim.manifest_key or manifest_key(self.zones, contract.name, sha)
            return IngestResult("already_ingested", contract.name, sha, key, {})
        manifest = self._manifest(
            obj, sha, contract, "unknown", "duplicate", now, clock, claim,
            counts={"rows_in": 0, "valid": 0, "rejected": 0},
            rule_counts={}, outputs={"curated": [], "quarantine": [], "file": None},
            reason="the same content was already ingested",
            duplicate_of={"source": claim.source, "manifest": claim.manifest_key},
        )  # fmt: skip
        key = duplicate_manifest_key(self.zones, contract.name, sha, obj)
        self._put_json(key, manifest)
        return IngestResult("duplicate", contract.name, sha, key, manifest)

    # -- helpers ---------------------------------------------------------------------------------

    def _manifest(
        self,
        obj: SourceObject,
        sha: str,
        contract: Any,
        fmt: str,
        status: Status,
        now: datetime,
        clock: _Clock,
        claim: Claim | None,
        *,
        counts: dict[str, int],
        rule_counts: dict[str, int],
        outputs: dict[str, Any],
        max_event_time: datetime | None = None,
        reason: str | None = None,
        duplicate_of: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "status": status,
            "reason": reason,
            "duplicate_of": duplicate_of,
            "source": {**obj.as_dict(), "kind": SOURCE},
            "sha256": sha,
            "contract": {
                "name": contract.name if contract else None,
                "version": str(contract.version) if contract else None,
            },
            "format": fmt,
            "counts": counts,
            "rule_counts": dict(sorted(rule_counts.items())),
            "outputs": outputs,
            "max_event_time": max_event_time.isoformat() if max_event_time else None,
            "taken_over": bool(claim and claim.taken_over),
            "timings_ms": clock.as_dict(),
            "ingested_at": now.isoformat(),
        }

    def _put_json(self, key: str, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")
        self.store.put_bytes(key, body, "application/json")
