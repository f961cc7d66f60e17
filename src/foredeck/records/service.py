"""Records CRUD. A changed text goes back to `pending` so the embedding pipeline picks it up."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import Conflict, NotFound
from foredeck.models.records import Memory
from foredeck.records.schemas import MemorySort

# Called after records are deleted (with their ids), e.g. to drop their vectors.
DeleteHook = Callable[[AsyncSession, list[int]], Awaitable[None]]
delete_hooks: list[DeleteHook] = []


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


async def get_memory(session: AsyncSession, memory_id: int) -> Memory:
    memory = await session.get(Memory, memory_id)
    if memory is None:
        raise NotFound(f"Memory {memory_id} not found")
    return memory


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "A memory with this external_id already exists in the collection",
            code="DUPLICATE_EXTERNAL_ID",
            details=[{"field": "external_id", "message": "already used in this collection"}],
        ) from exc


async def create_memory(
    session: AsyncSession,
    *,
    content: str,
    memory_type: str = "note",
    collection: str = "default",
    metadata: dict[str, Any] | None = None,
    external_id: str | None = None,
    owner_id: int | None = None,
) -> Memory:
    memory = Memory(
        content=content,
        memory_type=memory_type,
        collection=collection,
        metadata_=metadata or {},
        external_id=external_id,
        content_hash=content_hash(content),
        owner_id=owner_id,
        embedding_state="pending",
    )
    session.add(memory)
    await _flush(session)
    return memory


async def update_memory(session: AsyncSession, memory: Memory, changes: dict[str, Any]) -> Memory:
    for key, value in changes.items():
        if key == "metadata":
            memory.metadata_ = value
        elif key == "content":
            new_hash = content_hash(value)
            if new_hash != memory.content_hash:
                memory.content = value
                memory.content_hash = new_hash
                memory.embedding_state = "pending"
                memory.embedding_error = None
                memory.embedding_attempts = 0
        else:
            setattr(memory, key, value)
    memory.updated_at = datetime.now(UTC)
    await _flush(session)
    return memory


async def delete_memory(session: AsyncSession, memory: Memory) -> None:
    memory_id = memory.id
    await session.delete(memory)
    await session.flush()
    for hook in delete_hooks:
        await hook(session, [memory_id])


def filtered_query(
    *,
    memory_type: str | None = None,
    collection: str | None = None,
    owner_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    embedding_state: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Select[Any]:
    """The one filter used by listing, export and search."""
    query = select(Memory)
    if memory_type:
        query = query.where(Memory.memory_type == memory_type)
    if collection:
        query = query.where(Memory.collection == collection)
    if owner_id is not None:
        query = query.where(Memory.owner_id == owner_id)
    if created_after:
        query = query.where(Memory.created_at >= created_after)
    if created_before:
        query = query.where(Memory.created_at < created_before)
    if embedding_state:
        query = query.where(Memory.embedding_state == embedding_state)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Memory.content.ilike(f"%{escaped}%", escape="\\"))
    for key, value in (metadata or {}).items():
        query = query.where(Memory.metadata_[key].as_string() == str(value))
    return query


SORTS = {
    MemorySort.created_at: (Memory.created_at.asc(), Memory.id.asc()),
    MemorySort.created_at_desc: (Memory.created_at.desc(), Memory.id.desc()),
    MemorySort.updated_at: (Memory.updated_at.asc(), Memory.id.asc()),
    MemorySort.updated_at_desc: (Memory.updated_at.desc(), Memory.id.desc()),
    MemorySort.id: (Memory.id.asc(),),
    MemorySort.id_desc: (Memory.id.desc(),),
}


async def list_memories(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    sort: MemorySort = MemorySort.created_at_desc,
    **filters: Any,
) -> tuple[list[Memory], int]:
    query = filtered_query(**filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(*SORTS[sort]).offset(offset).limit(limit))
    return list(rows), int(total)


async def counts_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Memory.embedding_state, func.count()).group_by(Memory.embedding_state)
    )
    counts = {"pending": 0, "embedded": 0, "failed": 0}
    counts.update({state: int(n) for state, n in rows.all()})
    counts["total"] = sum(counts[s] for s in ("pending", "embedded", "failed"))
    return counts
