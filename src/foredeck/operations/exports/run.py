"""The export engine: records streamed from the database in id order, written in batches."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.models.records import Memory
from foredeck.operations.errors import ExportFailed, OperationFailed
from foredeck.operations.exports import writer
from foredeck.operations.exports.writer import COLUMNS, PAGE_ROWS, SCHEMA, export_query, iso
from foredeck.operations.imports.merge import Reporter
from foredeck.operations.offload import pool
from foredeck.operations.schemas import ExportParams
from foredeck.operations.sources.locations import sheet_target, sheets_client
from foredeck.operations.sources.sheets import SheetsError, quote_tab
from foredeck.records import service as records_service

log = get_logger(__name__)
SHEET_CHUNK = 5_000
# Google Sheets refuses a cell longer than this.
SHEET_CELL_MAX = 50_000
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
MEDIA_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
__all__ = ["COLUMNS", "SCHEMA", "count", "export_filename", "run_export"]


async def _pages(runtime: Runtime, params: ExportParams) -> Any:
    """Pages of rows by id (keyset), each in its own short read (for Google Sheets)."""
    query = export_query(params, runtime.engine.dialect.name)
    last = 0
    while True:
        async with runtime.sessionmaker() as session:
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


def export_filename(params: ExportParams, job_id: str) -> str:
    scope = params.collection or "records"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"foredeck-{scope}-{stamp}-{job_id[:8]}.{EXTENSIONS[params.format]}"


async def count(runtime: Runtime, params: ExportParams) -> int:
    query = records_service.filtered_query(**params.filters()).with_only_columns(Memory.id)
    async with runtime.sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(total or 0)


async def run_export(
    runtime: Runtime, params: ExportParams, reporter: Reporter, *, job_id: str, out_dir: Path
) -> dict[str, Any]:
    """Write the matching records to a file (or a sheet); returns what the download needs."""
    started = time.monotonic()
    total = await count(runtime, params)
    await reporter.progress(done=0, total=total, message=f"exporting {total} records")
    if params.format == "sheet":
        return await _to_sheet(runtime, params, reporter, total, started)
    filename = export_filename(params, job_id)
    path = out_dir / filename
    done = 0
    # An operations worker reads the records and writes the file; this process only asks
    # for the next page, reports progress and checks for a cancel in between.
    async with pool.lease() as worker:
        try:
            await worker.call(
                writer.open_export, runtime.config.resolved_database_url, params, str(path)
            )
            while True:
                await reporter.check()
                written = await worker.call(writer.next_page)
                if not written:
                    break
                done += written
                await reporter.progress(
                    done=done, total=max(total, done), message=f"wrote {done} of {total}"
                )
            size = await worker.call(writer.finish_export)
        except OperationFailed as exc:
            raise ExportFailed(str(exc)) from None
    await reporter.progress(done=done, total=done, message=f"exported {done} records", force=True)
    return {
        "format": params.format,
        "rows": done,
        "file": str(path),
        "filename": filename,
        "bytes": size,
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
        iso(r[9]),
        iso(r[10]),
    ]


async def _to_sheet(
    runtime: Runtime, params: ExportParams, reporter: Reporter, total: int, started: float
) -> dict[str, Any]:
    async with runtime.sessionmaker() as session:
        client, sheets = await sheets_client(session, runtime.config)
    done = 0
    try:
        sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
        tab = a1.split("!", 1)[0].strip("'")
        first = f"{quote_tab(tab)}!A1"
        await client.clear(sid, quote_tab(tab))
        await client.update(sid, first, [COLUMNS])
        async for rows in _pages(runtime, params):
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
