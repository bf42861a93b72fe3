"""JSON Lines: one record a line, nesting measured before parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from fraudops_shared.ingestion.readers.common import (
    EXCERPT_BYTES,
    JSONL_CHUNK_BYTES,
    RULE_ENCODING,
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_RECORD_TOO_LARGE,
    RULE_TOO_DEEP,
    RULE_UNKNOWN_FIELD,
    Chunk,
    as_text,
    guarded,
    make_reject,
    open_binary,
    too_large_inflated,
    too_large_reason,
)
from fraudops_shared.runtime.settings import Limits

# --- JSON Lines -------------------------------------------------------------------------------

_JSON_SIGNS = re.compile(r'[\\"\[\]{}]')


def _too_deep(text: str, limit: int) -> bool:
    """Whether JSON text nests deeper than limit, outside strings, without parsing it (a deep
    enough line makes json.loads recurse until RecursionError). Counting brackets first keeps
    the common case to two C-level scans."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped_at = 0, False, -1
    for match in _JSON_SIGNS.finditer(text):
        at, sign = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if sign == "\\":
                escaped_at = at + 1
            elif sign == '"':
                in_string = False
        elif sign == '"':
            in_string = True
        elif sign in "[{":
            depth += 1
            if depth > limit:
                return True
        elif sign in "]}":
            depth -= 1
    return False


def _json_text(value: Any) -> str | None:
    """JSON values as the text a CSV would carry (numbers keep their literal digits)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def read_jsonl(
    path: Path, gz: bool, columns: list[str], chunk_lines: int, *, limits: Limits | None = None
) -> Iterator[Chunk]:
    """Line chunks; each line must be a JSON object whose keys are contract columns."""
    return guarded(_read_jsonl(path, gz, columns, chunk_lines, limits or Limits()), "jsonl")


def _read_jsonl(
    path: Path, gz: bool, columns: list[str], chunk_lines: int, limits: Limits
) -> Iterator[Chunk]:
    allowed = set(columns)
    limit = limits.max_record_bytes
    max_total = limits.max_decompressed_bytes if gz else None
    total = 0

    def count(data: bytes) -> None:
        nonlocal total
        total += len(data)
        if max_total is not None and total > max_total:
            raise too_large_inflated(limits)

    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    rejects: list[dict[str, Any]] = []
    with open_binary(path, gz) as fh:
        line_no, next_row, held = 0, 1, 0
        while raw := fh.readline(limit + 2):  # never more than the limit (+ "\r\n") at once
            line_no += 1
            held += len(raw)
            count(raw)
            if len(raw.rstrip(b"\r\n")) > limit:
                length, excerpt = len(raw), raw[:EXCERPT_BYTES]
                while not raw.endswith(b"\n") and (raw := fh.readline(limit + 2)):
                    count(raw)
                    length += len(raw)
                length -= len(raw) - len(raw.rstrip(b"\r\n"))  # the line, not its end
                reason = too_large_reason(f"line {line_no}", length, limit)
                rejects.append(
                    make_reject(None, line_no, RULE_RECORD_TOO_LARGE, reason, as_text(excerpt))
                )
            elif (data := raw.strip()) and _classify_json_line(
                data, line_no, allowed, limits.max_json_depth, rows, rejects
            ):
                numbers.append(next_row)
                next_row += 1
            if (line_no % chunk_lines == 0 or held >= JSONL_CHUNK_BYTES) and (rows or rejects):
                yield _json_chunk(columns, rows, numbers, rejects)
                rows, numbers, rejects, held = [], [], [], 0
    if rows or rejects:
        yield _json_chunk(columns, rows, numbers, rejects)


def _json_chunk(
    columns: list[str],
    rows: list[dict[str, Any]],
    numbers: list[int],
    rejects: list[dict[str, Any]],
) -> Chunk:
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    return Chunk(table, numbers, rejects)


def _classify_json_line(
    data: bytes,
    line_no: int,
    allowed: set[str],
    max_depth: int,
    rows: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
) -> bool:
    """Append the line to rows (True) or to rejects (False)."""
    where = f"line {line_no}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        reason = f"{where}: not UTF-8: {err}"
        rejects.append(make_reject(None, line_no, RULE_ENCODING, reason, as_text(data)))
        return False
    if _too_deep(text, max_depth):
        reason = f"{where}: nested deeper than {max_depth} levels"
        rejects.append(make_reject(None, line_no, RULE_TOO_DEEP, reason, text))
        return False
    try:
        # parse_float/int=str: amounts keep their exact digits, like a CSV field
        obj = json.loads(text, parse_float=str, parse_int=str)
    except RecursionError:  # the depth check should have caught it; kept as a last resort
        reason = f"{where}: nested too deep to parse"
        rejects.append(make_reject(None, line_no, RULE_TOO_DEEP, reason, text))
        return False
    except ValueError as err:
        rejects.append(make_reject(None, line_no, RULE_MALFORMED_JSON, f"{where}: {err}", text))
        return False
    if not isinstance(obj, dict):
        reason = f"{where}: a JSON {type(obj).__name__}, not an object"
        rejects.append(make_reject(None, line_no, RULE_NOT_AN_OBJECT, reason, text))
        return False
    unknown = sorted(set(obj) - allowed)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        reason = f"{where}: {'fields' if len(unknown) > 1 else 'field'} {names} not in the contract"
        rejects.append(make_reject(None, line_no, RULE_UNKNOWN_FIELD, reason, text))
        return False
    if "\\u" in text:  # an escape may be a lone surrogate, which no UTF-8 text can hold
        for key, value in obj.items():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as err:
                    reason = f"{where}: field {key!r}: {err}"
                    rejects.append(make_reject(None, line_no, RULE_ENCODING, reason, text))
                    return False
    rows.append({k: _json_text(v) for k, v in obj.items()})
    return True
