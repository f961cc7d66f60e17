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

import numpy as np
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
    schema: DatasetSchema,
    index: int,
    folder: Path,
    overrides: dict[str, Any] | None = None,
    text_pools: dict[str, list[str]] | None = None,
) -> tuple[int, int, str]:
    """Generate and store one chunk; (rows, bytes, sha256 of the file)."""
    table = generate_chunk(schema, index, overrides, text_pools)
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
            # Parquet stores second timestamps as milliseconds; generated values are whole seconds.
            fmt = "%Y-%m-%dT%H:%M:%S+00:00" if kind.tz else "%Y-%m-%dT%H:%M:%S"
            seconds = column.cast(pa.timestamp("s", tz=kind.tz), safe=False)
            column = pc.strftime(seconds, format=fmt)
        elif pa.types.is_decimal(kind):
            # Through text, so 42.41 stays 42.41 rather than the nearest binary fraction's digits.
            column = column.cast(pa.string()).cast(pa.float64())
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


CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
NEEDS_ESCAPE = r"[\x00-\x1f\"\\\\]"


def _json_values(column: pa.Array) -> pa.Array | None:
    """Each value as JSON text, computed in Arrow; None when Python must encode the batch."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not pc.any(pc.match_substring_regex(column, NEEDS_ESCAPE)).as_py():
            return pc.fill_null(pc.binary_join_element_wise('"', column, '"', ""), "null")
        if pc.any(pc.match_substring_regex(column, CONTROL)).as_py():
            return None
        text = column
        for raw, escaped in (
            ("\\", "\\\\"),
            ('"', '\\"'),
            ("\n", "\\n"),
            ("\r", "\\r"),
            ("\t", "\\t"),
        ):
            text = pc.replace_substring(text, raw, escaped)
        text = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = column.cast(pa.string())
    elif pa.types.is_floating(kind):
        text = column.cast(pa.string())
        # Arrow writes 100.0 as "100"; keep it a float for JSON readers that look at the type.
        text = pc.if_else(
            pc.match_substring_regex(text, "[.eEn]"),
            text,
            pc.binary_join_element_wise(text, ".0", ""),
        )
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        text = _json_ready(pa.RecordBatch.from_arrays([column], names=["v"])).column(0)
        text = pc.binary_join_element_wise('"', text, '"', "")
    else:
        return None
    return pc.fill_null(text, "null")


def json_block(batch: pa.RecordBatch, before: str, after: str) -> bytes:
    """Every row as a JSON object wrapped in before/after, as one block of UTF-8 bytes.

    Built column-wise in Arrow and taken straight from the string buffer, so no Python object
    is made per row; batches with characters Arrow cannot escape go through json.dumps.
    """
    if batch.num_rows == 0:
        return b""
    pieces: list[pa.Array | str] = [before]
    for i, name in enumerate(batch.schema.names):
        values = _json_values(batch.column(i))
        if values is None:
            dumps = json.JSONEncoder(ensure_ascii=False, default=json_default).encode
            rows = [before + dumps(r) + after for r in _json_ready(batch).to_pylist()]
            return "".join(rows).encode()
        pieces += [("{" if i == 0 else ",") + json.dumps(name) + ":", values]
    pieces.append("}" + after)
    joined = pc.binary_join_element_wise(*pieces, "")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    start, end = offsets[joined.offset], offsets[joined.offset + len(joined)]
    return joined.buffers()[2].to_pybytes()[start:end]


def _write_json(
    fh: BinaryIO, batches: Iterator[pa.RecordBatch], lines: bool, tick: Callable[[int], None]
) -> int:
    rows = 0
    if not lines:
        fh.write(b"[")
    for batch in batches:
        if lines:
            fh.write(json_block(batch, "", "\n"))
        else:
            block = json_block(batch, ",\n", "")
            fh.write(block[1:] if rows == 0 else block)
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
