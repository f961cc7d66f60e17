"""Hybrid's keyword side for a query without identifiers: the every-word tier among the
semantic pool's records only.

Ranking an AND of common words over the whole table costs what the words cost, not what the
answer holds: FTS5's `bm25()` walks every term's full doclist to count the records holding
it, and even without ranking an AND of fifteen common words reads fifteen long doclists
(6-16 ms at 100k records; two words thousands of records hold, 60 ms); PostgreSQL ranks
every matching row. Among the fifty records the semantic side found, the same question costs
about a millisecond:

- PostgreSQL matches and ranks the stored keyword document of those rows only;
- SQLite cannot: an FTS5 MATCH with a rowid constraint still builds every term's doclist
  (5.7 ms for one rowid). The pool's texts go into a scratch in-memory FTS5 table with the
  memories table's tokenizer instead, so a word matches exactly as it would in the index.

A record holding every word but outside the semantic pool is not found this way; hybrid then
ranks as semantic does, which bench.search_quality measures on both halves of its set.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.index.keyword import (
    PG_CONFIG,
    PG_DOCUMENT,
    TIER_ALL,
    KeywordHit,
    ParsedQuery,
    expression,
)
from foredeck.models.records import Memory

# The tokenizer of memories_fts (migration 0003): a scratch table with another tokenizer
# would match other words than the index does.
SCRATCH_DDL = "CREATE VIRTUAL TABLE pool USING fts5(content, tokenize='porter unicode61')"
_local = threading.local()


def _scratch() -> sqlite3.Connection:
    # One per thread: a connection in memory, used only by the thread's event loop.
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=True)
        conn.execute(SCRATCH_DDL)
        _local.conn = conn
    return conn


def rank_texts(texts: list[tuple[int, str]], match: str) -> list[tuple[int, float]]:
    """(id, score) of the texts holding the FTS5 match expression, best first."""
    if not texts:
        return []
    conn = _scratch()
    # Filled inside a transaction that is rolled back: the table is empty again for the next.
    conn.execute("BEGIN")
    try:
        conn.executemany("INSERT INTO pool(rowid, content) VALUES (?, ?)", texts)
        rows = conn.execute(
            "SELECT rowid, bm25(pool) AS rank FROM pool WHERE pool MATCH ? ORDER BY rank, rowid",
            (match,),
        ).fetchall()
    finally:
        conn.execute("ROLLBACK")
    # bm25() is lower-is-better and negative; flipped, every score is higher-is-better.
    return [(int(i), -float(r)) for i, r in rows]


async def pool_hits(
    session: AsyncSession, parsed: ParsedQuery, pool: list[int], reader: Any = None
) -> list[KeywordHit]:
    """The records of `pool` that hold every word of the query, best first."""
    if parsed.empty or not pool:
        return []
    dialect = session.get_bind().dialect.name
    match = expression(parsed.units(), "AND", dialect)
    if dialect == "postgresql":
        # Behind a materialized CTE: inlined, the planner takes the GIN index for the @@ and
        # ANDs every term's posting list over the whole table (15 ms for twenty common words)
        # before keeping the pool's rows.
        rows = select(Memory.id.label("id"), PG_DOCUMENT.label("doc")).where(Memory.id.in_(pool))
        sub = rows.cte("pool_docs").prefix_with("MATERIALIZED")
        tsquery = func.to_tsquery(PG_CONFIG, match)
        score = func.ts_rank_cd(sub.c.doc, tsquery).label("score")
        stmt = (
            select(sub.c.id, score)
            .where(sub.c.doc.op("@@")(tsquery))
            .order_by(desc("score"), sub.c.id)
        )
        found = [(int(i), float(s)) for i, s in (await session.execute(stmt)).all()]
    else:
        if reader is not None:
            texts = reader.contents(pool)
        else:
            stmt = select(Memory.id, Memory.content).where(Memory.id.in_(pool))
            texts = [(int(i), str(c)) for i, c in (await session.execute(stmt)).all()]
        found = rank_texts(texts, match)
    return [KeywordHit(memory_id, s, TIER_ALL) for memory_id, s in found]
