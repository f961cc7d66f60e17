"""Import preview: the columns, the mapping as it will be applied, and the first rows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.operations.imports.mapping import converter, resolve
from foredeck.operations.readers.formats import Batch, ReadError, open_reader
from foredeck.operations.schemas import ImportParams, ImportPreview, PreviewRow
from foredeck.operations.sources.locations import (
    SheetRows,
    resolve_import_path,
    sheet_target,
    sheets_client,
)


def _rows(batch: Batch | None, convert: Any) -> list[PreviewRow]:
    out = [PreviewRow(row=e.row, error=e.reason) for e in (batch.errors if batch else [])]
    for row_no, row in batch.rows if batch else []:
        got = convert(row_no, row)
        if isinstance(got, str):
            out.append(PreviewRow(row=row_no, error=got))
        else:
            _, content, mtype, ext, meta, _hash = got
            out.append(
                PreviewRow(
                    row=row_no,
                    content=content,
                    memory_type=mtype,
                    external_id=ext,
                    metadata=json.loads(meta),
                )
            )
    return sorted(out, key=lambda r: r.row)


async def preview(
    session: AsyncSession, config: Config, params: ImportParams, *, limit: int = 10
) -> ImportPreview:
    """Read the first rows of a file or sheet through the mapping; nothing is written."""
    if params.source == "url":
        raise ValidationFailed.field("source", "a preview reads a file or a sheet, not a URL")
    if params.source == "file":
        assert params.path is not None
        path = resolve_import_path(config, params.path)

        def read() -> tuple[list[str], str, int | None, Any, list[PreviewRow]]:
            reader = open_reader(
                path, fmt=params.format, encoding=params.encoding, delimiter=params.delimiter
            )
            try:
                resolved = resolve(params.mapping, reader.columns)
                convert = converter(resolved, reader.columns, positional=reader.format == "csv")
                batch = next(iter(reader.batches(limit)), None)
                return (
                    reader.columns,
                    reader.format,
                    reader.total_rows,
                    resolved,
                    _rows(batch, convert),
                )
            finally:
                reader.close()

        try:
            columns, fmt, total, resolved, rows = await asyncio.to_thread(read)
        except ReadError as exc:
            raise ValidationFailed.field("file", str(exc)) from exc
    else:
        client, sheets = await sheets_client(session, config)
        try:
            sid, a1 = sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
            source = SheetRows(client, sid, a1)
            await source.open()
            resolved = resolve(params.mapping, source.columns)
            convert = converter(resolved, source.columns, positional=True)
            batch = await anext(source.batches(limit), None)
            columns, fmt, total, rows = source.columns, "sheet", None, _rows(batch, convert)
        finally:
            await client.aclose()
    return ImportPreview(
        columns=columns,
        format=fmt,
        total_rows=total,
        mapping={
            "content": resolved.content,
            "external_id": resolved.external_id,
            "memory_type": resolved.memory_type,
            "metadata_json": resolved.metadata_json,
            "metadata": resolved.metadata,
        },
        rows=rows,
    )
