"""The pending-embedding pipeline: claim pending records, embed (cache first), store, log adds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.embedding.providers import Embedder
from foredeck.models.base import utcnow
from foredeck.models.index import EmbeddingRetry, EmbeddingVector, IndexChange, IndexState
from foredeck.models.records import Memory


class ModelChanged(Exception):
    """The embedding model changed while a batch was embedded; its work is rolled back."""


@dataclass
class BatchResult:
    claimed: int = 0
    embedded: int = 0
    cached: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _due_filter() -> Any:
    """Pending records, and failed ones whose retry time has come."""
    retry_due = select(EmbeddingRetry.memory_id).where(EmbeddingRetry.next_attempt_at <= utcnow())
    return or_(
        Memory.embedding_state == "pending",
        and_(Memory.embedding_state == "failed", Memory.id.in_(retry_due)),
    )


async def due_count(session: AsyncSession) -> int:
    """Records waiting to be embedded now (the embedding queue depth)."""
    return int(await session.scalar(select(func.count()).where(_due_filter())) or 0)


async def has_due(session: AsyncSession) -> bool:
    return (await session.scalar(select(Memory.id).where(_due_filter()).limit(1))) is not None


async def cached_vectors(session: AsyncSession, model: str, hashes: list[str]) -> dict[str, bytes]:
    if not hashes:
        return {}
    rows = await session.execute(
        select(EmbeddingVector.content_hash, EmbeddingVector.vector).where(
            EmbeddingVector.model == model, EmbeddingVector.content_hash.in_(hashes)
        )
    )
    return {h: v for h, v in rows.all()}


async def store_vectors(
    session: AsyncSession, model: str, dimension: int, vectors: dict[str, bytes]
) -> None:
    """Insert into the cache; a row another worker wrote meanwhile is kept."""
    if not vectors:
        return
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    rows = [
        {"model": model, "content_hash": h, "dimension": dimension, "vector": v, "created_at": now}
        for h, v in vectors.items()
    ]
    await session.execute(upsert(EmbeddingVector).on_conflict_do_nothing(), rows)


async def claim(session: AsyncSession, limit: int) -> list[tuple[int, str, str]]:
    """(id, content_hash, content) of due records; other workers skip rows locked here."""
    query = select(Memory.id, Memory.content_hash, Memory.content).where(_due_filter())
    query = query.order_by(Memory.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Memory)
    return [(int(i), h, c) for i, h, c in (await session.execute(query)).all()]


async def mark_embedded(session: AsyncSession, items: list[tuple[int, str]]) -> int:
    """Mark records embedded (only if their text is still the one embedded) and log the adds."""
    if not items:
        return 0
    now = utcnow()
    ids = [i for i, _ in items]
    table: Any = Memory.__table__
    # Core executemany: one round trip for the batch; a changed text no longer matches the hash.
    conn = await session.connection()
    await conn.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.content_hash == bindparam("b_hash"))
        .values(
            embedding_state="embedded",
            embedding_error=None,
            embedded_at=now,
            updated_at=table.c.updated_at,
        ),
        [{"b_id": i, "b_hash": h} for i, h in items],
    )
    wanted = dict(items)
    current = await session.execute(
        select(Memory.id, Memory.content_hash).where(
            Memory.id.in_(ids), Memory.embedding_state == "embedded"
        )
    )
    done = [(int(i), h) for i, h in current.all() if wanted.get(int(i)) == h]
    if done:
        await session.execute(
            insert(IndexChange),
            [{"memory_id": i, "op": "add", "content_hash": h, "created_at": now} for i, h in done],
        )
    await session.execute(delete(EmbeddingRetry).where(EmbeddingRetry.memory_id.in_(ids)))
    await session.flush()
    return len(done)


async def mark_failed(session: AsyncSession, ids: list[int], error: str, config: Config) -> None:
    """Record the error; retry later with exponential backoff until the attempts run out."""
    rows = await session.execute(
        select(Memory.id, Memory.embedding_attempts).where(Memory.id.in_(ids))
    )
    now = utcnow()
    for memory_id, attempts in rows.all():
        attempts = int(attempts) + 1
        await session.execute(
            update(Memory)
            .where(Memory.id == memory_id)
            .values(
                embedding_state="failed",
                embedding_error=error[:2000],
                embedding_attempts=attempts,
                updated_at=Memory.updated_at,
            )
        )
        await session.execute(delete(EmbeddingRetry).where(EmbeddingRetry.memory_id == memory_id))
        if attempts < config.embedding_max_attempts:
            delay = config.embedding_retry_seconds * (2 ** (attempts - 1))
            session.add(
                EmbeddingRetry(memory_id=memory_id, next_attempt_at=now + timedelta(seconds=delay))
            )
    await session.flush()


async def live_model(session: AsyncSession, *, hold: bool = False) -> str | None:
    """The model index_state names: the one every new vector must come from.

    With hold (PostgreSQL), the row stays share-locked until commit, so a model switch, which
    updates the row before requeueing records, waits for this batch and then requeues it too.
    """
    # "default": the one index there is (foredeck.index.manager.NAME).
    query = select(IndexState.model).where(IndexState.name == "default")
    if hold and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return await session.scalar(query)


async def embed_batch(
    session: AsyncSession, embedder: Embedder, config: Config, *, limit: int
) -> BatchResult:
    """One batch: claim, reuse cached vectors, embed the rest off the event loop, store."""
    result = BatchResult()
    claimed = await claim(session, limit)
    result.claimed = len(claimed)
    if not claimed:
        return result
    hashes = sorted({h for _, h, _ in claimed})
    cached = await cached_vectors(session, embedder.name, hashes)
    texts = {h: c for _, h, c in claimed if h not in cached}
    result.cached = sum(1 for _, h, _ in claimed if h in cached)
    if texts:
        order = list(texts)
        try:
            matrix = await asyncio.to_thread(embedder.encode, [texts[h] for h in order])
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            failed_ids = [i for i, h, _ in claimed if h in texts]
            await mark_failed(session, failed_ids, message, config)
            result.failed = len(failed_ids)
            result.errors.append(message)
            ok_items = [(i, h) for i, h, _ in claimed if h in cached]
            result.embedded = await mark_embedded(session, ok_items)
            await _check_model(session, embedder.name)
            return result
        fresh = {
            h: np.ascontiguousarray(row, dtype=np.float32).tobytes()
            for h, row in zip(order, matrix, strict=True)
        }
        await store_vectors(session, embedder.name, embedder.dimension, fresh)
    result.embedded = await mark_embedded(session, [(i, h) for i, h, _ in claimed])
    await _check_model(session, embedder.name)
    return result


async def _check_model(session: AsyncSession, model: str) -> None:
    # After the batch's writes: on SQLite this transaction now holds the write lock, so the
    # read is current; on PostgreSQL the share lock orders it against a switch.
    live = await live_model(session, hold=True)
    if live is not None and live != model:
        raise ModelChanged(f"the embedding model changed from {model} to {live}")


async def _requeue(session: AsyncSession, where: Any) -> int:
    result: Any = await session.execute(
        update(Memory)
        .where(where)
        .values(
            embedding_state="pending",
            embedding_attempts=0,
            embedding_error=None,
            updated_at=Memory.updated_at,
        )
    )
    await session.execute(delete(EmbeddingRetry))
    await session.flush()
    return int(result.rowcount or 0)


async def retry_failed(session: AsyncSession) -> int:
    """Put every failed record back to pending with a fresh attempt count."""
    return await _requeue(session, Memory.embedding_state == "failed")


async def reset_all(session: AsyncSession) -> int:
    """Every record back to pending (the embedding model changed)."""
    return await _requeue(session, Memory.embedding_state != "pending")


async def cache_size(session: AsyncSession, model: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(EmbeddingVector).where(EmbeddingVector.model == model)
        )
        or 0
    )
