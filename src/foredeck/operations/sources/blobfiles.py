"""Uploads and export files in the blob store, so a worker or replica on another machine
reads what this one wrote (no shared folder).

With the local backend the store *is* the data dir and every function here is a no-op: the
upload already lies at imports/<path>, the export at exports/<job>/<file>. With S3, an upload
is received on the replica's own disk (the header is checked there before a job exists), put
into the store, and removed locally; a worker fetches it into its job folder."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from foredeck.blobs import BlobMissing, BlobStoreError, store_for
from foredeck.config import Config
from foredeck.operations.sources.locations import exports_dir, imports_dir, safe_filename


def upload_key(relative: str) -> str:
    return f"imports/{relative}"


def export_key(job_id: str, filename: str) -> str:
    return f"exports/{job_id}/{filename}"


def remote(config: Config) -> bool:
    return store_for(config).kind != "local"


async def publish_upload(config: Config, relative: str) -> None:
    """Put a received upload into the store and drop the local copy (S3 only)."""
    if not remote(config):
        return
    local = imports_dir(config) / relative
    await asyncio.to_thread(store_for(config).put_file, upload_key(relative), local)
    await asyncio.to_thread(shutil.rmtree, local.parent, True)


async def fetch_upload(config: Config, relative: str, work_dir: Path) -> Path:
    """The upload as a local file in the job's folder; BlobStoreError saying why not."""
    target = work_dir / "upload" / safe_filename(Path(relative).name)
    try:
        return await asyncio.to_thread(store_for(config).fetch, upload_key(relative), target)
    except BlobMissing:
        raise BlobStoreError(
            "The uploaded file is not in the object store (removed by retention?); upload it again"
        ) from None


async def discard_remote_upload(config: Config, relative: str) -> None:
    """Remove an upload's object (after its job, or when the import was refused)."""
    if remote(config):
        folder = upload_key(relative).rsplit("/", 1)[0]
        await asyncio.to_thread(store_for(config).delete_prefix, folder)


async def publish_export(config: Config, job_id: str, path: Path) -> str:
    """Put an export file into the store; its key (the local file is removed with S3)."""
    key = export_key(job_id, path.name)
    if remote(config):
        await asyncio.to_thread(store_for(config).put_file, key, path)
        await asyncio.to_thread(shutil.rmtree, exports_dir(config) / job_id, True)
    return key
