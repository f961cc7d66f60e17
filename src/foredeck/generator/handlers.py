"""Job handlers: `generate` (chunk by chunk, resumable) and `generate_merge` (big downloads).

Also what a `generate` job answers under `/api/v1/jobs/{job_id}` (its chunks, its merged file,
its import into a collection): providers for the routes of the jobs router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from foredeck.blobs import store_for
from foredeck.config import Config
from foredeck.db import transaction
from foredeck.errors import ValidationFailed
from foredeck.generator import datasets, remote, storage, textpools
from foredeck.generator import service as gen_service
from foredeck.generator.schemas import (
    ChunkGenerateRequest,
    ChunkList,
    ChunkOut,
    ChunkPreview,
    DatasetSchema,
    DownloadInfo,
    DownloadRequest,
    ImportRequest,
    OutputFormat,
)
from foredeck.generator.validate import Limits, check
from foredeck.jobs import resources
from foredeck.jobs.context import JobContext
from foredeck.jobs.outputs import Download, download_provider
from foredeck.jobs.registry import job_handler
from foredeck.jobs.resources import ResourceFn, job_resource
from foredeck.jobs.schemas import JobCreated, job_read
from foredeck.kit.envelope import Envelope
from foredeck.kit.runtime import Runtime
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
    folder = gen_service.chunk_folder(ctx.runtime.config, ctx.job_id)
    start = int((ctx.checkpoint or {}).get("next_chunk", 0))
    pools: textpools.Pools = {}
    if textpools.wanted(schema):
        async with ctx.transaction() as session:
            pools = await textpools.ensure(session, ctx.runtime.config, schema, ctx.job_dir)
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
        made_by_hand = made_by_hand and await remote.present(ctx.runtime.config, path)
        # A chunk made by hand (perhaps with overrides) while the job was paused is kept.
        if not made_by_hand:
            rows, size, checksum = await ctx.run_sync(
                storage.write_chunk, schema, index, folder, None, pools or None
            )
            # In the store before it counts as done, so any machine can merge it.
            await remote.publish(ctx.runtime.config, path)
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
    config = ctx.runtime.config
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
async def dataset_file(runtime: Runtime, job: Any, options: dict[str, str]) -> Download:
    """The merged file of a generated dataset in the asked format (POST .../download first)."""
    raw = options.get("format")
    try:
        fmt = OutputFormat(raw) if raw else None
    except ValueError as exc:
        raise ValidationFailed.field(
            "format", "format must be one of json, jsonl, csv, parquet"
        ) from exc
    async with transaction(runtime.sessionmaker) as session:
        path, media_type, filename = await datasets.download_file(
            session, runtime.config, job.id, fmt
        )
    # With S3 the merged file is in the store (whoever merged it), not on this disk.
    stored = remote.key(runtime.config, path) if remote.remote(runtime.config) else None
    store = store_for(runtime.config) if stored else None
    return Download(path=path, filename=filename, media_type=media_type, key=stored, store=store)


def _provides(resource: str, **models: Any) -> Callable[[ResourceFn], ResourceFn]:
    """What a sub-resource of the jobs router answers for `generate` jobs (other kinds: 404)."""
    return job_resource(
        resource, "generate", label="a dataset generation", tags=("generator",), **models
    )


@_provides(resources.LIST_CHUNKS, response=ChunkList)
async def list_chunks(session: AsyncSession, config: Config, job: Any) -> ChunkList:
    """Each chunk of a generation job: status, rows and checksum."""
    return await gen_service.list_chunks(session, job.id)


@_provides(resources.GENERATE_CHUNK, body=ChunkGenerateRequest, response=ChunkOut)
async def generate_chunk(
    session: AsyncSession, config: Config, job: Any, index: int, body: ChunkGenerateRequest | None
) -> ChunkOut:
    """Generate or regenerate one chunk now (same seed, same rows), with optional overrides."""
    return await gen_service.generate_chunk(
        session, config, job.id, index, body or ChunkGenerateRequest()
    )


@_provides(
    resources.PREVIEW_CHUNK,
    response=ChunkPreview,
    responses={200: {"content": {"text/csv": {}}}},
)
async def preview_chunk(
    session: AsyncSession, config: Config, job: Any, index: int, *, format: str, limit: int
) -> ChunkPreview | Response:
    """The first rows of a generated chunk, as JSON (enveloped) or CSV."""
    preview, csv = await gen_service.preview_chunk(session, config, job.id, index, limit)
    if format == "csv":
        return Response(csv, media_type="text/csv; charset=utf-8")
    return preview


@_provides(
    resources.PREPARE_DOWNLOAD,
    body=DownloadRequest,
    response=DownloadInfo,
    responses={202: {"model": Envelope[DownloadInfo], "description": "Merging in the background"}},
)
async def prepare_download(
    session: AsyncSession,
    config: Config,
    job: Any,
    body: DownloadRequest | None,
    *,
    created_by: int | None,
) -> Response:
    """Merge the chunks into one file (JSON, JSONL, CSV or Parquet); big ones merge as a job."""
    body = body or DownloadRequest()
    info = await datasets.prepare_download(
        session, config, job.id, body.format, force=body.force_remerge, created_by=created_by
    )
    envelope = Envelope[DownloadInfo](data=info).model_dump(mode="json")
    return JSONResponse(envelope, status_code=200 if info.status == "ready" else 202)


@_provides(resources.IMPORT_OUTPUT, body=ImportRequest)
async def import_dataset(
    session: AsyncSession, config: Config, job: Any, body: ImportRequest, *, created_by: int | None
) -> JobCreated:
    """Load a generated dataset into a collection (an `import` job with a column mapping)."""
    queued = await datasets.import_into_records(
        session, config, job.id, body, created_by=created_by
    )
    read = job_read(queued)
    return JobCreated(job_id=read.id, status=read.status, job=read)
