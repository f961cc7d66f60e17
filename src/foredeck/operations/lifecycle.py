"""Start-up of the operations domain: a retention sweep for export files and stale uploads, and
an operations worker process started ahead of the first import or export."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from foredeck.blobs.health import blob_store_health
from foredeck.jobs import periodic
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.operations.offload import pool
from foredeck.operations.sources.locations import exports_dir, imports_dir
from foredeck.settings import service as settings_service

log = get_logger(__name__)
SWEEP_SECONDS = 3600.0
# The loop this start-up runs, kept on the runtime for its shutdown.
SWEEPER: Part[asyncio.Task[None]] = Part("operations_sweeper")


def prune(folder: Path, max_age_s: float) -> list[str]:
    """Remove entries of folder older than max_age_s; returns what was removed."""
    cutoff = time.time() - max_age_s
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry.name)
        except OSError:
            continue
    return removed


async def sweep(runtime: Runtime) -> list[str]:
    """Apply the retention settings once: export files, and uploads no job removed."""
    async with runtime.sessionmaker() as session:
        retention = await settings_service.get_section(session, "retention")
    config = runtime.config
    removed = await asyncio.to_thread(prune, exports_dir(config), retention.export_days * 86400)
    removed += await asyncio.to_thread(prune, imports_dir(config) / "uploads", 2 * 86400)
    if removed:
        log.info("operations_retention_sweep", removed=len(removed))
    return removed


async def startup(runtime: Runtime) -> None:
    runtime[SWEEPER] = periodic.start(
        lambda: sweep(runtime), every=SWEEP_SECONDS, name="operations-retention"
    )
    pool.prestart()
    runtime.health_checks["blob_store"] = lambda rt: blob_store_health(rt.config)


async def shutdown(runtime: Runtime) -> None:
    task = runtime.pop(SWEEPER)
    if task is not None:
        await stop_tasks(task)
