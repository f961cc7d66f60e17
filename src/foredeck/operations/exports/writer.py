"""Export files, written in an operations worker process (see offload/pool.py), page by page.

The worker reads the records itself, over its own database connection, and writes them with
pyarrow or json: turning 20,000 rows a page into Python objects and then into Arrow arrays in
the server's process stalled its event loop (the GIL, and full garbage collections over the
server's heap). The server asks for one page at a time, so it can report progress and stop
at a cancel between pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Text, cast
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from foredeck.models.records import Memory
from foredeck.operations.errors import OperationFailed
from foredeck.operations.schemas import ExportParams
from foredeck.records import service as records_service

PAGE_ROWS = 20_000
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


def export_query(params: ExportParams, dialect: str = "sqlite") -> Any:
    """The export's columns over the records filter (order and paging are added per page)."""
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


def _column(values: Any, field: pa.Field) -> pa.Array:
    if pa.types.is_timestamp(field.type) and values and isinstance(values[0], str):
        return pa.array(values).cast(pa.timestamp("us")).cast(field.type)
    return pa.array(values, type=field.type)


def _record_batch(rows: list[Any]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [_column(col, SCHEMA.field(i)) for i, col in enumerate(columns)], schema=SCHEMA
    )


def iso(value: Any) -> str:
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
                    "created_at": iso(r[9]),
                    "updated_at": iso(r[10]),
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


@dataclass
class _Session:
    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    query: Any
    writer: _JSONLWriter | _ArrowWriter
    path: Path
    last: int = 0
    done: bool = False


_current: _Session | None = None


def open_export(database_url: str, params: ExportParams, path: str) -> None:
    """Connect to the database and create the file (JSONL, CSV or Parquet)."""
    global _current
    close()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    engine = create_async_engine(database_url, poolclass=NullPool)
    writer: _JSONLWriter | _ArrowWriter = (
        _JSONLWriter(target) if params.format == "jsonl" else _ArrowWriter(target, params.format)
    )
    query = export_query(params, engine.dialect.name)
    _current = _Session(loop=loop, engine=engine, query=query, writer=writer, path=target)


async def _page(session: _Session) -> list[Any]:
    async with session.engine.connect() as conn:
        result = await conn.execute(
            session.query.where(Memory.id > session.last).order_by(Memory.id).limit(PAGE_ROWS)
        )
        return list(result.tuples())


def next_page() -> int:
    """Write the next page of records; how many (0 at the end)."""
    session = _current
    if session is None:
        raise OperationFailed("no export is open in this worker")
    if session.done:
        return 0
    rows = session.loop.run_until_complete(_page(session))
    if len(rows) < PAGE_ROWS:
        session.done = True
    if not rows:
        return 0
    session.last = rows[-1][0]
    session.writer.write(rows)
    return len(rows)


def finish_export() -> int:
    """Close the file; its size in bytes."""
    session = _current
    if session is None:
        raise OperationFailed("no export is open in this worker")
    session.writer.close()
    size = session.path.stat().st_size
    close(keep=True)
    return size


def close(*, keep: bool = False) -> None:
    """Forget the open export; its file is removed unless it was finished."""
    global _current
    session, _current = _current, None
    if session is None:
        return
    with contextlib.suppress(Exception):
        session.writer.close()
    if not keep:
        session.path.unlink(missing_ok=True)
    with contextlib.suppress(Exception):
        session.loop.run_until_complete(session.engine.dispose())
    session.loop.close()
