"""Index snapshots: a plain tar of index.faiss, ids.npy and manifest.json.

Restoring checks everything before anything is swapped: size, file type, every archive entry
(regular files with known names only), the manifest against the current embedding settings,
each file's sha256, and that FAISS can load the result. Work happens in a staging folder that
is removed on any failure, so the live index is never touched by a bad upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tarfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import func, select

from foredeck.errors import PayloadTooLarge, ValidationFailed
from foredeck.index import store
from foredeck.index.parts import INDEX_MANAGER
from foredeck.index.vectors import VectorIndex
from foredeck.kit import safejson
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.models.index import IndexChange

if TYPE_CHECKING:
    # Only a type here: the manager imports this module's verifier (through checkpoints).
    from foredeck.index.manager import IndexManager

log = get_logger(__name__)
ALLOWED = (*store.FILES, store.MANIFEST)
CHUNK = 1024 * 1024


def _bad(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details=[{"field": "file", "message": message}])


# -- save ----------------------------------------------------------------------------------------
def save_upload(source: IO[bytes], target: Path, limit: int) -> None:
    """Copy an uploaded file to disk, refusing it as soon as it passes the limit."""
    copied = 0
    with open(target, "wb") as out:
        while block := source.read(CHUNK):
            copied += len(block)
            if copied > limit:
                raise PayloadTooLarge(
                    f"The snapshot is larger than the limit of {limit} bytes",
                    code="SNAPSHOT_TOO_LARGE",
                )
            out.write(block)


def tar_stream(folder: Path) -> Iterator[bytes]:
    """Stream a folder's snapshot files as a tar, opening them first so cleanup cannot race."""
    handles = [(name, open(folder / name, "rb")) for name in ALLOWED]
    try:
        for name, handle in handles:
            info = tarfile.TarInfo(name)
            info.size = os.fstat(handle.fileno()).st_size
            info.mtime = int(os.fstat(handle.fileno()).st_mtime)
            info.mode = 0o644
            yield info.tobuf(format=tarfile.USTAR_FORMAT)
            while block := handle.read(CHUNK):
                yield block
            if info.size % tarfile.BLOCKSIZE:
                yield b"\0" * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
        yield b"\0" * (2 * tarfile.BLOCKSIZE)
    finally:
        for _, handle in handles:
            handle.close()


async def snapshot_folder(runtime: Runtime) -> Path:
    """A checkpoint of the live index as it is now (written first, so the snapshot is current)."""
    manager: IndexManager = runtime[INDEX_MANAGER]
    await manager.checkpoint(runtime.sessionmaker)
    await manager.sync(runtime.sessionmaker, force=True)
    if manager.folder is None:
        await manager.checkpoint(runtime.sessionmaker)
    assert manager.folder is not None
    return manager.root / manager.folder


# -- restore -------------------------------------------------------------------------------------
def _extract(archive: Path, staging: Path, limit: int) -> None:
    """Copy the allowed members into staging; refuse anything else."""
    if archive.stat().st_size > limit:
        raise PayloadTooLarge(
            f"The snapshot is larger than the limit of {limit} bytes", code="SNAPSHOT_TOO_LARGE"
        )
    with open(archive, "rb") as handle:
        head = handle.read(tarfile.BLOCKSIZE)
    if len(head) < tarfile.BLOCKSIZE or head[257:262] != b"ustar":
        raise _bad("SNAPSHOT_NOT_TAR", "The file is not a foredeck index snapshot (a tar archive)")
    seen: set[str] = set()
    written = 0
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                name = member.name
                if (
                    name.startswith(("/", "\\"))
                    or ".." in Path(name).parts
                    or "/" in name.strip("./")
                    or "\\" in name
                ):
                    raise _bad("SNAPSHOT_UNSAFE_ENTRY", f"Entry {name!r} would leave the folder")
                if not member.isfile():
                    raise _bad("SNAPSHOT_UNSAFE_ENTRY", f"Entry {name!r} is not a regular file")
                clean = Path(name).name
                if clean not in ALLOWED:
                    raise _bad("SNAPSHOT_UNEXPECTED_ENTRY", f"Unexpected entry {name!r}")
                if clean in seen:
                    raise _bad("SNAPSHOT_UNEXPECTED_ENTRY", f"Entry {name!r} appears twice")
                seen.add(clean)
                written += member.size
                if written > limit:
                    raise PayloadTooLarge(
                        "The snapshot expands past the size limit", code="SNAPSHOT_TOO_LARGE"
                    )
                source: IO[bytes] | None = tar.extractfile(member)
                assert source is not None
                with open(staging / clean, "wb") as out:
                    copied = 0
                    while block := source.read(CHUNK):
                        out.write(block)
                        copied += len(block)
                if copied != member.size:
                    raise _bad("SNAPSHOT_TRUNCATED", f"Entry {name!r} is cut short")
    except tarfile.ReadError as exc:
        raise _bad("SNAPSHOT_TRUNCATED", f"The archive is damaged or cut short: {exc}") from exc
    except EOFError as exc:
        raise _bad("SNAPSHOT_TRUNCATED", "The archive is cut short") from exc
    missing = [n for n in ALLOWED if n not in seen]
    if missing:
        raise _bad("SNAPSHOT_INCOMPLETE", f"The snapshot lacks {', '.join(missing)}")


