"""What every reader shares: file problems and rule ids, the limits checks, chunks and
rejects, and the row count of a file quarantined whole."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudops_shared.runtime.settings import Limits


class MarkedLines(Protocol):
    """The CSV stream's record of the lines it replaced by markers (csv_files._CappedLines)."""

    def rows_with_marker(self, table: pa.Table) -> Iterable[int]: ...

    def resolve(self, text: str) -> tuple[int, str, str, bytes] | None: ...


HEADER_LIMIT_BYTES = 1 << 20  # a CSV header longer than 1 MiB is not a header
EXCERPT_BYTES = 1024  # how much of a record too large to keep is kept, to recognise it by
# Chunks close at this many bytes too, whatever their row count: a chunk of records near the
# record limit would otherwise hold chunk_lines (or batch_rows) times the limit.
JSONL_CHUNK_BYTES = 16 << 20
PARQUET_BATCH_BYTES = 64 << 20

# Rules of rows rejected before validation (the contract's own rules come from validation).
RULE_MALFORMED_ROW = "malformed_row"
RULE_MALFORMED_JSON = "malformed_json"
RULE_NOT_AN_OBJECT = "not_an_object"
RULE_UNKNOWN_FIELD = "unknown_field"  # the field's name is in the reason
RULE_ENCODING = "encoding"
RULE_RECORD_TOO_LARGE = "record_too_large"
RULE_TOO_DEEP = "too_deep"

# Rules of whole-file problems.
FILE_UNREADABLE = "unreadable"
FILE_TOO_LARGE = "too_large"
FILE_UNSUPPORTED_FORMAT = "unsupported_format"
FILE_UNSUPPORTED_TYPE = "unsupported_type"
FILE_NOT_GZIP = "not_gzip"  # fixable: re-land the file under the right name
FILE_BAD_HEADER = "bad_header"


class FileProblem(Exception):
    """The file as a whole cannot be read; it is quarantined whole with this rule and reason."""

    def __init__(self, reason: str, rule: str = FILE_UNREADABLE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


def check_size(size_bytes: int, limits: Limits) -> None:
    """Before download: a file larger than the limit would not fit /tmp or the time budget."""
    if size_bytes > limits.max_file_bytes:
        raise FileProblem(
            f"the file is {size_bytes} bytes, more than the limit of {limits.max_file_bytes}",
            rule=FILE_TOO_LARGE,
        )


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
            ".gz) or .parquet",
            rule=FILE_UNSUPPORTED_FORMAT,
        )
    return fmt, gz


def open_binary(path: Path, gz: bool) -> io.BufferedIOBase:
    if gz:
        with path.open("rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                raise FileProblem(
                    "the name ends in .gz but the content is not gzip", rule=FILE_NOT_GZIP
                )
        return gzip.open(path, "rb")
    return path.open("rb")


def too_large_inflated(limits: Limits) -> FileProblem:
    return FileProblem(
        f"the gzip content inflates past the limit of {limits.max_decompressed_bytes} bytes",
        rule=FILE_TOO_LARGE,
    )


def guarded(chunks: Iterator[Chunk], what: str) -> Iterator[Chunk]:
    """Whatever a reader raises ends as a FileProblem, so the file lands in a counted place."""
    try:
        yield from chunks
    except FileProblem:
        raise
    except Exception as err:  # any type: pyarrow, OSError, zlib.error, EOFError, MemoryError...
        raise FileProblem(f"unreadable {what}: {type(err).__name__}: {err}") from err


# --- rows held: the count of a file quarantined whole -----------------------------------------

_CONTENT_LINE = re.compile(rb"^[^\S\n]*\S", re.MULTILINE)
NON_BLANK = re.compile(rb"\S")


def rows_held(path: Path, fmt: str, gz: bool, limits: Limits | None = None) -> int | None:
    """Best-effort count of the records a file holds (CSV: non-blank lines after the header,
    JSON Lines: non-blank lines, Parquet: its metadata), so a file quarantined whole still
    counts its rows; None when even that cannot be read. Never raises; reads at most the
    decompression limit."""
    limits = limits or Limits()
    try:
        if fmt == "parquet":
            return int(pq.read_metadata(path).num_rows)
        lines = _count_lines(path, gz, limits.max_decompressed_bytes)
    except Exception:  # best effort by definition: no answer rather than an error
        return None
    if lines is None:
        return None
    return max(lines - 1, 0) if fmt == "csv" else lines


def _count_lines(path: Path, gz: bool, max_total: int) -> int | None:
    count, total, open_line = 0, 0, False  # open_line: the unterminated line has content
    with open_binary(path, gz) as fh:
        while block := fh.read(1 << 20):
            total += len(block)
            if total > max_total:
                return None
            first = block.find(b"\n")
            if first == -1:
                open_line = open_line or bool(NON_BLANK.search(block))
                continue
            if open_line or NON_BLANK.search(block, 0, first):
                count += 1
            last = block.rfind(b"\n")
            count += sum(1 for _ in _CONTENT_LINE.finditer(block, first + 1, last + 1))
            open_line = bool(NON_BLANK.search(block, last + 1))
    return count + int(open_line)


