"""The index kept fed: the `embed` job, and the loop that keeps one coming.

Records become searchable with nobody doing anything: a small loop notices due records and
queues an `embed` job when none is queued or running. The job kind's lock makes that safe
with many replicas: a second create_job gets 409 and the loop simply tries again later.
The same loop notices a changed `embedding.model` setting and starts the live model switch
(`model_switch`); saving the section wakes it at once. The embedding domain embeds; what the
index does with the vectors (checkpoints, rebuilds, a model switch) is the index's, here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import select

from foredeck.blobs import BlobStoreError
from foredeck.db import transaction
from foredeck.embedding import service as embedding_service
from foredeck.errors import AppError
from foredeck.index import model_switch
from foredeck.index import service as index_service
from foredeck.jobs import service as jobs_service
from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler
from foredeck.kit.background import logged_failure
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job
from foredeck.settings import service as settings_service

log = get_logger(__name__)


class EmbedParams(BaseModel):
    limit: int | None = Field(default=None, ge=1, description="Stop after this many records")
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    model: str | None = Field(
        default=None, description="The model in use when queued; the live model wins if it changed"
    )


# One embed job at a time in the whole deployment: the lock is what stops replicas' loops
# from piling up jobs, and batches are claimed with SKIP LOCKED on PostgreSQL anyway.
@job_handler("embed", params=EmbedParams, queue="embedding", locks=("embedding",), max_attempts=3)
async def run_embed(ctx: JobContext) -> dict[str, Any]:
    """Embed pending records in batches, store the vectors and add them to the index."""
    p: EmbedParams = ctx.params
    state = ctx.state
    batch = p.batch_size or state.config.embedding_batch_size
    await model_switch.follow_live_model(state)
    if p.model and p.model != state.embedder.name:
        await ctx.log(f"queued for {p.model}; the model is now {state.embedder.name}")
    async with state.sessionmaker() as session:
        total = await embedding_service.due_count(session)
    if p.limit:
        total = min(total, p.limit)
    done = embedded = cached = failed = 0
    errors: list[str] = []
    await ctx.progress(done=0, total=total, message=f"embedding with {state.embedder.name}")
    while not p.limit or done < p.limit:
        await ctx.check()
        size = min(batch, p.limit - done) if p.limit else batch
        try:
            async with ctx.transaction() as session:
                result = await embedding_service.embed_batch(
                    session, state.embedder, state.config, limit=size
                )
        except embedding_service.ModelChanged as exc:
            # Rolled back: nothing of the old model was stored for these records. Load the
            # new model (another process switched) and embed the batch again with it.
            await ctx.event("embedding_model_changed", {"error": str(exc)}, message=str(exc))
            await model_switch.follow_live_model(state)
            continue
        if not result.claimed:
            break
        done += result.claimed
        embedded += result.embedded
        cached += result.cached
        failed += result.failed
        await state.index_manager.sync(state.sessionmaker, force=True)
        await ctx.progress(
            done=done,
            total=max(total, done),
            message=f"embedded {embedded}, failed {failed}",
            embedded=embedded,
            cached=cached,
            failed=failed,
        )
        if result.errors:
            errors.extend(result.errors)
            await ctx.event(
                "embedding_failed",
                {"records": result.failed, "error": result.errors[0][:500]},
                level="warning",
                message=result.errors[0][:200],
            )
            # The provider is failing: stop; the records retry with backoff.
            break
    await _maintain_index(ctx)
    return {
        "processed": done,
        "embedded": embedded,
        "cached": cached,
        "failed": failed,
        "provider_errors": len(errors),
        "model": state.embedder.name,
    }


async def _maintain_index(ctx: JobContext) -> None:
    """Checkpoint after many changes; queue a rebuild when the index outgrew its type."""
    state = ctx.state
    await index_service.finish_reembedding(state)
    manager = state.index_manager
    async with state.sessionmaker() as session:
        row = await index_service.get_state(session)
        behind = manager.applied_seq - row.checkpoint_seq
        await session.commit()
    if behind >= state.config.index_checkpoint_every:
        try:
            await manager.checkpoint(state.sessionmaker)
        except BlobStoreError as exc:
            # The batch is committed and the change log holds it: the next batch tries again.
            log.warning("index_checkpoint_not_stored", reason=exc.message)
    reason = index_service.needs_rebuild(manager.vindex, state.config.index_hnsw_threshold)
    if reason is None:
        return
    try:
        async with ctx.transaction() as session:
            job = await jobs_service.create_job(session, kind="index_rebuild", params={})
        await ctx.log(f"queued index rebuild {job.id}: {reason}")
    except AppError as exc:
        log.info("index_rebuild_not_queued", reason=reason, error=exc.message)


async def ensure_embed_job(state: Any) -> str | None:
    """Queue an embed job if records are due and none is active; returns its id."""
    async with state.sessionmaker() as session:
        due = await embedding_service.has_due(session)
    if not due:
        # Nothing left to embed: after a model change, the new index is now complete.
        await index_service.finish_reembedding(state)
        return None
    async with transaction(state.sessionmaker) as session:
        active = await session.scalar(
            select(Job.id).where(Job.kind == "embed", Job.status.in_(ACTIVE_STATUSES)).limit(1)
        )
        if active is not None:
            return None
        last = (
            await session.execute(
                select(Job.finished_at, Job.result)
                .where(Job.kind == "embed", Job.finished_at.is_not(None))
                .order_by(Job.finished_at.desc())
                .limit(1)
            )
        ).first()
        if last is not None and (last.result or {}).get("provider_errors"):
            cooldown = timedelta(seconds=state.config.embedding_retry_seconds)
            if last.finished_at > utcnow() - cooldown:
                return None
        try:
            job = await jobs_service.create_job(
                session, kind="embed", params={"model": state.embedder.name}
            )
        except AppError:
            # Another replica queued one first, or workers are draining.
            return None
        return job.id


async def _loop(app: FastAPI) -> None:
    state = app.state
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.embed_wakeup.wait(), state.config.embedding_poll_seconds)
        state.embed_wakeup.clear()
        with logged_failure("embed_loop_failed"):
            await model_switch.watch_settings(state)
            await ensure_embed_job(state)


def start(app: FastAPI) -> None:
    """The embed loop of a serving process (workers only run the jobs)."""
    state = app.state
    state.embed_loop = None
    if not getattr(state, "worker_process", False):
        state.embed_loop = asyncio.create_task(_loop(app), name="foredeck-embed-loop")
        state.embedding_settings_listener = _settings_listener(state)
        settings_service.change_listeners.append(state.embedding_settings_listener)


def _settings_listener(state: Any) -> Callable[[str], None]:
    def changed(section: str) -> None:
        if section == "embedding":
            state.embed_wakeup.set()

    return changed


async def stop(app: FastAPI) -> None:
    listener = getattr(app.state, "embedding_settings_listener", None)
    if listener in settings_service.change_listeners:
        settings_service.change_listeners.remove(listener)
    task = getattr(app.state, "embed_loop", None)
    if task is not None:
        await stop_tasks(task)
