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

from pydantic import BaseModel, Field
from sqlalchemy import select

from foredeck.blobs import BlobStoreError
from foredeck.db import transaction
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.errors import AppError
from foredeck.index import model_switch
from foredeck.index import service as index_service
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs import service as jobs_service
from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler
from foredeck.kit.background import logged_failure
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job
from foredeck.settings import service as settings_service

log = get_logger(__name__)
# The loop a serving process runs, and its settings listener, kept for stop().
LOOP: Part[asyncio.Task[None]] = Part("embed_loop")
LISTENER: Part[Callable[[str], None]] = Part("embedding_settings_listener")


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
    runtime = ctx.runtime
    batch = p.batch_size or runtime.config.embedding_batch_size
    await model_switch.follow_live_model(runtime)
    if p.model and p.model != runtime[EMBEDDER].name:
        await ctx.log(f"queued for {p.model}; the model is now {runtime[EMBEDDER].name}")
    async with runtime.sessionmaker() as session:
        total = await embedding_service.due_count(session)
    if p.limit:
        total = min(total, p.limit)
    done = embedded = cached = failed = 0
    errors: list[str] = []
    await ctx.progress(done=0, total=total, message=f"embedding with {runtime[EMBEDDER].name}")
    while not p.limit or done < p.limit:
        await ctx.check()
        size = min(batch, p.limit - done) if p.limit else batch
        try:
            async with ctx.transaction() as session:
                result = await embedding_service.embed_batch(
                    session, runtime[EMBEDDER], runtime.config, limit=size
                )
        except embedding_service.ModelChanged as exc:
            # Rolled back: nothing of the old model was stored for these records. Load the
            # new model (another process switched) and embed the batch again with it.
            await ctx.event("embedding_model_changed", {"error": str(exc)}, message=str(exc))
            await model_switch.follow_live_model(runtime)
            continue
        if not result.claimed:
            break
        done += result.claimed
        embedded += result.embedded
        cached += result.cached
        failed += result.failed
        await runtime[INDEX_MANAGER].sync(runtime.sessionmaker, force=True)
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
        "model": runtime[EMBEDDER].name,
    }


async def _maintain_index(ctx: JobContext) -> None:
    """Checkpoint after many changes; queue a rebuild when the index outgrew its type."""
    runtime = ctx.runtime
    manager = runtime[INDEX_MANAGER]
    async with ctx.transaction() as session:
        finished = await index_service.finish_reembedding(session)
        row = await index_service.get_state(session)
        behind = manager.applied_seq - row.checkpoint_seq
    if finished is not None:
        index_service.reembedding_finished(runtime, finished)
    if behind >= runtime.config.index_checkpoint_every:
        try:
            await manager.checkpoint(runtime.sessionmaker)
        except BlobStoreError as exc:
            # The batch is committed and the change log holds it: the next batch tries again.
            log.warning("index_checkpoint_not_stored", reason=exc.message)
    reason = index_service.needs_rebuild(manager.vindex, runtime.config.index_hnsw_threshold)
    if reason is None:
        return
    try:
        async with ctx.transaction() as session:
            job = await jobs_service.create_job(session, kind="index_rebuild", params={})
        await ctx.log(f"queued index rebuild {job.id}: {reason}")
    except AppError as exc:
        log.info("index_rebuild_not_queued", reason=reason, error=exc.message)


async def ensure_embed_job(runtime: Runtime) -> str | None:
    """Queue an embed job if records are due and none is active; returns its id."""
    async with runtime.sessionmaker() as session:
        due = await embedding_service.has_due(session)
    if not due:
        # Nothing left to embed: after a model change, the new index is now complete.
        async with transaction(runtime.sessionmaker) as session:
            finished = await index_service.finish_reembedding(session)
        if finished is not None:
            index_service.reembedding_finished(runtime, finished)
        return None
    async with transaction(runtime.sessionmaker) as session:
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
            cooldown = timedelta(seconds=runtime.config.embedding_retry_seconds)
            if last.finished_at > utcnow() - cooldown:
                return None
        try:
            job = await jobs_service.create_job(
                session, kind="embed", params={"model": runtime[EMBEDDER].name}
            )
        except AppError:
            # Another replica queued one first, or workers are draining.
            return None
        return job.id


async def _loop(runtime: Runtime) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                runtime[EMBED_WAKEUP].wait(), runtime.config.embedding_poll_seconds
            )
        runtime[EMBED_WAKEUP].clear()
        with logged_failure("embed_loop_failed"):
            await model_switch.watch_settings(runtime)
            await ensure_embed_job(runtime)


def start(runtime: Runtime) -> None:
    """The embed loop of a serving process (workers only run the jobs)."""
    if not runtime.worker_process:
        runtime[LOOP] = asyncio.create_task(_loop(runtime), name="foredeck-embed-loop")
        listener = runtime[LISTENER] = _settings_listener(runtime)
        settings_service.change_listeners.append(listener)


def _settings_listener(runtime: Runtime) -> Callable[[str], None]:
    def changed(section: str) -> None:
        if section == "embedding":
            runtime[EMBED_WAKEUP].set()

    return changed


async def stop(runtime: Runtime) -> None:
    listener = runtime.pop(LISTENER)
    if listener is not None and listener in settings_service.change_listeners:
        settings_service.change_listeners.remove(listener)
    await stop_tasks(runtime.pop(LOOP))
