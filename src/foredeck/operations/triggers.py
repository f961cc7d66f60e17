"""Bulk inserts on SQLite without per-row trigger work.

A row trigger that copies each new record into another table (a full-text index, say) costs
far more per row than one set-based INSERT ... SELECT after the rows are in. During an import's
merge, which holds SQLite's write lock, such triggers are set aside, the copy is done in bulk
for the new ids, and the triggers are put back, all in the same transaction: no other
connection ever sees the table without them. Triggers of any other shape are left alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_COPY_TRIGGER = re.compile(
    r"AFTER\s+INSERT\s+ON\s+\"?memories\"?\s+(?:FOR\s+EACH\s+ROW\s+)?BEGIN\s+"
    r"INSERT\s+INTO\s+(?P<target>\w+)\s*\((?P<cols>[^)]*)\)\s*"
    r"VALUES\s*\((?P<vals>[^)]*)\)\s*;\s*END\s*$",
    re.IGNORECASE | re.DOTALL,
)
_NEW_COLUMN = re.compile(r"^new\.(\w+)$", re.IGNORECASE)


@dataclass
class SuspendedTrigger:
    name: str
    sql: str
    bulk_sql: str


def bulk_equivalent(sql: str) -> str | None:
    """The set-based form of a copy trigger, or None when the trigger is of another shape."""
    match = _COPY_TRIGGER.search(sql)
    if match is None:
        return None
    cols = [c.strip() for c in match["cols"].split(",")]
    sources = []
    for value in match["vals"].split(","):
        found = _NEW_COLUMN.match(value.strip())
        if found is None:
            return None
        sources.append(found.group(1))
    if len(cols) != len(sources):
        return None
    return (
        f"INSERT INTO {match['target']} ({', '.join(cols)}) "
        f"SELECT {', '.join(sources)} FROM memories WHERE id > :before ORDER BY id"
    )


async def suspend_copy_triggers(conn: AsyncConnection) -> list[SuspendedTrigger]:
    """Drop the copy triggers on memories (inside the caller's transaction)."""
    rows = await conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'memories'"
    )
    suspended = []
    for name, sql in rows.all():  # type: ignore[misc]
        bulk = bulk_equivalent(sql or "")
        if bulk is not None:
            suspended.append(SuspendedTrigger(name=name, sql=sql, bulk_sql=bulk))
    for trig in suspended:
        await conn.exec_driver_sql(f'DROP TRIGGER "{trig.name}"')
    return suspended


async def resume_copy_triggers(
    conn: AsyncConnection, suspended: list[SuspendedTrigger], *, before: int
) -> None:
    """Do each trigger's work for the rows inserted after `before`, then restore it."""
    for trig in suspended:
        await conn.execute(text(trig.bulk_sql), {"before": before})
        await conn.exec_driver_sql(trig.sql)
