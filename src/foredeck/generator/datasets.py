"""Merged dataset files (downloads) and importing a generated dataset into records."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.blobs import store_for
from foredeck.config import Config
from foredeck.errors import Conflict, NotFound, ValidationFailed
from foredeck.generator import remote, storage
from foredeck.generator.schemas import DatasetSchema, DownloadInfo, ImportRequest, OutputFormat
from foredeck.generator.service import BUSY, MERGE_KIND, chunk_folder, chunk_rows, generate_job
from foredeck.jobs import service as jobs_service
from foredeck.models.base import utcnow
from foredeck.models.generator import GeneratorChunk, GeneratorDownload
from foredeck.models.jobs import Job
from foredeck.operations.sources import blobfiles

# Merges up to this many rows run inside the request; bigger ones become a background job.
INLINE_MERGE_ROWS = 200_000


async def done_chunks(
    session: AsyncSession, job_id: str, schema: DatasetSchema
) -> list[GeneratorChunk]:
    rows = await chunk_rows(session, job_id)
    missing = [
        i for i in range(schema.chunk_count) if rows.get(i) is None or rows[i].status != "done"
    ]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise Conflict(
            f"{len(missing)} chunk(s) are not generated yet ({shown})",
            code="CHUNKS_MISSING",
            details=[{"field": "chunks", "message": shown}],
        )
    return [rows[i] for i in range(schema.chunk_count)]


def dataset_path(config: Config, job_id: str, fmt: OutputFormat) -> Path:
    return config.path("jobs", job_id) / f"dataset.{fmt.value}"


def download_info(job_id: str, row: GeneratorDownload) -> DownloadInfo:
    fmt = OutputFormat(row.format)
    return DownloadInfo(
        job_id=job_id,
        format=fmt,
        status=row.status,  # type: ignore[arg-type]
        rows=row.rows,
        bytes=row.bytes,
        checksum=row.checksum,
        merge_job_id=row.merge_job_id,
        url=f"/api/v1/jobs/{job_id}/download?format={fmt.value}",
        error=row.error,
    )


async def download_row(
    session: AsyncSession, job_id: str, fmt: OutputFormat
) -> GeneratorDownload | None:
    return await session.scalar(
        select(GeneratorDownload).where(
            GeneratorDownload.job_id == job_id, GeneratorDownload.format == fmt.value
        )
    )


async def prepare_download(
    session: AsyncSession,
    config: Config,
    job_id: str,
    fmt: OutputFormat | None,
    *,
    force: bool,
    created_by: int | None,
    inline: bool = False,
) -> DownloadInfo:
    """Merge the chunks into one file of a format (in the background when big); reuse a
    merged file whose chunks have not changed unless force_remerge."""
    job, schema = await generate_job(session, job_id)
    if job.status in BUSY:
        raise Conflict(f"Job {job_id} is still {job.status}", code="JOB_BUSY")
    fmt = fmt or schema.format
    chunks = await done_chunks(session, job_id, schema)
    source = storage.source_checksum([c.checksum or "" for c in chunks])
    row = await download_row(session, job_id, fmt)
    target = dataset_path(config, job_id, fmt)
    if row is not None and not force:
        ready = row.status == "ready" and row.source_checksum == source
        if ready and await remote.present(config, target):
            return download_info(job_id, row)
        if row.status == "merging" and row.source_checksum == source and not inline:
            return download_info(job_id, row)
    if row is None:
        row = GeneratorDownload(job_id=job_id, format=fmt.value)
        session.add(row)
    row.status, row.source_checksum, row.error = "merging", source, None
    row.rows = row.bytes = row.checksum = row.merge_job_id = None
    row.path = str(target)
    await session.flush()
    if schema.rows > INLINE_MERGE_ROWS and not inline:
        merge_job = await jobs_service.create_job(
            session,
            kind=MERGE_KIND,
            params={"job_id": job_id, "format": fmt.value},
            created_by=created_by,
        )
        row.merge_job_id = merge_job.id
        await session.flush()
        return download_info(job_id, row)
    folder = chunk_folder(config, job_id)
    names = [folder / storage.chunk_name(c.chunk_index) for c in chunks]
    async with remote.readable(config, names) as paths:
        rows, size, checksum = await asyncio.to_thread(storage.merge, paths, fmt, target)
    await remote.publish(config, target)
    row.status, row.rows, row.bytes, row.checksum = "ready", rows, size, checksum
    row.updated_at = utcnow()
    await session.flush()
    return download_info(job_id, row)


async def download_file(
    session: AsyncSession, config: Config, job_id: str, fmt: OutputFormat | None
) -> tuple[Path, str, str]:
    """(path, media type, file name) of a merged dataset ready to stream."""
    _job, schema = await generate_job(session, job_id)
    fmt = fmt or schema.format
    row = await download_row(session, job_id, fmt)
    target = dataset_path(config, job_id, fmt)
    if row is None or row.status == "failed":
        reason = f": {row.error}" if row is not None and row.error else ""
        raise NotFound(
            f"No {fmt.value} file for job {job_id}{reason}; "
            f"POST /api/v1/jobs/{job_id}/download first",
            code="DOWNLOAD_NOT_READY",
        )
    if row.status != "ready" or not await remote.present(config, target):
        raise Conflict(f"The {fmt.value} file is still being merged", code="DOWNLOAD_NOT_READY")
    return target, storage.MEDIA_TYPES[fmt], f"{schema.name}-{job_id[:8]}.{fmt.value}"


async def import_into_records(
    session: AsyncSession,
    config: Config,
    job_id: str,
    body: ImportRequest,
    *,
    created_by: int | None,
) -> Job:
    """Queue an `import` job that loads the generated dataset into a collection."""
    _, schema = await generate_job(session, job_id)
    names = {f.name for f in schema.fields}
    mapping = body.mapping
    wanted = {
        "mapping.content": mapping.content,
        "mapping.external_id": mapping.external_id,
        "mapping.memory_type": mapping.memory_type,
    }
    if isinstance(mapping.metadata, list):
        wanted.update({f"mapping.metadata[{i}]": n for i, n in enumerate(mapping.metadata)})
    unknown = [(f, n) for f, n in wanted.items() if n is not None and n not in names]
    if unknown:
        raise ValidationFailed(
            "The mapping names columns the dataset does not have",
            details=[{"field": f, "message": f"no column {n!r}"} for f, n in unknown],
        )
    await prepare_download(
        session,
        config,
        job_id,
        OutputFormat.parquet,
        force=False,
        created_by=created_by,
        inline=True,
    )
    source = dataset_path(config, job_id, OutputFormat.parquet)
    target: Path | None = None
    if remote.remote(config):
        relative = await _stage_remote(config, source)
    else:
        from foredeck.operations.sources.locations import imports_dir

        # The import operation reads only inside its own directory; a hard link costs no copy.
        relative = Path("generated") / f"{job_id}-{uuid.uuid4().hex[:8]}.parquet"
        target = imports_dir(config) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_link_or_copy, source, target)
    params: dict[str, Any] = {
        "source": "file",
        "path": relative.as_posix(),
        "format": "parquet",
        "collection": body.collection,
        "mode": body.mode,
        "mapping": mapping.model_dump(exclude_none=True),
        "delete_after": True,
        "original_name": f"{schema.name}.parquet",
    }
    try:
        return await jobs_service.create_job(
            session, kind="import", params=params, created_by=created_by
        )
    except BaseException:
        if target is None:
            await blobfiles.discard_remote_upload(config, relative.as_posix())
        else:
            target.unlink(missing_ok=True)
        raise


async def _stage_remote(config: Config, source: Path) -> Path:
    """With S3: the dataset copied in the store as an upload, which the import job fetches
    wherever it runs and removes after (as it does a file sent to /operations/import)."""
    relative = Path("uploads") / uuid.uuid4().hex / "dataset.parquet"
    src_key = remote.key(config, source)
    await asyncio.to_thread(
        _copy_object, config, src_key, blobfiles.upload_key(relative.as_posix())
    )
    return relative


def _copy_object(config: Config, src: str, dst: str) -> None:
    with contextlib.closing(store_for(config).open(src)) as stream:
        store_for(config).put(dst, stream)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
