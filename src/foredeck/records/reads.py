"""The hot read path for one record by id.

Through async SQLAlchemy + aiosqlite a point read costs two thread hops and a greenlet switch
(~1 ms here, most of a request). On SQLite in WAL mode a reader never waits for writers, and a
primary-key lookup in the page cache takes tens of microseconds, so a read-only sqlite3
connection used directly on the event loop serves these reads far faster than the hop costs.
PostgreSQL keeps the normal session path (asyncpg has no thread hop).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from foredeck.config import Config
from foredeck.kit.runtime import Part

_COLUMNS = (
    "id, content, memory_type, collection, metadata, external_id, content_hash, owner_id, "
    "embedding_state, embedding_error, embedded_at, created_at, updated_at"
)


def _iso(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) == 26 and value[10] == " ":
        # SQLAlchemy's SQLite form of a naive UTC time, 'YYYY-MM-DD HH:MM:SS.ffffff': the
        # ISO form is a character away, and parsing it back cost a tenth of the read.
        return f"{value[:10]}T{value[11:]}Z"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat().replace("+00:00", "Z")


class SqliteRecordReader:
    """Point reads of records on a read-only connection; one per process."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA busy_timeout=200")

    def get(self, memory_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "content": row[1],
            "memory_type": row[2],
            "collection": row[3],
            "metadata": json.loads(row[4]) if row[4] else {},
            "external_id": row[5],
            "content_hash": row[6],
            "owner_id": row[7],
            "embedding_state": row[8],
            "embedding_error": row[9],
            "embedded_at": _iso(row[10]),
            "created_at": _iso(row[11]),
            "updated_at": _iso(row[12]),
        }

    def contents(self, ids: list[int]) -> list[tuple[int, str]]:
        """(id, content) of those records that exist."""
        marks = ",".join("?" * len(ids))
        rows = self._conn.execute(f"SELECT id, content FROM memories WHERE id IN ({marks})", ids)
        return [(int(i), str(c)) for i, c in rows.fetchall()]

    def bounded_rows(
        self, sql: str, params: dict[str, Any], max_steps: int
    ) -> list[tuple[Any, ...]] | None:
        """Another read on this connection, or None once it has run max_steps thousand
        virtual-machine steps: a read that turns out long is abandoned so that it does not
        hold up the loop, and the caller runs it through its session instead."""
        steps = 0

        def tick() -> bool:
            nonlocal steps
            steps += 1
            return steps > max_steps

        self._conn.set_progress_handler(tick, 1000)
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if steps > max_steps:
                return None
            raise exc
        finally:
            self._conn.set_progress_handler(None, 0)

    def close(self) -> None:
        self._conn.close()


# SQLite only (None on PostgreSQL): put on the runtime by the app at start-up.
RECORD_READER: Part[SqliteRecordReader] = Part("record_reader")


def make_reader(config: Config) -> SqliteRecordReader | None:
    url = config.resolved_database_url
    if not url.startswith("sqlite") or ":memory:" in url:
        return None
    return SqliteRecordReader(url.split("///", 1)[1])
