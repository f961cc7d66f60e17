"""Index logic: stats, the full rebuild, removing deleted records' vectors, model changes."""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBEDDER
from foredeck.index import build, store
from foredeck.index.manager import NAME, IndexManager, get_state, safe_seq
from foredeck.index.parts import INDEX_MANAGER, MODEL_SWITCH
from foredeck.index.schemas import IndexStats, RagIndex
from foredeck.index.vectors import VectorIndex
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.index import IndexChange, IndexState
from foredeck.models.records import Memory
from foredeck.records import service as records_service

log = get_logger(__name__)
# index_state.status after a model change until every record has a vector of the new model.
REEMBEDDING = "reembedding"
Progress = build.Progress

# Managers of this process, told at once when a delete logs a removal.
_managers: weakref.WeakSet[IndexManager] = weakref.WeakSet()


def register_manager(manager: IndexManager) -> None:
    _managers.add(manager)


async def remove_deleted(session: AsyncSession, ids: list[int]) -> None:
    """records delete hook: log a removal for each deleted record's vector."""
    if not ids:
        return
    now = utcnow()
    session.add_all(
        [IndexChange(memory_id=i, op="remove", content_hash=None, created_at=now) for i in ids]
    )
    await session.flush()
    for manager in list(_managers):
        manager.dirty = True


async def stats(session: AsyncSession, runtime: Runtime) -> IndexStats:
    """Figures of the live index (after catching up with the change log)."""
    manager: IndexManager = runtime[INDEX_MANAGER]
    await manager.sync(runtime.sessionmaker)
    row = await get_state(session)
    counts = await records_service.counts_by_state(session)
    pending = await embedding_service.due_count(session)
    switch = runtime.get(MODEL_SWITCH)
    target = switch.target if switch is not None else None
    if target is None and manager.live_model not in (None, manager.model):
        target = manager.live_model
    searcher, _ = manager.serving(runtime[EMBEDDER])
    return IndexStats(
        name=NAME,
        status="loading_model" if target else row.status,
        search_model=searcher.name,
        target_model=target,
        model_error=switch.error if switch is not None else None,
        index_type=manager.vindex.kind,
        model=manager.model,
        dimension=manager.dimension,
        vector_count=manager.vindex.count,
        tombstones=manager.vindex.tombstones,
        pending_count=max(pending, counts["pending"]),
        failed_count=counts["failed"],
        bytes_on_disk=row.bytes_on_disk,
        checksum=row.checksum,
        generation=row.generation,
        last_rebuild_at=row.last_rebuild_at,
        last_rebuild_seconds=row.last_rebuild_seconds,
        hnsw_threshold=runtime.config.index_hnsw_threshold,
        path=str(manager.root.resolve()),
    )


async def rag_indices(session: AsyncSession, runtime: Runtime) -> list[RagIndex]:
    """Seed 002's RAG indices: foredeck keeps one index, filtered per collection."""
    info = await stats(session, runtime)
    rows = await session.execute(
        select(Memory.collection, func.count())
        .where(Memory.embedding_state == "embedded")
        .group_by(Memory.collection)
        .order_by(Memory.collection)
    )
    return [
        RagIndex(
            name=info.name,
            kind="faiss",
            model=info.model,
            dimension=info.dimension,
            index_type=info.index_type,
            vector_count=info.vector_count,
            status=info.status,
            collections={c: int(n) for c, n in rows.all()},
            stats=info,
        )
    ]


@dataclass(frozen=True)
class IndexParams:
    type: str
    hnsw_threshold: int
    hnsw_m: int
    ef_construction: int
    ef_search: int


async def index_params(runtime: Runtime) -> IndexParams:
    """The operator's `index` settings section when there is one, else the process config."""
    c = runtime.config
    params = IndexParams(
        "auto",
        c.index_hnsw_threshold,
        c.index_hnsw_m,
        c.index_hnsw_ef_construction,
        c.index_hnsw_ef_search,
    )
    try:
        from foredeck.settings import service as settings_service

        async with runtime.sessionmaker() as session:
            section = await settings_service.get_section(session, "index")
            stored = "index" in await settings_service.stored_keys(session)
    except AttributeError:
        return params
    if not stored:
        return params
    return IndexParams(
        section.type,
        section.hnsw_threshold,
        section.hnsw_m,
        section.ef_construction,
        section.ef_search,
    )


async def _set_status(session: AsyncSession, status: str) -> str:
    """Set index_state.status; returns the one it replaced."""
    row = await get_state(session)
    before, row.status = row.status, status
    return before


