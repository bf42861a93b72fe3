"""Parquet: record batches of bounded size, every column as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fraudops_shared.ingestion.readers.common import (
    FILE_TOO_LARGE,
    FILE_UNSUPPORTED_TYPE,
    PARQUET_BATCH_BYTES,
    Chunk,
    FileProblem,
    clean_columns,
    guarded,
    is_flat,
)
from fraudops_shared.runtime.settings import Limits

# --- Parquet ----------------------------------------------------------------------------------


def read_parquet(path: Path, batch_rows: int, *, limits: Limits | None = None) -> Iterator[Chunk]:
    """Row batches of a local Parquet file (Parquet needs random access, hence the download)."""
    return guarded(_read_parquet(path, batch_rows, limits or Limits()), "parquet")


def _read_parquet(path: Path, batch_rows: int, limits: Limits) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
    except Exception as err:
        raise FileProblem(f"not a readable Parquet file: {type(err).__name__}: {err}") from err
    for field in pf.schema_arrow:
        if not is_flat(field.type):
            raise FileProblem(
                f"column {field.name!r} is of type {field.type}, which no contract column can "
                "hold (lists, structs, maps)",
                rule=FILE_UNSUPPORTED_TYPE,
            )
    meta = pf.metadata
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if inflated > limits.max_decompressed_bytes:
        raise FileProblem(
            f"the row groups hold {inflated} bytes uncompressed, more than the limit of "
            f"{limits.max_decompressed_bytes}",
            rule=FILE_TOO_LARGE,
        )
    if meta.num_rows and inflated:  # wide rows: fewer of them a batch
        batch_rows = max(1, min(batch_rows, PARQUET_BATCH_BYTES * meta.num_rows // inflated))
    next_row = 1
    produced = False
    for batch in pf.iter_batches(batch_size=batch_rows):
        produced = True
        raw = pa.Table.from_batches([batch])
        numbers = list(range(next_row, next_row + raw.num_rows))
        next_row += raw.num_rows
        table, numbers, rejects = clean_columns(raw, numbers, limits.max_record_bytes)
        yield Chunk(table, numbers, rejects)
    if not produced:
        table, _, _ = clean_columns(pf.schema_arrow.empty_table(), [], limits.max_record_bytes)
        yield Chunk(table, [], [])
