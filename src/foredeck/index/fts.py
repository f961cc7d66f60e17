"""The SQLite full-text index over memories.content: the insert trigger's definition, owned here.

Migration 0003 created the FTS5 table and its triggers (a migration keeps its own frozen copy).
A bulk load (the import merge) may set the insert trigger aside and do its work in one
statement; it takes the trigger from here, never by parsing what is in the database, and
leaves the trigger alone when the database holds a different one. A test checks that this
definition is the one the migrations build.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

FTS_TABLE = "memories_fts"
INSERT_TRIGGER = "memories_fts_ai"


def insert_trigger_ddl() -> str:
    """CREATE TRIGGER for the trigger that copies each new record's text into the index."""
    return (
        f"CREATE TRIGGER {INSERT_TRIGGER} AFTER INSERT ON memories BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content); END"
    )


def bulk_insert_sql() -> str:
    """The insert trigger's work for every record with an id above :before, as one statement."""
    return (
        f"INSERT INTO {FTS_TABLE}(rowid, content) "
        "SELECT id, content FROM memories WHERE id > :before ORDER BY id"
    )


def _normalized(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").lower()


async def installed_insert_trigger(conn: AsyncConnection) -> str | None:
    """The insert trigger's SQL as the database holds it (None when there is none)."""
    row = (
        await conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (INSERT_TRIGGER,),
        )
    ).first()
    return None if row is None else str(row[0])


async def suspend_insert_trigger(conn: AsyncConnection) -> bool:
    """Drop the insert trigger inside the caller's write transaction; False if left in place.

    Only the trigger defined here is set aside: a missing or different one (a newer schema
    than this code) keeps doing its work row by row, which is slower but never wrong."""
    installed = await installed_insert_trigger(conn)
    if installed is None or _normalized(installed) != _normalized(insert_trigger_ddl()):
        return False
    await conn.exec_driver_sql(f"DROP TRIGGER {INSERT_TRIGGER}")
    return True


async def resume_insert_trigger(conn: AsyncConnection, *, before: int) -> None:
    """Index the records inserted after `before` in bulk, then put the trigger back."""
    await conn.execute(text(bulk_insert_sql()), {"before": before})
    await conn.exec_driver_sql(insert_trigger_ddl())
