"""Deleting finished jobs: one by one, in bulk, and by the retention sweep.

A job's runs, events, generator chunks and downloads go with it through the foreign keys'
ON DELETE CASCADE, in the caller's transaction. Its lock rows are released (kept, so their
fencing tokens keep rising), and its folders are removed only once that transaction commits:
a rollback must not leave a job whose files are gone.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.errors import Conflict, NotFound
from foredeck.jobs.dispatch import publish_after_commit
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import TERMINAL_STATUSES, Job, Lock

log = get_logger(__name__)
# Folders under the data dir that hold a sub-folder per job, named by its id: the job's own
# work dir (JobContext.job_dir: generator chunks and datasets) and an export's output files.
JOB_FOLDERS = ("jobs", "exports")
# Ids per statement: well under SQLite's and asyncpg's bound-parameter limits.
ID_CHUNK = 500
# Jobs per transaction in the retention sweep, so the SQLite write lock is never held long.
SWEEP_BATCH = 500
_PATHS_KEY = "foredeck_job_folders"
_HOOKED_KEY = "foredeck_job_folders_hooked"


def _chunks(ids: list[str], size: int = ID_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def not_deletable(job_id: str, status: str) -> Conflict:
    return Conflict(
        f"Cannot delete job {job_id}: it is {status}; only succeeded, failed or cancelled jobs "
        "can be deleted (cancel it first)",
        code="INVALID_JOB_STATE",
        details=[{"field": "status", "message": status}],
    )


def _remove_folders(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _after_commit(sync_session: Any) -> None:
    paths = sync_session.info.pop(_PATHS_KEY, None)
    if not paths:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _remove_folders(paths)
        return
    # Off the event loop: a generated dataset can be gigabytes of chunk files.
    loop.run_in_executor(None, _remove_folders, paths)


def _after_rollback(sync_session: Any) -> None:
    sync_session.info.pop(_PATHS_KEY, None)


def _remove_after_commit(session: AsyncSession, data_dir: Path, job_ids: list[str]) -> None:
    sync = session.sync_session
    if not sync.info.get(_HOOKED_KEY):
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
        sync.info[_HOOKED_KEY] = True
    paths = [data_dir / folder / job_id for job_id in job_ids for folder in JOB_FOLDERS]
    sync.info.setdefault(_PATHS_KEY, []).extend(paths)


async def delete_jobs(
    session: AsyncSession, ids: list[str], *, data_dir: Path | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Delete the finished jobs among ids; returns (deleted ids, [{id, error}] for the rest).

    The status check is part of the DELETE itself, so a job retried meanwhile is kept.
    """
    wanted = list(dict.fromkeys(ids))
    deleted: list[str] = []
    for part in _chunks(wanted):
        rows = await session.execute(
            delete(Job)
            .where(Job.id.in_(part), Job.status.in_(TERMINAL_STATUSES))
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        deleted.extend(rows.scalars())
    gone = set(deleted)
    for part in _chunks(deleted):
        await session.execute(
            update(Lock)
            .where(Lock.holder_job_id.in_(part))
            .values(holder_job_id=None, holder=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
    for obj in [o for o in session.identity_map.values() if isinstance(o, Job) and o.id in gone]:
        session.expunge(obj)
    rest = [i for i in wanted if i not in gone]
    statuses = await _statuses(session, rest)
    skipped = [
        {
            "id": job_id,
            "error": not_deletable(job_id, statuses[job_id]).message
            if job_id in statuses
            else f"No job {job_id}",
        }
        for job_id in rest
    ]
    if deleted:
        if data_dir is not None:
            _remove_after_commit(session, data_dir, deleted)
        publish_after_commit(
            session, "jobs", {"kind": "deleted", "count": len(deleted), "job_ids": deleted[:100]}
        )
    return deleted, skipped


async def _statuses(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for part in _chunks(ids):
        rows = await session.execute(select(Job.id, Job.status).where(Job.id.in_(part)))
        statuses.update({str(i): str(s) for i, s in rows.all()})
    return statuses


async def delete_job(session: AsyncSession, job_id: str, *, data_dir: Path | None = None) -> None:
    """Delete one finished job; 404 when unknown, 409 naming its status while it is active."""
    deleted, _skipped = await delete_jobs(session, [job_id], data_dir=data_dir)
    if deleted:
        return
    status = (await _statuses(session, [job_id])).get(job_id)
    if status is None:
        raise NotFound(f"No job {job_id}")
    raise not_deletable(job_id, status)


def _expired(cutoff: Any) -> Any:
    return and_(
        Job.status.in_(TERMINAL_STATUSES),
        or_(
            Job.finished_at < cutoff,
            and_(Job.finished_at.is_(None), Job.created_at < cutoff),
        ),
    )


async def sweep_expired(runtime: Runtime, *, days: float, batch: int = SWEEP_BATCH) -> int:
    """Delete finished jobs older than `days`, a batch per transaction; returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    while True:
        # The ids are read outside the write transaction: only the DELETE takes the lock.
        async with runtime.sessionmaker() as session:
            ids = list(
                await session.scalars(
                    select(Job.id).where(_expired(cutoff)).order_by(Job.finished_at).limit(batch)
                )
            )
        if not ids:
            break
        async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
            deleted, _skipped = await delete_jobs(session, ids, data_dir=runtime.config.data_dir)
        total += len(deleted)
        if len(ids) < batch or not deleted:
            break
        await asyncio.sleep(0)
    if total:
        log.info("job_retention_sweep", deleted=total, days=days)
    return total
