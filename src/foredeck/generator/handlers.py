"""Job handlers: `generate` (chunk by chunk, resumable) and `generate_merge` (big downloads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from foredeck.blobs import store_for
from foredeck.db import transaction
from foredeck.errors import ValidationFailed
from foredeck.generator import datasets, remote, storage, textpools
from foredeck.generator import service as gen_service
from foredeck.generator.schemas import DatasetSchema, OutputFormat
from foredeck.generator.validate import Limits, check
from foredeck.jobs.context import JobContext
from foredeck.jobs.outputs import Download, download_provider
from foredeck.jobs.registry import job_handler
from foredeck.models.base import utcnow


class GenerateParams(DatasetSchema):
    """A dataset schema that also refuses impossible constraints when a job is created."""

    @model_validator(mode="after")
    def _possible(self) -> GenerateParams:
        errors = [i for i in check(self, Limits()) if i.severity == "error"]
        if errors:
            raise ValueError("; ".join(f"{i.field or 'schema'}: {i.message}" for i in errors))
        return self


class MergeParams(BaseModel):
    job_id: str
    format: OutputFormat


@job_handler("generate", params=GenerateParams, queue="generator", max_attempts=3)
async def run_generate(ctx: JobContext) -> dict[str, Any]:
    """Generate a synthetic dataset in chunks (resumes at the next chunk)."""
    schema: DatasetSchema = ctx.params
    folder = gen_service.chunk_folder(ctx.state.config, ctx.job_id)
    start = int((ctx.checkpoint or {}).get("next_chunk", 0))
    pools: textpools.Pools = {}
    if textpools.wanted(schema):
        async with ctx.transaction() as session:
            pools = await textpools.ensure(session, ctx.state.config, schema, ctx.job_dir)
        await ctx.event("llm_texts", {name: len(values) for name, values in pools.items()})
    done_rows = sum(schema.chunk_rows(i) for i in range(start))
    await ctx.progress(
        done=done_rows, total=schema.rows, message=f"chunk {start}/{schema.chunk_count}", force=True
    )
    if start:
        await ctx.event("resumed", {"next_chunk": start})
    generated = 0
    for index in range(start, schema.chunk_count):
        await ctx.check()
        path = folder / storage.chunk_name(index)
        async with ctx.transaction() as session:
            row = await gen_service.chunk_row(session, ctx.job_id, index)
        made_by_hand = row is not None and row.status == "done"
        made_by_hand = made_by_hand and await remote.present(ctx.state.config, path)
        # A chunk made by hand (perhaps with overrides) while the job was paused is kept.
        if not made_by_hand:
            rows, size, checksum = await ctx.run_sync(
                storage.write_chunk, schema, index, folder, None, pools or None
            )
            # In the store before it counts as done, so any machine can merge it.
            await remote.publish(ctx.state.config, path)
            async with ctx.transaction() as session:
                await gen_service.record_chunk(
                    session,
                    ctx.job_id,
                    index,
                    status="done",
                    rows=rows,
                    bytes=size,
                    checksum=checksum,
                    overrides=None,
                    error=None,
                    finished_at=utcnow(),
                )
            generated += 1
            await ctx.event("chunk_done", {"chunk": index, "rows": rows, "checksum": checksum})
        done_rows += schema.chunk_rows(index)
        await ctx.save_checkpoint({"next_chunk": index + 1})
        await ctx.progress(
            done=done_rows,
            total=schema.rows,
            message=f"chunk {index + 1}/{schema.chunk_count}",
            chunks_done=index + 1,
            chunks_total=schema.chunk_count,
        )
    return {
        "rows": schema.rows,
        "chunks": schema.chunk_count,
        "generated_chunks": generated,
        "format": schema.format.value,
        "chunks_url": f"/api/v1/jobs/{ctx.job_id}/chunks",
        "download_url": f"/api/v1/jobs/{ctx.job_id}/download?format={schema.format.value}",
    }


def _merge_locks(params: BaseModel | None) -> tuple[str, ...]:
    return (f"dataset:{getattr(params, 'job_id', '')}",)


@job_handler("generate_merge", params=MergeParams, queue="generator", locks=_merge_locks)
async def run_merge(ctx: JobContext) -> dict[str, Any]:
    """Merge a generated dataset's chunks into one downloadable file."""
    params: MergeParams = ctx.params
    config = ctx.state.config
    async with ctx.transaction() as session:
        _, schema = await gen_service.generate_job(session, params.job_id)
        chunks = await datasets.done_chunks(session, params.job_id, schema)
    folder = gen_service.chunk_folder(config, params.job_id)
    target = datasets.dataset_path(config, params.job_id, params.format)
    await ctx.progress(done=0, total=schema.rows, message=f"merging to {params.format.value}")
    try:
        names = [folder / storage.chunk_name(c.chunk_index) for c in chunks]
        async with remote.readable(config, names) as paths:
            rows, size, checksum = await ctx.run_sync(storage.merge, paths, params.format, target)
        await remote.publish(config, target)
    except Exception as exc:
        async with ctx.transaction() as session:
            row = await datasets.download_row(session, params.job_id, params.format)
            if row is not None:
                row.status, row.error = "failed", str(exc)[:2000]
        raise
    async with ctx.transaction() as session:
        row = await datasets.download_row(session, params.job_id, params.format)
        if row is not None:
            row.status, row.rows, row.bytes, row.checksum = "ready", rows, size, checksum
            row.updated_at = utcnow()
    await ctx.progress(done=rows, total=schema.rows, message="merged", force=True)
    return {"rows": rows, "bytes": size, "checksum": checksum, "path": str(target)}


@download_provider("generate")
async def dataset_file(state: Any, job: Any, options: dict[str, str]) -> Download:
    """The merged file of a generated dataset in the asked format (POST .../download first)."""
    raw = options.get("format")
    try:
        fmt = OutputFormat(raw) if raw else None
    except ValueError as exc:
        raise ValidationFailed.field(
            "format", "format must be one of json, jsonl, csv, parquet"
        ) from exc
    async with transaction(state.sessionmaker) as session:
        path, media_type, filename = await datasets.download_file(
            session, state.config, job.id, fmt
        )
    # With S3 the merged file is in the store (whoever merged it), not on this disk.
    stored = remote.key(state.config, path) if remote.remote(state.config) else None
    store = store_for(state.config) if stored else None
    return Download(path=path, filename=filename, media_type=media_type, key=stored, store=store)
