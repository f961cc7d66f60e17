"""Each process's live copy of the index, kept in step with the database.

The database is the source of truth: vectors sit in `embedding_vectors`, every add and remove
is a row in `index_changes`, and `index_state` names the checkpoint folder. A process loads the
checkpoint (fetched from the blob store when its data dir lacks it, see checkpoints), then
replays changes after it. Replaying is idempotent (an add replaces, a remove of an absent id
does nothing), so a checkpoint may safely claim a little less than it holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foredeck.blobs import BlobStoreError
from foredeck.config import Config
from foredeck.db import transaction
from foredeck.index import build, checkpoints, store
from foredeck.index.vectors import VectorIndex
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.index import EmbeddingVector, IndexChange, IndexState

log = get_logger(__name__)
NAME = "default"
# Writers on PostgreSQL may commit out of sequence order; a checkpoint only claims changes this
# old, and the rest are replayed again (harmlessly) by whoever loads it.
REPLAY_WINDOW = timedelta(seconds=60)
SYNC_BATCH = 20_000


async def get_state(session: AsyncSession) -> IndexState:
    """The index_state row, created on first use."""
    state = await session.get(IndexState, NAME)
    if state is None:
        # Processes started together on an empty database each get here: the row's insert
        # yields to one already there instead of failing the start-up with a duplicate key.
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        await session.execute(
            insert(IndexState)
            .values(
                name=NAME,
                generation=0,
                checkpoint_seq=0,
                index_type="flat",
                vector_count=0,
                bytes_on_disk=0,
                status="ready",
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        state = await session.get(IndexState, NAME, populate_existing=True)
        if state is None:
            raise RuntimeError("index_state was neither inserted nor found")
    return state


async def safe_seq(session: AsyncSession, upto: int) -> int:
    """The newest change a checkpoint may claim: old enough that nothing before it is in flight."""
    cutoff = utcnow() - REPLAY_WINDOW
    seq = await session.scalar(
        select(func.max(IndexChange.seq)).where(
            IndexChange.seq <= upto, IndexChange.created_at <= cutoff
        )
    )
    return int(seq or 0)


def vectors_from_bytes(blobs: list[bytes], dimension: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


class IndexManager:
    """The live VectorIndex of this process, and the replay of changes into it."""

    def __init__(self, config: Config, *, model: str, dimension: int) -> None:
        self.config = config
        self.model = model
        self.dimension = dimension
        self.root: Path = config.path("index")
        self.vindex = self.empty()
        self.generation = -1
        self.folder: str | None = None
        self.applied_seq = 0
        # seq -> when first missed (monotonic); see _note_gaps.
        self.gaps: dict[int, float] = {}
        self.dirty = True
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        # During a model switch: the previous (embedder, index) pair that keeps answering
        # searches while records are re-embedded for the new model (index_state "reembedding").
        self.previous: tuple[Any, VectorIndex] | None = None
        # The embedder whose vectors this index holds (set by the index lifecycle).
        self.embedder: Any = None
        # The model index_state names when it is not ours yet, and whom to tell (model_switch).
        self.live_model: str | None = None
        self.on_model_change: Callable[[str], object] | None = None

    def empty(self, kind: str = "flat") -> VectorIndex:
        c = self.config
        return VectorIndex(
            self.dimension,
            kind,
            hnsw_m=c.index_hnsw_m,
            ef_construction=c.index_hnsw_ef_construction,
            ef_search=c.index_hnsw_ef_search,
        )

    async def sync(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, force: bool = False
    ) -> None:
        """Load a newer checkpoint if there is one, then replay the changes after it."""
        if not (force or self.dirty):
            if time.monotonic() - self._checked_at < self.config.index_sync_seconds:
                return
        async with self._lock:
            self.dirty = False
            self._checked_at = time.monotonic()
            async with sessionmaker() as session:
                state = await session.get(IndexState, NAME)
                if state is not None and state.model and state.model != self.model:
                    # Another process switched the model: its folder and changes have another
                    # dimension, so keep serving ours until this process has loaded the model.
                    self.live_model = state.model
                    self.dirty = True
                    if self.on_model_change is not None:
                        self.on_model_change(state.model)
                    return
                self.live_model = self.model
                if state is not None and state.status == "ready":
                    self.previous = None
                if state is not None and state.generation != self.generation:
                    await self._load(state, sessionmaker)
                await self._replay(session)

    def serving(self, fallback: Any) -> tuple[Any, VectorIndex]:
        """The (embedder, index) pair searches use: the previous one until re-embedding ends.

        Taken as one pair so a query is never embedded by one model and searched in another's
        index (their dimensions differ)."""
        if self.previous is not None:
            return self.previous
        return (self.embedder or fallback), self.vindex

    async def use_model(self, embedder: Any, *, keep_previous: bool) -> None:
        """Point this process's index at embedder's model (empty until the next sync loads it).

        With keep_previous the old embedder and index answer searches until re-embedding ends.
        """
        async with self._lock:
            # Switching again before re-embedding ended: the older, complete pair stays.
            old = self.previous or (self.embedder, self.vindex)
            self.model, self.dimension = embedder.name, int(embedder.dimension)
            self.embedder = embedder
            self.vindex = self.empty()
            self.generation, self.folder, self.applied_seq = -1, None, 0
            self.gaps = {}
            self.dirty = True
            self.live_model = self.model
            keep = keep_previous and old[0] is not None and old[1].count > 0
            self.previous = old if keep else None

    async def _load(
        self, state: IndexState, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        folder_name = state.folder
        if folder_name and checkpoints.remote(self.config):
            vindex, folder_name = await self._fetch(state, sessionmaker)
        elif folder_name:
            vindex = await asyncio.to_thread(
                VectorIndex.read,
                self.root / folder_name,
                ef_search=self.config.index_hnsw_ef_search,
            )
        else:
            vindex = self.empty()
        self.vindex = vindex
        self.generation = state.generation
        self.folder = folder_name
        self.applied_seq = state.checkpoint_seq
        self.gaps = {}
        log.info("index_loaded", folder=folder_name, vectors=vindex.count)

    async def _fetch(
        self, state: IndexState, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> tuple[VectorIndex, str | None]:
        """The checkpoint from the blob store and its folder; when it is refused or the store
        cannot be reached, an index filled from the stored vectors instead, and no folder
        (replaying the change log from the checkpoint's seq then brings it up to date)."""
        assert state.folder is not None
        try:
            vindex = await asyncio.to_thread(
                checkpoints.fetch,
                self.config,
                self.root,
                NAME,
                state.folder,
                model=self.model,
                dimension=self.dimension,
                checksum=state.checksum,
                ef_search=self.config.index_hnsw_ef_search,
            )
            return vindex, state.folder
        except (checkpoints.CheckpointRefused, BlobStoreError) as exc:
            reason = exc.message if isinstance(exc, BlobStoreError) else str(exc)
            log.error("index_checkpoint_refused", folder=state.folder, reason=reason)
        vindex = self.empty(state.index_type or "flat")
        await build.fill(sessionmaker, vindex, self.model)
        log.info("index_built_from_database", vectors=vindex.count)
        return vindex, None

    async def _replay(self, session: AsyncSession) -> None:
        while True:
            cols = (
                IndexChange.seq,
                IndexChange.memory_id,
                IndexChange.op,
                IndexChange.content_hash,
            )
            rows = list(
                (
                    await session.execute(
                        select(*cols)
                        .where(IndexChange.seq > self.applied_seq)
                        .order_by(IndexChange.seq)
                        .limit(SYNC_BATCH)
                    )
                ).all()
            )
            late = await self._late_changes(session)
            if not rows and not late:
                return
            self._note_gaps([int(r[0]) for r in rows])
            await self._apply(session, [*late, *rows])
            if rows:
                self.applied_seq = int(rows[-1][0])
            if len(rows) < SYNC_BATCH:
                return

    def _note_gaps(self, seqs: list[int]) -> None:
        """Sequence numbers skipped so far: on PostgreSQL a writer may commit them later."""
        now = time.monotonic()
        expected = self.applied_seq + 1
        for seq in seqs:
            for missing in range(expected, min(seq, expected + 1_000)):
                self.gaps.setdefault(missing, now)
            expected = seq + 1

    async def _late_changes(self, session: AsyncSession) -> list[Any]:
        """Changes that filled a gap since the last sync; gaps older than the window are
        rolled-back sequence numbers and are forgotten."""
        if not self.gaps:
            return []
        cutoff = time.monotonic() - REPLAY_WINDOW.total_seconds()
        self.gaps = {seq: seen for seq, seen in self.gaps.items() if seen >= cutoff}
        if not self.gaps:
            return []
        cols = (IndexChange.seq, IndexChange.memory_id, IndexChange.op, IndexChange.content_hash)
        found = list(
            (
                await session.execute(
                    select(*cols)
                    .where(IndexChange.seq.in_(sorted(self.gaps)))
                    .order_by(IndexChange.seq)
                )
            ).all()
        )
        for row in found:
            self.gaps.pop(int(row[0]), None)
        return found

    async def _apply(self, session: AsyncSession, rows: list[Any]) -> None:
        final: dict[int, str | None] = {}
        for _seq, memory_id, op, content_hash in rows:
            final[memory_id] = content_hash if op == "add" else None
        hashes = {h for h in final.values() if h}
        vectors: dict[str, bytes] = {}
        for chunk in _chunks(sorted(hashes), 5_000):
            found = await session.execute(
                select(EmbeddingVector.content_hash, EmbeddingVector.vector).where(
                    EmbeddingVector.model == self.model,
                    EmbeddingVector.content_hash.in_(chunk),
                )
            )
            vectors.update({h: v for h, v in found.all()})
        removed = [i for i, h in final.items() if h is None or h not in vectors]
        added = [(i, h) for i, h in final.items() if h is not None and h in vectors]
        self.vindex.remove(removed)
        if added:
            matrix = vectors_from_bytes([vectors[h] for _, h in added], self.dimension)
            self.vindex.add([i for i, _ in added], matrix)

    async def checkpoint(self, sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        """Write the live index as a new generation; False when another process won the race."""
        await self.sync(sessionmaker, force=True)
        async with self._lock:
            vindex, base_generation = self.vindex, self.generation
            async with sessionmaker() as session:
                claimed = await safe_seq(session, self.applied_seq)
            name, manifest = await asyncio.to_thread(
                store.write_generation, self.root, vindex, model=self.model
            )
        # Changes a sync applies to the live index before the swap are replayed again from
        # `claimed` after it, harmlessly.
        return await self.publish(
            sessionmaker,
            name=name,
            manifest=manifest,
            vindex=vindex,
            checkpoint_seq=claimed,
            base_generation=base_generation,
        )

    async def publish(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        name: str,
        manifest: dict[str, Any],
        vindex: VectorIndex,
        checkpoint_seq: int,
        base_generation: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Swap the live folder in the state row (one commit), then in this process.

        Under the lock: a sync that fetched changes before the swap would otherwise apply them
        to the new index and move applied_seq past changes it never replayed there. With a
        remote blob store the folder is stored first (outside the lock, so searches go on), so
        whoever reads the new state row can fetch it; a store that refuses fails the publish.
        """
        folder = self.root / name
        try:
            await asyncio.to_thread(checkpoints.put, self.config, NAME, folder)
        except BaseException:
            await asyncio.to_thread(checkpoints.discard, self.config, NAME, name)
            raise
        async with self._lock:
            values: dict[str, Any] = {
                "generation": IndexState.generation + 1,
                "folder": name,
                "checkpoint_seq": checkpoint_seq,
                "model": self.model,
                "dimension": self.dimension,
                "index_type": vindex.kind,
                "vector_count": vindex.count,
                "bytes_on_disk": store.folder_bytes(folder),
                "checksum": manifest["checksum"],
                **(extra or {}),
            }
            # The publish's own unit of work: committed before the swap and clean-up below.
            async with transaction(sessionmaker) as session:
                state = await get_state(session)
                previous_folder, previous_seq = state.folder, state.checkpoint_seq
                stmt = update(IndexState).where(IndexState.name == NAME)
                if base_generation is not None:
                    stmt = stmt.where(IndexState.generation == base_generation)
                result: Any = await session.execute(stmt.values(**values))
                if result.rowcount != 1:
                    await session.rollback()
                    await asyncio.to_thread(store.cleanup, self.root, _keep(state.folder))
                    await asyncio.to_thread(checkpoints.discard, self.config, NAME, name)
                    return False
                # Changes older than the previous checkpoint are in every folder a process can load.
                await session.execute(delete(IndexChange).where(IndexChange.seq <= previous_seq))
                new_generation = await session.scalar(
                    select(IndexState.generation).where(IndexState.name == NAME)
                )
            self.vindex = vindex
            self.generation = int(new_generation or 0)
            self.folder = name
            self.applied_seq = max(checkpoint_seq, 0)
            self.gaps = {}
            self.dirty = True
            await asyncio.to_thread(store.cleanup, self.root, _keep(name, previous_folder))
        await asyncio.to_thread(
            checkpoints.cleanup, self.config, NAME, _keep(name, previous_folder)
        )
        return True


def _keep(*names: str | None) -> set[str]:
    return {n for n in names if n}


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
