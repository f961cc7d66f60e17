"""The import engine's merge: staged rows go into the store in one transaction.

Rows are staged first (by an operations worker: see run.py and staging.py), which keeps
the long read phase off the database's write lock (SQLite has one writer, and job progress
writes must get through); the single merge makes a failed or cancelled import leave the
store exactly as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from foredeck.index import fts
from foredeck.models.base import UTCDateTime, utcnow
from foredeck.operations.imports import bulkindex
from foredeck.operations.imports.mapping import StagedRow
from foredeck.operations.imports.staging import STAGE_TABLE
from foredeck.operations.readers.formats import RowError
from foredeck.records import service as records_service

DELETE_CHUNK = 500
SQLITE_CACHE_KIB = 128 * 1024
# Below this many rows, per-row triggers are cheaper than setting them aside.
BULK_TRIGGER_ROWS = 5000
STAGE_SCHEMA = "fd_stage"
STAGE_COLUMNS = ["row_no", "content", "memory_type", "external_id", "metadata", "content_hash"]
# Rows encoded per turn of the event loop when copying into PostgreSQL.
ADD_SLICE = 5000


class Reporter(Protocol):
    async def progress(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        *,
        force: bool = False,
        **counters: Any,
    ) -> None: ...

    async def check(self) -> None: ...


@dataclass
class Counts:
    rows_read: int = 0
    staged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    duplicates: int = 0
    staged_without_ext: int = 0
    deleted: int = 0

    def reset(self) -> None:
        """Back to zero, for a second pass over the source."""
        vars(self).update(vars(Counts()))

    def add_errors(self, errors: Iterable[RowError], limit: int, total: int | None = None) -> None:
        """Count the errors (`total` of them, when only the first few are given); keep some."""
        added = 0
        for err in errors:
            added += 1
            if len(self.errors) < limit:
                self.errors.append(err)
        self.error_count += added if total is None else total

    def counters(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped + self.error_count,
            "duplicates": self.duplicates,
            "deleted": self.deleted,
        }


class Stage:
    """Where staged rows wait for the merge, read through the import's own connection.

    SQLite: a file an operations worker wrote, attached here only for the merge, so staging
    never takes the database's single write lock. PostgreSQL: a temporary table filled with
    the rows the worker converted."""

    def __init__(self, conn: AsyncConnection, stage_file: Path | None = None) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.stage_file = stage_file if self.dialect == "sqlite" else None
        if self.dialect == "sqlite" and self.stage_file is None:
            raise ValueError("SQLite imports stage into a file: give stage_file")
        if self.stage_file is not None:
            self.name = f"{STAGE_SCHEMA}.{STAGE_TABLE}"
        else:
            self.name = f"fd_import_{uuid.uuid4().hex[:12]}"
        self._attached = False

    @property
    def in_worker(self) -> bool:
        """Whether the worker writes the rows (and drops duplicates) itself."""
        return self.stage_file is not None

    async def create(self) -> None:
        if self.dialect == "sqlite":
            # The content-hash index takes random inserts: a bigger page cache for this
            # connection keeps the merge from spilling pages on every row.
            await self.conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            return
        await self.conn.exec_driver_sql(
            f"CREATE TEMP TABLE {self.name} (row_no BIGINT, content TEXT, memory_type TEXT, "
            "external_id TEXT, metadata TEXT, content_hash TEXT)"
        )
        await self.conn.commit()

    async def add(self, rows: list[StagedRow]) -> None:
        """COPY converted rows into the temp table (PostgreSQL), a slice at a time.

        The driver encodes rows on the event loop: slices keep each turn of it short."""
        raw = await self.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        for start in range(0, len(rows), ADD_SLICE):
            await driver.copy_records_to_table(
                self.name, records=rows[start : start + ADD_SLICE], columns=STAGE_COLUMNS
            )

    async def attach(self) -> None:
        """Make the worker's file readable on this connection (outside any transaction)."""
        if self.stage_file is not None and not self._attached:
            await self.conn.exec_driver_sql(
                f"ATTACH DATABASE ? AS {STAGE_SCHEMA}", (str(self.stage_file),)
            )
            self._attached = True

    async def drop_duplicates(self, counts: Counts, mode: str) -> None:
        """Keep the last row per external_id (and, unless appending, per text without one)."""
        s = self.name
        if counts.staged - counts.staged_without_ext:
            await self.conn.exec_driver_sql(f"CREATE INDEX {s}_ext ON {s} (external_id, row_no)")
            # A later row with the same external_id wins, as a second import of it would.
            counts.duplicates = await self._exec(
                f"DELETE FROM {s} WHERE external_id IS NOT NULL AND EXISTS (SELECT 1 FROM {s} b "
                f"WHERE b.external_id = {s}.external_id AND b.row_no > {s}.row_no)"
            )
        if mode != "append" and counts.staged_without_ext:
            await self.conn.exec_driver_sql(f"CREATE INDEX {s}_hash ON {s} (content_hash, row_no)")
            counts.duplicates += await self._exec(
                f"DELETE FROM {s} WHERE external_id IS NULL AND EXISTS (SELECT 1 FROM {s} b "
                f"WHERE b.external_id IS NULL AND b.content_hash = {s}.content_hash "
                f"AND b.row_no > {s}.row_no)"
            )

    async def drop(self) -> None:
        try:
            await self.conn.rollback()
            if self.stage_file is None:
                await self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.name}")
                await self.conn.commit()
            elif self._attached:
                await self.conn.exec_driver_sql(f"DETACH DATABASE {STAGE_SCHEMA}")
                self._attached = False
            if self.dialect == "sqlite":
                await self.conn.exec_driver_sql("PRAGMA cache_size=-2000")
        except Exception:
            await self.conn.invalidate()

    def _meta(self, column: str) -> str:
        return f"CAST({column} AS JSONB)" if self.dialect == "postgresql" else column

    def _meta_differs(self) -> str:
        if self.dialect == "postgresql":
            return "memories.metadata <> CAST(s.metadata AS JSONB)"
        return "json(memories.metadata) <> json(s.metadata)"

    async def _exec(self, sql: str, **params: Any) -> int:
        stmt = text(sql)
        if "now" in params:
            stmt = stmt.bindparams(bindparam("now", type_=UTCDateTime()))
        result = await self.conn.execute(stmt, params)
        return int(result.rowcount or 0)

    async def _scalar(self, sql: str, **params: Any) -> int:
        return int((await self.conn.execute(text(sql), params)).scalar() or 0)

    async def merge(
        self,
        *,
        collection: str,
        mode: str,
        owner_id: int | None,
        counts: Counts,
        max_errors: int,
    ) -> None:
        """Apply the staged rows to the collection in one transaction (the caller commits)."""
        s, c = self.name, collection
        now = utcnow()
        with_ext = counts.staged - counts.staged_without_ext
        if not self.in_worker:
            await self.drop_duplicates(counts, mode)
        staged = counts.staged - counts.duplicates
        suspended = rebuild = False
        before = 0
        if self.dialect == "sqlite":
            # Take the write lock before reading anything, so no snapshot can go stale.
            await self._exec("UPDATE memories SET id = id WHERE 1 = 0")
            if staged >= BULK_TRIGGER_ROWS:
                before = await self._scalar("SELECT coalesce(max(id), 0) FROM memories")
                # Per-row full-text inserts cost far more than one set-based insert after
                # the rows are in; no other connection sees the table without the trigger.
                suspended = await fts.suspend_insert_trigger(self.conn)
                # Only rows with an external id are merged before the index is back: the
                # others look their text up in it.
                if with_ext >= before:
                    rebuild = await bulkindex.suspend(self.conn)
        ext_exists = (
            "EXISTS (SELECT 1 FROM memories m WHERE m.collection = :c "
            "AND m.external_id = s.external_id)"
        )
        hash_exists = (
            "EXISTS (SELECT 1 FROM memories m WHERE m.collection = :c "
            "AND m.external_id IS NULL AND m.content_hash = s.content_hash)"
        )
        if not with_ext:
            pass
        elif mode == "append":
            conflicts = await self.conn.execute(
                text(
                    f"SELECT s.row_no, s.external_id FROM {s} s WHERE s.external_id IS NOT NULL "
                    f"AND {ext_exists} ORDER BY s.row_no"
                ),
                {"c": c},
            )
            for row_no, ext in conflicts:
                counts.skipped += 1
                if len(counts.errors) < max_errors:
                    counts.errors.append(
                        RowError(int(row_no), f"external_id {ext!r} already exists; skipped")
                    )
        else:
            changed = "CASE WHEN memories.content_hash <> s.content_hash THEN {new} ELSE {old} END"
            counts.updated = await self._exec(
                f"UPDATE memories SET content = s.content, memory_type = s.memory_type, "
                f"metadata = {self._meta('s.metadata')}, content_hash = s.content_hash, "
                "embedding_state = "
                + changed.format(new="'pending'", old="memories.embedding_state")
                + ", embedding_error = "
                + changed.format(new="NULL", old="memories.embedding_error")
                + ", embedding_attempts = "
                + changed.format(new="0", old="memories.embedding_attempts")
                + f", updated_at = :now FROM {s} s WHERE memories.collection = :c "
                "AND memories.external_id = s.external_id AND (memories.content_hash <> "
                "s.content_hash OR memories.memory_type <> s.memory_type OR "
                f"{self._meta_differs()})",
                c=c,
                now=now,
            )
        columns = (
            "content, memory_type, collection, metadata, external_id, content_hash, owner_id, "
            "embedding_state, embedding_attempts, created_at, updated_at"
        )
        select_part = (
            "SELECT s.content, s.memory_type, CAST(:c AS VARCHAR(128)), "
            f"{self._meta('s.metadata')}, s.external_id, s.content_hash, "
            f"CAST(:owner AS BIGINT), 'pending', 0, :now, :now FROM {s} s"
        )
        if with_ext:
            # Existing ids were updated (or reported) above; the conflict clause skips them
            # here without a second lookup per row.
            counts.inserted = await self._exec(
                f"INSERT INTO memories ({columns}) {select_part} WHERE s.external_id IS NOT "
                "NULL ORDER BY s.row_no ON CONFLICT (collection, external_id) DO NOTHING",
                c=c,
                owner=owner_id,
                now=now,
            )
        if rebuild:
            await bulkindex.resume(self.conn)
        if counts.staged_without_ext:
            no_ext_filter = "" if mode == "append" else f" AND NOT {hash_exists}"
            counts.inserted += await self._exec(
                f"INSERT INTO memories ({columns}) {select_part} WHERE s.external_id IS NULL"
                f"{no_ext_filter} ORDER BY s.row_no",
                c=c,
                owner=owner_id,
                now=now,
            )
        if suspended:
            await fts.resume_insert_trigger(self.conn, before=before)
        if mode == "replace":
            counts.deleted = await self._delete_rest(
                collection, with_ext > 0, counts.staged_without_ext > 0
            )
        counts.unchanged = max(0, staged - counts.inserted - counts.updated - counts.skipped)

    async def _delete_rest(self, collection: str, any_with_ext: bool, any_without_ext: bool) -> int:
        """Records of the collection that the import did not name (replace mode)."""
        s = self.name
        # Two queries, so each NOT EXISTS can use one staging index.
        by_ext = await self.conn.execute(
            text(
                "SELECT m.id FROM memories m WHERE m.collection = :c AND m.external_id IS NOT NULL"
                + (
                    f" AND NOT EXISTS (SELECT 1 FROM {s} s WHERE s.external_id = m.external_id)"
                    if any_with_ext
                    else ""
                )
            ),
            {"c": collection},
        )
        # Without staged rows lacking an id, every id-less record of the collection goes;
        # otherwise those whose text the import does not have, and all but the oldest copy
        # of a text it has (an earlier append may have added copies).
        by_hash = await self.conn.execute(
            text(
                "SELECT m.id FROM memories m WHERE m.collection = :c AND m.external_id IS NULL"
                + (
                    f" AND (NOT EXISTS (SELECT 1 FROM {s} s WHERE s.content_hash = "
                    "m.content_hash AND s.external_id IS NULL) OR EXISTS (SELECT 1 FROM "
                    "memories o WHERE o.content_hash = m.content_hash AND o.collection = :c "
                    "AND o.external_id IS NULL AND o.id < m.id))"
                    if any_without_ext
                    else ""
                )
            ),
            {"c": collection},
        )
        rows = [*by_ext, *by_hash]
        ids = [int(r[0]) for r in rows]
        session = AsyncSession(bind=self.conn, expire_on_commit=False)
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            marks = ", ".join(str(i) for i in chunk)
            await self.conn.exec_driver_sql(f"DELETE FROM memories WHERE id IN ({marks})")
            for hook in records_service.delete_hooks:
                await hook(session, chunk)
        return len(ids)
