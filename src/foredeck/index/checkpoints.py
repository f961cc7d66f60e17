"""Index checkpoints in the blob store, so a process on another machine loads what a rebuild
or checkpoint wrote, with no shared folder.

With the local backend the store *is* the data dir: a generation folder under `index/` already
is the stored copy, so nothing is copied. With S3 a generation's files are put under
`index/<index name>/<folder>/` (the folder name is unique to the generation) before index_state
names it; a process that lacks the folder fetches it into staging, checks it with the snapshot
verifier (manifest, sha256 of each file, FAISS load, count) and against the checksum
index_state recorded, and only then renames it into place. A checkpoint it cannot use is never
loaded: the process logs why and builds its copy from the stored vectors instead."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from foredeck.blobs import BlobMissing, BlobStore, BlobStoreError, store_for
from foredeck.config import Config
from foredeck.errors import AppError
from foredeck.index import snapshot, store
from foredeck.index.vectors import VectorIndex
from foredeck.logging import get_logger

log = get_logger(__name__)

# Files a fetch needs, the manifest last: a writer puts it last too.
FILES = (*store.FILES, store.MANIFEST)
# Folders in the store that no index_state names are removed once this old, so a checkpoint
# still being uploaded by another process (not yet named) is left alone.
STALE_SECONDS = 3600


class CheckpointRefused(Exception):
    """The stored checkpoint cannot be loaded (missing, damaged or not the one recorded)."""


def remote(config: Config) -> bool:
    return _remote_store(config) is not None


def _remote_store(config: Config) -> BlobStore | None:
    """The store to copy checkpoints to, or None with the local backend. Each operation reads
    it once: a store read again per file could be another by then, and a checkpoint's key
    written to the local backend lands as a stray folder inside the index directory."""
    blobs = store_for(config)
    return None if blobs.kind == "local" else blobs


def prefix(name: str, folder: str) -> str:
    return f"index/{name}/{folder}"


def put(config: Config, name: str, folder: Path) -> None:
    """Store a generation folder's files (S3 only; blocking)."""
    blobs = _remote_store(config)
    if blobs is None:
        return
    for file in FILES:
        blobs.put_file(f"{prefix(name, folder.name)}/{file}", folder / file)


def fetch(
    config: Config,
    root: Path,
    name: str,
    folder: str,
    *,
    model: str,
    dimension: int,
    checksum: str | None,
    ef_search: int,
) -> VectorIndex:
    """The stored checkpoint, verified, as root/folder and loaded; CheckpointRefused why not.

    Blocking. BlobStoreError when the store cannot be reached."""
    target = root / folder
    if target.is_dir():
        return VectorIndex.read(target, ef_search=ef_search)
    blobs = store_for(config)
    staging = store.new_staging(root)
    try:
        for file in FILES:
            try:
                blobs.fetch(f"{prefix(name, folder)}/{file}", staging / file)
            except BlobMissing:
                raise CheckpointRefused(f"{file} of {folder} is not in the blob store") from None
        try:
            manifest, vindex = snapshot.verify(staging, model=model, dimension=dimension)
        except AppError as exc:
            raise CheckpointRefused(exc.message) from None
        if manifest["checksum"] != checksum:
            raise CheckpointRefused(
                f"index.faiss of {folder} is not the one index_state recorded (sha256 differs)"
            )
        try:
            os.rename(staging, target)
        except OSError:
            # Another process on this data dir fetched it first; its copy passed the same checks.
            if not target.is_dir():
                raise
        vindex.ef_search = ef_search
        return vindex
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def discard(config: Config, name: str, folder: str) -> None:
    """Remove a generation that was stored but never named (its publish failed or lost)."""
    blobs = _remote_store(config)
    if blobs is None:
        return
    try:
        blobs.delete_prefix(prefix(name, folder))
    except BlobStoreError as exc:
        log.warning("index_checkpoint_not_discarded", folder=folder, reason=exc.message)


def cleanup(config: Config, name: str, keep: set[str]) -> int:
    """Remove stored generations not in keep and older than STALE_SECONDS; how many.

    A store that refuses now is only logged: what is left goes at a later publish."""
    blobs = _remote_store(config)
    if blobs is None:
        return 0
    removed = 0
    try:
        folders = {key.split("/")[2] for key in blobs.list_keys(f"index/{name}")}
        cutoff = time.time_ns() - STALE_SECONDS * 1_000_000_000
        for folder in sorted(folders - keep):
            if _written_ns(folder) < cutoff:
                blobs.delete_prefix(prefix(name, folder))
                removed += 1
    except BlobStoreError as exc:
        log.warning("index_checkpoints_not_cleaned", reason=exc.message)
    return removed


def _written_ns(folder: str) -> int:
    """When a `gen-<time_ns>-<rand>` folder was written (0 for any other name, so it goes)."""
    parts = folder.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
