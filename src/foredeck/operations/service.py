"""The operations orchestrator: checks, then a job under its lock; status for polling."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.jobs import service as jobs_service
from foredeck.jobs.registry import HANDLERS
from foredeck.models.auth import User
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, Lock
from foredeck.operations.imports.run import precheck
from foredeck.operations.schemas import (
    ExportParams,
    ImportParams,
    JobRef,
    LockOut,
    OperationStatus,
    RunSummary,
)
from foredeck.operations.sources.locations import sheet_target, sheets_client

LOCK_NAMES = {"import": "import", "export": "export", "index": "index"}


def parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc, empty="body") from exc


def operation_kinds(operation: str) -> list[str]:
    """The job kinds behind an operation name (index: every index_* kind)."""
    if operation == "index":
        return sorted(k for k in HANDLERS if k.startswith("index")) or ["index_rebuild"]
    return [operation]


def job_ref(job: Job) -> JobRef:
    return JobRef(
        job_id=job.id,
        kind=job.kind,
        status=job.status,
        status_url=f"/api/v1/jobs/{job.id}",
        events_url=f"/api/v1/jobs/{job.id}/events",
        download_url=f"/api/v1/jobs/{job.id}/download" if job.kind == "export" else None,
    )


async def start_import(
    session: AsyncSession, config: Config, params: ImportParams, *, created_by: int | None
) -> Job:
    """Refuse what can be refused now (file, header, mapping, URL, sheet), then queue the job."""
    await precheck(session, config, params)
    return await jobs_service.create_job(
        session, kind="import", params=params.model_dump(mode="json"), created_by=created_by
    )


async def start_export(
    session: AsyncSession, config: Config, params: ExportParams, *, created_by: int | None
) -> Job:
    """Check a sheet target against the settings, then queue the export job."""
    if params.format == "sheet":
        client, sheets = await sheets_client(session, config)
        await client.aclose()
        sheet_target(sheets, params.sheet, params.spreadsheet_id, params.range)
    return await jobs_service.create_job(
        session, kind="export", params=params.model_dump(mode="json"), created_by=created_by
    )


async def _summary(session: AsyncSession, job: Job) -> RunSummary:
    who = None
    if job.created_by is not None:
        who = await session.scalar(select(User.username).where(User.id == job.created_by))
    duration = None
    if job.started_at is not None:
        end = job.finished_at or utcnow()
        duration = round((end - job.started_at).total_seconds(), 3)
    outcome = job.status if job.status in TERMINAL_STATUSES else "in progress"
    return RunSummary(
        job_id=job.id,
        status=job.status,
        outcome=outcome,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_s=duration,
        initiated_by=who,
        progress_percent=job.progress_percent,
        progress_message=job.progress_message,
        counters=job.counters or {},
        result=job.result,
        error=job.error,
    )


async def operation_status(session: AsyncSession, operation: str) -> OperationStatus:
    """The latest job of the operation, its lock, and the last finished run."""
    kinds = operation_kinds(operation)
    latest = await session.scalar(
        select(Job).where(Job.kind.in_(kinds)).order_by(Job.created_at.desc()).limit(1)
    )
    finished = await session.scalar(
        select(Job)
        .where(Job.kind.in_(kinds), Job.status.in_(TERMINAL_STATUSES))
        .order_by(Job.finished_at.desc())
        .limit(1)
    )
    name = LOCK_NAMES[operation]
    lock = await session.get(Lock, name)
    held = False
    if lock is not None and (lock.holder_job_id or lock.holder):
        held = lock.expires_at is None or lock.expires_at >= utcnow()
        if held and lock.holder_job_id:
            holder_job = await session.get(Job, lock.holder_job_id)
            held = holder_job is not None and holder_job.status in ACTIVE_STATUSES
    lock_out = LockOut(
        name=name,
        held=held,
        holder_job_id=lock.holder_job_id if lock and held else None,
        holder=lock.holder if lock and held else None,
        acquired_at=lock.acquired_at if lock and held else None,
        expires_at=lock.expires_at if lock and held else None,
    )
    return OperationStatus(
        operation=operation,  # type: ignore[arg-type]
        kinds=kinds,
        lock=lock_out,
        running=latest is not None and latest.status in ACTIVE_STATUSES,
        latest=await _summary(session, latest) if latest else None,
        last_finished=await _summary(session, finished) if finished else None,
    )
