"""Running an import: checks before the job, then read → stage → merge with progress."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.blobs import BlobStoreError
from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.operations.errors import ImportFailed, OperationFailed
from foredeck.operations.imports import staging
from foredeck.operations.imports.mapping import resolve
from foredeck.operations.imports.merge import Counts, Reporter, Stage
from foredeck.operations.imports.staging import BatchOut, Opened, SourceSpec
from foredeck.operations.offload import parallel, pool
from foredeck.operations.readers.formats import ReadError, open_reader
from foredeck.operations.schemas import ImportParams, ImportResult, RowErrorOut
from foredeck.operations.sources import blobfiles, urlguard
from foredeck.operations.sources.locations import (
    SheetRows,
    resolve_import_path,
    sheet_target,
    sheets_client,
)
from foredeck.settings import service as settings_service

log = get_logger(__name__)


def _read_error(field: str, exc: ReadError) -> ValidationFailed:
    return ValidationFailed(
        f"The file cannot be imported: {exc}", details=[{"field": field, "message": str(exc)}]
    )


async def precheck(session: AsyncSession, config: Config, params: ImportParams) -> dict[str, Any]:
    """What can be refused before a job exists: the file, its header, the URL, the sheet."""
    if params.source == "file":
        assert params.path is not None
        path = resolve_import_path(config, params.path)
        try:
            reader = await asyncio.to_thread(
                open_reader,
                path,
                fmt=params.format,
                encoding=params.encoding,
                delimiter=params.delimiter,
            )
        except ReadError as exc:
            raise _read_error("file", exc) from exc
        try:
            resolved = resolve(params.mapping, reader.columns)
        finally:
            reader.close()
        return {"columns": reader.columns, "format": reader.format, "content": resolved.content}
    if params.source == "url":
        assert params.url is not None
        ops = await settings_service.get_section(session, "operations")
        try:
            await urlguard.check_url(params.url, allow_private=ops.allow_private_urls)
        except urlguard.URLRefused as exc:
            raise ValidationFailed.field("url", str(exc)) from exc
        return {}
    client, sheets = await sheets_client(session, config)
    try:
        sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
        rows = SheetRows(client, sid, a1)
        await rows.open()
        resolved = resolve(params.mapping, rows.columns)
    finally:
        await client.aclose()
    return {"columns": rows.columns, "format": "sheet", "content": resolved.content}


async def _open_source(
    runtime: Runtime, params: ImportParams, work_dir: Path, ops: Any
) -> tuple[Path | SheetRows, Path | None]:
    """The file to read (a managed file or a download), or an opened sheet."""
    config: Config = runtime.config
    if params.source == "sheet":
        async with runtime.sessionmaker() as session:
            client, sheets = await sheets_client(session, config)
        sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
        rows = SheetRows(client, sid, a1)
        try:
            await rows.open()
        except BaseException:
            await client.aclose()
            raise
        return rows, None
    if params.source == "url":
        assert params.url is not None
        suffix = Path(urlsplit(params.url).path).suffix.lower()[:10]
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        target = work_dir / f"download{suffix}"
        try:
            await urlguard.download(
                params.url,
                target,
                allow_private=ops.allow_private_urls,
                timeout_s=ops.url_timeout_s,
                max_bytes=ops.max_url_bytes,
            )
        except urlguard.URLRefused as exc:
            raise ImportFailed(str(exc)) from exc
        return target, target
    assert params.path is not None
    if params.path.startswith("uploads/") and blobfiles.remote(config):
        try:
            fetched = await blobfiles.fetch_upload(config, params.path, work_dir)
        except BlobStoreError as exc:
            raise ImportFailed(exc.message) from None
        return fetched, fetched
    return resolve_import_path(config, params.path), None


def _spec(
    params: ImportParams, source: Path | SheetRows, ops: Any, stage_file: Path | None
) -> SourceSpec:
    spec = SourceSpec(
        mapping=params.mapping.model_dump(mode="json"),
        batch_size=ops.batch_size,
        stage_file=str(stage_file) if stage_file is not None else None,
    )
    if isinstance(source, SheetRows):
        spec.columns, spec.source_format = source.columns, "sheet"
    else:
        spec.path, spec.format = str(source), params.format
        spec.encoding, spec.delimiter = params.encoding, params.delimiter
    return spec


async def run_import(
    runtime: Runtime,
    params: ImportParams,
    reporter: Reporter,
    *,
    owner_id: int | None,
    work_dir: Path,
) -> dict[str, Any]:
    """Import rows into a collection; ImportFailed (nothing changed) or the result summary.

    An operations worker process reads, maps and hashes the rows (and on SQLite writes them
    to a staging file); this process only reports progress and runs the set-based merge."""
    started = time.monotonic()
    async with runtime.sessionmaker() as session:
        ops = await settings_service.get_section(session, "operations")
    ratio = ops.max_error_ratio if params.max_error_ratio is None else params.max_error_ratio
    source, downloaded = await _open_source(runtime, params, work_dir, ops)
    stage_file: Path | None = None
    if runtime.engine.dialect.name == "sqlite":
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        stage_file = work_dir / f"stage-{uuid.uuid4().hex[:12]}.db"
    counts = Counts()
    try:
        async with pool.lease() as worker:
            try:
                spec = _spec(params, source, ops, stage_file)
                if stage_file is not None and not isinstance(source, SheetRows):
                    size = (await asyncio.to_thread(source.stat)).st_size
                    spec.split_min_bytes = parallel.split_min_bytes(size)
                opened = await worker.call(staging.open_source, spec)
                await _stage_and_merge(
                    runtime,
                    worker,
                    source,
                    spec,
                    opened,
                    reporter,
                    counts,
                    params,
                    ops,
                    ratio=ratio,
                    owner_id=owner_id,
                )
            except OperationFailed as exc:
                raise ImportFailed(str(exc)) from None
    finally:
        if isinstance(source, SheetRows):
            await source.close()
        part_file = None if stage_file is None else parallel.part_file_for(stage_file)
        for path in (downloaded, stage_file, part_file):
            if path is not None:
                await asyncio.to_thread(path.unlink, missing_ok=True)
    await reporter.progress(
        done=counts.rows_read,
        total=counts.rows_read,
        message=f"imported {counts.inserted} new, {counts.updated} updated",
        force=True,
        **counts.counters(),
    )
    result = ImportResult(
        **counts.counters() | {"skipped": counts.skipped + counts.error_count},
        errors=[RowErrorOut(row=e.row, reason=e.reason) for e in counts.errors],
        errors_truncated=counts.error_count + counts.skipped > len(counts.errors),
        collection=params.collection,
        mode=params.mode,
        format=opened.format,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info("import_done", **counts.counters(), collection=params.collection)
    return result.model_dump(mode="json")


async def _stage_and_merge(
    runtime: Runtime,
    worker: pool.OperationsWorker,
    source: Path | SheetRows,
    spec: SourceSpec,
    opened: Opened,
    reporter: Reporter,
    counts: Counts,
    params: ImportParams,
    ops: Any,
    *,
    ratio: float,
    owner_id: int | None,
) -> None:
    stage_file = Path(spec.stage_file) if spec.stage_file else None
    async with runtime.engine.connect() as conn:
        stage = Stage(conn, stage_file)
        await stage.create()
        try:
            sink = parallel.Sink(
                opened, stage, reporter, counts, ops.max_row_errors, params.collection
            )
            parts = None
            if opened.split is not None and stage_file is not None:
                part_file = parallel.part_file_for(stage_file)
                parts = await parallel.stage_in_two(worker, spec, opened, part_file, sink)
                if parts is None:
                    await reporter.progress(
                        message="reading the file again in one pass", force=True
                    )
                    spec.split_min_bytes = None
                    sink.restart(await worker.call(staging.open_source, spec))
            if parts is None:
                sheet = source if isinstance(source, SheetRows) else None
                await _stage_rows(worker, sheet, sink, ops)
            if counts.rows_read == 0:
                raise ImportFailed("the source has no data rows")
            _check_ratio(counts, ratio)
            await reporter.progress(
                message=f"merging {counts.staged} rows into {params.collection}",
                force=True,
                **counts.counters(),
            )
            if stage.in_worker:
                counts.duplicates = await worker.call(staging.finish, params.mode, parts)
                await stage.attach()
            await stage.merge(
                collection=params.collection,
                mode=params.mode,
                owner_id=owner_id,
                counts=counts,
                max_errors=ops.max_row_errors,
            )
            await conn.commit()
        finally:
            await stage.drop()


def _check_ratio(counts: Counts, ratio: float) -> None:
    if counts.error_count and counts.error_count > ratio * counts.rows_read:
        first = counts.errors[0] if counts.errors else None
        example = f" (first: row {first.row}: {first.reason})" if first else ""
        raise ImportFailed(
            f"{counts.error_count} of {counts.rows_read} rows have errors, more than "
            f"{ratio:.0%}; nothing was imported{example}"
        )


async def _stage_rows(
    worker: pool.OperationsWorker, sheet: SheetRows | None, sink: parallel.Sink, ops: Any
) -> None:
    if sheet is not None:
        sheet_batches = sheet.batches(ops.batch_size)

        async def next_batch() -> BatchOut:
            batch = await anext(sheet_batches, None)
            if batch is None:
                return BatchOut(done=True)
            return await worker.call(staging.add_rows, batch.rows, batch.errors, batch.bytes_read)

    else:

        async def next_batch() -> BatchOut:
            return await worker.call(staging.next_batch)

    # The worker reads and converts the next batch while this one is written and reported.
    pending = asyncio.ensure_future(next_batch())
    try:
        while True:
            await sink.reporter.check()
            got = await pending
            if got.done:
                return
            pending = asyncio.ensure_future(next_batch())
            await sink.store(got)
    finally:
        # Let a call in flight finish, so the worker is idle (and reusable) afterwards.
        if not pending.done():
            with contextlib.suppress(BaseException):
                await pending
