"""Running an import: checks before the job, then read → stage → merge with progress."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.logging import get_logger
from foredeck.operations import urlguard
from foredeck.operations.importer import Counts, ImportFailed, Reporter, Stage
from foredeck.operations.mapping import converter, resolve
from foredeck.operations.readers import Batch, Reader, ReadError, detect_format, open_reader
from foredeck.operations.schemas import ImportParams, ImportResult, RowErrorOut
from foredeck.operations.sources import SheetRows, resolve_import_path, sheet_target, sheets_client
from foredeck.settings import service as settings_service

log = get_logger(__name__)
# Row errors listed per batch event; the full list (up to the limit) is in the result.
ROW_EVENT_MAX = 50


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
    state: Any, params: ImportParams, work_dir: Path
) -> tuple[Reader | SheetRows, Path | None]:
    config: Config = state.config
    async with state.sessionmaker() as session:
        ops = await settings_service.get_section(session, "operations")
        if params.source == "sheet":
            client, sheets = await sheets_client(session, config)
            sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
            rows = SheetRows(client, sid, a1)
            try:
                await rows.open()
            except BaseException:
                await client.aclose()
                raise
            return rows, None
    downloaded: Path | None = None
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
        path = downloaded = target
    else:
        assert params.path is not None
        path = resolve_import_path(config, params.path)
    try:
        fmt = detect_format(path, params.format)
        reader = await asyncio.to_thread(
            open_reader, path, fmt=fmt, encoding=params.encoding, delimiter=params.delimiter
        )
    except ReadError as exc:
        raise ImportFailed(f"the file cannot be read: {exc}") from exc
    return reader, downloaded


async def run_import(
    state: Any,
    params: ImportParams,
    reporter: Reporter,
    *,
    owner_id: int | None,
    work_dir: Path,
) -> dict[str, Any]:
    """Import rows into a collection; ImportFailed (nothing changed) or the result summary."""
    started = time.monotonic()
    async with state.sessionmaker() as session:
        ops = await settings_service.get_section(session, "operations")
    ratio = ops.max_error_ratio if params.max_error_ratio is None else params.max_error_ratio
    reader, downloaded = await _open_source(state, params, work_dir)
    counts = Counts()
    try:
        try:
            resolved = resolve(params.mapping, reader.columns)
        except ValidationFailed as exc:
            raise ImportFailed(
                exc.message + ": " + "; ".join(d["message"] for d in exc.details)
            ) from exc
        if isinstance(reader, Reader) and hasattr(reader, "wanted"):
            reader.wanted = resolved.used()
        convert = converter(resolved, reader.columns, positional=reader.format in ("csv", "sheet"))
        async with state.engine.connect() as conn:
            stage = Stage(conn)
            await stage.create()
            try:
                await _stage_rows(reader, convert, stage, reporter, counts, ops, params)
                if counts.rows_read == 0:
                    raise ImportFailed("the source has no data rows")
                _check_ratio(counts, ratio)
                await reporter.progress(
                    message=f"merging {counts.staged} rows into {params.collection}",
                    force=True,
                    **counts.counters(),
                )
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
    finally:
        if isinstance(reader, SheetRows):
            await reader.close()
        else:
            reader.close()
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)
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
        format=reader.format,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info("import_done", **counts.counters(), collection=params.collection)
    return result.model_dump(mode="json")


def _check_ratio(counts: Counts, ratio: float) -> None:
    if counts.error_count and counts.error_count > ratio * counts.rows_read:
        first = counts.errors[0] if counts.errors else None
        example = f" (first: row {first.row}: {first.reason})" if first else ""
        raise ImportFailed(
            f"{counts.error_count} of {counts.rows_read} rows have errors, more than "
            f"{ratio:.0%}; nothing was imported{example}"
        )


async def _stage_rows(
    reader: Reader | SheetRows,
    convert: Any,
    stage: Stage,
    reporter: Reporter,
    counts: Counts,
    ops: Any,
    params: ImportParams,
) -> None:
    size = ops.batch_size
    limit = ops.max_row_errors
    emit = getattr(reporter, "event", None)

    def work(batch: Batch) -> tuple[list[Any], list[Any]]:
        staged = []
        errors = list(batch.errors)
        for row_no, row in batch.rows:
            out = convert(row_no, row)
            if type(out) is str:
                errors.append(_row_error(row_no, out))
            else:
                staged.append(out)
        return staged, errors

    if isinstance(reader, SheetRows):
        source: Any = reader.batches(size)

        async def next_batch() -> tuple[Batch, list[Any], list[Any]] | None:
            batch = await anext(source, None)
            if batch is None:
                return None
            return (batch, *work(batch))

    else:
        it = reader.batches(size)

        def read_one() -> tuple[Batch, list[Any], list[Any]] | None:
            batch = next(it, None)
            if batch is None:
                return None
            return (batch, *work(batch))

        async def next_batch() -> tuple[Batch, list[Any], list[Any]] | None:
            try:
                return await asyncio.to_thread(read_one)
            except ReadError as exc:
                raise ImportFailed(str(exc)) from exc

    # The next batch is read and converted while this one is written: the CSV parser and
    # SQLite's writer then use both cores instead of taking turns.
    pending = asyncio.ensure_future(next_batch())
    try:
        while True:
            await reporter.check()
            got = await pending
            if got is None:
                return
            pending = asyncio.ensure_future(next_batch())
            await _store_batch(got, stage, reporter, counts, limit, emit, reader, params)
    finally:
        # Let a read in flight finish (a thread cannot be cancelled) before the file closes.
        if not pending.done():
            with contextlib.suppress(BaseException):
                await pending


async def _store_batch(
    got: tuple[Batch, list[Any], list[Any]],
    stage: Stage,
    reporter: Reporter,
    counts: Counts,
    limit: int,
    emit: Any,
    reader: Reader | SheetRows,
    params: ImportParams,
) -> None:
    batch, staged, errors = got
    errors.sort(key=lambda e: e.row)
    counts.rows_read += len(batch.rows) + len(batch.errors)
    counts.staged += len(staged)
    counts.staged_without_ext += sum(1 for r in staged if r[3] is None)
    counts.add_errors(errors, limit)
    if errors and emit is not None and counts.error_count - len(errors) < limit:
        await emit(
            "row_errors",
            {"errors": [{"row": e.row, "reason": e.reason} for e in errors[:ROW_EVENT_MAX]]},
            level="warning",
            message=f"{len(errors)} rows skipped in this batch",
        )
    await stage.add(staged)
    total = reader.total_rows
    if total is None and reader.total_bytes and batch.bytes_read:
        total = max(counts.rows_read, int(counts.rows_read * reader.total_bytes / batch.bytes_read))
    await reporter.progress(
        done=counts.rows_read,
        total=max(total or 0, counts.rows_read) if total else None,
        message=f"read {counts.rows_read} rows into {params.collection}",
        **counts.counters(),
    )


def _row_error(row_no: int, reason: str) -> Any:
    from foredeck.operations.readers import RowError

    return RowError(row_no, reason)