async def rebuild(runtime: Runtime, progress: Progress | None = None) -> dict[str, Any]:
    """Build a compact index from the stored vectors into a new folder and swap it in.

    Its own units of work (db.transaction), not the job's fenced ones: the status is set
    apart from the long build, so other processes show "rebuilding" while it runs, and put
    back when the build fails even if the job's attempt is no longer current by then.
    """
    manager: IndexManager = runtime[INDEX_MANAGER]
    started = time.perf_counter()
    async with runtime.sessionmaker() as session:
        start_seq = int(await session.scalar(select(func.max(IndexChange.seq))) or 0)
        total = await build.embedded_count(session, manager.model)
    params = await index_params(runtime)
    # A rebuild during re-embedding for a new model leaves that status for the embed job.
    async with transaction(runtime.sessionmaker) as session:
        before = await _set_status(session, "rebuilding")
    after = REEMBEDDING if before == REEMBEDDING else "ready"
    try:
        if params.type == "auto":
            kind = "hnsw" if total >= params.hnsw_threshold else "flat"
        else:
            kind = params.type
        vindex = VectorIndex(
            manager.dimension,
            kind,
            hnsw_m=params.hnsw_m,
            ef_construction=params.ef_construction,
            ef_search=params.ef_search,
        )
        await build.fill(
            runtime.sessionmaker, vindex, manager.model, total=total, progress=progress
        )
        name, manifest = await asyncio.to_thread(
            store.write_generation, manager.root, vindex, model=manager.model
        )
        async with runtime.sessionmaker() as session:
            claimed = await safe_seq(session, start_seq)
        seconds = round(time.perf_counter() - started, 3)
        await manager.publish(
            runtime.sessionmaker,
            name=name,
            manifest=manifest,
            vindex=vindex,
            checkpoint_seq=claimed,
            extra={"status": after, "last_rebuild_at": utcnow(), "last_rebuild_seconds": seconds},
        )
        await manager.sync(runtime.sessionmaker, force=True)
    except BaseException:
        async with transaction(runtime.sessionmaker) as session:
            await _set_status(session, after)
        raise
    log.info("index_rebuilt", vectors=vindex.count, kind=kind, seconds=seconds)
    return {
        "vectors": vindex.count,
        "index_type": kind,
        "seconds": seconds,
        "checksum": manifest["checksum"],
        "folder": name,
    }


def needs_rebuild(vindex: VectorIndex, threshold: int) -> str | None:
    """Why the live index should be rebuilt, if it should."""
    if vindex.kind == "flat" and vindex.count >= threshold:
        return f"flat index reached {vindex.count} vectors (HNSW threshold {threshold})"
    if vindex.total >= 1_000 and vindex.tombstones > vindex.total // 4:
        return f"{vindex.tombstones} of {vindex.total} slots are tombstones"
    return None


async def align_model(
    session: AsyncSession,
    runtime: Runtime,
    *,
    model: str | None = None,
    dimension: int | None = None,
) -> bool:
    """When the embedding model changed, start a fresh index and queue every record again.

    Used at start-up (for the manager's model) and by a live switch (model_switch, for the
    model it just loaded). Idempotent: once index_state names the model, nothing happens.
    The caller commits (get_state may have made the row even when nothing changed).
    """
    manager: IndexManager = runtime[INDEX_MANAGER]
    model = model or manager.model
    dimension = dimension or manager.dimension
    row = await get_state(session)
    if row.model == model and row.dimension == dimension:
        return False
    previous = row.model
    row.model, row.dimension = model, dimension
    row.folder, row.vector_count, row.bytes_on_disk, row.checksum = None, 0, 0, None
    row.generation = row.generation + 1
    # The row first: an embed batch checks it (share-locked) before it commits, so it
    # either finishes before this requeue or sees the new model and rolls back.
    await session.flush()
    requeued = 0
    if previous:
        # The old model's changes point at vectors the new model cannot use.
        row.checkpoint_seq = int(await session.scalar(select(func.max(IndexChange.seq))) or 0)
        requeued = await embedding_service.reset_all(session)
        row.status = REEMBEDDING if requeued else "ready"
    log.info("index_model_changed", previous=previous, model=model, requeued=requeued)
    return True


async def finish_reembedding(session: AsyncSession) -> IndexState | None:
    """After a model change: once no record is due any more, the new index is complete.

    Returns the index_state row when this call marked it so; the caller commits, then hands the
    row to `reembedding_finished`.
    """
    row = await session.get(IndexState, NAME)
    if row is None or row.status != REEMBEDDING or await embedding_service.has_due(session):
        return None
    result: Any = await session.execute(
        update(IndexState)
        .where(IndexState.name == NAME, IndexState.status == REEMBEDDING)
        .values(status="ready")
    )
    return row if result.rowcount else None


def reembedding_finished(runtime: Runtime, row: IndexState) -> None:
    """Once finish_reembedding's "ready" is committed: the next sync reads it and drops the
    previous model's pair. Not sooner: a sync in between would read "reembedding" again and
    use up the dirty flag."""
    runtime[INDEX_MANAGER].dirty = True
    log.info("index_reembedding_finished", model=row.model)
