"""The content-hash index of memories, rebuilt rather than updated by a large SQLite merge.

Content hashes are random, so every inserted row lands on a random page of that index; when
the merge brings at least as many rows as the table had, building the index afresh (one
sort) costs less than those inserts. The index is dropped and built again inside the
merge's transaction, so no other connection ever sees the table without it. Its definition
comes from the model (`models.records`), never from parsing the database; a database that
holds a different definition (a newer schema) keeps its index, updated row by row.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateIndex, Index

from foredeck.models.records import Memory

HASH_INDEX = "ix_memories_content_hash"


def _index() -> Index:
    table = Memory.__table__
    return next(i for i in table.indexes if i.name == HASH_INDEX)  # type: ignore[attr-defined]


def hash_index_ddl(conn: AsyncConnection) -> str:
    """CREATE INDEX for the content-hash index, as the model defines it."""
    return str(CreateIndex(_index()).compile(dialect=conn.dialect))


def _normalized(sql: str) -> str:
    return " ".join(sql.replace("(", " ( ").replace(")", " ) ").split()).rstrip(";").lower()


async def installed(conn: AsyncConnection) -> str | None:
    row = (
        await conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (HASH_INDEX,)
        )
    ).first()
    return None if row is None else str(row[0])


async def suspend(conn: AsyncConnection) -> bool:
    """Drop the index inside the caller's write transaction; False if left in place."""
    found = await installed(conn)
    if found is None or _normalized(found) != _normalized(hash_index_ddl(conn)):
        return False
    await conn.exec_driver_sql(f"DROP INDEX {HASH_INDEX}")
    return True


async def resume(conn: AsyncConnection) -> None:
    await conn.exec_driver_sql(hash_index_ddl(conn))
