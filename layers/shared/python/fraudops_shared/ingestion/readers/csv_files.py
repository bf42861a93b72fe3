"""CSV: pyarrow's streaming reader over a line-capped stream, with per-row fallback."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from fraudops_shared.ingestion.readers.common import (
    EXCERPT_BYTES,
    FILE_BAD_HEADER,
    HEADER_LIMIT_BYTES,
    NON_BLANK,
    RULE_ENCODING,
    RULE_MALFORMED_ROW,
    RULE_RECORD_TOO_LARGE,
    Chunk,
    FileProblem,
    as_text,
    clean_columns,
    excerpt_of,
    guarded,
    make_reject,
    open_binary,
    too_large_inflated,
)
from fraudops_shared.runtime.settings import Limits

# --- CSV ----------------------------------------------------------------------------------------


def _first_end(block: bytes, start: int = 0) -> int:
    """The first line end (\\n or a lone \\r, as pyarrow reads both) at or after start."""
    n = block.find(b"\n", start)
    r = block.find(b"\r", start, n if n != -1 else len(block))
    return r if r != -1 else n


def _last_end(block: bytes) -> int:
    n = block.rfind(b"\n")
    return max(n, block.rfind(b"\r", n + 1))


_LINES = re.compile(rb"([^\r\n]*)([\r\n])")


@dataclass
class _Replaced:
    """A line pyarrow never saw: why, and what the reject keeps of it."""

    rule: str
    detail: str
    record: bytes


class _CappedLines:
    """The stream pyarrow's CSV reader reads. A line longer than the limit, or holding NUL
    bytes, is replaced by a short marker line as it streams by: no line costs more than the
    limit in memory, pyarrow never sees a NUL (a NUL before a line end at a block boundary
    makes pyarrow 25 merge or drop rows), and its line numbers stay right. The marker comes
    back inside whatever row pyarrow made of it (a malformed row, or a quoted value), and that
    row is rejected: the row boundaries stay pyarrow's own. Also stops a gzip file that
    inflates past its limit."""

    def __init__(
        self, src: io.BufferedIOBase, limit: int, max_total: int | None, problem: FileProblem
    ) -> None:
        self._src, self._limit, self._max_total, self._problem = src, limit, max_total, problem
        self._read_size = max(1, min(limit, 1 << 20))  # a line inside one read is within limit
        # no control character: pyarrow must read the marker as plain text; random, so no
        # line of the file can pass for one
        self.marker = f"fraudops-replaced-line-{secrets.token_hex(8)}-"
        self._marker_line = re.compile(re.escape(self.marker) + r"(\d+)")
        self._pending = b""  # the line in progress, never more than the limit
        self._out: deque[bytes] = deque()  # ready pieces, each at most about one read
        self._ready = 0
        self._eof = False
        self._skipping = False
        self._skip_len = 0
        self._skip_excerpt = b""
        self._newlines = 0
        self.total = 0
        self.replaced: dict[int, _Replaced] = {}  # by the file's line number
        self.closed = False

    # the file interface pyarrow uses
    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or self._ready < n) and not self._eof:
            block = self._src.read(self._read_size)
            if not block:
                self._eof = True
                if self._skipping:
                    self._end_skip()
                else:
                    self._line(self._pending)
                    self._pending = b""
                break
            self.total += len(block)
            if self._max_total is not None and self.total > self._max_total:
                raise self._problem
            self._feed(block)
        want = self._ready if n < 0 else min(n, self._ready)
        pieces, size = [], 0
        while size < want:  # one copy: whole pieces, the last one cut
            piece = self._out.popleft()
            if size + len(piece) > want:
                cut = want - size
                self._out.appendleft(piece[cut:])
                piece = piece[:cut]
            pieces.append(piece)
            size += len(piece)
        self._ready -= size
        return b"".join(pieces)

    def close(self) -> None:
        self.closed = True

    # the lines
    def _emit(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self._ready += len(data)
        self._newlines += data.count(b"\n")

    def _replace(self, why: _Replaced) -> None:
        line = self._newlines + 1
        self.replaced[line] = why
        self._emit(f"{self.marker}{line}".encode())

    def _line(self, content: bytes) -> None:
        """A line without its end, within the limit."""
        if b"\x00" in content:
            self._replace(_Replaced(RULE_ENCODING, "holds NUL bytes, not text", content))
        else:
            self._emit(content)

    def _lines(self, region: bytes) -> None:
        """Whole lines with their ends; only a region holding a NUL is walked line by line."""
        if b"\x00" not in region:
            self._emit(region)
            return
        for match in _LINES.finditer(region):
            self._line(match.group(1))
            self._emit(match.group(2))

    def _begin_skip(self, head: bytes, tail: bytes) -> None:
        self._skipping = True
        self._skip_len = len(head) + len(tail)
        self._skip_excerpt = (head + tail[:EXCERPT_BYTES])[:EXCERPT_BYTES]
        self._pending = b""

    def _end_skip(self) -> None:
        detail = (
            f"{self._skip_len} bytes, more than the record limit of {self._limit} bytes "
            f"(the record keeps its first {EXCERPT_BYTES})"
        )
        self._replace(_Replaced(RULE_RECORD_TOO_LARGE, detail, self._skip_excerpt))
        self._skipping = False

    def _feed(self, block: bytes) -> None:
        first = _first_end(block)
        if first == -1:  # the line in progress goes on
            if self._skipping:
                self._skip_len += len(block)
            elif len(self._pending) + len(block) > self._limit:
                self._begin_skip(self._pending, block)
            else:
                self._pending += block
            return
        if self._skipping:
            self._skip_len += first
            self._end_skip()
        elif len(self._pending) + first > self._limit:
            self._begin_skip(self._pending, block[:first])
            self._end_skip()
        else:
            self._line(self._pending + block[:first])
        last = _last_end(block)
        self._lines(block[first : last + 1])  # whole lines, each shorter than one read
        self._pending = block[last + 1 :]

    # the rows the markers landed in
    def rows_with_marker(self, table: pa.Table) -> list[int]:
        if not self.replaced:
            return []
        found: pa.ChunkedArray | None = None
        for col in table.columns:
            if col.type in (pa.string(), pa.binary()):
                hit = pc.fill_null(pc.match_substring(col, self.marker), False)
                found = hit if found is None else pc.or_(found, hit)
        if found is None or not pc.any(found).as_py():
            return []
        return [int(i) for i in pc.indices_nonzero(found).to_pylist()]

    def resolve(self, text: str) -> tuple[int, str, str, bytes] | None:
        """(first line, rule, reason, record) of the replaced lines text holds, or None;
        forgets them. A row holding a line too long is too large, whatever else it holds."""
        found = []
        for match in self._marker_line.finditer(text):
            line = int(match.group(1))
            why = self.replaced.pop(line, None)
            if why is not None:
                found.append((line, why))
        if not found:
            return None
        rules = {why.rule for _, why in found}
        rule = RULE_RECORD_TOO_LARGE if RULE_RECORD_TOO_LARGE in rules else RULE_ENCODING
        reason = "; ".join(f"line {line}: {why.detail}" for line, why in found)
        return found[0][0], rule, reason, found[0][1].record


def _csv_header(path: Path, gz: bool, limit: int) -> list[str] | None:
    """The header row, parsed with the csv module; None for an empty file."""
    with open_binary(path, gz) as fh:
        first = fh.readline(limit + 2)
        end = _first_end(first)  # a lone "\r" ends a line too
        first = first[:end] if end != -1 else first
        if not first.strip():
            while block := fh.read(1 << 20):  # blank up to the end, or rows without a header
                if NON_BLANK.search(block):
                    raise FileProblem("the first line is blank, not a header", rule=FILE_BAD_HEADER)
            return None
    if len(first) > limit:
        raise FileProblem(f"the header is longer than {limit} bytes", rule=FILE_BAD_HEADER)
    if b"\x00" in first:
        raise FileProblem("the header contains NUL bytes: not a text file", rule=FILE_BAD_HEADER)
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileProblem(f"the header is not UTF-8: {err}", rule=FILE_BAD_HEADER) from err
    try:
        header = next(csv.reader([line]))
    except csv.Error as err:
        raise FileProblem(f"the header is not a CSV row: {err}", rule=FILE_BAD_HEADER) from err
    if len(set(header)) != len(header) or any(not h.strip() for h in header):
        raise FileProblem(
            f"the header has empty or repeated column names: {header}", rule=FILE_BAD_HEADER
        )
    return [h.strip() for h in header]


def read_csv(
    path: Path, gz: bool, block_bytes: int, *, limits: Limits | None = None
) -> Iterator[Chunk]:
    """Stream CSV blocks; every column as text (leading zeros survive), only "" as null.

    A row pyarrow must hold whole fits in one block: keep `block_bytes` above the record
    limit, or a longer row makes the file unreadable instead of one rejected row."""
    return guarded(_read_csv(path, gz, block_bytes, limits or Limits()), "csv")


def _read_csv(path: Path, gz: bool, block_bytes: int, limits: Limits) -> Iterator[Chunk]:
    limit = limits.max_record_bytes
    header = _csv_header(path, gz, min(HEADER_LIMIT_BYTES, limit))
    if header is None:
        return
    malformed: list[dict[str, Any]] = []

    # A Python file object, not pa.input_stream: pyarrow's pool then peaks near one block
    # (measured 58 MB vs 240 MB on a 300 MB file).
    with open_binary(path, gz) as raw:
        stream = _CappedLines(
            raw, limit, limits.max_decompressed_bytes if gz else None, too_large_inflated(limits)
        )

        def on_invalid(row: Any) -> str:
            line = row.number if row.number >= 0 else None  # pyarrow's: blank lines not counted
            got = stream.resolve(row.text) if stream.marker in row.text else None
            if got is not None:  # a replaced line, at the file's own line number
                marked_line, rule, reason, record = got
                malformed.append(make_reject(None, marked_line, rule, reason, as_text(record)))
                return "skip"
            reason = (
                f"line {line}: expected {row.expected_columns} columns, got {row.actual_columns}"
            )
            kept = excerpt_of(row.text)
            malformed.append(make_reject(None, line, RULE_MALFORMED_ROW, reason, kept))
            return "skip"

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
                # only an empty field is missing: "NA" is Namibia, "null" a device id
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        next_row = 1
        for batch in reader:
            raw_table = pa.Table.from_batches([batch])
            numbers = list(range(next_row, next_row + raw_table.num_rows))
            next_row += raw_table.num_rows
            table, numbers, row_rejects = clean_columns(raw_table, numbers, limit, stream)
            rejects = malformed + row_rejects
            malformed.clear()
            yield Chunk(table, numbers, rejects)
        # a marker pyarrow never showed us still stands for a line: count it, do not lose it
        for line, why in sorted(stream.replaced.items()):
            reason = f"line {line}: {why.detail}"
            malformed.append(make_reject(None, line, why.rule, reason, as_text(why.record)))
        stream.replaced.clear()
    if next_row == 1:  # header only: still an (empty) table, so the columns get checked
        yield Chunk(pa.table({n: pa.array([], pa.string()) for n in header}), [], malformed[:])
    elif malformed:
        yield Chunk(None, [], malformed[:])
