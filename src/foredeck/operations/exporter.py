"""The export engine: records streamed from the database in id order, written in batches."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Text, cast, func, select

from foredeck.logging import get_logger
from foredeck.models.records import Memory
from foredeck.operations.importer import ImportFailed, Reporter
from foredeck.operations.schemas import ExportParams
from foredeck.operations.sheets import SheetsError, quote_tab
from foredeck.operations.sources import sheet_target, sheets_client
from foredeck.records import service as records_service

log = get_logger(__name__)
PAGE_ROWS = 20_000
SHEET_CHUNK = 5_000
# Google Sheets refuses a cell longer than this.
SHEET_CELL_MAX = 50_000
COLUMNS = [
    "id",
    "external_id",
    "collection",
    "memory_type",
    "content",
    "metadata",
    "content_hash",
    "embedding_state",
    "owner_id",
    "created_at",
    "updated_at",
]
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("external_id", pa.string()),
        ("collection", pa.string()),
        ("memory_type", pa.string()),
        ("content", pa.large_string()),
        ("metadata", pa.large_string()),
        ("content_hash", pa.string()),
        ("embedding_state", pa.string()),
        ("owner_id", pa.int64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
MEDIA_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


class ExportFailed(ImportFailed):
    """The export stopped; the message is safe to show."""


def _query(params: ExportParams, dialect: str = "sqlite") -> Any:
    base = records_service.filtered_query(**params.filters())
    created: Any = Memory.created_at
    updated: Any = Memory.updated_at
    if dialect == "sqlite":
        # SQLite stores UTC datetimes as text; arrow parses them in C, far faster than per row.
        created = cast(Memory.created_at, Text).label("created_at")
        updated = cast(Memory.updated_at, Text).label("updated_at")
    return base.with_only_columns(
        Memory.id,
        Memory.external_id,
        Memory.collection,
        Memory.memory_type,
        Memory.content,
        # Raw JSON text: written as is, never parsed and re-encoded.
        cast(Memory.metadata_, Text).label("metadata"),
        Memory.content_hash,
        Memory.embedding_state,
        Memory.owner_id,
        created,
        updated,
    )


async def _pages(state: Any, params: ExportParams) -> Any:
    """Pages of rows by id (keyset), each in its own short read."""
    query = _query(params, state.engine.dialect.name)
    last = 0
    while True:
        async with state.sessionmaker() as session:
            rows = (
                await session.execute(
                    query.where(Memory.id > last).order_by(Memory.id).limit(PAGE_ROWS)
                )
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield rows
        if len(rows) < PAGE_ROWS:
            return


def _column(values: Any, field: pa.Field) -> pa.Array:
    if pa.types.is_timestamp(field.type) and values and isinstance(values[0], str):
        return pa.array(values).cast(pa.timestamp("us")).cast(field.type)
    return pa.array(values, type=field.type)


def _record_batch(rows: list[Any]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [_column(col, SCHEMA.field(i)) for i, col in enumerate(columns)], schema=SCHEMA
    )


def _iso(value: Any) -> str:
    """ISO 8601 with the UTC offset, from a datetime or SQLite's stored text."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:]}+00:00"
    return str(value.isoformat())


class _JSONLWriter:
    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8")

    def write(self, rows: list[Any]) -> None:
        dumps = json.dumps
        lines = []
        for r in rows:
            head = dumps(
                {
                    "id": r[0],
                    "external_id": r[1],
                    "collection": r[2],
                    "memory_type": r[3],
                    "content": r[4],
                    "content_hash": r[6],
                    "embedding_state": r[7],
                    "owner_id": r[8],
                    "created_at": _iso(r[9]),
                    "updated_at": _iso(r[10]),
                },
                ensure_ascii=False,
            )
            lines.append(f'{head[:-1]}, "metadata": {r[5] or "{}"}}}\n')
        self.handle.write("".join(lines))

    def close(self) -> None:
        self.handle.close()