def _read_manifest(staging: Path) -> dict[str, Any]:
    try:
        manifest = safejson.loads((staging / store.MANIFEST).read_bytes())
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad("SNAPSHOT_BAD_MANIFEST", f"manifest.json is not valid JSON: {exc}") from exc
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Recompute the sha256 of every file a restore loads against the manifest; refuse any
    mismatch, and any file the manifest lists that is not loaded or loaded but not listed."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise _bad("SNAPSHOT_BAD_MANIFEST", "manifest.json lists no file checksums")
    for name in files:
        if name not in store.FILES:
            raise _bad(
                "SNAPSHOT_UNEXPECTED_ENTRY",
                f"manifest.json lists {str(name)[:100]!r}, which is not a snapshot file",
            )
    for name in store.FILES:
        expected = files.get(name)
        if expected is None:
            raise _bad("SNAPSHOT_INCOMPLETE", f"manifest.json gives no checksum for {name}")
        if not (folder / name).is_file():
            raise _bad("SNAPSHOT_INCOMPLETE", f"The snapshot lacks {name}")
        if store.sha256_file(folder / name) != expected:
            raise _bad("SNAPSHOT_CHECKSUM_MISMATCH", f"{name} does not match its sha256")
    # The index checksum is what stats report and what the state row keeps: it must be the
    # index file's own, not whatever the manifest claims.
    if manifest.get("checksum") != files["index.faiss"]:
        raise _bad(
            "SNAPSHOT_CHECKSUM_MISMATCH",
            "manifest.json's checksum is not the sha256 of index.faiss",
        )


def verify(staging: Path, *, model: str, dimension: int) -> tuple[dict[str, Any], VectorIndex]:
    """Refuse a checkpoint folder unless its manifest, files and FAISS load all agree (restores
    and checkpoints fetched from the blob store both pass here); the manifest and the index."""
    manifest = _read_manifest(staging)
    if manifest.get("format") != store.FORMAT:
        raise _bad("SNAPSHOT_BAD_MANIFEST", "manifest.json is not a foredeck index manifest")
    if manifest.get("format_version") != store.FORMAT_VERSION:
        raise _bad(
            "SNAPSHOT_FORMAT_VERSION",
            f"Snapshot format version {manifest.get('format_version')!r} is not supported "
            f"(this foredeck reads version {store.FORMAT_VERSION})",
        )
    if manifest.get("model") != model:
        raise _bad(
            "SNAPSHOT_MODEL_MISMATCH",
            f"The snapshot was made with model {manifest.get('model')!r}; "
            f"this index uses {model!r}",
        )
    if manifest.get("dimension") != dimension:
        raise _bad(
            "SNAPSHOT_DIMENSION_MISMATCH",
            f"The snapshot has dimension {manifest.get('dimension')!r}; "
            f"this index uses {dimension}",
        )
    verify_files(staging, manifest)
    try:
        vindex = VectorIndex.read(staging)
    except (ValueError, OSError) as exc:
        raise _bad("SNAPSHOT_CORRUPT", f"The index files cannot be loaded: {exc}") from exc
    if vindex.dimension != dimension:
        raise _bad("SNAPSHOT_DIMENSION_MISMATCH", "The index's dimension differs from its manifest")
    if manifest.get("count") != vindex.count:
        raise _bad("SNAPSHOT_CORRUPT", "The index holds a different count than its manifest says")
    return manifest, vindex


@contextlib.asynccontextmanager
async def _index_lock(runtime: Runtime) -> AsyncIterator[None]:
    from foredeck.jobs.locks import operation_lock

    async with operation_lock(runtime, "index", holder=f"snapshot-restore:{uuid.uuid4().hex[:8]}"):
        yield


@contextlib.asynccontextmanager
async def _embedding_paused(runtime: Runtime) -> AsyncIterator[None]:
    """Stop embedding workers claiming jobs while the index is replaced."""
    from foredeck.db import transaction
    from foredeck.jobs import controls as job_controls

    async with transaction(runtime.sessionmaker) as session:
        already = "embedding" in await job_controls.paused_queues(session)
        if not already:
            await job_controls.pause_queue(
                session, "embedding", by="the index restore", automatic=True
            )
    try:
        yield
    finally:
        if not already:
            async with transaction(runtime.sessionmaker) as session:
                await job_controls.resume_queue(session, "embedding")


async def restore(runtime: Runtime, archive: Path) -> dict[str, Any]:
    """Verify an uploaded snapshot in staging and swap it in under the index lock."""
    manager: IndexManager = runtime[INDEX_MANAGER]
    limit = runtime.config.index_snapshot_max_bytes
    staging = store.new_staging(manager.root)
    published = False
    try:
        await asyncio.to_thread(_extract, archive, staging, limit)
        manifest, vindex = await asyncio.to_thread(
            verify, staging, model=manager.model, dimension=manager.dimension
        )
        async with _index_lock(runtime), _embedding_paused(runtime):
            name = await asyncio.to_thread(store.publish, manager.root, staging)
            published = True
            async with runtime.sessionmaker() as session:
                # Changes logged before now are superseded by the snapshot.
                seq = int(await session.scalar(select(func.max(IndexChange.seq))) or 0)
            await manager.publish(
                runtime.sessionmaker,
                name=name,
                manifest=manifest,
                vindex=vindex,
                checkpoint_seq=seq,
                extra={"status": "ready"},
            )
        log.info("index_restored", vectors=vindex.count, checksum=manifest["checksum"])
        return manifest
    finally:
        if not published:
            shutil.rmtree(staging, ignore_errors=True)