# --- chunks and rejects -----------------------------------------------------------------------


@dataclass
class Chunk:
    """A raw (all-text) table, the file row number of each of its rows, and parse rejects."""

    table: pa.Table | None
    row_numbers: list[int]
    parse_rejects: list[dict[str, Any]]


def make_reject(
    row_number: int | None, line: int | None, rule: str, reason: str, record: str
) -> dict[str, Any]:
    return {
        "row_number": row_number,
        "line": line,
        "rules": [rule],
        "reasons": [reason],
        "record": record,
    }


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def excerpt_of(text: str) -> str:
    return text if len(text) <= EXCERPT_BYTES else text[:EXCERPT_BYTES] + "..."


def too_large_reason(where: str, length: int, limit: int) -> str:
    return (
        f"{where}: {length} bytes, more than the record limit of {limit} bytes "
        f"(the record keeps its first {EXCERPT_BYTES})"
    )


# --- columns: text, decoded, of types the contract can hold ----------------------------------


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_binary_view(kind)
    )


def is_flat(kind: pa.DataType) -> bool:
    """Types a contract column can come from: scalars (no lists, structs, maps, intervals)."""
    if pa.types.is_dictionary(kind):
        return is_flat(kind.value_type)
    return bool(
        _is_text(kind)
        or _is_bytes(kind)
        or pa.types.is_null(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_duration(kind)
    )


def _row_record(row: dict[str, Any]) -> str:
    return json.dumps(
        {k: as_text(v) if isinstance(v, bytes) else v for k, v in row.items()}, default=str
    )


def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary, large, view and fixed-size columns as plain string or binary: the kernels
    below and validation know only those."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if _is_text(col.type) and col.type != pa.string():
        return col.cast(pa.string())
    if _is_bytes(col.type) and col.type != pa.binary():
        return col.cast(pa.binary())
    return col


def clean_columns(
    table: pa.Table,
    row_numbers: list[int],
    limit: int,
    marked: MarkedLines | None = None,
) -> tuple[pa.Table, list[int], list[dict[str, Any]]]:
    """Rows too large, rows holding a line too long (CSV) and rows with bytes that are not
    UTF-8 become rejects; every text or bytes column becomes plain `string`.

    Vectorised: one length and one cast per column; Python only walks a column that fails."""
    names = table.column_names
    table = pa.Table.from_arrays([_plain(col) for col in table.columns], names=names)
    bad: dict[int, tuple[str, list[str]]] = {}
    lines: dict[int, int | None] = {}
    if marked is not None:
        for i in marked.rows_with_marker(table):
            values = table.slice(i, 1).to_pylist()[0].values()
            got = marked.resolve(" ".join(as_text(v) for v in values if v is not None))
            if got is not None:
                lines[i], rule, reason, _ = got
                bad[i] = (rule, [f"row {row_numbers[i]}, {reason}"])
    sizes = [
        pc.fill_null(pc.binary_length(col), 0).cast(pa.int64())
        for col in table.columns
        if col.type in (pa.string(), pa.binary())
    ]
    if sizes and table.num_rows:
        total = sizes[0]
        for size in sizes[1:]:
            total = pc.add(total, size)
        over = pc.greater(total, limit)
        if pc.any(over).as_py():
            for i in pc.indices_nonzero(over).to_pylist():
                where = f"row {row_numbers[i]}"
                reason = too_large_reason(where, int(total[i].as_py()), limit)
                bad.setdefault(i, (RULE_RECORD_TOO_LARGE, [reason]))
    columns = [
        _decode(name, col, bad) if col.type == pa.binary() else col
        for name, col in zip(names, table.columns, strict=True)
    ]
    text = pa.Table.from_arrays(columns, names=names)
    if not bad:
        return text, row_numbers, []
    rejects = []
    for i in sorted(bad):
        rule, reasons = bad[i]
        record = _row_record(table.slice(i, 1).to_pylist()[0])
        if rule == RULE_RECORD_TOO_LARGE:
            record = excerpt_of(record)
        rejects.append(make_reject(row_numbers[i], lines.get(i), rule, "; ".join(reasons), record))
    mask = pa.array([i not in bad for i in range(table.num_rows)])
    return text.filter(mask), [n for i, n in enumerate(row_numbers) if i not in bad], rejects


def _decode(
    name: str, col: pa.ChunkedArray, bad: dict[int, tuple[str, list[str]]]
) -> pa.ChunkedArray | pa.Array:
    """Bytes -> UTF-8 text in one cast; a column that fails is walked, its bad rows rejected."""
    try:
        return col.cast(pa.string())
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass  # not UTF-8: walk it
    decoded: list[str | None] = []
    for i, value in enumerate(col.to_pylist()):
        if value is None:
            decoded.append(None)
            continue
        try:
            decoded.append(value.decode("utf-8"))
        except UnicodeDecodeError as err:
            reason = f"column {name!r} is not valid UTF-8: {err}"
            rule, reasons = bad.setdefault(i, (RULE_ENCODING, []))
            if rule == RULE_ENCODING:
                reasons.append(reason)
            decoded.append(None)
    return pa.array(decoded, pa.string())