class _ArrowWriter:
    def __init__(self, path: Path, fmt: str) -> None:
        self.writer: Any
        if fmt == "parquet":
            self.writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
        else:
            self.writer = pacsv.CSVWriter(path, SCHEMA)

    def write(self, rows: list[Any]) -> None:
        self.writer.write_batch(_record_batch(rows))

    def close(self) -> None:
        self.writer.close()


def export_filename(params: ExportParams, job_id: str) -> str:
    scope = params.collection or "records"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"foredeck-{scope}-{stamp}-{job_id[:8]}.{EXTENSIONS[params.format]}"


async def count(state: Any, params: ExportParams) -> int:
    query = records_service.filtered_query(**params.filters()).with_only_columns(Memory.id)
    async with state.sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(total or 0)


async def run_export(
    state: Any, params: ExportParams, reporter: Reporter, *, job_id: str, out_dir: Path
) -> dict[str, Any]:
    """Write the matching records to a file (or a sheet); returns what the download needs."""
    started = time.monotonic()
    total = await count(state, params)
    await reporter.progress(done=0, total=total, message=f"exporting {total} records")
    if params.format == "sheet":
        return await _to_sheet(state, params, reporter, total, started)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    filename = export_filename(params, job_id)
    path = out_dir / filename
    writer: _JSONLWriter | _ArrowWriter = (
        _JSONLWriter(path) if params.format == "jsonl" else _ArrowWriter(path, params.format)
    )
    done = 0
    try:
        async for rows in _pages(state, params):
            await reporter.check()
            await asyncio.to_thread(writer.write, rows)
            done += len(rows)
            await reporter.progress(
                done=done, total=max(total, done), message=f"wrote {done} of {total}"
            )
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    await reporter.progress(done=done, total=done, message=f"exported {done} records", force=True)
    return {
        "format": params.format,
        "rows": done,
        "file": str(path),
        "filename": filename,
        "bytes": path.stat().st_size,
        "media_type": MEDIA_TYPES[params.format],
        "seconds": round(time.monotonic() - started, 3),
    }


def _sheet_row(r: Any) -> list[Any]:
    return [
        r[0],
        r[1] or "",
        r[2],
        r[3],
        r[4],
        r[5] or "{}",
        r[6],
        r[7],
        r[8] if r[8] is not None else "",
        _iso(r[9]),
        _iso(r[10]),
    ]


async def _to_sheet(
    state: Any, params: ExportParams, reporter: Reporter, total: int, started: float
) -> dict[str, Any]:
    async with state.sessionmaker() as session:
        client, sheets = await sheets_client(session, state.config)
    done = 0
    try:
        sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
        tab = a1.split("!", 1)[0].strip("'")
        first = f"{quote_tab(tab)}!A1"
        await client.clear(sid, quote_tab(tab))
        await client.update(sid, first, [COLUMNS])
        async for rows in _pages(state, params):
            await reporter.check()
            too_long = next((r[0] for r in rows if len(r[4]) > SHEET_CELL_MAX), None)
            if too_long is not None:
                raise ExportFailed(
                    f"record {too_long} has more than {SHEET_CELL_MAX} characters, the most a "
                    "Google Sheets cell holds; export it to a file instead"
                )
            for start in range(0, len(rows), SHEET_CHUNK):
                chunk = [_sheet_row(r) for r in rows[start : start + SHEET_CHUNK]]
                await client.append(sid, quote_tab(tab), chunk)
            done += len(rows)
            await reporter.progress(done=done, total=max(total, done), message=f"wrote {done}")
    except SheetsError as exc:
        raise ExportFailed(f"the sheet could not be written: {exc}") from exc
    finally:
        await client.aclose()
    await reporter.progress(done=done, total=done, message=f"exported {done} records", force=True)
    return {
        "format": "sheet",
        "rows": done,
        "spreadsheet_id": sid,
        "range": quote_tab(tab),
        "seconds": round(time.monotonic() - started, 3),
    }
