"""Readers of landed files (fraudops_shared.ingestion.readers) against hostile input: every line
ends as a row, a counted reject with a fixed rule, or a FileProblem with a fixed rule; memory
stays within the limits whatever the file holds."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudops_shared.ingestion import readers
from fraudops_shared.ingestion.readers import Chunk, FileProblem, jsonl_files
from fraudops_shared.runtime import settings
from fraudops_shared.runtime.settings import Limits

COLUMNS = ["transaction_id", "country", "device_id", "amount"]
MiB = 1 << 20


# --- helpers ----------------------------------------------------------------------------------


def land(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def good(i: int) -> bytes:
    return json.dumps({"transaction_id": f"t-{i}", "country": "FR"}).encode() + b"\n"


def collect(
    chunks: Iterator[Chunk],
) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]]]:
    """All rows, their row numbers and all rejects of a reader."""
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    rejects: list[dict[str, Any]] = []
    for chunk in chunks:
        if chunk.table is not None:
            rows += chunk.table.to_pylist()
            assert chunk.table.num_rows == len(chunk.row_numbers)
        numbers += chunk.row_numbers
        rejects += chunk.parse_rejects
    return rows, numbers, rejects


def jsonl(path: Path, gz: bool = False, limits: Limits | None = None) -> Any:
    return collect(readers.read_jsonl(path, gz, COLUMNS, 1000, limits=limits))


def csv(path: Path, gz: bool = False, limits: Limits | None = None) -> Any:
    return collect(readers.read_csv(path, gz, 8 * MiB, limits=limits))


def parquet(path: Path, limits: Limits | None = None) -> Any:
    return collect(readers.read_parquet(path, 1000, limits=limits))


def peak_bytes(read: Any) -> int:
    """The most Python memory a read holds at once (after a warm-up, so imports do not count)."""
    read()
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def write_gzip(path: Path, head: bytes, filler_mib: int, tail: bytes) -> Path:
    """A small gzip file whose one line inflates to filler_mib MiB."""
    with gzip.open(path, "wb") as fh:
        fh.write(head)
        for _ in range(filler_mib):
            fh.write(b"a" * MiB)
        fh.write(tail)
    return path


# --- 1. nesting -------------------------------------------------------------------------------


def test_a_line_nested_thousands_deep_is_rejected_as_too_deep_and_its_neighbours_kept(
    tmp_path: Path,
) -> None:
    # Given JSON lines nested 5000 deep (lists and objects) between good lines, a line whose
    # string holds brackets, and a line nested exactly to the limit
    deep_list = b"[" * 5000 + b"]" * 5000 + b"\n"
    deep_object = b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"\n"
    brackets = json.dumps({"transaction_id": "t-3", "device_id": "[{" * 200}).encode() + b"\n"
    at_limit = b'{"transaction_id": "t-4", "device_id": ' + b"[" * 63 + b"]" * 63 + b"}\n"
    over = b'{"transaction_id": "t-5", "device_id": ' + b"[" * 64 + b"]" * 64 + b"}\n"
    body = good(1) + deep_list + deep_object + brackets + at_limit + over
    path = land(tmp_path, "deep.jsonl", body)
    # When it is read
    rows, numbers, rejects = jsonl(path)
    # Then the deep lines are too_deep rejects with the limit in the reason, nothing raised
    assert [(r["line"], r["rules"]) for r in rejects] == [
        (2, ["too_deep"]),
        (3, ["too_deep"]),
        (6, ["too_deep"]),
    ]
    assert all("deeper than 64 levels" in r["reasons"][0] for r in rejects)
    # And every other line is a row, brackets in strings and depth 64 included
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-3", "t-4"]
    assert numbers == [1, 2, 3]
    assert rows[2]["device_id"] == "[" * 63 + "]" * 63


# --- 2. lone surrogates -----------------------------------------------------------------------


def test_a_lone_surrogate_escape_is_an_encoding_reject_not_a_crash(tmp_path: Path) -> None:
    # Given a line whose id is the escape of a lone surrogate, and one with a valid pair
    lone = b'{"transaction_id": "\\ud800", "country": "FR"}\n'
    pair = b'{"transaction_id": "t-\\ud83d\\ude00"}\n'
    path = land(tmp_path, "surrogate.jsonl", good(1) + lone + pair + good(2))
    # When it is read
    rows, numbers, rejects = jsonl(path)
    # Then the lone surrogate is an encoding reject naming the field and the codec's message
    (reject,) = rejects
    assert (reject["line"], reject["rules"]) == (2, ["encoding"])
    assert "'transaction_id'" in reject["reasons"][0]
    assert "surrogates not allowed" in reject["reasons"][0]
    assert reject["record"] == lone.decode().strip()
    # And the valid pair and the good lines are rows
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-\U0001f600", "t-2"]
    assert numbers == [1, 2, 3]


# --- 3. Parquet types ---------------------------------------------------------------------------


def test_parquet_bytes_that_are_not_utf8_reject_only_their_rows(tmp_path: Path) -> None:
    # Given a Parquet file whose binary id column holds one value that is not UTF-8
    ids = pa.array([b"t-1", b"t-\xff\xfe", b"t-3"], pa.binary())
    amounts = pa.array([1.5, 2.5, 3.5], pa.float64())
    path = tmp_path / "bin.parquet"
    pq.write_table(pa.table({"transaction_id": ids, "amount": amounts}), path)
    # When it is read
    rows, numbers, rejects = parquet(path)
    # Then that row is an encoding reject, as in a CSV, with its bytes escaped in the record
    (reject,) = rejects
    assert (reject["row_number"], reject["rules"]) == (2, ["encoding"])
    assert "'transaction_id' is not valid UTF-8" in reject["reasons"][0]
    assert "\\xff" in json.loads(reject["record"])["transaction_id"]
    # And the other rows are text ids with their typed amounts
    assert rows == [
        {"transaction_id": "t-1", "amount": 1.5},
        {"transaction_id": "t-3", "amount": 3.5},
    ]
    assert numbers == [1, 3]


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([["a"], ["b"]], pa.list_(pa.string())), "list<"),
        (pa.array([{"x": 1}, {"x": 2}]), "struct<"),
        (pa.array([[("k", "v")], []], pa.map_(pa.string(), pa.string())), "map<"),
    ],
)
def test_a_parquet_column_no_contract_can_hold_makes_the_file_unsupported_type(
    tmp_path: Path, column: pa.Array, kind: str
) -> None:
    # Given a Parquet file with a nested column
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"transaction_id": ["t-1", "t-2"], "device_id": column}), path)
    # When it is read, Then the file is unsupported_type, naming the column and its type
    with pytest.raises(FileProblem) as caught:
        parquet(path)
    assert caught.value.rule == "unsupported_type"
    assert "'device_id'" in caught.value.reason and kind in caught.value.reason


def test_parquet_large_and_dictionary_text_comes_out_as_plain_strings(tmp_path: Path) -> None:
    # Given Parquet text columns stored as large_string and as a dictionary
    table = pa.table(
        {
            "transaction_id": pa.array(["t-1", "t-2"], pa.large_string()),
            "country": pa.array(["NA", "FR"]).dictionary_encode(),
        }
    )
    path = tmp_path / "text.parquet"
    pq.write_table(table, path, store_schema=True)
    # When it is read
    chunk = next(readers.read_parquet(path, 10))
    # Then validation gets plain strings, whatever the writer chose
    assert chunk.table is not None
    assert chunk.table.schema.types == [pa.string(), pa.string()]
    assert chunk.table.column("country").to_pylist() == ["NA", "FR"]


# --- 4. limits ------------------------------------------------------------------------------


def test_a_jsonl_line_over_the_record_limit_is_rejected_and_its_neighbours_kept(
    tmp_path: Path,
) -> None:
    # Given a 2 MB line between good lines, with the default 1 MiB record limit
    long = b'{"transaction_id": "' + b"x" * (2 * MiB) + b'"}\n'
    path = land(tmp_path, "long.jsonl", good(1) + long + good(2))
    # When it is read
    rows, numbers, rejects = jsonl(path)
    # Then the long line is a record_too_large reject with its length and first KiB
    (reject,) = rejects
    assert (reject["line"], reject["rules"]) == (2, ["record_too_large"])
    assert (
        f"{len(long) - 1} bytes, more than the record limit of {MiB} bytes" in reject["reasons"][0]
    )
    assert reject["record"] == long[: readers.EXCERPT_BYTES].decode()
    # And the lines around it are rows, numbered as if it were not there
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-2"]
    assert numbers == [1, 2]


def test_a_gzip_line_of_64_mib_is_read_within_a_few_record_limits_of_memory(
    tmp_path: Path,
) -> None:
    # Given a small gzip file whose one line inflates to 64 MiB (the old reader held it ~2x)
    path = write_gzip(
        tmp_path / "bomb.jsonl.gz", good(1) + b'{"transaction_id": "', 64, b'"}\n' + good(2)
    )
    assert path.stat().st_size < MiB
    # When it is read with a 1 MiB record limit
    limits = Limits(max_record_bytes=MiB)
    rows, _, rejects = jsonl(path, gz=True, limits=limits)
    peak = peak_bytes(lambda: jsonl(path, gz=True, limits=limits))
    # Then the line is one reject and the reader never held more than a few limits
    assert [r["rules"] for r in rejects] == [["record_too_large"]]
    assert f"{64 * MiB + 22} bytes" in rejects[0]["reasons"][0]
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-2"]
    assert peak < 8 * MiB, peak


def test_a_csv_line_over_the_record_limit_is_rejected_and_its_neighbours_kept(
    tmp_path: Path,
) -> None:
    # Given a CSV whose third line is 2 MB long
    long = b"t-2," + b"x" * (2 * MiB) + b",FR\n"
    path = land(
        tmp_path, "long.csv", b"transaction_id,device_id,country\nt-1,d,FR\n" + long + b"t-3,d,FR\n"
    )
    # When it is read
    rows, numbers, rejects = csv(path)
    # Then the long line is a record_too_large reject, the file's line 3
    (reject,) = rejects
    assert (reject["line"], reject["rules"]) == (3, ["record_too_large"])
    assert f"line 3: {len(long) - 1} bytes" in reject["reasons"][0]
    assert reject["record"] == long[: readers.EXCERPT_BYTES].decode()
    # And the rows around it are kept
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-3"]
    assert numbers == [1, 2]


def test_a_long_line_inside_a_quoted_value_rejects_its_whole_row_once(tmp_path: Path) -> None:
    # Given a row whose quoted value spans three lines, the middle one 2 MB long
    body = (
        b"transaction_id,device_id,country\nt-1,d,FR\n"
        + b't-2,"start\n'
        + b"y" * (2 * MiB)
        + b'\nend",FR\nt-3,d,FR\n'
    )
    path = land(tmp_path, "quoted.csv", body)
    # When it is read
    rows, numbers, rejects = csv(path)
    # Then that one row is rejected, once, and no part of it became a row
    (reject,) = rejects
    assert reject["rules"] == ["record_too_large"]
    assert "row 2" in reject["reasons"][0]
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-3"]
    assert numbers == [1, 3]


def test_a_csv_row_of_short_lines_over_the_record_limit_is_rejected(tmp_path: Path) -> None:
    # Given a row whose quoted value is three lines of 600 bytes, and a 1000-byte record limit
    value = b"\n".join([b"z" * 600] * 3)
    body = b'transaction_id,device_id\nt-1,d\nt-2,"' + value + b'"\nt-3,d\n'
    path = land(tmp_path, "rows.csv", body)
    # When it is read
    rows, _, rejects = csv(path, limits=Limits(max_record_bytes=1000))
    # Then the row is too large although each of its lines is not
    (reject,) = rejects
    assert (reject["row_number"], reject["rules"]) == (2, ["record_too_large"])
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-3"]


def test_a_gzip_csv_line_of_64_mib_is_read_within_a_few_record_limits_of_memory(
    tmp_path: Path,
) -> None:
    # Given a gzip CSV whose second data line inflates to 64 MiB
    path = write_gzip(
        tmp_path / "bomb.csv.gz", b"transaction_id,device_id\nt-1,d\nt-2,", 64, b"\nt-3,d\n"
    )
    limits = Limits(max_record_bytes=MiB)
    # When it is read
    rows, _, rejects = csv(path, gz=True, limits=limits)
    peak = peak_bytes(lambda: csv(path, gz=True, limits=limits))
    # Then the line is one reject, and the Python side held a few limits at most
    assert [r["rules"] for r in rejects] == [["record_too_large"]]
    assert [r["transaction_id"] for r in rows] == ["t-1", "t-3"]
    assert peak < 8 * MiB, peak


@pytest.mark.parametrize("block_bytes", [64, 100, 8 * MiB])
def test_csv_lines_holding_nul_bytes_are_encoding_rejects_at_any_block_size(
    tmp_path: Path, block_bytes: int
) -> None:
    # Given every third line ending in a NUL (pyarrow alone merges or drops rows around such
    # lines at block boundaries: 19 or 16 rows of 20 at these block sizes)
    lines = [b"id,b"] + [
        b"binary:garbage:%d\x00" % i if i % 3 == 0 else b"t-%d,x" % i for i in range(30)
    ]
    path = land(tmp_path, "nul.csv", b"\n".join(lines) + b"\n")
    # When it is read in small blocks
    chunks = readers.read_csv(path, False, block_bytes, limits=Limits(max_record_bytes=1000))
    rows, _, rejects = collect(chunks)
    # Then each such line is one encoding reject at its line, and every other line is a row
    assert [(r["line"], r["rules"]) for r in rejects] == [
        (n, ["encoding"]) for n in range(2, 32, 3)
    ]
    assert "NUL" in rejects[0]["reasons"][0]
    assert [r["id"] for r in rows] == [f"t-{i}" for i in range(30) if i % 3]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_gzip_file_that_inflates_past_the_limit_is_too_large(tmp_path: Path, fmt: str) -> None:
    # Given a gzip file of 200 lines, and a decompression limit of 1000 bytes
    lines = b"".join(good(i) for i in range(200))
    body = b"transaction_id\n" + b"".join(f"t-{i}\n".encode() for i in range(200))
    path = land(tmp_path, f"big.{fmt}.gz", gzip.compress(body if fmt == "csv" else lines))
    limits = Limits(max_decompressed_bytes=1000)
    # When it is read, Then the file is too_large with the limit in the reason
    with pytest.raises(FileProblem) as caught:
        if fmt == "csv":
            csv(path, gz=True, limits=limits)
        else:
            jsonl(path, gz=True, limits=limits)
    assert caught.value.rule == "too_large"
    assert "1000 bytes" in caught.value.reason


def test_a_file_over_the_size_limit_is_too_large_before_download() -> None:
    limits = Limits(max_file_bytes=100)
    readers.check_size(100, limits)  # at the limit: fine
    with pytest.raises(FileProblem) as caught:
        readers.check_size(101, limits)
    assert caught.value.rule == "too_large"
    assert "101 bytes" in caught.value.reason


def test_the_limits_have_defaults_and_environment_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no overrides, Then the defaults hold
    for env in Limits.ENV.values():
        monkeypatch.delenv(env, raising=False)
    limits = settings.limits_from_env(None)
    assert (limits.max_record_bytes, limits.max_json_depth) == (MiB, 64)
    assert (limits.max_file_bytes, limits.max_decompressed_bytes) == (1 << 30, 20 << 30)
    # Given overrides, Then they win; a value that is not a positive integer fails loudly
    monkeypatch.setenv(Limits.ENV["max_record_bytes"], "2048")
    monkeypatch.setenv(Limits.ENV["max_file_bytes"], "4096")
    assert settings.limits_from_env(None).max_record_bytes == 2048
    assert settings.limits_from_env(None).max_file_bytes == 4096
    monkeypatch.setenv(Limits.ENV["max_json_depth"], "-1")
    with pytest.raises(settings.ConfigurationError, match="INGEST_MAX_JSON_DEPTH"):
        settings.limits_from_env(None)


# --- 5. CSV nulls -----------------------------------------------------------------------------


def test_only_an_empty_csv_field_is_null(tmp_path: Path) -> None:
    # Given values pyarrow would read as null by default, Namibia among them
    words = ["NA", "null", "N/A", "nan", "NULL", "#N/A", "None", "NaN", "-nan", "n/a"]
    body = "transaction_id,country,device_id\n"
    body += "".join(f"t-{i},{w},{w}\n" for i, w in enumerate(words))
    body += 't-empty,,""\n'
    path = land(tmp_path, "nulls.csv", body.encode())
    # When it is read
    rows, _, rejects = csv(path)
    # Then every one of them is text, and only the empty unquoted field is null
    assert rejects == []
    assert [r["country"] for r in rows[:-1]] == words
    assert [r["device_id"] for r in rows[:-1]] == words
    assert (rows[-1]["country"], rows[-1]["device_id"]) == (None, "")


# --- 6. any other error -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "damage", "error"),
    [
        ("cut.csv.gz", lambda gz: gz[: len(gz) // 2], "EOFError"),
        ("crc.jsonl.gz", lambda gz: gz[:-8] + b"\x00" * 4 + gz[-4:], "BadGzipFile"),
    ],
)
def test_a_damaged_gzip_is_an_unreadable_file_with_the_error_type(
    tmp_path: Path, name: str, damage: Any, error: str
) -> None:
    # Given a gzip file cut in half, or with a wrong checksum
    body = b"transaction_id\n" + b"".join(f"t-{i}\n".encode() for i in range(5000))
    if "jsonl" in name:
        body = b"".join(good(i) for i in range(5000))
    path = land(tmp_path, name, damage(gzip.compress(body)))
    # When it is read, Then it is unreadable, with the error's type and text
    with pytest.raises(FileProblem) as caught:
        csv(path, gz=True) if "csv" in name else jsonl(path, gz=True)
    assert caught.value.rule == "unreadable"
    assert error in caught.value.reason


def test_a_damaged_parquet_is_an_unreadable_file(tmp_path: Path) -> None:
    # Given a Parquet file whose data pages are overwritten, and one that is not Parquet at all
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.table({"transaction_id": [f"t-{i}" for i in range(1000)]}), path)
    data = bytearray(path.read_bytes())
    data[8:200] = b"\xff" * 192
    path.write_bytes(bytes(data))
    not_parquet = land(tmp_path, "fake.parquet", b"PAR1 not really")
    # When they are read, Then each is unreadable, never a raw pyarrow error
    for bad in (path, not_parquet):
        with pytest.raises(FileProblem) as caught:
            parquet(bad)
        assert caught.value.rule == "unreadable"


def test_any_exception_inside_a_reader_becomes_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a reader that runs out of memory half-way
    def out_of_memory(*args: Any) -> bool:
        raise MemoryError("no more")

    monkeypatch.setattr(jsonl_files, "_classify_json_line", out_of_memory)
    path = land(tmp_path, "x.jsonl", good(1))
    # When it is read, Then it is a FileProblem with the type and text of the error
    with pytest.raises(FileProblem) as caught:
        jsonl(path)
    assert caught.value.rule == "unreadable"
    assert "MemoryError: no more" in caught.value.reason


def test_a_file_problem_from_a_plain_reason_is_unreadable() -> None:
    problem = FileProblem("something broke")
    assert (problem.rule, problem.reason, str(problem)) == (
        "unreadable",
        "something broke",
        "something broke",
    )


def test_unknown_json_fields_are_one_fixed_rule_with_the_names_in_the_reason(
    tmp_path: Path,
) -> None:
    # Given a line with two fields outside the contract
    line = json.dumps({"transaction_id": "t-1", "pan": "4111", "cvv": "123"}).encode() + b"\n"
    path = land(tmp_path, "unknown.jsonl", line)
    # When it is read
    _, _, (reject,) = jsonl(path)
    # Then the rule holds no data; the names are in the reason
    assert reject["rules"] == ["unknown_field"]
    assert "'cvv', 'pan'" in reject["reasons"][0]


# --- 7. rows held -----------------------------------------------------------------------------


def test_rows_held_counts_the_records_of_a_file_quarantined_whole(tmp_path: Path) -> None:
    # Given files of each format, blank lines and a missing final newline included
    csv_body = b"transaction_id\nt-1\n\nt-2\r\n  \nt-3"
    jsonl_body = good(1) + b"\n\n" + good(2) + b"   \n" + good(3).rstrip(b"\n")
    table = pa.table({"transaction_id": [f"t-{i}" for i in range(7)]})
    pq.write_table(table, tmp_path / "p.parquet")
    # Then CSV counts data lines after the header, JSON Lines its lines, Parquet its metadata
    assert readers.rows_held(land(tmp_path, "a.csv", csv_body), "csv", False) == 3
    assert readers.rows_held(land(tmp_path, "a.csv.gz", gzip.compress(csv_body)), "csv", True) == 3
    assert readers.rows_held(land(tmp_path, "a.jsonl", jsonl_body), "jsonl", False) == 3
    assert readers.rows_held(tmp_path / "p.parquet", "parquet", False) == 7
    assert readers.rows_held(land(tmp_path, "e.csv", b""), "csv", False) == 0


def test_rows_held_is_none_when_even_counting_fails(tmp_path: Path) -> None:
    not_gzip = land(tmp_path, "x.csv.gz", b"plain text")
    assert readers.rows_held(not_gzip, "csv", True) is None
    assert readers.rows_held(land(tmp_path, "x.parquet", b"nope"), "parquet", False) is None
    big = land(tmp_path, "big.jsonl.gz", gzip.compress(b"".join(good(i) for i in range(100))))
    assert readers.rows_held(big, "jsonl", True, Limits(max_decompressed_bytes=100)) is None


def test_rows_held_counts_lines_across_read_blocks(tmp_path: Path) -> None:
    # Given 100 000 lines (several 1 MiB blocks), one of them longer than a block
    body = b"".join(good(i) for i in range(50_000)) + b"x" * (3 * MiB) + b"\n"
    body += b"".join(good(i) for i in range(49_999))
    path = land(tmp_path, "many.jsonl", body)
    # Then each line is counted once
    assert readers.rows_held(path, "jsonl", False) == 100_000


# --- 8. names and content -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["notes.xlsx", "x.parquet.gz", "noext"])
def test_an_unsupported_name_is_unsupported_format(name: str) -> None:
    with pytest.raises(FileProblem) as caught:
        readers.detect_format(name)
    assert caught.value.rule == "unsupported_format"
    assert name in caught.value.reason


@pytest.mark.parametrize("name", ["x.csv.gz", "x.jsonl.gz"])
def test_a_gz_name_over_content_that_is_not_gzip_is_not_gzip(tmp_path: Path, name: str) -> None:
    # Given a plain file named .gz
    path = land(tmp_path, name, b"transaction_id\nt-1\n")
    # When it is read, Then the cause is the fixable not_gzip
    with pytest.raises(FileProblem) as caught:
        csv(path, gz=True) if name.endswith(".csv.gz") else jsonl(path, gz=True)
    assert caught.value.rule == "not_gzip"


def test_a_bad_csv_header_is_bad_header(tmp_path: Path) -> None:
    for body in (b"a,a\n1,2\n", b"\xff\xfe,b\n", b"a,\x00\n", b"x" * 3000 + b"\n"):
        path = land(tmp_path, "h.csv", body)
        with pytest.raises(FileProblem) as caught:
            csv(path, limits=Limits(max_record_bytes=2000))
        assert caught.value.rule == "bad_header", body[:20]
