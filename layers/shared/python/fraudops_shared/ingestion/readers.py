"""Readers of landed files: bounded chunks of raw (all-text) rows plus the rows that failed to
parse, for CSV, JSON Lines and Parquet, optionally gzipped. A reader never drops a row: a row it
cannot parse is a reject with a rule and a reason; a file it cannot read at all raises
FileProblem, and the file is quarantined whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

HEADER_LIMIT_BYTES = 1 << 20  # a CSV header longer than 1 MiB is not a header

# Rules of rows rejected before validation (the contract's own rules come from validation).
RULE_MALFORMED_ROW = "malformed_row"
RULE_MALFORMED_JSON = "malformed_json"
RULE_NOT_AN_OBJECT = "not_an_object"
RULE_UNKNOWN_FIELD = "unknown_field"  # + ":<name>", as validation names it for records
RULE_ENCODING = "encoding"


class FileProblem(Exception):
    """The file as a whole cannot be read; it is quarantined whole with this reason."""


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
