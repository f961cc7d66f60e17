"""Chunk files and merged dataset files: synchronous, run off the event loop.

Each chunk is a Parquet file written to a temporary name and renamed, so a reader never sees
half a chunk. Merging streams record batches from one chunk at a time, so memory stays bounded
by the batch size, not the dataset size.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from foredeck.generator.engine import generate_chunk
from foredeck.generator.schemas import DatasetSchema, OutputFormat

BATCH_ROWS = 65_536
MEDIA_TYPES = {
    OutputFormat.json: "application/json",
    OutputFormat.jsonl: "application/x-ndjson",
    OutputFormat.csv: "text/csv",
    OutputFormat.parquet: "application/vnd.apache.parquet",
}


def chunk_name(index: int) -> str:
    return f"chunk-{index:06d}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def write_chunk(
    schema: DatasetSchema, index: int, folder: Path, overrides: dict[str, Any] | None = None
) -> tuple[int, int, str]:
    """Generate and store one chunk; (rows, bytes, sha256 of the file)."""
    table = generate_chunk(schema, index, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / chunk_name(index)
    tmp = target.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, target)
    return table.num_rows, target.stat().st_size, file_sha256(target)


def read_chunk(path: Path, limit: int | None = None) -> pa.Table:
    pf = pq.ParquetFile(path)
    if limit is None:
        return pf.read()
    batches = []
    left = limit
    for batch in pf.iter_batches(batch_size=min(max(limit, 1), BATCH_ROWS)):
        batches.append(batch.slice(0, left))
        left -= min(left, batch.num_rows)
        if left <= 0:
            break
    return pa.Table.from_batches(batches, schema=pf.schema_arrow)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    # Converting temporal and decimal columns in Arrow keeps json.dumps on its C fast path.
    arrays = []
    for column in batch.columns:
        kind = column.type
        if pa.types.is_date(kind):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(kind):
            fmt = "%Y-%m-%dT%H:%M:%S+00:00" if kind.tz else "%Y-%m-%dT%H:%M:%S"
            column = pc.strftime(column, format=fmt)
        elif pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def json_rows(table: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (ISO dates, decimals as numbers)."""
    batches = table.to_batches() if isinstance(table, pa.Table) else [table]
    return [row for batch in batches for row in _json_ready(batch).to_pylist()]


def csv_text(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes().decode()


def _batches(paths: list[Path]) -> Iterator[pa.RecordBatch]:
    for path in paths:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)


def _write_json(
    fh: BinaryIO, batches: Iterator[pa.RecordBatch], lines: bool, tick: Callable[[int], None]
) -> int:
    rows = 0
    if not lines:
        fh.write(b"[")
    dumps = json.JSONEncoder(ensure_ascii=False, default=json_default).encode
    for batch in batches:
        encoded = [dumps(r) for r in _json_ready(batch).to_pylist()]
        if lines:
            fh.write(("\n".join(encoded) + "\n").encode())
        else:
            prefix = "\n" if rows == 0 else ",\n"
            fh.write((prefix + ",\n".join(encoded)).encode())
        rows += batch.num_rows
        tick(rows)
    if not lines:
        fh.write(b"\n]\n" if rows else b"]\n")
    return rows


def merge(
    paths: list[Path],
    fmt: OutputFormat,
    target: Path,
    tick: Callable[[int], None] = lambda rows: None,
) -> tuple[int, int, str]:
    """Concatenate chunk files into one file of `fmt`; (rows, bytes, sha256)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + f".tmp-{uuid.uuid4().hex[:8]}")
    arrow_schema = pq.ParquetFile(paths[0]).schema_arrow
    rows = 0
    try:
        if fmt == OutputFormat.parquet:
            with pq.ParquetWriter(tmp, arrow_schema, compression="zstd") as writer:
                for batch in _batches(paths):
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    tick(rows)
        elif fmt == OutputFormat.csv:
            with pacsv.CSVWriter(str(tmp), arrow_schema) as writer:
                for batch in _batches(paths):
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    tick(rows)
        else:
            with tmp.open("wb") as fh:
                rows = _write_json(fh, _batches(paths), fmt == OutputFormat.jsonl, tick)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return rows, target.stat().st_size, file_sha256(target)


def source_checksum(checksums: list[str]) -> str:
    """One digest over the chunk checksums in order: changes when any chunk changes."""
    return hashlib.sha256("\n".join(checksums).encode()).hexdigest()
