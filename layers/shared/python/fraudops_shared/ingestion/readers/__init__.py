"""Readers of landed files: bounded chunks of raw (all-text) rows plus the rows that failed to
parse, for CSV, JSON Lines and Parquet, optionally gzipped. A reader never drops a row: a row it
cannot parse is a reject with a rule and a reason; a file it cannot read at all raises
FileProblem (whatever the underlying error was), and the file is quarantined whole.

Hostile input costs at most the limits (`runtime.settings.Limits`), checked before the work: a
line is read at most `max_record_bytes` at a time, a gzip file at most `max_decompressed_bytes`
in all, a JSON line's nesting is measured before it is parsed.

Rule ids are fixed words (metric names are built from them); what a rule found is in the reason.
"""

from fraudops_shared.ingestion.readers.common import (
    EXCERPT_BYTES,
    FILE_BAD_HEADER,
    FILE_NOT_GZIP,
    FILE_TOO_LARGE,
    FILE_UNREADABLE,
    FILE_UNSUPPORTED_FORMAT,
    FILE_UNSUPPORTED_TYPE,
    RULE_ENCODING,
    RULE_MALFORMED_JSON,
    RULE_MALFORMED_ROW,
    RULE_NOT_AN_OBJECT,
    RULE_RECORD_TOO_LARGE,
    RULE_TOO_DEEP,
    RULE_UNKNOWN_FIELD,
    Chunk,
    FileProblem,
    check_size,
    detect_format,
    rows_held,
)
from fraudops_shared.ingestion.readers.csv_files import read_csv
from fraudops_shared.ingestion.readers.jsonl_files import read_jsonl
from fraudops_shared.ingestion.readers.parquet_files import read_parquet

__all__ = [
    "EXCERPT_BYTES",
    "FILE_BAD_HEADER",
    "FILE_NOT_GZIP",
    "FILE_TOO_LARGE",
    "FILE_UNREADABLE",
    "FILE_UNSUPPORTED_FORMAT",
    "FILE_UNSUPPORTED_TYPE",
    "RULE_ENCODING",
    "RULE_MALFORMED_JSON",
    "RULE_MALFORMED_ROW",
    "RULE_NOT_AN_OBJECT",
    "RULE_RECORD_TOO_LARGE",
    "RULE_TOO_DEEP",
    "RULE_UNKNOWN_FIELD",
    "Chunk",
    "FileProblem",
    "check_size",
    "detect_format",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "rows_held",
]
