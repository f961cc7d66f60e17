"""Import staging, run in an operations worker process (see offload/pool.py), never in the server.

Reading, mapping and hashing a million rows is pure Python: in the server's process it would
hold the GIL against the event loop and leave a million short-lived objects for the garbage
collector, whose full passes over the server's heap stalled every request and SSE stream for
hundreds of milliseconds at a time. Here the rows are read, converted and written to a staging
SQLite file (SQLite stores) without the server's database write lock, or handed back in batches
for a PostgreSQL temp table. One import at a time per worker: the state is module-global.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foredeck.errors import ValidationFailed
from foredeck.operations.errors import OperationFailed
from foredeck.operations.imports.mapping import StagedRow, converter, resolve
from foredeck.operations.readers import split
from foredeck.operations.readers.formats import Batch, Reader, ReadError, RowError, open_reader
from foredeck.operations.schemas import ColumnMapping

STAGE_TABLE = "rows"
# Row errors sent back per batch: enough for the per-batch event and the result's list.
ERRORS_PER_BATCH = 1000


@dataclass
class SourceSpec:
    """What to read (a file; or columns whose rows the server sends) and where rows go."""

    mapping: dict[str, Any]
    batch_size: int
    path: str | None = None
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    # Rows sent in by the server (Google Sheets): their header and whether rows are lists.
    columns: list[str] | None = None
    source_format: str = "csv"
    # SQLite: the staging file to write; None: converted rows go back to the server.
    stage_file: str | None = None
    # Offer to split a file at least this big in two (see readers/split.py); None: read it whole.
    split_min_bytes: int | None = None
    # Read only this part of the file (a range of bytes, or of Parquet row groups).
    part: tuple[int, int | None] | None = None


@dataclass
class Opened:
    columns: list[str]
    format: str
    content: str
    total_rows: int | None
    total_bytes: int | None
    # The part a second worker should read; this worker then reads the rest (the first).
    split: tuple[int, int | None] | None = None


@dataclass
class BatchOut:
    """One batch: counts, its first errors (sorted by row), and rows when not staged here."""

    rows_read: int = 0
    staged: int = 0
    without_ext: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    bytes_read: int = 0
    rows: list[StagedRow] | None = None
    done: bool = False
    # With done: the last row number read (the next part's offset), and for a part, whether
    # it ended between records.
    last_row: int = 0
    split_ok: bool = True


@dataclass
class _Session:
    spec: SourceSpec
    convert: Any
    reader: Reader | None = None
    batches: Any = None
    db: sqlite3.Connection | None = None
    staged: int = 0
    without_ext: int = 0


_current: _Session | None = None


def open_source(spec: SourceSpec) -> Opened:
    """Open the file (or take the columns given), check the mapping, create the stage file."""
    global _current
    close()
    reader: Reader | None = None
    try:
        if spec.path is not None:
            reader = _open(spec, spec.part)
            columns, fmt = reader.columns, reader.format
        else:
            columns, fmt = list(spec.columns or []), spec.source_format
        try:
            resolved = resolve(ColumnMapping.model_validate(spec.mapping), columns)
        except ValidationFailed as exc:
            raise OperationFailed(
                exc.message + ": " + "; ".join(d["message"] for d in exc.details)
            ) from None
        at = _split_point(spec, reader) if reader is not None and spec.stage_file else None
        if at is not None and reader is not None:
            reader.close()
            reader = _open(spec, (0, at))
        if reader is not None and hasattr(reader, "wanted"):
            reader.wanted = resolved.used()
        convert = converter(resolved, columns, positional=fmt in ("csv", "sheet"))
        session = _Session(spec=spec, convert=convert, reader=reader)
        if reader is not None:
            session.batches = reader.batches(spec.batch_size)
        if spec.stage_file is not None:
            session.db = _create_stage(Path(spec.stage_file))
    except ReadError as exc:
        if reader is not None:
            reader.close()
        raise OperationFailed(f"the file cannot be read: {exc}") from None
    except BaseException:
        if reader is not None:
            reader.close()
        raise
    _current = session
    return Opened(
        columns=columns,
        format=fmt,
        content=resolved.content,
        total_rows=reader.total_rows if reader else None,
        total_bytes=reader.total_bytes if reader else None,
        split=None if at is None else (at, None),
    )


def _open(spec: SourceSpec, part: tuple[int, int | None] | None) -> Reader:
    assert spec.path is not None
    return open_reader(
        Path(spec.path),
        fmt=spec.format,
        encoding=spec.encoding,
        delimiter=spec.delimiter,
        part=part,
    )


def _split_point(spec: SourceSpec, reader: Reader) -> int | None:
    """Where a second worker should start, when the file is worth splitting."""
    if spec.split_min_bytes is None or spec.part is not None or spec.path is None:
        return None
    if (reader.total_bytes or 0) < spec.split_min_bytes:
        return None
    path = Path(spec.path)
    if reader.format == "parquet":
        return split.parquet_split(path)
    if reader.format in ("csv", "jsonl") and reader.encoding:
        return split.text_split(
            path, reader.format, reader.encoding, getattr(reader, "dialect", None)
        )
    return None


def _create_stage(path: Path) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    # A throwaway file read once by the merge: no journal, no fsync.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(
        f"CREATE TABLE {STAGE_TABLE} (row_no INTEGER PRIMARY KEY, content TEXT, "
        "memory_type TEXT, external_id TEXT, metadata TEXT, content_hash TEXT)"
    )
    return db


def _session() -> _Session:
    if _current is None:
        raise OperationFailed("no import is open in this worker")
    return _current


def next_batch() -> BatchOut:
    """Read, convert and stage the next batch of the file; done=True at its end."""
    session = _session()
    try:
        batch = next(session.batches, None)
    except ReadError as exc:
        raise OperationFailed(str(exc)) from None
    if batch is None:
        reader = session.reader
        assert reader is not None
        return BatchOut(done=True, last_row=reader.last_row, split_ok=reader.split_ok)
    return _stage(session, batch)


def add_rows(rows: list[tuple[int, Any]], errors: list[RowError], bytes_read: int = 0) -> BatchOut:
    """Convert and stage rows the server read (a Google Sheet)."""
    return _stage(_session(), Batch(rows, errors, bytes_read))


def _stage(session: _Session, batch: Batch) -> BatchOut:
    convert = session.convert
    staged: list[StagedRow] = []
    errors = list(batch.errors)
    for row_no, row in batch.rows:
        out = convert(row_no, row)
        if type(out) is str:
            errors.append(RowError(row_no, out))
        else:
            staged.append(out)  # type: ignore[arg-type]
    errors.sort(key=lambda e: e.row)
    without_ext = sum(1 for r in staged if r[3] is None)
    session.staged += len(staged)
    session.without_ext += without_ext
    result = BatchOut(
        rows_read=len(batch.rows) + len(batch.errors),
        staged=len(staged),
        without_ext=without_ext,
        error_count=len(errors),
        errors=errors[:ERRORS_PER_BATCH],
        bytes_read=batch.bytes_read,
    )
    if session.db is None:
        result.rows = staged
    elif staged:
        session.db.execute("BEGIN")
        session.db.executemany(f"INSERT INTO {STAGE_TABLE} VALUES (?, ?, ?, ?, ?, ?)", staged)
        session.db.execute("COMMIT")
    return result


def finish(mode: str, parts: list[tuple[str, int, int, int]] | None = None) -> int:
    """Index the stage file and drop superseded duplicates; the number dropped.

    `parts`: stage files other workers wrote for later parts of the file, as (path, row
    offset, rows staged, rows without external id); their rows are appended first, numbered
    as one pass over the file would have. Done here, so the server holds its database's
    write lock only for the merge itself."""
    session = _session()
    db = session.db
    if db is None:
        return 0
    s = STAGE_TABLE
    for path, offset, staged, without_ext in parts or []:
        db.execute("ATTACH DATABASE ? AS part", (path,))
        db.execute(
            f"INSERT INTO {s} SELECT row_no + ?, content, memory_type, external_id, metadata, "
            f"content_hash FROM part.{s} ORDER BY row_no",
            (offset,),
        )
        db.execute("DETACH DATABASE part")
        session.staged += staged
        session.without_ext += without_ext
    duplicates = 0
    if session.staged - session.without_ext:
        # A later row with the same external_id wins, as a second import of it would.
        duplicates += _index_keeping_last(db, "external_id", "external_id IS NOT NULL")
    if mode != "append" and session.without_ext:
        duplicates += _index_keeping_last(db, "content_hash", "external_id IS NULL")
    db.close()
    session.db = None
    return max(0, duplicates)


def _index_keeping_last(db: sqlite3.Connection, key: str, rows: str) -> int:
    """Index `key` among `rows` for the merge, keeping only the last row of each key.

    Returns how many earlier rows were dropped. Most files repeat no key: then building a
    unique index is the whole check."""
    s = STAGE_TABLE
    index = f"{s}_{key}"
    partial = "" if key == "external_id" else f" WHERE {rows}"
    try:
        db.execute(f"CREATE UNIQUE INDEX {index} ON {s} ({key}){partial}")
        return 0
    except sqlite3.IntegrityError:
        pass
    db.execute(f"CREATE INDEX {index} ON {s} ({key}, row_no){partial}")
    return int(
        db.execute(
            f"DELETE FROM {s} WHERE {rows} AND EXISTS (SELECT 1 FROM {s} b "
            f"WHERE b.{rows} AND b.{key} = {s}.{key} AND b.row_no > {s}.row_no)"
        ).rowcount
    )


def close() -> None:
    """Forget the open import (the server removes the stage file)."""
    global _current
    session, _current = _current, None
    if session is None:
        return
    if session.reader is not None:
        with contextlib.suppress(Exception):
            session.reader.close()
    if session.db is not None:
        with contextlib.suppress(Exception):
            session.db.close()
