"""The `import` and `export` job handlers, and the download provider for export files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foredeck.blobs import BlobStoreError, store_for
from foredeck.errors import NotFound
from foredeck.jobs.context import JobContext
from foredeck.jobs.outputs import Download, download_provider
from foredeck.jobs.registry import job_handler
from foredeck.kit.runtime import Runtime
from foredeck.operations.errors import ExportFailed
from foredeck.operations.exports import run as exports_run
from foredeck.operations.imports import run as imports_run
from foredeck.operations.schemas import ExportParams, ImportParams
from foredeck.operations.sources import blobfiles
from foredeck.operations.sources.locations import discard_upload, exports_dir


@job_handler("import", params=ImportParams, queue="operations", locks=("import",), max_attempts=1)
async def run_import(ctx: JobContext) -> dict[str, Any]:
    """Import a file, URL or sheet into a collection (upsert, append or replace)."""
    params: ImportParams = ctx.params
    try:
        return await imports_run.run_import(
            ctx.runtime, params, ctx, owner_id=ctx.created_by, work_dir=ctx.job_dir
        )
    finally:
        # Only uploads are removed: a file an operator put in the import dir stays.
        if params.delete_after and params.path and params.path.startswith("uploads/"):
            discard_upload(ctx.runtime.config, params.path)
            await blobfiles.discard_remote_upload(ctx.runtime.config, params.path)


@job_handler("export", params=ExportParams, queue="operations", locks=("export",), max_attempts=1)
async def run_export(ctx: JobContext) -> dict[str, Any]:
    """Export a collection or a filter to CSV, JSONL, Parquet or a Google Sheet."""
    params: ExportParams = ctx.params
    out_dir = exports_dir(ctx.runtime.config) / ctx.job_id
    result = await exports_run.run_export(
        ctx.runtime, params, ctx, job_id=ctx.job_id, out_dir=out_dir
    )
    if result.get("file"):
        try:
            result["key"] = await blobfiles.publish_export(
                ctx.runtime.config, ctx.job_id, Path(result["file"])
            )
        except BlobStoreError as exc:
            raise ExportFailed(exc.message) from None
    return result


@download_provider("export")
async def export_file(runtime: Runtime, job: Any) -> Download:
    """The file an export job wrote (sheet exports have none)."""
    result = job.result or {}
    if not result.get("file"):
        raise NotFound("This export went to a Google Sheet; there is no file to download")
    path = Path(result["file"])
    if result.get("key") and blobfiles.remote(runtime.config):
        # Written by a worker on another machine: the store has it, not this disk.
        store = store_for(runtime.config)
        return Download(
            path, result["filename"], result["media_type"], key=result["key"], store=store
        )
    if not path.is_relative_to(exports_dir(runtime.config)):
        raise NotFound("The export file is not in the export directory")
    return Download(path=path, filename=result["filename"], media_type=result["media_type"])
