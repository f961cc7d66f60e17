"""The `embed` job: drain the due records in batches, then let the index catch up."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBEDDER
from foredeck.errors import AppError
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler
from foredeck.logging import get_logger

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
    from foredeck.index.model_switch import follow_live_model

    p: EmbedParams = ctx.params
    runtime = ctx.runtime
    batch = p.batch_size or runtime.config.embedding_batch_size
    await follow_live_model(runtime)
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
            await follow_live_model(runtime)
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
    from foredeck.index import service as index_service

    runtime = ctx.runtime
    manager = runtime[INDEX_MANAGER]
    async with ctx.transaction() as session:
        finished = await index_service.finish_reembedding(session)
        row = await index_service.get_state(session)
        behind = manager.applied_seq - row.checkpoint_seq
    if finished is not None:
        index_service.reembedding_finished(runtime, finished)
    if behind >= runtime.config.index_checkpoint_every:
        from foredeck.blobs import BlobStoreError

        try:
            await manager.checkpoint(runtime.sessionmaker)
        except BlobStoreError as exc:
            # The batch is committed and the change log holds it: the next batch tries again.
            log.warning("index_checkpoint_not_stored", reason=exc.message)
    reason = index_service.needs_rebuild(manager.vindex, runtime.config.index_hnsw_threshold)
    if reason is None:
        return
    from foredeck.jobs import service as jobs_service

    try:
        async with ctx.transaction() as session:
            job = await jobs_service.create_job(session, kind="index_rebuild", params={})
        await ctx.log(f"queued index rebuild {job.id}: {reason}")
    except AppError as exc:
        log.info("index_rebuild_not_queued", reason=reason, error=exc.message)
