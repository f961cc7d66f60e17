"""Generated chunks and merged datasets in the blob store, so a merge, preview, import or
download on any replica or worker reads what another machine's generate job wrote.

Keys are the files' paths under the data dir (`jobs/<job id>/chunks/chunk-000000.parquet`,
`jobs/<job id>/dataset.<format>`), so with the local backend the file already is the object and
nothing here copies anything. With S3 a chunk or merged dataset is put into the store once
written and its local copy removed: the store is the only copy, so a chunk regenerated on one
machine is never shadowed by an older copy on another. Readers fetch what they need into a
temporary folder for the time they read it; downloads stream from the store (or redirect to a
presigned URL)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from foredeck.blobs import BlobMissing, store_for
from foredeck.config import Config
from foredeck.errors import NotFound


def remote(config: Config) -> bool:
    return store_for(config).kind != "local"


def key(config: Config, path: Path) -> str:
    return path.relative_to(config.data_dir).as_posix()


def _stored(config: Config, path: Path) -> bool:
    """Whether path goes through the store: with S3, and under the data dir (the offline
    `foredeck generate` works in a temporary folder of its own)."""
    return remote(config) and path.is_relative_to(config.data_dir)


async def publish(config: Config, path: Path) -> None:
    """Move a written chunk or dataset file into the store (S3 only)."""
    if not _stored(config, path):
        return
    await asyncio.to_thread(store_for(config).put_file, key(config, path), path)
    await asyncio.to_thread(path.unlink, True)


async def present(config: Config, path: Path) -> bool:
    """Whether the file exists: on disk with the local backend, in the store with S3."""
    if not _stored(config, path):
        return await asyncio.to_thread(path.exists)
    return await asyncio.to_thread(store_for(config).exists, key(config, path))


@contextlib.asynccontextmanager
async def readable(config: Config, paths: list[Path]) -> AsyncIterator[list[Path]]:
    """The files on this machine's disk while the block runs (fetched from the store with S3).

    NotFound when one is not in the store; BlobStoreError when the store cannot be read."""
    if not all(_stored(config, p) for p in paths):
        yield paths
        return
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, "", "fetch-", config.path("tmp")))
    try:
        fetched = []
        for i, path in enumerate(paths):
            target = folder / f"{i:06d}-{path.name}"
            try:
                fetched.append(
                    await asyncio.to_thread(store_for(config).fetch, key(config, path), target)
                )
            except BlobMissing:
                raise NotFound(f"{path.name} is not in the blob store (removed?)") from None
        yield fetched
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
