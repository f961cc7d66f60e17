"""Start-up of the generator: register the feature and sweep dataset files of deleted jobs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from foredeck.blobs import BlobStoreError, store_for
from foredeck.generator import remote
from foredeck.jobs import periodic
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.models.jobs import Job

log = get_logger(__name__)
SWEEP_SECONDS = 3600.0
# The loop this start-up runs, kept on the runtime for its shutdown.
SWEEPER: Part[asyncio.Task[None]] = Part("generator_sweeper")
# Links made for imports that never ran (a cancelled import job keeps its file).
STALE_IMPORT_SECONDS = 2 * 86400
MARKERS = ("chunks", "llm-texts.json")


def _dataset_folders(jobs_dir: Path) -> dict[str, Path]:
    if not jobs_dir.is_dir():
        return {}
    return {
        entry.name: entry
        for entry in jobs_dir.iterdir()
        if entry.is_dir() and any((entry / m).exists() for m in MARKERS)
    }


def _remove_old(folder: Path, max_age_s: float) -> int:
    if not folder.is_dir():
        return 0
    cutoff, removed = time.time() - max_age_s, 0
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    return removed


async def sweep(runtime: Runtime) -> list[str]:
    """Remove the chunk and dataset files of generation jobs that no longer exist."""
    config = runtime.config
    folders = await asyncio.to_thread(_dataset_folders, config.data_dir / "jobs")
    removed: list[str] = []
    if folders:
        async with runtime.sessionmaker() as session:
            alive = set(await session.scalars(select(Job.id).where(Job.id.in_(list(folders)))))
        for job_id, folder in folders.items():
            if job_id not in alive:
                await asyncio.to_thread(shutil.rmtree, folder, True)
                removed.append(job_id)
    removed += await _sweep_store(runtime)
    stale = await asyncio.to_thread(
        _remove_old, config.data_dir / "imports" / "generated", STALE_IMPORT_SECONDS
    )
    if removed or stale:
        log.info("generator_sweep", removed_jobs=len(removed), removed_import_links=stale)
    return removed


async def _sweep_store(runtime: Runtime) -> list[str]:
    """With S3: remove the stored chunks and datasets of jobs that no longer exist."""
    config = runtime.config
    if not remote.remote(config):
        return []
    try:
        keys = await asyncio.to_thread(store_for(config).list_keys, "jobs")
    except BlobStoreError as exc:
        log.warning("generator_sweep_store_failed", reason=exc.message)
        return []
    stored = {key.split("/")[1] for key in keys}
    if not stored:
        return []
    async with runtime.sessionmaker() as session:
        alive = set(await session.scalars(select(Job.id).where(Job.id.in_(list(stored)))))
    gone = sorted(stored - alive)
    for job_id in gone:
        await asyncio.to_thread(store_for(config).delete_prefix, f"jobs/{job_id}")
    return gone


async def _llm_key_ready(runtime: Runtime) -> str | None:
    """With an LLM key file configured: "ok" while it is readable and not empty."""
    from foredeck.errors import ValidationFailed
    from foredeck.generator import service as generator_service
    from foredeck.settings import service as settings_service

    async with runtime.sessionmaker() as session:
        section: Any = await settings_service.get_section(session, "generator")
        if section is None or section.provider == "none" or not section.api_key_path:
            return None
        try:
            cfg = await generator_service.llm_config(session, runtime.config)
        except ValidationFailed:
            return "unreadable"
    return "ok" if cfg is not None and cfg.api_key else "empty"


async def startup(runtime: Runtime) -> None:
    runtime.features.add("generator")
    runtime.ready_checks["llm_key"] = _llm_key_ready
    runtime[SWEEPER] = periodic.start(
        lambda: sweep(runtime), every=SWEEP_SECONDS, name="generator-sweep"
    )


async def shutdown(runtime: Runtime) -> None:
    task = runtime.pop(SWEEPER)
    if task is not None:
        await stop_tasks(task)
