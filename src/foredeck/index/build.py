"""Filling an index from the stored vectors: the rebuild's work, and the fallback of a process
that cannot use the checkpoint index_state names (refused or unreachable in the blob store)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foredeck.index.vectors import VectorIndex
from foredeck.models.index import EmbeddingVector
from foredeck.models.records import Memory

BATCH = 10_000
Progress = Callable[[int, int, str], Awaitable[None]]


def _embedded(model: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        (EmbeddingVector.content_hash == Memory.content_hash) & (EmbeddingVector.model == model),
        Memory.embedding_state == "embedded",
    )


async def embedded_count(session: AsyncSession, model: str) -> int:
    """How many records have a stored vector of this model."""
    on, where = _embedded(model)
    query = select(func.count()).select_from(Memory).join(EmbeddingVector, on).where(where)
    return int(await session.scalar(query) or 0)


async def fill(
    sessionmaker: async_sessionmaker[AsyncSession],
    vindex: VectorIndex,
    model: str,
    *,
    total: int = 0,
    progress: Progress | None = None,
) -> int:
    """Add every embedded record's vector of `model` to vindex, by id; how many were added."""
    from foredeck.index.manager import vectors_from_bytes

    on, where = _embedded(model)
    done, last_id = 0, 0
    while True:
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Memory.id, EmbeddingVector.vector)
                    .join(EmbeddingVector, on)
                    .where(where, Memory.id > last_id)
                    .order_by(Memory.id)
                    .limit(BATCH)
                )
            ).all()
        if not rows:
            return done
        ids = [int(r[0]) for r in rows]
        matrix = vectors_from_bytes([r[1] for r in rows], vindex.dimension)
        await asyncio.to_thread(vindex.add, ids, matrix)
        done += len(ids)
        last_id = ids[-1]
        if progress is not None:
            await progress(done, max(total, done), f"indexed {done} vectors ({vindex.kind})")
